"""Domain rules: plan gaps before sign-off, the overdue ladder, and the deadline moment."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from models.payloads import AuditPlan, CascadeStep, DisseminationPlan, EscalationLevel, EscalationPolicy
from models.rules import (
    DEADLINE_TIME,
    LADDER,
    MIN_SOCIALISATION_CHARS,
    audit_measure_gaps,
    audit_plan_gaps,
    cascade_gaps,
    deadline_at,
    dissemination_gaps,
    highest,
    ladder_dates,
    level_reached,
    next_ladder_step,
    sign_off_gaps,
)
from tests import factories as f

L = EscalationLevel

DUE = date(2023, 5, 4)  # a Thursday; Monday 8 May 2023 is the coronation bank holiday

WORKING = EscalationPolicy(agency_lead_after="P7D", board_after="P14D", assurance_after="P42D", working_days=True)
CALENDAR = EscalationPolicy(agency_lead_after="P7D", board_after="P14D", assurance_after="P42D", working_days=False)

# Worked by hand against the England and Wales bank holidays of 2023 (8 May coronation, 29 May spring):
#   agency_lead: Fri 5, Tue 9, Wed 10, Thu 11, Fri 12, Mon 15, Tue 16 May        -> 16 May
#   board:       Wed 17, Thu 18, Fri 19, Mon 22, Tue 23, Wed 24, Thu 25 May      -> 25 May
#   assurance:   Fri 26 May (15), skip Mon 29, Tue 30 May (16) ... Fri 30 Jun (39),
#                Mon 3 (40), Tue 4 (41), Wed 5 Jul (42)                           -> 5 Jul
WORKING_LADDER = {
    L.owner: date(2023, 5, 4),
    L.agency_lead: date(2023, 5, 16),
    L.sponsoring_board: date(2023, 5, 25),
    L.assurance_board: date(2023, 7, 5),
}
CALENDAR_LADDER = {
    L.owner: date(2023, 5, 4),
    L.agency_lead: date(2023, 5, 11),
    L.sponsoring_board: date(2023, 5, 18),
    L.assurance_board: date(2023, 6, 15),
}


def credible_dissemination(**changes) -> DisseminationPlan:
    fields = dict(
        audiences=["GP practices", "school designated safeguarding leads"],
        channels=["7-minute briefing", "practice newsletter"],
        socialisation="Team leads walk through the briefing in supervision for three months.",
        owner="dsl@example.org",
        starts=date(2024, 3, 1),
        ends=date(2024, 5, 31),
        cascade=[
            CascadeStep(agency="Thames Valley Police", staff_group="response officers", expected_reach=300),
            CascadeStep(agency="Milton Keynes City Council", lead="cs.trainer@mk.example", expected_reach=40),
        ],
        cascade_by=date(2024, 7, 31),
    )
    return DisseminationPlan(**(fields | changes))


# The registry's safeguarding leads, as a recommendation's parties hold them.
LEADS = {"Thames Valley Police": "safeguarding.lead@police.example"}
# The recommendation's impact measure that the credible audit plan names.
MEASURES = [f.measure()]


def credible_audit(**changes) -> AuditPlan:
    fields = dict(
        method="Case file audit of 20 referrals against the new threshold guidance.",
        auditor="auditor@example.org",
        audit_on=date(2024, 9, 2),
        success_measures=["threshold applied in 18 of 20 files"],
        measures=[f.MEASURE_ID],
    )
    return AuditPlan(**(fields | changes))


class TestDisseminationGaps:
    def test_credible_plan(self):
        """A complete, credible dissemination plan has no gaps."""
        assert [] == dissemination_gaps(credible_dissemination())

    def test_missing_plan(self):
        """No plan at all is a single gap saying none has been submitted."""
        assert ["no dissemination, communication and socialisation plan has been submitted"] == dissemination_gaps(None)

    def test_empty_plan_lists_every_gap(self):
        """An empty plan lists every missing field at once, in field order."""
        assert [
            "dissemination plan: name the audiences who need to know",
            "dissemination plan: name the channels the learning goes out through",
            "dissemination plan: say how the change is socialised into everyday practice",
            "dissemination plan: name an owner",
            "dissemination plan: give a start date",
            "dissemination plan: give an end date",
        ] == dissemination_gaps(DisseminationPlan())

    @pytest.mark.parametrize(
        ("changes", "gap"),
        [
            ({"audiences": []}, "dissemination plan: name the audiences who need to know"),
            ({"audiences": ["", "   "]}, "dissemination plan: name the audiences who need to know"),
            ({"channels": []}, "dissemination plan: name the channels the learning goes out through"),
            ({"channels": ["  "]}, "dissemination plan: name the channels the learning goes out through"),
            ({"socialisation": ""}, "dissemination plan: say how the change is socialised into everyday practice"),
            ({"owner": ""}, "dissemination plan: name an owner"),
            ({"owner": "   "}, "dissemination plan: name an owner"),
            ({"starts": None}, "dissemination plan: give a start date"),
            ({"ends": None}, "dissemination plan: give an end date"),
        ],
    )
    def test_each_missing_field(self, changes, gap):
        """Each missing or blank field produces exactly its own gap."""
        assert [gap] == dissemination_gaps(credible_dissemination(**changes))

    def test_blank_entries_beside_real_ones(self):
        """A blank audience beside a real one is not a gap."""
        assert [] == dissemination_gaps(credible_dissemination(audiences=["", "GP practices"]))

    def test_socialisation_one_short(self):
        """Socialisation one character shorter than the minimum is a gap."""
        plan = credible_dissemination(socialisation="x" * (MIN_SOCIALISATION_CHARS - 1))
        assert ["dissemination plan: say how the change is socialised into everyday practice"] == dissemination_gaps(
            plan
        )

    def test_socialisation_at_minimum(self):
        """Socialisation exactly the minimum length is enough."""
        assert [] == dissemination_gaps(credible_dissemination(socialisation="x" * MIN_SOCIALISATION_CHARS))

    def test_socialisation_padding_does_not_count(self):
        """Surrounding whitespace does not count towards the socialisation minimum."""
        plan = credible_dissemination(socialisation=" " * 40 + "briefing" + " " * 40)
        assert ["dissemination plan: say how the change is socialised into everyday practice"] == dissemination_gaps(
            plan
        )

    def test_ends_before_starts(self):
        """A plan that ends before it starts is a gap naming both dates."""
        plan = credible_dissemination(starts=date(2024, 5, 31), ends=date(2024, 3, 1))
        assert ["dissemination plan: ends (2024-03-01) before it starts (2024-05-31)"] == dissemination_gaps(plan)

    def test_ends_on_start_day(self):
        """A plan that starts and ends on the same day is not a gap."""
        assert [] == dissemination_gaps(credible_dissemination(starts=date(2024, 3, 1), ends=date(2024, 3, 1)))

    def test_several_gaps_together(self):
        """Several problems are all reported, not just the first."""
        plan = credible_dissemination(channels=[], owner="", starts=date(2024, 5, 31), ends=date(2024, 3, 1))
        assert [
            "dissemination plan: name the channels the learning goes out through",
            "dissemination plan: name an owner",
            "dissemination plan: ends (2024-03-01) before it starts (2024-05-31)",
        ] == dissemination_gaps(plan)


class TestAuditPlanGaps:
    def test_credible_plan(self):
        """A complete audit plan dated after dissemination ends has no gaps."""
        assert [] == audit_plan_gaps(credible_audit(), credible_dissemination())

    def test_missing_plan(self):
        """No audit plan is a single gap saying none has been submitted."""
        assert ["no review and audit plan has been submitted"] == audit_plan_gaps(None, credible_dissemination())

    def test_empty_plan_lists_every_gap(self):
        """An empty audit plan lists every missing field at once."""
        assert [
            "audit plan: say how the audit will test application and impact (method)",
            "audit plan: name an auditor",
            "audit plan: give an audit date",
            "audit plan: list the success measures the audit will check",
        ] == audit_plan_gaps(AuditPlan(), credible_dissemination())

    @pytest.mark.parametrize(
        ("changes", "gap"),
        [
            ({"method": ""}, "audit plan: say how the audit will test application and impact (method)"),
            ({"auditor": "  "}, "audit plan: name an auditor"),
            ({"audit_on": None}, "audit plan: give an audit date"),
            ({"success_measures": []}, "audit plan: list the success measures the audit will check"),
            ({"success_measures": [" "]}, "audit plan: list the success measures the audit will check"),
        ],
    )
    def test_each_missing_field(self, changes, gap):
        """Each missing or blank field produces exactly its own gap."""
        assert [gap] == audit_plan_gaps(credible_audit(**changes), credible_dissemination())

    def test_audit_on_dissemination_end(self):
        """An audit on the day dissemination ends is a gap: it must come after."""
        plan = credible_audit(audit_on=date(2024, 5, 31))
        assert [
            "audit plan: the audit date (2024-05-31) must be after dissemination ends (2024-05-31)"
        ] == audit_plan_gaps(plan, credible_dissemination())

    def test_audit_before_dissemination_end(self):
        """An audit before dissemination ends is a gap."""
        plan = credible_audit(audit_on=date(2024, 4, 1))
        assert [
            "audit plan: the audit date (2024-04-01) must be after dissemination ends (2024-05-31)"
        ] == audit_plan_gaps(plan, credible_dissemination())

    def test_audit_day_after_dissemination_end(self):
        """An audit the day after dissemination ends is credible."""
        assert [] == audit_plan_gaps(credible_audit(audit_on=date(2024, 6, 1)), credible_dissemination())

    def test_no_dissemination_to_compare(self):
        """Without a dissemination plan, or without its end date, the audit date is not compared."""
        early = credible_audit(audit_on=date(2000, 1, 1))
        assert ([], []) == (
            audit_plan_gaps(early, None),
            audit_plan_gaps(early, credible_dissemination(ends=None)),
        )


class TestSignOffGaps:
    def test_credible_pair(self):
        """A complete, credible pair of plans can be signed off."""
        assert [] == sign_off_gaps(credible_dissemination(), credible_audit(), LEADS, MEASURES)

    def test_nothing_submitted(self):
        """With neither plan submitted both are reported as missing."""
        assert [
            "no dissemination, communication and socialisation plan has been submitted",
            "no review and audit plan has been submitted",
        ] == sign_off_gaps(None, None, LEADS, MEASURES)

    def test_only_audit_missing(self):
        """A credible dissemination plan without an audit plan leaves one gap."""
        assert ["no review and audit plan has been submitted"] == sign_off_gaps(
            credible_dissemination(), None, LEADS, MEASURES
        )

    def test_empty_plans_list_every_gap(self):
        """Two empty plans list all twelve gaps: dissemination, its cascade, the audit, its measures."""
        empty = DisseminationPlan()
        gaps = sign_off_gaps(empty, AuditPlan(), LEADS, MEASURES)
        assert (
            dissemination_gaps(empty)
            + cascade_gaps(empty, AuditPlan(), LEADS)
            + audit_plan_gaps(AuditPlan(), None)
            + audit_measure_gaps(AuditPlan(), MEASURES)
            == gaps
        )
        assert 12 == len(gaps)

    def test_cross_plan_gap(self):
        """The audit-after-dissemination check uses the dissemination plan passed alongside."""
        dissemination = credible_dissemination(ends=date(2024, 9, 30))
        assert [
            "audit plan: the audit date (2024-09-02) must be after dissemination ends (2024-09-30)"
        ] == sign_off_gaps(dissemination, credible_audit(), LEADS, MEASURES)


class TestCascadeGaps:
    def test_a_credible_cascade_has_none(self):
        """Every agency with someone to confirm, a reach, and a date on or before the audit."""
        assert [] == cascade_gaps(credible_dissemination(), credible_audit(), LEADS)
        on_the_day = credible_dissemination(cascade_by=date(2024, 9, 2))
        assert [] == cascade_gaps(on_the_day, credible_audit(), LEADS)

    def test_each_missing_piece_is_named(self):
        """No lead anywhere, no reach, and confirmations due after the audit: one gap each."""
        plan = credible_dissemination(
            cascade=[
                CascadeStep(agency="Oakhill Secure Training Centre", expected_reach=0),
                CascadeStep(agency="Thames Valley Police", expected_reach=12),
            ],
            cascade_by=date(2024, 9, 3),
        )
        assert [
            "cascade: Oakhill Secure Training Centre has no safeguarding lead in the registry; "
            "name the lead who confirms",
            "cascade: say how many of Oakhill Secure Training Centre's staff the learning must reach",
            "cascade: confirmations are due (2024-09-03) after the audit date (2024-09-02)",
        ] == cascade_gaps(plan, credible_audit(), LEADS)

    def test_no_agency_and_no_date(self):
        assert [
            "cascade: name at least one agency whose staff the learning must reach",
        ] == cascade_gaps(credible_dissemination(cascade=[]), credible_audit(), LEADS)
        assert [
            "cascade: give the date by which every agency is to confirm",
        ] == cascade_gaps(credible_dissemination(cascade_by=None), credible_audit(), LEADS)

    def test_an_agency_twice_or_a_negative_reach_is_refused_at_entry(self):
        with pytest.raises(ValueError, match="agency listed more than once in the cascade: Thames Valley Police"):
            credible_dissemination(
                cascade=[CascadeStep(agency="Thames Valley Police"), CascadeStep(agency="thames valley police")]
            )
        with pytest.raises(ValueError, match="greater than or equal to 0"):
            CascadeStep(agency="Thames Valley Police", expected_reach=-1)
        with pytest.raises(ValueError, match="less than or equal to 100"):
            credible_dissemination(reach_threshold=101)


class TestLadderDates:
    def test_working_days(self):
        """In working days the rungs skip weekends, the coronation and the spring bank holiday."""
        assert WORKING_LADDER == ladder_dates(WORKING, DUE)

    def test_calendar_days(self):
        """In calendar days the rungs are 0, 7, 14 and 42 days after the due date."""
        assert CALENDAR_LADDER == ladder_dates(CALENDAR, DUE)

    def test_rung_order(self):
        """The rungs come back in ladder order."""
        assert list(LADDER) == list(ladder_dates(WORKING, DUE))

    def test_every_working_rung_is_working_day(self):
        """Every rung in working-day mode falls on a working day even from a weekend anchor."""
        # Saturday 6 May 2023: owner rolls past Sunday and the coronation to Tuesday 9 May;
        # agency lead: Tue 9, Wed 10, Thu 11, Fri 12, Mon 15, Tue 16, Wed 17 May.
        dates = ladder_dates(WORKING, date(2023, 5, 6))
        assert (date(2023, 5, 9), date(2023, 5, 17)) == (dates[L.owner], dates[L.agency_lead])

    def test_calendar_owner_on_weekend(self):
        """In calendar days the owner rung falls on the anchor even when it is a Saturday."""
        assert date(2023, 5, 6) == ladder_dates(CALENDAR, date(2023, 5, 6))[L.owner]

    def test_subset_of_levels(self):
        """Asking for some levels gives only those."""
        assert {L.sponsoring_board: date(2023, 5, 25), L.assurance_board: date(2023, 7, 5)} == ladder_dates(
            WORKING, DUE, (L.sponsoring_board, L.assurance_board)
        )

    def test_month_rung(self):
        """A month-long rung in working mode rolls a Sunday to the Monday after."""
        policy = EscalationPolicy(agency_lead_after="P7D", board_after="P14D", assurance_after="P1M", working_days=True)
        # 4 May 2023 + P1M = Sunday 4 June 2023 -> Monday 5 June.
        assert date(2023, 6, 5) == ladder_dates(policy, DUE)[L.assurance_board]


class TestNextLadderStep:
    def test_nothing_fired(self):
        """With nothing fired the next step is the owner on the due date."""
        assert (L.owner, date(2023, 5, 4)) == next_ladder_step(WORKING, DUE, [])

    @pytest.mark.parametrize(
        ("fired", "expected"),
        [
            ([L.owner], (L.agency_lead, date(2023, 5, 16))),
            ([L.owner, L.agency_lead], (L.sponsoring_board, date(2023, 5, 25))),
            ([L.owner, L.agency_lead, L.sponsoring_board], (L.assurance_board, date(2023, 7, 5))),
        ],
    )
    def test_skips_fired(self, fired, expected):
        """Fired rungs are skipped and the next one up is returned with its day."""
        assert expected == next_ladder_step(WORKING, DUE, fired)

    def test_never_steps_down(self):
        """A lower rung that never fired is not returned once a higher one has."""
        assert (L.assurance_board, date(2023, 7, 5)) == next_ladder_step(WORKING, DUE, [L.sponsoring_board])

    def test_top_of_ladder(self):
        """With every rung fired there is no next step."""
        assert None is next_ladder_step(WORKING, DUE, list(LADDER))

    def test_top_rung_alone(self):
        """With only the top rung fired there is no next step."""
        assert None is next_ladder_step(WORKING, DUE, [L.assurance_board])

    def test_accepts_any_iterable(self):
        """Fired levels may come as a generator."""
        assert (L.agency_lead, date(2023, 5, 11)) == next_ladder_step(CALENDAR, DUE, (lv for lv in [L.owner]))


class TestLevelReached:
    def test_before_anchor(self):
        """Before the due date no rung has been reached."""
        assert L.none == level_reached(WORKING, DUE, DUE - timedelta(days=1))

    @pytest.mark.parametrize("level", list(LADDER))
    def test_on_each_rung(self, level):
        """On each rung's day that rung is the one reached."""
        assert level == level_reached(WORKING, DUE, WORKING_LADDER[level])

    @pytest.mark.parametrize("level", list(LADDER)[1:])
    def test_day_before_each_rung(self, level):
        """The day before a rung the rung below it is the one reached."""
        below = LADDER[LADDER.index(level) - 1]
        assert below == level_reached(WORKING, DUE, WORKING_LADDER[level] - timedelta(days=1))

    @pytest.mark.parametrize("level", list(LADDER))
    def test_calendar_rungs(self, level):
        """In calendar days each rung is reached on its own calendar date."""
        assert level == level_reached(CALENDAR, DUE, CALENDAR_LADDER[level])

    def test_long_after(self):
        """Long after the due date the top rung is reached."""
        assert L.assurance_board == level_reached(WORKING, DUE, date(2030, 1, 1))

    def test_weekend_anchor_not_yet_reached(self):
        """From a Saturday anchor in working mode nothing is reached until the owner's rolled day."""
        anchor = date(2023, 5, 6)
        assert (L.none, L.none, L.owner) == (
            level_reached(WORKING, anchor, anchor),
            level_reached(WORKING, anchor, date(2023, 5, 8)),
            level_reached(WORKING, anchor, date(2023, 5, 9)),
        )


class TestHighest:
    def test_empty(self):
        """The highest of no levels is none."""
        assert L.none == highest([])

    def test_mixed(self):
        """The highest level is the one furthest up the ladder, whatever the order given."""
        assert L.assurance_board == highest([L.owner, L.assurance_board, L.agency_lead])

    def test_single(self):
        """The highest of one level is that level."""
        assert L.sponsoring_board == highest([L.sponsoring_board])

    def test_none_only(self):
        """The highest of only none is none."""
        assert L.none == highest([L.none, L.none])

    def test_generator(self):
        """Levels may come as a generator."""
        assert L.agency_lead == highest(lv for lv in (L.owner, L.agency_lead))


class TestDeadlineAt:
    def test_eight_utc(self):
        """A deadline fires at 08:00 UTC on its day."""
        assert datetime(2023, 5, 4, 8, 0, tzinfo=UTC) == deadline_at(date(2023, 5, 4))

    def test_utc_offset_is_zero(self):
        """The deadline moment is timezone-aware and in UTC."""
        assert timedelta(0) == deadline_at(date(2023, 12, 25)).utcoffset()

    def test_time_of_day(self):
        """The deadline's time of day is DEADLINE_TIME, 08:00."""
        assert time(8, 0) == DEADLINE_TIME == deadline_at(date(2024, 2, 29)).timetz().replace(tzinfo=None)

    def test_in_british_summer_time(self):
        """In British Summer Time 08:00 UTC is 09:00 in London, on the same day."""
        local = deadline_at(date(2023, 7, 5)).astimezone(ZoneInfo("Europe/London"))
        assert (date(2023, 7, 5), 9) == (local.date(), local.hour)

    def test_in_winter(self):
        """In winter 08:00 UTC is 08:00 in London."""
        local = deadline_at(date(2023, 12, 4)).astimezone(ZoneInfo("Europe/London"))
        assert (date(2023, 12, 4), 8) == (local.date(), local.hour)
