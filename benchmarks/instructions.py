"""Instructions per request of the ASGI app alone, counted by callgrind: unlike a timing on a
shared machine (the same code swings by a third within seconds), a count repeats to a few per
mille, so a change of 2% shows. Needs valgrind; takes two to three minutes.

    uv run python -m benchmarks.instructions --db sqlite list get create

(as a module: run as a file, its folder comes first on sys.path and `benchmarks/http.py`
shadows the standard library's `http`.)

Requests go through the app in process, no server, against 300 projects of 10 users. The
bare reference app is counted the same way, so its line is what FastAPI itself costs a
request. Only work inside `functools.reduce` is counted: each operation runs as one reduce
call, and callgrind writes a count after each.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

OPERATIONS = ("list", "get", "create")
WAITING = {"duckdb": frozenset({"create"})}
"""Operations that wait on a backend, so they cannot run without an event loop: DuckDB's
creates join a group commit in the threadpool."""
USERS, PROJECTS, WARM_UP = 10, 300, 300
Call = tuple[Any, str, str, list[tuple[str, str]], bytes]


async def request(
    app: Any, method: str, path: str, headers: list[tuple[str, str]], body: bytes = b""
) -> tuple[int, bytes]:
    """One HTTP request as ASGI calls: status and body."""
    path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")]
        + [(name.lower().encode(), value.encode()) for name, value in headers]
        + ([(b"content-length", str(len(body)).encode())] if body else []),
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: dict[str, Any] = {"body": b""}

    async def receive() -> dict[str, Any]:
        return messages.pop() if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.setdefault("status", message.get("status"))
        sent["body"] += message.get("body", b"")

    await app(scope, receive, send)
    return int(sent["status"]), sent["body"]


def finish(_: object, call: Call) -> tuple[int, bytes]:
    """One request run to its end without an event loop: on embedded backends nothing waits."""
    coroutine = request(*call)
    try:
        coroutine.send(None)
    except StopIteration as done:
        result: tuple[int, bytes] = done.value
        return result
    raise RuntimeError("a request waited on something; count an embedded backend")


async def calls_of(app: Any, count: int) -> dict[str, list[Call]]:
    """Register and log in the users, create the projects, and write each operation's calls."""
    from app.core.security import PasswordHasher

    # Logins are not counted: a light hasher keeps the set-up short under valgrind.
    app.state.context.hasher = PasswordHasher(8, 1, 1)
    json_type = [("Content-Type", "application/json")]
    form_type = [("Content-Type", "application/x-www-form-urlencoded")]
    auth = []
    for i in range(USERS):
        email, password = f"user{i}@example.com", "password1234"
        account = json.dumps({"email": email, "password": password}).encode()
        await request(app, "POST", "/api/v1/auth/register", json_type, account)
        form = f"username={email}&password={password}".encode()
        _, body = await request(app, "POST", "/api/v1/auth/login", form_type, form)
        auth.append([("Authorization", f"Bearer {json.loads(body)['access_token']}")])
    new = b'{"name": "Project", "description": "counted"}'
    owned = []
    for i in range(PROJECTS):
        _, body = await request(app, "POST", "/api/v1/projects", auth[i % USERS] + json_type, new)
        owned.append((auth[i % USERS], json.loads(body)["id"]))
    return {
        "list": [
            (app, "GET", "/api/v1/projects?limit=20", auth[i % USERS], b"") for i in range(count)
        ],
        "get": [
            (app, "GET", f"/api/v1/projects/{project}", headers, b"")
            for headers, project in (owned[i % PROJECTS] for i in range(count))
        ],
        "create": [
            (app, "POST", "/api/v1/projects", auth[i % USERS] + json_type, new)
            for i in range(count)
        ],
    }


async def run_inner(database: str, operations: list[str], count: int) -> None:
    from app.core.config import Settings
    from app.main import create_app
    from benchmarks.reference import app as reference

    folder = Path(tempfile.mkdtemp(prefix="hangar-instructions-"))
    settings = Settings(
        _env_file=None,
        DATABASE_TYPE=database,
        STORAGE_TYPE="memory",
        MAIL_TYPE="memory",
        DUCKDB_PATH=folder / "app.db",
        SQLITE_PATH=folder / "app.sqlite3",
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        calls = await calls_of(app, count)
        calls["reference"] = [(reference, "GET", "/", [], b"")] * count
        for operation in operations:  # untimed first, as a server that has been up a while
            for call in calls[operation][:WARM_UP]:
                status, body = finish(None, call)
                if status >= 300:
                    raise RuntimeError(f"{operation}: {status} {body[:200]!r}")
        for operation in operations:
            functools.reduce(finish, calls[operation], None)


def counts(folder: Path, how_many: int) -> list[int]:
    """The instruction totals of the last `how_many` dumps (imports call reduce too)."""
    dumps = sorted(folder.glob("cg.*"), key=lambda path: int(path.suffix[1:]))[-how_many:]
    totals = []
    for dump in dumps:
        line = next(
            x for x in dump.read_text().splitlines() if x.startswith(("summary:", "totals:"))
        )
        totals.append(int(line.split()[1]))
    return totals


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("operations", nargs="*", help=f"of {', '.join(OPERATIONS)} (all)")
    parser.add_argument("--db", default="memory", choices=("memory", "sqlite", "duckdb"))
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    waiting = WAITING.get(args.db, frozenset())
    chosen = args.operations or [operation for operation in OPERATIONS if operation not in waiting]
    if unknown := set(chosen) - set(OPERATIONS):
        parser.error(f"unknown operations: {', '.join(sorted(unknown))}")
    if cannot := set(chosen) & waiting:
        parser.error(
            f"{', '.join(sorted(cannot))} on {args.db} waits for a group commit in the "
            "threadpool, so it cannot be counted without an event loop"
        )
    operations = ["reference", *dict.fromkeys(chosen)]
    if args.inner:
        asyncio.run(run_inner(args.db, operations, args.requests))
        return
    with tempfile.TemporaryDirectory(prefix="hangar-callgrind-") as folder:
        command = [
            "valgrind",
            "--tool=callgrind",
            "--collect-atstart=no",
            "--toggle-collect=functools_reduce",
            "--dump-after=functools_reduce",
            f"--callgrind-out-file={folder}/cg",
            sys.executable,
            "-m",
            "benchmarks.instructions",
            "--inner",
            "--db",
            args.db,
            "--requests",
            str(args.requests),
            *chosen,
        ]
        subprocess.run(command, check=True, capture_output=True)  # noqa: S603
        totals = counts(Path(folder), len(operations))
    per_request = dict(zip(operations, (total // args.requests for total in totals), strict=True))
    for operation, instructions in per_request.items():
        ratio = per_request["reference"] / instructions
        print(
            f"{args.db:7} {operation:10} {instructions:>10,} instructions  x{ratio:.2f} reference"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
