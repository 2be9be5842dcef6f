"""An address is one account however it is spelled (punycode or Unicode domain, composed or
decomposed accents, full-width letters, any case): registered in any spelling over HTTP, it
logs in with every other, on each embedded database, and keeps doing so after a migration."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.backends import open_backends
from app.core.security import PasswordHasher
from app.main import create_app
from tests.client_fixtures import PASSWORD
from tests.conftest import SettingsFactory
from tests.migration.support import migrate

REGISTER, LOGIN = "/api/v1/auth/register", "/api/v1/auth/login"


def full_width(text: str) -> str:
    """`text` in the full-width forms of its ASCII letters and dots (U+FF01 to U+FF5E)."""
    return "".join(chr(ord(char) + 0xFEE0) for char in text)


STACKS = [("memory", "memory"), ("sqlite", "local"), ("duckdb", "local")]
SPELLINGS = {
    "idn domain": (
        "x@bücher.example",
        [
            "x@xn--bcher-kva.example",
            "x@bücher.example",
            "X@BÜCHER.EXAMPLE",
            "x@XN--BCHER-KVA.example",
        ],
    ),
    "decomposed local part": (
        "jos\u00e9@example.com",
        ["jose\u0301@example.com", "jos\u00e9@example.com", "JOS\u00c9@Example.com"],
    ),
    "full-width domain": (
        "ana@example.com",
        [f"ana@{full_width('example')}.com", "ana@example.com", f"ANA@{full_width('EXAMPLE.COM')}"],
    ),
}
CASES = [
    pytest.param(canonical, spellings, registered, id=f"{name}: {registered}")
    for name, (canonical, spellings) in SPELLINGS.items()
    for registered in spellings
]


@pytest.fixture(params=STACKS, ids=lambda stack: "+".join(stack))
def client(request: pytest.FixtureRequest, make_settings: SettingsFactory) -> Iterator[TestClient]:
    database, storage = request.param
    with TestClient(create_app(make_settings(database=database, storage=storage))) as client:
        yield client


def log_in(client: TestClient, email: str) -> int:
    return client.post(LOGIN, data={"username": email, "password": PASSWORD}).status_code


@pytest.mark.parametrize(("canonical", "spellings", "registered"), CASES)
def test_an_address_registered_in_one_spelling_logs_in_with_every_other(
    client: TestClient, canonical: str, spellings: list[str], registered: str
) -> None:
    response = client.post(REGISTER, json={"email": registered, "password": PASSWORD})
    assert response.status_code == 201, response.text
    assert response.json()["email"] == canonical
    logins = {spelling: log_in(client, spelling) for spelling in spellings}
    assert logins == dict.fromkeys(spellings, 200)
    for spelling in spellings:
        again = client.post(REGISTER, json={"email": spelling, "password": PASSWORD})
        assert again.status_code == 409, spelling


def test_a_different_domain_is_a_different_account(client: TestClient) -> None:
    response = client.post(REGISTER, json={"email": "jose\u0301@example.com", "password": PASSWORD})
    assert response.status_code == 201
    assert log_in(client, "jos\u00e9@x.com") == 401


def test_a_migration_stores_the_spelling_logins_look_up(make_settings: SettingsFactory) -> None:
    """A user stored under another spelling (by an older version, or a script) is copied under
    the one spelling, so every spelling logs in on the target."""
    source = make_settings(database="sqlite", storage="local")
    backends = open_backends(source)
    try:
        backends.user_repo.create_user("x@xn--bcher-kva.example", PasswordHasher().hash(PASSWORD))
    finally:
        backends.close()
    target = make_settings(database="duckdb", storage="memory")
    assert not migrate(source, target).problems
    with TestClient(create_app(target)) as client:
        spellings = SPELLINGS["idn domain"][1]
        assert {s: log_in(client, s) for s in spellings} == dict.fromkeys(spellings, 200)
