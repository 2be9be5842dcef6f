"""Services called as plain functions over the in-memory backends, as a notebook would."""

from __future__ import annotations

import contextlib
import io
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.core.config import load_settings
from app.core.headers import content_disposition
from app.core.pagination import CursorCodec
from app.core.security import AccessTokens, PasswordHasher
from app.errors import (
    BackendUnavailable,
    EmailAlreadyRegistered,
    FileTooLarge,
    InvalidCredentials,
    InvalidCursor,
    InvalidToken,
    NotFound,
    PasswordMismatch,
    TooManyAttempts,
)
from app.models import FileRecord, PageKey, User
from app.repositories.memory import (
    MemoryDatabase,
    MemoryFileRepository,
    MemoryLoginAttemptRepository,
    MemoryProjectRepository,
    MemorySessionRepository,
    MemoryUserRepository,
)
from app.routers.auth.interface import UserRegister
from app.routers.auth.services import (
    authenticate,
    change_password,
    delete_account,
    login,
    register_user,
)
from app.routers.auth.throttle import LoginThrottle
from app.routers.files import services as files
from app.routers.projects import services as projects
from app.routers.projects.interface import ProjectCreate, ProjectUpdate
from app.storage.memory import MemoryStorage
from app.storage.signing import UrlSigner

FAST = PasswordHasher()


@pytest.fixture
def db() -> MemoryDatabase:
    return MemoryDatabase()


@pytest.fixture
def users(db: MemoryDatabase) -> MemoryUserRepository:
    return MemoryUserRepository(db)


@pytest.fixture
def storage() -> MemoryStorage:
    return MemoryStorage(UrlSigner("secret", "http://testserver"))


@pytest.fixture
def owner(users: MemoryUserRepository) -> User:
    return register_user(
        UserRegister(email="ada@example.com", password="password1"), repo=users, hasher=FAST
    )


def test_the_seeds_register_user_example_works_with_just_a_repository(
    users: MemoryUserRepository,
) -> None:
    user = register_user(UserRegister(email=" Ada@Example.com", password="password1"), repo=users)
    assert user.email == "ada@example.com"
    assert user.password_hash.startswith("$argon2id$")
    assert "m=19456,t=2,p=1" in user.password_hash
    with pytest.raises(EmailAlreadyRegistered):
        register_user(UserRegister(email="ada@example.com", password="password2"), repo=users)


def test_login_issues_tokens_for_a_new_session(
    db: MemoryDatabase, users: MemoryUserRepository, owner: User
) -> None:
    tokens = AccessTokens("k" * 32, 60, 3600)
    sessions = MemorySessionRepository(db)
    pair = login(
        "ADA@example.com", "password1", repo=users, sessions=sessions, hasher=FAST, tokens=tokens
    )
    claims = tokens.claims(pair.access_token)
    assert claims.user_id == owner.id
    session = sessions.get_session(claims.session_id)
    assert session is not None
    assert session.user_id == owner.id
    assert not session.revoked
    assert pair.expires_in == 60
    assert 3590 <= pair.refresh_expires_in <= 3600


def test_a_hash_made_with_older_parameters_is_upgraded_on_login(
    users: MemoryUserRepository,
) -> None:
    old = PasswordHasher(memory_kib=19_456, time_cost=2)
    user = register_user(
        UserRegister(email="ada@example.com", password="password1"), repo=users, hasher=old
    )
    stronger = PasswordHasher(memory_kib=19_456, time_cost=3)
    authenticate("ada@example.com", "password1", repo=users, hasher=stronger)
    upgraded = users.get_user(user.id)
    assert upgraded is not None
    assert "t=3" in upgraded.password_hash
    authenticate("ada@example.com", "password1", repo=users, hasher=stronger)


def test_a_corrupt_stored_hash_is_bad_credentials_not_a_crash(
    users: MemoryUserRepository, owner: User
) -> None:
    users.update_user_fields(owner.id, {"password_hash": "garbage"})
    with pytest.raises(InvalidCredentials):
        authenticate("ada@example.com", "password1", repo=users, hasher=FAST)


def test_an_inactive_user_cannot_log_in(users: MemoryUserRepository, owner: User) -> None:
    users.update_user_fields(owner.id, {"is_active": False})
    with pytest.raises(InvalidCredentials):
        authenticate("ada@example.com", "password1", repo=users, hasher=FAST)


TOKENS = AccessTokens("k" * 32, 60, 3600)


def strict_throttle(db: MemoryDatabase) -> LoginThrottle:
    return LoginThrottle(MemoryLoginAttemptRepository(db), max_per_account=3, max_per_address=8)


def ada_logs_in(password: str, *, repo: MemoryUserRepository, throttle: LoginThrottle) -> None:
    """Ada's login from 10.0.0.1, through `throttle`."""
    login(
        "ada@example.com",
        password,
        client_address="10.0.0.1",
        repo=repo,
        sessions=MemorySessionRepository(repo.db),
        hasher=FAST,
        tokens=TOKENS,
        throttle=throttle,
    )


def test_concurrent_wrong_logins_get_no_more_than_the_limit_checked(
    db: MemoryDatabase, users: MemoryUserRepository, owner: User
) -> None:
    throttle = strict_throttle(db)
    start = threading.Barrier(12)

    def guess(n: int) -> str:
        start.wait()
        try:
            ada_logs_in(f"wrong-{n}", repo=users, throttle=throttle)
        except (InvalidCredentials, TooManyAttempts) as error:
            return type(error).__name__
        return "logged in"

    with ThreadPoolExecutor(max_workers=12) as pool:
        outcomes = Counter(pool.map(guess, range(12)))
    assert outcomes == {"InvalidCredentials": 3, "TooManyAttempts": 9}
    address = throttle.attempts.get_window("address:10.0.0.1")
    assert address is not None and address.failures == 3


def test_a_right_password_clears_the_account_and_gives_the_address_its_attempt_back(
    db: MemoryDatabase, users: MemoryUserRepository, owner: User
) -> None:
    throttle = strict_throttle(db)
    for password in ("wrong-1", "wrong-2", "password1"):
        with contextlib.suppress(InvalidCredentials):
            ada_logs_in(password, repo=users, throttle=throttle)
    assert throttle.attempts.get_window("account:ada@example.com") is None
    address = throttle.attempts.get_window("address:10.0.0.1")
    assert address is not None and address.failures == 2


class UnreachableUsers(MemoryUserRepository):
    """The database goes away in the middle of a login."""

    def get_user_by_email(self, email: str) -> User | None:
        raise BackendUnavailable("The database is not answering")


def test_a_login_the_database_could_not_answer_is_not_counted(
    db: MemoryDatabase, owner: User
) -> None:
    throttle = strict_throttle(db)
    for _ in range(5):
        with pytest.raises(BackendUnavailable):
            ada_logs_in("password1", repo=UnreachableUsers(db), throttle=throttle)
    for key in ("account:ada@example.com", "address:10.0.0.1"):
        window = throttle.attempts.get_window(key)
        assert window is None or window.failures == 0


def test_wrong_password_confirmations_count_against_the_account_like_logins(
    db: MemoryDatabase, users: MemoryUserRepository, owner: User, storage: MemoryStorage
) -> None:
    """Three wrong guesses, some to change the password, some to delete the account, close
    all three ways in, to the right password too."""
    throttle, sessions = strict_throttle(db), MemorySessionRepository(db)
    projects, files = MemoryProjectRepository(db), MemoryFileRepository(db)

    def change(password: str) -> None:
        change_password(
            owner,
            password,
            "a new password",
            session_id="s",
            repo=users,
            sessions=sessions,
            hasher=FAST,
            throttle=throttle,
        )

    def delete(password: str) -> None:
        delete_account(
            owner,
            password,
            repo=users,
            sessions=sessions,
            project_repo=projects,
            file_repo=files,
            storage=storage,
            hasher=FAST,
            throttle=throttle,
        )

    with pytest.raises(PasswordMismatch):
        change("wrong-1")
    for guess in ("wrong-2", "wrong-3"):
        with pytest.raises(PasswordMismatch):
            delete(guess)
    for confirm in (change, delete):
        with pytest.raises(TooManyAttempts):
            confirm("password1")
    with pytest.raises(TooManyAttempts):
        ada_logs_in("password1", repo=users, throttle=throttle)
    assert users.get_user(owner.id) == owner


def test_projects_are_scoped_to_their_owner(
    db: MemoryDatabase, users: MemoryUserRepository, owner: User
) -> None:
    repo = MemoryProjectRepository(db)
    other = users.create_user("bob@example.com", "hash")
    project = projects.create_project(ProjectCreate(name="Apollo"), owner=owner, repo=repo)
    with pytest.raises(NotFound):
        projects.get_owned_project(project.id, owner=other, repo=repo)
    with pytest.raises(NotFound):
        projects.update_project(project.id, ProjectUpdate(name="x"), owner=other, repo=repo)
    updated = projects.update_project(
        project.id, ProjectUpdate(description="d"), owner=owner, repo=repo
    )
    assert (updated.name, updated.description) == ("Apollo", "d")
    assert updated.updated_at > project.updated_at
    assert projects.list_projects(owner=other, repo=repo).items == []


class FailingFileRepository(MemoryFileRepository):
    """A database that fails on the metadata write, after the bytes were stored."""

    def add_file(self, record: FileRecord) -> FileRecord:
        raise ConnectionError("database went away")


def test_an_upload_whose_metadata_write_fails_leaves_no_bytes(
    db: MemoryDatabase, owner: User, storage: MemoryStorage
) -> None:
    project_repo = MemoryProjectRepository(db)
    project = project_repo.create_project(owner.id, "Apollo")
    with pytest.raises(ConnectionError):
        files.upload_file(
            project.id,
            io.BytesIO(b"data"),
            owner=owner,
            filename="a.txt",
            content_type="text/plain",
            max_bytes=100,
            project_repo=project_repo,
            file_repo=FailingFileRepository(db),
            storage=storage,
        )
    assert list(storage.list_keys()) == []


def test_an_upload_over_the_limit_stores_nothing(
    db: MemoryDatabase, owner: User, storage: MemoryStorage
) -> None:
    project_repo, file_repo = MemoryProjectRepository(db), MemoryFileRepository(db)
    project = project_repo.create_project(owner.id, "Apollo")
    arguments = {
        "owner": owner,
        "filename": "a",
        "content_type": None,
        "max_bytes": 10,
        "project_repo": project_repo,
        "file_repo": file_repo,
        "storage": storage,
    }
    with pytest.raises(FileTooLarge):
        files.upload_file(project.id, io.BytesIO(b"x" * 11), **arguments)  # type: ignore[arg-type]
    assert list(storage.list_keys()) == []
    record = files.upload_file(project.id, io.BytesIO(b"x" * 10), **arguments)  # type: ignore[arg-type]
    assert record.content_type == "application/octet-stream"
    assert b"".join(files.open_file(record, storage=storage)) == b"x" * 10


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("a/b/c.txt", "c.txt"),
        ("..\\..\\x.exe", "x.exe"),
        ("", "file"),
        (None, "file"),
        ("tab\there", "tabhere"),
        ("x" * 300, "x" * 255),
    ],
)
def test_filenames_keep_only_a_safe_last_segment(given: str | None, kept: str) -> None:
    assert files.clean_filename(given) == kept


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("text/plain", "text/plain"),
        ("text/plain; charset=utf-8", "text/plain; charset=utf-8"),
        ("nonsense", "application/octet-stream"),
        ("a/b\r\nX: y", "application/octet-stream"),
    ],
)
def test_content_types_are_checked(given: str, kept: str) -> None:
    assert files.clean_content_type(given) == kept


def test_content_disposition_is_safe_for_any_name() -> None:
    header = content_disposition('evil"\r\nSet-Cookie: x=1;.txt')
    assert "\r" not in header and "\n" not in header
    assert header.startswith('attachment; filename="evil_')
    assert header.count('"') == 2
    assert "filename*=UTF-8''evil%22%0D%0ASet-Cookie%3A%20x%3D1%3B.txt" in header


def test_cursors_are_bound_to_their_list() -> None:
    codec = CursorCodec("secret")
    key = PageKey(datetime(2026, 1, 1, tzinfo=UTC), "abc")
    cursor = codec.encode(key, scope="projects:alice")
    assert cursor is not None
    assert codec.decode(cursor, scope="projects:alice") == key
    with pytest.raises(InvalidCursor):
        codec.decode(cursor, scope="projects:bob")
    with pytest.raises(InvalidCursor):
        CursorCodec("other-secret").decode(cursor, scope="projects:alice")
    assert codec.encode(None, scope="x") is None


def test_settings_come_from_the_profiles_env_file_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("APP_ENV", "DATABASE_TYPE", "STORAGE_TYPE", "MAX_UPLOAD_BYTES"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / ".env.staging").write_text(
        "DATABASE_TYPE=sqlite\nMAX_UPLOAD_BYTES=123\nCORS_ORIGINS=https://a.example, https://b.example\n"
        f"SECRET_KEY={'s' * 32}\n"
    )
    monkeypatch.setenv("APP_ENV", "staging")
    monkeypatch.setenv("MAX_UPLOAD_BYTES", "456")
    settings = load_settings()
    assert settings.APP_ENV == "staging"
    assert settings.DATABASE_TYPE == "sqlite"
    assert settings.MAX_UPLOAD_BYTES == 456
    assert settings.CORS_ORIGINS == ["https://a.example", "https://b.example"]


def test_with_nothing_configured_the_embedded_stack_is_chosen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("APP_ENV", "DATABASE_TYPE", "STORAGE_TYPE", "DUCKDB_PATH", "LOCAL_STORAGE_PATH"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert (settings.DATABASE_TYPE, settings.STORAGE_TYPE) == ("duckdb", "local")
    assert Path("data/app.db") == settings.DUCKDB_PATH
    assert Path("uploads") == settings.LOCAL_STORAGE_PATH


def test_a_remembered_token_still_expires() -> None:
    tokens = AccessTokens("k" * 32, lifetime_seconds=1)
    token = tokens.issue("user", "session").access_token
    assert tokens.claims(token).user_id == "user"
    time.sleep(2.1)
    with pytest.raises(InvalidToken):
        tokens.claims(token)
