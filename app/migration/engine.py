"""Copy, compare and prune users, projects and files between two `Backends`.

One walk serves the three modes, so a dry run and a verification judge every item exactly as
a copy would: users first, then projects, then files (bytes before metadata, as uploads do), so
a run killed at any point leaves nothing a rerun cannot finish. An item already in the target
and equal is skipped; that makes reruns copy nothing. Pruning walks the target in the reverse
order (files, projects, users, then stray bytes) and removes what the source no longer has.
Ids and timestamps are copied as they are, so links and page cursors keep working.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import partial

from pydantic import BaseModel

from app.dependencies import Backends
from app.errors import BlobNotFound, EmailAlreadyRegistered
from app.models import FileRecord, Project, User
from app.repositories.base import every
from app.storage.base import FileStorage
from app.storage.mirror import ChunkReader


class Kind(StrEnum):
    USER = "user"
    PROJECT = "project"
    FILE = "file"


class Mode(StrEnum):
    COPY = "copy"
    DRY_RUN = "dry-run"
    VERIFY = "verify"


class Outcome(StrEnum):
    SAME = "same"
    COPY = "copy"
    BYTES = "bytes"
    UPDATE = "update"
    DELETE = "delete"
    CONFLICT = "conflict"


NEEDS_PRUNE = {Outcome.UPDATE, Outcome.DELETE}
MUTABLE = {
    Kind.USER: {"password_hash", "full_name", "is_active"},
    Kind.PROJECT: {"name", "description", "updated_at"},
    Kind.FILE: set(),
}
"""Fields an update may change; a difference elsewhere is a conflict for a person to settle."""


@dataclass(frozen=True)
class Event:
    """What was (or would be) done to one item; `problem` when it leaves the sides unequal."""

    kind: Kind
    item_id: str
    outcome: Outcome
    detail: str
    problem: bool = False


@dataclass
class Report:
    mode: Mode
    counts: dict[Kind, Counter[Outcome]] = field(
        default_factory=lambda: {kind: Counter() for kind in Kind}
    )
    source_counts: Counter[Kind] = field(default_factory=Counter)
    target_counts: Counter[Kind] = field(default_factory=Counter)
    problems: list[Event] = field(default_factory=list)
    changes: int = 0
    """Items written (or, in a dry run or verification, that would be)."""


def differing_fields(source: BaseModel, target: BaseModel) -> list[str]:
    """The one equality check of copy, prune and verify: the fields whose values differ."""
    return [
        name for name in type(source).model_fields if getattr(source, name) != getattr(target, name)
    ]


def sha256_of(storage: FileStorage, key: str) -> str | None:
    """The hex digest of the bytes under `key`, streamed; None when there are none."""
    try:
        chunks = storage.download_file(key)
    except BlobNotFound:
        return None
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def projects_of(backends: Backends) -> Iterator[Project]:
    for user in every(backends.user_repo.list_users):
        yield from every(partial(backends.project_repo.get_projects_by_user, user.id))


def files_of(backends: Backends, project_ids: Iterable[str]) -> Iterator[FileRecord]:
    for project_id in project_ids:
        yield from every(partial(backends.file_repo.list_files, project_id))


class Migration:
    """One run from `source` to `target`; `on_event` sees every item (for progress)."""

    def __init__(
        self,
        source: Backends,
        target: Backends,
        *,
        mode: Mode = Mode.COPY,
        prune: bool = False,
        on_event: Callable[[Event], None] = lambda event: None,
        extra_project_ids: Iterable[str] = (),
    ) -> None:
        self.source = source
        self.target = target
        self.mode = mode
        self.prune = prune or mode is Mode.VERIFY
        self.on_event = on_event
        self.extra_project_ids = set(extra_project_ids)
        """Projects whose file records the target may still hold though the project is gone
        (a mirror's failed `delete_project_files`): pruning looks at them too."""
        self.report = Report(mode)

    def run(self) -> Report:
        for user in every(self.source.user_repo.list_users):
            self.report.source_counts[Kind.USER] += 1
            self._user(user)
        for project in projects_of(self.source):
            self.report.source_counts[Kind.PROJECT] += 1
            self._project(project)
        for record in files_of(self.source, (p.id for p in projects_of(self.source))):
            self.report.source_counts[Kind.FILE] += 1
            self._file(record)
        if self.prune:
            self._prune()
        return self.report

    def _emit(self, event: Event) -> None:
        problem = (
            event.problem
            or event.outcome is Outcome.CONFLICT
            or (self.mode is Mode.VERIFY and event.outcome is not Outcome.SAME)
        )
        event = replace(event, problem=problem)
        self.report.counts[event.kind][event.outcome] += 1
        if problem:
            self.report.problems.append(event)
        self.on_event(event)

    def _apply(
        self, kind: Kind, item_id: str, outcome: Outcome, detail: str, write: Callable[[], object]
    ) -> None:
        """Write (in copy mode) what reconciles one item, and report it."""
        if outcome in NEEDS_PRUNE and not self.prune:
            self._emit(Event(kind, item_id, outcome, f"{detail} (--prune fixes it)", True))
            return
        if self.mode is Mode.COPY:
            try:
                write()
            except (BlobNotFound, EmailAlreadyRegistered) as error:
                self._emit(Event(kind, item_id, Outcome.CONFLICT, f"{detail}: {error.detail}"))
                return
        self.report.changes += 1
        self._emit(Event(kind, item_id, outcome, detail))

    def _compare(
        self,
        kind: Kind,
        item_id: str,
        source: BaseModel,
        target: BaseModel,
        update: Callable[[], object],
    ) -> bool:
        """Judge an item present on both sides, updating it where allowed; True when equal
        (the caller reports that, as files have their bytes to check too)."""
        fields = differing_fields(source, target)
        fixed = sorted(set(fields) - MUTABLE[kind])
        if fixed:
            detail = f"differs in {', '.join(fixed)}, which never change"
            self._emit(Event(kind, item_id, Outcome.CONFLICT, detail))
        elif fields:
            self._apply(kind, item_id, Outcome.UPDATE, f"differs in {', '.join(fields)}", update)
        return not fields

    def _same(self, kind: Kind, item_id: str) -> None:
        self._emit(Event(kind, item_id, Outcome.SAME, ""))

    def _user(self, user: User) -> None:
        repo = self.target.user_repo
        found = repo.get_user(user.id)
        if found is not None:
            if self._compare(Kind.USER, user.id, user, found, partial(repo.update_user, user)):
                self._same(Kind.USER, user.id)
            return
        holder = repo.get_user_by_email(user.email)
        if holder is not None:
            detail = f"email {user.email} belongs to user {holder.id} in the target"
            self._emit(Event(Kind.USER, user.id, Outcome.CONFLICT, detail))
            return
        self._apply(
            Kind.USER, user.id, Outcome.COPY, "absent from the target", partial(repo.add_user, user)
        )

    def _project(self, project: Project) -> None:
        repo = self.target.project_repo
        found = repo.get_project(project.id)
        if found is None:
            self._apply(
                Kind.PROJECT,
                project.id,
                Outcome.COPY,
                "absent from the target",
                partial(repo.add_project, project),
            )
        elif self._compare(
            Kind.PROJECT, project.id, project, found, partial(repo.update_project, project)
        ):
            self._same(Kind.PROJECT, project.id)

    def _copy_bytes(self, record: FileRecord) -> None:
        chunks = self.source.file_storage.download_file(record.storage_key)
        self.target.file_storage.upload_file(record.storage_key, ChunkReader(chunks))

    def _copy_file(self, record: FileRecord) -> None:
        self._copy_bytes(record)
        self.target.file_repo.add_file(record)

    def _file(self, record: FileRecord) -> None:
        found = self.target.file_repo.get_file(record.project_id, record.id)
        if found is None:
            copy = partial(self._copy_file, record)
            self._apply(Kind.FILE, record.id, Outcome.COPY, "absent from the target", copy)
            return
        if not self._compare(Kind.FILE, record.id, record, found, lambda: None):
            return
        if self.mode is Mode.VERIFY:
            source_sha = sha256_of(self.source.file_storage, record.storage_key)
            if source_sha != record.sha256:
                state = "missing" if source_sha is None else "not those of the record's sha256"
                self._emit(Event(Kind.FILE, record.id, Outcome.CONFLICT, f"source bytes {state}"))
                return
        target_sha = sha256_of(self.target.file_storage, record.storage_key)
        if target_sha == record.sha256:
            self._same(Kind.FILE, record.id)
            return
        state = "missing" if target_sha is None else "different"
        copy = partial(self._copy_bytes, record)
        self._apply(Kind.FILE, record.id, Outcome.BYTES, f"bytes {state} in the target", copy)

    def _prune(self) -> None:
        """Remove from the target what the source does not have, children before parents."""
        source, target = self.source, self.target
        project_ids = [p.id for p in projects_of(target)]
        gone = sorted(self.extra_project_ids - set(project_ids))
        for record in files_of(target, [*project_ids, *gone]):
            self.report.target_counts[Kind.FILE] += 1
            if source.file_repo.get_file(record.project_id, record.id) is None:
                self._apply(
                    Kind.FILE,
                    record.id,
                    Outcome.DELETE,
                    "absent from the source",
                    partial(self._delete_file, record),
                )
        for project in projects_of(target):
            self.report.target_counts[Kind.PROJECT] += 1
            if source.project_repo.get_project(project.id) is None:
                delete = partial(target.project_repo.delete_project, project.id, project.owner_id)
                self._apply(
                    Kind.PROJECT, project.id, Outcome.DELETE, "absent from the source", delete
                )
        for user in every(target.user_repo.list_users):
            self.report.target_counts[Kind.USER] += 1
            if source.user_repo.get_user(user.id) is None:
                delete = partial(target.user_repo.delete_user, user.id)
                self._apply(Kind.USER, user.id, Outcome.DELETE, "absent from the source", delete)
        for key in target.file_storage.list_keys():
            if not source.file_storage.exists(key):
                self._apply(
                    Kind.FILE,
                    key,
                    Outcome.DELETE,
                    "bytes absent from the source",
                    partial(target.file_storage.delete_file, key),
                )

    def _delete_file(self, record: FileRecord) -> None:
        self.target.file_repo.delete_file(record.project_id, record.id)
        self.target.file_storage.delete_file(record.storage_key)
