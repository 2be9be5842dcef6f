"""Direct uploads: the client sends a file's bytes to storage itself, in parts, with URLs
signed for each; the API only hands out the ticket and, on completion, checks the object and
records it. The ticket is the upload id: signed and self-describing (project, owner, key,
size, hash, expiry), so no table holds open uploads. Completion is once only: the storage
completes an upload into an empty key alone (`FileStorage.complete_upload`), and a key that
is recorded already is a 409."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from app.errors import HangarError, InvalidSignature, NotFound
from app.models import FileRecord, User, new_id, utc_now
from app.repositories.base import FileRepository, ProjectRepository
from app.routers.files.services import clean_content_type, clean_filename, record_stored
from app.routers.projects.services import get_owned_project
from app.storage.base import FileStorage, KeyTaken, UploadNotFound
from app.storage.hashing import HashBeside

MAX_PARTS = 10_000
"""S3's limit on the parts of one upload."""
MIB = 1024 * 1024


class UploadMismatch(HangarError):
    """The object is not what its ticket declared."""

    status_code = 400


class UploadTooLarge(HangarError):
    status_code = 413


@dataclass(frozen=True)
class Ticket:
    """What an upload id says, signed."""

    project_id: str
    owner_id: str
    file_id: str
    storage_upload_id: str
    filename: str
    content_type: str
    size: int
    sha256: str | None
    part_size: int
    expires: int

    @property
    def key(self) -> str:
        return f"{self.project_id}/{self.file_id}"

    def part_sizes(self) -> dict[int, int]:
        """Every part's size by number: all `part_size` but the last; one part at least."""
        count = max(1, math.ceil(self.size / self.part_size))
        sizes = dict.fromkeys(range(1, count), self.part_size)
        sizes[count] = self.size - self.part_size * (count - 1)
        return sizes


class UploadTickets:
    """Signs tickets into upload ids and reads them back, refusing any other."""

    def __init__(self, secret: str) -> None:
        self._key = hmac.new(secret.encode(), b"hangar-upload-ticket", hashlib.sha256).digest()

    def _signature(self, payload: str) -> str:
        return hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()

    def upload_id(self, ticket: Ticket) -> str:
        text = json.dumps(asdict(ticket), separators=(",", ":"))
        payload = base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")
        return f"{payload}.{self._signature(payload)}"

    def read(self, upload_id: str) -> Ticket:
        """The ticket of an upload id signed here and not expired; InvalidSignature else."""
        payload, _, signature = upload_id.partition(".")
        expected = self._signature(payload)
        if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
            raise InvalidSignature("Invalid or expired upload id")
        padded = payload + "=" * (-len(payload) % 4)
        ticket = Ticket(**json.loads(base64.urlsafe_b64decode(padded)))
        if ticket.expires < time.time():
            raise InvalidSignature("Invalid or expired upload id")
        return ticket


def part_size_for(size: int, part_bytes: int) -> int:
    """`part_bytes`, or more (whole MiB) when MAX_PARTS parts of it would not hold `size`."""
    return max(part_bytes, math.ceil(size / MAX_PARTS / MIB) * MIB)


def start_upload(
    project_id: str,
    *,
    owner: User,
    filename: str,
    content_type: str | None,
    size: int,
    sha256: str | None,
    max_bytes: int,
    part_bytes: int,
    expires_in: int,
    tickets: UploadTickets,
    project_repo: ProjectRepository,
    storage: FileStorage,
) -> tuple[str, datetime, list[tuple[int, int, str]]]:
    """Open a direct upload into one of the owner's projects: its upload id, expiry, and each
    part's number, size and URL."""
    get_owned_project(project_id, owner=owner, repo=project_repo)
    if size > max_bytes:
        raise UploadTooLarge(f"File is larger than the limit of {max_bytes} bytes")
    file_id = new_id()
    expires = int(time.time()) + expires_in
    key = f"{project_id}/{file_id}"
    part_size = part_size_for(size, part_bytes)
    ticket = Ticket(
        project_id=project_id,
        owner_id=owner.id,
        file_id=file_id,
        storage_upload_id=storage.start_upload(key, expires, part_size),
        filename=clean_filename(filename),
        content_type=clean_content_type(content_type),
        size=size,
        sha256=sha256,
        part_size=part_size,
        expires=expires,
    )
    parts = [
        (
            number,
            part,
            storage.presign_part(key, ticket.storage_upload_id, number, part, expires_in),
        )
        for number, part in ticket.part_sizes().items()
    ]
    return tickets.upload_id(ticket), datetime.fromtimestamp(expires, UTC), parts


def _owned_ticket(
    project_id: str,
    upload_id: str,
    *,
    owner: User,
    tickets: UploadTickets,
    project_repo: ProjectRepository,
) -> Ticket:
    """The ticket, if it is for this project of the owner's: another project's is NotFound."""
    ticket = tickets.read(upload_id)
    if ticket.project_id != project_id or ticket.owner_id != owner.id:
        raise NotFound("No such upload")
    get_owned_project(project_id, owner=owner, repo=project_repo)
    return ticket


def complete_upload(
    project_id: str,
    upload_id: str,
    *,
    owner: User,
    tickets: UploadTickets,
    project_repo: ProjectRepository,
    file_repo: FileRepository,
    storage: FileStorage,
) -> FileRecord:
    """Check the parts against the ticket, join them into the key (once: a second completion
    is a 409), take the sha256 of what was stored (from the storage, or read back), and only
    then record it; the record is added on the condition of the project still being the
    owner's, as a through-API upload is."""
    ticket = _owned_ticket(
        project_id, upload_id, owner=owner, tickets=tickets, project_repo=project_repo
    )
    if file_repo.get_file(project_id, ticket.file_id) is not None:
        raise KeyTaken()
    key = ticket.key
    try:
        stored = storage.list_parts(key, ticket.storage_upload_id)
    except UploadNotFound:
        raise (KeyTaken() if storage.exists(key) else UploadNotFound()) from None
    expected = ticket.part_sizes()
    if stored != expected:
        raise UploadMismatch(
            f"The parts sent ({_sizes(stored)}) are not those of the declared size "
            f"{ticket.size} ({_sizes(expected)}); send the missing or wrong parts again"
        )
    try:
        sha256 = storage.complete_upload(key, ticket.storage_upload_id, sorted(expected))
    except UploadNotFound:  # a concurrent completion took it
        raise (KeyTaken() if storage.exists(key) else UploadNotFound()) from None
    try:
        if sha256 is None:
            digest = HashBeside()
            for chunk in storage.download_file(key):
                digest.update(chunk)
            sha256 = digest.hexdigest()
        if ticket.sha256 is not None and sha256 != ticket.sha256:
            raise UploadMismatch(f"The file's sha256 is {sha256}, not the declared one")
    except BaseException:
        storage.delete_file(key)
        raise
    record = FileRecord(
        id=ticket.file_id,
        project_id=project_id,
        owner_id=owner.id,
        filename=ticket.filename,
        content_type=ticket.content_type,
        size=ticket.size,
        sha256=sha256,
        storage_key=key,
        created_at=utc_now(),
    )
    return record_stored(record, file_repo=file_repo, storage=storage)


def abort_upload(
    project_id: str,
    upload_id: str,
    *,
    owner: User,
    tickets: UploadTickets,
    project_repo: ProjectRepository,
    storage: FileStorage,
) -> None:
    """Close the upload and remove its parts; a completed file stays."""
    ticket = _owned_ticket(
        project_id, upload_id, owner=owner, tickets=tickets, project_repo=project_repo
    )
    storage.abort_upload(ticket.key, ticket.storage_upload_id)


def _sizes(parts: dict[int, int]) -> str:
    return ", ".join(f"#{number}: {size}" for number, size in sorted(parts.items())) or "none"
