"""The mail interface every mail backend implements, and the one way a message becomes MIME.

Sync like the repositories: smtplib and boto3 block. A network mailer says so
(`network_bound`), so the HTTP layer sends through it in the threadpool, after the response.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import TYPE_CHECKING, ClassVar, Protocol

if TYPE_CHECKING:
    from app.core.config import Settings


@dataclass(frozen=True)
class MailMessage:
    """One mail to one recipient, with a plain-text part and an HTML part saying the same."""

    to: str
    subject: str
    text: str
    html: str


class Mailer(ABC):
    """Sends mail from one sender (MAIL_FROM)."""

    network_bound: ClassVar[bool] = False
    """True when sending crosses a network, so the HTTP layer runs it off the event loop."""

    def __init__(self, sender: str) -> None:
        self.sender = sender

    @abstractmethod
    def send(self, message: MailMessage) -> None:
        """Send one message, or raise: a caller that must not fail logs the error."""

    def close(self) -> None:  # noqa: B027 (most mailers hold nothing to release)
        """Release what the mailer holds."""

    def mime(self, message: MailMessage) -> EmailMessage:
        """The message as MIME: multipart/alternative, text first, so a client that cannot
        show HTML shows the text."""
        mime = EmailMessage()
        mime["From"] = self.sender
        mime["To"] = message.to
        mime["Subject"] = message.subject
        mime["Date"] = formatdate(localtime=False, usegmt=True)
        mime["Message-ID"] = make_msgid(domain=sender_domain(self.sender))
        mime.set_content(message.text)
        mime.add_alternative(message.html, subtype="html")
        return mime


def sender_domain(sender: str) -> str:
    """The domain of a `Name <address>` sender, for Message-IDs and SES identities."""
    return parseaddr(sender)[1].rpartition("@")[2] or "localhost"


class MailModule(Protocol):
    """What a mail backend's module offers `app.backends`, which finds it by name."""

    def open_mailer(self, settings: Settings) -> Mailer: ...
