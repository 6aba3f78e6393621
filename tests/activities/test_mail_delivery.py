"""Email delivery end to end: the workflow's notifications arrive over real SMTP, each once."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_string
from email.message import EmailMessage
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller

from activities.mail.message import mail_domain, message_id_for, thread_id_for
from devtools.mailcatcher import CatchingHandler
from models.calendar import roll_forward
from models.payloads import AcknowledgeInput, EscalationLevel, EscalationPolicy, Stage, WithdrawInput
from store.db import session_scope
from store.read_model import caught_mail, sent_log
from tests import factories as f
from tests.helpers import days, decide, eventually, sent, skip_to, status, today


def inbox(database_url: str, recipient: str | None = None) -> list[EmailMessage]:
    """Every message the test's mail catcher received (for ``recipient``), parsed."""
    with session_scope(database_url) as session:
        raws = [row.raw for row in caught_mail(session=session, recipient=recipient)]
    return [message_from_string(raw, policy=default_policy) for raw in raws]


def parts(message: EmailMessage) -> tuple[str, str]:
    """The plain-text and HTML bodies of a multipart/alternative message."""
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    return text, html


class TestDelivery:
    async def test_a_new_task_reaches_its_owner_with_a_personal_link_in_a_thread(
        self, env, start, settings, database_url
    ):
        """The owner gets one multipart message: subject with the ref, both parts, their link, thread headers."""
        now = await today(env)
        handle = await start(f.start("MAIL-TASK", actions=[f.action("A1", now + days(30))]))
        messages = await eventually(lambda: inbox(database_url, f.OWNER))
        assert 1 == len(messages)
        message = messages[0]
        assert (f.OWNER, "multipart/alternative") == (message["To"], message.get_content_type())
        assert "MAIL-TASK" in message["Subject"]
        # Long, with a non-ASCII dash: it arrives unfolded, read with single spaces, as it was written.
        assert " — Professionals' meetings" in message["Subject"] and "  " not in message["Subject"]
        text, html = parts(message)
        link_prefix = f"{settings.base_url}/r/"
        assert link_prefix in text and link_prefix in html
        [notification] = [n for n in sent(database_url, "MAIL-TASK") if n.kind == "task_assigned"]
        domain = mail_domain(settings.mail_from)
        assert message_id_for(notification.key, f.OWNER, domain) == message["Message-ID"]
        root = thread_id_for(notification.context["thread"], domain)
        assert (root, root) == (message["In-Reply-To"], message["References"])
        await decide(handle, "withdraw", WithdrawInput(by=f.SPONSOR, reason="done"))
        await handle.result()
        withdrawn = [m for m in inbox(database_url, f.OWNER) if m["Message-ID"] != message["Message-ID"]]
        assert [root] == [m["References"] for m in withdrawn]  # the same thread

    async def test_no_message_is_delivered_twice(self, env, start, database_url):
        """Through a lifecycle with several notifications, each message arrives exactly once and is logged once."""
        now = await today(env)
        handle = await start(f.start("MAIL-ONCE", actions=[f.action("A1", now + days(10))]))
        await decide(handle, "acknowledge", AcknowledgeInput(by=f.OWNER, action_id="A1"))
        await env.sleep(timedelta(days=12))
        await decide(handle, "withdraw", WithdrawInput(by=f.SPONSOR, reason="done"))
        await handle.result()
        expected = sum(len(n.recipients) for n in sent(database_url, "MAIL-ONCE"))
        ids = [m["Message-ID"] for m in inbox(database_url)]
        assert expected == len(ids)
        assert len(ids) == len(set(ids))
        with session_scope(database_url) as session:
            assert sorted(ids) == sorted(row.message_id for row in sent_log(session=session, ref="MAIL-ONCE"))


class RefusingHandler(CatchingHandler):
    """A relay that knows no mailbox for one address (550) and keeps the rest."""

    def __init__(self, database_url: str, unknown: str) -> None:
        super().__init__(database_url)
        self.unknown = unknown

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 (aiosmtpd's name)
        if address.lower() == self.unknown:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"


class TestFailures:
    @pytest.fixture
    def mail_port(self, database_url):
        """This class's relay refuses the owner's address for good."""
        from tests.helpers import free_port

        port = free_port()
        controller = Controller(RefusingHandler(database_url, f.OWNER), hostname="127.0.0.1", port=port)
        controller.start()
        yield port
        controller.stop()

    async def test_a_permanent_refusal_escalates_owner_unreachable(self, env, start, database_url):
        """A 550 for the owner's mailbox is logged as bounced and the sponsoring board is told the owner is unreachable."""
        now = await today(env)
        handle = await start(f.start("MAIL-550", actions=[f.action("A1", now + days(30))]))
        result = await eventually(lambda: [m for m in inbox(database_url, f.SPONSOR)])
        assert 1 == len(result)
        current = await status(handle)
        unreachable = [e for e in current.escalations if e.kind == "owner_unreachable"]
        assert [(EscalationLevel.sponsoring_board, sorted([f.SPONSOR, f.CHAIR]))] == [
            (e.level, e.recipients) for e in unreachable
        ]
        assert "mail_bounced" in [e.kind for e in current.timeline]
        with session_scope(database_url) as session:
            log = sent_log(session=session, ref="MAIL-550")
            assert [("bounced", 550)] == [(r.status, r.smtp_code) for r in log if r.recipient == f.OWNER]
        assert Stage.action == current.stage


class TestRelayDown:
    @pytest.fixture
    def mail_port(self):
        """No relay listening yet: the test starts one later on this port."""
        from tests.helpers import free_port

        return free_port()

    async def test_everything_is_delivered_once_the_relay_is_back(self, env, start, database_url, mail_port):
        """Messages queued while the relay is down are all delivered, once each, when it comes back."""
        now = await today(env)
        handle = await start(f.start("MAIL-DOWN", actions=[f.action("A1", now + days(30))]))
        await decide(handle, "acknowledge", AcknowledgeInput(by=f.OWNER, action_id="A1"))
        await env.sleep(timedelta(minutes=5))  # several retries against a closed port
        assert [] == inbox(database_url)
        controller = Controller(CatchingHandler(database_url), hostname="127.0.0.1", port=mail_port)
        controller.start()
        try:
            await env.sleep(timedelta(hours=1))  # the next retry finds the relay
            messages = await eventually(lambda: inbox(database_url, f.OWNER))
            assert ["task_assigned"] == [n.kind for n in sent(database_url, "MAIL-DOWN") if f.OWNER in n.recipients]
            assert 1 == len(messages)
            await decide(handle, "withdraw", WithdrawInput(by=f.SPONSOR, reason="done"))
            await handle.result()
        finally:
            controller.stop()


class TestBoardDigest:
    async def test_a_sponsor_gets_one_digest_for_a_days_escalations(self, env, start, database_url):
        """Two recommendations escalated to the board on the same day reach its sponsor as one email listing both."""
        policy = EscalationPolicy(agency_lead_after="P1D", board_after="P2D", assurance_after="P30D")
        now = await today(env)
        due = now + days(3)
        handles = [
            await start(f.start(ref, actions=[f.action("A1", due)], policy=policy)) for ref in ("DIGEST-1", "DIGEST-2")
        ]
        for handle in handles:
            await decide(handle, "acknowledge", AcknowledgeInput(by=f.OWNER, action_id="A1"))
        # The digest goes out at 16:00 on the escalation's working day (Monday after a weekend).
        await skip_to(env, roll_forward(due + days(2)), hour=17)

        def digests():
            return [m for m in inbox(database_url, f.SPONSOR) if "DIGEST-1" in parts(m)[0]]

        [digest] = await eventually(digests)
        text, html = parts(digest)
        assert "DIGEST-2" in text and "DIGEST-2" in html
        assert 2 == text.count("https://assure.mktogether.example/r/")
        chair = [m for m in inbox(database_url, f.CHAIR) if "DIGEST-1" in parts(m)[0]]
        assert 1 == len(chair)

    async def test_a_person_on_two_boards_gets_one_digest_a_day_for_both(self, env, start, database_url):
        """Someone who sponsors one board and chairs another gets one digest on a day both escalate, naming both boards."""
        policy = EscalationPolicy(agency_lead_after="P1D", board_after="P2D", assurance_after="P30D")
        now = await today(env)
        due = now + days(3)
        review = f.start("DIGEST-R", actions=[f.action("A1", due)], policy=policy)
        risk = f.start("DIGEST-K", actions=[f.action("A1", due)], policy=policy)
        risk = risk.model_copy(
            update={
                "recommendation": risk.recommendation.model_copy(update={"board": "Risk Board"}),
                "parties": risk.parties.model_copy(update={"board_sponsors": [f.CHAIR], "board_chair": f.SPONSOR}),
            }
        )
        for handle in [await start(review), await start(risk)]:
            await decide(handle, "acknowledge", AcknowledgeInput(by=f.OWNER, action_id="A1"))
        await skip_to(env, roll_forward(due + days(2)), hour=17)

        def digests():
            return [m for m in inbox(database_url, f.SPONSOR) if "escalation" in str(m["Subject"])]

        [digest] = await eventually(digests)
        text, _ = parts(digest)
        assert "DIGEST-R" in text and "DIGEST-K" in text
        assert "the Review Board and the Risk Board" in str(digest["Subject"])
