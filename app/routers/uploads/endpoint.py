"""Direct upload routes: tickets, completion and abort under a project, and the target of the
part URLs that local and memory storage sign (S3 signs its own)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from starlette.concurrency import run_in_threadpool

from app.dependencies import Context, CurrentUser, FileRepo, ProjectRepo, Storage, call
from app.errors import HangarError
from app.models import FileRecord
from app.routers.common import UNAUTHORIZED, responses
from app.routers.files.interface import FileOut
from app.routers.files.streaming import BodyStream
from app.routers.uploads import services
from app.routers.uploads.interface import PartOut, UploadCreate, UploadOut
from app.storage.base import Readable
from app.storage.signing import SIGNED_DOWNLOAD_PATH

router = APIRouter(
    prefix="/projects/{project_id}/uploads", tags=["uploads"], responses=UNAUTHORIZED
)
parts_router = APIRouter(prefix=SIGNED_DOWNLOAD_PATH.removeprefix("/api/v1"), tags=["uploads"])
TICKET = responses(_403="Tampered or expired upload id", _404="No such project or upload")


def tickets(context: Context) -> services.UploadTickets:
    return services.UploadTickets(context.settings.SECRET_KEY.get_secret_value())


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=UploadOut,
    responses=responses(_404="No such project, or not yours", _413="Larger than MAX_UPLOAD_BYTES"),
)
async def start_upload(
    project_id: str,
    body: UploadCreate,
    owner: CurrentUser,
    projects: ProjectRepo,
    storage: Storage,
    context: Context,
) -> UploadOut:
    """Open a direct upload: PUT each part's bytes to its URL (no bearer token), then
    complete it. Nothing is listed until the upload is completed."""
    settings = context.settings
    upload_id, expires_at, parts = await call(
        services.start_upload,
        project_id,
        owner=owner,
        filename=body.filename,
        content_type=body.content_type,
        size=body.size,
        sha256=body.sha256,
        max_bytes=settings.MAX_UPLOAD_BYTES,
        part_bytes=settings.UPLOAD_PART_BYTES,
        expires_in=settings.UPLOAD_TICKET_SECONDS,
        tickets=tickets(context),
        project_repo=projects,
        storage=storage,
    )
    return UploadOut(
        upload_id=upload_id,
        expires_at=expires_at,
        parts=[PartOut(part_number=n, size=size, url=url) for n, size, url in parts],
    )


@router.post(
    "/{upload_id}/complete",
    status_code=status.HTTP_201_CREATED,
    response_model=FileOut,
    responses={
        **TICKET,
        **responses(_400="The parts or their hash are not as declared", _409="Completed"),
    },
)
async def complete_upload(
    project_id: str,
    upload_id: str,
    owner: CurrentUser,
    projects: ProjectRepo,
    files: FileRepo,
    storage: Storage,
    context: Context,
) -> FileRecord:
    """Check the uploaded object against its ticket and record the file."""
    return await run_in_threadpool(
        services.complete_upload,
        project_id,
        upload_id,
        owner=owner,
        tickets=tickets(context),
        project_repo=projects,
        file_repo=files,
        storage=storage,
    )


@router.delete("/{upload_id}", status_code=status.HTTP_204_NO_CONTENT, responses=TICKET)
async def abort_upload(
    project_id: str,
    upload_id: str,
    owner: CurrentUser,
    projects: ProjectRepo,
    storage: Storage,
    context: Context,
) -> Response:
    """Abort a direct upload: its parts are removed."""
    await call(
        services.abort_upload,
        project_id,
        upload_id,
        owner=owner,
        tickets=tickets(context),
        project_repo=projects,
        storage=storage,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


class PartSizeWrong(HangarError):
    status_code = 400


class ExactSize:
    """Reads a part's body, refusing one longer or shorter than its URL was signed for."""

    def __init__(self, stream: Readable, size: int) -> None:
        self._stream = stream
        self._left = size

    def read(self, size: int = -1, /) -> bytes:
        chunk = self._stream.read(size)
        self._left -= len(chunk)
        if self._left < 0 or (not chunk and self._left > 0):
            raise PartSizeWrong("The part is not of the size its URL was signed for")
        return chunk


@parts_router.put(
    "/{key:path}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(
        _400="Not the signed size", _403="Bad signature or expired link", _404="No such upload"
    ),
)
async def upload_part(
    key: str,
    upload_id: str,
    part_number: Annotated[int, Query(ge=1)],
    size: Annotated[int, Query(ge=0)],
    expires: int,
    signature: str,
    request: Request,
    context: Context,
    storage: Storage,
) -> Response:
    """Store one part of a direct upload for whoever holds its signed URL; the body goes from
    the socket to storage as it arrives."""
    context.signer.verify_part(key, upload_id, part_number, size, expires, signature)
    stream = ExactSize(BodyStream(request), size)
    await run_in_threadpool(storage.upload_part, key, upload_id, part_number, stream)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
