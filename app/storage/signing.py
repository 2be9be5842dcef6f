"""HMAC-signed download links for the storage backends that have no URL signing of their own."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

from app.errors import InvalidSignature
from app.storage.base import check_expiry

if TYPE_CHECKING:
    from app.core.config import Settings

SIGNED_DOWNLOAD_PATH = "/api/v1/storage"


class UrlSigner:
    """Signs (method, key, expiry, download name) so a link cannot be bent to another key,
    extended, or reused for another method."""

    def __init__(self, secret: str, base_url: str) -> None:
        self._key = hmac.new(secret.encode(), b"hangar-presigned-url", hashlib.sha256).digest()
        self._base = base_url.rstrip("/") + SIGNED_DOWNLOAD_PATH

    def _signature(self, method: str, key: str, expires: int, filename: str) -> str:
        message = f"{method}\n{key}\n{expires}\n{filename}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def sign(self, key: str, expires_in: int, filename: str | None = None) -> str:
        check_expiry(expires_in)
        expires = int(time.time()) + expires_in
        query = {"expires": str(expires)}
        if filename:
            query["filename"] = filename
        query["signature"] = self._signature("GET", key, expires, filename or "")
        return f"{self._base}/{quote(key)}?{urlencode(query)}"

    def sign_part(
        self, key: str, upload_id: str, part_number: int, size: int, expires_in: int
    ) -> str:
        """A link that takes one part of a direct upload by PUT: the upload, the part and its
        size are signed with the key, so it stores nothing else."""
        check_expiry(expires_in)
        expires = int(time.time()) + expires_in
        query = {
            "upload_id": upload_id,
            "part_number": str(part_number),
            "size": str(size),
            "expires": str(expires),
        }
        query["signature"] = self._signature(
            "PUT", key, expires, _part(upload_id, part_number, size)
        )
        return f"{self._base}/{quote(key)}?{urlencode(query)}"

    def verify_part(
        self, key: str, upload_id: str, part_number: int, size: int, expires: int, signature: str
    ) -> None:
        """Raise InvalidSignature unless the part link was signed for exactly this part."""
        self.verify("PUT", key, expires, signature, _part(upload_id, part_number, size))

    def verify(
        self, method: str, key: str, expires: int, signature: str, filename: str | None
    ) -> None:
        """Raise InvalidSignature unless the link was signed for exactly this request."""
        expected = self._signature(method, key, expires, filename or "")
        # Bytes: compare_digest refuses non-ASCII str, and a forged link may carry any text.
        if not hmac.compare_digest(expected.encode(), signature.encode()) or expires < time.time():
            raise InvalidSignature()


def _part(upload_id: str, part_number: int, size: int) -> str:
    """What a part link signs in the place of a download's file name (no name has newlines)."""
    return f"{upload_id}\n{part_number}\n{size}"


def url_signer(settings: Settings) -> UrlSigner:
    """The signer of links served by this deployment (local and memory storage)."""
    return UrlSigner(settings.SECRET_KEY.get_secret_value(), settings.PUBLIC_BASE_URL)
