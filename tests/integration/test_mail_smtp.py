"""The SMTP mail backend against a real SMTP server (aiosmtpd) on 127.0.0.1: in the clear, with
STARTTLS and a login, and with TLS from the first byte; and what a failed send does to the API
(nothing a client sees)."""

from __future__ import annotations

import datetime
import email
import ipaddress
import logging
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.logging import RequestIdFilter
from app.mail.base import MailMessage
from app.mail.smtp import SmtpMailer
from app.main import create_app
from benchmarks.servers import free_port
from tests.api.mail_support import token_in_text
from tests.client_fixtures import register
from tests.conftest import SettingsFactory

SENDER = "Hangar <no-reply@hangar.example>"
USERNAME, SECRET = "hangar", "smtp secret"


@dataclass
class Inbox:
    """What the server accepted, and the logins it saw."""

    messages: list[EmailMessage] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:  # noqa: N802
        assert isinstance(envelope.content, bytes)
        parsed = email.message_from_bytes(envelope.content, policy=default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted"


def authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USERNAME.encode(),
        SECRET.encode(),
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1: (certificate, key) files."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return context


@dataclass
class SmtpServer:
    port: int
    inbox: Inbox


@pytest.fixture
def plain_server() -> Iterator[SmtpServer]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield SmtpServer(controller.port, inbox)
    finally:
        controller.stop()


@pytest.fixture
def trusted(certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """The client trusts the test certificate, as the system store would a real one."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))


def smtp_settings(make_settings: SettingsFactory, port: int, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "MAIL_TYPE": "smtp",
        "MAIL_FROM": SENDER,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": port,
        "SMTP_SECURITY": "none",
        "SMTP_TIMEOUT_SECONDS": 5,
    }
    return make_settings(**(values | extra))


MESSAGE = MailMessage(
    to="ada@example.com",
    subject="Reset your password",
    text="Open http://testserver/reset-password?token=abc-123\n",
    html='<p><a href="http://testserver/reset-password?token=abc-123">reset</a></p>',
)


def assert_delivered(inbox: Inbox) -> None:
    (message,) = inbox.messages
    assert inbox.recipients == [["ada@example.com"]]
    assert_is_message(message, SENDER)


def assert_is_message(message: EmailMessage, sender: str) -> None:
    """`message` is MESSAGE from `sender`, with every header and both parts."""
    assert message["From"] == sender
    assert message["To"] == "ada@example.com"
    assert message["Subject"] == "Reset your password"
    assert message["Message-ID"].endswith(f"@{sender.rpartition('@')[2]}")
    assert message["Date"]
    assert message.get_content_type() == "multipart/alternative"
    text, html = (part for part in message.iter_parts())
    assert (text.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    assert token_in_text(text.get_content()) == "abc-123"
    assert token_in_text(html.get_content()) == "abc-123"


def test_a_message_arrives_with_its_headers_and_both_parts(
    plain_server: SmtpServer, make_settings: SettingsFactory
) -> None:
    SmtpMailer(smtp_settings(make_settings, plain_server.port)).send(MESSAGE)
    assert_delivered(plain_server.inbox)


@pytest.mark.usefixtures("trusted")
def test_starttls_and_a_login_with_the_configured_credentials(
    certificate: tuple[Path, Path], make_settings: SettingsFactory
) -> None:
    inbox = Inbox()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=server_context(certificate),
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=True,
    )
    controller.start()
    try:
        settings = smtp_settings(
            make_settings,
            controller.port,
            SMTP_HOST="localhost",
            SMTP_SECURITY="starttls",
            SMTP_USERNAME=USERNAME,
            SMTP_PASSWORD=SECRET,
        )
        SmtpMailer(settings).send(MESSAGE)
        assert_delivered(inbox)
        wrong = settings.model_copy(update={"SMTP_PASSWORD": None})
        with pytest.raises(Exception, match=r"535|authentication"):
            SmtpMailer(wrong).send(MESSAGE)
    finally:
        controller.stop()


@pytest.mark.usefixtures("trusted")
def test_tls_from_the_first_byte(
    certificate: tuple[Path, Path], make_settings: SettingsFactory
) -> None:
    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, ssl_context=server_context(certificate)
    )
    controller.start()
    try:
        settings = smtp_settings(make_settings, port, SMTP_HOST="localhost", SMTP_SECURITY="tls")
        SmtpMailer(settings).send(MESSAGE)
        assert_delivered(inbox)
    finally:
        controller.stop()


def test_a_registration_over_http_mails_its_link_through_smtp(
    plain_server: SmtpServer, make_settings: SettingsFactory
) -> None:
    settings = smtp_settings(make_settings, plain_server.port)
    with TestClient(create_app(settings)) as client:
        register(client, "ada@example.com")
        (message,) = plain_server.inbox.messages
        assert message["Subject"] == "Verify your email address"
        text = message.get_body(("plain",))
        assert text is not None
        token = token_in_text(text.get_content())
        verified = client.post("/api/v1/auth/verify", json={"token": token})
        assert verified.json()["is_verified"] is True


def test_a_failed_send_is_logged_with_the_request_id_and_the_api_answers_normally(
    make_settings: SettingsFactory, caplog: pytest.LogCaptureFixture
) -> None:
    closed = free_port()  # nothing listens there
    settings = smtp_settings(make_settings, closed)
    caplog.set_level(logging.ERROR, logger="app.mail")
    caplog.handler.addFilter(RequestIdFilter())  # as `hangar serve`'s handler stamps records
    with TestClient(create_app(settings)) as client:
        registered = client.post(
            "/api/v1/auth/register",
            json={"email": "ada@example.com", "password": "correct horse battery"},
        )
        assert registered.status_code == 201
        reset = client.post("/api/v1/auth/password-reset", json={"email": "ada@example.com"})
        assert reset.status_code == 202
        assert client.get("/api/v1/health").status_code == 200
    failures = [r for r in caplog.records if r.name == "app.mail"]
    assert len(failures) == 2
    ids = {registered.headers["X-Request-ID"], reset.headers["X-Request-ID"]}
    assert {getattr(r, "request_id", None) for r in failures} == ids
    assert all(r.exc_info and isinstance(r.exc_info[1], OSError) for r in failures)
