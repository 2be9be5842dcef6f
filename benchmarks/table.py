"""Print a benchmark JSON file (`python -m benchmarks` writes it) as the markdown tables of
docs/performance.md.

uv run python -m benchmarks.table benchmarks/make-bench.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from benchmarks.workload import OPERATIONS, REFERENCE


def main(path: Path) -> None:
    report = json.loads(path.read_text())
    results = report["results"]
    for mode in ("http", "service"):
        rows = [r for r in results if r["mode"] == mode and r["operation"] != REFERENCE]
        stacks = list(dict.fromkeys(r["stack"] for r in rows))
        if not rows:
            continue
        figure = "ops/s (x reference) p50 ms" if mode == "http" else "ops/s, p50 ms"
        print(f"\n{mode} mode, {figure}:\n")
        print("| operation | " + " | ".join(stacks) + " |")
        print("| --- |" + " --- |" * len(stacks))
        for operation in OPERATIONS:
            cells = []
            for stack in stacks:
                found = [r for r in rows if r["stack"] == stack and r["operation"] == operation]
                if not found:
                    cells.append("")
                    continue
                r = found[0]
                ratio = f" (x{r['ratio']:.2f})" if r["ratio"] is not None else ""
                cells.append(f"{r['ops_per_s']:,.0f}{ratio} {r['p50_ms']:.1f}")
            print(f"| {operation} | " + " | ".join(cells) + " |")
    for r in results:
        if r["operation"] == REFERENCE:
            print(f"\n{r['stack']}: {r['ops_per_s']:,.0f} ops/s, p50 {r['p50_ms']:.1f} ms")
    memory = report["memory"]
    for m in memory:
        print(
            f"\n{m['storage']}: {m['size_mib']} MiB, peak RSS growth "
            f"{m['upload_growth_mib']} MiB up, {m['download_growth_mib']} MiB down, "
            f"over {m['baseline_rss_mib']} MiB; "
            f"upload {m['upload_mb_s']} MB/s, download "
            f"{m['download_mb_s']} MB/s, file copy {m['copy_mb_s']} MB/s"
        )
    uploads = [m for m in memory if "direct_mb_s" in m]  # runs from before direct uploads lack it
    if uploads:
        print(
            "\n| storage | MiB | through the API MB/s (x copy) | direct MB/s (x copy) | "
            "file copy MB/s | ceiling MB/s (x copy) | RSS growth MiB | "
            "API CPU s through / direct |"
        )
        print("| --- |" + " --- |" * 7)
        for m in uploads:
            ceiling = (  # runs from before the ceiling lack it
                f"{m['ceiling_mb_s']:.0f} (x{m['ceiling_ratio']:.2f})"
                if "ceiling_mb_s" in m
                else ""
            )
            print(
                f"| {m['storage']} | {m['size_mib']} | {m['upload_mb_s']:.0f} "
                f"(x{m['upload_ratio']:.2f}) | {m['direct_mb_s']:.0f} (x{m['direct_ratio']:.2f}) "
                f"| {m['copy_mb_s']:.0f} | {ceiling} | {m['upload_growth_mib']} | "
                f"{m['upload_cpu_s']:.2f} / {m['direct_cpu_s']:.2f} |"
            )
    for name, value in report["baselines"].items():
        print(f"{name}: {value}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
