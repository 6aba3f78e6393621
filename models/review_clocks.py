"""Reviews' statutory and local clocks: from which milestone to which, within how long, and on
what authority. The first piece of issue 18 (reviews as records): the review workflow that runs
these clocks, with reminders and the board's ladder, builds on it.

Each clock runs from the day its starting milestone is recorded until its ending milestone is;
its due day is the start plus ``within``, in working days (England and Wales) where it says so.
The defaults are a partnership's to change (``ReviewPolicy``); ``authority`` and ``basis`` say
where each comes from, and ``checked`` whether that was read in the source's own text
(docs/REVIEW-CLOCKS.md holds the sources).
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Literal

from pydantic import Field, model_validator

from models.calendar import add_duration
from models.payloads import Duration, Payload, ShortText, SourceKind


class ReviewMilestone(StrEnum):
    """The days in a review's life that its clocks run between, in order."""

    notified = "notified"  # the serious incident notification, or the referral
    decided = "decided"  # the decision to hold a review (and of which kind)
    commissioned = "commissioned"  # a reviewer appointed, terms of reference agreed
    concluded = "concluded"  # the final report agreed (a rapid review: sent to the Panel)
    published = "published"


MILESTONE_ORDER = tuple(ReviewMilestone)


class ReviewClock(Payload):
    """One deadline of a kind of review: ``ends`` is due ``within`` after ``starts`` was recorded."""

    kind: SourceKind
    starts: ReviewMilestone
    ends: ReviewMilestone
    within: Duration
    working_days: bool = False
    # Who sets it, where it comes from, and whether that was read in the source's own text
    # (docs/REVIEW-CLOCKS.md): a default not yet checked there says so wherever it is shown.
    authority: Literal["statutory guidance", "national guidance", "local"] = "local"
    basis: ShortText = ""
    checked: bool = False

    def due_on(self, started_on: date) -> date:
        """The day ``ends`` is due for a start recorded on ``started_on``."""
        return add_duration(started_on, self.within, working_days=self.working_days)


_LOCAL = "a local default, for the partnership to set"
# The defaults, with docs/REVIEW-CLOCKS.md's sources. Only the rapid review's is read in a national
# source so far (the Panel's guidance, which local partnerships repeat); the others are the figures
# partnerships cite from the statutory guidance, whose paragraphs are still to be read there.
DEFAULT_REVIEW_CLOCKS: tuple[ReviewClock, ...] = (
    ReviewClock(
        kind=SourceKind.rapid_review, starts=ReviewMilestone.notified, ends=ReviewMilestone.concluded,
        within="P15D", working_days=True, authority="national guidance", checked=True,
        basis="Child Safeguarding Practice Review Panel: 15 working days from the notification",
    ),
    ReviewClock(
        kind=SourceKind.cspr, starts=ReviewMilestone.decided, ends=ReviewMilestone.concluded, within="P6M",
        authority="statutory guidance",
        basis="Working Together to Safeguard Children, as partnerships cite it: six months from the decision",
    ),
    ReviewClock(
        kind=SourceKind.cspr, starts=ReviewMilestone.concluded, ends=ReviewMilestone.published, within="P2M",
        basis=_LOCAL,
    ),
    ReviewClock(
        kind=SourceKind.sar, starts=ReviewMilestone.decided, ends=ReviewMilestone.concluded, within="P6M",
        basis="six months, as commonly applied; the Care Act 2014 (section 44) sets no timescale",
    ),
    ReviewClock(
        kind=SourceKind.sar, starts=ReviewMilestone.concluded, ends=ReviewMilestone.published, within="P3M",
        basis=_LOCAL,
    ),
    ReviewClock(
        kind=SourceKind.dhr, starts=ReviewMilestone.notified, ends=ReviewMilestone.decided, within="P1M",
        authority="statutory guidance",
        basis="Domestic Homicide Review statutory guidance (2016), as partnerships cite it: one month",
    ),
    ReviewClock(
        kind=SourceKind.dhr, starts=ReviewMilestone.decided, ends=ReviewMilestone.concluded, within="P6M",
        authority="statutory guidance",
        basis="Domestic Homicide Review statutory guidance (2016), as partnerships cite it: six months",
    ),
    ReviewClock(
        kind=SourceKind.learning_review, starts=ReviewMilestone.decided, ends=ReviewMilestone.concluded,
        within="P3M", basis=_LOCAL,
    ),
    ReviewClock(
        kind=SourceKind.audit, starts=ReviewMilestone.commissioned, ends=ReviewMilestone.concluded, within="P8W",
        basis=_LOCAL,
    ),
    ReviewClock(
        kind=SourceKind.inspection, starts=ReviewMilestone.concluded, ends=ReviewMilestone.published, within="P2M",
        basis=f"{_LOCAL} (the partnership's response to the inspection's findings)",
    ),
    ReviewClock(
        kind=SourceKind.scrutiny, starts=ReviewMilestone.concluded, ends=ReviewMilestone.published, within="P2M",
        basis=f"{_LOCAL} (the partnership's response to the scrutiny)",
    ),
)  # fmt: skip


def _one_clock_per_pair(clocks: list[ReviewClock]) -> list[ReviewClock]:
    pairs = [(c.kind, c.starts, c.ends) for c in clocks]
    repeated = sorted({f"{k.value} {s.value} to {e.value}" for k, s, e in pairs if pairs.count((k, s, e)) > 1})
    if repeated:
        raise ValueError(f"more than one clock for: {', '.join(repeated)}")
    for clock in clocks:
        if MILESTONE_ORDER.index(clock.ends) <= MILESTONE_ORDER.index(clock.starts):
            raise ValueError(f"a {clock.kind.value} clock must end after it starts ({clock.starts} to {clock.ends})")
    return clocks


class ReviewPolicy(Payload):
    """A partnership's review clocks: the defaults unless it sets its own."""

    clocks: list[ReviewClock] = Field(default_factory=lambda: list(DEFAULT_REVIEW_CLOCKS), max_length=100)

    @model_validator(mode="after")
    def _sound(self) -> ReviewPolicy:
        _one_clock_per_pair(self.clocks)
        return self

    def clocks_for(self, kind: SourceKind) -> list[ReviewClock]:
        return [c for c in self.clocks if c.kind is kind]


class ClockView(Payload):
    """Where one clock stands for a review: running (due on a day), met, missed, or not started."""

    clock: ReviewClock
    started_on: date | None
    due_on: date | None
    ended_on: date | None
    overdue: bool  # still running past its due day, or ended after it
    met: bool | None  # None while it runs or before it starts


def clock_views(
    policy: ReviewPolicy, kind: SourceKind, milestones: dict[ReviewMilestone, date], today: date
) -> list[ClockView]:
    """Each of ``kind``'s clocks against the milestones recorded so far."""
    views = []
    for clock in policy.clocks_for(kind):
        started, ended = milestones.get(clock.starts), milestones.get(clock.ends)
        due = clock.due_on(started) if started is not None else None
        met = None if due is None or ended is None else ended <= due
        overdue = due is not None and ((ended is None and today > due) or (ended is not None and ended > due))
        views.append(ClockView(clock=clock, started_on=started, due_on=due, ended_on=ended, overdue=overdue, met=met))
    return views
