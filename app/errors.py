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


class VersionMismatch(HangarError):
    """A conditional update named a version the project has moved on from; nothing was written."""

    status_code = 412

    def __init__(self, current_version: int) -> None:
        super().__init__(
            f"The project has changed since the version you read (it is now at version "
            f"{current_version}); read it again and reapply your change"
        )
        self.current_version = current_version


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


class DatabaseWriteFailed(HangarError):
    """The database could not write its file (disk full, a size limit, an I/O error): retrying
    does not help until an operator frees space, so 507 rather than a busy 503."""

    status_code = 507


class StorageFull(HangarError):
    """The file storage's disk has no room for the bytes: like DatabaseWriteFailed, 507 until
    an operator frees space."""

    status_code = 507


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

    def __init__(self, retry_after: int, what: str = "failed logins") -> None:
        super().__init__(f"Too many {what}; try again in {retry_after} seconds")
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after)}


class InvalidActionToken(HangarError):
    """A mailed token that is unknown, used, expired, altered, or whose password changed since
    it was sent: all alike, so a guess learns nothing."""

    status_code = 400

    def __init__(self, detail: str = "Invalid or expired link; ask for a new one") -> None:
        super().__init__(detail)


class AlreadyVerified(HangarError):
    status_code = 409

    def __init__(self, detail: str = "This email address is already verified") -> None:
        super().__init__(detail)


class EmailNotVerified(HangarError):
    """A login refused under REQUIRE_VERIFIED_LOGIN; raised after the password was checked, so
    it tells only the account's owner anything."""

    status_code = 403

    def __init__(self, user_id: str) -> None:
        super().__init__(
            "Verify your email address before logging in: a new link has been mailed to you"
        )
        self.user_id = user_id


class NotSuperuser(HangarError):
    status_code = 403

    def __init__(self, detail: str = "Administrators only") -> None:
        super().__init__(detail)


class SelfAdministration(HangarError):
    """An administrator acting on their own account through the admin routes, which would lock
    them out (deactivate, demote, delete): refused, as it is seldom meant."""

    status_code = 409
