"""Copy, compare and prune users, projects and files between two `Backends`.

One walk serves the three modes, so a dry run and a verification judge every item exactly as
a copy would: users first, then projects, then files (bytes before metadata, as uploads do), so
a run killed at any point leaves nothing a rerun cannot finish. An item already in the target
and equal is skipped; that makes reruns copy nothing. Pruning walks the target in the reverse
order (files, projects, users, then stray bytes) and removes what the source no longer has.
A user left out of the target by a conflict takes its projects and files with it (skipped,
counted per user): copied, they would belong to an id the target does not have.
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

from app.backends import Backends
from app.errors import BlobNotFound, EmailAlreadyRegistered
from app.models import FileRecord, Project, User
from app.repositories.base import PROJECT_FIELDS, USER_FIELDS, every
from app.routers.auth.interface import normalise_email
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
    SKIP = "skip"
    """Not judged: a project or file whose owner is in conflict (absent from the target)."""


NEEDS_PRUNE = {Outcome.UPDATE, Outcome.DELETE}
MUTABLE = {
    Kind.USER: USER_FIELDS,
    Kind.PROJECT: PROJECT_FIELDS | {"version"},
    Kind.FILE: frozenset(),
}
"""Fields an update may change (`replace_user`, `replace_project`: a copy keeps the project's
version); a difference elsewhere is a conflict for a person to settle."""


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
    skipped: dict[str, Counter[Kind]] = field(default_factory=dict)
    """Per user left out of the target by a conflict, its projects and files left out too:
    copied, they would belong to an id the target does not have."""


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
        self.left_out: dict[str, str] = {}
        """The owner id of every source project skipped with its owner."""

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
            or (self.mode is Mode.VERIFY and event.outcome not in {Outcome.SAME, Outcome.SKIP})
        )
        event = replace(event, problem=problem)
        self.report.counts[event.kind][event.outcome] += 1
        if problem:
            self.report.problems.append(event)
        self.on_event(event)

    def _apply(
        self, kind: Kind, item_id: str, outcome: Outcome, detail: str, write: Callable[[], object]
    ) -> bool:
        """Write (in copy mode) what reconciles one item, and report it; False when it is left
        as is or the target refused it."""
        if outcome in NEEDS_PRUNE and not self.prune:
            self._emit(Event(kind, item_id, outcome, f"{detail} (--prune fixes it)", True))
            return False
        if self.mode is Mode.COPY:
            try:
                write()
            except (BlobNotFound, EmailAlreadyRegistered) as error:
                self._emit(Event(kind, item_id, Outcome.CONFLICT, f"{detail}: {error.detail}"))
                return False
        self.report.changes += 1
        self._emit(Event(kind, item_id, outcome, detail))
        return True

    def _skip(self, kind: Kind, item_id: str, owner_id: str) -> None:
        self.report.skipped[owner_id][kind] += 1
        self._emit(
            Event(kind, item_id, Outcome.SKIP, f"its owner, user {owner_id}, is in conflict")
        )

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
        # Copied under the spelling a login looks up, whatever spelling the source holds.
        email = normalise_email(user.email)
        if email != user.email:
            user = user.model_copy(update={"email": email})
        repo = self.target.user_repo
        found = repo.get_user(user.id)
        if found is not None:
            if self._compare(Kind.USER, user.id, user, found, partial(repo.replace_user, user)):
                self._same(Kind.USER, user.id)
            return
        holder = repo.get_user_by_email(user.email)
        if holder is None:
            add = partial(repo.add_user, user)
            copied = self._apply(Kind.USER, user.id, Outcome.COPY, "absent from the target", add)
        else:
            detail = f"email {user.email} belongs to user {holder.id} in the target"
            self._emit(Event(Kind.USER, user.id, Outcome.CONFLICT, detail))
            copied = False
        if not copied:  # its projects and files would belong to an id the target lacks
            self.report.skipped[user.id] = Counter()

    def _project(self, project: Project) -> None:
        if project.owner_id in self.report.skipped:
            self.left_out[project.id] = project.owner_id
            self._skip(Kind.PROJECT, project.id, project.owner_id)
            return
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
            Kind.PROJECT, project.id, project, found, partial(repo.replace_project, project)
        ):
            self._same(Kind.PROJECT, project.id)

    def _copy_bytes(self, record: FileRecord) -> None:
        chunks = self.source.file_storage.download_file(record.storage_key)
        self.target.file_storage.upload_file(record.storage_key, ChunkReader(chunks))

    def _copy_file(self, record: FileRecord) -> None:
        self._copy_bytes(record)
        self.target.file_repo.add_file(record)

    def _file(self, record: FileRecord) -> None:
        owner_id = self.left_out.get(record.project_id)
        if owner_id is not None:
            self._skip(Kind.FILE, record.id, owner_id)
            return
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
        # Bytes go only from a storage bound to these two databases alone (a mirror's storage
        # is bound to both): in one shared with a third, or bound to none, bytes absent from
        # the source may be another database's files.
        owned = target.owns_storage(source.database_id)
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
                    partial(self._delete_file, record, with_bytes=owned),
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
            if source.file_storage.exists(key):
                continue
            if not owned:
                detail = (
                    "bytes absent from the source, kept: the target storage is also bound "
                    "to another database, or to none"
                )
                self._emit(Event(Kind.FILE, key, Outcome.CONFLICT, detail))
                continue
            self._apply(
                Kind.FILE,
                key,
                Outcome.DELETE,
                "bytes absent from the source",
                partial(target.file_storage.delete_file, key),
            )

    def _delete_file(self, record: FileRecord, *, with_bytes: bool) -> None:
        self.target.file_repo.delete_file(record.project_id, record.id)
        if with_bytes:
            self.target.file_storage.delete_file(record.storage_key)
