"""The dashboard's overview: counts by stage and RAG per board and per agency, and the lists of
what needs the Assurance Board (impact measures off track among them), all from the read model
and all limited to what the reader may see.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import select as sa_select
from sqlmodel import Session

from store.listing import RecommendationSummary, Tally, Visibility, listing_with_tallies, tallies_of
from store.measures import OffTrackMeasure, off_track_measures
from store.read_model import as_utc
from store.tables import RecommendationRow, TimelineRow, table_of

FAILED_AUDIT_KINDS = ("audit_not_embedded", "audit_partially_embedded")


class FailedAudit(BaseModel):
    summary: RecommendationSummary
    outcome: str  # "not_embedded" or "partially_embedded"
    at: datetime
    round: str


# The overview shows the first of each list (most urgent first) and links to the rest: a chair
# preparing for a meeting reads the top of a list, and the page stays quick at 20,000.
LIST_LIMIT = 20

T = TypeVar("T")


class Shortlist(BaseModel, Generic[T]):
    """The first ``LIST_LIMIT`` of a list, most urgent first, and how many it holds in all."""

    total: int
    first: list[T]

    @classmethod
    def of(cls, items: Iterable[T], key: Callable[[T], Any]) -> Shortlist[T]:
        """The shortlist of ``items`` in ``key`` order: picked, not sorted whole."""
        everything = list(items)
        return cls.model_construct(total=len(everything), first=heapq.nsmallest(LIST_LIMIT, everything, key=key))


class Overview(BaseModel):
    today: date
    total: int
    rag_totals: dict[str, int]
    stage_totals: dict[str, int]
    rag_by_board: dict[str, dict[str, int]]
    rag_by_agency: dict[str, dict[str, int]]
    stage_by_board: dict[str, dict[str, int]]
    stage_by_agency: dict[str, dict[str, int]]
    awaiting_sign_off: Shortlist[RecommendationSummary]
    red: Shortlist[RecommendationSummary]
    audits_due: Shortlist[RecommendationSummary]
    failed_audits: Shortlist[FailedAudit]
    # Impact measures off track on the open recommendations the reader may see, furthest behind first.
    off_track: list[OffTrackMeasure]


def counts_by(summaries: Iterable[RecommendationSummary], *, per: str, of: str) -> dict[str, dict[str, int]]:
    """``{board or agency: {rag or stage: count}}``, labels sorted; a recommendation counts once
    for each agency that holds one of its actions."""
    by_board, by_agency = tallies_of(summaries)
    return _table(by_agency if per == "agency" else by_board, of)


def _table(tally: Tally, of: str) -> dict[str, dict[str, int]]:
    """A tally folded into ``{label: {rag or stage: count}}``, labels sorted. A tally has a few
    hundred distinct keys whatever the number of recommendations, so this stays quick at 20,000."""
    position = 1 if of == "rag" else 2
    table: dict[str, dict[str, int]] = {}
    for key, count in tally.items():
        counts = table.setdefault(key[0], {})
        counts[key[position]] = counts.get(key[position], 0) + count
    return dict(sorted(table.items()))


def end_of_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def overview(*, session: Session, now: datetime, visible: Visibility | None = None) -> Overview:
    """Everything the overview page shows, for the reader ``visible`` admits."""
    summaries, by_board, by_agency = listing_with_tallies(session=session, now=now, visible=visible)
    today = now.astimezone(UTC).date()
    month_end = end_of_month(today)
    # One pass over what the reader sees for every list (at 20,000 recommendations a pass costs
    # a few milliseconds, and there were five).
    awaiting, red, audits_due, re_audits, off_track_refs = [], [], [], {}, set()
    for s in summaries:
        if s.stage == "sign_off":
            awaiting.append(s)
        elif s.stage == "re_audit":
            re_audits[s.ref] = s
        if s.rag == "red":
            red.append(s)
        if s.audit_due is not None and s.audit_due <= month_end:
            audits_due.append(s)
        if s.measures_off_track:
            off_track_refs.add(s.ref)
    rag_by_board, stage_by_board = _table(by_board, "rag"), _table(by_board, "stage")
    return Overview(
        today=today,
        total=len(summaries),
        rag_totals=_totals(rag_by_board),
        stage_totals=_totals(stage_by_board),
        rag_by_board=rag_by_board,
        rag_by_agency=_table(by_agency, "rag"),
        stage_by_board=stage_by_board,
        stage_by_agency=_table(by_agency, "stage"),
        awaiting_sign_off=Shortlist.of(awaiting, key=lambda s: (s.stage_entered_at or now, s.ref)),
        red=Shortlist.of(
            red, key=lambda s: (_LEVEL_ORDER.get(s.escalation_level, 9), s.next_open_due or date.max, s.ref)
        ),
        audits_due=Shortlist.of(audits_due, key=lambda s: (s.audit_due, s.ref)),
        failed_audits=_failed_audits(session, re_audits),
        off_track=off_track_measures(session=session, refs=off_track_refs),
    )


def _totals(table: dict[str, dict[str, int]]) -> dict[str, int]:
    """The counts of a by-board table summed over the boards: each recommendation has one board."""
    totals: Counter[str] = Counter()
    for counts in table.values():
        totals.update(counts)
    return dict(totals)


# Highest escalation first in the list of red items.
_LEVEL_ORDER = {"assurance_board": 0, "sponsoring_board": 1, "agency_lead": 2, "owner": 3, "none": 4}


def _failed_audits(session: Session, re_audits: dict[str, RecommendationSummary]) -> Shortlist[FailedAudit]:
    """The latest failed audit of each recommendation now waiting for its re-audit, latest first."""
    if not re_audits:
        return Shortlist(total=0, first=[])
    t, r = table_of(TimelineRow).c, table_of(RecommendationRow).c
    # Joined to the recommendations waiting for a re-audit rather than given their refs: at a
    # region's scale those are thousands of bound parameters, and the reader's own are kept below.
    events = session.connection().execute(
        sa_select(t.ref, t.at, t.kind, t.detail)
        .join(table_of(RecommendationRow), r.ref == t.ref)
        .where(t.kind.in_(FAILED_AUDIT_KINDS), r.stage == "re_audit")
        .order_by(t.ref, t.seq)
    )
    latest = {event.ref: event for event in events if event.ref in re_audits}
    newest = heapq.nlargest(LIST_LIMIT, latest.values(), key=lambda event: as_utc(event.at))
    failed = [
        # Trusted values from our own store, as the listing's summaries are.
        FailedAudit.model_construct(
            summary=re_audits[event.ref], outcome=event.kind.removeprefix("audit_"), at=as_utc(event.at),
            round=event.detail,
        )
        for event in newest
    ]  # fmt: skip
    return Shortlist.model_construct(total=len(latest), first=failed)
