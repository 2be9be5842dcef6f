"""Mail through an SMTP server with the standard library: STARTTLS, TLS from the first byte,
or (for a relay on the same host) neither; a login when credentials are set.

One connection per message: Hangar sends a mail now and then (a registration, a reset), where
a pooled connection would mostly be one the server has already closed.
"""

from __future__ import annotations

import smtplib
import ssl
from typing import TYPE_CHECKING

from app.mail.base import Mailer, MailMessage

if TYPE_CHECKING:
    from app.core.config import Settings


class SmtpMailer(Mailer):
    network_bound = True

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings.MAIL_FROM)
        self.host = settings.SMTP_HOST
        self.port = settings.SMTP_PORT
        self.security = settings.SMTP_SECURITY
        self.username = settings.SMTP_USERNAME
        self.password = settings.SMTP_PASSWORD
        self.timeout = settings.SMTP_TIMEOUT_SECONDS

    def _connect(self) -> smtplib.SMTP:
        # The system's trust store and hostname checks (SSL_CERT_FILE points it elsewhere).
        context = ssl.create_default_context()
        if self.security == "tls":
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        connection = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        if self.security == "starttls":
            try:
                connection.starttls(context=context)
            except BaseException:
                connection.close()
                raise
        return connection

    def send(self, message: MailMessage) -> None:
        with self._connect() as connection:
            if self.username is not None:
                password = self.password.get_secret_value() if self.password else ""
                connection.login(self.username, password)
            connection.send_message(self.mime(message))


def open_mailer(settings: Settings) -> SmtpMailer:
    return SmtpMailer(settings)
