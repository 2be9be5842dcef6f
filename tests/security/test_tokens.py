"""Access tokens: only a token this server signed, for a live session of a live user, works."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from fastapi.testclient import TestClient

from app.context import AppContext
from app.core.config import Settings
from tests.client_fixtures import Headers


def forge(settings: Settings, claims: dict[str, object], key: str | None = None) -> Headers:
    secret = key or settings.SECRET_KEY.get_secret_value()
    return {"Authorization": f"Bearer {jwt.encode(claims, secret, algorithm='HS256')}"}


def claims_of(headers: Headers) -> dict[str, str]:
    """A real token's claims: signed, not secret."""
    token = headers["Authorization"].removeprefix("Bearer ")
    claims: dict[str, str] = jwt.decode(token, options={"verify_signature": False})
    return claims


def test_a_token_signed_with_the_servers_key_works_and_no_other(
    client: TestClient, settings: Settings, alice: Headers
) -> None:
    real = claims_of(alice)
    valid = {
        "sub": real["sub"],
        "sid": real["sid"],
        "exp": datetime.now(UTC) + timedelta(minutes=5),
    }
    assert client.get("/api/v1/auth/me", headers=forge(settings, valid)).status_code == 200
    wrong_key = forge(settings, valid, key="another-secret-key-of-enough-length!!")
    assert client.get("/api/v1/auth/me", headers=wrong_key).status_code == 401


@pytest.mark.parametrize(
    "case",
    [
        "expired",
        "no-exp",
        "no-sub",
        "no-sid",
        "other-sid",
        "other-sub",
        "alg-none",
        "edited-payload",
        "garbage",
        "missing",
    ],
)
def test_bad_tokens_are_401(
    client: TestClient, settings: Settings, alice: Headers, bob: Headers, case: str
) -> None:
    uid, sid = claims_of(alice)["sub"], claims_of(alice)["sid"]
    soon = datetime.now(UTC) + timedelta(minutes=5)
    header, _payload, signature = alice["Authorization"].removeprefix("Bearer ").split(".")
    bobs_payload = bob["Authorization"].removeprefix("Bearer ").split(".")[1]
    headers: Headers = {
        "expired": forge(
            settings, {"sub": uid, "sid": sid, "exp": datetime.now(UTC) - timedelta(seconds=1)}
        ),
        "no-exp": forge(settings, {"sub": uid, "sid": sid}),
        "no-sub": forge(settings, {"sid": sid, "exp": soon}),
        "no-sid": forge(settings, {"sub": uid, "exp": soon}),
        "other-sid": forge(settings, {"sub": uid, "sid": claims_of(bob)["sid"], "exp": soon}),
        "other-sub": forge(settings, {"sub": claims_of(bob)["sub"], "sid": sid, "exp": soon}),
        "alg-none": {
            "Authorization": "Bearer "
            + jwt.encode({"sub": uid, "sid": sid, "exp": soon}, None, algorithm="none")
        },
        "edited-payload": {"Authorization": f"Bearer {header}.{bobs_payload}.{signature}"},
        "garbage": {"Authorization": "Bearer not.a.token"},
        "missing": {},
    }[case]
    response = client.get("/api/v1/auth/me", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    expected = "Not authenticated" if case == "missing" else "Could not validate credentials"
    assert response.json() == {"detail": expected}


def test_a_deleted_users_token_is_401(
    client: TestClient, alice: Headers, context: AppContext
) -> None:
    context.backends.user_repo.delete_user(claims_of(alice)["sub"])
    assert client.get("/api/v1/auth/me", headers=alice).status_code == 401
