"""Working-day arithmetic for England and Wales, and ISO-8601 durations applied to dates.

Escalation policies say things like "P7D after the due date, in working days". A working day is
Monday to Friday and not an England and Wales bank holiday (England and Wales share one list).
Durations are date-level only (years, months, weeks, days): a deadline is a day, not an hour.

Counting rule, when ``working_days`` is on: days count working days (a week is seven of them,
as ISO-8601 defines P1W = P7D), and months or years move the calendar date and then roll
forward to the next working day.
Every date produced in working-day mode is itself a working day.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import holidays
import isodate


class DurationError(ValueError):
    """An ISO-8601 duration that Assure cannot use for a deadline."""


class CalendarError(ValueError):
    """A date that working-day arithmetic cannot count with: outside the calendar, or past the
    last date Python can hold. A domain error, never ``OverflowError``; the date rule at entry
    (``models.days``) keeps every accepted date and duration well inside."""


@dataclass(frozen=True)
class DateDuration:
    """A parsed date-level ISO-8601 duration such as P1M or P2W3D."""

    years: int = 0
    months: int = 0
    days: int = 0

    @property
    def is_zero(self) -> bool:
        return not (self.years or self.months or self.days)


@lru_cache(maxsize=256)
def parse_duration(text: str) -> DateDuration:
    """Parse ``P1Y2M3W4D``-style text; time parts (``PT4H``) and negative values are refused."""
    if not isinstance(text, str) or not text.strip():
        raise DurationError("a duration is required, e.g. P7D")
    cleaned = text.strip().upper()
    if cleaned.startswith("-P"):
        raise DurationError(f"{text!r} is negative")
    if not cleaned.startswith("P"):
        # Said before the time-part check: "quarterly" holds a T, but it is a word, not a duration.
        raise DurationError(f"{text!r} is not an ISO-8601 duration such as P7D, P2W or P1M")
    if "T" in cleaned:
        raise DurationError(f"{text!r} has a time part; deadlines are whole days (use P..D)")
    try:
        parsed = isodate.parse_duration(cleaned)
    except (isodate.ISO8601Error, ValueError) as exc:
        raise DurationError(f"{text!r} is not an ISO-8601 duration such as P7D, P2W or P1M") from exc
    if isinstance(parsed, timedelta):
        years, months, delta = 0, 0, parsed
    else:
        if parsed.years != int(parsed.years) or parsed.months != int(parsed.months):
            raise DurationError(f"{text!r} has a fraction of a month or year; use whole months or days")
        years, months, delta = int(parsed.years), int(parsed.months), parsed.tdelta
    if delta.seconds or delta.microseconds:
        raise DurationError(f"{text!r} has a time part; deadlines are whole days (use P..D)")
    if years < 0 or months < 0 or delta.days < 0:
        raise DurationError(f"{text!r} is negative")
    return DateDuration(years=years, months=months, days=delta.days)


# Computed once when this module loads, outside any workflow: the holidays package reads locale
# settings and translation files on each call, which the workflow sandbox rightly refuses.
# 0.1 s and about a thousand dates cover every deadline Assure will ever set: the accepted dates
# (2000 to 2100, ``models.days``) with fifteen years' room either side for policy durations
# (at most five years, in working days about seven).
CALENDAR_YEARS = range(1985, 2116)
_BANK_HOLIDAYS: frozenset[date] = frozenset(
    holidays.country_holidays("GB", subdiv="ENG", years=CALENDAR_YEARS, language="en_GB").keys()
)


def is_working_day(day: date) -> bool:
    """Monday to Friday and not an England and Wales bank holiday (1985 to 2115)."""
    if day.year not in CALENDAR_YEARS:
        raise CalendarError(
            f"{day} is outside the working-day calendar ({CALENDAR_YEARS.start}-{CALENDAR_YEARS.stop - 1})"
        )
    return day.weekday() < 5 and day not in _BANK_HOLIDAYS


def _moved(day: date, days: int) -> date:
    try:
        return day + timedelta(days=days)
    except OverflowError:
        raise CalendarError(f"{day} moved by {days} days is outside the dates that can be counted") from None


def roll_forward(day: date) -> date:
    """The day itself if it is a working day, else the next working day."""
    while not is_working_day(day):
        day = _moved(day, 1)
    return day


# Every working day of the calendar, in order: counting n working days is then a look-up, not a
# walk of n days (a weekly reading over decades, or a long policy, costs the same as a short one).
_WORKING_DAYS: tuple[date, ...] = tuple(
    day
    for day in (date(CALENDAR_YEARS.start, 1, 1) + timedelta(days=n) for n in range(48_000))
    if day.year in CALENDAR_YEARS and day.weekday() < 5 and day not in _BANK_HOLIDAYS
)


def add_working_days(start: date, count: int) -> date:
    """The date ``count`` working days after ``start`` (before it when negative).

    Counting starts from the day after ``start``, so ``start`` itself need not be a working day;
    zero returns ``start`` rolled forward to a working day.
    """
    if count == 0:
        return roll_forward(start)
    is_working_day(start)  # refuses a day outside the calendar, with the reason
    # The last working day on or before ``start``; counting back from a day off starts one later.
    last = bisect_right(_WORKING_DAYS, start) - 1
    on_a_working_day = last >= 0 and _WORKING_DAYS[last] == start
    index = last + count if count > 0 or on_a_working_day else last + 1 + count
    if not 0 <= index < len(_WORKING_DAYS):
        raise CalendarError(f"{start} moved by {count} working days is outside the working-day calendar")
    return _WORKING_DAYS[index]


def _add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    # The 31st plus one month is the last day of a shorter month, as people count it.
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            if not 1 <= year <= 9999:
                raise CalendarError(
                    f"{day} moved by {months} months is outside the dates that can be counted"
                ) from None
            continue
    raise AssertionError("unreachable: every month has 28 days")


def add_duration(start: date, duration: str, *, working_days: bool) -> date:
    """``start`` moved forward by an ISO-8601 duration, in working or calendar days."""
    parsed = parse_duration(duration)
    moved = _add_months(start, parsed.years * 12 + parsed.months)
    if not working_days:
        return _moved(moved, parsed.days)
    if parsed.days:
        return add_working_days(moved, parsed.days)
    return roll_forward(moved)


def add_duration_times(start: date, duration: str, times: int, *, working_days: bool) -> date:
    """``start`` moved forward by ``times`` repeats of a duration, counted from ``start`` each time:
    the third of quarterly dates from 31 January is 31 October, not a day drifted by short months."""
    parsed = parse_duration(duration)
    moved = _add_months(start, (parsed.years * 12 + parsed.months) * times)
    if not working_days:
        return _moved(moved, parsed.days * times)
    if parsed.days:
        return add_working_days(moved, parsed.days * times)
    return roll_forward(moved)


def subtract_duration(end: date, duration: str, *, working_days: bool) -> date:
    """``end`` moved back by an ISO-8601 duration (used for reminders before a due date)."""
    parsed = parse_duration(duration)
    moved = _add_months(end, -(parsed.years * 12 + parsed.months))
    if not working_days:
        return _moved(moved, -parsed.days)
    if parsed.days:
        return add_working_days(moved, -parsed.days)
    # Rolling back keeps a reminder before the date it warns about.
    while not is_working_day(moved):
        moved = _moved(moved, -1)
    return moved
