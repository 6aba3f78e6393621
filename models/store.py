"""Store functions: keyword-only, each given the session it works in.

The read model is written only here, by projection from workflows: idempotent (a retried
activity adds nothing) and versioned (a late write never overwrites a newer one).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel, select

from models.payloads import (
    EscalationPolicy,
    Notification,
    Parties,
    Payload,
    ProjectionInput,
    RecommendationStatus,
    Stage,
)
from models.rag import rag
from models.tables import (
    ActionRow,
    Agency,
    Board,
    CaughtMail,
    OutboxRow,
    Person,
    RecommendationRow,
    SentMail,
    TimelineRow,
)


class RegistryError(LookupError):
    """The registry lacks something a recommendation needs (a board, a sponsor, ...)."""


def _insert(session: Session, model: type[SQLModel]):
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(model)


def _insert_ignoring_duplicates(session: Session, model: type[SQLModel], rows: Sequence[dict[str, Any]]) -> int:
    if not rows:
        return 0
    stmt = _insert(session, model).values(list(rows)).on_conflict_do_nothing()
    return session.connection().execute(stmt).rowcount


def apply_projection(*, session: Session, data: ProjectionInput) -> bool:
    """Write one transition; returns whether the recommendation row moved to this version."""
    status = data.status
    values = {
        "ref": status.ref,
        "workflow_id": data.workflow_id,
        "title": status.title,
        "source_kind": status.source.kind.value,
        "source_title": status.source.title,
        "source_date": status.source.date,
        "board": status.board,
        "priority": status.priority.value,
        "stage": status.stage.value,
        "stage_entered_at": status.stage_entered_at,
        "next_deadline_at": status.next_deadline.at if status.next_deadline else None,
        "next_deadline_kind": status.next_deadline.kind if status.next_deadline else None,
        "overdue": status.overdue,
        "escalation_level": status.escalation_level.value,
        "audit_due": audit_due(status),
        "version": status.version,
        "updated_at": status.as_of,
    }
    insert = _insert(session, RecommendationRow).values(values)
    upsert = insert.on_conflict_do_update(
        index_elements=["ref"],
        set_={k: insert.excluded[k] for k in values if k != "ref"},
        where=RecommendationRow.__table__.c.version < insert.excluded.version,
    )
    moved = session.connection().execute(upsert).rowcount > 0
    if moved:
        session.connection().execute(delete(ActionRow).where(ActionRow.ref == status.ref))
        _insert_ignoring_duplicates(
            session,
            ActionRow,
            [
                {
                    "ref": status.ref,
                    "action_id": a.action_id,
                    "description": a.description,
                    "agency": a.agency,
                    "owner": a.owner,
                    "due": a.due,
                    "status": a.status.value,
                    "round": a.round,
                    "overdue": a.overdue,
                    "escalation_level": a.escalation_level.value,
                }
                for a in status.actions
            ],
        )
    _insert_ignoring_duplicates(
        session,
        TimelineRow,
        [
            {"ref": status.ref, **e.model_dump(include={"seq", "at", "kind", "actor", "detail"})}
            for e in data.new_events
        ],
    )
    _insert_ignoring_duplicates(
        session,
        OutboxRow,
        [
            {
                "key": n.key,
                "workflow_id": data.workflow_id,
                "ref": status.ref,
                "kind": n.kind,
                "recipients": n.recipients,
                "action_id": n.action_id,
                "level": n.level.value if n.level else None,
                "context": n.model_dump(mode="json")["context"],
                "created_at": n.created_at,
            }
            for n in data.notifications
        ],
    )
    return moved


def audit_due(status: RecommendationStatus) -> date | None:
    """The day the awaited audit or re-audit is planned for, if one is awaited."""
    if status.stage is Stage.audit and status.audit_plan is not None:
        return status.audit_plan.audit_on
    if status.stage is Stage.re_audit and status.audits:
        return status.audits[-1].re_audit_on
    return None


def outbox(*, session: Session, ref: str | None = None) -> list[OutboxRow]:
    """Notifications in the order they were created, for one recommendation or all."""
    query = select(OutboxRow).order_by(OutboxRow.created_at, OutboxRow.key)
    if ref is not None:
        query = query.where(OutboxRow.ref == ref)
    return list(session.exec(query))


def recommendation_row(*, session: Session, ref: str) -> RecommendationRow | None:
    return session.get(RecommendationRow, ref)


# ``visible(board, owners, agencies)``: whether a reader may see a recommendation (models/access.py).
Visibility = Callable[[str, set[str], set[str]], bool]


class RecommendationSummary(Payload):
    """One line of a listing: what ``assure status`` and the API's list print, with its RAG."""

    ref: str
    title: str
    board: str
    agencies: list[str]
    stage: str
    rag: str
    overdue: bool
    escalation_level: str
    next_deadline_at: datetime | None
    next_deadline_kind: str | None
    next_open_due: date | None
    audit_due: date | None = None
    stage_entered_at: datetime | None = None


def recommendation_summaries(
    *,
    session: Session,
    now: datetime,
    board: str | None = None,
    agency: str | None = None,
    stage: str | None = None,
    overdue_only: bool = False,
    visible: Visibility | None = None,
) -> list[RecommendationSummary]:
    """Every recommendation in the read model matching the filters, by ref, with its RAG rating.

    ``visible(board, owners, agencies)``, when given, keeps only what a caller may see.
    """
    query = select(RecommendationRow).order_by(RecommendationRow.ref)
    if board:
        query = query.where(RecommendationRow.board == board)
    if stage:
        query = query.where(RecommendationRow.stage == stage)
    if overdue_only:
        query = query.where(RecommendationRow.overdue == True)  # noqa: E712 (SQL, not Python)
    rows = list(session.exec(query))
    actions: dict[str, list[ActionRow]] = {}
    for action in session.exec(select(ActionRow)):
        actions.setdefault(action.ref, []).append(action)
    summaries = []
    for row in rows:
        own = actions.get(row.ref, [])
        agencies = sorted({a.agency for a in own})
        if agency and agency not in agencies:
            continue
        if visible is not None and not visible(row.board, {a.owner for a in own}, set(agencies)):
            continue
        open_due = min((a.due for a in own if a.status != "complete"), default=None)
        rating = rag(
            stage=row.stage,
            overdue=row.overdue,
            escalation_level=row.escalation_level,
            next_open_due=open_due,
            stage_entered_at=as_utc(row.stage_entered_at),
            now=now,
        )
        summaries.append(
            RecommendationSummary(
                ref=row.ref, title=row.title, board=row.board, agencies=agencies, stage=row.stage, rag=rating,
                overdue=row.overdue, escalation_level=row.escalation_level, next_deadline_at=row.next_deadline_at,
                next_deadline_kind=row.next_deadline_kind, next_open_due=open_due, audit_due=row.audit_due,
                stage_entered_at=as_utc(row.stage_entered_at),
            )
        )  # fmt: skip
    return summaries


def as_utc(moment: datetime) -> datetime:
    """A stored time with its zone: SQLite hands datetimes back without one, and every stored time is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def board_context(*, session: Session, board_name: str) -> tuple[EscalationPolicy, Parties]:
    """The escalation policy and the people who decide, for a recommendation sponsored by a board."""
    board = session.exec(select(Board).where(Board.name == board_name)).first()
    if board is None:
        raise RegistryError(f"there is no board called {board_name!r} in the registry")
    return registry_context(board, list(session.exec(select(Person))), list(session.exec(select(Agency))))


POLICY_FIELDS = frozenset(EscalationPolicy.model_fields)


def registry_context(
    board: Board, people: Sequence[Person], agencies: Sequence[Agency]
) -> tuple[EscalationPolicy, Parties]:
    """``board_context`` over registry rows in hand (a file being imported, say), not the store."""

    def with_role(role: str) -> list[str]:
        return sorted({p.email for p in people if role in p.role_list()})

    sponsors = sorted(
        {*with_role(f"board_sponsor:{board.name}"), *([board.sponsor_email] if board.sponsor_email else [])}
    )
    chair = board.chair_email or next(iter(with_role(f"board_chair:{board.name}")), None)
    members = with_role("assurance_member")
    if not sponsors:
        raise RegistryError(f"board {board.name!r} has no sponsor")
    if not members:
        raise RegistryError("the registry has no Assurance Board member (role assurance_member)")
    leads = {a.name: a.safeguarding_lead_email for a in agencies if a.safeguarding_lead_email}
    policy = EscalationPolicy(**board.model_dump(include=set(POLICY_FIELDS)))
    parties = Parties(
        board_sponsors=sponsors,
        board_chair=chair,
        assurance_members=members,
        auditors=with_role("auditor"),
        agency_leads=leads,
    )
    return policy, parties


def upsert_registry(
    *, session: Session, agencies: Sequence[Agency], people: Sequence[Person], boards: Sequence[Board]
) -> None:
    """Add or update registry rows by their natural key (agency and board name, person email)."""
    for model, rows, key in ((Agency, agencies, "name"), (Person, people, "email"), (Board, boards, "name")):
        for row in rows:
            existing = session.exec(select(model).where(getattr(model, key) == getattr(row, key))).first()
            values = row.model_dump(exclude={"id"})
            if existing is None:
                session.add(model(**values))
            else:
                for name, value in values.items():
                    setattr(existing, name, value)
                session.add(existing)


def registry(*, session: Session) -> tuple[list[Agency], list[Person], list[Board]]:
    """The whole registry, detached from the session, for checking a file against it."""
    rows = (list(session.exec(select(Agency))), list(session.exec(select(Person))), list(session.exec(select(Board))))
    for group in rows:
        for row in group:
            session.expunge(row)
    return rows


def record_caught_mail(*, session: Session, mail: CaughtMail) -> None:
    """Keep one message the development mail catcher received."""
    session.add(mail)


def caught_mail(*, session: Session, recipient: str | None = None) -> list[CaughtMail]:
    """Caught messages, oldest first, optionally only those addressed to ``recipient``."""
    rows = list(session.exec(select(CaughtMail).order_by(CaughtMail.id)))
    if recipient is not None:
        wanted = recipient.lower()
        rows = [row for row in rows if wanted in (r.lower() for r in row.recipients)]
    return rows


def sent_mail_status(*, session: Session, message_id: str) -> str | None:
    """``sent`` or ``bounced`` if this message was handled before, else None."""
    row = session.get(SentMail, message_id)
    return row.status if row else None


def record_sent_mail(
    *,
    session: Session,
    message_id: str,
    notification: Notification,
    recipient: str,
    status: str,
    smtp_code: int | None = None,
    detail: str = "",
) -> None:
    """Write the sent log; a second write for the same Message-ID changes nothing."""
    _insert_ignoring_duplicates(
        session,
        SentMail,
        [
            {
                "message_id": message_id,
                "notification_key": notification.key,
                "ref": str(notification.context.get("ref", "")),
                "kind": notification.kind,
                "recipient": recipient,
                "status": status,
                "smtp_code": smtp_code,
                "detail": detail[:500],
                "at": datetime.now(UTC),
            }
        ],
    )


def sent_log(*, session: Session, ref: str | None = None) -> list[SentMail]:
    """The sent log, oldest first."""
    query = select(SentMail).order_by(SentMail.at)
    if ref is not None:
        query = query.where(SentMail.ref == ref)
    return list(session.exec(query))
