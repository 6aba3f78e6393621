"""Send one message over SMTP, telling temporary failures (retry) from permanent ones (a bounce)."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import getaddresses, parseaddr

import aiosmtplib

from activities.mail.message import SMTP_POLICY
from settings import Settings


class TemporarySendFailure(Exception):
    """The relay could not take the message now (down, busy, 4xx): try again later."""


class PermanentSendFailure(Exception):
    """The relay refused the message for good (5xx, e.g. unknown mailbox)."""

    def __init__(self, code: int, detail: str) -> None:
        super().__init__(f"{code} {detail}")
        self.code = code
        self.detail = detail


async def send(settings: Settings, message: EmailMessage, *, timeout: float = 30.0) -> None:
    """Hand ``message`` to the configured relay, or raise one of the two failures above."""
    # Flattened here with our policy: aiosmtplib's own folds headers at 78 characters, and a folded
    # subject around an encoded word (a dash, an accent) reads with a doubled space.
    raw = message.as_bytes(policy=SMTP_POLICY)
    sender = parseaddr(str(message["From"]))[1]
    recipients = [address for _, address in getaddresses([str(message["To"])])]
    try:
        await aiosmtplib.send(
            raw,
            sender=sender,
            recipients=recipients,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            use_tls=settings.smtp_tls == "implicit",
            start_tls=settings.smtp_tls == "starttls",
            cert_bundle=str(settings.smtp_ca_file) if settings.smtp_ca_file else None,
            timeout=timeout,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        first = exc.recipients[0] if exc.recipients else None
        code = first.code if first else 550
        if 400 <= code < 500:
            raise TemporarySendFailure(f"recipient deferred ({code})") from exc
        raise PermanentSendFailure(code, first.message if first else "recipient refused") from exc
    except (aiosmtplib.SMTPAuthenticationError, aiosmtplib.SMTPSenderRefused) as exc:
        # Our configuration, not the reader's mailbox: keep retrying while an operator fixes it.
        raise TemporarySendFailure(f"relay refused our credentials or sender ({exc.code})") from exc
    except aiosmtplib.SMTPResponseException as exc:
        if 500 <= exc.code < 600:
            raise PermanentSendFailure(exc.code, exc.message) from exc
        raise TemporarySendFailure(f"relay answered {exc.code}") from exc
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        raise TemporarySendFailure(f"relay unreachable: {type(exc).__name__}") from exc
