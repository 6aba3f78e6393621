"""People change, on the time-skipping server: an absence's mail goes to the deputy and comes back
after it, an absence without a deputy goes to the agency lead, a deputy's decision is recorded as
acting for the absent person, a leaver's parts pass to the successor across stages with their old
links refused, and a board's new policy moves the next rung."""

from __future__ import annotations

import email
from datetime import UTC, date, datetime, timedelta
from email.policy import default as default_policy

import httpx
import pytest
import pytest_asyncio
from sqlmodel import select

from gateway.people import hand_over_progress, start_hand_over, tell_agency_lead_of_uncovered_absence
from gateway.registry_sync import sync_registry
from gateway.workflows import reader_status, recommendation_status
from models.payloads import (
    Absence,
    AcknowledgeInput,
    EscalationLevel,
    EscalationPolicy,
    Stage,
    SubmitPlansInput,
)
from store.db import session_scope
from store.read_model import board_context
from store.read_model import caught_mail as caught_rows
from store.tables import AbsenceRow, Board, Person
from tests import factories as f
from tests.helpers import (
    WorkflowHandle,
    decide,
    end_when_idle,
    eventually,
    refused,
    seed_registry,
    sent,
    skip_to,
    status,
    status_with_escalations,
    stored_row,
    today,
)
from tests.web_client import Browser, text_of, token_for
from web.app import create_app

L = EscalationLevel
QUIET = EscalationPolicy(progress_every="P1Y")


def with_absences(payload, *absences: Absence):
    parties = payload.parties.model_copy(update={"absences": list(absences)})
    return payload.model_copy(update={"parties": parties})


def caught_mail(database_url: str) -> list[tuple[list[str], str, str]]:
    """Each message the mail catcher took: (recipients, subject, plain text)."""
    with session_scope(database_url) as session:
        rows = caught_rows(session=session)
        messages = [(row.recipients, row.raw) for row in rows]
    caught = []
    for recipients, raw in messages:
        message = email.message_from_string(raw, policy=default_policy)
        plain = message.get_body(("plain",))
        caught.append((recipients, str(message["Subject"]), plain.get_content() if plain else ""))
    return caught


def at_least(items: list, count: int) -> list | None:
    return items if len(items) >= count else None


def mail_to(database_url: str, ref: str) -> list[tuple[str, str, date, dict]]:
    """Each outbox message of ``ref``: (kind, recipient, day, whom it was acting for)."""
    return [
        (row.kind, recipient, row.created_at.date(), (row.context.get("acting_for") or {}).get(recipient, {}))
        for row in sent(database_url, ref)
        for recipient in row.recipients
    ]


class TestAbsenceCover:
    async def test_reminders_go_to_the_deputy_during_an_absence_and_back_after_it(self, env, start, database_url):
        """Away from day 2 to day 12: the acknowledgement reminder and the due reminder go to the deputy,
        marked as acting for the owner; after the absence the overdue ladder's owner rung reaches the owner."""
        day = await today(env)
        away = Absence(person=f.OWNER, first_day=day + timedelta(days=2), last_day=day + timedelta(days=12),
                       deputy=f.NEW_OWNER)  # fmt: skip
        due = day + timedelta(days=10)
        handle = await start(with_absences(f.start("AWAY-1", actions=[f.action("A1", due)], policy=QUIET), away))
        await skip_to(env, due + timedelta(days=4))
        await status_with_escalations(handle, 1)

        mail = await eventually(lambda: at_least(mail_to(database_url, "AWAY-1"), 4))
        by_kind = {kind: (to, on, acting) for kind, to, on, acting in mail}
        assert f.OWNER == by_kind["task_assigned"][0]  # before the absence: the owner
        to, on, acting = by_kind["acknowledge_reminder"]
        assert (f.NEW_OWNER, f.OWNER) == (to, acting["person"])
        assert away.first_day <= on <= away.last_day
        assert away.last_day.isoformat() == acting["until"]
        to, on, acting = by_kind["due_reminder"]
        assert (f.NEW_OWNER, f.OWNER, "deputy") == (to, acting["person"], acting["cover"])
        # Due on day 10, still away: the overdue notice goes to the deputy; nothing reaches the owner.
        assert (f.NEW_OWNER, f.OWNER) == (by_kind["overdue_notice"][0], by_kind["overdue_notice"][2]["person"])
        assert not [m for m in mail if m[1] == f.OWNER and away.first_day <= m[2] <= away.last_day]

        # After the absence, the next rung meant for the owner reaches the owner again.
        await skip_to(env, due + timedelta(days=8))
        final = await status_with_escalations(handle, 3)
        copy = next(e for e in final.escalations if e.level is L.agency_lead)
        assert copy.at.date() > away.last_day
        assert f.OWNER in copy.recipients and f.NEW_OWNER not in copy.recipients
        mail = await eventually(lambda: at_least(mail_to(database_url, "AWAY-1"), 6))
        back = [(to, acting) for kind, to, on, acting in mail if kind == "agency_lead_copy"]
        assert (f.OWNER, {}) in back

        # The deputy's email says whom it is for and why it came to them.
        caught = await eventually(
            lambda: [m for m in caught_mail(database_url) if f.NEW_OWNER in m[0] and "is due" in m[1]] or None
        )
        recipients, subject, body = caught[0]
        assert subject.startswith("[AWAY-1] For named.nurse@icb.example:")
        body = " ".join(body.split())
        assert "in place of named.nurse@icb.example" in body and "because you are their deputy" in body
        # Every message says where to name a deputy before going away.
        assert "Going to be away? Name a deputy and record your absence" in body and "/dashboard/me" in body

    async def test_an_absence_without_a_deputy_goes_to_the_agency_lead(self, env, start, settings, database_url):
        """No deputy named for the absence and none standing: the registry resolves the agency's lead, who
        receives the owner's reminders marked as acting for them, and is told of the absence once."""
        seed_registry(database_url)
        day = await today(env)
        with session_scope(database_url) as session:
            session.exec(select(Person).where(Person.email == f.OWNER)).one().agency = f.ICB
            row = AbsenceRow(person=f.OWNER, first_day=day, last_day=day + timedelta(days=30), deputy="",
                             recorded_by=f.ICB_LEAD, recorded_at=datetime.now(UTC))  # fmt: skip
            session.add(row)
            session.flush()
            absence_id = row.id
            _, parties = board_context(session=session, board_name="Review Board")
        assert [(f.OWNER, f.ICB_LEAD, "agency_lead")] == [(a.person, a.deputy, a.cover) for a in parties.absences]

        payload = f.start("AWAY-2", actions=[f.action("A1", day + timedelta(days=20))], policy=QUIET)
        handle = await start(payload.model_copy(update={"parties": parties}))
        await skip_to(env, day + timedelta(days=14))
        mail = await eventually(lambda: at_least(mail_to(database_url, "AWAY-2"), 3))
        assert f.OWNER not in {to for _, to, _, _ in mail}
        reminder = next(m for m in mail if m[0] == "due_reminder")
        assert (f.ICB_LEAD, f.OWNER, "agency_lead") == (reminder[1], reminder[3]["person"], reminder[3]["cover"])

        assert await tell_agency_lead_of_uncovered_absence(env.client, settings, absence_id)
        assert await tell_agency_lead_of_uncovered_absence(env.client, settings, absence_id)  # once: same id
        told = await eventually(lambda: [m for m in caught_mail(database_url) if "with no deputy" in m[1]] or None)
        assert 1 == len(told) and [f.ICB_LEAD] == told[0][0]
        assert "named.nurse@icb.example" in told[0][1]
        await end_when_idle(handle)

    async def test_a_deputy_decision_is_recorded_as_acting_for(self, env, start, database_url):
        """The deputy acknowledges the absent owner's action: taken, and the timeline names both. A stranger is
        refused, and once the absence is over the deputy is refused too."""
        day = await today(env)
        away = Absence(person=f.OWNER, first_day=day, last_day=day + timedelta(days=3), deputy=f.NEW_OWNER)
        handle = await start(
            with_absences(f.start("AWAY-3", actions=f.two_actions(day + timedelta(days=40)), policy=QUIET), away)
        )
        reader = await reader_status(env.client, "AWAY-3", f.NEW_OWNER)
        assert "owner" in reader.roles and any(d.name == "acknowledge" for d in reader.decisions)

        await decide(handle, "acknowledge", AcknowledgeInput(by=f.NEW_OWNER, action_id="A1"))
        now = await status(handle)
        event = next(e for e in now.timeline if e.kind == "acknowledged")
        assert f"{f.NEW_OWNER}, acting for {f.OWNER}" == event.actor
        assert f.OWNER == next(a for a in now.actions if a.action_id == "A1").owner  # still the owner's action

        error = await refused(handle, "acknowledge", AcknowledgeInput(by=f.STRANGER, action_id="A2"))
        assert "WrongPerson" == error.type
        await skip_to(env, day + timedelta(days=5))
        error = await refused(handle, "report_progress", {"by": f.NEW_OWNER, "action_id": "A1", "note": "On track"})
        assert "WrongPerson" == error.type
        assert [] == (await reader_status(env.client, "AWAY-3", f.NEW_OWNER)).decisions


@pytest_asyncio.fixture
async def web(env, settings):
    app = create_app(settings, client=env.client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=settings.base_url) as client:
        yield client


async def _at_sign_off(env, start, database_url, ref: str) -> WorkflowHandle:
    day = await today(env)
    handle = await start(f.start(ref, actions=[f.action("A1", day + timedelta(days=30))], policy=QUIET))
    await decide(handle, "complete_action", {"by": f.OWNER, "action_id": "A1", "evidence": "Done"})
    dissemination, audit = f.credible_plans(day)
    await decide(handle, "submit_plans", SubmitPlansInput(by=f.OWNER, dissemination=dissemination, audit=audit))
    return handle


class TestLeaver:
    async def test_a_leaver_s_parts_pass_to_the_successor_in_every_stage(self, env, start, settings, database_url, web):
        """The owner leaves while owning an open action on one recommendation and the plans on another at sign-off:
        the hand-over moves both, the successor hears once, and the leaver's old links are refused."""
        seed_registry(database_url)
        day = await today(env)
        acting = await start(f.start("LEAVE-1", actions=f.two_actions(day + timedelta(days=30)), policy=QUIET))
        signing = await _at_sign_off(env, start, database_url, "LEAVE-2")
        untouched = await start(
            f.start("LEAVE-3", actions=[f.action("A1", day + timedelta(days=30), owner=f.OWNER_2)], policy=QUIET)
        )
        for ref in ("LEAVE-1", "LEAVE-2", "LEAVE-3"):
            await eventually(lambda ref=ref: stored_row(database_url, ref))
        before = Browser(web, token_for(settings, f.OWNER, "LEAVE-1", "owner", "A1", 0))
        assert 200 == (await before.open()).status_code

        workflow_id = await start_hand_over(
            env.client, settings, leaver=f.OWNER, successor=f.NEW_OWNER, by=f.ICB_LEAD, registry_moved=["role owner"]
        )
        progress = await hand_over_progress(env.client, workflow_id, wait=True)
        assert progress.finished and progress.synced and progress.summary_sent
        assert 3 == progress.total == progress.done and [] == progress.failed
        assert {"LEAVE-1": ["action A1"], "LEAVE-2": ["the dissemination plan"]} == {
            m.ref: m.parts for m in progress.moved
        }

        one = await recommendation_status(env.client, "LEAVE-1")
        assert f.NEW_OWNER == next(a for a in one.actions if a.action_id == "A1").owner
        assert f.OWNER_2 == next(a for a in one.actions if a.action_id == "A2").owner
        handed = next(e for e in one.timeline if e.kind == "handed_over")
        assert f.ICB_LEAD == handed.actor and "action A1 passed to deputy.nurse@icb.example" in handed.detail
        two = await recommendation_status(env.client, "LEAVE-2")
        assert Stage.sign_off == two.stage and f.NEW_OWNER == two.dissemination.owner
        assert "LEAVE-3" not in {m.ref for m in progress.moved}

        page = await before.open()
        assert 403 == page.status_code and "passed to someone else" in text_of(page)
        successor = Browser(web, token_for(settings, f.NEW_OWNER, "LEAVE-1", "owner", "A1", 1))
        assert 200 == (await successor.open()).status_code

        summary = await eventually(lambda: [m for m in caught_mail(database_url) if "has left" in m[1]] or None)
        assert 1 == len(summary) and [f.NEW_OWNER] == summary[0][0]
        assert "2 recommendations passed to you" in summary[0][1]
        assert "LEAVE-1: action A1" in summary[0][2] and "LEAVE-2: the dissemination plan" in summary[0][2]

        # Run again (to resume, or by mistake): nothing moves twice and no second summary.
        again = await start_hand_over(env.client, settings, leaver=f.OWNER, successor=f.NEW_OWNER, by=f.ICB_LEAD)
        repeat = await hand_over_progress(env.client, again, wait=True)
        assert repeat.finished and [] == repeat.moved
        assert 1 == len([m for m in caught_mail(database_url) if "has left" in m[1]])
        assert 1 == len([e for e in (await recommendation_status(env.client, "LEAVE-1")).timeline
                         if e.kind == "handed_over"])  # fmt: skip
        for handle in (acting, signing, untouched):
            await end_when_idle(handle)


class TestPolicyChange:
    async def test_a_board_s_new_policy_moves_the_next_rung(self, env, start, database_url):
        """After the agency-lead rung, the board shortens board_after from 14 to 10 days: the registry sync
        gives the running recommendation the new policy, the timeline says so, and the board rung fires on
        day 10 after the due date rather than day 14."""
        seed_registry(database_url)
        day = await today(env)
        due = day + timedelta(days=3)
        policy = EscalationPolicy(agency_lead_after="P7D", board_after="P14D", assurance_after="P42D",
                                  progress_every="P1Y")  # fmt: skip
        with session_scope(database_url) as session:
            board = session.exec(select(Board)).one()
            for name, value in policy.model_dump().items():
                setattr(board, name, value)
        handle = await start(f.start("POLICY-1", actions=[f.action("A1", due)], policy=policy))
        await decide(handle, "acknowledge", AcknowledgeInput(by=f.OWNER, action_id="A1"))
        await eventually(lambda: stored_row(database_url, "POLICY-1"))
        await skip_to(env, due + timedelta(days=8))
        await status_with_escalations(handle, 2)
        assert due + timedelta(days=14) == (await status(handle)).next_deadline.at.date()

        with session_scope(database_url) as session:
            session.exec(select(Board)).one().board_after = "P10D"
        assert ["POLICY-1"] == await sync_registry(env.client, database_url)
        now = await status(handle)
        assert due + timedelta(days=10) == now.next_deadline.at.date()
        changed = next(e for e in now.timeline if e.kind == "policy_changed")
        assert "board after P14D → P10D" in changed.detail and "from each next deadline" in changed.detail

        await skip_to(env, due + timedelta(days=11))
        final = await status_with_escalations(handle, 3)
        assert (L.sponsoring_board, due + timedelta(days=10)) == (final.escalations[2].level,
                                                                  final.escalations[2].at.date())  # fmt: skip


pytestmark = pytest.mark.usefixtures("worker")
