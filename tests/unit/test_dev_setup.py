"""`setup_local_dev` gives a notebook working backends, and keeps its files where it was told."""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.config import Settings, get_settings, load_settings
from app.dev_setup import PARTS, DevRepositories, setup_local_dev
from app.repositories.base import FileRepository, ProjectRepository, UserRepository
from app.routers.auth.interface import UserRegister
from app.routers.auth.services import register_user
from app.routers.files.services import open_file, upload_file
from app.routers.projects.interface import ProjectCreate
from app.routers.projects.services import create_project, list_projects
from app.storage.base import FileStorage

REPOSITORY = Path(__file__).parents[2]
PROFILE_KEYS = {
    "APP_ENV",
    "DATABASE_TYPE",
    "STORAGE_TYPE",
    "MAIL_TYPE",
    "DUCKDB_PATH",
    "SQLITE_PATH",
    "LOCAL_STORAGE_PATH",
}


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty working folder; os.environ and the settings cache are restored afterwards."""
    for key in PROFILE_KEYS:
        # setenv first: delenv of an absent variable records nothing to restore, and
        # setup_local_dev's variables would then leak into every later test.
        monkeypatch.setenv(key, "")
        monkeypatch.delenv(key)
    folder = tmp_path / "cwd"
    folder.mkdir()
    monkeypatch.chdir(folder)
    yield folder
    get_settings.cache_clear()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "root"


def files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_setup_local_dev_sets_only_the_profile_variables(cwd: Path, root: Path) -> None:
    before = dict(os.environ)
    setup_local_dev(root).close()
    changed = {
        key for key in os.environ.keys() | before.keys() if os.environ.get(key) != before.get(key)
    }
    assert changed == PROFILE_KEYS
    assert os.environ["DATABASE_TYPE"] == "duckdb"
    assert os.environ["STORAGE_TYPE"] == "local"


def test_later_get_settings_calls_see_the_local_profile(cwd: Path, root: Path) -> None:
    get_settings()  # cached before the switch, as an imported app module would have done
    repos = setup_local_dev(root)
    repos.close()
    settings = get_settings()
    assert settings == repos.settings
    paths = (settings.DUCKDB_PATH, settings.LOCAL_STORAGE_PATH)
    assert paths == (root.resolve() / "data" / "app.db", root.resolve() / "uploads")


def test_repositories_and_storage_work_and_write_only_under_root(cwd: Path, root: Path) -> None:
    repos = setup_local_dev(root)
    try:
        user = register_user(
            UserRegister(email="Nb@Example.com", password="a long password"),
            repos.backends.user_repo,
        )
        project = create_project(
            ProjectCreate(name="Notebook"), owner=user, repo=repos.backends.project_repo
        )
        record = upload_file(
            project.id,
            io.BytesIO(b"hello from a cell"),
            owner=user,
            filename="hello.txt",
            content_type="text/plain",
            max_bytes=1024,
            project_repo=repos.backends.project_repo,
            file_repo=repos.backends.file_repo,
            storage=repos.backends.file_storage,
        )
        content = b"".join(open_file(record, storage=repos.backends.file_storage))
        page = list_projects(owner=user, repo=repos.backends.project_repo)
    finally:
        repos.close()

    assert user.email == "nb@example.com"
    assert content == b"hello from a cell"
    assert [p.id for p in page.items] == [project.id]
    assert f"uploads/{record.storage_key}" in files_under(root)
    assert "data/app.db" in files_under(root)
    assert all(f.startswith(("data/app.db", "uploads/")) for f in files_under(root))
    assert files_under(cwd) == set()


def test_the_data_survives_reopening_the_same_root(cwd: Path, root: Path) -> None:
    first = setup_local_dev(root)
    user = first.backends.user_repo.create_user("again@example.com", "hash")
    first.close()
    second = setup_local_dev(root)
    try:
        assert second.backends.user_repo.get_user(user.id) == user
    finally:
        second.close()


def test_sqlite_can_be_chosen_instead_of_duckdb(cwd: Path, root: Path) -> None:
    repos = setup_local_dev(root, database="sqlite")
    try:
        repos.backends.user_repo.create_user("lite@example.com", "hash")
    finally:
        repos.close()
    assert repos.settings.DATABASE_TYPE == "sqlite"
    assert "data/app.sqlite3" in files_under(root)
    assert not any(f.startswith("data/app.db") for f in files_under(root))


def test_repositories_read_as_a_mapping_of_the_backends(cwd: Path, root: Path) -> None:
    repos: DevRepositories = setup_local_dev(root)
    repos.close()
    assert list(repos) == list(PARTS)
    assert isinstance(repos["user_repo"], UserRepository)
    assert isinstance(repos["project_repo"], ProjectRepository)
    assert isinstance(repos["file_repo"], FileRepository)
    assert isinstance(repos["file_storage"], FileStorage)
    assert repos["user_repo"] is repos.backends.user_repo
    with pytest.raises(KeyError):
        repos["closers"]


def test_setup_local_dev_and_the_local_profile_open_the_same_files(cwd: Path) -> None:
    """`make run` (the `local` profile, `.env.local`), an absent profile and a notebook
    share one database with the storage they share."""
    shutil.copy(REPOSITORY / ".env.local", cwd / ".env.local")
    profile, no_profile = load_settings("local"), Settings(_env_file=None)
    repos = setup_local_dev(cwd)
    repos.close()
    for settings in (profile, no_profile):
        assert settings.DATABASE_TYPE == repos.settings.DATABASE_TYPE
        for name in ("DUCKDB_PATH", "SQLITE_PATH", "LOCAL_STORAGE_PATH"):
            assert getattr(settings, name).resolve() == getattr(repos.settings, name), name


def test_a_notebook_reads_what_the_api_mailed_with_the_memory_mailer(cwd: Path, root: Path) -> None:
    from fastapi.testclient import TestClient

    from app.mail.memory import MemoryMailer
    from app.main import create_app

    repos = setup_local_dev(root, storage="memory", mail="memory")
    try:
        with TestClient(create_app(repos.settings, repos.backends)) as client:
            client.post(
                "/api/v1/auth/register",
                json={"email": "ada@example.com", "password": "correct horse battery"},
            )
        mailer = repos["mailer"]
        assert isinstance(mailer, MemoryMailer)
        (message,) = mailer.sent
        assert (message.to, message.subject) == ("ada@example.com", "Verify your email address")
    finally:
        repos.close()
