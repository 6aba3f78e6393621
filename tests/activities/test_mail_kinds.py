"""Every notification kind, delivered through a real SMTP server and read back as a reader gets it."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from temporalio.testing import ActivityEnvironment

from activities.mail.delivery import MailActivities
from activities.mail.message import mail_domain, message_id_for, thread_id_for
from links.signed import LINK_ROLES, signer_from_settings
from models.payloads import BoardDigestInput, MailDelivery
from tests.activities.test_email_render import ALL_KINDS, all_notifications
from tests.activities.test_mail_delivery import inbox, parts
from workflows.board_digest import digest_notification


def delivery_of(kind: str) -> MailDelivery:
    """One real (notification, recipient) of ``kind``; a reader who acts from a link where there is one."""
    if kind == "board_digest":
        escalations = all_notifications()["board_escalation"]
        sponsor = next(r for r in escalations[0].recipients if escalations[0].context["roles"][r] == "board_sponsor")
        items = [MailDelivery(workflow_id="w", notification=n, recipient=sponsor) for n in escalations[:2]]
        start = BoardDigestInput(board="Review Board", recipient=sponsor, day=date(2026, 3, 2))
        digest = digest_notification(start, items, key="digest-w/run/1", created_at=escalations[0].created_at)
        return MailDelivery(workflow_id="digest-w", notification=digest, recipient=sponsor)
    notification = all_notifications()[kind][0]
    roles = notification.context["roles"]
    recipient = next((r for r in notification.recipients if roles.get(r) in LINK_ROLES), notification.recipients[0])
    return MailDelivery(workflow_id="recommendation-X", notification=notification, recipient=recipient)


class TestEveryKindArrives:
    @pytest.mark.parametrize("kind", ALL_KINDS)
    async def test_the_message_arrives_whole(self, kind, settings, database_url):
        """The reader gets one multipart message: their address, the ref, both parts, their link, the thread."""
        delivery = delivery_of(kind)
        result = await ActivityEnvironment().run(MailActivities(settings).deliver_mail, delivery)
        assert "sent" == result.status

        [message] = inbox(database_url, delivery.recipient)
        context = delivery.notification.context
        domain = mail_domain(settings.mail_from)
        assert (delivery.recipient, "multipart/alternative") == (message["To"], message.get_content_type())
        assert message_id_for(delivery.notification.key, delivery.recipient, domain) == message["Message-ID"]
        root = thread_id_for(context["thread"], domain)
        assert (root, root) == (message["In-Reply-To"], message["References"])
        refs = [item["ref"] for item in context["items"]] if kind == "board_digest" else [context["ref"]]
        assert all(ref in message["Subject"] for ref in refs)
        text, html = parts(message)
        assert text.strip() and "<html" in html.lower()

        links = [word for word in text.split() if word.startswith(f"{settings.base_url}/r/")]
        acts = kind == "board_digest" or context["roles"].get(delivery.recipient) in LINK_ROLES
        assert acts == bool(links)
        signer = signer_from_settings(settings)
        for link in links:
            assert link in html
            claims = signer.read(link.rsplit("/", 1)[1])
            assert (delivery.recipient, True) == (claims.person, claims.ref in refs)

    async def test_a_second_delivery_of_the_same_message_sends_nothing(self, settings, database_url):
        """Running the activity again for a message in the sent log does not send it again."""
        delivery = delivery_of("task_assigned")
        activity = MailActivities(settings).deliver_mail
        first = await ActivityEnvironment().run(activity, delivery)
        second = await ActivityEnvironment().run(activity, delivery)
        assert ("sent", "already_sent") == (first.status, second.status)
        assert 1 == len(inbox(database_url, delivery.recipient))


class TestHeaders:
    def test_a_long_subject_survives_the_trip_unchanged(self):
        """A long non-ASCII subject and a CR/LF-laden one come back exactly as one clean line."""
        from email import message_from_bytes
        from email.policy import default as default_policy

        from activities.mail.message import build_message, header_safe

        long_subject = "[CSPR-2023-01] Action A2 overdue: escalated to the Review Board — " + "Siân Ó Briain " * 8
        for subject, expected in [
            (long_subject, header_safe(long_subject)),
            ("Ordinary title\r\nBcc: evil@example.com", "Ordinary title Bcc: evil@example.com"),
        ]:
            message = build_message(
                mail_from="Assure <assure@mk.example>",
                recipient="named.nurse@icb.example",
                subject=subject,
                text="t",
                html="<p>h</p>",
                message_id="<a@mk.example>",
                thread_root="<t@mk.example>",
                sent_at=datetime(2026, 3, 2, 9, tzinfo=UTC),
            )
            parsed = message_from_bytes(message.as_bytes(), policy=default_policy)
            assert (expected, None) == (parsed["Subject"], parsed["Bcc"])
            assert "  " not in parsed["Subject"]
