"""The `hangar` command."""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer

from app.cli_support import load_or_exit, open_or_exit
from app.core.config import get_settings
from app.migration.command import migrate

UVICORN_OPTIONS: dict[str, Any] = {
    "loop": "uvloop",
    "http": "app.core.http_protocol:HeadLimitedHttpToolsProtocol",
}
"""uvicorn[standard]'s event loop and HTTP parser, named so a missing one fails loudly instead
of silently falling back to the slower pure-Python ones (the benchmark starts its reference
server with the same options). The parser is httptools with limits on the request head, which
neither httptools nor uvicorn has (431 past them)."""

cli = typer.Typer(
    help="Hangar: users, projects and files on the backends you configure.",
    no_args_is_help=True,
)


@cli.callback()
def _commands() -> None:
    """Users, projects and files on the backends you configure: pick a command below."""


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development).")] = False,
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes (sqlite and dynamodb only).")
    ] = 1,
    access_log: Annotated[bool, typer.Option(help="Log every request (costs throughput).")] = False,
    shutdown_timeout: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Seconds in-flight requests get to finish on SIGTERM [SHUTDOWN_TIMEOUT_SECONDS].",
        ),
    ] = None,
) -> None:
    """Run the API server (uvicorn)."""
    import uvicorn

    from app.backends import one_process
    from app.core.logging import log_config

    settings = load_or_exit()
    owner = one_process(settings)
    if workers > 1 and owner is not None:
        typer.echo(
            f"{owner} is served by one process: use --workers 1, or a database and storage "
            "that several processes share (sqlite or dynamodb, local or s3).",
            err=True,
        )
        raise typer.Exit(2)
    if "PUBLIC_BASE_URL" not in settings.model_fields_set:
        # Links of local storage must point at this server, whatever port it was given.
        link_host = "127.0.0.1" if host in {"0.0.0.0", "::"} else host  # noqa: S104
        os.environ["PUBLIC_BASE_URL"] = f"http://{link_host}:{port}"
        get_settings.cache_clear()
    typer.echo(
        f"Hangar on http://{host}:{port} (database: {settings.DATABASE_TYPE}, "
        f"storage: {settings.STORAGE_TYPE}, docs: /docs)"
    )
    # Workers import the app by name and inherit os.environ, PUBLIC_BASE_URL included.
    target: Any = "app.main:app"
    backends = None
    if owner is not None and not reload:
        # One process serves these backends, this one: open them before uvicorn, so that a
        # file another process holds is its one-line reason and exit 1, not a start-up
        # traceback of the lifespan.
        from app.main import create_app

        served = load_or_exit()
        backends = open_or_exit(served)
        target = create_app(served, backends)
    try:
        uvicorn.run(
            target,
            host=host,
            port=port,
            reload=reload,
            workers=workers,
            access_log=access_log,
            timeout_graceful_shutdown=(
                settings.SHUTDOWN_TIMEOUT_SECONDS if shutdown_timeout is None else shutdown_timeout
            ),
            log_config=log_config(settings.LOG_FORMAT, settings.LOG_LEVEL),
            # uvicorn alone believes X-Forwarded-For from 127.0.0.1, so any local client could
            # choose the address its failed logins are counted against: only named proxies are.
            proxy_headers=bool(settings.FORWARDED_ALLOW_IPS.strip()),
            forwarded_allow_ips=settings.FORWARDED_ALLOW_IPS,
            **UVICORN_OPTIONS,
        )
    finally:
        if backends is not None:
            backends.close()


@cli.command()
def init() -> None:
    """Create what the configured backends need (DynamoDB tables, S3 bucket, database file,
    storage folder) when missing, so the service can start without AWS_AUTO_CREATE."""
    settings = load_or_exit().model_copy(update={"AWS_AUTO_CREATE": True})
    open_or_exit(settings).close()
    if settings.STORAGE_TYPE == "s3":
        from app.storage.s3 import open_storage, upload_lifecycle_days

        days = upload_lifecycle_days(settings)
        open_storage(settings).set_upload_lifecycle(days)
        typer.echo(f"S3 lifecycle: multipart uploads still open after {days} day(s) are aborted")
    if settings.MAIL_TYPE == "ses":
        from app.mail.ses import verify_identity

        typer.echo(verify_identity(settings))
    typer.echo(f"Ready: database {settings.DATABASE_TYPE}, storage {settings.STORAGE_TYPE}")


@cli.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Argument(help="The administrator's email address.")],
    password_stdin: Annotated[
        bool, typer.Option(help="Read the password from the first line of stdin, unprompted.")
    ] = False,
) -> None:
    """Make EMAIL an administrator (verified): a new account with the password it prompts
    for, or an existing one promoted, its password unchanged."""
    from pydantic import ValidationError

    from app.context import AppContext
    from app.errors import EmailAlreadyRegistered
    from app.routers.auth.interface import UserRegister, normalise_email

    settings = load_or_exit()
    backends = open_or_exit(settings)
    try:
        users = backends.user_repo
        existing = users.get_user_by_email(normalise_email(email))
        if existing is not None:
            users.update_user_fields(existing.id, {"is_superuser": True, "is_verified": True})
            typer.echo(f"{existing.email} is now an administrator")
            return
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        try:
            data = UserRegister(email=email, password=password)
        except ValidationError as error:
            problems = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in error.errors())
            typer.echo(f"Cannot create the administrator: {problems}", err=True)
            raise typer.Exit(2) from None
        hasher = AppContext.from_settings(settings, backends).hasher
        try:
            user = users.create_user(
                data.email, hasher.hash(data.password), is_verified=True, is_superuser=True
            )
        except EmailAlreadyRegistered:
            typer.echo(f"{data.email} registered meanwhile: run the command again", err=True)
            raise typer.Exit(1) from None
        typer.echo(f"Administrator {user.email} created")
    finally:
        backends.close()


@cli.command()
def doctor(
    fix: Annotated[bool, typer.Option(help="Repair what is found.")] = False,
    temp_age: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="Temp files whose writer cannot be told are stale past this many seconds "
            "[TEMP_FILE_MAX_AGE_SECONDS].",
        ),
    ] = None,
    claim: Annotated[
        bool,
        typer.Option(
            help="First bind a storage that names no database (filled by an older Hangar) to "
            "this one, so --fix may delete its unrecorded bytes: only if no other database "
            "keeps files there.",
        ),
    ] = False,
) -> None:
    """Find what a crash can leave between database and storage (orphan bytes, records of
    deleted projects, files without bytes, stale temp files); exit 1 while problems remain.
    Bytes in a storage also bound to another database, or to none, are reported, never
    deleted."""
    from rich.console import Console
    from rich.table import Table

    from app import doctor as checks

    settings = load_or_exit()
    backends = open_or_exit(settings)
    try:
        if claim:
            try:
                checks.claim_storage(backends)
            except ValueError as error:
                typer.echo(f"Cannot claim the storage: {error}", err=True)
                raise typer.Exit(2) from None
        report = checks.doctor(
            backends,
            fix=fix,
            temp_file_max_age=settings.TEMP_FILE_MAX_AGE_SECONDS if temp_age is None else temp_age,
        )
    finally:
        backends.close()
    console = Console()
    if report.findings:
        table = Table("kind", "location", "detail", "state")
        for finding in report.findings:
            state = (
                "fixed" if finding.fixed else "problem" if finding.is_problem else "in progress?"
            )
            table.add_row(finding.kind.value, finding.location, finding.detail, state)
        console.print(table)
    if report.storage_note:
        console.print(report.storage_note)
    console.print(
        f"{report.keys_checked} storage keys and {report.records_checked} file records checked; "
        f"{len(report.problems)} problem(s) remain."
    )
    if not report.clean:
        raise typer.Exit(1)


cli.command()(migrate)


def main() -> None:
    cli()
