"""Domain errors: services and backends raise these; only the HTTP layer maps them to statuses."""


class HangarError(Exception):
    """Base of every error a client may be told about."""

    status_code = 500

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    @property
    def headers(self) -> dict[str, str] | None:
        """Response headers the status calls for."""
        return None


class _Unauthorized(HangarError):
    status_code = 401

    @property
    def headers(self) -> dict[str, str] | None:
        return {"WWW-Authenticate": "Bearer"}


class NotFound(HangarError):
    status_code = 404


class EmailAlreadyRegistered(HangarError):
    status_code = 409

    def __init__(self, detail: str = "A user with this email already exists") -> None:
        super().__init__(detail)


class InvalidCredentials(_Unauthorized):
    def __init__(self, detail: str = "Incorrect email or password") -> None:
        super().__init__(detail)


class InvalidToken(_Unauthorized):
    def __init__(self, detail: str = "Could not validate credentials") -> None:
        super().__init__(detail)


class InvalidCursor(HangarError):
    status_code = 400

    def __init__(self, detail: str = "Invalid page cursor") -> None:
        super().__init__(detail)


class FileTooLarge(HangarError):
    status_code = 413


class InvalidSignature(HangarError):
    status_code = 403

    def __init__(self, detail: str = "Invalid or expired link") -> None:
        super().__init__(detail)


class BackendUnavailable(HangarError):
    """A database or storage backend could not be reached or is locked by another process."""

    status_code = 503


class StorageKeyRejected(HangarError):
    """A storage key that would escape the storage root; never built from client input."""

    status_code = 400


class BlobNotFound(HangarError):
    status_code = 404

    def __init__(self, detail: str = "File content not found") -> None:
        super().__init__(detail)


class PasswordMismatch(HangarError):
    """The current password, asked again before a sensitive change, was wrong."""

    status_code = 403

    def __init__(self, detail: str = "Incorrect password") -> None:
        super().__init__(detail)


class TooManyAttempts(HangarError):
    status_code = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many failed logins; try again in {retry_after} seconds")
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after)}
