"""Mail through Amazon SES (the v2 API's `send_email`), with the AWS settings of the other AWS
backends: region, endpoint, timeouts and retries, credentials from the standard chain.

The message goes as raw MIME, the very bytes the SMTP backend sends, so both parts and every
header are the same whichever backend delivers it.
"""

from __future__ import annotations

from email.utils import parseaddr
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from app.core.aws import client_config
from app.mail.base import Mailer, MailMessage, sender_domain

if TYPE_CHECKING:
    from app.core.config import Settings


def ses_client(settings: Settings) -> Any:
    """An SESv2 client (untyped: boto3-stubs is installed for DynamoDB and S3 alone). Its own
    boto3 session: it is made once, when the mailer opens, and a session of its own is safe
    to make from any thread."""
    return boto3.session.Session().client(
        "sesv2",
        region_name=settings.AWS_REGION,
        endpoint_url=settings.SES_ENDPOINT_URL or settings.AWS_ENDPOINT_URL or None,
        config=client_config(settings),
    )


class SesMailer(Mailer):
    network_bound = True

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings.MAIL_FROM)
        self.client = ses_client(settings)

    def send(self, message: MailMessage) -> None:
        self.client.send_email(
            FromEmailAddress=self.sender,
            Destination={"ToAddresses": [message.to]},
            Content={"Raw": {"Data": self.mime(message).as_bytes()}},
        )

    def close(self) -> None:
        self.client.close()


def open_mailer(settings: Settings) -> SesMailer:
    return SesMailer(settings)


def verify_identity(settings: Settings) -> str:
    """Make sure SES may send as MAIL_FROM (`hangar init`): its address or its domain is a
    verified identity, or the address is registered now, which has SES mail it a link; what
    was found, as a sentence. A missing permission is reported, not raised: sending may
    still be allowed."""
    client = ses_client(settings)
    address = parseaddr(settings.MAIL_FROM)[1]
    try:
        for identity in (address, sender_domain(settings.MAIL_FROM)):
            try:
                found = client.get_email_identity(EmailIdentity=identity)
            except client.exceptions.NotFoundException:
                continue
            if found.get("VerifiedForSendingStatus"):
                return f"SES identity {identity} is verified for sending"
            return f"SES identity {identity} awaits verification (its link, mailed by SES)"
        client.create_email_identity(EmailIdentity=address)
        return f"SES identity {address} created: follow the link SES mailed to it"
    except (BotoCoreError, ClientError) as error:
        return f"SES identity {address} could not be checked: {error}"
    finally:
        client.close()
