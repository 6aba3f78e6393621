"""Reviews' clocks: the defaults per kind, a rapid review counted in working days across bank
holidays (checked against an independent count), and where each clock stands."""

from __future__ import annotations

from datetime import date, timedelta

import holidays
import pytest
from pydantic import ValidationError

from models.payloads import SourceKind
from models.review_clocks import DEFAULT_REVIEW_CLOCKS, ReviewClock, ReviewMilestone, ReviewPolicy, clock_views

M = ReviewMilestone


def _count_working_days(start: date, n: int) -> date:
    """An oracle apart from models.calendar: a day at a time, skipping weekends and the bank
    holidays the holidays package lists for England."""
    off = set(holidays.country_holidays("GB", subdiv="ENG", years=[start.year, start.year + 1]).keys())
    day = start
    while n:
        day += timedelta(days=1)
        if day.weekday() < 5 and day not in off:
            n -= 1
    return day


def test_every_kind_of_review_has_a_clock_and_each_says_where_it_comes_from():
    policy = ReviewPolicy()
    assert {c.kind for c in policy.clocks} == set(SourceKind)
    assert all(c.basis for c in DEFAULT_REVIEW_CLOCKS)
    # Only what was read in a source's own text says it was checked.
    assert [c.kind for c in DEFAULT_REVIEW_CLOCKS if c.checked] == [SourceKind.rapid_review]


def test_a_rapid_review_is_due_fifteen_working_days_after_the_notification_across_christmas():
    [clock] = ReviewPolicy().clocks_for(SourceKind.rapid_review)
    assert (clock.starts, clock.ends, clock.within, clock.working_days) == (M.notified, M.concluded, "P15D", True)
    notified = date(2023, 12, 20)  # a Wednesday: Christmas Day, Boxing Day and New Year's Day follow
    assert clock.due_on(notified) == _count_working_days(notified, 15) == date(2024, 1, 15)


def test_a_rapid_review_notified_before_easter_skips_good_friday_and_easter_monday():
    [clock] = ReviewPolicy().clocks_for(SourceKind.rapid_review)
    notified = date(2024, 3, 25)
    assert clock.due_on(notified) == _count_working_days(notified, 15) == date(2024, 4, 17)


def test_where_each_clock_stands():
    policy = ReviewPolicy()
    decided = date(2024, 1, 10)
    running = clock_views(policy, SourceKind.cspr, {M.decided: decided}, today=date(2024, 5, 1))
    report, publication = running
    assert (report.due_on, report.overdue, report.met) == (date(2024, 7, 10), False, None)
    assert (publication.started_on, publication.due_on) == (None, None)
    late = clock_views(policy, SourceKind.cspr, {M.decided: decided}, today=date(2024, 7, 11))[0]
    assert (late.overdue, late.met) == (True, None)
    met = clock_views(policy, SourceKind.cspr, {M.decided: decided, M.concluded: date(2024, 7, 10)}, date(2024, 8, 1))
    assert (met[0].overdue, met[0].met, met[1].due_on) == (False, True, date(2024, 9, 10))
    missed = clock_views(policy, SourceKind.cspr, {M.decided: decided, M.concluded: date(2024, 8, 1)}, date(2024, 8, 2))
    assert (missed[0].overdue, missed[0].met) == (True, False)


@pytest.mark.parametrize(
    ("clocks", "words"),
    [
        (
            [
                ReviewClock(kind=SourceKind.sar, starts=M.decided, ends=M.concluded, within="P6M"),
                ReviewClock(kind=SourceKind.sar, starts=M.decided, ends=M.concluded, within="P4M"),
            ],
            "more than one clock for: sar decided to concluded",
        ),
        (
            [ReviewClock(kind=SourceKind.dhr, starts=M.concluded, ends=M.decided, within="P1M")],
            "must end after it starts",
        ),
    ],
)
def test_a_policy_that_cannot_run_is_refused_with_the_reason(clocks, words):
    with pytest.raises(ValidationError, match=words):
        ReviewPolicy(clocks=clocks)
