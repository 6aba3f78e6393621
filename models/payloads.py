"""Payload types: the workflow's input, its update payloads, its state and its status query.

Plain pydantic, no SQLAlchemy: these cross the Temporal boundary and are imported inside the
workflow sandbox. The update payloads are the public contract that the web pages, the CLI and
the JSON API reuse, so their field names are fixed (dates ISO ``YYYY-MM-DD``; ``by`` is the
acting person's email).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from annotated_types import GroupedMetadata
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    FiniteFloat,
    StringConstraints,
    model_validator,
)

from models.addresses import check_address, is_address
from models.calendar import DurationError, add_duration, parse_duration
from models.days import check_day
from models.kinds import DeadlineKind, MessageKind, Role
from models.plain_text import clean_text
from models.vocabulary import priority_value, source_kind_value

# --- vocabularies -------------------------------------------------------------------------


class Stage(StrEnum):
    """Where a recommendation stands in its lifecycle (DESIGN.md)."""

    review = "review"
    action = "action"
    in_progress = "in_progress"
    dissemination_plan = "dissemination_plan"
    sign_off = "sign_off"
    # Signed off: the learning goes out to each agency's staff, and each lead confirms its reach.
    cascade = "cascade"
    audit = "audit"
    re_audit = "re_audit"
    assured = "assured"
    declined = "declined"
    withdrawn = "withdrawn"


CLOSED_STAGES = frozenset({Stage.assured, Stage.declined, Stage.withdrawn})
# Stages in which an agency may still confirm its cascade (until the audit is recorded).
CASCADE_OPEN_STAGES = frozenset({Stage.cascade, Stage.audit})
# Stages in which owners work on actions (remedial actions run inside re_audit).
ACTION_STAGES = frozenset({Stage.action, Stage.in_progress, Stage.re_audit})


class SourceKind(StrEnum):
    """The kind of review, audit or inspection a recommendation comes from."""

    cspr = "cspr"  # Child Safeguarding Practice Review
    sar = "sar"  # Safeguarding Adult Review
    dhr = "dhr"  # Domestic Homicide Review
    rapid_review = "rapid_review"
    learning_review = "learning_review"
    audit = "audit"
    inspection = "inspection"
    scrutiny = "scrutiny"


class Priority(StrEnum):
    high = "high"
    medium = "medium"
    low = "low"


class ActionStatus(StrEnum):
    assigned = "assigned"
    acknowledged = "acknowledged"
    complete = "complete"


class EscalationLevel(StrEnum):
    """The overdue ladder's rungs, in order."""

    none = "none"
    owner = "owner"
    agency_lead = "agency_lead"
    sponsoring_board = "sponsoring_board"
    assurance_board = "assurance_board"

    @property
    def rank(self) -> int:
        return list(EscalationLevel).index(self)


class MeasureUnit(StrEnum):
    """What a measure counts: a share of 100, a number of things, a number of days, or a rate
    (per 1,000 children, per 100 incidents: the measure's name says per what)."""

    percent = "percent"
    count_ = "count"  # named with an underscore: ``count`` is a method of every string
    days = "days"
    rate = "rate"


class Direction(StrEnum):
    """Which way a measure should move for practice to have improved."""

    up = "up"
    down = "down"


class MeasureTrack(StrEnum):
    """Whether a measure is where its line from baseline to target says it should be
    (``models.measures.track_of``; the rule is written down in the README)."""

    on_track = "on_track"
    off_track = "off_track"
    no_data = "no_data"


class AuditOutcome(StrEnum):
    embedded = "embedded"
    partially_embedded = "partially_embedded"
    not_embedded = "not_embedded"


# --- constrained scalars ------------------------------------------------------------------


def is_email(value: str) -> bool:
    """Whether ``value`` (already trimmed and lower-cased) is an address the payloads accept."""
    return is_address(value)


def _email(value: str) -> str:
    return check_address(value)


# A policy's durations stay under this, so deadline arithmetic from any accepted date stays
# inside the calendar (``models.calendar``).
MAX_DURATION_PROBE = (date(2000, 1, 1), date(2005, 1, 1))


def _iso_duration(value: str) -> str:
    try:
        parse_duration(value)
        start, limit = MAX_DURATION_PROBE
        too_long = add_duration(start, value, working_days=False) > limit
    except DurationError as exc:
        raise ValueError(str(exc)) from exc
    if too_long:
        raise ValueError(f"{value.strip()!r} is longer than five years; a deadline that far off is a mistake")
    return value.strip().upper()


def _one_line(value: str) -> str:
    return clean_text(value, multiline=False)


def _lines(value: str) -> str:
    return clean_text(value, multiline=True)


@dataclass(frozen=True)
class _PlainText(GroupedMetadata):
    """Trimmed text of at most ``max_length`` characters, holding no refused character
    (``models.plain_text``); single-line text holds no tab or line break either. Metadata, not a
    function returning a type, so that type checkers see each alias as ``str``."""

    max_length: int
    min_length: int = 0
    multiline: bool = True

    def __iter__(self) -> Iterator[object]:
        yield StringConstraints(strip_whitespace=True, min_length=self.min_length, max_length=self.max_length)
        yield AfterValidator(_lines if self.multiline else _one_line)


Email = Annotated[str, AfterValidator(_email)]
Duration = Annotated[str, AfterValidator(_iso_duration)]
# Every date a person or a file gives: 2000 to 2100 (``models.days``).
Day = Annotated[date, AfterValidator(check_day)]
Ref = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
ShortText = Annotated[str, _PlainText(300, multiline=False)]
Text = Annotated[str, _PlainText(5000)]
LongText = Annotated[str, _PlainText(20000)]
RequiredText = Annotated[str, _PlainText(5000, min_length=1)]
RequiredLongText = Annotated[str, _PlainText(20000, min_length=1)]
Title = Annotated[str, _PlainText(2000, min_length=1)]
Name = Annotated[str, _PlainText(100, min_length=1, multiline=False)]
# The names people write for a kind or a priority (``SAR``, ``Rapid review``, ``High``) are read
# as the value they name (``models.vocabulary``).
SourceKindName = Annotated[SourceKind, BeforeValidator(source_kind_value)]
PriorityName = Annotated[Priority, BeforeValidator(priority_value)]


def theme_key(text: str) -> str:
    """One spelling per theme: lower case, single spaces (underscores as spaces). Hyphens stay:
    "self-neglect" is how the theme is written."""
    return re.sub(r"[\s_]+", " ", text).strip().lower()


def _distinct_themes(themes: list[str]) -> list[str]:
    named = [t for t in themes if t]
    repeated = sorted({t for t in named if named.count(t) > 1})
    if repeated:
        raise ValueError(f"a theme is named more than once: {', '.join(repeated)}")
    return named


# Themes are matched across reviews, recommendations and years: one spelling each
# (``models.themes`` for the vocabulary they must belong to).
MAX_THEMES = 20
Theme = Annotated[ShortText, AfterValidator(theme_key)]
Themes = Annotated[list[Theme], Field(max_length=MAX_THEMES), AfterValidator(_distinct_themes)]


# Open recommendations a hand-over asks in one activity: small enough to retry whole.
HAND_OVER_BATCH = 50


class Payload(BaseModel):
    """Base for every payload: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


# --- registry snapshots -------------------------------------------------------------------


class EscalationPolicy(Payload):
    """A sponsoring board's deadlines, as ISO-8601 durations.

    The overdue ladder is measured from the due date: on it the owner is told; ``agency_lead_after``
    later the agency lead is copied; ``board_after`` later the sponsoring board; ``assurance_after``
    later the Assurance Board. ``agree_within`` and ``plans_within`` give the board sponsor and the
    lead owner their time to agree actions and to submit plans.
    """

    acknowledge_within: Duration = "P5D"
    remind_before_due: Duration = "P7D"
    agency_lead_after: Duration = "P7D"
    board_after: Duration = "P14D"
    assurance_after: Duration = "P42D"
    progress_every: Duration = "P1M"
    agree_within: Duration = "P1M"
    plans_within: Duration = "P1M"
    working_days: bool = False

    @model_validator(mode="after")
    def _ladder_in_order(self) -> EscalationPolicy:
        probe = date(2024, 1, 1)  # any fixed day: only the order of the rungs matters

        rungs = [
            ("agency_lead_after", self.agency_lead_after),
            ("board_after", self.board_after),
            ("assurance_after", self.assurance_after),
        ]
        dates = [add_duration(probe, value, working_days=False) for _, value in rungs]
        for (name_a, _), (name_b, _), a, b in zip(rungs, rungs[1:], dates, dates[1:], strict=False):
            if not a < b:
                raise ValueError(f"{name_a} must be shorter than {name_b}")
        if parse_duration(self.progress_every).is_zero or parse_duration(self.acknowledge_within).is_zero:
            raise ValueError("progress_every and acknowledge_within must be longer than zero")
        return self


class Absence(Payload):
    """Someone away from ``first_day`` to ``last_day`` (both included), and who stands in for them.

    ``deputy`` is resolved by the registry when the absence reaches a workflow: the deputy named for
    the absence, else the person's standing deputy, else their agency's safeguarding lead, else the
    board's first sponsor (``cover`` says which), so that nothing meant for them goes unseen."""

    person: Email
    first_day: Day
    last_day: Day
    deputy: Email
    cover: Literal["deputy", "agency_lead", "board_sponsor"] = "deputy"

    @model_validator(mode="after")
    def _in_order(self) -> Absence:
        if self.last_day < self.first_day:
            raise ValueError("an absence's last day must not be before its first")
        if self.deputy.lower() == self.person.lower():
            raise ValueError("a person cannot be their own deputy")
        return self


class Parties(Payload):
    """Who may decide what for this recommendation, resolved from the registry at start."""

    board_sponsors: list[Email] = Field(min_length=1)
    board_chair: Email | None = None
    assurance_members: list[Email] = Field(min_length=1)
    auditors: list[Email] = Field(default_factory=list)
    agency_leads: dict[str, Email] = Field(default_factory=dict)
    # Absences now and to come of the people the registry holds, with who covers each
    # (``models.cover``): the workflow routes mail and takes decisions by its own clock.
    absences: list[Absence] = Field(default_factory=list, max_length=500)


class Recommendation(Payload):
    """A recommendation from a review, audit or inspection, sponsored by one board."""

    ref: Ref
    title: Title
    source_kind: SourceKindName
    source_title: ShortText
    source_date: Day
    board: Name
    priority: PriorityName = Priority.medium
    # The review it comes from, as a record (``models.reviews``); None for one started before
    # reviews were records, known by its source alone.
    review_ref: Ref | None = None
    # Its own themes, beside its review's: a review of neglect may make one recommendation
    # about mental health. Each is in the partnership's vocabulary (``models.themes``).
    themes: Themes = Field(default_factory=list)


class ActionSpec(Payload):
    """A SMART action as agreed by the board: what, which agency, who, by when, how measured."""

    action_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")]
    description: Title
    agency: Name
    owner: Email
    due: Day
    success_measure: Title


def action_facts(action: ActionSpec | ActionView) -> dict[str, str]:
    """What an email says about an action: its SMART facts, as JSON-ready text."""
    return {
        "action_id": action.action_id,
        "description": action.description,
        "agency": action.agency,
        "owner": action.owner,
        "due": action.due.isoformat(),
        "success_measure": action.success_measure,
    }


# More staff than anyone could brief: a figure above this is a typing mistake.
MAX_REACH = 1_000_000
DEFAULT_REACH_THRESHOLD = 80


class CascadeStep(Payload):
    """One agency's part of the cascade: whose staff the learning must reach, and how many.

    ``lead`` None: the agency's safeguarding lead as the registry has them now. ``expected_reach``
    may be 0 here so that a plan without it is a gap the board is told about, not a typing error.
    """

    agency: Name
    lead: Email | None = None
    staff_group: ShortText = ""
    expected_reach: int = Field(default=0, ge=0, le=MAX_REACH)


def repeated_names(names: Iterable[str]) -> list[str]:
    """The names given more than once, case aside (A1 and a1 are one id), as first written."""
    given = list(names)
    folded = [name.casefold() for name in given]
    return sorted({name for name in given if folded.count(name.casefold()) > 1})


def _one_step_per_agency(steps: list[CascadeStep]) -> list[CascadeStep]:
    # A lead confirms by agency, so an agency appears once (its staff groups named together).
    repeated = repeated_names(step.agency for step in steps)
    if repeated:
        raise ValueError(f"agency listed more than once in the cascade: {', '.join(repeated)}")
    return steps


CascadeSteps = Annotated[list[CascadeStep], AfterValidator(_one_step_per_agency)]


class DisseminationPlan(Payload):
    """How the learning reaches practice. Fields may be empty: the gaps are reported, not hidden."""

    audiences: list[ShortText] = Field(default_factory=list, max_length=50)
    channels: list[ShortText] = Field(default_factory=list, max_length=50)
    socialisation: Text = ""
    owner: ShortText = ""
    starts: Day | None = None
    ends: Day | None = None
    # Who confirms that the learning reached each agency's staff, by when, and what share is enough.
    cascade: CascadeSteps = Field(default_factory=list, max_length=50)
    cascade_by: Day | None = None
    reach_threshold: int = Field(default=DEFAULT_REACH_THRESHOLD, ge=1, le=100)


class AuditPlan(Payload):
    """How and when the partnership will test that the change is embedded. ``measures`` names
    the recommendation's measures (by ``measure_id``) whose readings the audit will weigh."""

    method: Text = ""
    auditor: ShortText = ""
    audit_on: Day | None = None
    success_measures: list[ShortText] = Field(default_factory=list, max_length=50)
    measures: list[Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)]] = Field(
        default_factory=list, max_length=20
    )


# --- impact measures ----------------------------------------------------------------------

# Far more than any measure a partnership keeps: a figure above it is a typing mistake.
MAX_MEASURE_VALUE = 1_000_000_000
# A measured time of more than a hundred years is a typing mistake too.
MAX_MEASURE_DAYS = 36_600
DEFAULT_READING_EVERY = "P3M"
MeasureId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")]
MeasureName = Annotated[str, _PlainText(300, min_length=1, multiline=False)]


def figure_text(value: float) -> str:
    """A figure as people write it: 12 rather than 12.0, 12.5 as it is."""
    return str(int(value)) if value == int(value) else f"{value:g}"


def unit_value_problem(unit: MeasureUnit, value: float) -> str | None:
    """Why ``value`` cannot be a figure of a measure in ``unit``, or None. The one range rule for
    baselines, targets and readings, wherever they come in (payloads, pages, the importer)."""
    shown = figure_text(value)
    if value < 0:
        return f"{shown} is negative; a measure in {unit.value} cannot be"
    if unit is MeasureUnit.percent and value > 100:
        return f"{shown} is more than 100, and a percentage is between 0 and 100"
    if unit is MeasureUnit.count_ and value != int(value):
        return f"{shown} is not a whole number, and a count is"
    if unit is MeasureUnit.days and value > MAX_MEASURE_DAYS:
        return f"{shown} days is more than a hundred years: check the figure"
    if value > MAX_MEASURE_VALUE:
        return f"{shown} is more than {MAX_MEASURE_VALUE:,}: check the figure"
    return None


class MeasureSpec(Payload):
    """An impact measure agreed for a recommendation: what is counted, from what baseline, to
    what target by when, who reports it, and how often.

    The baseline and the target may be missing at first (a measure nobody has counted yet): the
    measure then shows no data, and the audit plan's gate asks for one that has both."""

    measure_id: MeasureId
    name: MeasureName
    unit: MeasureUnit
    direction: Direction
    baseline: FiniteFloat | None = None
    baseline_on: Day | None = None
    target: FiniteFloat | None = None
    target_by: Day | None = None
    reporter: Email
    every: Duration = DEFAULT_READING_EVERY

    @model_validator(mode="after")
    def _consistent(self) -> MeasureSpec:
        if (self.baseline is None) != (self.baseline_on is None):
            raise ValueError("give the baseline and the date it was measured (baseline_on) together, or neither")
        if (self.target is None) != (self.target_by is None):
            raise ValueError("give the target and the date it is to be reached by (target_by) together, or neither")
        for field, value in (("baseline", self.baseline), ("target", self.target)):
            problem = unit_value_problem(self.unit, value) if value is not None else None
            if problem:
                raise ValueError(f"{field}: {problem}")
        if self.baseline_on is not None and self.target_by is not None and self.target_by <= self.baseline_on:
            raise ValueError(f"target_by ({self.target_by}) must be after baseline_on ({self.baseline_on})")
        if self.baseline is not None and self.target is not None:
            target, baseline = figure_text(self.target), figure_text(self.baseline)
            if self.direction is Direction.up and not self.target > self.baseline:
                raise ValueError(
                    f"the target ({target}) must be above the baseline ({baseline}) for a measure that should go up"
                )
            if self.direction is Direction.down and not self.target < self.baseline:
                raise ValueError(
                    f"the target ({target}) must be below the baseline ({baseline}) for a measure that should go down"
                )
        if parse_duration(self.every).is_zero:
            raise ValueError("every must be longer than zero, e.g. P3M for a reading each quarter")
        return self


def _unique_measure_ids(specs: list[MeasureSpec]) -> list[MeasureSpec]:
    repeated = repeated_names(spec.measure_id for spec in specs)
    if repeated:
        raise ValueError(f"measure id(s) used more than once: {', '.join(repeated)}")
    return specs


MeasureSpecs = Annotated[list[MeasureSpec], AfterValidator(_unique_measure_ids)]
MAX_MEASURES = 20


# --- update payloads ----------------------------------------------------------------------


def _unique_action_ids(specs: list[ActionSpec]) -> list[ActionSpec]:
    # Case does not tell actions apart (A1 and a1 are one id), as on import.
    repeated = repeated_names(spec.action_id for spec in specs)
    if repeated:
        raise ValueError(f"action id(s) used more than once: {', '.join(repeated)}")
    return specs


ActionSpecs = Annotated[list[ActionSpec], AfterValidator(_unique_action_ids)]


class Decision(Payload):
    by: Email


class AgreeActionsInput(Decision):
    actions: ActionSpecs = Field(min_length=1, max_length=100)
    # The impact measures agreed with the actions (more may be added later: ``add_measures``).
    measures: MeasureSpecs = Field(default_factory=list, max_length=MAX_MEASURES)


class AddMeasuresInput(Decision):
    """Impact measures agreed after the actions: by the sponsoring board, while the recommendation runs."""

    measures: MeasureSpecs = Field(min_length=1, max_length=MAX_MEASURES)


class RecordReadingInput(Decision):
    """A measure's figure on a day: by its reporter, the board's sponsor or an Assurance Board
    member. A second reading for the same day corrects the first."""

    measure_id: str
    value: FiniteFloat
    on: Day
    note: Text = ""


class AcknowledgeInput(Decision):
    action_id: str


class ReportProgressInput(Decision):
    action_id: str
    note: RequiredText


class RequestExtensionInput(Decision):
    action_id: str
    new_due: Day
    reason: RequiredText


class DecideExtensionInput(Decision):
    action_id: str
    approve: bool
    note: Text = ""


class CompleteActionInput(Decision):
    action_id: str
    evidence: RequiredLongText


class AddActionsInput(Decision):
    """New SMART actions on a recommendation already under way (a changed action plan)."""

    actions: ActionSpecs = Field(min_length=1, max_length=100)


class ChangeDueDateInput(Decision):
    """A board's new due date for an open action (a changed action plan), not an owner's request."""

    action_id: str
    new_due: Day
    reason: RequiredText


class ReassignOwnerInput(Decision):
    action_id: str
    new_owner: Email
    reason: RequiredText


class SubmitPlansInput(Decision):
    dissemination: DisseminationPlan
    audit: AuditPlan


class ConfirmCascadeInput(Decision):
    """An agency's lead saying the learning reached its staff: how many, how, and when. Sent again,
    it corrects the agency's figures (until the audit)."""

    agency: Name
    reached: int = Field(ge=0, le=MAX_REACH)
    channels: list[ShortText] = Field(default_factory=list, max_length=20)
    done_on: Day
    note: Text = ""


class SignOffInput(Decision):
    note: Text = ""


class RecordAuditInput(Decision):
    outcome: AuditOutcome
    findings: LongText = ""
    remedial_actions: ActionSpecs = Field(default_factory=list, max_length=100)
    re_audit_on: Day | None = None
    # An audit recorded before the plan's audit date is a deliberate choice: the reason is
    # required then, and kept in the timeline.
    early_reason: Text = ""
    # "Embedded" while a measure is off track needs the reason the auditor judged so, kept.
    off_track_reason: Text = ""


class DeclineInput(Decision):
    reason: RequiredText


class WithdrawInput(Decision):
    reason: RequiredText


class RemindOwnerInput(Decision):
    """A sponsor chasing an action's owner now, with a word of their own, without waiting for the ladder."""

    action_id: str
    note: Text = ""


class RecordBoardDecisionInput(Decision):
    """What the sponsoring board decided about an escalation, on one action or the whole recommendation."""

    action_id: str | None = None
    decision: RequiredText


class UpdatePartiesInput(Payload):
    """The registry changed: who now holds the recommendation's roles, and the board's escalation
    policy (None: unchanged). Not a person's decision, so not in the decision table
    (``models.lifecycle.DECISION_RULES``); sent by the registry sync with ``by`` naming who changed it."""

    by: ShortText
    parties: Parties
    summary: ShortText = ""
    policy: EscalationPolicy | None = None


class HandOverInput(Payload):
    """Someone has left: every part ``leaver`` holds on the recommendation (actions, plans, audit,
    measures, a named cascade lead) passes to ``successor``. Sent by the leaver's hand-over with
    ``by`` naming who recorded the leaving; the roles the registry gives are moved there."""

    by: ShortText
    leaver: Email
    successor: Email

    @model_validator(mode="after")
    def _two_people(self) -> HandOverInput:
        if self.leaver.lower() == self.successor.lower():
            raise ValueError("the successor must be someone other than the leaver")
        return self


class HandOverStart(Payload):
    """A leaver's hand-over to run (``workflows.hand_over``), once the registry has recorded it."""

    leaver: Email
    successor: Email
    by: ShortText
    # What moved in the registry itself (their board and agency roles), for the summary.
    registry_moved: list[ShortText] = Field(default_factory=list, max_length=200)


class HandedOver(Payload):
    """What passed to the successor on one recommendation."""

    ref: str
    parts: list[str]


class HandOverBatch(Payload):
    start: HandOverStart
    refs: list[str] = Field(max_length=HAND_OVER_BATCH)


class HandOverProgress(Payload):
    """Where a hand-over stands: how many of the open recommendations were asked, what moved
    where, which could not be asked (named for an operator), and whether the registry's change
    reached the running workflows and the successor was told."""

    total: int = 0
    done: int = 0
    moved: list[HandedOver] = Field(default_factory=list)
    failed: list[str] = Field(default_factory=list)
    synced: bool = False
    summary_sent: bool = False
    finished: bool = False


# --- state --------------------------------------------------------------------------------


class ProgressNote(Payload):
    at: datetime
    by: str
    note: str


class ExtensionRequest(Payload):
    requested_at: datetime
    by: str
    new_due: date
    reason: str


class ActionState(ActionSpec):
    """One action as it runs: who holds it, where it is, and which reminders have gone."""

    status: ActionStatus = ActionStatus.assigned
    round: int = 0  # 0 for the agreed actions, n for remedial actions after the n-th audit
    assigned_on: date
    acknowledged_at: datetime | None = None
    completed_at: datetime | None = None
    evidence: str = ""
    progress: list[ProgressNote] = Field(default_factory=list)
    extension: ExtensionRequest | None = None
    extensions_granted: int = 0
    owner_epoch: int = 0  # bumped on reassignment; links minted for an older epoch stop working
    # Reminders and rungs already sent, so a wake-up never sends one twice.
    ack_ladder: list[EscalationLevel] = Field(default_factory=list)
    due_ladder: list[EscalationLevel] = Field(default_factory=list)
    due_reminder_sent: bool = False
    last_progress_request_on: date | None = None
    # A sponsor's "remind the owner now": once a day at most, so an owner is chased, not flooded.
    sponsor_reminded_on: date | None = None

    @property
    def is_open(self) -> bool:
        return self.status is not ActionStatus.complete


class Escalation(Payload):
    """One reminder or escalation that was sent: level, time, recipients and what it was about."""

    level: EscalationLevel
    at: datetime
    recipients: list[str]
    subject: str  # "action:<id>" or "stage:<stage>"
    kind: str


class TimelineEvent(Payload):
    seq: int
    at: datetime
    kind: str
    actor: str  # an email, or "assure" for timers
    detail: str = ""


class Notification(Payload):
    """A message for the outbox. ``key`` is deterministic per (workflow, event, kind)."""

    key: str
    kind: MessageKind
    recipients: list[str]
    action_id: str | None = None
    level: EscalationLevel | None = None
    context: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime


class MailDelivery(Payload):
    """One message to deliver: a notification to one of its recipients."""

    workflow_id: str
    notification: Notification
    recipient: str


class MailBatch(Payload):
    """Messages of a recommendation, sent together over one connection to the relay: each
    notification once, with the recipients it is still to reach (``Notification.recipients``)."""

    workflow_id: str
    notifications: list[Notification]

    def deliveries(self) -> list[MailDelivery]:
        """One delivery per notification and recipient, in order."""
        return [
            MailDelivery(workflow_id=self.workflow_id, notification=n, recipient=r)
            for n in self.notifications
            for r in n.recipients
        ]


class MailDeliveryResult(Payload):
    """What became of a delivery. A bounce is a result, not an error: the workflow acts on it."""

    status: Literal["sent", "already_sent", "bounced", "failed"]
    message_id: str
    smtp_code: int | None = None
    detail: str = ""
    # For "failed": a message that cannot be sent as it is (an address or a header the message
    # builder cannot encode). Kept in the problem table for an operator; never retried.
    reason: str = ""


class MailBatchResult(Payload):
    """One result per delivery of a ``MailBatch`` (``MailBatch.deliveries()``), in its order."""

    results: list[MailDeliveryResult]


# The stable type of the ``ApplicationError`` an effect raises when what it was given cannot be
# stored or sent as it is: never retried, recorded as a problem for an operator.
BAD_DATA = "BadData"


class Problem(Payload):
    """Something an effect could not do with this recommendation's data, for an operator:
    ``kind`` is ``store_refused`` or ``mail_failed``, ``subject`` what it concerns (``store``,
    or the recipient), ``detail`` what went wrong (no recommendation text)."""

    kind: str
    subject: str
    detail: str
    first_at: datetime
    last_at: datetime
    count: int = 1


class SignOffRecord(Payload):
    by: str
    at: datetime
    note: str
    dissemination: DisseminationPlan
    audit: AuditPlan


class AuditRecord(Payload):
    by: str
    at: datetime
    outcome: AuditOutcome
    findings: str
    remedial_action_ids: list[str] = Field(default_factory=list)
    re_audit_on: date | None = None
    early_reason: str = ""  # why it was recorded before its planned date, if it was
    # Embedded although these measures were off track, and why the auditor judged so.
    off_track_measures: list[str] = Field(default_factory=list)
    off_track_reason: str = ""


class CascadeConfirmation(Payload):
    """What an agency's lead (or someone on their behalf) confirmed about its cascade."""

    agency: str
    by: str
    at: datetime
    reached: int
    channels: list[str] = Field(default_factory=list)
    done_on: date
    note: str = ""
    on_behalf_of: str | None = None  # the lead, when a sponsor or Assurance Board member recorded it


class Reading(Payload):
    """One figure of a measure: its value on a day, who gave it and when it was recorded."""

    value: float
    on: date
    by: str
    note: str = ""
    at: datetime


class MeasureState(MeasureSpec):
    """A measure as it runs: its readings (by date), the reading now owed and its silence ladder."""

    added_on: date
    readings: list[Reading] = Field(default_factory=list)
    # The day the next reading is owed (``models.measures``; None: no more are owed), and the
    # ladder's rungs fired for it.
    reading_due_on: date | None = None
    reading_ladder: list[EscalationLevel] = Field(default_factory=list)
    # The date of the reading that last answered one owed: a correction of it, or another reading
    # no later, answers nothing more.
    answered_on: date | None = None


class BoardDecision(Payload):
    at: datetime
    by: str
    action_id: str | None = None
    decision: str


class RecommendationState(Payload):
    """The whole long-lived state: handed unchanged to continue-as-new."""

    recommendation: Recommendation
    policy: EscalationPolicy
    parties: Parties
    stage: Stage
    stage_entered_at: datetime
    created_at: datetime
    actions: list[ActionState] = Field(default_factory=list)
    dissemination: DisseminationPlan | None = None
    audit_plan: AuditPlan | None = None
    plans_submitted_by: str | None = None
    sign_off: SignOffRecord | None = None
    audits: list[AuditRecord] = Field(default_factory=list)
    consecutive_failed_audits: int = 0
    escalations: list[Escalation] = Field(default_factory=list)
    board_decisions: list[BoardDecision] = Field(default_factory=list)
    stage_ladder: list[EscalationLevel] = Field(default_factory=list)
    # The cascade after sign-off: each agency's latest confirmation, the silence ladder's rungs
    # fired (kept past the cascade stage: an agency silent at the audit stays overdue), and
    # whether the reminder before ``cascade_by`` went.
    cascade_confirmations: list[CascadeConfirmation] = Field(default_factory=list)
    cascade_ladder: list[EscalationLevel] = Field(default_factory=list)
    cascade_reminder_sent: bool = False
    measures: list[MeasureState] = Field(default_factory=list)
    timeline: list[TimelineEvent] = Field(default_factory=list)
    closed_reason: str = ""
    seq: int = 0  # last timeline sequence number; also makes notification keys unique
    version: int = 0  # bumped at every transition; the read model keeps only the newest
    # What the read model and the outbox have already received.
    projected_seq: int = 0
    outbox: list[Notification] = Field(default_factory=list)
    # Stored notifications still to be emailed, each with the recipients it has still to reach
    # (kept across continue-as-new).
    pending_mail: list[Notification] = Field(default_factory=list)
    # What effects could not do with this recommendation's data (see ``Problem``).
    problems: list[Problem] = Field(default_factory=list)

    def action(self, action_id: str) -> ActionState | None:
        return next((a for a in self.actions if a.action_id == action_id), None)

    def measure(self, measure_id: str) -> MeasureState | None:
        wanted = measure_id.strip().casefold()
        return next((m for m in self.measures if m.measure_id.casefold() == wanted), None)


class ImportedAction(Payload):
    """Where an action already stood in the action log it was imported from."""

    action_id: str
    status: ActionStatus = ActionStatus.assigned
    completed_on: Day | None = None
    evidence: LongText = ""


class ImportedCascade(Payload):
    """An agency's cascade confirmation already made before the log was imported."""

    agency: Name
    reached: int = Field(ge=0, le=MAX_REACH)
    channels: list[ShortText] = Field(default_factory=list, max_length=20)
    done_on: Day
    note: Text = ""


class ImportedProgress(Payload):
    """A live action log brought in from a spreadsheet: each action's status and, once every
    action is complete, the plans if the log had them. Its presence marks an imported start.

    ``signed_off_on``: the Assurance Board signed the plans off on that day (they must then be
    credible), and ``cascade`` holds the confirmations its agencies have made since."""

    actions: list[ImportedAction] = Field(default_factory=list, max_length=100)
    dissemination: DisseminationPlan | None = None
    audit: AuditPlan | None = None
    signed_off_on: Day | None = None
    cascade: list[ImportedCascade] = Field(default_factory=list, max_length=50)


class ImportedReading(Payload):
    """A reading already collected before the measure came into Assure (a ``Readings`` sheet row)."""

    measure_id: str
    value: FiniteFloat
    on: Day
    by: Email | None = None  # None: the measure's reporter
    note: Text = ""


class RecommendationInput(Payload):
    """Start a recommendation (``state`` is None) or continue one (``state`` carried over)."""

    recommendation: Recommendation
    policy: EscalationPolicy = Field(default_factory=EscalationPolicy)
    parties: Parties
    actions: ActionSpecs = Field(default_factory=list, max_length=100)
    # Only for recommendations imported with a live action log; None keeps the plain start.
    imported: ImportedProgress | None = None
    # Impact measures agreed before it came into Assure, and readings already collected for them.
    measures: MeasureSpecs = Field(default_factory=list, max_length=MAX_MEASURES)
    readings: list[ImportedReading] = Field(default_factory=list, max_length=2000)
    state: RecommendationState | None = None
    # Continue as new once history passes this many events (Temporal also suggests it).
    continue_as_new_after: int = Field(default=10_000, ge=50)

    @model_validator(mode="after")
    def _readings_of_its_measures(self) -> RecommendationInput:
        """Readings already collected name a measure it starts with, one per measure and day: the
        importer says so row by row; here nothing that reaches a workflow is dropped unseen."""
        known = {m.measure_id.casefold() for m in self.measures}
        seen: set[tuple[str, date]] = set()
        for reading in self.readings:
            key = (reading.measure_id.casefold(), reading.on)
            if key[0] not in known:
                raise ValueError(f"a reading names measure {reading.measure_id!r}, which is not among the measures")
            if key in seen:
                raise ValueError(f"two readings of measure {reading.measure_id} on {reading.on}")
            seen.add(key)
        return self


# --- query and results --------------------------------------------------------------------


class Deadline(Payload):
    at: datetime
    kind: DeadlineKind
    action_id: str | None = None
    level: EscalationLevel | None = None
    measure_id: str | None = None  # for a measure's reading ladder


class ActionView(Payload):
    action_id: str
    description: str
    agency: str
    owner: str
    due: date
    success_measure: str
    status: ActionStatus
    round: int
    acknowledged_at: datetime | None
    completed_at: datetime | None
    evidence: str
    overdue: bool
    escalation_level: EscalationLevel
    extension_requested: ExtensionRequest | None
    progress: list[ProgressNote]
    owner_epoch: int


class CascadeStatus(StrEnum):
    waiting = "waiting"
    confirmed = "confirmed"
    overdue = "overdue"


class CascadeView(Payload):
    """One agency's cascade as the status shows it: the plan's figures and what was confirmed."""

    agency: str
    lead: str | None  # the named lead, or the agency's safeguarding lead now; None: nobody
    staff_group: str
    expected_reach: int
    reached: int | None
    channels: list[str]
    done_on: date | None
    note: str
    status: CascadeStatus
    reach_percent: int | None  # reached / expected, rounded down; None until confirmed
    confirmed_by: str | None = None
    on_behalf_of: str | None = None


class ReadingView(Payload):
    value: float
    on: date
    by: str
    note: str


class MeasureFacts(Payload):
    """A measure's agreed figures, as the status and the read model carry them (checked as a
    ``MeasureSpec`` when they came in)."""

    measure_id: str
    name: str
    unit: MeasureUnit
    direction: Direction
    baseline: float | None
    baseline_on: date | None
    target: float | None
    target_by: date | None
    reporter: str
    every: str


class MeasureView(MeasureFacts):
    """One measure as the status shows it: the agreed figures, the readings (oldest first), where
    it stands against its line to the target, and the reading owed next."""

    readings: list[ReadingView]
    on_track: MeasureTrack
    # What the line from baseline to target expects on the latest reading's day (None: no data).
    expected: float | None
    reading_due_on: date | None
    overdue: bool  # the owed reading's silence has reached the sponsoring board


class SourceView(Payload):
    kind: SourceKind
    title: str
    date: date
    review_ref: str | None = None  # the review it belongs to, when reviews are records
    themes: list[str] = []  # its own, beside its review's


class RecommendationStatus(Payload):
    """The ``status`` query's answer: the whole state, with what is due next worked out."""

    ref: str
    title: str
    source: SourceView
    board: str
    priority: Priority
    stage: Stage
    stage_entered_at: datetime
    actions: list[ActionView]
    next_deadline: Deadline | None
    overdue: bool
    escalation_level: EscalationLevel
    escalations: list[Escalation]
    dissemination: DisseminationPlan | None
    audit_plan: AuditPlan | None
    sign_off: SignOffRecord | None
    audits: list[AuditRecord]
    timeline: list[TimelineEvent]
    closed_reason: str
    version: int
    as_of: datetime
    # What effects could not do with its data: an operator's to look at (``assure doctor``).
    problems: list[Problem] = Field(default_factory=list)
    # The root of its email thread (``models.mail_context.thread_of``).
    thread: str = ""
    # What the plans still lack before sign-off (``models.rules.sign_off_gaps``); empty once credible.
    plan_gaps: list[str] = Field(default_factory=list)
    # The cascade after sign-off, per agency, and its reach over all agencies (``Lifecycle.cascade_views``).
    cascade: list[CascadeView] = Field(default_factory=list)
    reach_percent: int | None = None
    cascade_short: bool = False  # an agency confirmed a reach below the plan's threshold
    cascade_overdue: bool = False  # ``cascade_by`` has passed with agencies unconfirmed
    measures: list[MeasureView] = Field(default_factory=list)


class RecommendationFacts(Payload):
    """What the read model lists a recommendation by, fixed for its whole life."""

    title: str
    source_kind: SourceKind
    source_title: str
    source_date: date
    board: str
    priority: Priority
    review_ref: str | None = None
    themes: list[str] = []  # its own, beside its review's


class RowFacts(Payload):
    """Where a recommendation stands, as its read-model row holds it."""

    stage: Stage
    stage_entered_at: datetime
    next_deadline_at: datetime | None
    next_deadline_kind: str | None
    overdue: bool
    escalation_level: EscalationLevel
    audit_due: date | None
    as_of: datetime
    reach_percent: int | None = None
    cascade_short: bool = False
    cascade_overdue: bool = False
    cascade_by: date | None = None  # while the signed-off plan's cascade runs
    reach_threshold: int | None = None


class ActionRowFacts(Payload):
    """One action as its read-model row holds it."""

    action_id: str
    description: str
    agency: str
    owner: str
    due: date
    status: ActionStatus
    round: int
    overdue: bool
    escalation_level: EscalationLevel


class CascadeRowFacts(Payload):
    """One agency's cascade as its read-model row holds it."""

    agency: str
    lead: str | None
    staff_group: str
    expected_reach: int
    reached: int | None
    done_on: date | None
    status: CascadeStatus


class MeasureRowFacts(MeasureFacts):
    """One impact measure as its read-model row holds it: its figures, where it stands (the
    status's ``MeasureView``) and its latest reading. ``readings`` (oldest first) is None in a
    write where they did not change: the row keeps those it has, so history carries a measure's
    readings only when one comes or is corrected."""

    readings: list[ReadingView] | None
    latest_value: float | None
    latest_on: date | None
    track: MeasureTrack
    expected: float | None
    reading_due_on: date | None
    overdue: bool


class ProjectionInput(Payload):
    """One write to the store: a delta, so that history grows with what changed, not with the
    whole status at every transition. ``recommendation`` is set in a run's first write (the row
    may not exist yet); ``actions`` holds only the actions whose row changed since the last
    write of this run; the events and notifications are the ones the store has not had."""

    workflow_id: str
    ref: str
    version: int
    row: RowFacts
    recommendation: RecommendationFacts | None = None
    actions: list[ActionRowFacts] = Field(default_factory=list)
    # The whole cascade when it changed since the last write of this run (None: unchanged).
    cascade: list[CascadeRowFacts] | None = None
    # The measures whose row changed since the last write of this run, or every one in a first
    # write (None: none changed). Measures are only ever added, so a write never removes one.
    measures: list[MeasureRowFacts] | None = None
    new_events: list[TimelineEvent] = Field(default_factory=list)
    notifications: list[Notification] = Field(default_factory=list)


class DecisionResult(Payload):
    """What an Update answers: small, since it is kept in the workflow's history. A page that
    needs more asks the ``status`` query."""

    stage: Stage
    version: int
    next_deadline: Deadline | None = None
    closed_reason: str = ""


# The activity the workflow calls by name (workflow code never imports activities/, which
# pulls in SQLAlchemy).
RECORD_TRANSITION = "record_transition"
DELIVER_MAIL = "deliver_mail"
DELIVER_MAIL_BATCH = "deliver_mail_batch"


def mail_queue(task_queue: str) -> str:
    """The task queue of the mail batches of workflows on ``task_queue``: served apart, so that
    sending email never queues ahead of a decision."""
    return f"{task_queue}-mail"


def store_queue(task_queue: str) -> str:
    """The task queue of the writes to the store of workflows on ``task_queue``: served apart
    from the decisions (so they never queue ahead of one) and from the mail (so a slow relay
    never holds the store back)."""
    return f"{task_queue}-store"


# The dashboard's one-time sign-in email: its link is signed by the delivery activity.
SIGN_IN_KIND = MessageKind.sign_in
ADD_TO_BOARD_DIGEST = "add_to_board_digest"
# Escalations to a sponsoring board reach each of its people as one digest per working day;
# an owner or agency lead on the same (collapsed) notice hears at once.
DIGEST_KINDS = frozenset({MessageKind.board_escalation})
DIGEST_ROLES = frozenset({Role.board_sponsor, Role.board_chair})


class BoardDigestInput(Payload):
    """One board member's digest of escalations for one working day."""

    board: str
    recipient: str
    day: date


class FreshLinkInput(Payload):
    """A personal link for the one recipient of ``notification``: a fresh response link (kind
    ``fresh_link``) or a dashboard sign-in link (kind ``sign_in``).

    ``recommendation_workflow_id`` threads the email with the recommendation's others
    (``sign-in`` for a sign-in link, which is about none).
    """

    recommendation_workflow_id: str
    notification: Notification


SEND_BOARD_PACK = "send_board_pack"


class BoardPackInput(Payload):
    """Which month's pack to send; None: the month in which the schedule fires."""

    month: date | None = None


class BoardPackResult(Payload):
    month: date
    recipients: list[str]
    sent: int
