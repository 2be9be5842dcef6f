"""`hangar create-admin EMAIL`: a new verified administrator with a prompted (or piped)
password, or an existing account promoted; the admin routes then open to them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.cli import cli
from app.core.config import Settings, get_settings
from app.main import create_app
from tests.client_fixtures import PASSWORD, login, register
from tests.conftest import SettingsFactory

ROOT = "root@example.com"


@pytest.fixture
def settings(make_settings: SettingsFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """A SQLite file the command and the API open in turn, named by the environment."""
    settings = make_settings(database="sqlite", storage="memory")
    for name in ("APP_ENV", "DATABASE_TYPE", "STORAGE_TYPE", "SQLITE_PATH"):
        monkeypatch.setenv(name, str(getattr(settings, name)))
    monkeypatch.chdir(settings.SQLITE_PATH.parent.parent)
    get_settings.cache_clear()
    yield settings
    get_settings.cache_clear()


def admin_page(settings: Settings, email: str, password: str = PASSWORD) -> int:
    with TestClient(create_app(settings)) as client:
        headers = login(client, email, password)
        me = client.get("/api/v1/auth/me", headers=headers).json()
        assert me["is_verified"] is True
        return client.get("/api/v1/admin/users", headers=headers).status_code


def test_a_new_administrator_with_a_prompted_password(settings: Settings) -> None:
    result = CliRunner().invoke(
        cli, ["create-admin", " ROOT@Example.com"], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert f"Administrator {ROOT} created" in result.output
    assert PASSWORD not in result.output
    assert admin_page(settings, ROOT) == 200


def test_a_password_from_stdin_and_a_promotion_of_an_existing_account(
    settings: Settings,
) -> None:
    piped = CliRunner().invoke(
        cli, ["create-admin", ROOT, "--password-stdin"], input="piped passphrase\n"
    )
    assert piped.exit_code == 0, piped.output
    assert admin_page(settings, ROOT, "piped passphrase") == 200

    with TestClient(create_app(settings)) as client:
        register(client, "bob@example.com")
    promoted = CliRunner().invoke(cli, ["create-admin", "bob@example.com"])
    assert promoted.exit_code == 0, promoted.output
    assert "bob@example.com is now an administrator" in promoted.output
    assert admin_page(settings, "bob@example.com") == 200


def test_a_bad_address_or_short_password_is_refused_and_nothing_is_stored(
    settings: Settings,
) -> None:
    for email, password in (("not-an-address", PASSWORD), (ROOT, "short")):
        result = CliRunner().invoke(
            cli, ["create-admin", email, "--password-stdin"], input=f"{password}\n"
        )
        assert result.exit_code == 2
        assert "Cannot create the administrator" in result.output
    with TestClient(create_app(settings)) as client:
        register(client, ROOT)
