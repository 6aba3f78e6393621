"""One agency's return to one period of a cycle, over time: who is asked, chased and told, and the
decisions that move it. The rules of the return itself are ``models.cycle_returns``; this adds the
clock, the ladder, the timeline and the messages, for ``workflows.cycle_return`` to run.

The agency's safeguarding lead owes the return from the day the period starts until its due day;
once challenged, they owe an answer within ``CHALLENGE_ANSWER_WITHIN`` of the challenge. While
something is owed, silence climbs the board's ladder (its escalation policy):
- a reminder to the lead ``remind_before_due`` before the day it is owed;
- the day after, the lead is told it is overdue;
- ``board_after`` later, the board's sponsors and chair (the lead copied);
- ``assurance_after`` later, the Assurance Board (the board's reviewers copied).
A ladder that has passed several rungs at once (a period started late, a worker that was down)
fires once, at the highest rung reached, with everyone up to it told. An agency without a lead in
the registry still owes its return: what would go to the lead goes to the board's reviewers.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from urllib.parse import quote

from pydantic import Field

from models.calendar import add_duration, subtract_duration
from models.cycle_returns import (
    AcceptReturnInput,
    Challenge,
    ChallengeReturnInput,
    Rating,
    ReturnParties,
    ReturnRefused,
    ReturnStage,
    ReturnState,
    StandardAnswer,
    SubmitReturnInput,
    accept,
    challenge,
    check_review,
    check_submit,
    submit,
)
from models.cycles import Cycle, Standard, agency_key
from models.kinds import MessageKind
from models.measure_decisions import today_in_london
from models.payloads import EscalationPolicy, Notification, Payload, TimelineEvent
from models.rules import deadline_at

SYSTEM_ACTOR = "assure"
# How long the lead has to answer a challenge: the board is waiting on them, so days, not months.
CHALLENGE_ANSWER_WITHIN = "P14D"
RECORD_CYCLE_RETURN = "record_cycle_return"


class ReturnRung(StrEnum):
    """The rungs of the ladder on silence, in order."""

    reminder = "reminder"
    overdue = "overdue"
    board = "board"
    assurance = "assurance"


RUNG_ORDER = tuple(ReturnRung)
RUNG_MESSAGES = {
    ReturnRung.reminder: MessageKind.return_reminder,
    ReturnRung.overdue: MessageKind.return_overdue,
    ReturnRung.board: MessageKind.return_board_escalation,
    ReturnRung.assurance: MessageKind.return_assurance_escalation,
}


class ReturnEvent(StrEnum):
    """What a return's timeline records."""

    requested = "requested"
    reminder = "reminder"
    overdue = "overdue"
    escalated_to_board = "escalated_to_board"
    escalated_to_assurance = "escalated_to_assurance"
    submitted = "submitted"
    challenged = "challenged"
    accepted = "accepted"
    roles_changed = "roles_changed"
    mail_failed = "mail_failed"
    store_refused = "store_refused"


RUNG_EVENTS = {
    ReturnRung.reminder: ReturnEvent.reminder,
    ReturnRung.overdue: ReturnEvent.overdue,
    ReturnRung.board: ReturnEvent.escalated_to_board,
    ReturnRung.assurance: ReturnEvent.escalated_to_assurance,
}


class ReturnRungFired(Payload):
    """The highest rung reached for one thing owed (the return, or the answer to a challenge)."""

    owed: str  # "return", or "challenge-<n>"
    rung: ReturnRung
    at: datetime
    recipients: list[str]


class ReturnRecord(Payload):
    """Everything a return's workflow knows beyond its start: carried across continue-as-new."""

    state: ReturnState
    fired: list[ReturnRungFired] = Field(default_factory=list)
    timeline: list[TimelineEvent] = Field(default_factory=list)
    outbox: list[Notification] = Field(default_factory=list)  # made, not yet stored
    pending_mail: list[Notification] = Field(default_factory=list)  # stored, not yet all delivered
    version: int = 0
    created_at: datetime


class ReturnInput(Payload):
    """What starts one agency's return: the cycle as it was when the period began (its standards
    stay those the agency was asked), the period, the board's escalation policy and who holds the
    roles now."""

    cycle: Cycle
    period: str
    starts_on: date
    due_on: date
    agency: str
    policy: EscalationPolicy
    parties: ReturnParties
    record: ReturnRecord | None = None
    continue_as_new_after: int = 2000


class UpdateReturnPartiesInput(Payload):
    """Who holds the roles now, from the registry."""

    parties: ReturnParties
    by: str = "registry"


class Owed(Payload):
    """What the lead owes now, and by when."""

    key: str
    since: date
    due_on: date


class ReturnDeadline(Payload):
    at: datetime
    owed: str
    rung: ReturnRung


class ReturnStatus(Payload):
    """Where a return stands, any time (the workflow's ``status`` query)."""

    workflow_id: str
    cycle_id: str
    cycle_name: str
    board: str
    period: str
    agency: str
    standards: list[Standard]
    state: ReturnState
    owed: Owed | None
    fired: list[ReturnRungFired]
    timeline: list[TimelineEvent]
    next_deadline: datetime | None
    closed: bool
    version: int


class ReturnProjection(Payload):
    """A return's row in the store (the ``record_cycle_return`` activity), and the messages made
    since the last write, for the outbox."""

    workflow_id: str
    cycle_id: str
    period: str
    agency: str
    board: str
    stage: ReturnStage
    due_on: date
    ratings: dict[str, Rating]
    answers: list[StandardAnswer] = Field(default_factory=list)
    submitted_at: datetime | None
    accepted_at: datetime | None
    version: int
    at: datetime
    notifications: list[Notification] = Field(default_factory=list)


def return_path(cycle_id: str, period: str, agency: str) -> str:
    """The return's page on the dashboard (behind sign-in), already quoted."""
    return "/dashboard/cycles/" + "/".join(quote(p, safe="") for p in (cycle_id, period, agency_key(agency)))


class ReturnLifecycle:
    """The rules of one return over its record."""

    def __init__(self, start: ReturnInput, record: ReturnRecord, workflow_id: str) -> None:
        self.cycle = start.cycle
        self.policy = start.policy
        self.starts_on = start.starts_on
        self.record = record
        self.workflow_id = workflow_id

    @classmethod
    def begin(cls, start: ReturnInput, *, workflow_id: str, now: datetime) -> ReturnLifecycle:
        if start.record is not None:
            return cls(start, start.record.model_copy(deep=True), workflow_id)
        state = ReturnState(
            cycle_id=start.cycle.cycle_id, period=start.period, agency=start.agency, due_on=start.due_on,
            parties=start.parties,
        )  # fmt: skip
        life = cls(start, ReturnRecord(state=state, created_at=now), workflow_id)
        life._event(now, ReturnEvent.requested, SYSTEM_ACTOR, f"due {start.due_on.isoformat()}")
        life._notify(MessageKind.return_requested, "requested", life._lead_or_reviewers(), now)
        return life

    @property
    def state(self) -> ReturnState:
        return self.record.state

    @property
    def closed(self) -> bool:
        return self.state.stage is ReturnStage.accepted

    # --- what is owed, and the ladder ----------------------------------------------------------

    def owed(self) -> Owed | None:
        """What the lead owes: the return until it is submitted, an answer while challenged."""
        state = self.state
        if state.stage is ReturnStage.awaiting:
            return Owed(key="return", since=self.starts_on, due_on=state.due_on)
        if state.stage is ReturnStage.challenged:
            asked = today_in_london(state.challenges[-1].at)
            due = add_duration(asked, CHALLENGE_ANSWER_WITHIN, working_days=self.policy.working_days)
            return Owed(key=f"challenge-{len(state.challenges)}", since=asked, due_on=due)
        return None

    def _rung_days(self, owed: Owed) -> list[tuple[ReturnRung, date]]:
        working = self.policy.working_days
        days: list[tuple[ReturnRung, date]] = []
        reminder = subtract_duration(owed.due_on, self.policy.remind_before_due, working_days=working)
        if owed.since < reminder < owed.due_on:
            days.append((ReturnRung.reminder, reminder))
        overdue = owed.due_on + timedelta(days=1)
        board = max(add_duration(owed.due_on, self.policy.board_after, working_days=working), overdue + timedelta(1))
        assurance = max(add_duration(owed.due_on, self.policy.assurance_after, working_days=working),
                        board + timedelta(days=1))  # fmt: skip
        return [*days, (ReturnRung.overdue, overdue), (ReturnRung.board, board), (ReturnRung.assurance, assurance)]

    def _fired(self, owed: Owed) -> ReturnRungFired | None:
        return next((f for f in self.record.fired if f.owed == owed.key), None)

    def _still_to_fire(self, owed: Owed) -> list[tuple[ReturnRung, date]]:
        fired = self._fired(owed)
        done = RUNG_ORDER.index(fired.rung) + 1 if fired else 0
        return [(r, d) for r, d in self._rung_days(owed) if RUNG_ORDER.index(r) >= done]

    def next_deadline(self) -> datetime | None:
        owed = self.owed()
        if owed is None:
            return None
        rungs = self._still_to_fire(owed)
        return deadline_at(rungs[0][1]) if rungs else None

    def fire_due(self, now: datetime) -> bool:
        """Send what silence has reached: the highest rung due, once. True if one fired."""
        owed = self.owed()
        if owed is None:
            return False
        reached = [(r, d) for r, d in self._still_to_fire(owed) if deadline_at(d) <= now]
        if not reached:
            return False
        rung = reached[-1][0]
        skipped = len(reached) > 1 and rung is not ReturnRung.reminder
        earlier = self._fired(owed)
        recipients = self._ladder_recipients(rung, skipped=skipped or earlier is None)
        if earlier is not None:
            self.record.fired.remove(earlier)
        self.record.fired.append(ReturnRungFired(owed=owed.key, rung=rung, at=now, recipients=recipients))
        self._event(now, RUNG_EVENTS[rung], SYSTEM_ACTOR, f"{owed.key} due {owed.due_on.isoformat()}")
        days = dict(self._rung_days(owed))
        after = RUNG_ORDER[RUNG_ORDER.index(rung) + 1] if rung is not ReturnRung.assurance else None
        self._notify(
            RUNG_MESSAGES[rung], f"{owed.key}/{rung.value}", recipients, now,
            owed=owed.key, owed_on=owed.due_on.isoformat(), skipped_levels=skipped,
            next_rung=after.value if after else "",
            next_on=days[after].isoformat() if after and after in days else "",
        )  # fmt: skip
        return True

    def _ladder_recipients(self, rung: ReturnRung, *, skipped: bool) -> list[str]:
        """Who hears at a rung: the lead first; the board's reviewers from ``board`` (the lead
        copied); the Assurance Board at ``assurance`` (the reviewers copied). A rung reached past
        the ones below it tells everyone up to it."""
        lead = self._lead_or_reviewers()
        reviewers = list(self.state.parties.reviewers)
        if rung in (ReturnRung.reminder, ReturnRung.overdue):
            return lead
        if rung is ReturnRung.board:
            return list(dict.fromkeys([*reviewers, *lead]))
        members = list(self.state.parties.assurance_members) or reviewers
        return list(dict.fromkeys([*members, *reviewers, *(lead if skipped else [])]))

    def _lead_or_reviewers(self) -> list[str]:
        lead = self.state.parties.lead
        return [lead] if lead else list(self.state.parties.reviewers)

    # --- decisions ------------------------------------------------------------------------------

    def check_submit(self, decision: SubmitReturnInput, now: datetime) -> None:
        check_submit(self.state, self.cycle, decision, today_in_london(now))

    def submit(self, decision: SubmitReturnInput, now: datetime) -> None:
        self.check_submit(decision, now)
        answering = self.state.stage is ReturnStage.challenged
        submit(self.state, decision, now)
        kind = "answered the challenge" if answering else "submitted"
        self._event(now, ReturnEvent.submitted, decision.by, kind)
        self._notify(MessageKind.return_submitted, f"submitted-{self._count(ReturnEvent.submitted)}",
                     list(self.state.parties.reviewers), now, answered_challenge=answering)  # fmt: skip

    def check_review(self, person: str) -> None:
        check_review(self.state, person)

    def challenge(self, decision: ChallengeReturnInput, now: datetime) -> None:
        self.check_review(decision.by)
        challenge(self.state, decision, now)
        self._event(now, ReturnEvent.challenged, decision.by)
        owed = self.owed()
        assert owed is not None  # a challenged return owes an answer
        self._notify(MessageKind.return_challenged, owed.key, self._lead_or_reviewers(), now,
                     owed_on=owed.due_on.isoformat())  # fmt: skip

    def accept(self, decision: AcceptReturnInput, now: datetime) -> None:
        self.check_review(decision.by)
        accept(self.state, decision, now)
        self._event(now, ReturnEvent.accepted, decision.by, decision.note)
        self._notify(MessageKind.return_accepted, "accepted", self._lead_or_reviewers(), now)

    def update_parties(self, change: UpdateReturnPartiesInput, now: datetime) -> bool:
        """Take the registry's role holders; False (nothing recorded) when they are the same."""
        if change.parties == self.state.parties:
            return False
        self.state.parties = change.parties
        self._event(now, ReturnEvent.roles_changed, change.by)
        return True

    def problem(self, kind: ReturnEvent, detail: str, now: datetime) -> None:
        """An effect could not handle the return's data: on its timeline, for the operators."""
        self._event(now, kind, SYSTEM_ACTOR, detail)

    # --- the record -----------------------------------------------------------------------------

    def _count(self, kind: ReturnEvent) -> int:
        return sum(1 for e in self.record.timeline if e.kind == kind.value)

    def _event(self, now: datetime, kind: ReturnEvent, actor: str, detail: str = "") -> None:
        timeline = self.record.timeline
        seq = timeline[-1].seq + 1 if timeline else 1
        timeline.append(TimelineEvent(seq=seq, at=now, kind=kind.value, actor=actor, detail=detail))
        self.record.version += 1

    def _notify(self, kind: MessageKind, what: str, recipients: list[str], now: datetime, **extra: object) -> None:
        """A message about the return: its facts only (never the answers or the challenge's
        words, which the reader opens the return to see)."""
        state, parties = self.state, self.state.parties
        roles = {}
        for person in recipients:
            if parties.lead and person.casefold() == parties.lead.casefold():
                roles[person] = "agency_lead"
            elif any(person.casefold() == r.casefold() for r in parties.reviewers):
                roles[person] = "board_reviewer"
            else:
                roles[person] = "assurance_member"
        context = {
            "ref": self.cycle.cycle_id,  # what the sent log and an operator's problem row name
            "return_id": self.workflow_id,
            "cycle_id": self.cycle.cycle_id,
            "cycle_name": self.cycle.name,
            "board": self.cycle.board,
            "period": state.period,
            "agency": state.agency,
            "due_on": state.due_on.isoformat(),
            "standards": len(self.cycle.standards),
            "stage": state.stage.value,
            "has_lead": parties.lead is not None,
            "roles": roles,
            "path": return_path(self.cycle.cycle_id, state.period, state.agency),
            "thread": f"{self.workflow_id}/{self.record.created_at.isoformat()}",
            **extra,
        }
        self.record.outbox.append(
            Notification(
                key=f"{self.workflow_id}/{what}", kind=kind, recipients=recipients, context=context, created_at=now
            )  # fmt: skip
        )

    def projection(self, now: datetime) -> ReturnProjection:
        state = self.state
        return ReturnProjection(
            workflow_id=self.workflow_id, cycle_id=state.cycle_id, period=state.period, agency=state.agency,
            board=self.cycle.board, stage=state.stage, due_on=state.due_on,
            ratings={a.standard_id: a.rating for a in state.answers}, answers=list(state.answers),
            submitted_at=state.submitted_at,
            accepted_at=state.accepted_at, version=self.record.version, at=now,
            notifications=list(self.record.outbox),
        )  # fmt: skip

    def status(self) -> ReturnStatus:
        return ReturnStatus(
            workflow_id=self.workflow_id, cycle_id=self.cycle.cycle_id, cycle_name=self.cycle.name,
            board=self.cycle.board, period=self.state.period, agency=self.state.agency,
            standards=list(self.cycle.standards), state=self.state, owed=self.owed(),
            fired=list(self.record.fired), timeline=list(self.record.timeline), next_deadline=self.next_deadline(),
            closed=self.closed, version=self.record.version,
        )  # fmt: skip


__all__ = [
    "AcceptReturnInput",
    "Challenge",
    "ChallengeReturnInput",
    "ReturnRefused",
    "StandardAnswer",
    "SubmitReturnInput",
]


# --- a period: one return per agency ------------------------------------------------------------

PLAN_CYCLE_PERIOD = "plan_cycle_period"


class CyclePeriodInput(Payload):
    """What starts a period of a cycle: its Schedule gives no period (the one holding the day it
    runs, in London); ``assure cycle run`` may name one."""

    cycle_id: str
    period: str = ""


class PeriodRequest(Payload):
    cycle_id: str
    period: str  # a period's name, or ""
    today: date


class PeriodPlan(Payload):
    """One return for each agency that answers, from the store and the registry as they are when
    the period starts; what stops a return being asked, for the operators."""

    cycle_id: str
    period: str
    returns: list[ReturnInput] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list)


class PeriodStarted(Payload):
    cycle_id: str
    period: str
    started: list[str] = Field(default_factory=list)  # the returns' workflow ids started now
    already: list[str] = Field(default_factory=list)  # the returns started by an earlier run
    problems: list[str] = Field(default_factory=list)
