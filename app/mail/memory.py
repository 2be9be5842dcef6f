"""Mail kept in a list: for tests and notebooks, which read what would have been sent."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from app.mail.base import Mailer, MailMessage

if TYPE_CHECKING:
    from app.core.config import Settings


class MemoryMailer(Mailer):
    def __init__(self, sender: str) -> None:
        super().__init__(sender)
        self.sent: list[MailMessage] = []
        """Every message sent, oldest first."""
        self._lock = threading.Lock()

    def send(self, message: MailMessage) -> None:
        with self._lock:
            self.sent.append(message)

    def to(self, address: str) -> list[MailMessage]:
        """The messages sent to `address`, oldest first."""
        with self._lock:
            return [message for message in self.sent if message.to == address]


def open_mailer(settings: Settings) -> MemoryMailer:
    return MemoryMailer(settings.MAIL_FROM)
