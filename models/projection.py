"""What a transition writes to the store, worked out from the status: pure, so the workflow and
the store's tests build the same writes."""

from __future__ import annotations

from datetime import date

from models.payloads import (
    ActionRowFacts,
    CascadeRowFacts,
    MeasureFacts,
    MeasureRowFacts,
    Notification,
    ProjectionInput,
    RecommendationFacts,
    RecommendationStatus,
    RowFacts,
    TimelineEvent,
)


def row_facts(status: RecommendationStatus, *, audit_due: date | None) -> RowFacts:
    deadline = status.next_deadline
    plan = status.dissemination
    return RowFacts(
        stage=status.stage,
        stage_entered_at=status.stage_entered_at,
        next_deadline_at=deadline.at if deadline else None,
        next_deadline_kind=deadline.kind if deadline else None,
        overdue=status.overdue,
        escalation_level=status.escalation_level,
        audit_due=audit_due,
        as_of=status.as_of,
        reach_percent=status.reach_percent,
        cascade_short=status.cascade_short,
        cascade_overdue=status.cascade_overdue,
        cascade_by=plan.cascade_by if plan and status.cascade else None,
        reach_threshold=plan.reach_threshold if plan and status.cascade else None,
    )


def recommendation_facts(status: RecommendationStatus) -> RecommendationFacts:
    return RecommendationFacts(
        title=status.title,
        source_kind=status.source.kind,
        source_title=status.source.title,
        source_date=status.source.date,
        board=status.board,
        priority=status.priority,
        review_ref=status.source.review_ref,
        themes=status.source.themes,
    )


def action_rows(status: RecommendationStatus) -> list[ActionRowFacts]:
    return [
        ActionRowFacts(
            action_id=a.action_id,
            description=a.description,
            agency=a.agency,
            owner=a.owner,
            due=a.due,
            status=a.status,
            round=a.round,
            overdue=a.overdue,
            escalation_level=a.escalation_level,
        )
        for a in status.actions
    ]


def cascade_rows(status: RecommendationStatus) -> list[CascadeRowFacts]:
    return [
        CascadeRowFacts(
            agency=c.agency,
            lead=c.lead,
            staff_group=c.staff_group,
            expected_reach=c.expected_reach,
            reached=c.reached,
            done_on=c.done_on,
            status=c.status,
        )
        for c in status.cascade
    ]


def measure_rows(status: RecommendationStatus) -> dict[str, MeasureRowFacts]:
    """Each measure's row, with its readings, by measure id: what a run keeps as written."""
    rows: dict[str, MeasureRowFacts] = {}
    for m in status.measures:
        last = m.readings[-1] if m.readings else None  # the view's readings are oldest first
        rows[m.measure_id] = MeasureRowFacts(
            **m.model_dump(include=set(MeasureFacts.model_fields)),
            readings=m.readings,
            latest_value=last.value if last else None,
            latest_on=last.on if last else None,
            track=m.on_track,
            expected=m.expected,
            reading_due_on=m.reading_due_on,
            overdue=m.overdue,
        )
    return rows


def measure_delta(
    rows: dict[str, MeasureRowFacts], stored: dict[str, MeasureRowFacts] | None
) -> list[MeasureRowFacts] | None:
    """The measures a write carries: every one, readings and all, when nothing is stored yet
    (``stored`` None); after, only those whose row changed, each without its readings unless they
    did (a measure whose owed reading went silent, or whose recommendation closed, goes without
    its figures). None when no measure changed."""
    if stored is None:
        return list(rows.values()) or None
    changed = []
    for measure_id, row in rows.items():
        before = stored.get(measure_id)
        if before == row:
            continue
        if before is not None and before.readings == row.readings:
            row = row.model_copy(update={"readings": None})
        changed.append(row)
    return changed or None


def projection(
    status: RecommendationStatus,
    *,
    workflow_id: str,
    audit_due: date | None,
    new_events: list[TimelineEvent],
    notifications: list[Notification],
    stored_actions: dict[str, ActionRowFacts] | None,
    stored_cascade: list[CascadeRowFacts] | None = None,
    stored_measures: dict[str, MeasureRowFacts] | None = None,
) -> ProjectionInput:
    """The write that brings the store up to ``status``. ``audit_due`` is the day the awaited audit
    is planned for (``Lifecycle.planned_audit_on``). ``stored_actions`` are the action rows
    this run has written (None before its first write, which then carries the recommendation's
    fixed facts and every action); ``stored_cascade`` the cascade rows it wrote last (the cascade
    goes whole, when it changed, or in a first write); ``stored_measures`` the measure rows it
    wrote last (``measure_rows``), so that only the measures that changed go, and their readings
    only when those did (every measure, whole, in a first write)."""
    rows = action_rows(status)
    if stored_actions is not None:
        rows = [row for row in rows if stored_actions.get(row.action_id) != row]
    cascade = cascade_rows(status)
    first = stored_actions is None
    return ProjectionInput(
        workflow_id=workflow_id,
        ref=status.ref,
        version=status.version,
        row=row_facts(status, audit_due=audit_due),
        recommendation=recommendation_facts(status) if stored_actions is None else None,
        actions=rows,
        cascade=cascade if first or cascade != (stored_cascade or []) else None,
        measures=measure_delta(measure_rows(status), None if first else stored_measures),
        new_events=new_events,
        notifications=notifications,
    )
