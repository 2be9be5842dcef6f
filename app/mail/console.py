"""Mail printed to the terminal instead of sent: the local default, so a developer can follow
a verification or reset link without a mail server.

It writes to a stream (stderr), not to the logging system, so log collectors never receive a
link's token; and outside the throwaway profiles (APP_ENV local and test), where stderr may
well be collected, it withholds every body and warns that nothing was sent.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, TextIO

from app.core.config import THROWAWAY_ENVS
from app.mail.base import Mailer, MailMessage

if TYPE_CHECKING:
    from app.core.config import Settings

logger = logging.getLogger("app.mail")


class ConsoleMailer(Mailer):
    def __init__(
        self, sender: str, *, show_body: bool = True, stream: TextIO | None = None
    ) -> None:
        super().__init__(sender)
        self.show_body = show_body
        self.stream = stream

    def send(self, message: MailMessage) -> None:
        if not self.show_body:
            logger.warning(
                "a mail to %s (%s) was not sent: MAIL_TYPE is console; set it to smtp or ses",
                message.to,
                message.subject,
            )
            return
        stream = self.stream or sys.stderr
        rule = "-" * 72
        stream.write(
            f"{rule}\nFrom: {self.sender}\nTo: {message.to}\nSubject: {message.subject}\n\n"
            f"{message.text}\n{rule}\n"
        )
        stream.flush()


def open_mailer(settings: Settings) -> ConsoleMailer:
    return ConsoleMailer(settings.MAIL_FROM, show_body=settings.APP_ENV in THROWAWAY_ENVS)
