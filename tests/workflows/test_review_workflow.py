"""Reviews' clocks on the time-skipping server: each kind's deadlines from its milestones, a rapid
review's 15 working days across a bank holiday, the ladder (reminder, missed, the Assurance Board)
with who is told, a ladder already passed firing once at its top, the milestone decision and its
refusals, a correction, and the workflow ending when its clocks have."""

from __future__ import annotations

import calendar
import email
import email.policy
from contextlib import suppress
from datetime import date, timedelta

import holidays
import pytest
import pytest_asyncio
from temporalio.client import WorkflowFailureError, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from models.payloads import Absence, EscalationPolicy, Parties, SourceKind
from models.review_clocks import DEFAULT_REVIEW_CLOCKS, ReviewClock, ReviewMilestone
from models.review_lifecycle import RecordReviewMilestoneInput, ReviewInput, may_record_milestones, review_workflow_id
from models.reviews import Review
from store.db import session_scope
from store.read_model import caught_mail
from tests import factories as f
from tests.helpers import days, eventually, sent, skip_to, today
from workflows.review import ReviewWorkflow

K, MS = SourceKind, ReviewMilestone
# The board's ladder for reviews: a reminder two days before, the Assurance Board three after.
POLICY = EscalationPolicy(remind_before_due="P2D", agency_lead_after="P1D", board_after="P3D", assurance_after="P5D")
BOARD = sorted([f.SPONSOR, f.CHAIR])


# --- an independent oracle: the calendar walked a day at a time -----------------------------


def _bank_holidays(year: int) -> set[date]:
    return set(holidays.country_holidays("GB", subdiv="ENG", years=[year - 1, year, year + 1]).keys())


def _working(day: date) -> bool:
    return day.weekday() < 5 and day not in _bank_holidays(day.year)


def _working_days_after(start: date, n: int) -> date:
    day = start
    while n:
        day += timedelta(days=1)
        n -= _working(day)
    return day


def _working_days_before(end: date, n: int) -> date:
    day = end
    while n:
        day -= timedelta(days=1)
        n -= _working(day)
    return day


def _months_after(start: date, n: int) -> date:
    """The same day of the month ``n`` months on, or that month's last day when it is shorter."""
    year, month = divmod(start.month - 1 + n, 12)
    year, month = start.year + year, month + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def _due(clock: ReviewClock, started: date) -> date:
    """The due day the guidance gives, counted here without the product's calendar code."""
    count, unit = int(clock.within[1:-1]), clock.within[-1]
    if unit == "M":
        return _months_after(started, count)
    if clock.working_days:
        return _working_days_after(started, count)
    return started + timedelta(days=count * (7 if unit == "W" else 1))


# --- starting and deciding ------------------------------------------------------------------


@pytest_asyncio.fixture
async def review(env, task_queue, worker):
    """Start a review's workflow on this test's queue; any still running at the end are closed by
    recording publication (a clock-less review has nothing left then), so the server's clock is free."""
    handles = []

    async def start_one(kind: SourceKind, ref: str, parties: Parties | None = None, **milestones: date):
        subject = Review(
            review_ref=ref, kind=kind, title=f"The {kind.value} review", board="Review Board", **milestones
        )
        clocks = [c for c in DEFAULT_REVIEW_CLOCKS if c.kind is kind]
        start = ReviewInput(review=subject, clocks=clocks, policy=POLICY, parties=parties or f.parties())
        handle = await env.client.start_workflow(
            ReviewWorkflow.run, start, id=review_workflow_id(ref), task_queue=task_queue
        )
        handles.append(handle)
        return handle

    yield start_one
    for handle in handles:
        with suppress(WorkflowUpdateFailedError, RPCError):
            await record(handle, MS.published, await today(env))
        with suppress(WorkflowFailureError):
            await finished(handle)


async def finished(handle):
    """The workflow's result, waited for with the server's clock held: the time-skipping handle's own
    ``result()`` lets the clock run while it waits, and the test server then leaps to a finished
    run's ten-year execution timeout, carrying every later test into the next century."""
    return await WorkflowHandle.result(handle)


async def record(handle, milestone: ReviewMilestone, on: date, by: str = f.SPONSOR, note: str = ""):
    decision = RecordReviewMilestoneInput(by=by, milestone=milestone, on=on, note=note)
    return await handle.execute_update(ReviewWorkflow.record_review_milestone, decision)


async def refused(handle, milestone: ReviewMilestone, on: date, by: str = f.SPONSOR) -> ApplicationError:
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await record(handle, milestone, on, by)
    assert isinstance(caught.value.cause, ApplicationError)
    return caught.value.cause


async def clocks_of(handle):
    status = await handle.query(ReviewWorkflow.status)
    return {(v.clock.starts, v.clock.ends): v for v in status.clocks}


def told(database_url: str, ref: str, kind: str) -> list[list[str]]:
    return [sorted(row.recipients) for row in sent(database_url, ref) if row.kind == kind]


async def told_eventually(database_url: str, ref: str, kind: str, count: int = 1) -> list[list[str]]:
    return await eventually(lambda: (found := told(database_url, ref, kind)) and len(found) >= count and found)


# --- the tests -------------------------------------------------------------------------------


class TestAbsentChair:
    async def test_the_chair_s_deputy_is_told_and_records_the_milestone_acting_for_them(
        self, env, review, database_url
    ):
        """The board's chair is away: the clock's reminder goes to the sponsor and the chair's deputy
        (marked as acting for the chair), not to the chair; the deputy records the milestone, and the
        timeline names both. Someone else is still refused."""
        decided = await today(env)
        away = Absence(person=f.CHAIR, first_day=decided, last_day=decided + days(400), deputy=f.OWNER)
        parties = f.parties().model_copy(update={"absences": [away]})
        handle = await review(K.sar, "SAR-AWAY", parties=parties, decided_on=decided)
        due = (await clocks_of(handle))[(MS.decided, MS.concluded)].due_on
        await skip_to(env, due - days(2))
        assert [sorted([f.SPONSOR, f.OWNER])] == await told_eventually(
            database_url, "SAR-AWAY", "review_clock_reminder"
        )
        [row] = [r for r in sent(database_url, "SAR-AWAY") if r.kind == "review_clock_reminder"]
        assert (f.CHAIR, "board_chair") == (row.context["acting_for"][f.OWNER]["person"], row.context["roles"][f.OWNER])

        assert may_record_milestones(parties, f.OWNER, decided) and not may_record_milestones(parties, f.OWNER)
        await record(handle, MS.concluded, await today(env), by=f.OWNER)
        status = await handle.query(ReviewWorkflow.status)
        assert f"{f.OWNER}, acting for {f.CHAIR}" in {e.actor for e in status.timeline}
        error = await refused(handle, MS.published, await today(env), by=f.OWNER_2)
        assert "WrongPerson" == error.type


class TestRapidReview:
    async def test_fifteen_working_days_across_a_bank_holiday_and_its_ladder(self, env, review, database_url):
        """A rapid review notified a week before a bank holiday is due 15 working days later, the
        holiday not counted; its board is reminded two working days before, told the day after,
        and the Assurance Board hears three working days after the due day."""
        now = await today(env)
        holiday = min(
            d
            for d in _bank_holidays(now.year) | _bank_holidays(now.year + 1)
            if d >= now + days(10) and d.weekday() < 5
        )
        await skip_to(env, holiday - days(7))
        notified = await today(env)
        handle = await review(K.rapid_review, "RR-HOLIDAY", notified_on=notified)
        due = _working_days_after(notified, 15)
        assert notified < holiday < due
        assert due > notified + days(21)  # three calendar weeks would be wrong: the holiday counts
        clock = (await clocks_of(handle))[(MS.notified, MS.concluded)]
        assert (notified, due, None, False) == (clock.started_on, clock.due_on, clock.met, clock.overdue)

        await skip_to(env, _working_days_before(due, 2))
        assert [BOARD] == await told_eventually(database_url, "RR-HOLIDAY", "review_clock_reminder")
        assert [] == told(database_url, "RR-HOLIDAY", "review_clock_missed")

        await skip_to(env, due + days(1))
        assert [BOARD] == await told_eventually(database_url, "RR-HOLIDAY", "review_clock_missed")
        assert (await clocks_of(handle))[(MS.notified, MS.concluded)].overdue

        escalated_on = max(_working_days_after(due, 3), due + days(2))
        await skip_to(env, escalated_on - days(1))
        assert [] == told(database_url, "RR-HOLIDAY", "review_clock_escalated")
        await skip_to(env, escalated_on)
        # The Assurance Board, with the chair again; the sponsor heard at the board's rung.
        assert [sorted([f.ASSURANCE, f.CHAIR])] == await told_eventually(
            database_url, "RR-HOLIDAY", "review_clock_escalated"
        )

        concluded = await today(env)
        status = await record(handle, MS.concluded, concluded, by=f.CHAIR, note="Sent to the Panel")
        assert status.closed and not status.next_deadline
        assert ("milestone_recorded", f.CHAIR) == (status.timeline[-2].kind, status.timeline[-2].actor)
        assert "clocks_ended" == status.timeline[-1].kind
        final = await finished(handle)
        assert [(concluded, False)] == [(v.ended_on, v.met) for v in final.clocks]

    async def test_the_board_reads_the_clock_in_its_email(self, env, review, database_url):
        """The reminder says what is due when, on whose authority, and links the review's page."""
        notified = await today(env)
        await review(K.rapid_review, "RR-EMAIL", notified_on=notified)
        due = _working_days_after(notified, 15)
        await skip_to(env, _working_days_before(due, 2))
        await told_eventually(database_url, "RR-EMAIL", "review_clock_reminder")

        def mail():
            with session_scope(database_url) as session:
                return [row.raw for row in caught_mail(session=session, recipient=f.SPONSOR)]

        raw = (await eventually(mail))[-1]
        message = email.message_from_bytes(raw if isinstance(raw, bytes) else raw.encode(), policy=email.policy.default)
        assert message["Subject"].startswith("[RR-EMAIL] The final report is due on ")
        text = next(p for p in message.walk() if p.get_content_type() == "text/plain").get_content()
        assert "15 working days of the notification" in text
        assert "Child Safeguarding Practice Review Panel" in text
        assert "https://assure.mktogether.example/dashboard/reviews/RR-EMAIL" in text
        assert "token=" not in text


CHAINS = {
    K.cspr: [MS.decided, MS.concluded, MS.published],
    K.sar: [MS.decided, MS.concluded, MS.published],
    K.dhr: [MS.notified, MS.decided, MS.concluded],
    K.learning_review: [MS.decided, MS.concluded],
    K.audit: [MS.commissioned, MS.concluded],
    K.inspection: [MS.concluded, MS.published],
    K.scrutiny: [MS.concluded, MS.published],
}


class TestEachKindsClocks:
    def test_every_kind_with_a_clock_is_walked_here(self):
        assert {c.kind for c in DEFAULT_REVIEW_CLOCKS} - {K.rapid_review} == set(CHAINS)

    @pytest.mark.parametrize("kind", list(CHAINS), ids=lambda k: k.value)
    async def test_each_clock_runs_from_its_start_to_its_end(self, env, review, database_url, kind):
        """Each clock of the kind starts when its first milestone is recorded, is missed (and
        the board told) the day after its due day, and ends when its milestone is recorded, which
        starts the next; the workflow finishes with the last."""
        chain = CHAINS[kind]
        ref = f"CLOCKS-{kind.value}"
        started = await today(env)
        handle = await review(kind, ref, **{f"{chain[0].value}_on": started})
        for index, (begins, ends) in enumerate(zip(chain, chain[1:], strict=False)):
            clock = next(c for c in DEFAULT_REVIEW_CLOCKS if (c.kind, c.starts, c.ends) == (kind, begins, ends))
            due = _due(clock, started)
            view = (await clocks_of(handle))[(begins, ends)]
            assert (started, due) == (view.started_on, view.due_on)
            await skip_to(env, due + days(1))
            assert index + 1 == len(await told_eventually(database_url, ref, "review_clock_missed", index + 1))
            assert BOARD == told(database_url, ref, "review_clock_missed")[-1]
            started = await today(env)
            status = await record(handle, ends, started)
        assert status.closed
        result = await finished(handle)
        assert all(v.met is False for v in result.clocks)


class TestTheLadderAlreadyPassed:
    async def test_a_review_imported_late_is_escalated_once_at_the_top(self, env, review, database_url):
        """A SAR decided eight months ago is past its six months and the board's three days: one
        escalation, to the Assurance Board and the whole board, and no reminder or missed notice."""
        now = await today(env)
        await review(K.sar, "SAR-LATE", decided_on=_months_after(now, -8))
        assert [sorted([f.ASSURANCE, *BOARD])] == await told_eventually(
            database_url, "SAR-LATE", "review_clock_escalated"
        )
        assert [] == told(database_url, "SAR-LATE", "review_clock_reminder") + told(
            database_url, "SAR-LATE", "review_clock_missed"
        )


class TestTheMilestoneDecision:
    def test_the_boards_sponsor_or_chair_may_record_and_no_one_else(self):
        """The one rule of who records (the workflow's check, and the page that offers the form):
        the board's sponsors and chair, whatever the case of their address."""
        parties = Parties(board_sponsors=[f.SPONSOR], board_chair=f.CHAIR, assurance_members=[f.ASSURANCE])
        assert [True, True, False, False] == [
            may_record_milestones(parties, who) for who in (f.SPONSOR.upper(), f.CHAIR, f.ASSURANCE, f.OWNER)
        ]
        assert not may_record_milestones(parties.model_copy(update={"board_chair": None}), f.CHAIR)

    async def test_refusals_say_why_and_change_nothing(self, env, review):
        now = await today(env)
        handle = await review(K.cspr, "CSPR-REFUSALS", decided_on=now - days(3))
        stranger = await refused(handle, MS.concluded, now, by=f.OWNER)
        assert "WrongPerson" == stranger.type and "sponsors and chair" in stranger.message
        future = await refused(handle, MS.concluded, now + days(1))
        assert "in the future" in future.message
        early = await refused(handle, MS.concluded, now - days(10))
        assert "is before decided_on" in early.message
        again = await refused(handle, MS.decided, now - days(3))
        assert "already recorded" in again.message
        status = await handle.query(ReviewWorkflow.status)
        assert [] == [e for e in status.timeline if e.kind.startswith("milestone")]

    async def test_a_correction_moves_the_due_day_and_says_so(self, env, review):
        now = await today(env)
        handle = await review(K.cspr, "CSPR-CORRECTED", decided_on=now)
        status = await record(handle, MS.decided, now - days(14), by=f.CHAIR, note="The panel met earlier")
        assert ("milestone_corrected", f"decided on {(now - days(14)).isoformat()}: The panel met earlier") == (
            status.timeline[-1].kind,
            status.timeline[-1].detail,
        )
        clock = (await clocks_of(handle))[(MS.decided, MS.concluded)]
        assert _months_after(now - days(14), 6) == clock.due_on

    async def test_a_published_review_has_nothing_left_to_chase(self, env, review):
        now = await today(env)
        handle = await review(K.dhr, "DHR-PUBLISHED", notified_on=now - days(2))
        status = await record(handle, MS.published, now)
        assert status.closed
        await finished(handle)
        closed = await handle.query(ReviewWorkflow.status)
        assert closed.closed and closed.next_deadline is None
