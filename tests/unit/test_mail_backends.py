"""The mail backends' registry, and the console mailer's two faces: the whole mail for a
developer, nothing but a warning where stderr may be collected."""

from __future__ import annotations

import io
import logging
from typing import get_args

import pytest

from app.backends import MAILERS, open_mailer
from app.core.config import MailType, Settings
from app.mail.console import ConsoleMailer
from app.mail.memory import MemoryMailer
from tests.integration.test_mail_smtp import MESSAGE

PROD_KEY = "k" * 48


def test_every_mail_type_has_a_backend() -> None:
    assert set(MAILERS) == set(get_args(MailType))


def test_the_console_prints_the_whole_mail_for_local_development() -> None:
    settings = Settings(_env_file=None, APP_ENV="local", MAIL_TYPE="console")
    mailer = open_mailer(settings)
    assert isinstance(mailer, ConsoleMailer)
    mailer.stream = io.StringIO()
    mailer.send(MESSAGE)
    printed = mailer.stream.getvalue()
    assert "To: ada@example.com" in printed
    assert "token=abc-123" in printed


def test_elsewhere_the_console_withholds_the_body_and_warns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = Settings(_env_file=None, APP_ENV="prod", SECRET_KEY=PROD_KEY)
    mailer = open_mailer(settings)
    assert isinstance(mailer, ConsoleMailer)
    mailer.stream = io.StringIO()
    with caplog.at_level(logging.WARNING, logger="app.mail"):
        mailer.send(MESSAGE)
    assert mailer.stream.getvalue() == ""
    assert "was not sent: MAIL_TYPE is console" in caplog.text
    assert "abc-123" not in caplog.text


def test_the_memory_mailer_keeps_messages_per_recipient() -> None:
    mailer = open_mailer(Settings(_env_file=None, MAIL_TYPE="memory"))
    assert isinstance(mailer, MemoryMailer)
    mailer.send(MESSAGE)
    assert mailer.to("ada@example.com") == [MESSAGE]
    assert mailer.to("bob@example.com") == []
