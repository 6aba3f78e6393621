"""The development mail catcher is a real SMTP server that keeps every message in the store."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib
import pytest

from store.db import session_scope
from store.read_model import caught_mail


@pytest.fixture
def catcher(mail_port):
    return mail_port


class TestMailCatcher:
    async def test_a_sent_message_is_kept_whole(self, catcher, database_url):
        """A multipart message sent over SMTP is stored with its envelope, subject, Message-ID and both parts."""
        message = EmailMessage()
        message["From"] = "Assure <assure@mk.example>"
        message["To"] = "named.nurse@icb.example"
        message["Subject"] = "Action A1: please confirm you have it"
        message["Message-ID"] = "<recommendation-X.1.task_assigned@assure>"
        message.set_content("Plain text part")
        message.add_alternative("<p>HTML part</p>", subtype="html")
        await aiosmtplib.send(message, hostname="127.0.0.1", port=catcher)

        with session_scope(database_url) as session:
            rows = caught_mail(session=session, recipient="Named.Nurse@icb.example")
            assert 1 == len(rows)
            row = rows[0]
            assert (["named.nurse@icb.example"], "assure@mk.example") == (row.recipients, row.mail_from)
            assert "Action A1: please confirm you have it" == row.subject
            assert "<recommendation-X.1.task_assigned@assure>" == row.message_id
            assert "Plain text part" in row.raw and "<p>HTML part</p>" in row.raw

    async def test_mail_for_someone_else_is_not_listed_for_a_recipient(self, catcher, database_url):
        """Filtering by recipient leaves out other people's mail."""
        message = EmailMessage()
        message["From"] = "assure@mk.example"
        message["To"] = "review.sponsor@mk.example"
        message["Subject"] = "Escalation"
        message.set_content("x")
        await aiosmtplib.send(message, hostname="127.0.0.1", port=catcher)
        with session_scope(database_url) as session:
            assert [] == caught_mail(session=session, recipient="named.nurse@icb.example")
            assert 1 == len(caught_mail(session=session))
