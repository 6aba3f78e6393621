"""Reviews on the dashboard: the list, one review with its clocks, themes and recommendations,
and the form its board's sponsor or chair records a milestone with.

Who sees a review follows who sees its recommendations (``store.reviews``): its board's people,
those who see everything, and anyone who may see one of its recommendations, who then see only
those. The clocks come from the review's workflow; when it cannot be asked the page says so and
shows the rest from the record. The form is offered by the workflow's own rule of who may record
(``models.review_lifecycle.may_record_milestones``), checked by the API's rule of what a milestone
is (``gateway.reviews.parse_milestone``), and the workflow's validator has the last word.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from gateway.reviews import UnknownReview, may_record_milestone, record_review_milestone, review_status
from gateway.workflows import DecisionNotTaken
from models.review_clocks import MILESTONE_ORDER
from models.review_lifecycle import ReviewStatus
from models.reviews import Review
from models.themes import ThemeRepeat
from store.access import Viewer
from store.db import session_scope
from store.reviews import ReviewDetail, ReviewSummary, repeats_for_reader, review_detail, review_summaries
from web import wording
from web.context import WebContext
from web.dashboard import RAG_LABELS, _not_found, _shared, _sign_in_first, signed_in_form
from web.forms import parse_milestone_form
from web.recommendation_view import form_fields, plain_refusal
from web.sign_in import signed_in

log = structlog.get_logger()
router = APIRouter(include_in_schema=False)
NOT_RUNNING = "This review's clocks are not running (it has no workflow): no milestone can be recorded here."


@router.get("/dashboard/reviews", response_class=HTMLResponse)
async def reviews_page(request: Request) -> Response:
    ctx: WebContext = request.app.state.ctx
    viewer = await signed_in(request)
    if viewer is None:
        return _sign_in_first(request)
    reviews = await run_in_threadpool(_summaries, ctx, viewer)
    context = {**_shared(ctx, request, viewer), "nav": "reviews", "reviews": reviews, **_words()}
    return ctx.page(request, "dashboard/reviews.html", context)


@router.get("/dashboard/reviews/{review_ref}", response_class=HTMLResponse)
async def review_page(request: Request, review_ref: str, done: str | None = None) -> Response:
    ctx: WebContext = request.app.state.ctx
    viewer = await signed_in(request)
    if viewer is None:
        return _sign_in_first(request)
    found = await run_in_threadpool(_detail, ctx, viewer, review_ref[:64])
    if found is None:
        return _not_found(ctx, request, viewer)
    return await _render(ctx, request, viewer, *found, done=done == "milestone")


@router.post("/dashboard/reviews/{review_ref}/milestone", response_class=HTMLResponse)
async def record_milestone(request: Request, review_ref: str) -> Response:
    ctx: WebContext = request.app.state.ctx
    posted_form = await signed_in_form(request)
    if isinstance(posted_form, Response):
        return posted_form
    viewer, form = posted_form
    found = await run_in_threadpool(_detail, ctx, viewer, review_ref[:64])
    if found is None:
        return _not_found(ctx, request, viewer)
    detail, repeats = found
    ref = detail.review.review_ref
    values = form_fields(form)
    parsed = parse_milestone_form(values, by=viewer.email)
    if parsed.errors:
        return await _render(
            ctx, request, viewer, detail, repeats, values=values, errors=parsed.errors, status_code=422
        )
    try:
        await record_review_milestone(ctx.client, ctx.settings.database_url, ref, parsed.payload)
    except UnknownReview:
        refusal = NOT_RUNNING
    except DecisionNotTaken as refused:
        log.info("review_milestone_refused", review_ref=ref, type=refused.type)
        refusal = plain_refusal(refused)
    else:
        log.info("review_milestone_recorded", review_ref=ref, milestone=parsed.payload["milestone"])
        return RedirectResponse(f"/dashboard/reviews/{quote(ref, safe='')}?done=milestone", status_code=303)
    # Well-formed, but refused by the rules (not theirs to record, a day in the future): 409, as
    # a recommendation's forms answer a refusal.
    return await _render(ctx, request, viewer, detail, repeats, values=values, refusal=refusal, status_code=409)


async def _render(
    ctx: WebContext,
    request: Request,
    viewer: Viewer,
    detail: ReviewDetail,
    repeats: list[ThemeRepeat],
    *,
    done: bool = False,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    refusal: str | None = None,
    status_code: int = 200,
) -> Response:
    """A review's page: its facts and milestones (the workflow's, which the record catches up
    with), its clocks, themes, recommendations and, for its board's sponsor or chair, the form."""
    stored = detail.review
    status: ReviewStatus | None = None
    clocks_note = ""
    try:
        status = await review_status(ctx.client, stored.review_ref)
    except UnknownReview:
        clocks_note = "This review's clocks are not running: it has no workflow to ask (it may predate review clocks)."
    except Exception:  # Temporal did not answer: the rest of the page is the record's
        log.warning("review_status_unavailable", review_ref=stored.review_ref, exc_info=True)
        clocks_note = "The clocks could not be read just now (Temporal did not answer): the rest is from the record."
    review: Review = status.review if status is not None else stored
    may_record = status is not None and not status.closed
    if may_record:
        may_record = await run_in_threadpool(
            may_record_milestone, ctx.settings.database_url, stored.board, viewer.email
        )
    chosen = (values or {}).get("milestone")
    context: dict[str, Any] = {
        **_shared(ctx, request, viewer),
        **_words(),
        "nav": "reviews",
        "detail": detail,
        "summary": stored,
        "review": review,
        "repeats": {repeat.theme: repeat for repeat in repeats},
        "status": status,
        "clocks_note": clocks_note,
        "stages": wording.STAGES,
        "rag_labels": RAG_LABELS,
        "milestone_items": [
            {"value": "", "text": "Choose a milestone"},
            *(
                {
                    "value": m.value,
                    "text": "{}: {}".format(*wording.MILESTONE_WORDS[m.value]),
                    "selected": chosen == m.value,
                }
                for m in MILESTONE_ORDER
            ),
        ],
        "may_record": may_record,
        "done": done,
        "values": values or {},
        "errors": errors or {},
        "refusal": refusal,
    }
    return ctx.page(request, "dashboard/review.html", context, status_code=status_code, error=bool(errors or refusal))


def _words() -> dict[str, Any]:
    return {"kinds": wording.SOURCE_KINDS, "milestone_words": wording.MILESTONE_WORDS, "milestones": MILESTONE_ORDER}


def _summaries(ctx: WebContext, viewer: Viewer) -> list[ReviewSummary]:
    with session_scope(ctx.settings.database_url) as session:
        return review_summaries(session=session, now=ctx.clock(), visible=viewer.visibility)


def _detail(ctx: WebContext, viewer: Viewer, review_ref: str) -> tuple[ReviewDetail, list[ThemeRepeat]] | None:
    """The review and its repeats as ``viewer`` may see them; None when there is no such review or
    it is not theirs to see (the same answer, so nobody learns what exists)."""
    with session_scope(ctx.settings.database_url) as session:
        detail = review_detail(session=session, review_ref=review_ref, now=ctx.clock(), visible=viewer.visibility)
        if detail is None:
            return None
        _, repeats = repeats_for_reader(
            session=session, review_ref=review_ref, now=ctx.clock(), visible=viewer.visibility
        )
        return detail, repeats
