"""SQLModel tables: the registry, the read model projected from workflows, and the outbox.

Never imported by workflow code (SQLAlchemy does not belong in the sandbox).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Table, Text
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UtcDateTime(TypeDecorator):
    """Every stored time is UTC, and comes back aware: ``timestamp with time zone`` on
    PostgreSQL; on SQLite, which keeps no zone, the UTC wall time, given its zone again on reading."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None or value.tzinfo is None:
            return value
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def table_of(model: type[SQLModel]) -> Table:
    """A table model's SQLAlchemy ``Table``, for Core statements (bulk upserts, joins and
    aggregates over plain rows)."""
    # SQLModel's metaclass sets __table__ on every table=True class, but its types do not declare it.
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


# --- registry -----------------------------------------------------------------------------


class Agency(SQLModel, table=True):
    """A partner agency and its safeguarding lead (copied at the agency-lead rung)."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True, max_length=100)
    short_name: str = Field(default="", max_length=30)
    safeguarding_lead_email: str | None = Field(default=None, max_length=254)


class Person(SQLModel, table=True):
    """Someone Assure writes to. ``roles`` is a comma-separated list such as
    ``owner,board_sponsor:Review Board,assurance_member``."""

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True, index=True, max_length=254)
    name: str = Field(default="", max_length=200)
    agency: str = Field(default="", max_length=100)
    roles: str = Field(default="", max_length=1000)

    # The person's standing deputy (a registered person of the same agency), who covers their
    # absences unless an absence names another (``models.cover``).
    deputy: str = Field(default="", max_length=254)
    # Set when they left the partnership: their links and sign-in stop, their parts passed on.
    left_on: date | None = None
    successor: str = Field(default="", max_length=254)

    def role_list(self) -> list[str]:
        return [r.strip() for r in self.roles.split(",") if r.strip()]


class AbsenceRow(SQLModel, table=True):
    """A period someone is away (both days included), and the deputy named for it ("" for their
    standing deputy, or else their agency's lead)."""

    __tablename__ = "absence"

    id: int | None = Field(default=None, primary_key=True)
    person: str = Field(index=True, max_length=254)
    first_day: date
    last_day: date = Field(index=True)
    deputy: str = Field(default="", max_length=254)
    recorded_by: str = Field(max_length=254)
    recorded_at: datetime = Field(sa_type=UtcDateTime)


class RegistryChange(SQLModel, table=True):
    """One change to the registry made without a workbook: who made it, when, and what it was."""

    __tablename__ = "registry_change"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UtcDateTime, index=True)
    by: str = Field(max_length=254)
    subject: str = Field(max_length=254)  # the person, agency or board changed
    what: str = Field(max_length=40)  # absence, deputy, left, person, agency, board
    detail: str = Field(default="", max_length=2000)


class Board(SQLModel, table=True):
    """A board of the partnership, its sponsor and chair, and its escalation policy."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True, max_length=100)
    sponsor_agency: str = Field(default="", max_length=100)
    chair_email: str | None = Field(default=None, max_length=254)
    sponsor_email: str | None = Field(default=None, max_length=254)
    acknowledge_within: str = "P5D"
    remind_before_due: str = "P7D"
    agency_lead_after: str = "P7D"
    board_after: str = "P14D"
    assurance_after: str = "P42D"
    progress_every: str = "P1M"
    agree_within: str = "P1M"
    plans_within: str = "P1M"
    working_days: bool = False


# --- reviews ------------------------------------------------------------------------------


class ReviewRow(SQLModel, table=True):
    """One row per review, audit or inspection recommendations come from (``models.reviews``):
    written by the import (``store.reviews``), not by projection. Its recommendations name it by
    ``recommendation.review_ref``, with no foreign key: that row is written by the recommendation's
    workflow from what it was started with, and a store write is never refused for a review's sake."""

    __tablename__ = "review"

    review_ref: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=30)
    title: str
    board: str = Field(max_length=100)
    notified_on: date | None = None
    decided_on: date | None = None
    commissioned_on: date | None = None
    concluded_on: date | None = None
    published_on: date | None = None
    themes: str = Field(default="[]", sa_column=Column(Text, nullable=False))  # JSON text: ["mental health", ...]
    created_at: datetime = Field(sa_type=UtcDateTime)
    updated_at: datetime = Field(sa_type=UtcDateTime)


# --- assurance cycles ---------------------------------------------------------------------


class CycleRow(SQLModel, table=True):
    """One row per assurance cycle (``models.cycles``): its definition as JSON, written by the
    import (``store.cycles``); the board and name beside it for listing without reading it."""

    __tablename__ = "cycle"

    cycle_id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=100)
    board: str = Field(max_length=100)
    definition: str = Field(sa_column=Column(Text, nullable=False))  # Cycle.model_dump_json()
    created_at: datetime = Field(sa_type=UtcDateTime)
    updated_at: datetime = Field(sa_type=UtcDateTime)


class CycleReturnRow(SQLModel, table=True):
    """One row per agency's return to a period of a cycle, written by its workflow's projection
    (``store.cycle_returns``): what the matrix, the board pack and the lists read. ``raised`` (a
    standard's id to the recommendation raised from it) is written by the gateway, never by the
    projection, so it outlives the return's workflow."""

    __tablename__ = "cycle_return"

    workflow_id: str = Field(primary_key=True, max_length=200)
    cycle_id: str = Field(index=True, max_length=64)
    period: str = Field(index=True, max_length=16)
    agency: str = Field(max_length=100)
    board: str = Field(max_length=100)
    stage: str = Field(max_length=20)
    due_on: date
    ratings: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # Each standard's answer as submitted (rating, evidence, the committed action): the record
    # once the return's workflow has closed.
    answers: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    raised: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    submitted_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    accepted_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    version: int = 0
    updated_at: datetime = Field(sa_type=UtcDateTime)


# --- read model ---------------------------------------------------------------------------


class RecommendationRow(SQLModel, table=True):
    """One row per recommendation: what lists and dashboards read. Written only by projection."""

    __tablename__ = "recommendation"

    ref: str = Field(primary_key=True, max_length=64)
    workflow_id: str = Field(max_length=100)
    title: str
    source_kind: str = Field(max_length=30)
    source_title: str = ""
    source_date: date
    board: str = Field(index=True, max_length=100)
    priority: str = Field(max_length=10)
    # The review it belongs to (the ``review`` row); None for one started before reviews were records.
    review_ref: str | None = Field(default=None, index=True, max_length=64)
    # Its own themes, beside its review's (JSON text, as the review's).
    themes: str = Field(default="[]", sa_column=Column(Text, nullable=False, server_default="[]"))
    stage: str = Field(index=True, max_length=30)
    stage_entered_at: datetime = Field(sa_type=UtcDateTime)
    next_deadline_at: datetime | None = Field(default=None, index=True, sa_type=UtcDateTime)
    next_deadline_kind: str | None = None
    overdue: bool = Field(default=False, index=True)
    escalation_level: str = Field(default="none", index=True, max_length=30)
    # The date of the audit (or re-audit) awaited, while one is: "audits due this month".
    audit_due: date | None = Field(default=None, index=True)
    # The cascade after sign-off: its reach over all agencies, whether an agency confirmed less
    # than the plan's threshold, and whether ``cascade_by`` passed with agencies silent (RAG).
    reach_percent: int | None = None
    cascade_short: bool = False
    cascade_overdue: bool = False
    cascade_by: date | None = None
    reach_threshold: int | None = None
    # How many of its impact measures are off track (the ``measure`` rows): the lists' count.
    measures_off_track: int = 0
    version: int = 0
    updated_at: datetime = Field(sa_type=UtcDateTime)


class ActionRow(SQLModel, table=True):
    """One row per action of a recommendation, replaced as a set with each newer version."""

    __tablename__ = "action"

    ref: str = Field(primary_key=True, foreign_key="recommendation.ref", max_length=64)
    action_id: str = Field(primary_key=True, max_length=32)
    description: str
    agency: str = Field(index=True, max_length=100)
    owner: str = Field(index=True, max_length=254)
    due: date = Field(index=True)
    status: str = Field(max_length=20)
    round: int = 0
    overdue: bool = False
    escalation_level: str = Field(default="none", max_length=30)


class CascadeRow(SQLModel, table=True):
    """One row per agency of a recommendation's cascade, replaced as a set when it changes."""

    __tablename__ = "cascade"

    ref: str = Field(primary_key=True, foreign_key="recommendation.ref", max_length=64)
    agency: str = Field(primary_key=True, max_length=100)
    lead: str | None = Field(default=None, max_length=254)
    staff_group: str = Field(default="", max_length=300)
    expected_reach: int = 0
    reached: int | None = None
    done_on: date | None = None
    status: str = Field(index=True, max_length=20)


class MeasureRow(SQLModel, table=True):
    """One row per impact measure of a recommendation: its figures, its readings (JSON text,
    oldest first: ``[{value, on, by, note}]``) and where it stands, as the status said when the
    projection wrote it (``models.measures``). Measures are only added, so rows are upserted."""

    __tablename__ = "measure"

    ref: str = Field(primary_key=True, foreign_key="recommendation.ref", max_length=64)
    measure_id: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=300)
    unit: str = Field(max_length=10)
    direction: str = Field(max_length=10)
    baseline: float | None = None
    baseline_on: date | None = None
    target: float | None = None
    target_by: date | None = None
    reporter: str = Field(index=True, max_length=254)
    every: str
    readings: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    latest_value: float | None = None
    latest_on: date | None = None
    track: str = Field(index=True, max_length=20)  # on_track | off_track | no_data
    expected: float | None = None  # the line's value on the latest reading's day
    reading_due_on: date | None = None  # None once the recommendation is closed
    overdue: bool = False


class TimelineRow(SQLModel, table=True):
    """The event timeline: who did what, when; append-only, keyed by the workflow's sequence."""

    __tablename__ = "timeline_event"

    ref: str = Field(primary_key=True, max_length=64)
    seq: int = Field(primary_key=True)
    at: datetime = Field(sa_type=UtcDateTime)
    kind: str = Field(max_length=60)
    actor: str = Field(max_length=254)
    detail: str = ""


class OutboxRow(SQLModel, table=True):
    """A notification to deliver. ``key`` is deterministic, so a retried write adds nothing."""

    __tablename__ = "outbox"

    key: str = Field(primary_key=True, max_length=300)
    # A return's workflow id names its cycle, period and agency: longer than a recommendation's.
    workflow_id: str = Field(index=True, max_length=200)
    ref: str = Field(index=True, max_length=64)
    kind: str = Field(index=True, max_length=60)
    recipients: list[str] = Field(sa_column=Column(JSON, nullable=False))
    action_id: str | None = None
    level: str | None = None
    context: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(index=True, sa_type=UtcDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


# --- development mail catcher -------------------------------------------------------------


class CaughtMail(SQLModel, table=True):
    """A message received by the development mail catcher, kept whole so tests can parse it."""

    __tablename__ = "caught_mail"

    id: int | None = Field(default=None, primary_key=True)
    received_at: datetime = Field(index=True, sa_type=UtcDateTime)
    mail_from: str = Field(max_length=254)
    recipients: list[str] = Field(sa_column=Column(JSON, nullable=False))
    subject: str = ""
    message_id: str = Field(default="", index=True, max_length=300)
    raw: str


# --- email delivery -----------------------------------------------------------------------


class SentMail(SQLModel, table=True):
    """The sent log: one row per message (per notification and recipient), keyed by Message-ID.

    Delivery checks it before sending and writes it after, so a retried activity or a restarted
    worker does not send a message twice (except after a crash between the two, when the same
    Message-ID lets the reader's mail client show one).
    """

    __tablename__ = "sent_mail"

    message_id: str = Field(primary_key=True, max_length=300)
    notification_key: str = Field(index=True, max_length=300)
    ref: str = Field(index=True, max_length=64)
    kind: str = Field(max_length=60)
    recipient: str = Field(index=True, max_length=254)
    status: str = Field(max_length=20)  # sent | bounced
    smtp_code: int | None = None
    detail: str = Field(default="", max_length=500)
    at: datetime = Field(sa_type=UtcDateTime)


# --- the JSON API -------------------------------------------------------------------------


class ApiToken(SQLModel, table=True):
    """A bearer token for the JSON API, stored only as its SHA-256: a stolen database holds no
    usable token. The person's registry roles decide what it may see and do."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, index=True, max_length=64)
    person: str = Field(index=True, max_length=254)
    created_at: datetime = Field(sa_type=UtcDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


# --- the dashboard's sign-in --------------------------------------------------------------


class UsedSignInLink(SQLModel, table=True):
    """A sign-in link that has been used: its nonce, so it never works twice."""

    __tablename__ = "used_sign_in_link"

    nonce: str = Field(primary_key=True, max_length=64)
    used_at: datetime = Field(sa_type=UtcDateTime)


class WebSession(SQLModel, table=True):
    """A signed-in dashboard session, stored only as the SHA-256 of its cookie's random part, so
    that signing out (or an operator) can end it and a stolen database holds no usable cookie."""

    __tablename__ = "web_session"

    token_hash: str = Field(primary_key=True, max_length=64)
    person: str = Field(index=True, max_length=254)
    created_at: datetime = Field(sa_type=UtcDateTime)
    expires_at: datetime = Field(index=True, sa_type=UtcDateTime)


# --- operators ----------------------------------------------------------------------------


class ProblemRow(SQLModel, table=True):
    """Something an effect could not do with a recommendation's data (a store write refused, a
    message that cannot be sent): never retried, kept here for an operator (``assure doctor``,
    the dashboard's problems list). One row per (workflow, kind, subject), counting repeats;
    ``detail`` names what failed and where, never the recommendation's text or a person."""

    __tablename__ = "problem"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, index=True, max_length=300)
    workflow_id: str = Field(index=True, max_length=100)
    ref: str = Field(index=True, max_length=64)
    kind: str = Field(index=True, max_length=60)
    detail: str = Field(default="", max_length=500)
    first_seen: datetime = Field(sa_type=UtcDateTime)
    last_seen: datetime = Field(sa_type=UtcDateTime)
    count: int = 1
    # Set by an operator who has dealt with it (``assure doctor --resolve ID``); a repeat reopens it.
    resolved_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
