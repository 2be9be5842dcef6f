"""32 concurrent clients against a real `hangar serve` on each stack, then every success they
were told about is checked against the service: no 5xx, nothing lost, nothing resurrected;
and once the server has stopped, `hangar doctor` finds nothing to report."""

from __future__ import annotations

from pathlib import Path

import pytest

from app import doctor
from app.backends import open_backends
from app.core.config import Settings
from benchmarks.servers import running_server, server_env
from tests.reliability.load import merged, run_load, verify

CLIENTS = 32
STACKS = [
    pytest.param(("duckdb", "local", ()), id="duckdb+local"),
    pytest.param(("sqlite", "local", ("--workers", "2")), id="sqlite+local-2-workers"),
    pytest.param(("dynamodb", "s3", ()), id="dynamodb+s3"),
]


def load_and_verify(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    stack: tuple[str, str, tuple[str, ...]],
    *,
    seconds: float,
    max_operations: int,
    accounts: int,
) -> None:
    database, storage, args = stack
    settings: dict[str, object] = {
        "APP_ENV": "test",
        "DATABASE_TYPE": database,
        "STORAGE_TYPE": storage,
    }
    if database == "dynamodb":
        from tests.aws import aws_overrides

        overrides = aws_overrides(request)
        settings.update({k: v for k, v in overrides.items() if v is not None})
    else:
        settings.update(
            {
                "DUCKDB_PATH": tmp_path / "data" / "app.db",
                "SQLITE_PATH": tmp_path / "data" / "app.sqlite3",
                "LOCAL_STORAGE_PATH": tmp_path / "uploads",
            }
        )
    log = tmp_path / "server.log"
    with running_server(tmp_path, server_env(settings), args, log) as server:
        ledger = run_load(
            server.base_url,
            clients=CLIENTS,
            accounts=accounts,
            seconds=seconds,
            max_operations=max_operations,
        )
        checked = verify(server.base_url, ledger)
    server_errors = {status: n for status, n in ledger.statuses.items() if status >= 500}
    print(
        f"\n{database}+{storage} {' '.join(args)}: {ledger.total_requests} requests in "
        f"{seconds:.0f} s by {CLIENTS} clients, {len(merged(ledger.accounts))} accounts; "
        f"mix {dict(ledger.requests)}; statuses {dict(ledger.statuses)}; "
        f"{checked.items_checked} items checked, {len(checked.problems)} problems"
    )
    assert server_errors == {}
    assert ledger.unexpected == []
    assert checked.problems == []
    assert checked.items_checked > 0
    output = log.read_text()
    assert "Traceback" not in output and "database is locked" not in output, output[-3000:]
    backends = open_backends(Settings(_env_file=None, **settings))  # type: ignore[arg-type]
    try:
        assert doctor.examine(backends, temp_file_max_age=0).problems == []
    finally:
        backends.close()


@pytest.mark.parametrize("stack", STACKS)
def test_a_short_load_run_loses_nothing(
    request: pytest.FixtureRequest, tmp_path: Path, stack: tuple[str, str, tuple[str, ...]]
) -> None:
    load_and_verify(request, tmp_path, stack, seconds=5, max_operations=2_000, accounts=4)


@pytest.mark.slow
@pytest.mark.parametrize("stack", STACKS)
def test_a_long_load_run_loses_nothing(
    request: pytest.FixtureRequest, tmp_path: Path, stack: tuple[str, str, tuple[str, ...]]
) -> None:
    load_and_verify(request, tmp_path, stack, seconds=60, max_operations=100_000, accounts=8)
