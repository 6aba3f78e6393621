"""A review's clocks as rules: what is due when, who is told, and the one decision that moves them.

The review workflow (``workflows.review``) gives these rules Temporal's guarantees; everything
here is pure, so the same code answers the workflow, its tests and replay.

Each clock of the review's kind (``models.review_clocks``) runs from the day its starting
milestone is recorded until its ending milestone is. While it runs it climbs one ladder, measured
with the sponsoring board's escalation policy and in working days where the clock counts them:
- a reminder to the board's sponsors and chair ``remind_before_due`` before the due day;
- the day after the due day, the clock is missed: the sponsors and chair are told;
- ``board_after`` after the due day, the Assurance Board is told (and the chair again).
A ladder that has passed several rungs at once (an import of a review already late, a worker that
was down) fires once, at the highest rung reached, with everyone up to it told.

The board's sponsor or chair records a milestone (``record_review_milestone``); a day recorded
again is a correction. The workflow ends when every clock of its kind has ended or the review is
published: a review has nothing left to chase then.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from urllib.parse import quote

from pydantic import Field, ValidationError

from models.calendar import add_duration, subtract_duration
from models.cover import acting_label, covered_by, route
from models.kinds import MessageKind, Role
from models.measure_decisions import today_in_london
from models.payloads import (
    Day,
    Email,
    EscalationPolicy,
    LongText,
    Notification,
    Parties,
    Payload,
    TimelineEvent,
)
from models.review_clocks import ClockView, ReviewClock, ReviewMilestone, ReviewPolicy, clock_views
from models.reviews import Review
from models.rules import deadline_at

SYSTEM_ACTOR = "assure"
REVIEW_WORKFLOW_PREFIX = "review-"


def review_workflow_id(review_ref: str) -> str:
    """The workflow id of a review's clocks: ``review-<review_ref>``."""
    return f"{REVIEW_WORKFLOW_PREFIX}{review_ref}"


class ClockRung(StrEnum):
    """The rungs of a clock's ladder, in order."""

    reminder = "reminder"
    missed = "missed"
    escalated = "escalated"


RUNG_ORDER = tuple(ClockRung)
RUNG_MESSAGES = {
    ClockRung.reminder: MessageKind.review_clock_reminder,
    ClockRung.missed: MessageKind.review_clock_missed,
    ClockRung.escalated: MessageKind.review_clock_escalated,
}


class ReviewEvent(StrEnum):
    """What a review's timeline records."""

    clocks_started = "clocks_started"
    milestone_recorded = "milestone_recorded"
    milestone_corrected = "milestone_corrected"
    clock_reminder = "clock_reminder"
    clock_missed = "clock_missed"
    clock_escalated = "clock_escalated"
    clocks_ended = "clocks_ended"
    roles_changed = "roles_changed"
    mail_failed = "mail_failed"
    store_refused = "store_refused"


class RecordReviewMilestoneInput(Payload):
    """A milestone of the review reached on a day (the same milestone again corrects its day)."""

    by: Email
    milestone: ReviewMilestone
    on: Day
    note: LongText = ""


class UpdateReviewPartiesInput(Payload):
    """Who holds the board's roles now, from the registry (``gateway.reviews``)."""

    parties: Parties
    by: str = "registry"


class RungFired(Payload):
    """The highest rung a clock's ladder reached, for the start it was measured from."""

    clock: str  # ClockKey text: "<starts>-<ends>"
    started_on: date
    rung: ClockRung
    at: datetime
    recipients: list[str]


class ReviewState(Payload):
    """Everything a review's workflow knows beyond its start: carried across continue-as-new."""

    review: Review
    parties: Parties
    fired: list[RungFired] = Field(default_factory=list)
    timeline: list[TimelineEvent] = Field(default_factory=list)
    outbox: list[Notification] = Field(default_factory=list)  # made, not yet stored
    pending_mail: list[Notification] = Field(default_factory=list)  # stored, not yet all delivered
    projected_seq: int = 0
    version: int = 0
    created_at: datetime


class ReviewInput(Payload):
    """What starts a review's workflow: the review as imported, its kind's clocks (the partnership's
    policy), the board's escalation policy and who holds its roles."""

    review: Review
    clocks: list[ReviewClock]
    policy: EscalationPolicy
    parties: Parties
    state: ReviewState | None = None
    continue_as_new_after: int = 4000


class ReviewDeadline(Payload):
    at: datetime
    clock: str
    started_on: date
    rung: ClockRung
    due_on: date


class ReviewStatus(Payload):
    """Where a review's clocks stand, any time (the workflow's ``status`` query)."""

    review: Review
    clocks: list[ClockView]
    fired: list[RungFired]
    timeline: list[TimelineEvent]
    next_deadline: datetime | None
    closed: bool
    version: int


class ReviewProjection(Payload):
    """A review's milestones for its store row, and the messages its clocks made for the outbox
    (the ``record_review`` activity)."""

    review: Review
    version: int
    at: datetime
    workflow_id: str = ""
    notifications: list[Notification] = Field(default_factory=list)


RECORD_REVIEW = "record_review"


class ReviewRefused(Exception):
    """A review decision the rules do not allow; ``type`` as for recommendation decisions."""

    def __init__(self, message: str, *, type: str = "InvalidDecision") -> None:
        super().__init__(message)
        self.message = message
        self.type = type


def clock_key(clock: ReviewClock) -> str:
    return f"{clock.starts.value}-{clock.ends.value}"


def clock_words(clock: ReviewClock) -> str:
    """ "notified to concluded": a clock as its timeline and messages name it."""
    return f"{clock.starts.value} to {clock.ends.value}"


def may_record_milestones(parties: Parties, person: str, day: date | None = None) -> bool:
    """Whether ``person`` may record a review's milestones: its board's sponsor or chair, or (on
    ``day``) the deputy of one who is away. The one rule for the workflow's check and for the page
    that offers the form."""
    return recording_for(parties, person, day) is not None


def recording_for(parties: Parties, person: str, day: date | None = None) -> str | None:
    """Whose milestone ``person`` records: their own as the board's sponsor or chair, else that of
    a sponsor or chair away on ``day`` whom they stand in for; None if neither."""
    people = {p.casefold() for p in [*parties.board_sponsors, *([parties.board_chair] if parties.board_chair else [])]}
    if person.casefold() in people:
        return person
    covered = covered_by(parties.absences, person, day) if day is not None else []
    return next((absent for absent in covered if absent.casefold() in people), None)


class ReviewLifecycle:
    """The rules of one review's clocks over its state."""

    def __init__(self, start: ReviewInput, state: ReviewState) -> None:
        self.clocks = list(start.clocks)
        self.policy = start.policy
        self.state = state

    @classmethod
    def begin(cls, start: ReviewInput, *, workflow_id: str, now: datetime) -> ReviewLifecycle:
        if start.state is not None:
            return cls(start, start.state.model_copy(deep=True))
        state = ReviewState(review=start.review, parties=start.parties, created_at=now)
        life = cls(start, state)
        running = [clock_words(c) for c in life.running_clocks()]
        life._event(now, ReviewEvent.clocks_started, SYSTEM_ACTOR, "; ".join(running))
        return life

    # --- what runs ---------------------------------------------------------------------------

    @property
    def review(self) -> Review:
        return self.state.review

    @property
    def closed(self) -> bool:
        """Every clock of the kind has ended, or the review is published: nothing left to chase."""
        recorded = self.review.milestones()
        return ReviewMilestone.published in recorded or all(c.ends in recorded for c in self.clocks)

    def running_clocks(self) -> list[ReviewClock]:
        recorded = self.review.milestones()
        return [c for c in self.clocks if c.starts in recorded and c.ends not in recorded]

    def _rung_days(self, clock: ReviewClock, started_on: date) -> list[tuple[ClockRung, date]]:
        """The days of a clock's rungs for a start: a reminder only when it falls after the start."""
        due = clock.due_on(started_on)
        working = clock.working_days
        days: list[tuple[ClockRung, date]] = []
        reminder = subtract_duration(due, self.policy.remind_before_due, working_days=working)
        if started_on < reminder < due:
            days.append((ClockRung.reminder, reminder))
        missed = due + timedelta(days=1)
        escalated = max(add_duration(due, self.policy.board_after, working_days=working), missed + timedelta(days=1))
        return [*days, (ClockRung.missed, missed), (ClockRung.escalated, escalated)]

    def _fired(self, clock: ReviewClock, started_on: date) -> RungFired | None:
        key = clock_key(clock)
        return next((f for f in self.state.fired if f.clock == key and f.started_on == started_on), None)

    def pending_deadlines(self) -> list[ReviewDeadline]:
        """The next rung of each running clock, soonest first; none once closed."""
        if self.closed:
            return []
        out = []
        recorded = self.review.milestones()
        for clock in self.running_clocks():
            started_on = recorded[clock.starts]
            fired = self._fired(clock, started_on)
            done = RUNG_ORDER.index(fired.rung) + 1 if fired else 0
            for rung, day in self._rung_days(clock, started_on):
                if RUNG_ORDER.index(rung) >= done:
                    out.append(
                        ReviewDeadline(
                            at=deadline_at(day), clock=clock_key(clock), started_on=started_on, rung=rung,
                            due_on=clock.due_on(started_on),
                        )
                    )  # fmt: skip
                    break
        return sorted(out, key=lambda d: (d.at, d.clock))

    def next_deadline(self) -> datetime | None:
        pending = self.pending_deadlines()
        return pending[0].at if pending else None

    def fire_due(self, now: datetime) -> int:
        """Send what is due: for each running clock, its highest rung reached, once."""
        fired = 0
        recorded = self.review.milestones()
        for clock in self.running_clocks() if not self.closed else []:
            started_on = recorded[clock.starts]
            previous = self._fired(clock, started_on)
            done = RUNG_ORDER.index(previous.rung) + 1 if previous else 0
            reached = [(r, d) for r, d in self._rung_days(clock, started_on) if deadline_at(d) <= now]
            reached = [(r, d) for r, d in reached if RUNG_ORDER.index(r) >= done]
            if not reached:
                continue
            rung = reached[-1][0]
            skipped = len(reached) > 1 and rung is not ClockRung.reminder
            self._fire(clock, started_on, rung, now, skipped=skipped, earlier=previous)
            fired += 1
        return fired

    def _fire(
        self, clock: ReviewClock, started_on: date, rung: ClockRung, now: datetime, *, skipped: bool,
        earlier: RungFired | None,
    ) -> None:  # fmt: skip
        parties = self.state.parties
        board_people = [*parties.board_sponsors, *([parties.board_chair] if parties.board_chair else [])]
        recipients = list(dict.fromkeys(board_people))
        if rung is ClockRung.escalated:
            # The board heard on the missed day, unless that rung was skipped: then it hears now too.
            board_told = recipients if skipped else board_people[-1:]
            recipients = list(dict.fromkeys([*parties.assurance_members, *board_told]))
        own_roles = self._roles(recipients)
        # Someone away: their deputy receives it in their place (``models.cover``).
        recipients, roles, acting = route(
            parties.absences, recipients, today_in_london(now), lambda person: own_roles.get(person, "")
        )
        due = clock.due_on(started_on)
        days = dict(self._rung_days(clock, started_on))
        escalates_on = days[ClockRung.escalated].isoformat() if rung is not ClockRung.escalated else ""
        event = {
            ClockRung.reminder: ReviewEvent.clock_reminder,
            ClockRung.missed: ReviewEvent.clock_missed,
            ClockRung.escalated: ReviewEvent.clock_escalated,
        }[rung]
        self._event(now, event, SYSTEM_ACTOR, f"{clock_words(clock)}: due {due.isoformat()}")
        record = RungFired(clock=clock_key(clock), started_on=started_on, rung=rung, at=now, recipients=recipients)
        if earlier is not None:
            self.state.fired.remove(earlier)
        self.state.fired.append(record)
        context = {
            "ref": self.review.review_ref,
            "title": self.review.title,
            "board": self.review.board,
            "review_kind": self.review.kind.value,
            "thread": f"{review_workflow_id(self.review.review_ref)}/{self.state.created_at.isoformat()}",
            "roles": roles,
            "acting_for": acting,
            "clock": clock.model_dump(mode="json", exclude={"kind"}),
            "started_on": started_on.isoformat(),
            "due_on": due.isoformat(),
            "escalates_on": escalates_on,
            "skipped_levels": skipped,
            "path": f"/dashboard/reviews/{quote(self.review.review_ref, safe='')}",
            "milestones": {m.value: d.isoformat() for m, d in self.review.milestones().items()},
        }
        key = f"{review_workflow_id(self.review.review_ref)}/{clock_key(clock)}@{started_on.isoformat()}/{rung.value}"
        self.state.outbox.append(
            Notification(key=key, kind=RUNG_MESSAGES[rung], recipients=recipients, context=context, created_at=now)
        )

    def _roles(self, recipients: list[str]) -> dict[str, str]:
        parties = self.state.parties
        roles: dict[str, str] = {}
        for person in recipients:
            if parties.board_chair and person.casefold() == parties.board_chair.casefold():
                roles[person] = Role.board_chair.value
            elif any(person.casefold() == s.casefold() for s in parties.board_sponsors):
                roles[person] = Role.board_sponsor.value
            else:
                roles[person] = Role.assurance_member.value
        return roles

    # --- the decision ------------------------------------------------------------------------

    def may_record(self, person: str, now: datetime) -> bool:
        return may_record_milestones(self.state.parties, person, today_in_london(now))

    def check(self, decision: RecordReviewMilestoneInput, now: datetime) -> Review:
        """The review with the milestone recorded, or ``ReviewRefused`` saying why not."""
        if self.closed:
            raise ReviewRefused(
                f"review {self.review.review_ref} has no clock left running: correct its days in the Reviews sheet",
                type="WrongStage",
            )
        if not self.may_record(decision.by, now):
            raise ReviewRefused(
                f"{decision.by} may not record this review's milestones: only {self.review.board}'s sponsors and chair",
                type="WrongPerson",
            )
        today = today_in_london(now)
        if decision.on > today:
            raise ReviewRefused(f"on: {decision.on.isoformat()} is in the future (today is {today.isoformat()})")
        field = f"{decision.milestone.value}_on"
        if getattr(self.review, field) == decision.on:
            already = f"milestone: {decision.milestone.value} is already recorded as {decision.on.isoformat()}"
            raise ReviewRefused(already)
        try:
            return Review.model_validate({**self.review.model_dump(), field: decision.on})
        except ValidationError as error:
            reason = "; ".join(e["msg"].removeprefix("Value error, ") for e in error.errors())
            raise ReviewRefused(f"on: {reason}") from None

    def apply(self, decision: RecordReviewMilestoneInput, now: datetime) -> None:
        review = self.check(decision, now)
        corrected = getattr(self.review, f"{decision.milestone.value}_on") is not None
        self.state.review = review
        kind = ReviewEvent.milestone_corrected if corrected else ReviewEvent.milestone_recorded
        detail = f"{decision.milestone.value} on {decision.on.isoformat()}"
        whom = recording_for(self.state.parties, decision.by, today_in_london(now)) or decision.by
        actor = decision.by if whom == decision.by else acting_label(decision.by.lower(), whom.lower())
        self._event(now, kind, actor, f"{detail}: {decision.note}" if decision.note else detail)
        if self.closed:
            self._event(now, ReviewEvent.clocks_ended, SYSTEM_ACTOR)

    def update_parties(self, change: UpdateReviewPartiesInput, now: datetime) -> bool:
        """Take the registry's role holders; False (nothing recorded) when they are the same."""
        if change.parties == self.state.parties:
            return False
        self.state.parties = change.parties
        self._event(now, ReviewEvent.roles_changed, change.by)
        return True

    def problem(self, kind: ReviewEvent, detail: str, now: datetime) -> None:
        """An effect could not handle the review's data: on its timeline, for the operators."""
        self._event(now, kind, SYSTEM_ACTOR, detail)

    # --- the record --------------------------------------------------------------------------

    def _event(self, now: datetime, kind: ReviewEvent, actor: str, detail: str = "") -> None:
        seq = self.state.timeline[-1].seq + 1 if self.state.timeline else 1
        self.state.timeline.append(TimelineEvent(seq=seq, at=now, kind=kind.value, actor=actor, detail=detail))
        self.state.version += 1

    def status(self, now: datetime) -> ReviewStatus:
        today = today_in_london(now)
        views = clock_views(ReviewPolicy(clocks=self.clocks), self.review.kind, self.review.milestones(), today)
        return ReviewStatus(
            review=self.review,
            clocks=views,
            fired=list(self.state.fired),
            timeline=list(self.state.timeline),
            next_deadline=self.next_deadline(),
            closed=self.closed,
            version=self.state.version,
        )
