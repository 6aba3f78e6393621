"""Impact measures in the lifecycle: the on-track rule at its edges, the readings owed and who is
asked, the refusals of bad readings and measures, the sign-off gate's measure gap and the audit's
reason for "embedded" while a measure is off track. Pure: no Temporal server."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from models.kinds import DeadlineKind, EventKind, MessageKind
from models.lifecycle import DecisionRefused, Lifecycle
from models.measures import expected_on, first_due_after, reading_problem, track_of
from models.payloads import (
    AddMeasuresInput,
    AuditOutcome,
    Direction,
    EscalationLevel,
    ImportedReading,
    MeasureSpec,
    MeasureTrack,
    MeasureUnit,
    Reading,
    RecordAuditInput,
    RecordReadingInput,
    SignOffInput,
    Stage,
    SubmitPlansInput,
)
from models.rules import audit_measure_gaps
from tests import factories as f

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)
TODAY = NOW.date()
BASELINE_ON = date(2026, 1, 1)
TARGET_BY = date(2026, 12, 31)  # 364 days on: halfway is 2 July 2026


def spec(**changes: object) -> MeasureSpec:
    fields = {
        "baseline_on": BASELINE_ON, "target_by": TARGET_BY, "every": "P3M", "baseline": 60.0, "target": 90.0,
        "direction": Direction.up,
    } | changes  # fmt: skip
    return f.measure(**fields)  # type: ignore[arg-type]


def reading(value: float, on: date) -> Reading:
    return Reading(value=value, on=on, by=f.REPORTER, at=NOW)


HALFWAY = BASELINE_ON + timedelta(days=182)


class TestOnTrack:
    def test_no_readings_is_no_data(self):
        assert track_of(spec(), []) is MeasureTrack.no_data

    def test_no_baseline_or_target_is_no_data_whatever_the_readings(self):
        bare = f.measure(baseline=None, baseline_on=None, target=None, target_by=None)  # type: ignore[arg-type]
        assert track_of(bare, [reading(99, TODAY)]) is MeasureTrack.no_data

    def test_exactly_on_target_at_its_date_is_on_track(self):
        assert track_of(spec(), [reading(90, TARGET_BY)]) is MeasureTrack.on_track

    def test_short_of_target_after_its_date_is_off_track(self):
        assert track_of(spec(), [reading(89.9, TARGET_BY + timedelta(days=30))]) is MeasureTrack.off_track

    def test_exactly_on_the_line_halfway_is_on_track_and_just_under_is_not(self):
        assert expected_on(spec(), HALFWAY) == 75
        assert track_of(spec(), [reading(75, HALFWAY)]) is MeasureTrack.on_track
        assert track_of(spec(), [reading(74.9, HALFWAY)]) is MeasureTrack.off_track

    def test_direction_down_is_on_track_at_or_below_the_line(self):
        down = spec(direction=Direction.down, baseline=20.0, target=17.0)
        assert expected_on(down, HALFWAY) == 18.5
        assert track_of(down, [reading(18.5, HALFWAY)]) is MeasureTrack.on_track
        assert track_of(down, [reading(18.6, HALFWAY)]) is MeasureTrack.off_track
        assert track_of(down, [reading(17, TARGET_BY)]) is MeasureTrack.on_track

    def test_the_latest_reading_decides_not_the_best(self):
        readings = [reading(95, BASELINE_ON + timedelta(days=30)), reading(61, HALFWAY)]
        assert track_of(spec(), readings) is MeasureTrack.off_track

    def test_exactly_on_target_is_exact_with_awkward_decimals(self):
        awkward = spec(baseline=0.1, target=0.3)
        assert track_of(awkward, [reading(0.3, TARGET_BY)]) is MeasureTrack.on_track


class TestMeasureFields:
    @pytest.mark.parametrize(
        ("changes", "words"),
        [
            ({"unit": MeasureUnit.percent, "target": 120.0}, "more than 100"),
            ({"unit": MeasureUnit.count_, "baseline": 2.5, "target": 10.0}, "not a whole number"),
            ({"baseline": -1.0}, "negative"),
            ({"target": 50.0}, "must be above the baseline"),
            ({"direction": Direction.down}, "must be below the baseline"),
            ({"target_by": BASELINE_ON}, "must be after baseline_on"),
            ({"baseline_on": None}, "together"),
            ({"target_by": None}, "together"),
            ({"every": "P0D"}, "longer than zero"),
        ],
    )
    def test_bad_measures_are_refused_with_the_reason(self, changes, words):
        with pytest.raises(ValidationError, match=words):
            spec(**changes)

    def test_infinite_and_nan_figures_are_refused(self):
        with pytest.raises(ValidationError):
            spec(baseline=float("inf"))
        with pytest.raises(ValidationError):
            RecordReadingInput(by=f.REPORTER, measure_id="M1", value=float("nan"), on=TODAY)


def test_a_start_with_a_reading_of_no_measure_or_two_on_a_day_is_refused():
    start = f.start()
    with pytest.raises(ValidationError, match="not among the measures"):
        start.model_validate(start.model_dump() | {"readings": [{"measure_id": "M9", "value": 1, "on": TODAY}]})
    twice = [{"measure_id": "M1", "value": 1, "on": TODAY}, {"measure_id": "m1", "value": 2, "on": TODAY}]
    with pytest.raises(ValidationError, match="two readings of measure m1"):
        start.model_validate(start.model_dump() | {"readings": twice})


class TestReadingRules:
    def test_a_future_day_is_refused(self):
        assert "future" in (reading_problem(spec(), 70, TODAY + timedelta(days=1), TODAY) or "")

    def test_a_day_before_the_baseline_is_refused(self):
        assert "before its baseline" in (reading_problem(spec(), 70, BASELINE_ON - timedelta(days=1), TODAY) or "")

    def test_out_of_range_for_the_unit_is_refused(self):
        assert "more than 100" in (reading_problem(spec(), 101, TODAY, TODAY) or "")
        count = spec(unit=MeasureUnit.count_, baseline=10.0, target=20.0)
        assert "whole number" in (reading_problem(count, 12.5, TODAY, TODAY) or "")
        assert "negative" in (reading_problem(spec(unit=MeasureUnit.rate), -0.5, TODAY, TODAY) or "")

    def test_the_baseline_day_and_today_are_accepted(self):
        assert reading_problem(spec(), 60, BASELINE_ON, TODAY) is None
        assert reading_problem(spec(), 100, TODAY, TODAY) is None


def life_with(measure: MeasureSpec, *, now: datetime = NOW, readings: list[ImportedReading] | None = None):
    start = f.start(actions=f.two_actions(TODAY + timedelta(days=60)), measures=[measure])
    start = start.model_copy(update={"readings": readings or []})
    return Lifecycle.begin(start, workflow_id="recommendation-CSPR-2023-01", now=now)


def at(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


class TestReadingsOwed:
    def test_the_first_reading_is_owed_a_period_after_the_baseline_and_the_reporter_is_told(self):
        life = life_with(spec())
        assert life.state.measures[0].reading_due_on == date(2026, 4, 1)
        told = [n for n in life.state.outbox if n.kind is MessageKind.measure_assigned]
        assert [n.recipients for n in told] == [[f.REPORTER]]
        assert told[0].context["measures"][0]["reading_due_on"] == "2026-04-01"
        assert told[0].context["roles"] == {f.REPORTER: "reporter"}

    def test_an_old_baseline_is_not_owed_for_the_years_before_the_measure_came_in(self):
        life = life_with(spec(baseline_on=date(2023, 1, 31), target_by=date(2027, 1, 31)))
        # Quarterly from 31 January: 30 April 2026 is the first such day after 2 March 2026.
        assert life.state.measures[0].reading_due_on == date(2026, 4, 30)

    def test_readings_are_owed_up_to_the_first_owed_day_on_or_after_the_target_date(self):
        life = life_with(spec(baseline_on=date(2025, 1, 1), target_by=date(2026, 5, 15)))
        measure = life.state.measures[0]
        assert measure.reading_due_on == date(2026, 4, 1)
        answered = at(date(2026, 4, 2))
        life.apply(RecordReadingInput(by=f.REPORTER, measure_id="M1", value=80, on=answered.date()), answered)
        assert measure.reading_due_on == date(2026, 7, 1)  # the first owed day on or after 15 May
        final = at(date(2026, 7, 1))
        life.apply(RecordReadingInput(by=f.REPORTER, measure_id="M1", value=91, on=final.date()), final)
        assert measure.reading_due_on is None
        assert not [d for d in life.pending_deadlines() if d.kind is DeadlineKind.reading]

    def test_a_measure_whose_target_date_has_long_passed_owes_nothing(self):
        life = life_with(spec(baseline_on=date(2023, 1, 1), target_by=date(2024, 1, 1)))
        assert life.state.measures[0].reading_due_on is None
        assert life.status(NOW).measures[0].reading_due_on is None

    def test_readings_already_collected_count_and_the_next_is_owed_after_the_latest(self):
        collected = [ImportedReading(measure_id="m1", value=70, on=date(2026, 2, 1), note="from the log")]
        life = life_with(spec(), readings=collected)
        measure = life.state.measures[0]
        assert [(r.value, r.on, r.by) for r in measure.readings] == [(70, date(2026, 2, 1), f.REPORTER)]
        assert measure.reading_due_on == date(2026, 4, 1)
        assert life.status(NOW).measures[0].on_track is MeasureTrack.on_track

    def test_silence_asks_the_reporter_on_the_day_then_climbs_the_boards_ladder(self):
        life = life_with(spec())
        del life.state.outbox[:]
        due = date(2026, 4, 1)
        ask = life.pending_deadlines()
        assert any(d.kind is DeadlineKind.reading and d.measure_id == "M1" and d.at == at(due, 8) for d in ask)
        life.fire_due(at(due))
        asked = [n for n in life.state.outbox if n.kind is MessageKind.reading_due]
        assert [n.recipients for n in asked] == [[f.REPORTER]]
        assert asked[0].context["measure"]["measure_id"] == "M1"
        assert life.status(at(due)).measures[0].overdue is False  # asked, not yet overdue
        # board_after (P14D) later the board's sponsor and chair hear; assurance_after (P42D) the Assurance Board.
        life.fire_due(at(due + timedelta(days=14)))
        board = [n for n in life.state.outbox if n.kind is MessageKind.board_escalation]
        assert board and set(board[-1].recipients) == {f.SPONSOR, f.CHAIR}
        assert board[-1].context["about"] == "reading"
        status = life.status(at(due + timedelta(days=14)))
        assert status.measures[0].overdue and status.overdue
        assert status.escalation_level is EscalationLevel.sponsoring_board
        life.fire_due(at(due + timedelta(days=42)))
        top = [n for n in life.state.outbox if n.kind is MessageKind.assurance_escalation]
        assert top and top[-1].recipients == [f.ASSURANCE]
        about_it = [e.level for e in life.state.escalations if e.subject == "measure:M1"]
        assert about_it == [EscalationLevel.owner, EscalationLevel.sponsoring_board, EscalationLevel.assurance_board]

    def test_a_reading_answers_the_one_owed_and_the_next_is_a_period_on(self):
        life = life_with(spec())
        life.fire_due(at(date(2026, 4, 1)))  # asked
        late = at(date(2026, 4, 20))
        life.fire_due(late)
        decision = RecordReadingInput(by=f.REPORTER, measure_id="M1", value=68, on=date(2026, 4, 18))
        life.check(decision, late)
        life.apply(decision, late)
        measure = life.state.measures[0]
        assert measure.reading_due_on == date(2026, 7, 1) and measure.reading_ladder == []
        assert life.state.timeline[-1].kind == EventKind.reading_recorded

    def test_an_early_reading_in_the_period_answers_it(self):
        life = life_with(spec())
        early = at(date(2026, 3, 25))
        decision = RecordReadingInput(by=f.REPORTER, measure_id="M1", value=66, on=date(2026, 3, 25))
        life.apply(decision, early)
        assert life.state.measures[0].reading_due_on == date(2026, 7, 1)

    def test_a_backdated_reading_from_an_earlier_period_leaves_the_one_owed(self):
        life = life_with(spec(baseline_on=date(2025, 1, 1), target_by=date(2026, 12, 31)))
        assert life.state.measures[0].reading_due_on == date(2026, 4, 1)
        old = RecordReadingInput(by=f.SPONSOR, measure_id="M1", value=65, on=date(2025, 6, 1), note="from 2025")
        life.check(old, NOW)
        life.apply(old, NOW)
        assert life.state.measures[0].reading_due_on == date(2026, 4, 1)
        assert "recorded on behalf of " + f.REPORTER in life.state.timeline[-1].detail

    def test_a_second_reading_for_a_day_corrects_the_first(self):
        life = life_with(spec())
        for value in (66, 67):
            life.apply(RecordReadingInput(by=f.REPORTER, measure_id="M1", value=value, on=TODAY), NOW)
        assert [r.value for r in life.state.measures[0].readings] == [67]
        assert life.state.timeline[-1].kind == EventKind.reading_corrected

    def test_correcting_the_reading_that_answered_does_not_skip_the_next_period(self):
        life = life_with(spec(every="P1M"))
        measure = life.state.measures[0]
        assert measure.reading_due_on == date(2026, 4, 1)
        late = at(date(2026, 4, 3))
        life.apply(RecordReadingInput(by=f.REPORTER, measure_id="M1", value=66, on=late.date()), late)
        assert measure.reading_due_on == date(2026, 5, 1)
        fixed = at(date(2026, 4, 4))
        life.apply(RecordReadingInput(by=f.REPORTER, measure_id="M1", value=67, on=late.date()), fixed)
        assert measure.reading_due_on == date(2026, 5, 1)  # still May: the correction answers nothing new
        assert [r.value for r in measure.readings] == [67]

    def test_catching_up_missed_readings_does_not_set_off_their_ladders(self):
        """Silent from April to July, the reporter gives April's figure in late July: the periods
        missed lapse, and the next owed is the next to come, not one already past."""
        life = life_with(spec(every="P1M"))
        life.fire_due(at(date(2026, 7, 25)))
        assert life.state.measures[0].reading_ladder  # April's reading climbed the ladder
        del life.state.outbox[:]
        now = at(date(2026, 7, 25))
        life.apply(RecordReadingInput(by=f.REPORTER, measure_id="M1", value=66, on=date(2026, 4, 2)), now)
        measure = life.state.measures[0]
        assert (measure.reading_due_on, measure.reading_ladder) == (date(2026, 8, 1), [])
        life.fire_due(now)
        assert [n.kind for n in life.state.outbox] == []

    def test_a_weekly_measure_on_working_days_baselined_long_ago_is_quick(self):
        weekly = spec(every="P1W", baseline_on=date(2001, 1, 1), target_by=date(2090, 1, 1))
        started = datetime.now(UTC)
        life_with(weekly, now=at(date(2026, 3, 2)))
        assert (datetime.now(UTC) - started).total_seconds() < 1  # was 10 s before working days were looked up

    def test_a_reading_exactly_on_a_decimal_line_is_on_track(self):
        down = spec(unit=MeasureUnit.rate, direction=Direction.down, baseline=0.3, target=0.1)
        assert track_of(down, [reading(0.2, BASELINE_ON + timedelta(days=182))]) is MeasureTrack.on_track

    def test_a_reading_dated_today_in_london_just_after_midnight_is_not_in_the_future(self):
        life = life_with(spec())
        # 00:30 BST on 1 June is 23:30 UTC on 31 May.
        late_evening_utc = datetime(2026, 5, 31, 23, 30, tzinfo=UTC)
        life.check(RecordReadingInput(by=f.REPORTER, measure_id="M1", value=70, on=date(2026, 6, 1)), late_evening_utc)

    def test_working_days_roll_an_owed_day_off_a_weekend(self):
        saturday = date(2026, 4, 4)
        weekly = spec(every="P3M", baseline_on=saturday - timedelta(days=91))
        assert first_due_after(weekly, weekly.baseline_on, TODAY, working_days=True).weekday() < 5  # type: ignore[arg-type]


def test_an_agency_lead_who_reports_a_measure_is_told_of_an_action_as_its_agency_lead():
    """A measure's own emails name the reporter's role; others keep the role they are sent for."""
    life = life_with(spec(reporter=f.ICB_LEAD))
    del life.state.outbox[:]
    life.fire_due(at(TODAY + timedelta(days=13)))  # unacknowledged: the agency-lead rung of A1's ladder
    copies = [n for n in life.state.outbox if n.kind is MessageKind.agency_lead_copy and n.action_id == "A1"]
    assert copies and copies[0].context["roles"][f.ICB_LEAD] == "agency_lead"


class TestReadingRefusals:
    def refused(self, life: Lifecycle, decision: RecordReadingInput) -> DecisionRefused:
        with pytest.raises(DecisionRefused) as caught:
            life.check(decision, NOW)
        return caught.value

    def test_an_unknown_measure_is_refused_naming_the_ones_there_are(self):
        refusal = self.refused(life_with(spec()), RecordReadingInput(by=f.REPORTER, measure_id="M9", value=1, on=TODAY))
        assert refusal.type == "UnknownMeasure" and "M1" in refusal.message

    def test_the_wrong_person_is_refused(self):
        life = life_with(spec())
        refusal = self.refused(life, RecordReadingInput(by=f.OWNER, measure_id="M1", value=70, on=TODAY))
        assert refusal.type == "WrongPerson"

    @pytest.mark.parametrize(
        ("value", "on", "words"),
        [
            (70, TODAY + timedelta(days=1), "future"),
            (70, date(2025, 12, 31), "before its baseline"),
            (100.5, TODAY, "100"),
        ],
    )
    def test_bad_readings_are_refused_with_the_reason(self, value, on, words):
        life = life_with(spec())
        refusal = self.refused(life, RecordReadingInput(by=f.REPORTER, measure_id="M1", value=value, on=on))
        assert refusal.type == "InvalidReading" and words in refusal.message

    def test_a_recommendation_without_measures_offers_no_reading(self):
        start = f.start(actions=f.two_actions(TODAY + timedelta(days=60)), measures=[])
        life = Lifecycle.begin(start, workflow_id="recommendation-X", now=NOW)
        refusal = self.refused(life, RecordReadingInput(by=f.SPONSOR, measure_id="M1", value=1, on=TODAY))
        assert refusal.type == "WrongStage"


class TestAddingMeasures:
    def test_the_sponsor_adds_a_measure_and_its_reporter_is_told(self):
        life = life_with(spec())
        del life.state.outbox[:]
        decision = AddMeasuresInput(by=f.SPONSOR, measures=[spec(measure_id="M2", reporter=f.OWNER)])
        life.check(decision, NOW)
        life.apply(decision, NOW)
        assert [m.measure_id for m in life.state.measures] == ["M1", "M2"]
        assert [n.recipients for n in life.state.outbox if n.kind is MessageKind.measure_assigned] == [[f.OWNER]]

    def test_two_reporters_are_each_told_of_their_own_measures(self):
        life = life_with(spec())
        del life.state.outbox[:]
        both = [spec(measure_id="M2", reporter=f.OWNER), spec(measure_id="M3", reporter=f.OWNER_2)]
        life.apply(AddMeasuresInput(by=f.SPONSOR, measures=both), NOW)
        told = [n for n in life.state.outbox if n.kind is MessageKind.measure_assigned]
        assert sorted((n.recipients, [m["measure_id"] for m in n.context["measures"]]) for n in told) == sorted(
            [([f.OWNER], ["M2"]), ([f.OWNER_2], ["M3"])]
        )
        assert len({n.key for n in told}) == 2

    @pytest.mark.parametrize(
        ("measure", "words"),
        [
            (lambda: spec(measure_id="m1"), "already used"),
            (lambda: spec(measure_id="M2", baseline_on=TODAY + timedelta(days=1)), "future day"),
        ],
    )
    def test_a_repeated_id_or_a_future_baseline_is_refused(self, measure, words):
        life = life_with(spec())
        with pytest.raises(DecisionRefused, match=words):
            life.check(AddMeasuresInput(by=f.SPONSOR, measures=[measure()]), NOW)

    def test_no_more_than_twenty_measures_in_all(self):
        life = life_with(spec())
        more = [spec(measure_id=f"N{n}") for n in range(20)]
        with pytest.raises(DecisionRefused, match="at most 20 measures; it has 1 already"):
            life.check(AddMeasuresInput(by=f.SPONSOR, measures=more), NOW)

    def test_only_the_sponsoring_board_adds_measures(self):
        life = life_with(spec())
        with pytest.raises(DecisionRefused) as caught:
            life.check(AddMeasuresInput(by=f.REPORTER, measures=[spec(measure_id="M2")]), NOW)
        assert caught.value.type == "WrongPerson"


class TestGateAndAudit:
    def test_an_audit_plan_naming_no_measure_with_baseline_and_target_is_a_gap(self):
        _, audit = f.credible_plans(TODAY)
        bare = f.measure("M2", baseline=None, baseline_on=None, target=None, target_by=None)  # type: ignore[arg-type]
        none_named = audit.model_copy(update={"measures": []})
        assert audit_measure_gaps(none_named, [spec()]) == [
            "audit plan: name at least one impact measure with a baseline and a target that the audit will weigh"
        ]
        assert audit_measure_gaps(audit.model_copy(update={"measures": ["M2"]}), [spec(), bare]) != []
        assert audit_measure_gaps(audit, [spec()]) == []
        assert audit_measure_gaps(audit.model_copy(update={"measures": ["M1", "M7"]}), [spec()]) == [
            "audit plan: there is no measure 'M7' on this recommendation"
        ]
        assert "the recommendation has none yet" in audit_measure_gaps(none_named, [])[0]

    def test_sign_off_is_refused_with_the_measure_gap(self):
        life = signed_off_ready(measures_named=[])
        with pytest.raises(DecisionRefused) as caught:
            life.check(SignOffInput(by=f.ASSURANCE), NOW)
        assert caught.value.type == "SignOffRefused"
        assert any("impact measure" in gap for gap in caught.value.gaps)

    def test_embedded_with_a_measure_off_track_asks_for_the_reason_and_the_audit_keeps_it(self):
        life = signed_off_ready(measures_named=["M1"])
        life.apply(SignOffInput(by=f.ASSURANCE), NOW)
        on = NOW + timedelta(days=200)
        life.state.stage = Stage.audit
        life.apply(RecordReadingInput(by=f.REPORTER, measure_id="M1", value=61, on=on.date()), on)
        assert [v.measure_id for v in life.off_track()] == ["M1"]
        embedded = RecordAuditInput(by=f.AUDITOR, outcome=AuditOutcome.embedded, findings="Seen in 19 of 20 cases")
        with pytest.raises(DecisionRefused) as caught:
            life.check(embedded, on)
        assert caught.value.type == "OffTrackMeasure" and "M1" in caught.value.message
        reasoned = embedded.model_copy(update={"off_track_reason": "The count lags the case audit by a quarter"})
        life.check(reasoned, on)
        life.apply(reasoned, on)
        record = life.state.audits[-1]
        assert record.off_track_measures == ["M1"]
        assert record.off_track_reason == "The count lags the case audit by a quarter"
        assert "M1 off track" in life.state.timeline[-2].detail or "M1 off track" in life.state.timeline[-1].detail

    def test_embedded_with_every_measure_on_track_needs_no_reason(self):
        life = signed_off_ready(measures_named=["M1"])
        life.apply(SignOffInput(by=f.ASSURANCE), NOW)
        on = NOW + timedelta(days=200)
        life.state.stage = Stage.audit
        life.apply(RecordReadingInput(by=f.REPORTER, measure_id="M1", value=90, on=on.date()), on)
        life.check(RecordAuditInput(by=f.AUDITOR, outcome=AuditOutcome.embedded), on)


def signed_off_ready(*, measures_named: list[str]) -> Lifecycle:
    """A recommendation whose actions are complete and whose credible plans (naming
    ``measures_named``) are in, at sign-off."""
    life = life_with(spec(baseline_on=date(2025, 9, 1), target_by=date(2027, 3, 1)))
    dissemination, audit = f.credible_plans(TODAY)
    for action in life.state.actions:
        action.status = action.status.complete
    life.state.stage = Stage.dissemination_plan
    plans = SubmitPlansInput(
        by=f.OWNER, dissemination=dissemination, audit=audit.model_copy(update={"measures": measures_named})
    )
    life.apply(plans, NOW)
    assert life.state.stage is Stage.sign_off
    return life
