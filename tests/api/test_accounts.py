"""Email verification and password reset over HTTP, on every database backend, reading the
mail from the memory mailer."""

from __future__ import annotations

import json
import logging
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.context import AppContext
from app.core.config import Settings
from app.main import create_app
from app.routers.auth import services
from app.routers.auth.mails import MailLinks
from tests.api.mail_support import (
    RESET_SUBJECT,
    VERIFY_SUBJECT,
    last_mail,
    mailed_token,
    outbox,
    token_in_text,
)
from tests.client_fixtures import PASSWORD, Headers, login, register
from tests.conftest import API_STACKS, TEST_BASE_URL, SettingsFactory

ACCOUNT_STACKS = [*API_STACKS, ("sqlite", "local")]
AUTH = "/api/v1/auth"
NEW_PASSWORD = "a brand new passphrase"
ADA = "ada@example.com"
BAD_LINK = {"detail": "Invalid or expired link; ask for a new one"}
RESET_ACCEPTED = {
    "detail": "If an account has this address, a link to reset its password is on its way"
}


@pytest.fixture(params=ACCOUNT_STACKS, ids=lambda stack: "+".join(stack))
def settings(request: pytest.FixtureRequest, make_settings: SettingsFactory) -> Settings:
    database, storage = request.param
    return make_settings(database=database, storage=storage)


def me(client: TestClient, headers: Headers) -> dict[str, Any]:
    response = client.get(f"{AUTH}/me", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def request_reset(client: TestClient, email: str) -> str:
    response = client.post(f"{AUTH}/password-reset", json={"email": email})
    assert response.status_code == 202, response.text
    assert response.json() == RESET_ACCEPTED
    return email


def confirm_reset(client: TestClient, token: str, password: str = NEW_PASSWORD) -> int:
    response = client.post(
        f"{AUTH}/password-reset/confirm", json={"token": token, "new_password": password}
    )
    if response.status_code != 204:
        assert response.status_code == 400, response.text
        assert response.json() == BAD_LINK
    return response.status_code


class TestVerification:
    def test_registration_mails_a_link_that_verifies_the_address_once(
        self, client: TestClient, context: AppContext
    ) -> None:
        register(client, ADA)
        message = last_mail(context, ADA)
        assert message.subject == VERIFY_SUBJECT
        assert f"{TEST_BASE_URL}/verify-email?token=" in message.text
        headers = login(client, ADA)
        assert me(client, headers)["is_verified"] is False

        token = mailed_token(context, ADA, VERIFY_SUBJECT)
        verified = client.post(f"{AUTH}/verify", json={"token": token})
        assert verified.status_code == 200, verified.text
        assert verified.json()["is_verified"] is True
        assert me(client, headers)["is_verified"] is True
        again = client.post(f"{AUTH}/verify", json={"token": token})
        assert (again.status_code, again.json()) == (400, BAD_LINK)

    def test_a_new_link_is_mailed_on_request_until_the_address_is_verified(
        self, client: TestClient, context: AppContext
    ) -> None:
        register(client, ADA)
        headers = login(client, ADA)
        first = mailed_token(context, ADA, VERIFY_SUBJECT)
        resent = client.post(f"{AUTH}/verify/resend", headers=headers)
        assert resent.status_code == 202, resent.text
        second = mailed_token(context, ADA, VERIFY_SUBJECT)
        assert second != first
        # The earlier link still works.
        assert client.post(f"{AUTH}/verify", json={"token": first}).status_code == 200
        done = client.post(f"{AUTH}/verify/resend", headers=headers)
        assert done.status_code == 409
        assert done.json() == {"detail": "This email address is already verified"}
        assert client.post(f"{AUTH}/verify/resend").status_code == 401

    def test_tampered_and_unknown_verification_tokens_are_400(
        self, client: TestClient, context: AppContext
    ) -> None:
        register(client, ADA)
        token = mailed_token(context, ADA, VERIFY_SUBJECT)
        tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
        for bad in (tampered, "nonsense"):
            response = client.post(f"{AUTH}/verify", json={"token": bad})
            assert (response.status_code, response.json()) == (400, BAD_LINK)
        assert client.post(f"{AUTH}/verify", json={"token": token}).status_code == 200


def test_links_point_at_the_frontend_when_one_is_set(make_settings: SettingsFactory) -> None:
    settings = make_settings(FRONTEND_URL="https://app.example.com/")
    with TestClient(create_app(settings)) as client:
        register(client, ADA)
        message = last_mail(client.app.state.context, ADA)  # type: ignore[attr-defined]
        assert "https://app.example.com/verify-email?token=" in message.text


def test_unverified_users_are_refused_a_login_when_verification_is_required(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings(REQUIRE_VERIFIED_LOGIN=True)
    with TestClient(create_app(settings)) as client:
        context: AppContext = client.app.state.context  # type: ignore[attr-defined]
        register(client, ADA)
        first = mailed_token(context, ADA, VERIFY_SUBJECT)
        wrong = client.post(f"{AUTH}/login", data={"username": ADA, "password": "wrong pass"})
        assert wrong.status_code == 401
        refused = client.post(f"{AUTH}/login", data={"username": ADA, "password": PASSWORD})
        assert refused.status_code == 403
        assert "Verify your email address" in refused.json()["detail"]
        # The refusal mailed a fresh link, so an expired first one strands nobody.
        assert mailed_token(context, ADA, VERIFY_SUBJECT) != first
        assert client.post(f"{AUTH}/verify", json={"token": first}).status_code == 200
        login(client, ADA)


class TestPasswordReset:
    def test_the_mailed_link_sets_the_password_and_signs_out_every_session(
        self, client: TestClient, context: AppContext
    ) -> None:
        register(client, ADA)
        sessions = [login(client, ADA) for _ in range(2)]
        request_reset(client, "  ADA@example.com ")
        message = last_mail(context, ADA)
        assert message.subject == RESET_SUBJECT
        assert f"{TEST_BASE_URL}/reset-password?token=" in message.text
        token = mailed_token(context, ADA, RESET_SUBJECT)

        assert confirm_reset(client, token) == 204
        for headers in sessions:
            assert client.get(f"{AUTH}/me", headers=headers).status_code == 401
        old = client.post(f"{AUTH}/login", data={"username": ADA, "password": PASSWORD})
        assert old.status_code == 401
        headers = login(client, ADA, NEW_PASSWORD)
        # Opening the mail proved the address too.
        assert me(client, headers)["is_verified"] is True
        assert confirm_reset(client, token, "yet another passphrase") == 400
        login(client, ADA, NEW_PASSWORD)

    def test_an_unknown_address_gets_the_same_answer_and_no_mail(
        self, client: TestClient, context: AppContext
    ) -> None:
        register(client, ADA)
        before = len(outbox(context).sent)
        request_reset(client, "nobody@example.com")
        assert len(outbox(context).sent) == before

    def test_expired_tampered_and_superseded_tokens_are_400(
        self, client: TestClient, context: AppContext
    ) -> None:
        register(client, ADA)
        backends = context.backends
        expired = services.password_reset_mail(
            ADA,
            repo=backends.user_repo,
            tokens=backends.token_repo,
            links=MailLinks(TEST_BASE_URL),
            lifetime=timedelta(seconds=-1),
        )
        assert expired is not None
        assert confirm_reset(client, token_in_text(expired.text)) == 400

        request_reset(client, ADA)
        token = mailed_token(context, ADA, RESET_SUBJECT)
        tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
        assert confirm_reset(client, tampered) == 400

        # The password changes after the mail was sent: the link is dead.
        headers = login(client, ADA)
        changed = client.post(
            f"{AUTH}/me/password",
            json={"current_password": PASSWORD, "new_password": "changed by hand"},
            headers=headers,
        )
        assert changed.status_code == 204
        assert confirm_reset(client, token) == 400
        login(client, ADA, "changed by hand")

    def test_of_two_concurrent_confirms_exactly_one_succeeds(
        self, client: TestClient, context: AppContext
    ) -> None:
        register(client, ADA)
        request_reset(client, ADA)
        token = mailed_token(context, ADA, RESET_SUBJECT)
        passwords = [f"concurrent passphrase {n}" for n in range(2)]
        with ThreadPoolExecutor(max_workers=2) as pool:
            statuses = list(pool.map(lambda p: confirm_reset(client, token, p), passwords))
        assert sorted(statuses) == [204, 400]
        login(client, ADA, passwords[statuses.index(204)])

    def test_requests_are_throttled_per_address_known_or_not(
        self, client: TestClient, context: AppContext
    ) -> None:
        register(client, ADA)
        limit = context.settings.MAIL_MAX_PER_ACCOUNT
        for email in (ADA, "nobody@example.com"):
            for _ in range(limit):
                request_reset(client, email)
            refused = client.post(f"{AUTH}/password-reset", json={"email": email})
            assert refused.status_code == 429
            assert refused.json()["detail"].startswith("Too many password-reset requests")
            assert int(refused.headers["Retry-After"]) > 0
        assert len(outbox(context).to(ADA)) == 1 + limit  # the verification, then the resets

    def test_tokens_never_reach_the_logs(
        self, client: TestClient, context: AppContext, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        register(client, ADA)
        request_reset(client, ADA)
        tokens = [
            mailed_token(context, ADA, RESET_SUBJECT),
            *(token_in_text(m.text) for m in outbox(context).to(ADA)[:1]),
        ]
        assert confirm_reset(client, tokens[0]) == 204
        logged = caplog.text + "".join(str(record.args) for record in caplog.records)
        assert not any(token in logged for token in tokens)


def client_latency(client: TestClient, path: str, body: dict[str, Any]) -> float:
    """Seconds from the request to the last byte of the answer, as a client sees them: the
    app is driven over ASGI in its own event loop, and the clock stops at the response's last
    body message, before the work the app does after it (its background tasks)."""

    async def measure() -> float:
        payload = json.dumps(body).encode()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "headers": [(b"content-type", b"application/json"), (b"host", b"testserver")],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        sent = False
        finished: list[float] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": payload, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                assert message["status"] == 202
            if message["type"] == "http.response.body" and not message.get("more_body"):
                finished.append(time.perf_counter())

        started = time.perf_counter()
        await client.app(scope, receive, send)  # type: ignore[arg-type]
        return finished[0] - started

    portal = client.portal
    assert portal is not None
    result: float = portal.call(measure)
    return result


@pytest.mark.parametrize("stack", ACCOUNT_STACKS, ids=lambda stack: "+".join(stack))
def test_a_reset_for_an_unknown_address_takes_as_long_as_for_a_known_one(
    make_settings: SettingsFactory, stack: tuple[str, str]
) -> None:
    """Medians of a handful of requests each, interleaved, within the known case's spread
    (and a generous floor, so scheduling noise does not fail it)."""
    database, storage = stack
    settings = make_settings(
        database=database, storage=storage, MAIL_MAX_PER_ACCOUNT=100, MAIL_MAX_PER_ADDRESS=1000
    )
    with TestClient(create_app(settings)) as client:
        register(client, ADA)
        known: list[float] = []
        unknown: list[float] = []
        path = f"{AUTH}/password-reset"
        for n in range(12):
            known.append(client_latency(client, path, {"email": ADA}))
            unknown.append(client_latency(client, path, {"email": f"nobody{n}@example.com"}))
        spread = max(known) - min(known)
        gap = abs(statistics.median(unknown) - statistics.median(known))
        assert gap <= max(spread, 0.005), (known, unknown)
