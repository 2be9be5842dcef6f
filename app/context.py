"""What one running app holds for its whole life: settings, backends, and the helpers built
from the secret key. Plain objects, usable from a notebook or a script without FastAPI."""

from __future__ import annotations

from dataclasses import dataclass

from app.backends import Backends, open_backends
from app.core.config import Settings
from app.core.pagination import CursorCodec
from app.core.security import AccessTokens, PasswordHasher
from app.routers.auth.throttle import LoginThrottle, MailThrottle
from app.storage.signing import UrlSigner, url_signer


@dataclass
class AppContext:
    """The app's state (`app.state.context`)."""

    settings: Settings
    backends: Backends
    hasher: PasswordHasher
    tokens: AccessTokens
    cursors: CursorCodec
    signer: UrlSigner
    throttle: LoginThrottle
    mail_throttle: MailThrottle

    @classmethod
    def from_settings(cls, settings: Settings, backends: Backends | None = None) -> AppContext:
        secret = settings.SECRET_KEY.get_secret_value()
        backends = backends or open_backends(settings)
        return cls(
            settings=settings,
            backends=backends,
            hasher=PasswordHasher(
                settings.ARGON2_MEMORY_KIB, settings.ARGON2_TIME_COST, settings.ARGON2_PARALLELISM
            ),
            tokens=AccessTokens(
                secret,
                settings.ACCESS_TOKEN_EXPIRE_MINUTES * 60,
                settings.REFRESH_TOKEN_EXPIRE_DAYS * 86400,
            ),
            cursors=CursorCodec(secret),
            signer=url_signer(settings),
            throttle=LoginThrottle(
                backends.attempt_repo,
                max_per_account=settings.LOGIN_MAX_FAILURES_PER_ACCOUNT,
                max_per_address=settings.LOGIN_MAX_FAILURES_PER_ADDRESS,
                window_seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS,
            ),
            mail_throttle=MailThrottle(
                backends.attempt_repo,
                max_per_account=settings.MAIL_MAX_PER_ACCOUNT,
                max_per_address=settings.MAIL_MAX_PER_ADDRESS,
                window_seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS,
            ),
        )
