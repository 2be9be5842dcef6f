"""The mails the account flows send: where their links point, and their text and HTML."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from html import escape
from urllib.parse import quote

from app.mail.base import MailMessage

VERIFY_PATH = "/verify-email"
RESET_PATH = "/reset-password"


@dataclass(frozen=True)
class MailLinks:
    """Links under `base_url` (FRONTEND_URL, else PUBLIC_BASE_URL): the page there reads the
    `token` query parameter and posts it to the API."""

    base_url: str

    def verify(self, token: str) -> str:
        return f"{self.base_url}{VERIFY_PATH}?token={quote(token)}"

    def reset(self, token: str) -> str:
        return f"{self.base_url}{RESET_PATH}?token={quote(token)}"


def _lifetime(lifetime: timedelta) -> str:
    minutes = int(lifetime.total_seconds() // 60)
    if minutes % 60 or minutes < 120:
        return f"{minutes} minutes"
    return f"{minutes // 60} hours"


def _message(to: str, subject: str, lines: list[str], link: str) -> MailMessage:
    text = "\n\n".join([*lines[:-1], link, lines[-1]]) + "\n"
    paragraphs = "".join(f"<p>{escape(line)}</p>" for line in lines[:-1])
    html = (
        f"<!doctype html><html><body>{paragraphs}"
        f'<p><a href="{escape(link)}">{escape(link)}</a></p>'
        f"<p>{escape(lines[-1])}</p></body></html>"
    )
    return MailMessage(to=to, subject=subject, text=text, html=html)


def verification(to: str, link: str, lifetime: timedelta) -> MailMessage:
    return _message(
        to,
        "Verify your email address",
        [
            "Welcome to Hangar! Confirm that this is your email address by opening this link "
            f"within {_lifetime(lifetime)}:",
            "If you did not create an account, ignore this mail.",
        ],
        link,
    )


def password_reset(to: str, link: str, lifetime: timedelta) -> MailMessage:
    return _message(
        to,
        "Reset your password",
        [
            "Someone asked to reset the password of your Hangar account. Choose a new one "
            f"through this link within {_lifetime(lifetime)}; it works once:",
            "If it was not you, ignore this mail: your password stays as it is.",
        ],
        link,
    )
