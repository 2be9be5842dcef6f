"""File routes: translate HTTP to the file services and back."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, Request, Response, UploadFile, status
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from app.dependencies import AuthenticatedRoute, Caller
from app.models import FileRecord
from app.routers.common import (
    PAGE_QUERY_DOCS,
    PageOut,
    Paging,
    item_response,
    responses,
)
from app.routers.downloads import stream_download
from app.routers.files import services
from app.routers.files.interface import FileOut, PresignedUrlOut
from app.storage.base import MAX_PRESIGN_SECONDS

router = APIRouter(
    prefix="/projects/{project_id}/files", tags=["files"], route_class=AuthenticatedRoute
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
    file: Annotated[UploadFile, File(description="The file's bytes.")],
    request: Request,
) -> FileRecord:
    """Upload a file into a project; the body is streamed to storage in chunks."""
    caller = Caller.of(request)
    backends = caller.backends
    return await run_in_threadpool(
        services.upload_file,
        project_id,
        file.file,
        owner=caller.user,
        filename=file.filename,
        content_type=file.content_type,
        max_bytes=caller.context.settings.MAX_UPLOAD_BYTES,
        project_repo=backends.project_repo,
        file_repo=backends.file_repo,
        storage=backends.file_storage,
    )


@router.get(
    "",
    response_model=PageOut[FileOut],
    responses=responses(_400="Bad cursor", _404="No such project, or not yours"),
    openapi_extra=PAGE_QUERY_DOCS,
)
async def list_files(project_id: str, request: Request) -> Response:
    """A project's files, newest first, a page at a time."""
    caller = Caller.of(request)
    paging = Paging.of(request, caller.context.cursors, f"files:{project_id}")
    backends = caller.backends
    page = await backends.call(
        services.list_files,
        project_id,
        owner=caller.user,
        project_repo=backends.project_repo,
        file_repo=backends.file_repo,
        limit=paging.limit,
        after=paging.after,
    )
    return paging.response(page, FileOut)


async def _owned_file(project_id: str, file_id: str, caller: Caller) -> FileRecord:
    backends = caller.backends
    return await backends.call(
        services.get_file,
        project_id,
        file_id,
        owner=caller.user,
        project_repo=backends.project_repo,
        file_repo=backends.file_repo,
    )


@router.get("/{file_id}", response_model=FileOut, responses=NOT_FOUND)
async def get_file(project_id: str, file_id: str, request: Request) -> Response:
    """One file's metadata."""
    return item_response(await _owned_file(project_id, file_id, Caller.of(request)), FileOut)


@router.get("/{file_id}/content", response_class=StreamingResponse, responses=NOT_FOUND)
async def download_file(project_id: str, file_id: str, request: Request) -> StreamingResponse:
    """The file's bytes, as an attachment."""
    caller = Caller.of(request)
    record = await _owned_file(project_id, file_id, caller)
    storage = caller.backends.file_storage
    chunks = await run_in_threadpool(services.open_file, record, storage=storage)
    return stream_download(chunks, record.filename, record.content_type, record.size)


@router.get("/{file_id}/url", response_model=PresignedUrlOut, responses=NOT_FOUND)
async def presign_file(
    project_id: str,
    file_id: str,
    request: Request,
    expires_in: Annotated[int, Query(ge=1, le=MAX_PRESIGN_SECONDS)] = 3600,
) -> PresignedUrlOut:
    """A link that downloads the file without a token until it expires (7 days at most)."""
    caller = Caller.of(request)
    record = await _owned_file(project_id, file_id, caller)
    backends = caller.backends
    url, expires_at = await backends.call(
        services.presign_file, record, storage=backends.file_storage, expires_in=expires_in
    )
    return PresignedUrlOut(url=url, expires_at=expires_at)


@router.delete("/{file_id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND)
async def delete_file(project_id: str, file_id: str, request: Request) -> Response:
    """Delete a file's metadata and bytes."""
    caller = Caller.of(request)
    backends = caller.backends
    await backends.call(
        services.delete_file,
        project_id,
        file_id,
        owner=caller.user,
        project_repo=backends.project_repo,
        file_repo=backends.file_repo,
        storage=backends.file_storage,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
