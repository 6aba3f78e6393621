"""Send messages over SMTP, telling temporary failures (retry) from permanent ones (a bounce)."""

from __future__ import annotations

import email.errors
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr

import aiosmtplib

from activities.mail.message import SMTP_POLICY
from settings import Settings


class TemporarySendFailure(Exception):
    """The relay could not take the message now (down, busy, 4xx): try again later."""


class UnsendableMessage(Exception):
    """The message cannot be put on the wire as it is (an address or header that does not
    encode): the same on every try, so never retried. The text names the error's type only."""


class PermanentSendFailure(Exception):
    """The relay refused the message for good (5xx, e.g. unknown mailbox)."""

    def __init__(self, code: int, detail: str) -> None:
        super().__init__(f"{code} {detail}")
        self.code = code
        self.detail = detail


async def send(settings: Settings, message: EmailMessage, *, timeout: float = 30.0) -> None:
    """Hand ``message`` to the configured relay over a connection of its own, or raise one of the
    two failures above."""
    async with Relay(settings, timeout=timeout) as relay:
        await relay.send(message)


class Relay:
    """One connection to the relay for several messages (a batch of deliveries), opened at the
    first message and closed on leaving. After a refused message the connection carries on
    (aiosmtplib resets the envelope); after a dropped one the next message reconnects."""

    def __init__(self, settings: Settings, *, timeout: float = 30.0) -> None:
        self.settings = settings
        self.timeout = timeout
        self._smtp: aiosmtplib.SMTP | None = None

    async def __aenter__(self) -> Relay:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None and smtp.is_connected:
            try:
                await smtp.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                smtp.close()  # the messages are handed over; a failed goodbye loses nothing

    async def send(self, message: EmailMessage) -> None:
        """Hand over one message, or raise ``TemporarySendFailure`` / ``PermanentSendFailure``."""
        # Flattened here with our policy: aiosmtplib's own folds headers at 78 characters, and a
        # folded subject around an encoded word (a dash, an accent) reads with a doubled space.
        try:
            raw = message.as_bytes(policy=SMTP_POLICY)
            sender = parseaddr(str(message["From"]))[1]
            recipients = [address for _, address in getaddresses([str(message["To"])])]
        except (ValueError, email.errors.MessageError) as exc:  # a header defect, an encoding error
            raise UnsendableMessage(type(exc).__name__) from None
        with _classified_failures():
            smtp = await self._connected()
            await smtp.sendmail(sender, recipients, raw, timeout=self.timeout)

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._smtp is not None and self._smtp.is_connected:
            return self._smtp
        settings = self.settings
        smtp = aiosmtplib.SMTP(
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            use_tls=settings.smtp_tls == "implicit",
            start_tls=settings.smtp_tls == "starttls",
            cert_bundle=str(settings.smtp_ca_file) if settings.smtp_ca_file else None,
            timeout=self.timeout,
        )
        try:
            await smtp.connect()
        except BaseException:
            smtp.close()
            raise
        self._smtp = smtp
        return smtp


@contextmanager
def _classified_failures() -> Iterator[None]:
    """Turn aiosmtplib's and the network's errors into a retry or a bounce."""
    try:
        yield
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
