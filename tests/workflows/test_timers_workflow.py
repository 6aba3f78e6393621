"""Timers of the recommendation workflow: the overdue ladder, reminders, extensions, imports."""

from __future__ import annotations

from datetime import date, timedelta

import holidays

from models.payloads import (
    AcknowledgeInput,
    DecideExtensionInput,
    EscalationLevel,
    EscalationPolicy,
    RequestExtensionInput,
    Stage,
)
from tests import factories as f
from tests.helpers import days, decide, eventually, sent, skip_to, status, status_with_escalations, today

L = EscalationLevel


def _bank_holidays(year: int) -> set[date]:
    return set(holidays.country_holidays("GB", subdiv="ENG", years=[year, year + 1]).keys())


def _working(day: date) -> bool:
    return day.weekday() < 5 and day not in _bank_holidays(day.year)


def _count_forward(start: date, n: int) -> date:
    """An independent oracle: walk the calendar one day at a time, counting working days."""
    day = start
    while n:
        day += timedelta(days=1)
        n -= _working(day)
    return day


def _next_bank_holiday_after(start: date) -> date:
    """The first weekday bank holiday at least a week after ``start``."""
    return min(
        d
        for d in _bank_holidays(start.year) | _bank_holidays(start.year + 1)
        if d >= start + timedelta(days=7) and d.weekday() < 5
    )


WORKING_POLICY = EscalationPolicy(
    acknowledge_within="P1D",
    remind_before_due="P1D",
    agency_lead_after="P2D",
    board_after="P4D",
    assurance_after="P6D",
    progress_every="P1Y",
    working_days=True,
)


class TestOverdueLadder:
    async def test_rungs_fire_on_the_expected_working_days_across_a_bank_holiday(self, env, start, database_url):
        """Due the working day before a bank holiday, each rung fires on the day counted in working days."""
        holiday = _next_bank_holiday_after(await today(env))
        due = holiday - timedelta(days=1)
        while not _working(due):
            due -= timedelta(days=1)
        handle = await start(f.start("LADDER", actions=[f.action("A1", due)], policy=WORKING_POLICY, measures=[]))
        await decide(handle, "acknowledge", AcknowledgeInput(by=f.OWNER, action_id="A1"))
        expected = [
            (L.owner, due),
            (L.agency_lead, _count_forward(due, 2)),
            (L.sponsoring_board, _count_forward(due, 4)),
            (L.assurance_board, _count_forward(due, 6)),
        ]
        assert holiday < expected[1][1]  # the ladder really counts across the holiday
        await skip_to(env, expected[-1][1] + timedelta(days=1))

        final = await status_with_escalations(handle, 4)
        assert expected == [(e.level, e.at.date()) for e in final.escalations]
        assert all(e.at.hour == 8 for e in final.escalations)
        assert [f.OWNER] == final.escalations[0].recipients
        assert sorted([f.OWNER, f.ICB_LEAD]) == final.escalations[1].recipients
        assert sorted([f.SPONSOR, f.CHAIR]) == final.escalations[2].recipients
        assert [f.ASSURANCE] == final.escalations[3].recipients
        assert L.assurance_board == final.escalation_level
        assert final.overdue

        kinds = await eventually(lambda: _kinds_when(database_url, "LADDER", 6))
        assert [
            "task_assigned",
            "due_reminder",
            "overdue_notice",
            "agency_lead_copy",
            "board_escalation",
            "assurance_escalation",
        ] == kinds

    async def test_an_approved_extension_restarts_the_ladder(self, env, start, database_url):
        """After an approved extension the item is no longer escalated, and the ladder starts again at the new due date."""
        policy = EscalationPolicy(agency_lead_after="P7D", board_after="P14D", assurance_after="P42D")
        now = await today(env)
        due = now + days(10)
        handle = await start(f.start("EXTEND", actions=[f.action("A1", due)], policy=policy))
        await decide(handle, "acknowledge", AcknowledgeInput(by=f.OWNER, action_id="A1"))
        await skip_to(env, due + days(8))
        escalated = await status_with_escalations(handle, 2)
        assert L.agency_lead == escalated.escalation_level

        new_due = due + days(30)
        await decide(
            handle,
            "request_extension",
            RequestExtensionInput(
                by=f.OWNER, action_id="A1", new_due=new_due, reason="Training dates moved by the provider"
            ),
        )
        result = await decide(
            handle, "decide_extension", DecideExtensionInput(by=f.SPONSOR, action_id="A1", approve=True)
        )
        assert new_due == result.actions[0].due
        assert L.none == result.escalation_level
        assert not result.overdue

        await skip_to(env, new_due)
        restarted = await status_with_escalations(handle, 3)
        assert (L.owner, new_due) == (restarted.escalations[-1].level, restarted.escalations[-1].at.date())
        kinds = await eventually(lambda: _kinds_when(database_url, "EXTEND", 6))
        assert 2 == kinds.count("overdue_notice")
        assert ["extension_requested", "extension_decided"] == [k for k in kinds if k.startswith("extension")]

    async def test_an_action_imported_overdue_gets_one_notice_at_the_level_reached(self, env, start, database_url):
        """An action 20 calendar days overdue at start is escalated once, to the sponsoring board, with everyone below told."""
        policy = EscalationPolicy(agency_lead_after="P7D", board_after="P14D", assurance_after="P42D")
        due = await today(env) - days(20)
        handle = await start(f.start("IMPORTED", actions=[f.action("A1", due)], policy=policy))
        result = await status_with_escalations(handle, 1)
        assert [L.sponsoring_board] == [e.level for e in result.escalations]
        assert sorted([f.OWNER, f.ICB_LEAD, f.SPONSOR, f.CHAIR]) == result.escalations[0].recipients
        rows = await eventually(lambda: [r for r in sent(database_url, "IMPORTED") if r.kind == "board_escalation"])
        assert 1 == len(rows)
        assert ["owner", "agency_lead"] == rows[0].context["skipped_levels"]

    async def test_reminders_and_progress_requests_go_to_the_owner(self, env, start, database_url):
        """An unacknowledged task is chased, monthly progress is requested, and a reminder comes before the due date."""
        policy = EscalationPolicy(acknowledge_within="P5D", remind_before_due="P7D", progress_every="P1M")
        now = await today(env)
        due = now + days(80)
        handle = await start(f.start("REMIND", actions=[f.action("A1", due)], policy=policy, measures=[]))
        await skip_to(env, now + days(6))
        chased = await status_with_escalations(handle, 1)
        assert "acknowledge" == chased.escalations[0].kind
        assert now + days(5) == chased.escalations[0].at.date()
        await decide(handle, "acknowledge", AcknowledgeInput(by=f.OWNER, action_id="A1"))
        await skip_to(env, due - days(1))
        kinds = await eventually(lambda: _kinds_when(database_url, "REMIND", 5))
        assert [
            "task_assigned",
            "acknowledge_reminder",
            "progress_request",
            "progress_request",
            "due_reminder",
        ] == kinds
        assert Stage.in_progress == (await status(handle)).stage


def _kinds_when(database_url: str, ref: str, count: int) -> list[str] | None:
    """The outbox's kinds for ``ref`` once it holds ``count`` notifications."""
    kinds = [row.kind for row in sent(database_url, ref)]
    return kinds if len(kinds) >= count else None
