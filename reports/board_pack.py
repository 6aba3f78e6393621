"""The monthly board pack for the Assurance Board: one self-contained HTML file.

It reads the read model (never the workflows, except for the plan gaps of what awaits sign-off,
which the caller passes in) and says, for one month: what changed, what awaits sign-off and what
stands in its way, which cascades to staff are unconfirmed or short and how far the learning has
reached each agency, whether the impact measures moved towards their targets (off track first),
what is overdue or escalated by board and by agency, the audits recorded and the audits due, and
where each assurance cycle stands in its latest period (who has returned, and how the agencies
rate each standard beside the period before), with charts drawn as inline SVG, each with its
figures as a table.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from pydantic import BaseModel
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from models.cycle_returns import RATING_WORDS, Rating
from models.measures import with_unit
from models.payloads import CLOSED_STAGES, AuditOutcome, MeasureTrack, MeasureView
from models.wording import DIRECTION_WORDS, MEASURE_TRACK, STAGES, escalated_to, event_detail, event_words, uk_date
from reports.charts import rag_bars_svg, reach_bars_svg
from reports.cycle_standing import CycleStanding, cycle_standings
from reports.measure_chart import measure_chart_svg, measure_rows
from store.cascade import AgencyReach, StoredCascade, reach_by_agency, stored_cascades
from store.listing import RecommendationSummary, recommendation_summaries
from store.measures import stored_measures
from store.overview import counts_by
from store.read_model import as_utc
from store.reviews import theme_repeats, themed_reviews
from store.tables import RecommendationRow, TimelineRow, table_of

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "reports"
# Timeline events worth a board's attention (the rest, mail and reminders, are left out), and
# every change of stage. Their words are the pages' (models.wording), so the pack says what the
# timeline says.
CASCADE_EVENTS = frozenset({"cascade_confirmed", "cascade_corrected"})
MEASURE_EVENTS = frozenset({"measures_added", "reading_recorded", "reading_corrected"})
BOARD_EVENTS = frozenset({
    "actions_agreed", "actions_added", "action_completed", "owner_reassigned", "extension_approved",
    "extension_declined", "due_date_changed", "plans_submitted", "signed_off", *CASCADE_EVENTS, *MEASURE_EVENTS,
    *(f"audit_{outcome.value}" for outcome in AuditOutcome),
})  # fmt: skip


def for_the_board(kind: str) -> bool:
    """Whether a timeline event of ``kind`` goes in the pack's list of changes (or of audits)."""
    return kind in BOARD_EVENTS or kind.startswith("stage:")


class Change(BaseModel):
    at: datetime
    ref: str
    what: str
    detail: str


class CascadeItem(BaseModel):
    """A recommendation in the pack's cascade section: what the board reads it by, and its cascade."""

    summary: RecommendationSummary
    cascade: StoredCascade


class MeasureItem(BaseModel):
    """One impact measure in the pack's measures section, with the recommendation it belongs to.
    ``charted``: drawn with its table (off track, overdue, or read in the month); the others are
    one line each, so that a pack of hundreds of measures stays one a chair can read."""

    summary: RecommendationSummary
    view: MeasureView
    charted: bool = True


class BoardPack(BaseModel):
    month: date  # its first day
    generated_at: datetime
    summaries: list[RecommendationSummary]
    by_board: dict[str, dict[str, int]]
    by_agency: dict[str, dict[str, int]]
    stage_totals: dict[str, int]
    changes: list[Change]
    awaiting_sign_off: list[RecommendationSummary]
    gaps: dict[str, list[str]]
    # In the cascade stage, or at audit with agencies unconfirmed: overdue first.
    cascades: list[CascadeItem]
    # Per agency, over ``reach_counted`` recommendations: every open cascade, and any confirmed or
    # corrected in the month.
    reach: list[AgencyReach]
    reach_counted: int
    # Every measure of the open recommendations: those off track first.
    measures: list[MeasureItem]
    red: list[RecommendationSummary]
    audits: list[Change]
    audits_due: list[RecommendationSummary]
    # The reviews with open recommendations that share a theme with earlier reviews: ref, title,
    # and each repeat in words ("Mental health has come up in 3 earlier reviews since 2021").
    repeats: list[tuple[str, str, list[str]]] = []
    # Each assurance cycle in its latest period, by id (every return: the pack is the board's).
    cycles: list[CycleStanding] = []


def month_bounds(month: date) -> tuple[datetime, datetime]:
    start = datetime(month.year, month.month, 1, tzinfo=UTC)
    following = (start + timedelta(days=32)).replace(day=1)
    return start, following


def board_pack_data(
    *, session: Session, month: date, now: datetime, gaps: dict[str, list[str]] | None = None
) -> BoardPack:
    """Everything the pack shows for ``month``, from the read model."""
    start, end = month_bounds(month)
    summaries = recommendation_summaries(session=session, now=now)
    events = session.exec(
        select(TimelineRow).where(TimelineRow.at >= start, TimelineRow.at < end).order_by(col(TimelineRow.at))
    )
    changes: list[Change] = []
    audits: list[Change] = []
    cascaded: set[str] = set()
    for event in events:
        if event.kind in CASCADE_EVENTS:
            cascaded.add(event.ref)
        if not for_the_board(event.kind):
            continue
        change = Change(
            at=event.at, ref=event.ref, what=event_words(event.kind), detail=event_detail(event.kind, event.detail)
        )
        (audits if event.kind.startswith("audit_") else changes).append(change)
    audits_due = [
        s for s in summaries
        if s.stage in {"audit", "re_audit"} and s.next_deadline_kind in {"audit", "re_audit"}
        and s.next_deadline_at is not None and as_utc(s.next_deadline_at) < end + timedelta(days=31)
    ]  # fmt: skip
    cascades = stored_cascades(session=session, also=cascaded)
    return BoardPack(
        month=start.date(),
        generated_at=now,
        summaries=summaries,
        by_board=counts_by(summaries, per="board", of="rag"),
        by_agency=counts_by(summaries, per="agency", of="rag"),
        stage_totals=dict(Counter(s.stage for s in summaries)),
        changes=changes,
        awaiting_sign_off=[s for s in summaries if s.stage == "sign_off"],
        gaps=gaps or {},
        cascades=cascade_items(summaries, cascades),
        reach=reach_by_agency(part for cascade in cascades.values() for part in cascade.agencies),
        reach_counted=len(cascades),
        measures=measure_items(
            summaries, stored_measures(session=session, refs=_open_refs(summaries)), month=(start.date(), end.date())
        ),
        red=sorted((s for s in summaries if s.rag == "red"), key=lambda s: (s.board, s.agencies, s.ref)),
        audits=audits,
        audits_due=audits_due,
        repeats=_repeats_of_open_reviews(session, _open_refs(summaries)),
        cycles=cycle_standings(session=session),
    )


def _repeats_of_open_reviews(session: Session, open_refs: set[str]) -> list[tuple[str, str, list[str]]]:
    r = table_of(RecommendationRow).c
    rows = session.connection().execute(sa_select(r.ref, r.review_ref).where(r.review_ref.is_not(None)))
    open_reviews = {review_ref for ref, review_ref in rows if ref in open_refs}
    themed = themed_reviews(session=session)
    found = theme_repeats(session=session, reviews=themed)
    return [
        (t.review_ref, t.title, [repeat.words() for repeat in found[t.review_ref]])
        for t in themed
        if t.review_ref in open_reviews and found[t.review_ref]
    ]


def cascade_items(summaries: list[RecommendationSummary], cascades: dict[str, StoredCascade]) -> list[CascadeItem]:
    """The cascades the board should look at: still going out to staff, or at audit with agencies
    that never confirmed; overdue first, then by the date confirmations are due."""
    items = [
        CascadeItem(summary=summary, cascade=cascade)
        for summary in summaries
        if (cascade := cascades.get(summary.ref)) is not None
        and (summary.stage == "cascade" or (summary.stage == "audit" and cascade.unconfirmed))
    ]
    return sorted(items, key=lambda i: (not i.cascade.cascade_overdue, i.cascade.cascade_by or date.max, i.summary.ref))


def _open_refs(summaries: list[RecommendationSummary]) -> set[str]:
    return {s.ref for s in summaries if s.stage not in CLOSED_STAGES}


def measure_items(
    summaries: list[RecommendationSummary], measures: dict[str, list[MeasureView]], *, month: tuple[date, date]
) -> list[MeasureItem]:
    """The measures of the recommendations the pack covers: off track first (the board's question
    is whether practice changed), then by recommendation and measure. Charted: those off track,
    overdue, or read in the month (``month``: its first day and the next month's)."""
    first, following = month

    def charted(view: MeasureView) -> bool:
        read_in_month = any(first <= r.on < following for r in view.readings)
        return view.on_track is MeasureTrack.off_track or view.overdue or read_in_month

    items = [
        MeasureItem(summary=s, view=view, charted=charted(view)) for s in summaries for view in measures.get(s.ref, [])
    ]
    return sorted(items, key=lambda i: (i.view.on_track is not MeasureTrack.off_track, not i.charted, i.summary.ref))


async def sign_off_gaps_of(client, refs: list[str]) -> dict[str, list[str]]:
    """What stands between each recommendation and sign-off, as its workflow works it out; refs
    whose workflow cannot be asked are left out (the pack says they were not checked)."""
    from gateway.workflows import recommendation_status

    gaps: dict[str, list[str]] = {}
    for ref in refs:
        try:
            status = await recommendation_status(client, ref)
        except Exception:  # unreachable or unknown: not checked, and the pack says so
            continue
        gaps[ref] = list(status.plan_gaps)
    return gaps


def render_board_pack(pack: BoardPack) -> str:
    """The pack as one HTML file: styles inline, charts inline, nothing fetched from anywhere."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True))
    env.filters.update(ukdate=uk_date, escalated_to=escalated_to, with_unit=lambda v, unit: with_unit(v, unit.value))
    return env.get_template("board_pack.html").render(
        pack=pack,
        stages=STAGES,
        board_chart=Markup(rag_bars_svg("Recommendations by board and RAG rating", pack.by_board, chart_id="board")),
        agency_chart=Markup(
            rag_bars_svg("Recommendations by agency and RAG rating", pack.by_agency, chart_id="agency")
        ),
        reach_chart=Markup(
            reach_bars_svg(
                "Staff the learning reached, by agency",
                {r.agency: (r.reached, r.expected) for r in pack.reach},
                chart_id="reach",
            )
        ),
        measures=[
            (item, Markup(measure_chart_svg(item.view, title_id=f"measure-{number}")), measure_rows(item.view))
            for number, item in enumerate(pack.measures, 1)
            if item.charted
        ],  # the charts are built from escaped text
        uncharted=[item for item in pack.measures if not item.charted],
        tracks=MEASURE_TRACK,
        directions=DIRECTION_WORDS,
        month_label=f"{pack.month:%B %Y}",
        ratings=[(rating.value, RATING_WORDS[rating]) for rating in Rating],
    )
