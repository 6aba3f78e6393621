"""Impact measures: whether a measure is on track, when its next reading is owed, and what a
reading may be. Plain functions over the payloads, shared by the lifecycle, the importer, the
pages, the board pack and the CLI, so that "on track" means one thing wherever it is shown.

**On track** (written down in the README): a measure with no baseline, no target or no reading
has ``no_data``. Otherwise its latest reading (the latest ``on``) is compared with the straight
line from the baseline (on ``baseline_on``) to the target (on ``target_by``), read on the
reading's day, and the target itself from ``target_by`` on. A reading at or beyond the line in
the measure's direction is ``on_track`` (exactly on the line, or exactly on the target, is on
track); short of it, ``off_track``. Figures are compared as the decimals typed (exact fractions),
so "exactly on target" is exact.

**Readings owed**: a reading is owed every ``every`` from the baseline (from the day the measure
was agreed when it has no baseline): on the days baseline + 1×every, + 2×every, ..., up to the
first of them on or after ``target_by`` (the reading that says whether the target was reached);
a measure without a target is read for as long as the recommendation runs. The first one owed is
the first of those days after the measure came into Assure (and after any reading already
collected). A reading dated after the previous such day, and after the reading that last
answered, answers the one owed (``MeasureDecisions._answer``); the next is then the first such
day after the reading, the day answered and yesterday (periods missed while a reporter was
silent lapse). Readings may still be recorded when none is owed.
"""

from __future__ import annotations

from datetime import date, timedelta
from fractions import Fraction
from typing import Any

from models.calendar import add_duration_times, parse_duration
from models.payloads import (
    Direction,
    MeasureSpec,
    MeasureState,
    MeasureTrack,
    MeasureView,
    Reading,
    ReadingView,
    figure_text,
    unit_value_problem,
)
from models.wording import uk_date


def anchor_of(measure: MeasureSpec, added_on: date) -> date:
    """The day the reading periods are counted from: the baseline's, else the day it was agreed."""
    return measure.baseline_on or added_on


def due_day(measure: MeasureSpec, anchor: date, period: int, *, working_days: bool) -> date:
    """The day the ``period``-th reading (1, 2, ...; 0 is the anchor) is owed."""
    return anchor if period == 0 else add_duration_times(anchor, measure.every, period, working_days=working_days)


def _period_around(measure: MeasureSpec, anchor: date, day: date, *, working_days: bool) -> int:
    """The last period whose owed day is on or before ``day`` (0 for none). Estimated from the
    period's length in days and then corrected, so that a weekly measure baselined years ago costs
    a few date sums, not one per week since (the workflow's task must stay short)."""
    every = parse_duration(measure.every)
    length = every.years * 365.25 + every.months * 30.44 + every.days * (7 / 5 if working_days else 1)
    period = max(int((day - anchor).days / length) - 1, 0)
    while period > 0 and due_day(measure, anchor, period, working_days=working_days) > day:
        period -= 1
    while due_day(measure, anchor, period + 1, working_days=working_days) <= day:
        period += 1
    return period


def first_due_after(measure: MeasureSpec, anchor: date, day: date, *, working_days: bool) -> date | None:
    """The first day a reading is owed that falls after ``day``; None when the last one owed (the
    first on or after ``target_by``) is not after it."""
    period = _period_around(measure, anchor, day, working_days=working_days)
    if period > 0 and measure.target_by is not None:
        if due_day(measure, anchor, period, working_days=working_days) >= measure.target_by:
            return None
    return due_day(measure, anchor, period + 1, working_days=working_days)


def previous_due(measure: MeasureSpec, anchor: date, due: date, *, working_days: bool) -> date:
    """The owed day before ``due`` (the anchor itself before the first)."""
    before = due - timedelta(days=1)
    if before < anchor:
        return anchor
    return due_day(
        measure, anchor, _period_around(measure, anchor, before, working_days=working_days), working_days=working_days
    )


def latest(readings: list[Reading]) -> Reading | None:
    """The reading with the latest date (the one recorded last, for two on one day)."""
    return max(readings, key=lambda r: (r.on, r.at), default=None)


def exact(value: float) -> Fraction:
    """A figure as the decimal it was typed as (0.1, not the binary float nearest it), so that a
    reading exactly on the line is on it."""
    return Fraction(repr(value))


def expected_on(measure: MeasureSpec | MeasureView, day: date) -> Fraction | None:
    """Where the line from baseline to target stands on ``day`` (the target from ``target_by``)."""
    if measure.baseline is None or measure.target is None or measure.baseline_on is None or measure.target_by is None:
        return None
    baseline, target = exact(measure.baseline), exact(measure.target)
    if day >= measure.target_by:
        return target
    if day <= measure.baseline_on:
        return baseline
    elapsed = Fraction((day - measure.baseline_on).days, (measure.target_by - measure.baseline_on).days)
    return baseline + (target - baseline) * elapsed


def track_of(measure: MeasureSpec, readings: list[Reading]) -> MeasureTrack:
    """``on_track``, ``off_track`` or ``no_data``, by the rule in this module's docstring."""
    last = latest(readings)
    expected = expected_on(measure, last.on) if last is not None else None
    if last is None or expected is None:
        return MeasureTrack.no_data
    value = exact(last.value)
    good = value >= expected if measure.direction is Direction.up else value <= expected
    return MeasureTrack.on_track if good else MeasureTrack.off_track


def reading_problem(measure: MeasureSpec, value: float, on: date, today: date) -> str | None:
    """Why a reading of ``measure`` cannot be taken, or None: the one rule for the decision and
    the ``Readings`` sheet."""
    name = f"{measure.measure_id} ({measure.name})"
    if on > today:
        return f"a reading of {name} cannot be dated {on}, a future day"
    if measure.baseline_on is not None and on < measure.baseline_on:
        return f"a reading of {name} cannot be dated {on}, before its baseline of {measure.baseline_on}"
    problem = unit_value_problem(measure.unit, value)
    return f"reading of {name}: {problem}" if problem else None


def view_of(measure: MeasureState, *, overdue: bool, open_: bool) -> MeasureView:
    """The status's view of one measure."""
    readings = sorted(measure.readings, key=lambda r: (r.on, r.at))
    last = latest(readings)
    expected = expected_on(measure, last.on) if last is not None else None
    return MeasureView(
        measure_id=measure.measure_id,
        name=measure.name,
        unit=measure.unit,
        direction=measure.direction,
        baseline=measure.baseline,
        baseline_on=measure.baseline_on,
        target=measure.target,
        target_by=measure.target_by,
        reporter=measure.reporter,
        every=measure.every,
        readings=[ReadingView(value=r.value, on=r.on, by=r.by, note=r.note) for r in readings],
        on_track=track_of(measure, readings),
        expected=float(expected) if expected is not None else None,
        reading_due_on=measure.reading_due_on if open_ else None,
        overdue=open_ and overdue,
    )


def mail_facts(view: MeasureView) -> dict[str, Any]:
    """What an email or a page's link says of a measure: its figures and its latest reading, not
    its whole history (notifications are kept in the workflow's history)."""
    facts = view.model_dump(mode="json", exclude={"readings", "overdue"})
    facts["latest"] = view.readings[-1].model_dump(mode="json") if view.readings else None
    return facts


def figure(value: float | None) -> str:
    """A figure as people write it (12, not 12.0; 12.5 stays), or an empty string for none."""
    return "" if value is None else figure_text(value)


UNIT_SUFFIX = {"percent": "%", "count": "", "days": " days", "rate": ""}


def with_unit(value: float | None, unit: str) -> str:
    """A figure with its unit, as a page or an email says it: 12%, 15 days, 40."""
    shown = figure(value)
    return f"{shown}{UNIT_SUFFIX.get(unit, '')}" if shown else ""


def dated_figure(value: float | None, unit: str, word: str, day: date | None) -> str:
    """A measure's figure on or by its day, as people read it ("90% by 14 March 2024"); "" for
    a figure or a day not set."""
    return f"{with_unit(value, unit)} {word} {uk_date(day)}" if value is not None and day is not None else ""
