"""Settings: one pydantic-settings class, read from the environment and `.env.$APP_ENV`."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.core.logging import LogFormat

DEV_SECRET_KEY = "dev-only-secret-key-change-me-in-production"  # noqa: S105 (refused in prod)
MIN_PROD_SECRET_BYTES = 32
SEVEN_DAYS = 7 * 24 * 3600

AppEnv = Literal["local", "test", "dev", "staging", "prod"]
THROWAWAY_ENVS: frozenset[str] = frozenset({"local", "test"})
"""Profiles whose data and tokens nobody else relies on: only they may sign with the public
development key. Any other profile is reachable by others, so a guessable key there lets
anyone mint tokens and links."""
DatabaseType = Literal["duckdb", "sqlite", "memory", "dynamodb"]
StorageType = Literal["local", "memory", "s3"]
MailType = Literal["console", "memory", "smtp", "ses"]
SmtpSecurity = Literal["starttls", "tls", "none"]


class Settings(BaseSettings):
    """Every knob of the service; defaults give the embedded stack (DuckDB + local files)."""

    model_config = SettingsConfigDict(extra="ignore", env_file_encoding="utf-8")

    APP_ENV: AppEnv = Field(
        "local",
        description="Profile; picks the env file `.env.$APP_ENV`. All but `local` and `test` "
        "refuse a default or short SECRET_KEY.",
    )
    DATABASE_TYPE: DatabaseType = "duckdb"
    STORAGE_TYPE: StorageType = "local"

    DUCKDB_PATH: Path = Path("./data/app.db")
    DUCKDB_CACHE: bool = Field(
        True,
        description="Serve the reads of recently active users from this process's memory "
        "(writes go to the file first, then to the copy). While on, writes by raw SQL from "
        "another connection are not seen.",
    )
    DUCKDB_CACHE_MB: int = Field(
        64,
        ge=1,
        description="Memory the DuckDB cache may hold: the users read least recently are "
        "let go of beyond it, a user with more rows than a quarter of it is read from the "
        "file, and a sixteenth of it keeps pages read from the file for deep cursors.",
    )
    DUCKDB_MEMORY_LIMIT_MB: int | None = Field(
        None,
        ge=16,
        description="DuckDB's own `memory_limit` (blocks of the file it keeps, query state), "
        "on top of DUCKDB_CACHE_MB; unset: DuckDB's default, 80% of RAM. Its primary-key "
        "indexes must fit: about 55 bytes per row.",
    )
    SQLITE_PATH: Path = Path("./data/app.sqlite3")
    LOCAL_STORAGE_PATH: Path = Path("./uploads")

    AWS_REGION: str = "us-east-1"
    AWS_ENDPOINT_URL: str | None = Field(
        None, description="One endpoint for every AWS service (LocalStack, moto); boto3's own."
    )
    DYNAMODB_ENDPOINT_URL: str | None = Field(None, description="Overrides AWS_ENDPOINT_URL.")
    S3_ENDPOINT_URL: str | None = Field(None, description="Overrides AWS_ENDPOINT_URL.")
    S3_BUCKET: str = "hangar-files"
    DYNAMODB_TABLE_PREFIX: str = Field(
        "hangar-", description="Prepended to every table name, so environments share an account."
    )
    USERS_TABLE: str = "users"
    PROJECTS_TABLE: str = "projects"
    FILES_TABLE: str = "files"
    AWS_AUTO_CREATE: bool = Field(
        False, description="Create missing tables and bucket at start-up instead of failing."
    )
    AWS_CONNECT_TIMEOUT_SECONDS: float = Field(
        2.0, gt=0, description="How long an AWS call waits to connect, per attempt."
    )
    AWS_READ_TIMEOUT_SECONDS: float = Field(
        5.0, gt=0, description="How long an AWS call waits for each read of the answer."
    )
    AWS_MAX_ATTEMPTS: int = Field(
        3,
        ge=1,
        description="Tries of an AWS call, the first included: an endpoint that never answers "
        "costs a request about this times AWS_READ_TIMEOUT_SECONDS.",
    )
    HEALTH_TIMEOUT_SECONDS: float = Field(
        3.0, gt=0, description="/health answers within this, naming the parts that did not."
    )

    SECRET_KEY: SecretStr = SecretStr(DEV_SECRET_KEY)
    ACCESS_TOKEN_EXPIRE_MINUTES: int = Field(15, ge=1, le=24 * 60)
    REFRESH_TOKEN_EXPIRE_DAYS: int = Field(30, ge=1, le=365)
    LOGIN_MAX_FAILURES_PER_ACCOUNT: int = Field(5, ge=1)
    LOGIN_MAX_FAILURES_PER_ADDRESS: int = Field(50, ge=1)
    LOGIN_FAILURE_WINDOW_SECONDS: int = Field(900, ge=1)
    ARGON2_MEMORY_KIB: int = Field(19_456, ge=19_456, description="OWASP minimum is 19 MiB.")
    ARGON2_TIME_COST: int = Field(2, ge=2)
    ARGON2_PARALLELISM: int = Field(1, ge=1)

    MAX_UPLOAD_BYTES: int = Field(100 * 1024 * 1024, ge=1)
    UPLOAD_PART_BYTES: int = Field(
        64 * 1024 * 1024,
        ge=5 * 1024 * 1024,
        description="Direct uploads larger than this are sent in parts of this size (more, "
        "when 10,000 parts would not hold the file); S3 takes no smaller part but the last.",
    )
    UPLOAD_TICKET_SECONDS: int = Field(
        3600,
        ge=60,
        le=SEVEN_DAYS,
        description="How long a direct upload's ticket and part URLs stay valid; its parts are "
        "kept until then (local storage), or until the bucket's lifecycle rule removes them.",
    )
    BODY_READ_TIMEOUT_SECONDS: float = Field(
        30.0,
        gt=0,
        description="How long the server waits for each next piece of a request body (the "
        "gap, not the whole body) before answering 408 and closing the connection.",
    )
    FORWARDED_ALLOW_IPS: str = Field(
        "",
        description="Comma-separated proxy addresses (or `*`) whose X-Forwarded-For and "
        "X-Forwarded-Proto `hangar serve` believes; empty: none, the client address is the "
        "socket's.",
    )
    CORS_ORIGINS: Annotated[list[str], NoDecode] = []
    PUBLIC_BASE_URL: str = "http://127.0.0.1:8000"

    LOG_FORMAT: LogFormat = Field("text", description="`json`: one JSON object per line.")
    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    SHUTDOWN_TIMEOUT_SECONDS: int = Field(
        30, ge=0, description="On SIGTERM, how long in-flight requests may take to finish."
    )
    TEMP_FILE_MAX_AGE_SECONDS: float = Field(
        3600.0,
        ge=0,
        description="Upload temp files of a writer process that is gone are removed at "
        "start-up whatever their age, those of one still running are kept; one whose writer "
        "cannot be told (another host) is a crash leftover once older than this.",
    )

    PURGE_INTERVAL_SECONDS: float = Field(
        3600.0,
        gt=0,
        description="How often a running app forgets expired sessions and refresh tokens and "
        "lapsed login-failure windows (DynamoDB's TTL does it there).",
    )

    MAIL_TYPE: MailType = Field(
        "console",
        description="Where mail goes: `console` prints it (only under APP_ENV local or test "
        "with its links; elsewhere their bodies are withheld), `memory` keeps it for tests "
        "and notebooks, `smtp` or `ses` deliver it.",
    )
    MAIL_FROM: str = Field(
        "Hangar <hangar@localhost>", description="The sender of every mail (for SES, verified)."
    )
    SMTP_HOST: str = "localhost"
    SMTP_PORT: int = Field(587, ge=1, le=65535)
    SMTP_SECURITY: SmtpSecurity = Field(
        "starttls",
        description="`starttls` upgrades the connection (port 587), `tls` starts encrypted "
        "(port 465), `none` sends in the clear (a local relay only).",
    )
    SMTP_USERNAME: str | None = Field(None, description="Log in with these when set.")
    SMTP_PASSWORD: SecretStr | None = None
    SMTP_TIMEOUT_SECONDS: float = Field(10.0, gt=0)
    SES_ENDPOINT_URL: str | None = Field(None, description="Overrides AWS_ENDPOINT_URL.")
    FRONTEND_URL: str | None = Field(
        None,
        description="Where the links in mails point (`/verify-email?token=`, "
        "`/reset-password?token=` under it); PUBLIC_BASE_URL when unset.",
    )
    REQUIRE_VERIFIED_LOGIN: bool = Field(
        False,
        description="Refuse logins (403) of users who have not verified their address; a new "
        "link is mailed on each refused login.",
    )
    VERIFY_TOKEN_EXPIRE_HOURS: int = Field(48, ge=1, le=30 * 24)
    RESET_TOKEN_EXPIRE_MINUTES: int = Field(30, ge=1, le=24 * 60)
    MAIL_MAX_PER_ACCOUNT: int = Field(
        3,
        ge=1,
        description="Reset (and verification) mails one address may be sent per "
        "LOGIN_FAILURE_WINDOW_SECONDS.",
    )
    MAIL_MAX_PER_ADDRESS: int = Field(
        20, ge=1, description="Reset requests one client address may make per window."
    )

    @field_validator("FRONTEND_URL")
    @classmethod
    def _frontend_without_slash(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("FRONTEND_URL must start with http:// or https://")
        return None if value is None else value.rstrip("/")

    @field_validator("CORS_ORIGINS", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        """Accept `a,b` as well as a JSON list, since env files are edited by hand."""
        if isinstance(value, str):
            value = value.strip()
            if value.startswith("["):
                import json

                return json.loads(value)
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("PUBLIC_BASE_URL")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("PUBLIC_BASE_URL must start with http:// or https://")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _refuse_weak_secret_outside_development(self) -> Settings:
        """A guessable signing key on a server others reach lets anyone mint tokens and links."""
        if self.APP_ENV in THROWAWAY_ENVS:
            return self
        secret = self.SECRET_KEY.get_secret_value()
        if secret == DEV_SECRET_KEY or len(secret.encode()) < MIN_PROD_SECRET_BYTES:
            raise ValueError(
                f"SECRET_KEY must be set to a random value of at least {MIN_PROD_SECRET_BYTES} "
                f"bytes when APP_ENV={self.APP_ENV} (only local and test may use the "
                "development key; try: python -c 'import secrets; "
                "print(secrets.token_urlsafe(48))')"
            )
        return self

    DATABASE_MIRROR_TYPE: DatabaseType | None = Field(
        None,
        description="Mirror mode: every write also goes to this database (after the primary); "
        "reads stay on the primary. Uses that type's own path/endpoint settings.",
    )
    STORAGE_MIRROR_TYPE: StorageType | None = Field(
        None, description="Mirror mode for file bytes, like DATABASE_MIRROR_TYPE."
    )
    MIRROR_JOURNAL_PATH: Path = Field(
        Path("./data/mirror-journal.jsonl"),
        description="JSON lines of mirror writes that failed, for `hangar migrate` to repair.",
    )

    @model_validator(mode="after")
    def _refuse_mirror_of_itself(self) -> Settings:
        """A mirror of the same type would share the primary's path or tables."""
        if self.DATABASE_MIRROR_TYPE == self.DATABASE_TYPE:
            raise ValueError("DATABASE_MIRROR_TYPE must differ from DATABASE_TYPE")
        if self.STORAGE_MIRROR_TYPE == self.STORAGE_TYPE:
            raise ValueError("STORAGE_MIRROR_TYPE must differ from STORAGE_TYPE")
        return self


def load_settings(app_env: str | None = None, **overrides: Any) -> Settings:
    """Build settings for a profile: `.env.$APP_ENV` first, real environment variables over it."""
    env = app_env or os.environ.get("APP_ENV") or "local"
    # An unknown profile is refused by validation, without reading a file named after it.
    env_file = f".env.{env}" if env in get_args(AppEnv) else None
    return Settings(_env_file=env_file, APP_ENV=env, **overrides)


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
