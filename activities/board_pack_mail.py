"""The board pack activity: render the month's pack and email it to each Assurance Board member,
once each (a Message-ID fixed per month and person, and the sent log)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage

import structlog
from sqlmodel import select
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from activities.mail.message import addressed_message, mail_domain, message_id_for
from activities.mail.smtp import PermanentSendFailure, Relay, TemporarySendFailure
from models.kinds import MessageKind
from models.payloads import SEND_BOARD_PACK, BoardPackInput, BoardPackResult, Notification
from reports.board_pack import board_pack_data, render_board_pack, sign_off_gaps_of
from settings import Settings
from store.db import session_scope
from store.read_model import record_sent_mail, sent_mail_statuses
from store.tables import Person

log = structlog.get_logger(__name__)


class BoardPackActivities:
    def __init__(self, settings: Settings, client: Client) -> None:
        self.settings = settings
        self.client = client

    @activity.defn(name=SEND_BOARD_PACK)
    async def send_board_pack(self, request: BoardPackInput) -> BoardPackResult:
        assert request.month is not None  # the workflow fills it in
        month = request.month
        url = self.settings.database_url
        with session_scope(url) as session:
            members = sorted(p.email for p in session.exec(select(Person)) if "assurance_member" in p.role_list())
            pack = board_pack_data(session=session, month=month, now=datetime.now(UTC))
        pack.gaps = await sign_off_gaps_of(self.client, [s.ref for s in pack.awaiting_sign_off])
        html = render_board_pack(pack)
        label = f"{month:%B %Y}"
        notification = Notification(
            key=f"board-pack/{month.isoformat()}", kind=MessageKind.board_pack, recipients=members, context={},
            created_at=datetime.now(UTC),
        )  # fmt: skip
        domain = mail_domain(self.settings.mail_from)
        message_ids = {member: message_id_for(notification.key, member, domain) for member in members}
        with session_scope(url) as session:
            earlier = sent_mail_statuses(session=session, message_ids=list(message_ids.values()))
        sent = 0
        # One connection to the relay for the whole Board.
        async with Relay(self.settings) as relay:
            for member, message_id in message_ids.items():
                activity.heartbeat()
                if earlier.get(message_id) == "sent":
                    continue
                message = _pack_message(self.settings.mail_from, member, label, html, message_id)
                try:
                    await relay.send(message)
                except TemporarySendFailure as exc:
                    raise ApplicationError(str(exc), type="MailDeferred") from None
                except PermanentSendFailure as exc:
                    log.warning("board_pack_bounced", smtp_code=exc.code)
                    status = "bounced"
                else:
                    status, sent = "sent", sent + 1
                with session_scope(url) as session:
                    record_sent_mail(
                        session=session,
                        message_id=message_id,
                        notification=notification,
                        recipient=member,
                        status=status,
                    )
        log.info("board_pack_sent", month=month.isoformat(), recipients=len(members), sent=sent)
        return BoardPackResult(month=month, recipients=members, sent=sent)


def _pack_message(mail_from: str, recipient: str, label: str, html: str, message_id: str) -> EmailMessage:
    message = addressed_message(
        mail_from=mail_from,
        recipient=recipient,
        subject=f"Assurance Board pack: {label}",
        message_id=message_id,
        sent_at=datetime.now(UTC),
    )
    message.set_content(
        f"The Assurance Board pack for {label} is attached as one HTML file: open it in a browser.\n"
        "It shows what awaits sign-off, how far the learning has reached each agency's staff, what is overdue\n"
        "or escalated, the audits, and the month's changes.\n"
    )
    message.add_attachment(
        html.encode("utf-8"), maintype="text", subtype="html", filename=f"board-pack-{label.replace(' ', '-')}.html"
    )
    return message
