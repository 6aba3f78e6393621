"""Recurring assurance: a cycle sent to every agency each period (a Section 11 audit, a
self-assessment, an annual return), its standards, and the calendar rule it runs on.

A cycle's ``cadence`` is written as people write it and read into one rule:
- ``yearly on 1 April`` (any day and month);
- ``half-yearly from 1 April``, ``quarterly from 1 April`` (periods starting on that day and every
  six or three months after it; ``quarterly`` alone starts with the financial year, 1 April);
- ``monthly on day 1`` (a day from 1 to 28, so that every month has it).

A period is named by its first day: ``2026-27`` for a yearly cycle starting 1 April (the
financial year people say), ``2026`` for one starting 1 January, and ``2026-04`` (the month it
begins) for the shorter ones. Names sort in time order and are safe in a workflow id.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer

from models.calendar import add_duration
from models.payloads import Duration, Name, Payload, Ref, Text, Title

MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
          "october", "november", "december")  # fmt: skip
EVERY_MONTHS = {"yearly": 12, "annually": 12, "half-yearly": 6, "quarterly": 3, "monthly": 1}
MAX_STANDARDS = 100


class CadenceError(ValueError):
    """A cadence that is no calendar rule Assure reads."""


@dataclass(frozen=True, order=True)
class Cadence:
    """Every ``months`` months, each period starting on ``day`` of its month; ``month`` is the
    month the rule was written from (1 to 12): 1 April for a quarterly cycle of the financial year."""

    months: int
    month: int
    day: int

    def words(self) -> str:
        """The rule as people write it, and as ``parse_cadence`` reads it back."""
        if self.months == 1:
            return f"monthly on day {self.day}"
        name = {12: "yearly on", 6: "half-yearly from", 3: "quarterly from"}[self.months]
        return f"{name} {self.day} {MONTHS[self.month - 1].title()}"

    def start_months(self) -> list[int]:
        """The months of the year in which a period starts, January first."""
        return sorted(((self.month - 1 + k * self.months) % 12) + 1 for k in range(12 // self.months))

    def period_start(self, day: date) -> date:
        """The first day of the period holding ``day``."""
        for year in (day.year, day.year - 1):
            starts = [date(year, m, self.day) for m in self.start_months()]
            before = [s for s in starts if s <= day]
            if before:
                return max(before)
        raise AssertionError("every year has a period start")  # pragma: no cover - twelve months hold one

    def next_start(self, start: date) -> date:
        """The first day of the period after the one starting on ``start``."""
        month = start.month - 1 + self.months
        return date(start.year + month // 12, month % 12 + 1, self.day)

    def previous_start(self, start: date) -> date:
        """The first day of the period before the one starting on ``start``."""
        month = start.month - 1 - self.months
        return date(start.year + month // 12, month % 12 + 1, self.day)

    def period_name(self, start: date) -> str:
        """``2026-27``, ``2026`` or ``2026-04``, as the module says."""
        if self.months != 12:
            return f"{start.year}-{start.month:02d}"
        if (self.month, self.day) == (1, 1):
            return f"{start.year}"
        return f"{start.year}-{(start.year + 1) % 100:02d}"

    def start_of(self, name: str) -> date:
        """The first day of the period called ``name`` (a ``CadenceError`` if it is no such period)."""
        text = name.strip()
        found = re.fullmatch(r"(\d{4})(?:-(\d{2}))?", text)
        year = int(found.group(1)) if found else 2026  # for the example's shape alone: no clock here
        start = None
        if found and self.months == 12:
            start = date(year, self.month, self.day)
        elif found and found.group(2) and 1 <= int(found.group(2)) <= 12:
            start = date(year, int(found.group(2)), self.day)
        if start is None or self.period_name(start) != text or self.period_start(start) != start:
            example = self.period_name(self.period_start(date(year, 6, 1)))
            raise CadenceError(f"{name!r} is no period of a cycle run {self.words()}: write it as {example}")
        return start


def parse_cadence(text: str) -> Cadence:
    """The rule ``text`` names, or a ``CadenceError`` that says what is read."""
    words = re.sub(r"\s+", " ", str(text)).strip().lower()
    every = r"(yearly|annually|half-yearly|quarterly|monthly)"
    found = re.fullmatch(every + r"(?: (?:on|from) (?:the )?(\d{1,2})(?:st|nd|rd|th)? ([a-z]+))?", words)
    monthly = re.fullmatch(r"monthly(?: on (?:the )?(?:day )?(\d{1,2})(?:st|nd|rd|th)?)?", words)
    if monthly:
        day = int(monthly.group(1) or 1)
        if not 1 <= day <= 28:
            raise CadenceError(f"{text!r}: a monthly cycle starts on a day from 1 to 28, which every month has")
        return Cadence(months=1, month=1, day=day)
    if found is None or found.group(1) == "monthly":
        raise CadenceError(
            f"{text!r} is no cadence: write 'yearly on 1 April', 'half-yearly from 1 April', "
            "'quarterly from 1 April' or 'monthly on day 1'"
        )
    months = EVERY_MONTHS[found.group(1)]
    day, month_name = int(found.group(2) or 1), found.group(3) or "april"
    if month_name not in MONTHS:
        raise CadenceError(f"{text!r}: {month_name!r} is no month")
    month = MONTHS.index(month_name) + 1
    if months == 12:
        # Any day of the year but 29 February, which most years lack.
        if (month, day) == (2, 29) or not _is_day(2025, month, day):
            raise CadenceError(f"{text!r}: {day} {month_name.title()} is not a day every year has")
    elif not 1 <= day <= 28:
        raise CadenceError(
            f"{text!r}: a cycle of several periods a year starts on a day from 1 to 28, which every month has"
        )
    return Cadence(months=months, month=month, day=day)


def _is_day(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def _cadence(value: object) -> Cadence:
    if isinstance(value, Cadence):
        return value
    try:
        return parse_cadence(str(value))
    except CadenceError as exc:
        raise ValueError(str(exc)) from exc


CadenceRule = Annotated[Cadence, BeforeValidator(_cadence), PlainSerializer(Cadence.words, return_type=str)]
StandardId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")]


class Standard(Payload):
    """One standard every agency answers each period."""

    standard_id: StandardId
    text: Title
    guidance: Text = ""


def _distinct_standards(standards: list[Standard]) -> list[Standard]:
    seen: set[str] = set()
    for standard in standards:
        key = standard.standard_id.casefold()
        if key in seen:
            raise ValueError(f"the standard {standard.standard_id!r} is named more than once")
        seen.add(key)
    return standards


def _distinct_agencies(agencies: list[str] | Literal["all"]) -> list[str] | Literal["all"]:
    if agencies == "all":
        return agencies
    folded = [a.casefold() for a in agencies]
    repeated = sorted({a for a in agencies if folded.count(a.casefold()) > 1})
    if repeated:
        raise ValueError(f"an agency is named more than once: {', '.join(repeated)}")
    return agencies


class Cycle(Payload):
    """A cycle of assurance: who answers (every agency of the registry, or those named), on what
    calendar, how long they have, and the standards they answer."""

    cycle_id: Ref
    name: Name
    board: Name
    cadence: CadenceRule
    agencies: Annotated[Literal["all"] | list[Name], AfterValidator(_distinct_agencies)] = "all"
    due_within: Duration
    standards: Annotated[
        list[Standard], Field(min_length=1, max_length=MAX_STANDARDS), AfterValidator(_distinct_standards)
    ]

    def agencies_of(self, registry: list[str]) -> list[str]:
        """The agencies that answer, from the registry as it is now: all of them, or those named
        (as the registry spells them)."""
        if self.agencies == "all":
            return sorted(registry, key=str.casefold)
        known = {a.casefold(): a for a in registry}
        return [known[a.casefold()] for a in self.agencies if a.casefold() in known]

    def standard(self, standard_id: str) -> Standard | None:
        return next((s for s in self.standards if s.standard_id.casefold() == standard_id.casefold()), None)


@dataclass(frozen=True)
class Period:
    """One period of a cycle: its name and first day, and the day returns are due."""

    name: str
    starts_on: date
    due_on: date


def period_of(cycle: Cycle, day: date) -> Period:
    """The period of ``cycle`` holding ``day``, with the day its returns are due."""
    start = cycle.cadence.period_start(day)
    return Period(cycle.cadence.period_name(start), start, add_duration(start, cycle.due_within, working_days=False))


def named_period(cycle: Cycle, name: str) -> Period:
    """The period of ``cycle`` called ``name`` (a ``CadenceError`` if there is none)."""
    return period_of(cycle, cycle.cadence.start_of(name))


def agency_key(agency: str) -> str:
    """An agency's name as a workflow id's part: its letters and digits, and a digest of the name
    (two agencies whose names differ only in punctuation stay apart)."""
    slug = re.sub(r"[^a-z0-9]+", "-", agency.casefold())[:40].strip("-") or "agency"
    return f"{slug}-{hashlib.sha256(agency.casefold().encode()).hexdigest()[:6]}"


def cycle_workflow_id(cycle_id: str) -> str:
    """The Schedule's id, and the prefix of the workflows it starts."""
    return f"cycle-{cycle_id}"


def period_workflow_id(cycle_id: str, period: str) -> str:
    """One workflow per cycle and period: a second start of the same period is refused by Temporal."""
    return f"cycle-{cycle_id}-{period}"


def return_workflow_id(cycle_id: str, period: str, agency_key: str) -> str:
    """One agency's return: a child of the period's workflow."""
    return f"cycle-{cycle_id}-{period}-{agency_key}"
