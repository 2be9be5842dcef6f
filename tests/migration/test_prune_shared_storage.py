"""`--prune` deletes from the target storage only bytes that are the target database's alone:
in a storage another database keeps files in too, bytes absent from the source are reported."""

from __future__ import annotations

from pathlib import Path

from app.backends import open_backends
from app.migration.engine import Kind, Outcome
from tests.conftest import SettingsFactory
from tests.migration.support import fill, migrate


def test_prune_keeps_the_files_another_database_keeps_in_the_target_storage(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    def stack(name: str, storage: str) -> dict[str, Path]:
        return {
            "SQLITE_PATH": tmp_path / f"{name}.sqlite3",
            "LOCAL_STORAGE_PATH": tmp_path / storage,
        }

    source = make_settings(database="sqlite", storage="local", **stack("source", "from"))
    target = make_settings(database="sqlite", storage="local", **stack("target", "shared"))
    neighbour = make_settings(database="sqlite", storage="local", **stack("other", "shared"))
    for settings in (source, neighbour):
        backends = open_backends(settings)
        fill(backends, users=1, projects=1, sizes=(10,))
        backends.close()
    theirs = sorted(
        p for p in (tmp_path / "shared").rglob("*") if p.is_file() and not p.name.startswith(".")
    )

    report = migrate(source, target, prune=True)

    assert [(e.kind, e.outcome) for e in report.problems] == [(Kind.FILE, Outcome.CONFLICT)]
    assert all(path.is_file() for path in theirs) and theirs
