"""The one rule for a date, wherever one enters (payloads, importer, forms, API): 2000 to 2100.

A date outside that is a typing mistake or a placeholder (Excel's "ongoing" 31/12/9999), never a
deadline: refused at entry, it cannot reach the workflow, whose deadline arithmetic (in
``models.calendar``) has room for every policy duration past both ends.
"""

from __future__ import annotations

from datetime import date, datetime

EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2100, 12, 31)


class DayError(ValueError):
    """A date outside the range Assure accepts."""


def check_day(value: date) -> date:
    """``value`` itself, or ``DayError`` when it is outside 2000 to 2100."""
    problem = day_problem(value)
    if problem:
        raise DayError(problem)
    return value


def day_problem(value: date) -> str | None:
    """Why ``value`` is refused, or None."""
    day = value.date() if isinstance(value, datetime) else value
    if EARLIEST_DAY <= day <= LATEST_DAY:
        return None
    return (
        f"{day.isoformat()} is not a date Assure accepts: use a date between {EARLIEST_DAY.year} and "
        f"{LATEST_DAY.year} (a placeholder such as 31/12/9999 for 'ongoing' is not a due date)"
    )
