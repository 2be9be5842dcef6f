"""`python -m benchmarks.scale`: the embedded databases at 10,000 to 1,000,000 projects.

Each database file is bulk-seeded by SQL straight into the tables the app's own schema made
(the memory database, which has no file, is seeded through its repositories in the measuring
process), then a fresh process opens it the app's own way (`app.backends.open_repositories`)
and times the open, its memory, and what a request reads and writes: a first page, a page deep
in a list, a get and a create, for owners it has never read (cold) and for one it has just read
(warm). Last, `hangar serve` is started on the file and timed to its first `/health` answer.
Settings not named here come from the environment, as for the server.

    uv run python -m benchmarks.scale                        # 10k, 100k and 1M projects
    uv run python -m benchmarks.scale --sizes 10000 --databases duckdb,sqlite
    uv run python -m benchmarks.scale --markdown benchmarks/results/scale.json

(as a module: run as a file, its folder comes first on sys.path and `benchmarks/http.py`
shadows the standard library's `http`.)
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import TypeAdapter
from rich.console import Console
from rich.table import Table

from app.backends import database_module, open_repositories
from app.core.config import Settings
from app.core.security import PasswordHasher
from app.models import FIRST_VERSION, FileRecord, PageKey, Project, User
from app.repositories.base import ProjectRepository, Repositories
from app.repositories.sql import to_text
from benchmarks.servers import Server, rss_kib, server_env

Model = TypeVar("Model", User, Project, FileRecord)

DATABASES: dict[str, dict[str, Any]] = {
    "memory": {"DATABASE_TYPE": "memory"},
    "sqlite": {"DATABASE_TYPE": "sqlite"},
    "duckdb": {"DATABASE_TYPE": "duckdb"},
    "duckdb-nocache": {"DATABASE_TYPE": "duckdb", "DUCKDB_CACHE": False},
}
"""What each row measures: its settings over the defaults (the names tests/conftest.py uses)."""
SIZES = (10_000, 100_000, 1_000_000)
MIN_SIZE = 4_000
"""Fewest projects measured: cold reads need three owners besides the largest."""

PROJECTS_PER_USER = 1_000
LARGEST_SHARE = 10
"""The largest owner holds one project in this many, the oldest ones."""
PROJECTS_PER_FILE = 10
PAGE = 20
DEEP = 900
"""How many of an owner's projects come before its deep page."""
COLD_OWNERS = 5
"""Owners read once each for a cold figure, per read: the figure is their median."""
WARM_CALLS, WARM_SECONDS = 200, 1.0
CREATES = 300
SERVES = 3

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
"""Project i is created i seconds after this, user k k seconds after a day before it, and a
file half a second after its project."""
TEXT_FORMAT = "%Y-%m-%dT%H:%M:%S.%f+00:00"
"""`to_text`'s format in DuckDB's strftime; the measuring process checks every answer against
the models it expects, so a seed that drifted from the app's shape fails the run."""
DESCRIPTION = "Seeded by the scale benchmark"
PASSWORD = "scale-password-0123"  # noqa: S105 (throwaway accounts of a benchmark)
FILE_BYTES = 1024
CONTENT_TYPE = "application/octet-stream"
MIB = 1024 * 1024
GIB = 1024 * MIB


def hex_id(kind: str, number: int) -> str:
    """A seeded row's id: 32 hex digits like `new_id`'s, the same in Python and in DuckDB."""
    return hashlib.md5(f"{kind}-{number}".encode(), usedforsecurity=False).hexdigest()


USER_COLUMNS = ("id", "email", "password_hash", "full_name", "is_active", "created_at")
PROJECT_COLUMNS = ("id", "owner_id", "name", "description", "created_at", "updated_at", "version")
FILE_COLUMNS = (
    *("id", "project_id", "owner_id", "filename", "content_type", "size", "sha256"),
    *("storage_key", "created_at"),
)
"""What the seed writes of each table, in `Layout`'s row order; other columns (and fields)
keep their defaults."""


def as_model(model: type[Model], columns: tuple[str, ...], row: tuple[Any, ...]) -> Model:
    """A seeded row as the model the repositories take and give."""
    return model.model_validate(dict(zip(columns, row, strict=True)))


def insert(table: str, columns: tuple[str, ...]) -> str:
    marks = ", ".join("?" for _ in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608 (constants)


@cache
def password_hash() -> str:
    """One real hash of the app's hasher for every seeded user (nobody logs in)."""
    return PasswordHasher().hash(PASSWORD)


@dataclass(frozen=True)
class Layout:
    """Who owns what in a seeded database, so that the measuring process knows every id and
    cursor without reading any: the largest owner (user 0) holds the oldest tenth of the
    projects, the other users the rest in turn, PROJECTS_PER_USER or a few more each, and
    every PROJECTS_PER_FILE-th project has one file."""

    projects: int

    @property
    def largest(self) -> int:
        return self.projects // LARGEST_SHARE

    @property
    def others(self) -> int:
        return max(1, (self.projects - self.largest) // PROJECTS_PER_USER)

    @property
    def users(self) -> int:
        return 1 + self.others

    @property
    def files(self) -> int:
        return -(-self.projects // PROJECTS_PER_FILE)

    def owner(self, project: int) -> int:
        return 0 if project < self.largest else 1 + (project - self.largest) % self.others

    def owned(self, user: int) -> range:
        """A user's projects, oldest first."""
        if user == 0:
            return range(self.largest)
        return range(self.largest + user - 1, self.projects, self.others)

    def key(self, project: int) -> PageKey:
        return PageKey(EPOCH + timedelta(seconds=project), hex_id("project", project))

    def user_row(self, user: int) -> tuple[Any, ...]:
        """In USER_COLUMNS' order, as the repositories write it."""
        created = EPOCH - timedelta(days=1) + timedelta(seconds=user)
        email = f"user-{user}@scale.example.com"
        return (
            hex_id("user", user),
            email,
            password_hash(),
            f"User {user}",
            True,
            to_text(created),
        )

    def project_row(self, project: int) -> tuple[Any, ...]:
        """In PROJECT_COLUMNS' order."""
        created = to_text(EPOCH + timedelta(seconds=project))
        owner = hex_id("user", self.owner(project))
        name = f"Project {project}"
        return (
            hex_id("project", project),
            owner,
            name,
            DESCRIPTION,
            created,
            created,
            FIRST_VERSION,
        )

    def file_row(self, file: int) -> tuple[Any, ...]:
        """In FILE_COLUMNS' order."""
        project = file * PROJECTS_PER_FILE
        file_id, project_id = hex_id("file", file), hex_id("project", project)
        digest = hashlib.sha256(f"file-{file}".encode()).hexdigest()
        created = to_text(EPOCH + timedelta(seconds=project + 0.5))
        owner = hex_id("user", self.owner(project))
        return (
            *(file_id, project_id, owner, f"file-{file}.bin", CONTENT_TYPE, FILE_BYTES, digest),
            *(f"{project_id}/{file_id}", created),
        )

    def project(self, project: int) -> Project:
        return as_model(Project, PROJECT_COLUMNS, self.project_row(project))


@dataclass(frozen=True)
class Latency:
    """Wall times of `count` calls in microseconds; of a cold figure, `p99_us` is the slowest."""

    count: int
    p50_us: float
    p99_us: float

    @classmethod
    def of(cls, nanoseconds: list[int]) -> Latency:
        if len(nanoseconds) > 1:
            p99 = statistics.quantiles(nanoseconds, n=100, method="inclusive")[98]
        else:
            p99 = nanoseconds[0]
        return cls(
            len(nanoseconds), round(statistics.median(nanoseconds) / 1e3, 3), round(p99 / 1e3, 3)
        )


@dataclass(frozen=True)
class Read:
    """One kind of read: `depth` of the owner's projects come before what it returns (the
    position of the project, for a get), which is `items` long."""

    depth: int
    items: int
    cold: Latency
    warm: Latency


@dataclass(frozen=True)
class ScaleResult:
    """One database at one size. RSS growth is VmRSS over what it was right before the open
    (the backend's module already imported), after the open (and the seed, for memory) and at
    the end; `seed_s` is the bulk SQL's, or the repositories' for memory."""

    database: str
    projects: int
    users: int
    files: int
    seeded_by: str
    seed_s: float
    file_mib: float | None
    open_s: float
    rss_before_mib: float
    rss_open_mib: float
    rss_end_mib: float
    page: Read
    deep_page: Read
    largest_deep_page: Read
    get: Read
    create: Latency
    serve_s: float | None = None
    """The median of `SERVES` starts of `hangar serve` on the file, each timed to its first
    `/health` 200 (None for memory, which starts empty)."""


@dataclass(frozen=True)
class Probe:
    """One read and the answer it must give, so that no figure is that of a wrong answer."""

    call: Callable[[], Any]
    expected: Any
    view: Callable[[Any], Any] = lambda answer: answer

    def run(self) -> int:
        started = time.perf_counter_ns()
        answer = self.call()
        elapsed = time.perf_counter_ns() - started
        if self.view(answer) != self.expected:
            raise RuntimeError(f"unexpected answer: {answer!r:.300}")
        return elapsed


def page_probe(repo: ProjectRepository, layout: Layout, user: int, depth: int) -> Probe:
    """The page of `user`'s projects after the newest `depth`."""
    newest = layout.owned(user)[::-1]
    after = layout.key(newest[depth - 1]) if depth else None
    more = depth + PAGE < len(newest)
    expected = (
        [layout.project(i) for i in newest[depth : depth + PAGE]],
        layout.key(newest[depth + PAGE - 1]) if more else None,
    )
    owner = hex_id("user", user)
    return Probe(
        lambda: repo.get_projects_by_user(owner, limit=PAGE, after=after),
        expected,
        lambda page: (list(page.items), page.next_key),
    )


def get_probe(repo: ProjectRepository, layout: Layout, user: int) -> tuple[int, Probe]:
    """A get of the project halfway down `user`'s list, and its position there."""
    newest = layout.owned(user)[::-1]
    depth = len(newest) // 2
    project = layout.project(newest[depth])
    return depth, Probe(lambda: repo.get_project(project.id), project)


def warm(probe: Probe) -> Latency:
    """The probe again and again after one untimed call, WARM_CALLS times or WARM_SECONDS."""
    probe.run()
    times: list[int] = []
    deadline = time.perf_counter() + WARM_SECONDS
    while len(times) < WARM_CALLS and time.perf_counter() < deadline:
        times.append(probe.run())
    return Latency.of(times)


def cold_and_warm(probes: list[Probe], depth: int, items: int) -> Read:
    """Each probe once, on owners nothing has read yet, then the first one warm."""
    cold = Latency.of([probe.run() for probe in probes])
    return Read(depth, items, cold, warm(probes[0]))


def seed_repositories(repositories: Repositories, layout: Layout) -> float:
    """Store the layout through the repositories (the memory database); the seconds it took."""
    started = time.perf_counter()
    for user in range(layout.users):
        repositories.user_repo.add_user(as_model(User, USER_COLUMNS, layout.user_row(user)))
    for project in range(layout.projects):
        repositories.project_repo.add_project(layout.project(project))
    for file in range(layout.files):
        repositories.file_repo.add_file(as_model(FileRecord, FILE_COLUMNS, layout.file_row(file)))
    return time.perf_counter() - started


def settings_for(database: str, folder: Path) -> Settings:
    return Settings(
        _env_file=None,
        DUCKDB_PATH=folder / "app.db",
        SQLITE_PATH=folder / "app.sqlite3",
        **DATABASES[database],
    )


def measure(database: str, projects: int, folder: Path) -> ScaleResult:
    """Open, read and write one seeded database in this process (a fresh one, for its RSS)."""
    layout = Layout(projects)
    settings = settings_for(database, folder)
    database_module(settings.DATABASE_TYPE)  # imported first: the open's figures are the data's
    pid = os.getpid()
    before = rss_kib(pid)
    started = time.perf_counter()
    repositories = open_repositories(settings)
    open_s = time.perf_counter() - started
    by_sql = settings.DATABASE_TYPE in SEEDERS
    seed_s = 0.0 if by_sql else seed_repositories(repositories, layout)
    opened = rss_kib(pid)
    repo = repositories.project_repo
    try:
        # The code paths once, on ids nobody has, so the first cold read pays only for data.
        repo.get_project(hex_id("missing", 0))
        repo.get_projects_by_user(hex_id("missing", 0), limit=PAGE)
        per = min(COLD_OWNERS, layout.others // 3)
        owners = [range(1 + n * per, 1 + (n + 1) * per) for n in range(3)]
        pages = [page_probe(repo, layout, user, 0) for user in owners[0]]
        depth = min(DEEP, len(layout.owned(owners[1][0])) - PAGE)
        deep = [page_probe(repo, layout, user, depth) for user in owners[1]]
        largest_depth = min(layout.largest * 9 // 10, layout.largest - PAGE)
        gets = [get_probe(repo, layout, user) for user in owners[2]]
        page = cold_and_warm(pages, 0, PAGE)
        deep_page = cold_and_warm(deep, depth, PAGE)
        largest = cold_and_warm([page_probe(repo, layout, 0, largest_depth)], largest_depth, PAGE)
        get = cold_and_warm([probe for _, probe in gets], gets[0][0], 1)
        # What a user who has just listed their projects creates next.
        creator = hex_id("user", owners[0][0])
        creates = []
        for n in range(CREATES):
            started_ns = time.perf_counter_ns()
            repo.create_project(creator, f"Created {n}", DESCRIPTION)
            creates.append(time.perf_counter_ns() - started_ns)
        end = rss_kib(pid)
    finally:
        repositories.close()
    return ScaleResult(
        database=database,
        projects=projects,
        users=layout.users,
        files=layout.files,
        seeded_by="SQL" if by_sql else "repositories, in the measuring process",
        seed_s=round(seed_s, 3),
        file_mib=None,
        open_s=round(open_s, 6),
        rss_before_mib=round(before / 1024, 1),
        rss_open_mib=round((opened - before) / 1024, 1),
        rss_end_mib=round((end - before) / 1024, 1),
        page=page,
        deep_page=deep_page,
        largest_deep_page=largest,
        get=get,
        create=Latency.of(creates),
    )


DUCKDB_SEED = (
    (
        """INSERT INTO users (id, email, password_hash, full_name, is_active, created_at)
        SELECT md5('user-' || i), 'user-' || i || '@scale.example.com', $hash, 'User ' || i,
            TRUE, strftime($epoch - INTERVAL 1 DAY + to_seconds(i), $format)
        FROM range($users) t(i)""",
        ("hash", "epoch", "format", "users"),
    ),
    (
        """CREATE TEMP TABLE seeded AS
        SELECT i, md5('project-' || i) AS id,
            md5('user-' || CASE WHEN i < $largest THEN 0 ELSE 1 + (i - $largest) % $others END)
                AS owner_id,
            $epoch + to_seconds(i) AS created
        FROM range($projects) t(i)""",
        ("largest", "others", "epoch", "projects"),
    ),
    (
        """INSERT INTO projects (id, owner_id, name, description, created_at, updated_at,
            version)
        SELECT id, owner_id, 'Project ' || i, $description, strftime(created, $format),
            strftime(created, $format), $version
        FROM seeded""",
        ("description", "format", "version"),
    ),
    (
        """INSERT INTO files (id, project_id, owner_id, filename, content_type, size, sha256,
            storage_key, created_at)
        SELECT md5('file-' || n), id, owner_id, 'file-' || n || '.bin', $content_type, $size,
            sha256('file-' || n), id || '/' || md5('file-' || n),
            strftime(created + INTERVAL 500 MILLISECOND, $format)
        FROM (SELECT *, i // $per_file AS n FROM seeded WHERE i % $per_file = 0)""",
        ("content_type", "size", "format", "per_file"),
    ),
)
"""The layout's rows, as `Layout` writes them, each statement with the parameters it uses."""


def seed_duckdb(path: Path, layout: Layout) -> None:
    import duckdb

    values = {
        "hash": password_hash(),
        "epoch": EPOCH.replace(tzinfo=None),
        "format": TEXT_FORMAT,
        "users": layout.users,
        "largest": layout.largest,
        "others": layout.others,
        "projects": layout.projects,
        "description": DESCRIPTION,
        "version": FIRST_VERSION,
        "content_type": CONTENT_TYPE,
        "size": FILE_BYTES,
        "per_file": PROJECTS_PER_FILE,
    }
    with duckdb.connect(str(path)) as connection:
        connection.execute("BEGIN TRANSACTION")
        for sql, names in DUCKDB_SEED:
            connection.execute(sql, {name: values[name] for name in names})
        connection.execute("COMMIT")
        connection.execute("CHECKPOINT")


def seed_sqlite(path: Path, layout: Layout) -> None:
    """The rows in one transaction, the app's indexes dropped before and made again after
    from their own definitions (one sort each, instead of a million scattered inserts)."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        # A file nobody else has open yet: no journal, the tree in memory, WAL again after.
        for pragma in ("journal_mode = OFF", "synchronous = OFF", f"cache_size = -{GIB // 1024}"):
            connection.execute(f"PRAGMA {pragma}")
        connection.execute("BEGIN")
        indexes = connection.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        ).fetchall()
        for name, _ in indexes:
            connection.execute(f'DROP INDEX "{name}"')
        connection.executemany(
            insert("users", USER_COLUMNS), map(layout.user_row, range(layout.users))
        )
        connection.executemany(
            insert("projects", PROJECT_COLUMNS), map(layout.project_row, range(layout.projects))
        )
        connection.executemany(
            insert("files", FILE_COLUMNS), map(layout.file_row, range(layout.files))
        )
        for _, sql in indexes:
            connection.execute(sql)
        connection.execute("COMMIT")
        connection.execute("PRAGMA journal_mode = WAL")
    finally:
        connection.close()


SEEDERS: dict[str, Callable[[Path, Layout], None]] = {"duckdb": seed_duckdb, "sqlite": seed_sqlite}
RESULTS: TypeAdapter[list[ScaleResult]] = TypeAdapter(list[ScaleResult])
TITLES = {
    "memory": "memory: no file, seeded through the repositories in the measuring process (its "
    "seed s), so its RSS growth after the open is the seeded data's",
    "duckdb": "duckdb, default settings",
    "duckdb-nocache": "duckdb-nocache: DUCKDB_CACHE=false, for reference",
}
COLUMNS = (
    "projects",
    "file MiB",
    "seed s",
    "open s",
    "RSS growth MiB open / end",
    "page cold / warm",
    f"page {DEEP} down cold / warm",
    "largest owner's page 9/10 down cold / warm",
    "get cold / warm",
    "create p50",
    "serve s",
)


def seed(database: str, layout: Layout, folder: Path) -> tuple[float, float] | None:
    """The app's schema, made by opening the database the app's way, bulk-seeded: the seconds
    the seed took and the file's MiB (None for a database without a file)."""
    settings = settings_for(database, folder)
    seeder = SEEDERS.get(settings.DATABASE_TYPE)
    location = database_module(settings.DATABASE_TYPE).LOCATION_SETTING
    if seeder is None or location is None:
        return None
    open_repositories(settings).close()
    path = Path(getattr(settings, location))
    started = time.perf_counter()
    seeder(path, layout)
    return time.perf_counter() - started, path.stat().st_size / MIB


def measured(database: str, projects: int, folder: Path) -> ScaleResult:
    """`measure` in a fresh process, so that its RSS is the open's and the reads' alone."""
    spec = json.dumps({"database": database, "projects": projects, "folder": str(folder)})
    done = subprocess.run(  # noqa: S603 (this interpreter, this module)
        [sys.executable, "-m", "benchmarks.scale", "--measure", spec],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    if done.returncode != 0:
        raise RuntimeError(f"{database} at {projects:,} projects failed:\n{done.stderr[-3000:]}")
    return RESULTS.validate_json(f"[{done.stdout.splitlines()[-1]}]")[0]


def served_in(database: str, folder: Path) -> float:
    """The median seconds from starting `hangar serve` on the seeded file (this environment's,
    with its installed packages) to its first `/health` 200."""
    settings = settings_for(database, folder)
    env = server_env(
        {
            **DATABASES[database],
            "APP_ENV": "test",  # no env file is read, the development key is allowed
            "DUCKDB_PATH": settings.DUCKDB_PATH,
            "SQLITE_PATH": settings.SQLITE_PATH,
            "STORAGE_TYPE": "local",
            "LOCAL_STORAGE_PATH": folder / "files",
        },
        keep_aws=False,
    )
    starts = []
    for _ in range(SERVES):
        started = time.perf_counter()
        server = Server(folder, env)
        try:
            server.wait_ready(interval=0.005)
            starts.append(time.perf_counter() - started)
        finally:
            server.close()
    return round(statistics.median(starts), 3)


def duration(microseconds: float) -> str:
    if microseconds < 10:
        return f"{microseconds:.1f} us"
    if microseconds < 1_000:
        return f"{microseconds:.0f} us"
    if microseconds < 1_000_000:
        return f"{microseconds / 1e3:.1f} ms"
    return f"{microseconds / 1e6:.2f} s"


def cells(result: ScaleResult) -> list[str]:
    def both(read: Read) -> str:
        return f"{duration(read.cold.p50_us)} / {duration(read.warm.p50_us)}"

    return [
        f"{result.projects:,}",
        "" if result.file_mib is None else f"{result.file_mib:,.1f}",
        f"{result.seed_s:.1f}",
        f"{result.open_s:.2f}",
        f"{result.rss_open_mib:,.0f} / {result.rss_end_mib:,.0f}",
        both(result.page),
        both(result.deep_page),
        both(result.largest_deep_page),
        both(result.get),
        duration(result.create.p50_us),
        "" if result.serve_s is None else f"{result.serve_s:.2f}",
    ]


def legend(results: list[ScaleResult]) -> list[str]:
    owners = sorted({r.page.cold.count for r in results})
    return [
        f"cold: the median over {'/'.join(map(str, owners))} owners read for the first time "
        "(the largest owner: once); warm: the p50 of that owner's next reads, up to "
        f"{WARM_CALLS} or {WARM_SECONDS:g} s; a get is of the project halfway down an owner's "
        f"list; create: the p50 of {CREATES} creates in a row by the owner just read; serve: the "
        f"median of {SERVES} starts of `hangar serve` on the file to its first /health 200",
        f"users: {PROJECTS_PER_USER:,} projects or a few more each, but the largest owner, who "
        f"holds the oldest 1/{LARGEST_SHARE}; one file per {PROJECTS_PER_FILE} projects",
    ]


def grouped(results: list[ScaleResult]) -> dict[str, list[ScaleResult]]:
    groups: dict[str, list[ScaleResult]] = {}
    for result in results:
        groups.setdefault(result.database, []).append(result)
    return groups


def print_tables(results: list[ScaleResult], notes: list[str], console: Console) -> None:
    for database, rows in grouped(results).items():
        table = Table(title=TITLES.get(database, database), title_justify="left")
        for column in COLUMNS:
            table.add_column(column, justify="right")
        for row in rows:
            table.add_row(*cells(row))
        console.print(table)
    for note in [*legend(results), *notes]:
        console.print(f"note: {note}")


def markdown(results: list[ScaleResult], notes: list[str]) -> str:
    lines = []
    for database, rows in grouped(results).items():
        lines += [f"\n{TITLES.get(database, database)}:\n", "| " + " | ".join(COLUMNS) + " |"]
        lines.append("| --- " * len(COLUMNS) + "|")
        lines += ["| " + " | ".join(cells(row)) + " |" for row in rows]
    return "\n".join([*lines, "", *legend(results), *notes])


def run_scale(
    databases: list[str], sizes: list[int], memory_max: int | None, out: Path, console: Console
) -> list[ScaleResult]:
    results, notes = [], []
    with tempfile.TemporaryDirectory(prefix="hangar-scale-") as temporary:
        for database in databases:
            for size in sizes:
                if database == "memory" and memory_max is not None and size > memory_max:
                    notes.append(f"memory: {size:,} projects not run (--memory-max {memory_max:,})")
                    continue
                folder = Path(temporary) / f"{database}-{size}"
                folder.mkdir()
                layout = Layout(size)
                seeded = seed(database, layout, folder)
                if seeded is not None:
                    console.print(
                        f"{database} {size:,}: seeded by SQL in {seeded[0]:.1f} s, "
                        f"{seeded[1]:,.1f} MiB",
                        style="dim",
                        highlight=False,
                    )
                result = measured(database, size, folder)
                if seeded is not None:
                    result = replace(
                        result,
                        seed_s=round(seeded[0], 3),
                        file_mib=round(seeded[1], 1),
                        serve_s=served_in(database, folder),
                    )
                if seeded is None:
                    console.print(
                        f"{database} {size:,}: seeded through the repositories in "
                        f"{result.seed_s:.1f} s",
                        style="dim",
                        highlight=False,
                    )
                console.print(
                    f"{database} {size:,}: open {result.open_s:.2f} s, RSS growth "
                    f"{result.rss_open_mib:,.0f} MiB, {result.rss_end_mib:,.0f} MiB at the end",
                    style="dim",
                    highlight=False,
                )
                results.append(result)
                shutil.rmtree(folder)
    print_tables(results, notes, console)
    out.parent.mkdir(parents=True, exist_ok=True)
    report = {"results": [asdict(r) for r in results], "notes": [*legend(results), *notes]}
    out.write_text(json.dumps(report, indent=2) + "\n")
    console.print(f"saved {out}")
    return results


cli = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@cli.command()
def scale(
    sizes: Annotated[str, typer.Option(help="Projects, comma-separated.")] = ",".join(
        map(str, SIZES)
    ),
    databases: Annotated[str, typer.Option(help="Comma-separated.")] = ",".join(DATABASES),
    memory_max: Annotated[
        int | None, typer.Option(help="Largest size the memory database is seeded to.")
    ] = None,
    out: Annotated[Path, typer.Option(help="The JSON written.")] = Path(
        "benchmarks/results/scale.json"
    ),
    markdown_of: Annotated[
        Path | None,
        typer.Option("--markdown", help="Print a saved JSON as markdown tables, and stop."),
    ] = None,
    measure_spec: Annotated[str | None, typer.Option("--measure", hidden=True)] = None,
) -> None:
    """Open time, RSS growth and read and create latencies of the embedded databases, seeded
    to each size."""
    from benchmarks.__main__ import _names

    if measure_spec is not None:
        spec = json.loads(measure_spec)
        result = measure(spec["database"], spec["projects"], Path(spec["folder"]))
        print(json.dumps(asdict(result)))
        return
    if markdown_of is not None:
        saved = json.loads(markdown_of.read_text())
        print(markdown(RESULTS.validate_python(saved["results"]), []))
        return
    try:
        counts = [int(size.replace("_", "")) for size in sizes.split(",") if size.strip()]
    except ValueError:
        raise typer.BadParameter(
            f"{sizes!r} is not a list of numbers", param_hint="--sizes"
        ) from None
    if small := [n for n in counts if n < MIN_SIZE]:
        raise typer.BadParameter(
            f"{', '.join(map(str, small))}: at least {MIN_SIZE:,} projects", param_hint="--sizes"
        )
    run_scale(
        _names(databases, tuple(DATABASES), "--databases"),
        counts,
        memory_max,
        out,
        Console(width=None if sys.stdout.isatty() else 240),
    )


if __name__ == "__main__":
    cli()
