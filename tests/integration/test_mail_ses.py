"""The SES mail backend against the moto server the fixtures start: `hangar init` registers the
sender's identity, and a message goes out as the same raw MIME the SMTP backend sends."""

from __future__ import annotations

import email
import uuid
from email.message import EmailMessage
from email.policy import default
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.cli import cli
from app.core.config import Settings, get_settings
from app.mail.ses import SesMailer, verify_identity
from app.main import create_app
from tests.api.mail_support import token_in_text
from tests.aws import external_endpoint
from tests.client_fixtures import register
from tests.conftest import SettingsFactory
from tests.integration.test_mail_smtp import MESSAGE, assert_is_message

MOTO_ACCOUNT = "123456789012"


@pytest.fixture
def settings(make_settings: SettingsFactory, aws_endpoint: str | None) -> Settings:
    """SES on the test endpoint, from a sender of this test's own."""
    return make_settings(
        MAIL_TYPE="ses",
        MAIL_FROM=f"Hangar <hangar-{uuid.uuid4().hex[:12]}@example.com>",
        AWS_ENDPOINT_URL=aws_endpoint,
    )


def sent_from(settings: Settings) -> list[EmailMessage]:
    """The raw messages moto's SES accepted from this test's sender, parsed."""
    if external_endpoint() is not None:
        pytest.skip("reads the messages moto's SES keeps, in this process")
    from moto.ses.models import ses_backends

    backend = ses_backends[MOTO_ACCOUNT][settings.AWS_REGION]
    address = settings.MAIL_FROM.partition("<")[2].rstrip(">")
    messages = []
    for sent in backend.sent_messages:
        raw: Any = getattr(sent, "raw_data", None)
        if raw is not None and address in sent.source:
            parsed = email.message_from_string(raw, policy=default)
            assert isinstance(parsed, EmailMessage)
            messages.append(parsed)
    return messages


def test_init_registers_the_sender_identity_then_reports_it(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("APP_ENV", "DATABASE_TYPE", "STORAGE_TYPE", "MAIL_TYPE", "MAIL_FROM"):
        monkeypatch.setenv(name, str(getattr(settings, name)))
    monkeypatch.setenv("AWS_ENDPOINT_URL", str(settings.AWS_ENDPOINT_URL))
    monkeypatch.chdir(settings.LOCAL_STORAGE_PATH.parent)
    address = settings.MAIL_FROM.partition("<")[2].rstrip(">")
    outputs = []
    for _ in range(2):
        get_settings.cache_clear()
        result = CliRunner().invoke(cli, ["init"])
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
    get_settings.cache_clear()
    assert f"SES identity {address} created" in outputs[0]
    assert f"SES identity {address} awaits verification" in outputs[1]


def test_a_message_goes_out_as_raw_mime_with_both_parts(settings: Settings) -> None:
    verify_identity(settings)
    mailer = SesMailer(settings)
    try:
        mailer.send(MESSAGE)
    finally:
        mailer.close()
    (message,) = sent_from(settings)
    assert_is_message(message, settings.MAIL_FROM)


def test_an_unverified_sender_is_refused_and_the_api_still_answers(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        register(client, "ada@example.com")  # moto refuses the mail: logged, not raised
        assert client.get("/api/v1/health").status_code == 200
    assert sent_from(settings) == []


def test_a_registration_over_http_mails_its_link_through_ses(settings: Settings) -> None:
    verify_identity(settings)
    with TestClient(create_app(settings)) as client:
        register(client, "ada@example.com")
        (message,) = sent_from(settings)
        assert message["Subject"] == "Verify your email address"
        body = message.get_body(("plain",))
        assert body is not None
        verified = client.post(
            "/api/v1/auth/verify", json={"token": token_in_text(body.get_content())}
        )
        assert verified.json()["is_verified"] is True
