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
- temp files of local storage: stale ones (older than the threshold) are crash leftovers,
  young ones may be uploads in progress and are only reported.

Plain functions over `Backends`, so a notebook can call them; the CLI prints the report.
Orphan bytes are judged against the records of the moment: run `--fix` while the service is
quiet (DuckDB must be stopped anyway), or an upload between its two writes looks orphaned.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cache, partial
from pathlib import Path

from pydantic import BaseModel

from app.dependencies import Backends
from app.repositories.base import every
from app.storage.base import FileStorage


class Kind(StrEnum):
    ORPHAN_BYTES = "orphan_bytes"
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

    @property
    def problems(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.is_problem]

    @property
    def clean(self) -> bool:
        return not self.problems


def _temp_findings(storage: FileStorage, max_age_seconds: float) -> list[Finding]:
    return [
        Finding(
            kind=Kind.STALE_TEMP_FILE if age >= max_age_seconds else Kind.TEMP_FILE,
            location=str(path),
            detail=f"upload temp file, {age:.0f} s old",
        )
        for path, age in storage.temp_files()
    ]


def examine(backends: Backends, *, temp_file_max_age: float) -> DoctorReport:
    """Compare storage with the metadata, both ways, and list what disagrees."""
    storage, files, projects = backends.file_storage, backends.file_repo, backends.project_repo
    report = DoctorReport(findings=_temp_findings(storage, temp_file_max_age))
    keys = set(storage.list_keys())
    report.keys_checked = len(keys)

    @cache
    def project_exists(project_id: str) -> bool:
        return projects.get_project(project_id) is not None

    gone_projects: set[str] = set()
    for key in sorted(keys):
        project_id, _, file_id = key.partition("/")
        if "/" in file_id or files.get_file(project_id, file_id) is None:
            report.findings.append(
                Finding(kind=Kind.ORPHAN_BYTES, location=key, detail="bytes without a record")
            )
        elif not project_exists(project_id):
            gone_projects.add(project_id)
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
    the report with those findings marked fixed."""
    storage, files = backends.file_storage, backends.file_repo
    fixed = []
    for finding in report.findings:
        if finding.is_problem:
            if finding.kind is Kind.STALE_TEMP_FILE:
                Path(finding.location).unlink(missing_ok=True)
            elif finding.kind is Kind.ORPHAN_BYTES:
                storage.delete_file(finding.location)
            else:  # a record of a deleted project, or one whose bytes are gone
                assert finding.project_id is not None and finding.file_id is not None
                files.delete_file(finding.project_id, finding.file_id)
                storage.delete_file(finding.location)
            finding = finding.model_copy(update={"fixed": True})
        fixed.append(finding)
    return report.model_copy(update={"findings": fixed})


def doctor(backends: Backends, *, fix: bool, temp_file_max_age: float) -> DoctorReport:
    """Examine, and repair when asked."""
    report = examine(backends, temp_file_max_age=temp_file_max_age)
    return repair(backends, report) if fix else report
