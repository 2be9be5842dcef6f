"""`hangar doctor`: find, and on request repair, what a crash between the two stores leaves.

The services order every operation that touches both stores so that a failure part way never
shows a client a half-state (upload: bytes, then metadata, removing the bytes if the metadata
write fails; file delete: metadata, then bytes; project delete: project, then file records,
then bytes). What a killed process can still leave is invisible through the API, and is what
this module looks for:

- orphan bytes: a storage key no file record points to;
- orphan records: file records of a deleted project (found through the project ids that
  storage keys, `{project_id}/{file_id}`, start with: records go before their bytes);
- missing bytes: a listed file whose bytes are gone (never caused by Hangar's own orders);
- temp files of local storage: those of a writer that is gone (or, when the writer cannot
  be told, older than the threshold) are crash leftovers; the others may be uploads in
  progress and are only reported;
- the parts of direct uploads on local storage never completed nor aborted: leftovers once
  their ticket has expired, kept while it is valid.

Bytes are deleted only when they are provably this database's: the storage is bound to it
and to no other (`Backends.owns_storage`). Bytes without a record in a storage shared with
another database, or in one bound to none, may be another database's files: they are
reported as foreign, never deleted.

Plain functions over `Backends`, so a notebook can call them; the CLI prints the report.
Orphan bytes are judged against the records of the moment: run `--fix` while the service is
quiet (DuckDB must be stopped anyway), or an upload between its two writes looks orphaned.
"""

from __future__ import annotations

import time
from enum import StrEnum
from functools import cache, partial
from pathlib import Path

from pydantic import BaseModel

from app.backends import Backends
from app.repositories.base import every
from app.storage.base import DATABASE_MARKER, FileStorage, TempFile, remove_temp


class Kind(StrEnum):
    ORPHAN_BYTES = "orphan_bytes"
    FOREIGN_BYTES = "foreign_bytes"
    ORPHAN_RECORD = "orphan_record"
    MISSING_BYTES = "missing_bytes"
    STALE_TEMP_FILE = "stale_temp_file"
    TEMP_FILE = "temp_file"


class Finding(BaseModel):
    """One leftover: `location` is a storage key, or a path for temp files."""

    kind: Kind
    location: str
    detail: str
    project_id: str | None = None
    file_id: str | None = None
    fixed: bool = False

    @property
    def is_problem(self) -> bool:
        """Unfixed and not a young temp file (which is probably an upload in progress)."""
        return self.kind is not Kind.TEMP_FILE and not self.fixed


class DoctorReport(BaseModel):
    findings: list[Finding] = []
    keys_checked: int = 0
    records_checked: int = 0
    storage_note: str | None = None
    """Why bytes without a record were not judged orphans: whose the storage is."""

    @property
    def problems(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.is_problem]

    @property
    def clean(self) -> bool:
        return not self.problems


WRITER_STATES = {True: "still runs", False: "is gone", None: "cannot be told"}


def _temp_detail(temp: TempFile, now: float) -> str:
    """What a temp file is: a through-API upload's file being written, or the parts of a
    direct upload, kept while its ticket lives."""
    if temp.upload_expires is None:
        writer = WRITER_STATES[temp.writer_running]
        return f"upload temp file, {temp.age:.0f} s old; its writer {writer}"
    left = temp.upload_expires - now
    ticket = f"expires in {left:.0f} s" if left > 0 else f"expired {-left:.0f} s ago"
    return f"parts of a direct upload never completed, {temp.age:.0f} s old; its ticket {ticket}"


def _temp_findings(storage: FileStorage, max_age_seconds: float) -> list[Finding]:
    now = time.time()
    return [
        Finding(
            kind=Kind.STALE_TEMP_FILE if temp.is_leftover(max_age_seconds) else Kind.TEMP_FILE,
            location=str(temp.path),
            detail=_temp_detail(temp, now),
        )
        for temp in storage.temp_files()
    ]


def _foreign_note(backends: Backends, count: int) -> str:
    """Whose files the `count` keys without a record may be, in a storage not this one's."""
    others = sorted(backends.file_storage.database_ids() - {backends.database_id})
    files = f"{count} file{'' if count == 1 else 's'}"
    if others:
        return (
            f"This storage holds {files} of another database: it is also bound to "
            f"{', '.join(others)} (this database is {backends.database_id}); they are kept."
        )
    return (
        f"This storage holds {files} of an unknown database: it is bound to none (filled "
        "before storages recorded their database); they are kept. If no other database keeps "
        "files there, `hangar doctor --claim` binds it to this one."
    )


def examine(backends: Backends, *, temp_file_max_age: float) -> DoctorReport:
    """Compare storage with the metadata, both ways, and list what disagrees."""
    storage, files, projects = backends.file_storage, backends.file_repo, backends.project_repo
    report = DoctorReport(findings=_temp_findings(storage, temp_file_max_age))
    owned = backends.owns_storage()
    keys = set(storage.list_keys())
    report.keys_checked = len(keys)

    @cache
    def project_exists(project_id: str) -> bool:
        return projects.get_project(project_id) is not None

    gone_projects: set[str] = set()
    unrecorded = []
    for key in sorted(keys):
        project_id, _, file_id = key.partition("/")
        if "/" in file_id or files.get_file(project_id, file_id) is None:
            unrecorded.append(key)
        elif not project_exists(project_id):
            gone_projects.add(project_id)
    if unrecorded and not owned:
        report.storage_note = _foreign_note(backends, len(unrecorded))
    for key in unrecorded:
        report.findings.append(
            Finding(kind=Kind.ORPHAN_BYTES, location=key, detail="bytes without a record")
            if owned
            else Finding(
                kind=Kind.FOREIGN_BYTES,
                location=key,
                detail="bytes without a record here, maybe another database's: kept",
            )
        )
    for project_id in sorted(gone_projects):
        for record in every(partial(files.list_files, project_id)):
            report.records_checked += 1
            report.findings.append(
                Finding(
                    kind=Kind.ORPHAN_RECORD,
                    location=record.storage_key,
                    detail="file record of a deleted project",
                    project_id=project_id,
                    file_id=record.id,
                )
            )
    for user in every(backends.user_repo.list_users):
        for project in every(partial(projects.get_projects_by_user, user.id)):
            for record in every(partial(files.list_files, project.id)):
                report.records_checked += 1
                # Keys were listed first: a file uploaded since is confirmed, not flagged.
                if record.storage_key not in keys and not storage.exists(record.storage_key):
                    report.findings.append(
                        Finding(
                            kind=Kind.MISSING_BYTES,
                            location=record.storage_key,
                            detail=f"listed file {record.filename!r} has no bytes",
                            project_id=project.id,
                            file_id=record.id,
                        )
                    )
    return report


def repair(backends: Backends, report: DoctorReport) -> DoctorReport:
    """Fix every problem of the report (records before bytes, as the services do) and return
    the report with those findings marked fixed. Bytes are deleted only while the storage is
    this database's alone (checked again here, not taken from the report): foreign bytes are
    never fixed, and a record deleted from a shared storage leaves its bytes."""
    owned = backends.owns_storage()
    fixed = [
        finding.model_copy(update={"fixed": True})
        if finding.is_problem and _fix(backends, finding, owned=owned)
        else finding
        for finding in report.findings
    ]
    return report.model_copy(update={"findings": fixed})


def _fix(backends: Backends, finding: Finding, *, owned: bool) -> bool:
    """Repair one problem; False when it must stay (bytes that may be another database's)."""
    if finding.kind is Kind.STALE_TEMP_FILE:
        remove_temp(Path(finding.location))
    elif finding.kind is Kind.FOREIGN_BYTES or (finding.kind is Kind.ORPHAN_BYTES and not owned):
        return False
    elif finding.kind is Kind.ORPHAN_BYTES:
        backends.file_storage.delete_file(finding.location)
    else:  # a record of a deleted project, or one whose bytes are gone
        assert finding.project_id is not None and finding.file_id is not None
        backends.file_repo.delete_file(finding.project_id, finding.file_id)
        if owned:
            backends.file_storage.delete_file(finding.location)
    return True


def claim_storage(backends: Backends) -> None:
    """Bind the storage to this database alone, so that `repair` deletes the bytes it has no
    record of: for a storage filled before storages recorded their database, which you know
    no other database uses. Refused (ValueError) while another database is bound to it."""
    others = sorted(backends.file_storage.database_ids() - {backends.database_id})
    if others:
        raise ValueError(
            f"the storage is also bound to database {', '.join(others)}; if that database is "
            f"gone, remove its marker ({DATABASE_MARKER}<id>) from the storage first"
        )
    backends.file_storage.bind_database(backends.database_id)


def doctor(backends: Backends, *, fix: bool, temp_file_max_age: float) -> DoctorReport:
    """Examine, and repair when asked."""
    report = examine(backends, temp_file_max_age=temp_file_max_age)
    return repair(backends, report) if fix else report
