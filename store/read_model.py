"""Store functions: keyword-only, each given the session it works in.

The read model is written only here, by projection from workflows: idempotent (a retried
activity adds nothing) and versioned (a late write never overwrites a newer one).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, func
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel, col, select

from models.measure_decisions import today_in_london
from models.payloads import (
    EscalationPolicy,
    Notification,
    Parties,
    ProjectionInput,
)
from store.cover import absences_from, resolved_absences
from store.measures import write_measures
from store.tables import (
    AbsenceRow,
    ActionRow,
    Agency,
    Board,
    CascadeRow,
    CaughtMail,
    OutboxRow,
    Person,
    ProblemRow,
    RecommendationRow,
    SentMail,
    TimelineRow,
    table_of,
)


class RegistryError(LookupError):
    """The registry lacks something a recommendation needs (a board, a sponsor, ...)."""


@dataclass(frozen=True)
class _ProjectionStatements:
    """The projection's statements, built once per dialect: values come as parameters, so each is
    compiled once and taken from SQLAlchemy's cache after (building them per call cost more than
    running them)."""

    upsert_newer: Any
    update_newer: Any
    upsert_actions: Any


@lru_cache(maxsize=4)
def _projection_statements(dialect: str) -> _ProjectionStatements:
    module = postgresql if dialect == "postgresql" else sqlite
    recommendation = table_of(RecommendationRow).c
    insert = module.insert(RecommendationRow)
    # The count of measures off track is the measures' writer's to set (store.measures), from their rows.
    kept = {"ref", "measures_off_track"}
    updated = {c.name: insert.excluded[c.name] for c in table_of(RecommendationRow).columns if c.name not in kept}
    actions = module.insert(ActionRow)
    action_columns = {c.name: actions.excluded[c.name] for c in table_of(ActionRow).columns if not c.primary_key}
    # RETURNING, not rowcount: psycopg reports -1 for an upsert, and the row comes back only when
    # it was inserted or updated (an older version's WHERE leaves it, and returns nothing).
    return _ProjectionStatements(
        upsert_newer=insert.on_conflict_do_update(
            index_elements=["ref"], set_=updated, where=recommendation.version < insert.excluded.version
        ).returning(recommendation.ref),
        update_newer=table_of(RecommendationRow)
        .update()
        # Bound as ``new_*``: SQLAlchemy keeps a column's own name for its automatic SET values.
        .where(recommendation.ref == bindparam("new_ref"), recommendation.version < bindparam("new_version"))
        .values({name: bindparam(f"new_{name}") for name in _ROW_FACT_COLUMNS})
        .returning(recommendation.ref),
        upsert_actions=actions.on_conflict_do_update(index_elements=["ref", "action_id"], set_=action_columns),
    )


# The columns a later write of a run changes (the rest are fixed from the first).
_ROW_FACT_COLUMNS = (
    "stage",
    "stage_entered_at",
    "next_deadline_at",
    "next_deadline_kind",
    "overdue",
    "escalation_level",
    "audit_due",
    "reach_percent",
    "cascade_short",
    "cascade_overdue",
    "cascade_by",
    "reach_threshold",
    "version",
    "updated_at",
)


def _statements(session: Session) -> _ProjectionStatements:
    return _projection_statements(session.get_bind().dialect.name)


@lru_cache(maxsize=32)
def _insert_ignoring_statement(dialect: str, model: type[SQLModel]):
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(model).on_conflict_do_nothing()


def _insert_ignoring_duplicates(session: Session, model: type[SQLModel], rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (all with the same keys), leaving any already there by primary key."""
    if rows:
        statement = _insert_ignoring_statement(session.get_bind().dialect.name, model)
        session.connection().execute(statement, list(rows))


def queue_notifications(*, session: Session, workflow_id: str, ref: str, notifications: Sequence[Notification]) -> None:
    """Messages a review's or a return's workflow made, in the outbox beside recommendations'
    (keys are deterministic, so a retried write adds nothing)."""
    rows = [
        {
            "key": n.key, "workflow_id": workflow_id, "ref": ref, "kind": n.kind, "recipients": n.recipients,
            "action_id": None, "level": None, "context": n.model_dump(mode="json")["context"],
            "created_at": n.created_at,
        }
        for n in notifications
    ]  # fmt: skip
    _insert_ignoring_duplicates(session, OutboxRow, rows)


def apply_projection(*, session: Session, data: ProjectionInput) -> bool:
    """Write one transition; returns whether the recommendation row moved to this version.

    A write is a delta (``ProjectionInput``): the row's changing facts, the actions whose row
    changed, and the events and notifications not stored yet. Each recommendation's writes come
    one at a time, in order; a retried one adds nothing, and one older than the row moves nothing.
    """
    statements = _statements(session)
    connection = session.connection()
    row = data.row
    values: dict[str, Any] = {
        "ref": data.ref,
        "stage": row.stage.value,
        "stage_entered_at": row.stage_entered_at,
        "next_deadline_at": row.next_deadline_at,
        "next_deadline_kind": row.next_deadline_kind,
        "overdue": row.overdue,
        "escalation_level": row.escalation_level.value,
        "audit_due": row.audit_due,
        "reach_percent": row.reach_percent,
        "cascade_short": row.cascade_short,
        "cascade_overdue": row.cascade_overdue,
        "cascade_by": row.cascade_by,
        "reach_threshold": row.reach_threshold,
        "version": data.version,
        "updated_at": row.as_of,
    }
    if data.recommendation is not None:
        facts = data.recommendation
        values |= {
            "workflow_id": data.workflow_id,
            "title": facts.title,
            "source_kind": facts.source_kind.value,
            "source_title": facts.source_title,
            "source_date": facts.source_date,
            "board": facts.board,
            "priority": facts.priority.value,
            "review_ref": facts.review_ref,
            "themes": json.dumps(facts.themes),
        }
        moved = connection.execute(statements.upsert_newer, values).first() is not None
    else:
        new_values = {f"new_{k}": v for k, v in values.items()}
        moved = connection.execute(statements.update_newer, new_values).first() is not None
    if moved and data.actions:
        connection.execute(
            statements.upsert_actions,
            [
                {
                    "ref": data.ref,
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
                for a in data.actions
            ],
        )
    if moved and data.cascade is not None:
        # The cascade goes whole: a few agencies, replaced as a set.
        connection.execute(table_of(CascadeRow).delete().where(table_of(CascadeRow).c.ref == data.ref))
        if data.cascade:
            connection.execute(
                table_of(CascadeRow).insert(),
                [
                    {
                        "ref": data.ref,
                        "agency": c.agency,
                        "lead": c.lead,
                        "staff_group": c.staff_group,
                        "expected_reach": c.expected_reach,
                        "reached": c.reached,
                        "done_on": c.done_on,
                        "status": c.status.value,
                    }
                    for c in data.cascade
                ],
            )
    if moved and data.measures:
        write_measures(session=session, ref=data.ref, measures=data.measures)
    _insert_ignoring_duplicates(
        session,
        TimelineRow,
        [{"ref": data.ref, "seq": e.seq, "at": e.at, "kind": e.kind, "actor": e.actor, "detail": e.detail}
         for e in data.new_events],
    )  # fmt: skip
    _insert_ignoring_duplicates(
        session,
        OutboxRow,
        [
            {
                "key": n.key,
                "workflow_id": data.workflow_id,
                "ref": data.ref,
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


def outbox(*, session: Session, ref: str | None = None) -> list[OutboxRow]:
    """Notifications in the order they were created, for one recommendation or all."""
    query = select(OutboxRow).order_by(col(OutboxRow.created_at), col(OutboxRow.key))
    if ref is not None:
        query = query.where(OutboxRow.ref == ref)
    return list(session.exec(query))


def recommendation_row(*, session: Session, ref: str) -> RecommendationRow | None:
    return session.get(RecommendationRow, ref)


def as_utc(moment: datetime) -> datetime:
    """A stored time with its zone: SQLite hands datetimes back without one, and every stored time is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def board_context(*, session: Session, board_name: str) -> tuple[EscalationPolicy, Parties]:
    """The escalation policy and the people who decide, for a recommendation sponsored by a board."""
    board = session.exec(select(Board).where(Board.name == board_name)).first()
    if board is None:
        raise RegistryError(f"there is no board called {board_name!r} in the registry")
    absences = absences_from(session, today_in_london(datetime.now(UTC)))
    return registry_context(
        board, list(session.exec(select(Person))), list(session.exec(select(Agency))), absences=absences
    )


POLICY_FIELDS = frozenset(EscalationPolicy.model_fields)


def registry_context(
    board: Board, people: Sequence[Person], agencies: Sequence[Agency], *, absences: Sequence[AbsenceRow] = ()
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
        absences=resolved_absences(absences, people, agencies, sponsors),
    )
    return policy, parties


PEOPLE_CHANGE_FIELDS = frozenset({"deputy", "left_on", "successor"})


def upsert_registry(
    *, session: Session, agencies: Sequence[Agency], people: Sequence[Person], boards: Sequence[Board]
) -> None:
    """Add or update registry rows by their natural key (agency and board name, person email)."""
    for model, rows, key in ((Agency, agencies, "name"), (Person, people, "email"), (Board, boards, "name")):
        for row in rows:
            existing = session.exec(select(model).where(getattr(model, key) == getattr(row, key))).first()
            # A person's deputy and leaving are kept by Assure, not by a workbook: an import
            # leaves them as they are (``store.people``).
            kept = PEOPLE_CHANGE_FIELDS if model is Person and existing is not None else set()
            values = row.model_dump(exclude={"id", *kept})
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
    rows = list(session.exec(select(CaughtMail).order_by(col(CaughtMail.id))))
    if recipient is not None:
        wanted = recipient.lower()
        rows = [row for row in rows if wanted in (r.lower() for r in row.recipients)]
    return rows


def sent_mail_statuses(*, session: Session, message_ids: Sequence[str]) -> dict[str, str]:
    """``sent`` or ``bounced`` for each of these messages handled before, by Message-ID."""
    if not message_ids:
        return {}
    rows = session.exec(select(SentMail.message_id, SentMail.status).where(col(SentMail.message_id).in_(message_ids)))
    return dict(rows.all())


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
    query = select(SentMail).order_by(col(SentMail.at))
    if ref is not None:
        query = query.where(SentMail.ref == ref)
    return list(session.exec(query))


# --- problems, for operators ----------------------------------------------------------------


def record_problem(
    *, session: Session, key: str, workflow_id: str, ref: str, kind: str, detail: str, now: datetime
) -> None:
    """Note one occurrence of a problem: a new row, or one more on the row of ``key`` (which
    opens it again if an operator had marked it resolved)."""
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    table = table_of(ProblemRow).c
    insert = module.insert(ProblemRow).values(
        key=key[:300], workflow_id=workflow_id[:100], ref=ref[:64], kind=kind[:60], detail=detail[:500],
        first_seen=now, last_seen=now, count=1, resolved_at=None,
    )  # fmt: skip
    session.connection().execute(
        insert.on_conflict_do_update(
            index_elements=["key"],
            set_={
                "count": table.count + 1,
                "last_seen": insert.excluded.last_seen,
                "detail": insert.excluded.detail,
                "resolved_at": None,
            },
        )
    )


def open_problems(*, session: Session) -> list[ProblemRow]:
    """Every problem no operator has marked resolved, most recent first."""
    table = table_of(ProblemRow).c
    rows = list(session.exec(select(ProblemRow).where(table.resolved_at.is_(None)).order_by(table.last_seen.desc())))
    for row in rows:
        session.expunge(row)
    return rows


def problem_counts(*, session: Session) -> dict[str, int]:
    """How many open problems there are, by kind."""
    table = table_of(ProblemRow).c
    rows = session.connection().execute(
        sa_select(table.kind, func.count()).where(table.resolved_at.is_(None)).group_by(table.kind)
    )
    return {kind: count for kind, count in rows}


def resolve_problems(*, session: Session, ids: Sequence[int], now: datetime) -> int:
    """Mark these problems dealt with; returns how many were open."""
    table = table_of(ProblemRow).c
    rows = session.exec(select(ProblemRow).where(table.id.in_(ids), table.resolved_at.is_(None)))
    count = 0
    for row in rows:
        row.resolved_at = now
        session.add(row)
        count += 1
    return count


def stored_workflows(*, session: Session) -> dict[str, tuple[str, str]]:
    """Every recommendation in the read model: its workflow id, with its ref and stage."""
    table = table_of(RecommendationRow).c
    rows = session.connection().execute(sa_select(table.workflow_id, table.ref, table.stage))
    return {workflow_id: (ref, stage) for workflow_id, ref, stage in rows}
