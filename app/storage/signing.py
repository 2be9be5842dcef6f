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

    def verify(
        self, method: str, key: str, expires: int, signature: str, filename: str | None
    ) -> None:
        """Raise InvalidSignature unless the link was signed for exactly this request."""
        expected = self._signature(method, key, expires, filename or "")
        # Bytes: compare_digest refuses non-ASCII str, and a forged link may carry any text.
        if not hmac.compare_digest(expected.encode(), signature.encode()) or expires < time.time():
            raise InvalidSignature()


def url_signer(settings: Settings) -> UrlSigner:
    """The signer of links served by this deployment (local and memory storage)."""
    return UrlSigner(settings.SECRET_KEY.get_secret_value(), settings.PUBLIC_BASE_URL)
