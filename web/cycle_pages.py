"""Assurance cycles on the dashboard: the list of cycles with where each stands, a period's matrix
of agencies × standards beside the period before, and one agency's return, where the board's
sponsor or chair accepts it or sends it back with a challenge and an Assurance Board member raises
a recommendation from a standard not met.

Who sees what is ``reports.cycle_standing``'s rule (the dashboard's, by board and agency); the
forms are offered by the workflow's rule of who may review (``models.cycle_returns.may_review``)
over the registry as it is now, and the Update's validator has the last word. ``return_path`` is
the address the return's emails carry.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from gateway.cycles import ReturnNotTaken, decide_return, parties_now, raise_recommendation
from models.cycle_lifecycle import return_path
from models.cycle_returns import Rating, ReturnStage, may_review
from reports.cycle_matrix import CycleMatrix, cycle_matrix
from reports.cycle_standing import CycleStanding, cycle_standings, seen_matrix, seen_periods, sees_cycle, sees_return
from store.access import Viewer
from store.db import session_scope
from web import wording
from web.context import WebContext
from web.cycle_view import ReturnView, StoredReturn, return_view, stored_return
from web.dashboard import _not_found, _shared, _sign_in_first, signed_in_form
from web.recommendation_view import form_fields
from web.sign_in import signed_in
from web.timeline import SYSTEM_ACTORS

log = structlog.get_logger(__name__)
router = APIRouter(include_in_schema=False)
NOT_RUNNING = "This return's workflow is not running: no decision can be taken on it here."
# The page's words for a field the decision's model refuses (the model's own words otherwise).
FIELD_ERRORS = {"challenge": "Write the challenge: what the agency should look at again, and why"}
DONE = {
    "accepted": "The return is accepted. The agency's lead has been told.",
    "challenged": "The return is sent back with your challenge. The agency's lead has been asked to answer it.",
    "raised": "The recommendation is raised: it now runs as any recommendation does, starting with its board.",
}
DECISIONS = {"accept": "accept_return", "challenge": "challenge_return"}


# --- the list and the matrix ------------------------------------------------------------------


@router.get("/dashboard/cycles", response_class=HTMLResponse)
async def cycles_page(request: Request) -> Response:
    ctx: WebContext = request.app.state.ctx
    viewer = await signed_in(request)
    if viewer is None:
        return _sign_in_first(request)
    standings = await run_in_threadpool(_standings, ctx, viewer)
    context = {**_shared(ctx, request, viewer), "nav": "cycles", "standings": standings}
    return ctx.page(request, "dashboard/cycles.html", context)


@router.get("/dashboard/cycles/{cycle_id}", response_class=HTMLResponse)
async def matrix_page(request: Request, cycle_id: str, period: str | None = None) -> Response:
    """A period's matrix (by default the latest returns were asked for), with links to the others."""
    ctx: WebContext = request.app.state.ctx
    viewer = await signed_in(request)
    if viewer is None:
        return _sign_in_first(request)
    found = await run_in_threadpool(_matrix, ctx, viewer, cycle_id[:64], (period or "")[:16] or None)
    if found is None:
        return _not_found(ctx, request, viewer)
    matrix, periods = found
    context = {
        **_shared(ctx, request, viewer),
        **_words(),
        "nav": "cycles",
        "matrix": matrix,
        "periods": periods,
        "links": {row.agency: return_path(matrix.cycle.cycle_id, matrix.period, row.agency) for row in matrix.rows},
        "partial": not sees_cycle(matrix.cycle, viewer.visibility),
    }
    return ctx.page(request, "dashboard/cycle.html", context)


def _standings(ctx: WebContext, viewer: Viewer) -> list[CycleStanding]:
    with session_scope(ctx.settings.database_url) as session:
        return cycle_standings(session=session, visible=viewer.visibility)


def _matrix(ctx: WebContext, viewer: Viewer, cycle_id: str, period: str | None) -> tuple[CycleMatrix, list[str]] | None:
    """The matrix as ``viewer`` may see it and the periods that have returns; None for a cycle or
    a period that is not there, or a cycle of which they see nothing (the same answer)."""
    visible = viewer.visibility
    with session_scope(ctx.settings.database_url) as session:
        try:
            matrix = cycle_matrix(session=session, cycle_id=cycle_id, period=period)
        except LookupError:
            return None
        periods = seen_periods(session=session, cycle=matrix.cycle, visible=visible)
        if not (sees_cycle(matrix.cycle, visible) or periods):
            return None
        return seen_matrix(matrix, visible), periods


# --- one return -------------------------------------------------------------------------------


@router.get("/dashboard/cycles/{cycle_id}/{period}/{key}", response_class=HTMLResponse)
async def return_page(request: Request, cycle_id: str, period: str, key: str, done: str | None = None) -> Response:
    ctx: WebContext = request.app.state.ctx
    viewer = await signed_in(request)
    if viewer is None:
        return _sign_in_first(request)
    stored = await _visible_return(ctx, viewer, cycle_id, period, key)
    if stored is None:
        return _not_found(ctx, request, viewer)
    return await _render(ctx, request, viewer, stored, done=done if done in DONE else None)


@router.post("/dashboard/cycles/{cycle_id}/{period}/{key}/{decision}", response_class=HTMLResponse)
async def decide(request: Request, cycle_id: str, period: str, key: str, decision: str) -> Response:
    """Accept or challenge the return as the signed-in person; the page again with why not."""
    ctx: WebContext = request.app.state.ctx
    posted_form = await signed_in_form(request)
    if isinstance(posted_form, Response):
        return posted_form
    viewer, form = posted_form
    stored = await _visible_return(ctx, viewer, cycle_id, period, key)
    if stored is None or (decision not in DECISIONS and decision != "raise"):
        return _not_found(ctx, request, viewer)
    values = form_fields(form)
    if decision == "raise":
        return await _raise(ctx, request, viewer, stored, values.get("standard_id", "")[:32])
    name = DECISIONS[decision]
    payload = {"by": viewer.email, "note": values.get("note", "")}
    if decision == "challenge":
        payload = {"by": viewer.email, "challenge": values.get("challenge", "")}
    workflow_id = stored.row.workflow_id
    try:
        await decide_return(ctx.client, ctx.settings.database_url, workflow_id, name, payload)
    except ReturnNotTaken as refused:
        log.info("return_decision_refused", decision=name, kind=refused.kind)
        if refused.kind == "Invalid":
            field, _, message = refused.message.partition(": ")
            errors = {decision: FIELD_ERRORS.get(field, _capitalised(message or refused.message))}
            return await _render(ctx, request, viewer, stored, values=values, errors=errors, status_code=422)
        refusal = NOT_RUNNING if refused.kind == "Unknown" else _capitalised(refused.message)
        return await _render(ctx, request, viewer, stored, values=values, refusal=(decision, refusal),
                             status_code=409)  # fmt: skip
    log.info("return_decision_taken", decision=name, cycle_id=stored.row.cycle_id, period=stored.row.period)
    done = "accepted" if decision == "accept" else "challenged"
    return RedirectResponse(f"{_path(stored)}?done={done}", status_code=303)


async def _raise(ctx: WebContext, request: Request, viewer: Viewer, stored: StoredReturn, standard_id: str) -> Response:
    """Raise a recommendation from a standard not met; refused with the reason to anyone but an
    Assurance Board member (the gateway's rule over the registry as it is now)."""
    try:
        await raise_recommendation(
            ctx.client, ctx.settings.database_url, ctx.settings.task_queue, stored.row.workflow_id, standard_id,
            by=viewer.email,
        )  # fmt: skip
    except ReturnNotTaken as refused:
        log.info("recommendation_from_return_refused", kind=refused.kind)
        return await _render(ctx, request, viewer, stored, refusal=(f"raise-{standard_id}",
                             _capitalised(refused.message)), status_code=409)  # fmt: skip
    return RedirectResponse(f"{_path(stored)}?done=raised#standard-{standard_id}", status_code=303)


async def _visible_return(ctx: WebContext, viewer: Viewer, cycle_id: str, period: str, key: str) -> StoredReturn | None:
    """The return the address names, if ``viewer`` may see it; None otherwise (the same answer
    as for no such return, so nobody learns what exists)."""
    stored = await run_in_threadpool(stored_return, ctx.settings.database_url, cycle_id[:64], period[:16], key[:64])
    if stored is None:
        return None
    if not sees_return(viewer.visibility, stored.row.board, stored.row.agency):
        return None
    return stored


async def _render(
    ctx: WebContext,
    request: Request,
    viewer: Viewer,
    stored: StoredReturn,
    *,
    done: str | None = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    refusal: tuple[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    """The return's page: its standing, answers, challenges and timeline; the review forms for the
    board's sponsor or chair while it is submitted; the raise buttons for the Assurance Board."""
    view = await return_view(ctx.client, stored)
    may_decide = False
    if view.open and view.stage is ReturnStage.submitted:
        parties = await run_in_threadpool(parties_now, ctx.settings.database_url, view.board, view.agency)
        may_decide = parties is not None and may_review(parties, viewer.email)
    context: dict[str, Any] = {
        **_shared(ctx, request, viewer),
        **_words(),
        "nav": "cycles",
        "view": view,
        "cycle_path": f"/dashboard/cycles/{quote(view.cycle_id, safe='')}?{urlencode({'period': view.period})}",
        "post_base": _path(stored),
        "may_decide": may_decide,
        "may_raise": "assurance_member" in viewer.roles,
        "timeline": _timeline(view),
        "done": DONE.get(done) if done else None,
        "values": values or {},
        "errors": errors or {},
        "refusal": refusal,
        "stage_meaning": wording.RETURN_STAGE_MEANING[view.stage],
    }
    return ctx.page(
        request, "dashboard/cycle_return.html", context, status_code=status_code, error=bool(errors or refusal)
    )


def _timeline(view: ReturnView) -> list[dict[str, Any]]:
    return [
        {
            "at": event.at,
            "who": SYSTEM_ACTORS.get(event.actor, event.actor),
            "what": wording.RETURN_EVENTS.get(event.kind, event.kind.replace("_", " ").capitalize()),
            "detail": wording.with_uk_dates(event.detail),
        }
        for event in view.timeline
    ]


def _words() -> dict[str, Any]:
    return {"rating_tags": wording.RATING_TAGS, "stage_tags": wording.RETURN_STAGE_TAGS, "ratings": list(Rating)}


def _path(stored: StoredReturn) -> str:
    return return_path(stored.row.cycle_id, stored.row.period, stored.row.agency)


def _capitalised(message: str) -> str:
    message = wording.with_uk_dates(message)
    return message[:1].upper() + message[1:] if message else "This could not be done."
