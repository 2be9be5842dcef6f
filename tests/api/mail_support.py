"""Reading what an app under test mailed: its memory mailer's messages and their tokens."""

from __future__ import annotations

import re
from urllib.parse import unquote

from app.context import AppContext
from app.mail.base import MailMessage
from app.mail.memory import MemoryMailer

TOKEN = re.compile(r"[?&]token=([A-Za-z0-9_.~%-]+)")


def outbox(context: AppContext) -> MemoryMailer:
    mailer = context.backends.mailer
    assert isinstance(mailer, MemoryMailer)
    return mailer


def last_mail(context: AppContext, to: str) -> MailMessage:
    sent = outbox(context).to(to)
    assert sent, f"nothing was mailed to {to}"
    return sent[-1]


def token_in(message: MailMessage) -> str:
    """The token of the one link in a mail, the same in both parts."""
    found = {unquote(m) for m in TOKEN.findall(message.text)}
    in_html = {unquote(m) for m in TOKEN.findall(message.html)}
    assert len(found) == 1 and found == in_html, (message.text, message.html)
    return found.pop()


def token_in_text(text: str) -> str:
    """The token of the one link in a text."""
    (token,) = TOKEN.findall(text)
    return unquote(token)


def mailed_token(context: AppContext, to: str, subject: str) -> str:
    message = last_mail(context, to)
    assert message.subject == subject
    return token_in(message)


VERIFY_SUBJECT = "Verify your email address"
RESET_SUBJECT = "Reset your password"
