"""File routes: translate HTTP to the file services and back."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, Response, UploadFile, status
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from app.dependencies import Context, CurrentUser, FileRepo, ProjectRepo, Storage, call
from app.models import FileRecord
from app.routers.common import UNAUTHORIZED, Paging, item_response, responses
from app.routers.downloads import BYTES, stream_download
from app.routers.files import services
from app.routers.files.interface import FileOut, PresignedUrlOut
from app.routers.files.streaming import StreamedUploadRoute
from app.routers.schemas import PageOut, PageQuery
from app.storage.base import MAX_PRESIGN_SECONDS

router = APIRouter(
    prefix="/projects/{project_id}/files",
    tags=["files"],
    responses=UNAUTHORIZED,
    route_class=StreamedUploadRoute,
)
NOT_FOUND = responses(_404="No such project or file, or not yours")


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=FileOut,
    responses=responses(_404="No such project, or not yours", _413="Larger than MAX_UPLOAD_BYTES"),
)
async def upload_file(
    project_id: str,
    file: Annotated[
        UploadFile, File(description="The file's bytes.", json_schema_extra={"format": "binary"})
    ],
    owner: CurrentUser,
    projects: ProjectRepo,
    files: FileRepo,
    storage: Storage,
    context: Context,
) -> FileRecord:
    """Upload a file into a project; its bytes go from the socket to storage as they arrive
    (`StreamedUploadRoute`), after the caller and the project are checked. A multipart body
    without a bearer token is refused before it is read (`BodySizeLimitMiddleware`)."""
    return await run_in_threadpool(
        services.upload_file,
        project_id,
        file.file,
        owner=owner,
        filename=file.filename,
        content_type=file.content_type,
        max_bytes=context.settings.MAX_UPLOAD_BYTES,
        project_repo=projects,
        file_repo=files,
        storage=storage,
    )


@router.get(
    "",
    response_model=PageOut[FileOut],
    responses=responses(_400="Bad cursor", _404="No such project, or not yours"),
)
async def list_files(
    project_id: str,
    query: Annotated[PageQuery, Query()],
    owner: CurrentUser,
    projects: ProjectRepo,
    files: FileRepo,
    context: Context,
) -> Response:
    """A project's files, newest first, a page at a time."""
    paging = Paging.of(query, context.cursors, f"files:{project_id}")
    page = await call(
        services.list_files,
        project_id,
        owner=owner,
        project_repo=projects,
        file_repo=files,
        limit=paging.limit,
        after=paging.after,
    )
    return paging.response(page, FileOut)


async def get_owned_file(
    project_id: str, file_id: str, owner: CurrentUser, projects: ProjectRepo, files: FileRepo
) -> FileRecord:
    """The file of the path, if it is in one of the caller's projects (404 otherwise)."""
    return await call(
        services.get_file, project_id, file_id, owner=owner, project_repo=projects, file_repo=files
    )


OwnedFile = Annotated[FileRecord, Depends(get_owned_file)]


@router.get("/{file_id}", response_model=FileOut, responses=NOT_FOUND)
async def get_file(record: OwnedFile) -> Response:
    """One file's metadata."""
    return item_response(record, FileOut)


@router.get(
    "/{file_id}/content", response_class=StreamingResponse, responses={**BYTES, **NOT_FOUND}
)
async def download_file(record: OwnedFile, storage: Storage) -> StreamingResponse:
    """The file's bytes, as an attachment."""
    chunks = await run_in_threadpool(services.open_file, record, storage=storage)
    return stream_download(chunks, record.filename, record.content_type, record.size)


@router.get("/{file_id}/url", response_model=PresignedUrlOut, responses=NOT_FOUND)
async def presign_file(
    record: OwnedFile,
    storage: Storage,
    expires_in: Annotated[int, Query(ge=1, le=MAX_PRESIGN_SECONDS)] = 3600,
) -> PresignedUrlOut:
    """A link that downloads the file without a token until it expires (7 days at most)."""
    url, expires_at = await call(
        services.presign_file, record, storage=storage, expires_in=expires_in
    )
    return PresignedUrlOut(url=url, expires_at=expires_at)


@router.delete("/{file_id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND)
async def delete_file(
    project_id: str,
    file_id: str,
    owner: CurrentUser,
    projects: ProjectRepo,
    files: FileRepo,
    storage: Storage,
) -> Response:
    """Delete a file's metadata and bytes."""
    await call(
        services.delete_file,
        project_id,
        file_id,
        owner=owner,
        project_repo=projects,
        file_repo=files,
        storage=storage,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
