"""The dashboard's overview: counts by stage and RAG per board and per agency, and the lists of
what needs the Assurance Board (impact measures off track among them), all from the read model
and all limited to what the reader may see.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import select as sa_select
from sqlmodel import Session

from store.measures import OffTrackMeasure, off_track_measures
from store.read_model import RecommendationSummary, Visibility, as_utc, recommendation_summaries
from store.tables import TimelineRow, table_of

FAILED_AUDIT_KINDS = ("audit_not_embedded", "audit_partially_embedded")


class FailedAudit(BaseModel):
    summary: RecommendationSummary
    outcome: str  # "not_embedded" or "partially_embedded"
    at: datetime
    round: str


# The overview shows the first of each list (most urgent first) and links to the rest: a chair
# preparing for a meeting reads the top of a list, and the page stays quick at 2,000.
LIST_LIMIT = 20


class Overview(BaseModel):
    today: date
    total: int
    rag_totals: dict[str, int]
    stage_totals: dict[str, int]
    rag_by_board: dict[str, dict[str, int]]
    rag_by_agency: dict[str, dict[str, int]]
    stage_by_board: dict[str, dict[str, int]]
    stage_by_agency: dict[str, dict[str, int]]
    awaiting_sign_off: list[RecommendationSummary]
    red: list[RecommendationSummary]
    audits_due: list[RecommendationSummary]
    failed_audits: list[FailedAudit]
    # Impact measures off track on the open recommendations the reader may see, furthest behind first.
    off_track: list[OffTrackMeasure]


def counts_by(summaries: Iterable[RecommendationSummary], *, per: str, of: str) -> dict[str, dict[str, int]]:
    """``{board or agency: {rag or stage: count}}``, labels sorted; a recommendation counts once
    for each agency that holds one of its actions."""
    table: dict[str, dict[str, int]] = {}
    for summary in summaries:
        value = summary.rag if of == "rag" else summary.stage
        for label in summary.agencies if per == "agency" else (summary.board,):
            counts = table.setdefault(label, {})
            counts[value] = counts.get(value, 0) + 1
    return dict(sorted(table.items()))


def end_of_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def overview(*, session: Session, now: datetime, visible: Visibility | None = None) -> Overview:
    """Everything the overview page shows, for the reader ``visible`` admits."""
    summaries = recommendation_summaries(session=session, now=now, visible=visible)
    today = now.astimezone(UTC).date()
    month_end = end_of_month(today)
    re_audits = {s.ref: s for s in summaries if s.stage == "re_audit"}
    return Overview(
        today=today,
        total=len(summaries),
        rag_totals=dict(Counter(s.rag for s in summaries)),
        stage_totals=dict(Counter(s.stage for s in summaries)),
        rag_by_board=counts_by(summaries, per="board", of="rag"),
        rag_by_agency=counts_by(summaries, per="agency", of="rag"),
        stage_by_board=counts_by(summaries, per="board", of="stage"),
        stage_by_agency=counts_by(summaries, per="agency", of="stage"),
        awaiting_sign_off=sorted(
            (s for s in summaries if s.stage == "sign_off"), key=lambda s: (s.stage_entered_at or now, s.ref)
        ),
        red=sorted(
            (s for s in summaries if s.rag == "red"),
            key=lambda s: (_LEVEL_ORDER.get(s.escalation_level, 9), s.next_open_due or date.max, s.ref),
        ),
        audits_due=sorted(
            (s for s in summaries if s.audit_due is not None and s.audit_due <= month_end),
            key=lambda s: (s.audit_due, s.ref),
        ),
        failed_audits=_failed_audits(session, re_audits),
        off_track=off_track_measures(session=session, refs={s.ref for s in summaries if s.measures_off_track}),
    )


# Highest escalation first in the list of red items.
_LEVEL_ORDER = {"assurance_board": 0, "sponsoring_board": 1, "agency_lead": 2, "owner": 3, "none": 4}


def _failed_audits(session: Session, re_audits: dict[str, RecommendationSummary]) -> list[FailedAudit]:
    """The latest failed audit of each recommendation now waiting for its re-audit."""
    if not re_audits:
        return []
    t = table_of(TimelineRow).c
    events = session.connection().execute(
        sa_select(t.ref, t.at, t.kind, t.detail)
        .where(t.kind.in_(FAILED_AUDIT_KINDS), t.ref.in_(list(re_audits)))
        .order_by(t.ref, t.seq)
    )
    latest = {event.ref: event for event in events}
    failed = [
        FailedAudit(
            summary=re_audits[ref], outcome=event.kind.removeprefix("audit_"), at=as_utc(event.at), round=event.detail
        )
        for ref, event in latest.items()
    ]
    return sorted(failed, key=lambda f: f.at, reverse=True)
