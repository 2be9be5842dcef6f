"""The target of presigned links for storage backends that cannot sign URLs themselves."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from app.dependencies import Context, Storage
from app.routers.common import responses
from app.routers.downloads import BYTES, stream_download
from app.storage.signing import SIGNED_DOWNLOAD_PATH

router = APIRouter(prefix=SIGNED_DOWNLOAD_PATH.removeprefix("/api/v1"), tags=["files"])


@router.get(
    "/{key:path}",
    response_class=StreamingResponse,
    responses={**BYTES, **responses(_403="Bad signature or expired link")},
)
async def signed_download(
    key: str,
    expires: int,
    signature: str,
    context: Context,
    storage: Storage,
    filename: str | None = None,
) -> StreamingResponse:
    """Serve bytes to whoever holds a valid link; no bearer token needed."""
    context.signer.verify("GET", key, expires, signature, filename)
    chunks = await run_in_threadpool(storage.download_file, key)
    return stream_download(chunks, filename or key.rsplit("/", 1)[-1], "application/octet-stream")
