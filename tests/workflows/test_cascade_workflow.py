"""The cascade after sign-off, on the time-skipping server: each agency's lead asked to confirm that
the learning reached their staff, silence climbing the board's ladder, and the audit that follows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import holidays

from models.payloads import (
    AuditOutcome,
    AuditPlan,
    CascadeStatus,
    CascadeStep,
    ConfirmCascadeInput,
    DisseminationPlan,
    EscalationLevel,
    EscalationPolicy,
    ImportedAction,
    ImportedProgress,
    RecommendationInput,
    RecordAuditInput,
    SignOffInput,
    Stage,
    SubmitPlansInput,
)
from models.rag import rag
from tests import factories as f
from tests.helpers import (
    days,
    decide,
    eventually,
    eventually_async,
    refused,
    sent,
    skip_to,
    status,
    status_with_escalations,
    stored_row,
    stored_through,
    today,
)

L = EscalationLevel


def _at_sign_off(
    ref: str,
    now: date,
    *,
    policy: EscalationPolicy | None = None,
    plans: tuple[DisseminationPlan, AuditPlan] | None = None,
) -> RecommendationInput:
    """A recommendation whose actions are done and whose plans wait for sign-off (an imported log)."""
    dissemination, audit = plans or f.credible_plans(now)
    start = f.start(ref, actions=[f.action("A1", now + days(30))], policy=policy)
    return start.model_copy(
        update={
            "imported": ImportedProgress(
                actions=[ImportedAction(action_id="A1", status="complete", completed_on=now, evidence="Guidance v2")],
                dissemination=dissemination,
                audit=audit,
            )
        }
    )


def _confirm(by: str, agency: str, reached: int, done_on: date, note: str = "") -> ConfirmCascadeInput:
    return ConfirmCascadeInput(
        by=by, agency=agency, reached=reached, channels=["7-minute briefing"], done_on=done_on, note=note
    )


def _kinds(database_url: str, ref: str) -> list[str]:
    return [row.kind for row in sent(database_url, ref)]


def _rag_of(database_url: str, ref: str, now: date) -> str:
    """The listing's rating of the stored row, by the one RAG rule."""
    row = stored_row(database_url, ref)
    assert row is not None
    return rag(
        stage=row.stage,
        overdue=row.overdue,
        escalation_level=row.escalation_level,
        next_open_due=None,
        stage_entered_at=row.stage_entered_at.replace(tzinfo=UTC),
        now=datetime(now.year, now.month, now.day, 12, tzinfo=UTC),
        cascade_short=row.cascade_short,
        cascade_overdue=row.cascade_overdue,
    )


class TestConfirmation:
    async def test_every_agency_confirming_moves_the_recommendation_to_audit(self, env, start, database_url):
        """Sign-off asks each lead; both confirm in full; the audit stage follows, and a figure can
        be corrected until the audit is recorded, not after."""
        now = await today(env)
        handle = await start(_at_sign_off("CASCADE-FULL", now))
        result = await decide(handle, "sign_off", SignOffInput(by=f.ASSURANCE))
        assert Stage.cascade == result.stage
        assert [(f.ICB, f.ICB_LEAD, CascadeStatus.waiting), (f.POLICE, f.POLICE_LEAD, CascadeStatus.waiting)] == [
            (c.agency, c.lead, c.status) for c in result.cascade
        ]
        tasks = await eventually(lambda: [r for r in sent(database_url, "CASCADE-FULL") if r.kind == "cascade_task"])
        assert [sorted([f.ICB_LEAD, f.POLICE_LEAD])] == [sorted(r.recipients) for r in tasks]
        assert {f.ICB_LEAD: "cascade_lead", f.POLICE_LEAD: "cascade_lead"} == tasks[0].context["roles"]

        result = await decide(handle, "confirm_cascade", _confirm(f.ICB_LEAD, f.ICB, f.ICB_REACH, now))
        assert Stage.cascade == result.stage
        assert (CascadeStatus.confirmed, 100) == (result.cascade[0].status, result.cascade[0].reach_percent)
        assert 60 == result.reach_percent  # 120 of the 200 staff planned
        result = await decide(handle, "confirm_cascade", _confirm(f.POLICE_LEAD, f.POLICE, f.POLICE_REACH, now))
        assert Stage.audit == result.stage
        assert "every agency confirmed the cascade" == result.timeline[-1].detail
        assert (100, False, False) == (result.reach_percent, result.cascade_short, result.cascade_overdue)

        corrected = await decide(
            handle, "confirm_cascade", _confirm(f.ICB_LEAD, f.ICB, 110, now, note="Ten moved team before the briefing")
        )
        assert "cascade_corrected" == corrected.timeline[-1].kind
        assert (110, Stage.audit) == (corrected.cascade[0].reached, corrected.stage)
        await stored_through(database_url, corrected)
        assert "green" == _rag_of(database_url, "CASCADE-FULL", now)

        audit_on = corrected.audit_plan.audit_on
        await skip_to(env, audit_on)
        await decide(
            handle,
            "record_audit",
            RecordAuditInput(
                by=f.AUDITOR,
                outcome=AuditOutcome.not_embedded,
                findings="12 of 20",
                remedial_actions=[f.action("R1", audit_on + days(20))],
                re_audit_on=audit_on + days(40),
            ),
        )
        error = await refused(handle, "confirm_cascade", _confirm(f.ICB_LEAD, f.ICB, 120, audit_on))
        assert "WrongStage" == error.type

    async def test_reach_below_the_threshold_is_amber_and_needs_a_reason(self, env, start, database_url):
        """Fewer staff than planned is accepted with a note; below 80% the recommendation is amber;
        an absurd, negative-free but tenfold figure or a future day is refused."""
        now = await today(env)
        handle = await start(_at_sign_off("CASCADE-SHORT", now))
        await decide(handle, "sign_off", SignOffInput(by=f.ASSURANCE))

        no_reason = await refused(handle, "confirm_cascade", _confirm(f.ICB_LEAD, f.ICB, 60, now))
        assert "60 of the 120 staff planned were reached: say in the note why fewer" == error_text(no_reason)
        absurd = await refused(handle, "confirm_cascade", _confirm(f.ICB_LEAD, f.ICB, 1201, now))
        assert "1201 is more than ten times the 120 staff" in error_text(absurd)
        future = await refused(handle, "confirm_cascade", _confirm(f.ICB_LEAD, f.ICB, 120, now + days(2)))
        assert "a future date" in error_text(future)

        result = await decide(
            handle, "confirm_cascade", _confirm(f.ICB_LEAD, f.ICB, 60, now, note="Night staff are briefed in May")
        )
        assert (50, True, False) == (result.cascade[0].reach_percent, result.cascade_short, result.cascade_overdue)
        assert "Night staff are briefed in May" == result.cascade[0].note
        await stored_through(database_url, result)
        row = stored_row(database_url, "CASCADE-SHORT")
        assert (row.reach_percent, row.cascade_short) == (30, True)
        assert "amber" == _rag_of(database_url, "CASCADE-SHORT", now)


def error_text(error) -> str:
    return str(error.message)


def _bank_holidays(year: int) -> set[date]:
    return set(holidays.country_holidays("GB", subdiv="ENG", years=[year, year + 1]).keys())


def _working(day: date) -> bool:
    return day.weekday() < 5 and day not in _bank_holidays(day.year)


def _count(start: date, n: int) -> date:
    """An independent oracle: walk the calendar a day at a time, counting working days (n < 0: back)."""
    step = timedelta(days=1 if n > 0 else -1)
    day = start
    for _ in range(abs(n)):
        day += step
        while not _working(day):
            day += step
    return day


WORKING_POLICY = EscalationPolicy(
    remind_before_due="P2D", agency_lead_after="P1D", board_after="P3D", assurance_after="P5D", working_days=True
)


class TestSilence:
    async def test_silence_climbs_every_rung_on_the_exact_working_days(self, env, start, database_url):
        """Nobody confirms: a reminder two working days before cascade_by, both leads told on the
        day, the sponsoring board three working days later and the Assurance Board five, across
        a bank holiday, each rung recorded with its recipients; the recommendation is red."""
        now = await today(env)
        holiday = min(
            d for d in _bank_holidays(now.year) | _bank_holidays(now.year + 1) if d > now + days(30) and d.weekday() < 5
        )
        cascade_by = holiday - timedelta(days=1)
        while not _working(cascade_by):
            cascade_by -= timedelta(days=1)
        dissemination, audit = f.credible_plans(now)
        plans = (
            dissemination.model_copy(update={"cascade_by": cascade_by, "ends": now + days(10)}),
            audit.model_copy(update={"audit_on": cascade_by + days(60)}),
        )
        handle = await start(_at_sign_off("CASCADE-SILENT", now, policy=WORKING_POLICY, plans=plans))
        await decide(handle, "sign_off", SignOffInput(by=f.ASSURANCE))
        expected = [
            (L.owner, cascade_by),
            (L.sponsoring_board, _count(cascade_by, 3)),
            (L.assurance_board, _count(cascade_by, 5)),
        ]
        assert holiday < expected[1][1]  # the ladder really counts across the holiday
        await skip_to(env, expected[-1][1] + days(1))

        final = await status_with_escalations(handle, 3)
        assert expected == [(e.level, e.at.date()) for e in final.escalations]
        assert {"cascade"} == {e.kind for e in final.escalations}
        assert sorted([f.ICB_LEAD, f.POLICE_LEAD]) == final.escalations[0].recipients
        assert sorted([f.SPONSOR, f.CHAIR]) == final.escalations[1].recipients
        assert [f.ASSURANCE] == final.escalations[2].recipients
        reminder = next(e for e in final.timeline if e.kind == "cascade_reminder")
        assert _count(cascade_by, -2) == reminder.at.date()
        assert (True, True, L.assurance_board) == (final.overdue, final.cascade_overdue, final.escalation_level)
        assert {CascadeStatus.overdue} == {c.status for c in final.cascade}
        assert Stage.cascade == final.stage

        kinds = await eventually(
            lambda: (k := _kinds(database_url, "CASCADE-SILENT")) and "assurance_escalation" in k and k
        )
        assert ["cascade_task", "cascade_reminder", "cascade_overdue", "board_escalation", "assurance_escalation"] == [
            k for k in kinds if k not in ("signed_off", "sign_off_requested", "measure_assigned")
        ]
        await stored_through(database_url, final)
        assert "red" == _rag_of(database_url, "CASCADE-SILENT", expected[-1][1])

    async def test_the_audit_date_arrives_with_an_agency_unconfirmed(self, env, start, database_url):
        """The police never confirm: at the audit date the stage moves to audit with the police
        named, the auditor's task lists them, and the recommendation stays red until the audit."""
        now = await today(env)
        handle = await start(_at_sign_off("CASCADE-LATE", now))
        await decide(handle, "sign_off", SignOffInput(by=f.ASSURANCE))
        await decide(handle, "confirm_cascade", _confirm(f.ICB_LEAD, f.ICB, f.ICB_REACH, now))
        audit_on = (await status(handle)).audit_plan.audit_on
        await skip_to(env, audit_on)

        async def in_audit():
            current = await status(handle)
            return current if current.stage is Stage.audit else None

        result = await eventually_async(in_audit)
        entered = next(e for e in reversed(result.timeline) if e.kind == "stage:audit")
        assert f"the audit date came with no confirmation from {f.POLICE}" == entered.detail
        assert [CascadeStatus.confirmed, CascadeStatus.overdue] == [c.status for c in result.cascade]
        assert result.cascade_overdue

        audit_due = await eventually(lambda: [r for r in sent(database_url, "CASCADE-LATE") if r.kind == "audit_due"])
        listed = {c["agency"]: c["status"] for c in audit_due[0].context["cascade"]}
        assert {f.ICB: "confirmed", f.POLICE: "overdue"} == listed
        assert [f.AUDITOR] == audit_due[0].recipients

        # Corrections and late confirmations are still taken until the audit.
        late = await decide(handle, "confirm_cascade", _confirm(f.POLICE_LEAD, f.POLICE, 80, audit_on))
        assert (Stage.audit, False) == (late.stage, late.cascade_overdue)


class TestRefusals:
    async def test_a_sign_off_without_a_credible_cascade_names_each_missing_piece(self, env, start):
        """No cascade at all, then a cascade with an agency nobody leads, no reach, and a date after
        the audit: each piece is a gap in the refusal."""
        now = await today(env)
        dissemination, audit = f.credible_plans(now)
        handle = await start(
            _at_sign_off("CASCADE-GAPS", now, plans=(dissemination.model_copy(update={"cascade": []}), audit))
        )
        error = await refused(handle, "sign_off", SignOffInput(by=f.ASSURANCE))
        assert ("SignOffRefused", ["cascade: name at least one agency whose staff the learning must reach"]) == (
            error.type,
            error.details[0]["gaps"],
        )

        gappy = dissemination.model_copy(
            update={
                "cascade": [
                    CascadeStep(agency="Oakhill Secure Training Centre", expected_reach=30),
                    CascadeStep(agency=f.POLICE, expected_reach=0),
                ],
                "cascade_by": audit.audit_on + days(1),
            }
        )
        await decide(handle, "submit_plans", SubmitPlansInput(by=f.OWNER, dissemination=gappy, audit=audit))
        error = await refused(handle, "sign_off", SignOffInput(by=f.ASSURANCE))
        assert [
            "cascade: Oakhill Secure Training Centre has no safeguarding lead in the registry; name the lead who confirms",
            f"cascade: say how many of {f.POLICE}'s staff the learning must reach",
            f"cascade: confirmations are due ({audit.audit_on + days(1)}) after the audit date ({audit.audit_on})",
        ] == error.details[0]["gaps"]
        assert error.details[0]["gaps"] == (await status(handle)).plan_gaps

    async def test_confirmations_from_the_wrong_person_are_refused(self, env, start):
        """Only the agency's own lead confirms, or a sponsor or Assurance Board member on their
        behalf (and the timeline says so); before sign-off nobody can."""
        now = await today(env)
        handle = await start(_at_sign_off("CASCADE-WHO", now))
        early = await refused(handle, "confirm_cascade", _confirm(f.ICB_LEAD, f.ICB, 120, now))
        assert "WrongStage" == early.type
        await decide(handle, "sign_off", SignOffInput(by=f.ASSURANCE))

        for by, agency in ((f.OWNER, f.ICB), (f.ICB_LEAD, f.POLICE), (f.STRANGER, f.ICB), (f.AUDITOR, f.ICB)):
            error = await refused(handle, "confirm_cascade", _confirm(by, agency, 80, now))
            assert "WrongPerson" == error.type, (by, agency)
        unknown = await refused(handle, "confirm_cascade", _confirm(f.SPONSOR, "Nowhere Trust", 80, now))
        assert "UnknownAgency" == unknown.type

        result = await decide(handle, "confirm_cascade", _confirm(f.SPONSOR, f.POLICE, 80, now))
        event = result.timeline[-1]
        assert (event.kind, event.actor) == ("cascade_confirmed", f.SPONSOR)
        assert f"{f.POLICE}: 80 of 80 staff reached, recorded on behalf of {f.POLICE_LEAD}" == event.detail
        assert (f.SPONSOR, f.POLICE_LEAD) == (result.cascade[1].confirmed_by, result.cascade[1].on_behalf_of)
