"""The dashboard for signed-in people: the overview, a filtered list, and one recommendation with
its live status, full timeline and the forms its reader may use.

Lists read the read model; a recommendation page asks the workflow. Who sees what is
``store/access.py``; what they may do is the workflow's ``reader`` query, and the Update's
validator has the last word.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from gateway.workflows import UnknownRecommendation, reader_status, recommendation_status
from models.lifecycle import DECISION_INPUTS
from models.payloads import CLOSED_STAGES, RecommendationStatus, Stage
from models.rag import Rag
from models.themes import ThemeRepeat
from reports.charts import rag_bars_svg, reach_bars_svg, stage_bars_svg
from store.access import Viewer
from store.cascade import AgencyReach, CascadeEntry, cascade_entries, reach_by_agency, unconfirmed
from store.db import session_scope
from store.listing import RecommendationSummary, Visibility, recommendation_summaries
from store.overview import LIST_LIMIT, Overview, end_of_month, overview
from store.read_model import sent_log
from store.reviews import repeats_for_reader
from store.sessions import COOKIE_NAME
from web import wording
from web.context import WebContext
from web.recommendation_view import FormView, PageParts, involved, recommendation_page, submit_form
from web.sign_in import session_csrf, signed_in
from web.timeline import Entry, timeline_entries

router = APIRouter(include_in_schema=False)
RAG_LABELS: dict[str, str] = {"red": "Red", "amber": "Amber", "green": "Green", "closed": "Closed"}


def _sign_in_first(request: Request) -> Response:
    return RedirectResponse("/sign-in", status_code=303)


async def signed_in_form(request: Request) -> tuple[Viewer, FormData] | Response:
    """A dashboard form's post: who is signed in and the form, its origin and CSRF token checked
    against their session; else the answer to give instead (sign in first, or the refusal)."""
    ctx: WebContext = request.app.state.ctx
    viewer = await signed_in(request)
    if viewer is None:
        return _sign_in_first(request)
    form = await ctx.guarded_form(request, binding=request.cookies.get(COOKIE_NAME, ""), bucket="decisions")
    if isinstance(form, Response):
        return form
    return viewer, form


def _shared(ctx: WebContext, request: Request, viewer: Viewer) -> dict[str, Any]:
    """What every dashboard page's frame needs: who is signed in and the sign-out form's token."""
    return {"viewer": viewer, "csrf_token": session_csrf(ctx, request), "dashboard": True}


@router.get("/dashboard", response_class=HTMLResponse)
async def overview_page(request: Request) -> Response:
    ctx: WebContext = request.app.state.ctx
    viewer = await signed_in(request)
    if viewer is None:
        return _sign_in_first(request)
    view = await run_in_threadpool(_overview, ctx.settings.database_url, ctx.clock(), viewer.visibility)
    charts = {
        "rag_by_board": rag_bars_svg("RAG rating by board", view.rag_by_board, chart_id="rb"),
        "stage_by_board": stage_bars_svg("Stage by board", view.stage_by_board, chart_id="sb", labels=wording.STAGES),
        "rag_by_agency": rag_bars_svg("RAG rating by agency", view.rag_by_agency, chart_id="ra"),
        "stage_by_agency": stage_bars_svg(
            "Stage by agency", view.stage_by_agency, chart_id="sa", labels=wording.STAGES
        ),
    }
    return ctx.page(
        request,
        "dashboard/overview.html",
        {
            **_shared(ctx, request, viewer),
            "nav": "overview",
            "view": view,
            "list_limit": LIST_LIMIT,
            "charts": {name: Markup(svg) for name, svg in charts.items()},  # built from escaped text
            "stages": wording.STAGES,
            "rag_labels": RAG_LABELS,
            "stage_order": [s.value for s in Stage],
        },
    )


# Recommendations to a page of the list: a chair scans a page, and at a region's 20,000 the page
# stays as quick as at a partnership's 500.
LIST_PAGE = 100


@router.get("/dashboard/recommendations", response_class=HTMLResponse)
async def list_page(
    request: Request,
    board: str | None = None,
    agency: str | None = None,
    stage: str | None = None,
    rag: str | None = None,
    overdue: str | None = None,
    audit_due: str | None = None,
    measures: str | None = None,
    page: str | None = None,
) -> Response:
    """Every recommendation the reader may see, narrowed by the filters the overview links to,
    a hundred to a page."""
    ctx: WebContext = request.app.state.ctx
    viewer = await signed_in(request)
    if viewer is None:
        return _sign_in_first(request)
    stage = stage if stage in {s.value for s in Stage} else None
    rag_filter: Rag | None = rag if rag in RAG_LABELS else None  # type: ignore[assignment]
    now = ctx.clock()
    rows = await run_in_threadpool(
        _summaries,
        ctx.settings.database_url,
        now=now,
        board=(board or "")[:100] or None,
        agency=(agency or "")[:100] or None,
        stage=stage,
        overdue_only=overdue == "1",
        visible=viewer.visibility,
    )
    if rag_filter:
        rows = [row for row in rows if row.rag == rag_filter]
    if audit_due == "month":  # the overview's "audits due by the end of this month" (its UTC month)
        month_end = end_of_month(now.date())
        rows = sorted(
            (row for row in rows if row.audit_due and row.audit_due <= month_end),
            key=lambda r: r.audit_due or month_end,
        )
    if measures == "off_track":  # the overview's "impact measures off track" (open ones only, as it lists)
        rows = [row for row in rows if row.measures_off_track and row.stage not in CLOSED_STAGES]
    filters = {k: v for k, v in {"board": board, "agency": agency, "stage": stage, "rag": rag_filter}.items() if v}
    if overdue == "1":
        filters["overdue"] = "1"
    if audit_due == "month":
        filters["audit_due"] = "month"
    if measures == "off_track":
        filters["measures"] = "off_track"
    pages = max(1, -(-len(rows) // LIST_PAGE))
    shown = min(max(int(page), 1), pages) if page and page.isdigit() and len(page) < 7 else 1
    return ctx.page(
        request,
        "dashboard/list.html",
        {
            **_shared(ctx, request, viewer),
            "nav": "list",
            "rows": rows[(shown - 1) * LIST_PAGE : shown * LIST_PAGE],
            "total": len(rows),
            "page": shown,
            "pages": pages,
            "first_shown": (shown - 1) * LIST_PAGE + 1,
            "filters": filters,
            "filter_words": _filter_words(filters),
            "stages": wording.STAGES,
            "rag_labels": RAG_LABELS,
            "query": urlencode(filters),
        },
    )


@router.get("/dashboard/cascade", response_class=HTMLResponse)
async def cascade_page(request: Request) -> Response:
    """The agencies still to confirm that the learning reached their staff, across every
    recommendation the reader may see, and each agency's confirmed reach as a chart and a table."""
    ctx: WebContext = request.app.state.ctx
    viewer = await signed_in(request)
    if viewer is None:
        return _sign_in_first(request)
    entries = await run_in_threadpool(_cascade_entries, ctx.settings.database_url, viewer.visibility)
    waiting = unconfirmed(entries)
    reach = reach_by_agency(entries)
    chart = reach_chart(reach)
    return ctx.page(
        request,
        "dashboard/cascade.html",
        {
            **_shared(ctx, request, viewer),
            "nav": "cascade",
            "waiting": waiting,
            "reach": reach,
            "chart": Markup(chart) if chart else None,  # built from escaped text
            "states": {state.value: words for state, words in wording.CASCADE_STATES.items()},
            "stages": wording.STAGES,
            "any_cascade_by": any(e.cascade_by for e in waiting),
            "today": ctx.london_today(),
        },
    )


def reach_chart(reach: list[AgencyReach]) -> str | None:
    """Each agency's bar: the staff its cascades reached, and the rest of those planned (an agency
    not yet confirmed counts as none reached). None without a cascade (the page says so instead)."""
    if not reach:
        return None
    return reach_bars_svg("Staff reached by agency", {r.agency: (r.reached, r.expected) for r in reach})


# What each finding of ``doctor`` is, in plain words.
FINDING_KINDS = {
    "problem": "Refused data",
    "failing_task": "Workflow keeps failing",
    "failing_activity": "Work retried many times",
    "missing_from_store": "Missing from the lists",
    "workflow_not_running": "Listed, but not running",
}


@router.get("/dashboard/problems", response_class=HTMLResponse)
async def problems_page(request: Request) -> Response:
    """For admins: everything ``assure doctor`` finds (the same examination)."""
    from gateway.doctor import examine

    ctx: WebContext = request.app.state.ctx
    viewer = await signed_in(request)
    if viewer is None:
        return _sign_in_first(request)
    if "admin" not in viewer.roles:
        return _not_found(ctx, request, viewer)
    examination = await examine(ctx.client, ctx.settings.database_url)
    return ctx.page(
        request,
        "dashboard/problems.html",
        {
            **_shared(ctx, request, viewer),
            "nav": "problems",
            "examination": examination,
            "findings": examination.findings,
            "kinds": FINDING_KINDS,
        },
    )


def _filter_words(filters: dict[str, str]) -> str:
    parts = []
    if "board" in filters:
        parts.append(f"board: {filters['board']}")
    if "agency" in filters:
        parts.append(f"agency: {filters['agency']}")
    if "stage" in filters:
        parts.append(f"stage: {wording.STAGES.get(filters['stage'], filters['stage'])}")
    if "rag" in filters:
        parts.append(f"rating: {RAG_LABELS[filters['rag']]}")
    if "overdue" in filters:
        parts.append("overdue only")
    if "audit_due" in filters:
        parts.append("audit due by the end of this month")
    if "measures" in filters:
        parts.append("an impact measure off track")
    return "; ".join(parts)


def _not_found(ctx: WebContext, request: Request, viewer: Viewer) -> Response:
    return ctx.page(request, "not_found.html", {"status_code": 404, **_shared(ctx, request, viewer)}, status_code=404)


async def _visible(ctx: WebContext, viewer: Viewer, ref: str) -> RecommendationStatus | None:
    """The live status if ``viewer`` may see ``ref``; None when there is no such recommendation."""
    try:
        status = await recommendation_status(ctx.client, ref)
    except UnknownRecommendation:
        return None
    owners, agencies = involved(status)
    if not viewer.may_see(board=status.board, owners=owners, agencies=agencies):
        return None  # the same answer as for an unknown ref: nobody learns what exists
    return status


@router.get("/dashboard/r/{ref}", response_class=HTMLResponse)
async def recommendation(request: Request, ref: str, done: str | None = None) -> Response:
    ctx: WebContext = request.app.state.ctx
    viewer = await signed_in(request)
    if viewer is None:
        return _sign_in_first(request)
    status = await _visible(ctx, viewer, ref[:64])
    if status is None:
        return _not_found(ctx, request, viewer)
    return await _render(ctx, request, viewer, status, done=done if done in wording.DECISION_DONE else None)


@router.post("/dashboard/r/{ref}/{decision}", response_class=HTMLResponse)
async def take_decision(request: Request, ref: str, decision: str) -> Response:
    ctx: WebContext = request.app.state.ctx
    posted_form = await signed_in_form(request)
    if isinstance(posted_form, Response):
        return posted_form
    viewer, form = posted_form
    status = await _visible(ctx, viewer, ref[:64])
    if status is None or decision not in DECISION_INPUTS:
        return _not_found(ctx, request, viewer)
    refused = await submit_form(ctx, status.ref, decision, form, by=viewer.email)
    if refused is not None:
        return await _render(ctx, request, viewer, status, failed=refused, status_code=refused.status_code)
    return RedirectResponse(f"/dashboard/r/{status.ref}?done={decision}", status_code=303)


async def _render(
    ctx: WebContext,
    request: Request,
    viewer: Viewer,
    status: RecommendationStatus,
    *,
    done: str | None = None,
    failed: FormView | None = None,
    status_code: int = 200,
) -> Response:
    """The recommendation page: the same body as a response page, every form the workflow would
    accept from this person, and the full timeline with every email sent."""
    reader = await reader_status(ctx.client, status.ref, viewer.email)
    timeline = await run_in_threadpool(_timeline, ctx.settings.database_url, status)
    parts = PageParts(
        status=status,
        reader=reader,
        person=viewer.email,
        own_view=reader.roles == ["owner"],  # an owner and nothing more sees their own actions
        post_base=f"/dashboard/r/{status.ref}",
        csrf_token=session_csrf(ctx, request),
    )
    review_ref = status.source.review_ref
    themes, repeats = (
        await run_in_threadpool(_review_themes, ctx, viewer, review_ref, status.source.themes)
        if review_ref
        else ([], [])
    )
    extra = {
        **_shared(ctx, request, viewer), "timeline": timeline, "roles": reader.roles,
        "review_ref": review_ref, "review_themes": themes, "review_repeats": repeats,
        "own_themes": status.source.themes,
    }  # fmt: skip
    return await recommendation_page(
        ctx, request, "dashboard/recommendation.html", parts, extra, done=done, failed=failed, status_code=status_code
    )


# --- the store's reads, each a blocking query: run in the thread pool, off the event loop ----


def _overview(database_url: str, now: datetime, visible: Visibility | None) -> Overview:
    with session_scope(database_url) as session:
        return overview(session=session, now=now, visible=visible)


def _summaries(database_url: str, **filters: Any) -> list[RecommendationSummary]:
    with session_scope(database_url) as session:
        return recommendation_summaries(session=session, **filters)


def _cascade_entries(database_url: str, visible: Visibility | None) -> list[CascadeEntry]:
    with session_scope(database_url) as session:
        return cascade_entries(session=session, visible=visible)


def _review_themes(
    ctx: WebContext, viewer: Viewer, review_ref: str, own: list[str]
) -> tuple[list[str], list[ThemeRepeat]]:
    """The themes a recommendation's review names, and the earlier reviews sharing those or its ``own``."""
    with session_scope(ctx.settings.database_url) as session:
        return repeats_for_reader(
            session=session, review_ref=review_ref, now=ctx.clock(), visible=viewer.visibility,
            recommendation_themes=own,
        )  # fmt: skip


def _timeline(database_url: str, status: RecommendationStatus) -> list[Entry]:
    with session_scope(database_url) as session:
        return timeline_entries(status, sent_log(session=session, ref=status.ref))
