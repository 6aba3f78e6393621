"""The impact measures' emails, rendered from contexts the lifecycle really makes: the reporter
told what they report, asked for each reading on its day, the boards told of silence, and the
auditor shown where each measure stands."""

from __future__ import annotations

import copy
from datetime import date, timedelta

from temporalio.testing import ActivityEnvironment

from activities.mail.delivery import MailActivities, link_for
from activities.mail.render import RenderedEmail
from links.signed import LINK_ROLES, LinkClaims, LinkSigner, signer_from_settings
from models.lifecycle import Lifecycle
from models.payloads import AgreeActionsInput, MailDelivery, Notification
from models.wording import MEASURE_TRACK
from tests import factories as f
from tests.activities.test_email_render import (
    MEASURES_REF,
    NOW,
    REPORTER_2,
    URL,
    all_notifications,
    measures_life,
    rendered,
)
from tests.activities.test_mail_delivery import inbox, parts

M1_NAME = "Qualifying cases with a professionals' meeting held"
M2_NAME = "Days to complete an initial sentence plan"
M3_NAME = "Health visiting records with the voice of the child"
KEY = "m" * 16 + "-test-key-for-measure-links-0123"
BASE_URL = "https://assure.example.org"


def _notification(
    kind: str, recipient: str, *, measure_id: str | None = None, about: str | None = None
) -> Notification:
    """The first ``kind`` the measures' lifecycle sent ``recipient`` (about ``measure_id``)."""
    for n in measures_life().state.outbox:
        measure = n.context.get("measure") or {}
        if (
            n.kind == kind
            and recipient in n.recipients
            and measure_id in (None, measure.get("measure_id"))
            and about in (None, n.context.get("about"))
        ):
            return n
    raise AssertionError(f"no {kind} to {recipient} about {measure_id or about}")


def _email(n: Notification, recipient: str, link: str | None = "default") -> RenderedEmail:
    return rendered(n.kind, n.context, recipient, link=link, sent_on=n.created_at.date())


def _link(n: Notification, recipient: str) -> str | None:
    """The reader's link as the delivery code mints it (None for a reader who only reads)."""
    return link_for(LinkSigner(KEY, timedelta(days=30)), BASE_URL, n.context, recipient)


class TestMeasureAssigned:
    def test_the_reporter_of_one_measure_hears_its_figures_how_often_and_the_first_day(self):
        """Agreed with the actions, a measure reaches its reporter: baseline, target and unit, how
        often, the first reading's day, and their link to record it."""
        life = Lifecycle.begin(f.start("CSPR-2026-01", measures=[]), workflow_id="recommendation-CSPR-2026-01", now=NOW)
        measure = f.measure(every="P3M", baseline_on=date(2025, 12, 1), target_by=date(2026, 12, 1))
        agree = AgreeActionsInput(
            by=f.SPONSOR, actions=[f.action("A1", NOW.date() + timedelta(days=90))], measures=[measure]
        )
        life.check(agree, NOW)
        life.apply(agree, NOW)
        [n] = [n for n in life.state.outbox if n.kind == "measure_assigned"]
        assert [f.REPORTER] == n.recipients
        link = _link(n, f.REPORTER)
        assert link is not None
        email = _email(n, f.REPORTER, link=link)
        assert email.subject.startswith("[CSPR-2026-01] Please report measure M1: first reading due 1 June 2026 — ")
        assert (
            "WHAT WE NEED FROM YOU\n"
            "An impact measure has been agreed for this recommendation, to show whether practice has changed. "
            "You report it.\n\n"
            "Please record its first reading by Monday 1 June 2026, and then one every 3 months.\n\n"
            f"Measure M1: {M1_NAME}\n"
            "- Target: 90% by 1 December 2026 (higher is better)\n"
            "- Baseline: 60% on 1 December 2025\n"
            "- How often: Every 3 months\n"
        ) in email.text
        assert "FIRST READING DUE: Monday 1 June 2026" in email.text
        assert f"Record a reading:\n{link}\n" in email.text
        assert (
            "If the first reading is not in by 1 June 2026:\n- you'll get a reminder\n"
            "- then it will go on the Review Board's escalation list, and its chair will be told\n"
            "- later, it will be escalated to the Assurance Board\n"
        ) in email.text
        assert (
            f"You are getting this because you report measure M1 ({M1_NAME}) for this recommendation."
        ) in email.text
        for html_part in ("90% by 1 December 2026 (higher is better)", ">Record a reading</a>", "Monday 1 June 2026"):
            assert html_part in email.html
        assert "professionals&#39; meeting held" in email.html

    def test_a_reporter_of_two_measures_gets_one_email_naming_both(self):
        """Two measures for one reporter come in one email, each with its unit, its direction and
        its day; a reading already collected shows where the measure stands."""
        n = _notification("measure_assigned", f.REPORTER)
        email = _email(n, f.REPORTER)
        assert email.subject.startswith(f"[{MEASURES_REF}] Please report measures M1 and M2: first reading due 1 June")
        assert (
            f"Measure M1: {M1_NAME}\n"
            "Off track: the latest reading, 62% on 15 January 2026, is below the 63.7% expected by then.\n"
            "- Note with the latest reading: December audit\n"
        ) in email.text
        assert (
            f"Measure M2: {M2_NAME}\n"
            "- Target: 15 days by 1 December 2026 (lower is better)\n"
            "- Baseline: 22 days on 1 December 2025\n"
            "- How often: Every 3 months\n"
            "- First reading due: Monday 1 June 2026\n"
        ) in email.text
        assert "If a reading is not in by the day it is due:\n" in email.text
        assert "You are getting this because you report measures M1 and M2 for this recommendation." in email.text
        assert M3_NAME not in email.text

    def test_a_measure_nobody_has_counted_yet_says_so(self):
        """With no baseline or target, the reporter reads that they are not set yet, and how often to report."""
        email = _email(_notification("measure_assigned", REPORTER_2), REPORTER_2)
        assert "- Target: Not set yet\n- Baseline: Not set yet\n- How often: Every 6 months\n" in email.text
        assert "Please record its first reading by Wednesday 2 September 2026, and then one every 6 months." in (
            email.text
        )


def test_a_measure_whose_target_date_has_passed_asks_for_no_reading_by_a_day():
    """No reading is owed: the email says so, rather than pointing to a day it does not show."""
    life = Lifecycle.begin(f.start("CSPR-2026-02"), workflow_id="recommendation-CSPR-2026-02", now=NOW)
    [n] = [n for n in life.state.outbox if n.kind == "measure_assigned"]
    email = _email(n, f.REPORTER)
    assert "No reading is owed now: its target date has passed. You may still record one whenever it is measured." in (
        email.text
    )
    assert "by the day shown below" not in email.text and "by the day shown below" not in email.html


class TestReadingDue:
    def test_the_reporter_is_asked_on_the_day_with_the_latest_reading_against_the_line(self):
        """On the owed day the reporter reads the ask first, where the measure stands, the day it
        was due and who hears next if it does not come in."""
        n = _notification("reading_due", f.REPORTER, measure_id="M1")
        assert date(2026, 6, 1) == n.created_at.date()
        link = _link(n, f.REPORTER)
        email = _email(n, f.REPORTER, link=link)
        assert email.subject.startswith(f"[{MEASURES_REF}] Please record the reading of measure M1, due 1 June 2026 — ")
        assert (
            "WHAT WE NEED FROM YOU\n"
            "Please record the reading now: the figure, and the day it was measured.\n\n"
            f"Measure M1: {M1_NAME}\n"
            "Off track: the latest reading, 62% on 15 January 2026, is below the 63.7% expected by then.\n"
            "- Note with the latest reading: December audit\n"
            "- Target: 90% by 1 December 2026 (higher is better)\n"
        ) in email.text
        assert "READING DUE: Monday 1 June 2026" in email.text
        assert f"Record the reading:\n{link}\n" in email.text
        assert (
            "IF NOTHING IS DONE\nIf the reading is still not recorded by 15 June 2026:\n"
            "- it will go on the Review Board's escalation list, and its chair will be told\n"
            "- later, it will be escalated to the Assurance Board\n"
        ) in email.text
        assert ">Off track:</span> the latest reading, 62% on 15 January 2026" in email.html

    def test_a_measure_that_should_fall_reads_on_track_below_its_line(self):
        """A days measure under its line is on track, in days, at or below what was expected."""
        email = _email(_notification("reading_due", f.REPORTER, measure_id="M2"), f.REPORTER)
        assert (
            "On track: the latest reading, 19 days on 1 March 2026, is at or below the 20.3 days expected by then."
        ) in email.text
        assert "You are getting this because you report measure M2 (Days to complete an initial sentence plan)" in (
            email.text
        )

    def test_a_measure_with_no_readings_says_there_is_no_data_yet(self):
        """A measure never read, with no baseline or target, reads "No data yet" and why."""
        email = _email(_notification("reading_due", REPORTER_2, measure_id="M3"), REPORTER_2)
        assert (
            f"Measure M3: {M3_NAME}\n"
            f"{MEASURE_TRACK['no_data']}: no reading has been recorded, and it has no baseline or target yet.\n"
        ) in email.text

    def test_a_late_copy_says_the_reading_was_due(self):
        """Read after its day (the message waited), the date is labelled as passed."""
        n = _notification("reading_due", f.REPORTER, measure_id="M1")
        email = rendered(n.kind, n.context, f.REPORTER, sent_on=date(2026, 6, 4))
        assert "WAS DUE: Monday 1 June 2026" in email.text


class TestLinks:
    def test_the_reporter_gets_a_reporter_link_and_nobody_else_named_gets_one(self):
        """Every measure email mints its reporter a link for the recommendation in the reporter's
        role; someone who only reads (no role that acts) gets no link, no button and no address."""
        signer = LinkSigner(KEY, timedelta(days=30))
        for kind in ("measure_assigned", "reading_due"):
            for n in (n for n in measures_life().state.outbox if n.kind == kind):
                for recipient in n.recipients:
                    link = link_for(signer, BASE_URL, n.context, recipient)
                    assert link is not None
                    claims = signer.read(link.rsplit("/", 1)[1])
                    assert LinkClaims(person=recipient, ref=MEASURES_REF, role="reporter") == claims
                bystander = f.ICB_LEAD
                assert None is link_for(signer, BASE_URL, n.context, bystander)
                email = rendered(kind, n.context, bystander, link=None)
                assert [] == URL.findall(email.text) + URL.findall(email.html)
                assert "Record a reading</a>" not in email.html and "Record the reading</a>" not in email.html
                assert "use your link" not in email.text

    def test_the_reporter_role_acts_from_a_link(self):
        """``reporter`` is a link role: the delivery code gives the reporter a link of their own."""
        assert "reporter" == LINK_ROLES["reporter"]

    async def test_the_reading_request_arrives_by_smtp_with_the_reporters_link(self, settings, database_url):
        """Sent through a real SMTP server, the reporter's message carries their link in both parts."""
        n = _notification("reading_due", f.REPORTER, measure_id="M1")
        delivery = MailDelivery(workflow_id=f"recommendation-{MEASURES_REF}", notification=n, recipient=f.REPORTER)
        result = await ActivityEnvironment().run(MailActivities(settings).deliver_mail, delivery)
        assert "sent" == result.status
        [message] = inbox(database_url, f.REPORTER)
        text, html = parts(message)
        [link] = [word for word in text.split() if word.startswith(f"{settings.base_url}/r/")]
        assert link in html and "Please record the reading of measure M1" in message["Subject"]
        claims = signer_from_settings(settings).read(link.rsplit("/", 1)[1])
        assert LinkClaims(person=f.REPORTER, ref=MEASURES_REF, role="reporter") == claims


class TestEscalations:
    def test_the_sponsoring_board_hears_whose_reading_is_missing_since_when_and_where_it_stands(self):
        """The board's escalation names the measure, its reporter, the day it was due and its
        latest figure against the line and the target, and what the board can do."""
        n = _notification("board_escalation", f.SPONSOR, about="reading")
        email = _email(n, f.SPONSOR, link=_link(n, f.SPONSOR))
        assert email.subject.startswith(
            f"[{MEASURES_REF}] Reading of measure M1 not recorded: escalated to the Review Board — "
        )
        assert (
            f"No reading of measure M1 ({M1_NAME}) has come in from {f.REPORTER}, who reports it. It was due on "
            "1 June 2026 (14 days ago). Off track: the latest reading, 62% on 15 January 2026, is below the 63.7% "
            "expected by then. Target: 90% by 1 December 2026.\n"
        ) in email.text
        for choice in (
            f"contact the reporter, {f.REPORTER}, to find out what is in the way",
            "if you have the figure, record the reading on their behalf from the recommendation page",
            "record the board's decision, so the reporter and the Assurance Board see it",
        ):
            assert f"- {choice}\n" in email.text
        assert "WAS DUE: Monday 1 June 2026" in email.text
        assert "If the reading is still not recorded by 13 July 2026, it will be escalated to the Assurance Board." in (
            email.text
        )
        assert "You are getting this because you sponsor this recommendation for the Review Board." in email.text

    def test_the_assurance_board_hears_the_same_and_that_a_member_may_record_it(self):
        """The Assurance Board's escalation says the same of the measure, and that a member can record the reading."""
        n = _notification("assurance_escalation", f.ASSURANCE, about="reading")
        email = _email(n, f.ASSURANCE)
        assert email.subject.startswith(
            f"[{MEASURES_REF}] Reading of measure M1 not recorded: escalated to the Assurance"
        )
        assert "It was due on 1 June 2026 (42 days ago)." in email.text
        assert "a member can record the reading on the reporter's behalf from the recommendation page" in email.text

    def test_a_digest_item_about_a_reading_says_whose_and_where_the_measure_stands(self):
        """In the board's daily digest, a reading escalation reads as it does in its own email."""
        escalations = [n for n in measures_life().state.outbox if n.kind == "board_escalation"]
        items = [
            {**copy.deepcopy(n.context), "kind": n.kind, "link": f"{BASE_URL}/r/tok{i}"}
            for i, n in enumerate(escalations)
        ]
        context = {"board": "Review Board", "day": "2026-06-16", "items": items}
        email = rendered("board_digest", context, f.SPONSOR, link=None)
        assert "1. Reading of measure M1 not recorded: escalated to the Review Board\n" in email.text
        assert (
            f"   No reading of measure M1 ({M1_NAME}) has come in from {f.REPORTER}, who reports it. It was due on "
            "1 June 2026 (15 days ago). Off track: the latest reading, 62% on 15 January 2026"
        ) in email.text


class TestTheAuditorsTask:
    def test_the_audit_task_shows_each_measure_against_its_target_and_asks_for_a_reason(self):
        """The auditor reads every measure in the one table's words, the latest reading against the
        line and the target, and that "embedded" with M1 off track needs a reason."""
        email = _email(_notification("audit_due", f.AUDITOR), f.AUDITOR)
        assert (
            "HOW THE IMPACT MEASURES STAND\n"
            f"- M1 ({M1_NAME})\n"
            "  Off track: the latest reading, 70% on 20 July 2026, is below the 79% expected by then. "
            "Target: 90% by 1 December 2026.\n"
            f"- M2 ({M2_NAME})\n"
            "  On track: the latest reading, 17 days on 2 June 2026, is at or below the 18.5 days expected by then. "
            "Target: 15 days by 1 December 2026.\n"
            f"- M3 ({M3_NAME})\n"
            "  No data yet: no reading has been recorded, and it has no baseline or target yet.\n\n"
            "Measure M1 is off track. If you record the change as embedded, you'll be asked to say why, and the "
            "audit keeps your reason.\n"
        ) in email.text
        assert "How the impact measures stand</h2>" in email.html
        assert ">Off track:</span>" in email.html and ">No data yet:</span>" in email.html

    def test_with_nothing_off_track_the_task_says_what_embedded_would_ask(self):
        """With no measure off track the auditor still hears that an off-track measure would need a reason."""
        n = next(n for n in all_notifications()["audit_due"] if n.context["ref"] == "CSPR-2023-01")
        email = rendered("audit_due", n.context, f.AUDITOR, sent_on=n.created_at.date())
        assert f"- M1 ({M1_NAME})\n  No data yet: no reading has been recorded. Target: 90% by 14 March 2024.\n" in (
            email.text
        )
        assert (
            "If a measure is off track when you record the audit, recording the change as embedded needs a reason, "
            "which the audit keeps."
        ) in email.text

    def test_the_re_audit_task_shows_the_measures_too(self):
        """The re-audit's task has the same section, about the re-audit."""
        n = next(n for n in all_notifications()["re_audit_due"] if n.context["ref"] == "CSPR-2023-01")
        email = rendered("re_audit_due", n.context, f.AUDITOR, sent_on=n.created_at.date())
        assert "HOW THE IMPACT MEASURES STAND\n- M1 (" in email.text
        assert "which the re-audit keeps." in email.text

    def test_an_audit_without_measures_has_no_measures_section(self):
        """A recommendation with no measures shows none (older contexts carry no ``measures``)."""
        n = next(n for n in all_notifications()["audit_due"] if n.context["ref"] == "CSPR-2023-01")
        context = copy.deepcopy(n.context)
        context.pop("measures", None)
        email = rendered("audit_due", context, f.AUDITOR)
        assert "IMPACT MEASURES" not in email.text and "off track" not in email.text


class TestTheFreshLink:
    def test_a_reporters_fresh_link_names_their_measures(self):
        """A fresh link for a reporter says which measures they report, and is a reporter link."""
        n = next(n for n in all_notifications()["fresh_link"] if f.REPORTER in n.recipients)
        assert {f.REPORTER: "reporter"} == n.context["roles"]
        assert ["M1", "M2"] == [m["measure_id"] for m in n.context["measures"]]
        link = _link(n, f.REPORTER)
        email = _email(n, f.REPORTER, link=link)
        assert "You are getting this because you report measures M1 and M2 for this recommendation." in email.text
        assert f"Respond now:\n{link}\n" in email.text
        assert REPORTER_2 not in email.text
