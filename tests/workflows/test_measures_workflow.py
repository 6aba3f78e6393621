"""Impact measures on the time-skipping server: readings asked for on their schedule and silence
climbing the board's ladder, the on-track rule through the status, bad readings refused, the
sign-off gate's measure gap, and an audit asking for a reason while a measure is off track."""

from __future__ import annotations

from datetime import date

from models.payloads import (
    AddMeasuresInput,
    AuditOutcome,
    Direction,
    EscalationLevel,
    EscalationPolicy,
    ImportedAction,
    ImportedProgress,
    MeasureTrack,
    RecommendationInput,
    RecordAuditInput,
    RecordReadingInput,
    SignOffInput,
    Stage,
)
from tests import factories as f
from tests.helpers import days, decide, eventually, eventually_async, refused, sent, skip_to, status, today

L = EscalationLevel
# Short rungs, so that the ladder's three steps fit in a few weeks of the server's clock.
POLICY = EscalationPolicy(agency_lead_after="P3D", board_after="P7D", assurance_after="P14D")


def _measured(ref: str, now: date, **measure: object) -> RecommendationInput:
    """A recommendation whose one measure, monthly, was baselined today."""
    fields = {"baseline_on": now, "target_by": now + days(365), "every": "P1M"} | measure
    return f.start(ref, actions=[f.action("A1", now + days(300))], policy=POLICY, measures=[f.measure(**fields)])  # type: ignore[arg-type]


def _reading(value: float, on: date, by: str = f.REPORTER, note: str = "") -> RecordReadingInput:
    return RecordReadingInput(by=by, measure_id="M1", value=value, on=on, note=note)


async def _measure_rungs(handle, count: int, measure_id: str = "M1"):
    """The status once ``count`` rungs of the measure's ladder are recorded (the action's own
    acknowledgement ladder runs beside it), with those rungs."""

    async def probe():
        current = await status(handle)
        rungs = [e for e in current.escalations if e.subject == f"measure:{measure_id}"]
        return (current, rungs) if len(rungs) >= count else None

    return await eventually_async(probe, timeout=15)


async def _measure_rungs_of(handle, measure_id: str):
    return await _measure_rungs(handle, 1, measure_id)


def _of_kind(database_url: str, ref: str, kind: str) -> list:
    return [row for row in sent(database_url, ref) if row.kind == kind]


class TestReadingsOnSchedule:
    async def test_readings_are_asked_for_each_period_and_silence_climbs_the_ladder(self, env, start, database_url):
        """The reporter is told of the measure at the start, asked on the day a reading is owed,
        and on silence the board's sponsors hear board_after later and the Assurance Board
        assurance_after later; a reading then answers it and the next is owed a month on."""
        now = await today(env)
        ref = "MEASURE-SCHEDULE"
        handle = await start(_measured(ref, now))
        told = await eventually(lambda: _of_kind(database_url, ref, "measure_assigned"))
        assert [[f.REPORTER]] == [row.recipients for row in told]
        first = (await status(handle)).measures[0]
        owed = first.reading_due_on
        assert owed is not None and owed > now and (owed - now).days <= 31
        assert MeasureTrack.no_data == first.on_track

        await skip_to(env, owed)
        asked, rungs = await _measure_rungs(handle, 1)
        assert [(L.owner, [f.REPORTER])] == [(e.level, e.recipients) for e in rungs]
        assert not asked.measures[0].overdue  # asked on the day, not yet overdue
        await eventually(lambda: _of_kind(database_url, ref, "reading_due"))

        await skip_to(env, owed + days(7))
        board, rungs = await _measure_rungs(handle, 2)
        assert (L.sponsoring_board, sorted([f.SPONSOR, f.CHAIR])) == (rungs[-1].level, sorted(rungs[-1].recipients))
        assert board.overdue and board.measures[0].overdue

        await skip_to(env, owed + days(14))
        top, rungs = await _measure_rungs(handle, 3)
        assert (L.assurance_board, [f.ASSURANCE]) == (rungs[-1].level, rungs[-1].recipients)
        assert top.escalation_level is L.assurance_board

        answered = await decide(handle, "record_reading", _reading(66, owed + days(14), note="Quarter's case audit"))
        measure = answered.measures[0]
        assert [(66.0, owed + days(14), f.REPORTER, "Quarter's case audit")] == [
            (r.value, r.on, r.by, r.note) for r in measure.readings
        ]
        assert not answered.overdue and not measure.overdue
        assert measure.reading_due_on is not None and measure.reading_due_on > owed + days(14)
        assert "reading_recorded" == answered.timeline[-1].kind

    async def test_a_sponsor_adds_a_measure_later_and_its_reporter_is_asked_on_its_schedule(
        self, env, start, database_url
    ):
        now = await today(env)
        ref = "MEASURE-ADDED"
        handle = await start(f.start(ref, actions=[f.action("A1", now + days(300))], policy=POLICY, measures=[]))
        added = f.measure("M2", baseline_on=now, target_by=now + days(200), every="P1M", reporter=f.OWNER)
        result = await decide(handle, "add_measures", AddMeasuresInput(by=f.SPONSOR, measures=[added]))
        assert ["M2"] == [m.measure_id for m in result.measures]
        assert "measures_added" == result.timeline[-1].kind
        told = await eventually(lambda: _of_kind(database_url, ref, "measure_assigned"))
        assert [[f.OWNER]] == [row.recipients for row in told]
        owed = result.measures[0].reading_due_on
        assert owed is not None
        await skip_to(env, owed)
        _, rungs = await _measure_rungs_of(handle, "M2")
        assert [f.OWNER] == rungs[0].recipients


class TestOnTrackThroughTheStatus:
    async def test_on_target_down_and_off_track(self, env, start):
        """Direction down: exactly on the target line is on track, above it off track; the
        expected figure is shown beside the latest reading."""
        now = await today(env)
        handle = await start(
            _measured(
                "MEASURE-DOWN", now, baseline_on=now - days(100), target_by=now, direction=Direction.down,
                baseline=20.0, target=17.0,
            )
        )  # fmt: skip
        on_target = await decide(handle, "record_reading", _reading(17, now))
        assert (MeasureTrack.on_track, 17.0) == (on_target.measures[0].on_track, on_target.measures[0].expected)
        above = await decide(handle, "record_reading", _reading(17.5, now))  # the same day: a correction
        assert MeasureTrack.off_track == above.measures[0].on_track
        assert [17.5] == [r.value for r in above.measures[0].readings]
        assert "reading_corrected" == above.timeline[-1].kind


class TestBadReadings:
    async def test_bad_readings_are_refused_with_the_reason(self, env, start):
        now = await today(env)
        handle = await start(_measured("MEASURE-BAD", now))
        future = await refused(handle, "record_reading", _reading(70, now + days(1)))
        assert ("InvalidReading", True) == (future.type, "a future day" in str(future.message))
        before = await refused(handle, "record_reading", _reading(70, now - days(1)))
        assert "before its baseline" in str(before.message)
        too_big = await refused(handle, "record_reading", _reading(101, now))
        assert "more than 100" in str(too_big.message)
        unknown = await refused(
            handle, "record_reading", RecordReadingInput(by=f.REPORTER, measure_id="M9", value=1, on=now)
        )
        assert "UnknownMeasure" == unknown.type
        stranger = await refused(handle, "record_reading", _reading(70, now, by=f.OWNER))
        assert "WrongPerson" == stranger.type
        assert [] == (await status(handle)).measures[0].readings


def _at_sign_off(ref: str, now: date, *, named: list[str]) -> RecommendationInput:
    """Actions done, credible plans in whose audit plan names ``named``; the measure baselined
    100 days ago, due to reach 90% in 100 days."""
    dissemination, audit = f.credible_plans(now)
    measure = f.measure(baseline_on=now - days(100), target_by=now + days(100), every="P1Y")
    start = f.start(ref, actions=[f.action("A1", now + days(30))], measures=[measure])
    return start.model_copy(
        update={
            "imported": ImportedProgress(
                actions=[ImportedAction(action_id="A1", status="complete", completed_on=now, evidence="Guidance v2")],
                dissemination=dissemination,
                audit=audit.model_copy(update={"measures": named}),
            )
        }
    )


class TestGateAndAudit:
    async def test_sign_off_is_refused_while_the_audit_plan_names_no_measure(self, env, start):
        now = await today(env)
        handle = await start(_at_sign_off("MEASURE-GATE", now, named=[]))
        current = await status(handle)
        assert Stage.sign_off == current.stage
        gap = "audit plan: name at least one impact measure with a baseline and a target that the audit will weigh"
        assert [gap] == current.plan_gaps
        error = await refused(handle, "sign_off", SignOffInput(by=f.ASSURANCE))
        assert "SignOffRefused" == error.type and gap in str(error.message)

    async def test_embedded_while_off_track_asks_for_a_reason_which_the_audit_keeps(self, env, start):
        now = await today(env)
        handle = await start(_at_sign_off("MEASURE-AUDIT", now, named=["M1"]))
        await decide(handle, "sign_off", SignOffInput(by=f.ASSURANCE))
        audit_on = (await status(handle)).audit_plan.audit_on
        await skip_to(env, audit_on)
        # 100 days after the target date the line expects 90%; 70% is off track.
        reading = await decide(handle, "record_reading", _reading(70, audit_on, note="Sample of 20 cases"))
        assert MeasureTrack.off_track == reading.measures[0].on_track
        embedded = RecordAuditInput(by=f.AUDITOR, outcome=AuditOutcome.embedded, findings="Seen in 18 of 20 cases")
        error = await refused(handle, "record_audit", embedded)
        assert "OffTrackMeasure" == error.type and "M1" in str(error.message)
        reason = "The case audit shows the meetings; the count misses those held by phone"
        done = await decide(handle, "record_audit", embedded.model_copy(update={"off_track_reason": reason}))
        assert Stage.assured == done.stage
        assert (["M1"], reason) == (done.audits[-1].off_track_measures, done.audits[-1].off_track_reason)
        assert reason in done.timeline[-2].detail or reason in done.timeline[-1].detail
