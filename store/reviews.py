"""Reviews in the store (the ``review`` table): written by the import, read with where their
recommendations stand for the API's lists and pages.

A recommendation belongs to a review by its row's ``review_ref``. What a reader may see of a
review follows what they may see of recommendations (``store.access``): a review is theirs to see
when its board's is (its sponsor and chair, the Assurance Board, auditors and admins) or when they
may see one of its recommendations, and its counts cover only the recommendations they may see.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from models.payloads import CLOSED_STAGES, Payload, SourceKind, Stage
from models.review_clocks import MILESTONE_ORDER
from models.review_lifecycle import ReviewProjection
from models.reviews import Review
from models.themes import ThemedReview, ThemeRepeat, began_on, repeats
from store.listing import RecommendationSummary, Visibility, recommendation_summaries
from store.read_model import queue_notifications
from store.tables import RecommendationRow, ReviewRow, table_of

# The milestones' columns, in the order they come: ``notified_on`` ... ``published_on``.
_DAYS = tuple(f"{milestone.value}_on" for milestone in MILESTONE_ORDER)
# The columns a review's import sets; ``created_at`` is kept from its first.
_FACTS = ("kind", "title", "board", *_DAYS, "themes")


class ReviewSummary(Review):
    """A review and how its recommendations stand, counting those the reader may see: ``open``
    are not yet closed (``overdue`` among them); a withdrawn one is counted only in ``recommendations``."""

    recommendations: int
    open: int
    assured: int
    declined: int
    overdue: int


class ReviewDetail(Payload):
    """A review and the recommendations of it the reader may see, by ref."""

    review: ReviewSummary
    recommendations: list[RecommendationSummary]


# --- writing ------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _upsert(dialect: str) -> Any:
    module = postgresql if dialect == "postgresql" else sqlite
    insert = module.insert(ReviewRow)
    return insert.on_conflict_do_update(
        index_elements=["review_ref"], set_={name: insert.excluded[name] for name in (*_FACTS, "updated_at")}
    )


def _facts(review: Review) -> dict[str, Any]:
    """What a review's row holds of it, themes as a list (compared as such, stored as JSON)."""
    return {
        "kind": review.kind.value,
        "title": review.title,
        "board": review.board,
        **{day: getattr(review, day) for day in _DAYS},
        "themes": list(review.themes),
    }


def _stored_facts(row: Any) -> dict[str, Any]:
    return {**{name: getattr(row, name) for name in _FACTS}, "themes": json.loads(row.themes)}


def write_reviews(*, session: Session, reviews: Sequence[Review], now: datetime) -> list[str]:
    """Add or update these reviews by ``review_ref``; returns the refs added or changed, in the
    order given. A review stored already as it is given is not touched (its ``updated_at`` stays),
    so importing the same file again reports nothing."""
    wanted = {review.review_ref: _facts(review) for review in reviews}
    if not wanted:
        return []
    t = table_of(ReviewRow)
    connection = session.connection()
    stored = {
        row.review_ref: _stored_facts(row)
        for row in connection.execute(sa_select(t).where(t.c.review_ref.in_(sorted(wanted))))
    }
    for ref, facts in wanted.items():
        # A day the file leaves empty does not erase one recorded (by the review's workflow, from
        # its page): milestones are only ever reached, and a correction names its day.
        for day in _DAYS:
            if facts[day] is None and ref in stored:
                facts[day] = stored[ref][day]
    changed = [ref for ref, facts in wanted.items() if stored.get(ref) != facts]
    if changed:
        rows = [
            {"review_ref": ref, **wanted[ref], "themes": json.dumps(wanted[ref]["themes"]), "created_at": now,
             "updated_at": now}
            for ref in changed
        ]  # fmt: skip
        connection.execute(_upsert(session.get_bind().dialect.name), rows)
    return changed


# --- reading ------------------------------------------------------------------------------


def review_summaries(*, session: Session, now: datetime, visible: Visibility | None) -> list[ReviewSummary]:
    """Every review the reader may see, by ref, with the counts of its recommendations they may
    see (``visible`` as for ``recommendation_summaries``: None sees everything)."""
    theirs = _visible_recommendations(session, now, visible)
    return [
        _summary(row, theirs.get(row.review_ref, []))
        for row in _review_rows(session)
        if _may_see(row, theirs.get(row.review_ref, []), visible)
    ]


def review_detail(
    *, session: Session, review_ref: str, now: datetime, visible: Visibility | None
) -> ReviewDetail | None:
    """One review with the recommendations of it the reader may see; None when there is no such
    review and when the reader may not see it, alike."""
    rows = _review_rows(session, review_ref)
    if not rows:
        return None
    recommendations = _visible_recommendations(session, now, visible, review_ref).get(review_ref, [])
    if not _may_see(rows[0], recommendations, visible):
        return None
    return ReviewDetail.model_construct(review=_summary(rows[0], recommendations), recommendations=recommendations)


def _review_rows(session: Session, review_ref: str | None = None) -> list[Any]:
    t = table_of(ReviewRow).c
    query = sa_select(table_of(ReviewRow)).order_by(t.review_ref)
    if review_ref is not None:
        query = query.where(t.review_ref == review_ref)
    return list(session.connection().execute(query))


def _visible_recommendations(
    session: Session, now: datetime, visible: Visibility | None, review_ref: str | None = None
) -> dict[str, list[RecommendationSummary]]:
    """The summaries of the recommendations the reader may see, by the review they belong to
    (only ``review_ref``'s when given), each review's by ref."""
    r = table_of(RecommendationRow).c
    query = sa_select(r.ref, r.review_ref).where(r.review_ref.is_not(None))
    if review_ref is not None:
        query = query.where(r.review_ref == review_ref)
    belongs: dict[str, str] = {ref: review for ref, review in session.connection().execute(query)}
    if not belongs:
        return {}
    grouped: dict[str, list[RecommendationSummary]] = {}
    for summary in recommendation_summaries(session=session, now=now, visible=visible):
        if summary.ref in belongs:
            grouped.setdefault(belongs[summary.ref], []).append(summary)
    return grouped


def _may_see(row: Any, recommendations: list[RecommendationSummary], visible: Visibility | None) -> bool:
    # The board's people see its reviews, with or without recommendations; anyone else sees a
    # review through a recommendation of it that they may see.
    return visible is None or bool(recommendations) or visible(row.board, set(), set())


def _summary(row: Any, recommendations: list[RecommendationSummary]) -> ReviewSummary:
    still_open = [s for s in recommendations if s.stage not in CLOSED_STAGES]
    # Trusted values from our own store: constructed without checking each field again.
    return ReviewSummary.model_construct(
        review_ref=row.review_ref,
        kind=SourceKind(row.kind),
        title=row.title,
        board=row.board,
        **{day: getattr(row, day) for day in _DAYS},
        themes=json.loads(row.themes),
        recommendations=len(recommendations),
        open=len(still_open),
        assured=sum(s.stage == Stage.assured for s in recommendations),
        declined=sum(s.stage == Stage.declined for s in recommendations),
        overdue=sum(s.overdue for s in still_open),
    )


def stored_reviews(*, session: Session) -> list[Review]:
    """Every review the store holds, as an import checks a plan against them."""
    return [
        Review.model_validate({"review_ref": row.review_ref, **_stored_facts(row)}) for row in _review_rows(session)
    ]


def record_review_days(*, session: Session, review: Review, at: datetime) -> bool:
    """The review workflow's milestones on the review's row (the clocks' truth once running);
    the row as a whole when the store has none yet. Returns whether anything changed."""
    t = table_of(ReviewRow)
    connection = session.connection()
    days = {day: getattr(review, day) for day in _DAYS}
    row = connection.execute(sa_select(t).where(t.c.review_ref == review.review_ref)).first()
    if row is None:
        write_reviews(session=session, reviews=[review], now=at)
        return True
    if all(getattr(row, day) == value for day, value in days.items()):
        return False
    connection.execute(t.update().where(t.c.review_ref == review.review_ref).values(**days, updated_at=at))
    return True


def queue_review_mail(*, session: Session, data: ReviewProjection) -> None:
    """The messages a review's clocks made, in the outbox beside recommendations'."""
    queue_notifications(session=session, workflow_id=data.workflow_id, ref=data.review.review_ref,
                        notifications=data.notifications)  # fmt: skip


# --- themes -------------------------------------------------------------------------------


def themed_reviews(*, session: Session) -> list[ThemedReview]:
    """Every review as the themes count it: its themes and the day it began (its first milestone,
    else the earliest source date of its recommendations)."""
    r = table_of(RecommendationRow).c
    sources: dict[str, list[Any]] = {}
    # A review counts once for a theme, whether it names it or only one of its recommendations does.
    their_themes: dict[str, set[str]] = {}
    query = sa_select(r.review_ref, r.source_date, r.themes).where(r.review_ref.is_not(None))
    for review_ref, source_date, themes in session.connection().execute(query):
        sources.setdefault(review_ref, []).append(source_date)
        their_themes.setdefault(review_ref, set()).update(json.loads(themes))
    return [
        ThemedReview(
            review_ref=row.review_ref,
            title=row.title,
            began_on=began_on((getattr(row, day) for day in _DAYS), sources.get(row.review_ref, [])),
            themes=frozenset(json.loads(row.themes)) | their_themes.get(row.review_ref, set()),
        )
        for row in _review_rows(session)
    ]


def theme_repeats(*, session: Session, reviews: list[ThemedReview] | None = None) -> dict[str, list[ThemeRepeat]]:
    """For each review, the themes it shares with reviews begun before it (see ``models.themes``)."""
    every = themed_reviews(session=session) if reviews is None else reviews
    return {
        review.review_ref: repeats(
            sorted(review.themes), began_on=review.began_on, reviews=every, excluding=review.review_ref
        )
        for review in every
    }


def repeats_for_reader(
    *,
    session: Session,
    review_ref: str,
    now: datetime,
    visible: Visibility | None,
    recommendation_themes: Sequence[str] | None = None,
) -> tuple[list[str], list[ThemeRepeat]]:
    """The themes the review names, and the themes shared with earlier reviews the reader may
    see: a repeat never names (or counts) a review hidden from them. Asked for a review, the
    themes shared are its own and its recommendations'; asked for one recommendation (its own
    ``recommendation_themes``), those and its review's, not its sister recommendations'."""
    seen = {r.review_ref for r in review_summaries(session=session, now=now, visible=visible)} | {review_ref}
    themed = [t for t in themed_reviews(session=session) if t.review_ref in seen]
    own = next((t for t in themed if t.review_ref == review_ref), None)
    rows = _review_rows(session, review_ref)
    named: list[str] = json.loads(rows[0].themes) if rows else []
    if own is None:
        return named, []
    asked = sorted(own.themes) if recommendation_themes is None else [*named, *recommendation_themes]
    return named, repeats(asked, began_on=own.began_on, reviews=themed, excluding=review_ref)
