"""The development mail catcher: a real SMTP server (aiosmtpd) that keeps every message it gets.

``assure mailcatcher`` runs it on ``ASSURE_SMTP_HOST:ASSURE_SMTP_PORT``; ``assure dev`` starts it
beside Temporal and the worker, and the tests send to it. Nothing it receives leaves the machine.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from email import message_from_bytes
from email.policy import default as default_policy

import structlog
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from store.db import init_db, session_scope
from store.read_model import record_caught_mail
from store.tables import CaughtMail

log = structlog.get_logger(__name__)


class CatchingHandler:
    """aiosmtpd handler that stores each message in the SQL store and accepts it."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 (aiosmtpd's name)
        content = envelope.original_content or envelope.content or b""
        raw = content if isinstance(content, bytes) else content.encode()
        message = message_from_bytes(raw, policy=default_policy)
        mail = CaughtMail(
            received_at=datetime.now(UTC),
            mail_from=str(envelope.mail_from or ""),
            recipients=[str(r) for r in envelope.rcpt_tos],
            subject=str(message.get("Subject", "")),
            message_id=str(message.get("Message-ID", "")),
            raw=raw.decode("utf-8", errors="replace"),
        )
        recipient_count = len(envelope.rcpt_tos)
        await asyncio.to_thread(self._store, mail)
        # Counts only: addresses and subjects are personal data.
        log.info("mail_caught", recipients=recipient_count, size=len(raw))
        return "250 Message accepted for delivery"

    def _store(self, mail: CaughtMail) -> None:
        with session_scope(self.database_url) as session:
            record_caught_mail(session=session, mail=mail)


def start_mailcatcher(*, host: str, port: int, database_url: str) -> Controller:
    """Start the catcher in its own thread; call ``.stop()`` on the result to stop it."""
    init_db(database_url)
    controller = Controller(CatchingHandler(database_url), hostname=host, port=port)
    controller.start()
    log.info("mailcatcher_started", host=host, port=port)
    return controller
