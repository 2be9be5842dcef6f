"""What `hangar migrate` runs and prints (imported only when it runs)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn
from rich.table import Table

from app.backends import Backends, identity
from app.cli_support import load_or_exit, open_or_exit
from app.core.config import Settings
from app.migration.endpoints import apply_spec, describe, missing_locations, settings_from_file
from app.migration.engine import NEEDS_PRUNE, Event, Kind, Migration, Mode, Outcome, Report
from app.mirroring import MirrorJournal
from app.models import utc_now

STATES = {
    Outcome.SAME: "equal",
    Outcome.COPY: "absent from the target",
    Outcome.BYTES: "with bytes missing or different",
    Outcome.UPDATE: "different",
    Outcome.DELETE: "absent from the source",
    Outcome.CONFLICT: "in conflict",
    Outcome.SKIP: "skipped with their owner",
}
"""How the summary names what each outcome found, whatever the mode did about it."""
VERBS = {
    Mode.COPY: {
        Outcome.COPY: "copied",
        Outcome.BYTES: "copied the bytes of",
        Outcome.UPDATE: "updated",
        Outcome.DELETE: "deleted",
        Outcome.SKIP: "skipped",
    },
    Mode.DRY_RUN: {
        Outcome.COPY: "would copy",
        Outcome.BYTES: "would copy the bytes of",
        Outcome.UPDATE: "would update",
        Outcome.DELETE: "would delete",
        Outcome.SKIP: "would skip",
    },
    Mode.VERIFY: {
        Outcome.COPY: "missing from the target:",
        Outcome.BYTES: "bytes differ:",
        Outcome.UPDATE: "differs:",
        Outcome.DELETE: "only in the target:",
        Outcome.SKIP: "not compared:",
    },
}


def event_line(mode: Mode, event: Event) -> str:
    if event.outcome is Outcome.CONFLICT:
        verb = "conflict:"
    elif event.problem and mode is not Mode.VERIFY and event.outcome in NEEDS_PRUNE:
        verb = "left as is:"
    else:
        verb = VERBS[mode][event.outcome]
    return f"{verb} {event.kind} {event.item_id} ({event.detail})"


def side_settings(
    flag: str, spec: str | None, env_file: Path | None, load: Callable[..., Settings]
) -> Settings:
    """Settings of one side: the env file's (or the process's), with the spec applied."""
    if spec is None and env_file is None:
        raise typer.BadParameter(f"give {flag} or {flag}-env (or both)")
    base = load(partial(settings_from_file, env_file)) if env_file else load()
    try:
        return apply_spec(base, spec) if spec else base
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint=flag) from None


def is_mirror_of(process: Settings, target: Settings) -> bool:
    """Whether `target` is where the process's mirror mode writes (so its journal applies)."""
    if process.DATABASE_MIRROR_TYPE is None and process.STORAGE_MIRROR_TYPE is None:
        return False
    mirror = process.model_copy(
        update={
            "DATABASE_TYPE": process.DATABASE_MIRROR_TYPE or target.DATABASE_TYPE,
            "STORAGE_TYPE": process.STORAGE_MIRROR_TYPE or target.STORAGE_TYPE,
        }
    )
    mirror_database, mirror_storage = identity(mirror)
    target_database, target_storage = identity(target)
    return (process.DATABASE_MIRROR_TYPE is None or mirror_database == target_database) and (
        process.STORAGE_MIRROR_TYPE is None or mirror_storage == target_storage
    )


def open_side(settings: Settings, mode: Mode, console: Console) -> Backends:
    """A side's primary backends. A run that writes nothing creates nothing either: a part
    whose file or folder is missing is read as empty (an in-memory stand-in), and missing
    tables or bucket are not created, whatever AWS_AUTO_CREATE says."""
    if mode is Mode.COPY:
        return open_or_exit(settings, mirrors=False)
    missing = missing_locations(settings)
    for path in missing.values():
        console.print(f"{path} does not exist: read as empty, not created", markup=False)
    update: dict[str, object] = {**dict.fromkeys(missing, "memory"), "AWS_AUTO_CREATE": False}
    return open_or_exit(settings.model_copy(update=update), mirrors=False, bind=False)


@contextmanager
def progress_reporter(console: Console, mode: Mode) -> Iterator[Callable[[Event], None]]:
    """A rich progress bar per kind on a terminal; a plain line per change otherwise."""

    def print_change(event: Event) -> None:
        if event.outcome is not Outcome.SAME:
            console.print(event_line(mode, event), markup=False, highlight=False)

    if not console.is_terminal:
        yield print_change
        return
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}"),
    )
    with Progress(*columns, console=console) as progress:
        tasks: dict[Kind, TaskID] = {
            kind: progress.add_task(f"{kind}s", total=None) for kind in Kind
        }

        def advance(event: Event) -> None:
            progress.advance(tasks[event.kind])
            if mode is Mode.DRY_RUN:
                print_change(event)

        yield advance
        for task in tasks.values():
            progress.update(task, total=progress.tasks[task].completed)


def print_report(console: Console, report: Report, journal: MirrorJournal) -> None:
    for kind, outcomes in report.counts.items():
        parts = [
            f"{outcomes[outcome]} {STATES[outcome]}" for outcome in Outcome if outcomes[outcome]
        ]
        console.print(f"{kind}s: {', '.join(parts) or 'none'}", highlight=False)
    if report.mode is Mode.VERIFY:
        counts = ", ".join(
            f"{kind}s {report.source_counts[kind]}/{report.target_counts[kind]}" for kind in Kind
        )
        console.print(f"counts (source/target): {counts}", highlight=False)
        entries = journal.entries()
        if entries:
            console.print(f"{len(entries)} failed mirror write(s) in {journal.path}:")
            for entry in entries:
                moment = f"{entry.time:%Y-%m-%d %H:%M:%S}"
                line = f"  {moment} {entry.operation} {entry.kind} {entry.id}: {entry.error}"
                console.print(line, markup=False, highlight=False)
    owners = {user_id: skipped for user_id, skipped in report.skipped.items() if skipped}
    if owners:
        console.print("Skipped with their owner, a user in conflict (settle it, then run again):")
        for user_id, skipped in owners.items():
            line = (
                f"  user {user_id}: {skipped[Kind.PROJECT]} project(s) and "
                f"{skipped[Kind.FILE]} file(s) skipped"
            )
            console.print(line, markup=False, highlight=False)
    if report.problems:
        table = Table("kind", "id", "problem", title=f"{len(report.problems)} difference(s)")
        for event in report.problems:
            table.add_row(event.kind.value, event.item_id, event_line(report.mode, event))
        console.print(table)
    elif report.mode is Mode.VERIFY:
        console.print("Verified: both sides hold the same users, projects, files and bytes.")
    elif report.changes == 0:
        console.print("Nothing to copy: the target already has everything.", highlight=False)
    elif report.mode is Mode.COPY:
        console.print(f"Done: {report.changes} item(s) written.", highlight=False)


def run(
    *,
    source_spec: str | None,
    target_spec: str | None,
    source_env: Path | None,
    target_env: Path | None,
    dry_run: bool,
    verify: bool,
    prune: bool,
) -> None:
    """The body of `hangar migrate` (see `app.migration.command`)."""
    if dry_run and verify:
        raise typer.BadParameter("--dry-run and --verify exclude each other")
    mode = Mode.VERIFY if verify else Mode.DRY_RUN if dry_run else Mode.COPY
    process = load_or_exit()
    source = side_settings("--from", source_spec, source_env, load_or_exit)
    target = side_settings("--to", target_spec, target_env, load_or_exit)
    if identity(source) == identity(target):
        typer.echo(f"The source and the target are the same: {describe(source)}", err=True)
        raise typer.Exit(2)
    if mode is Mode.COPY:
        target = target.model_copy(update={"AWS_AUTO_CREATE": True})
    console = Console(soft_wrap=True)
    journal = MirrorJournal(process.MIRROR_JOURNAL_PATH)
    gone_projects = {
        entry.id
        for entry in journal.entries()
        if entry.operation == "delete_project_files"
        or (entry.kind == Kind.PROJECT and entry.operation == "delete")
    }
    started = utc_now()
    console.print(f"{mode}: {describe(source)} -> {describe(target)}", highlight=False)
    source_backends = open_side(source, mode, console)
    try:
        target_backends = open_side(target, mode, console)
        try:
            with progress_reporter(console, mode) as on_event:
                report = Migration(
                    source_backends,
                    target_backends,
                    mode=mode,
                    prune=prune,
                    on_event=on_event,
                    extra_project_ids=gone_projects,
                ).run()
        finally:
            target_backends.close()
    finally:
        source_backends.close()
    print_report(console, report, journal)
    if report.problems or report.skipped:
        raise typer.Exit(1)
    if mode is Mode.COPY and prune and is_mirror_of(process, target):
        journal.clear_before(started)
