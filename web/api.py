"""The JSON API: bearer tokens from `assure token issue`, the person's registry roles applied.

Lists read the read model; a single recommendation asks its workflow; a decision is the
workflow's Update with the token's person as ``by``, so an agency's own system can report
progress and a board's secretary can record decisions.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, File, HTTPException, Query, Request, UploadFile
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from gateway.workflows import DecisionNotTaken, UnknownRecommendation, decide, recommendation_status
from models.payloads import DECISION_INPUTS, RecommendationStatus, Stage
from plans.apply import import_plan
from plans.isolated import read_plan_file
from plans.sheets import MAX_FILE_BYTES, Problem
from plans.validate import check_plan
from store.access import Viewer, viewer_for
from store.api_tokens import person_for_token
from store.db import session_scope
from store.read_model import RecommendationSummary, problem_counts, recommendation_summaries, registry
from web.context import WebContext

router = APIRouter(tags=["recommendations"])
bearer = HTTPBearer(auto_error=False, description="A token from `assure token issue --for EMAIL`")


def _ctx(request: Request) -> WebContext:
    return request.app.state.ctx


def caller(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Viewer:
    """The registry person behind the bearer token, or 401."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    with session_scope(_ctx(request).settings.database_url) as session:
        person = person_for_token(session=session, token=credentials.credentials)
        if person is None:
            raise HTTPException(
                401, "this token is not valid or has been revoked", headers={"WWW-Authenticate": "Bearer"}
            )
        return viewer_for(session=session, person=person)


Caller = Annotated[Viewer, Depends(caller)]


@router.get("/api/recommendations", response_model=list[RecommendationSummary])
async def list_recommendations(
    request: Request,
    person: Caller,
    board: str | None = None,
    agency: str | None = None,
    stage: Stage | None = None,
    overdue: Annotated[bool, Query(description="Only overdue ones")] = False,
) -> list[RecommendationSummary]:
    """Summaries (stage, RAG, next deadline, escalation) of what the caller may see."""

    with session_scope(_ctx(request).settings.database_url) as session:
        return recommendation_summaries(
            session=session,
            now=datetime.now(UTC),
            board=board,
            agency=agency,
            stage=stage.value if stage else None,
            overdue_only=overdue,
            visible=person.visibility,
        )


def _not_found(ref: str) -> HTTPException:
    """The one answer for a ref that does not exist and for one the caller may not see, so that
    the API never says whether a recommendation exists to someone whose roles do not cover it."""
    return HTTPException(404, f"there is no recommendation {ref!r} that you may see")


async def _visible_status(request: Request, person: Viewer, ref: str) -> RecommendationStatus:
    try:
        status = await recommendation_status(_ctx(request).client, ref)
    except UnknownRecommendation:
        raise _not_found(ref) from None
    owners = {a.owner for a in status.actions}
    if not person.may_see(board=status.board, owners=owners, agencies={a.agency for a in status.actions}):
        raise _not_found(ref)
    return status


@router.get("/api/recommendations/{ref}", response_model=RecommendationStatus)
async def get_recommendation(request: Request, ref: str, person: Caller) -> RecommendationStatus:
    """The live state: exactly the workflow's ``status`` query."""
    return await _visible_status(request, person, ref)


@router.post(
    "/api/recommendations/{ref}/decisions/{decision}",
    response_model=RecommendationStatus,
    responses={403: {}, 404: {}, 409: {"description": "refused by the workflow, with its reasons"}, 422: {}},
)
async def take_decision(
    request: Request,
    ref: str,
    decision: str,
    person: Caller,
    payload: Annotated[dict[str, Any], Body(description="The decision's payload, without `by`")] = None,  # type: ignore[assignment]
) -> Any:
    """Take one decision as the token's person (``acknowledge``, ``complete_action``, ``submit_plans``,
    ``sign_off``, ``record_audit``, ...): 200 with the new status, or why not."""
    if decision not in DECISION_INPUTS:
        raise HTTPException(404, f"{decision!r} is not a decision; use one of {', '.join(DECISION_INPUTS)}")
    payload = payload or {}
    if "by" in payload:
        raise HTTPException(422, "leave out 'by': the decision is taken as the token's person")
    await _visible_status(request, person, ref)
    try:
        ctx = _ctx(request)
        return await decide(
            ctx.client, ref, decision, {**payload, "by": person.email}, database_url=ctx.settings.database_url
        )
    except UnknownRecommendation:
        raise _not_found(ref) from None
    except DecisionNotTaken as refused:
        body = {"type": refused.type, "message": refused.message, "gaps": refused.gaps, "fields": refused.fields}
        status_code = {"InvalidInput": 422, "WrongPerson": 403}.get(refused.type, 409)
        return JSONResponse(body, status_code=status_code)


@router.post("/api/plans", tags=["plans"], responses={400: {}, 403: {}, 413: {}})
async def upload_plan(
    request: Request,
    person: Caller,
    file: Annotated[UploadFile, File(description="A plan in the import format: .xlsx, .csv or .yaml")],
    dry_run: Annotated[bool, Query(description="Check and compare only; start nothing")] = False,
) -> JSONResponse:
    """The import over HTTP (``admin`` role): 200 with the report, or 400 with every problem found."""
    if "admin" not in person.roles:
        raise HTTPException(403, f"{person.email} may not import plans (role admin)")
    ctx = _ctx(request)
    suffix = Path(file.filename or "").suffix.lower()
    if suffix not in {".xlsx", ".csv", ".yaml", ".yml"}:
        return JSONResponse({"problems": [{"sheet": file.filename, "row": None, "column": None,
                                           "reason": "use a .xlsx, .csv or .yaml file"}]}, status_code=400)  # fmt: skip
    data = await file.read(MAX_FILE_BYTES + 1)
    # Reading (in a child process, within limits), the registry and the checks all block: in the
    # thread pool, so the event loop answers every other request (/healthz too) meanwhile.
    plan, problems = await run_in_threadpool(_checked_upload, data, suffix, ctx.settings.database_url)
    if problems or plan is None:
        named = [{**p.as_dict(), "sheet": file.filename if p.sheet.startswith("upload") else p.sheet} for p in problems]
        return JSONResponse({"problems": named}, status_code=400)
    report = await import_plan(
        plan,
        client=ctx.client,
        database_url=ctx.settings.database_url,
        task_queue=ctx.settings.task_queue,
        dry_run=dry_run,
    )
    return JSONResponse(report.as_dict())


def _checked_upload(data: bytes, suffix: str, database_url: str) -> tuple[Any, list[Problem]]:
    """The uploaded plan, read as `assure import` reads a file, and checked against the registry."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / f"upload{suffix}"
        path.write_bytes(data)
        sheets, problems = read_plan_file(path)
    if problems:
        return None, problems
    with session_scope(database_url) as session:
        stored = registry(session=session)
    return check_plan(sheets, stored=stored, today=date.today())


@router.get("/healthz", tags=["health"])
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", tags=["health"])
async def readyz(request: Request) -> JSONResponse:
    """Temporal and the database both answer; ``problems`` counts, by kind, what the effects
    recorded for an operator (``assure doctor`` says more). Problems do not make it unready."""
    ctx = _ctx(request)
    checks: dict[str, str] = {}
    problems: dict[str, int] = {}
    try:
        await ctx.client.service_client.check_health()
        checks["temporal"] = "ok"
    except Exception as exc:  # any failure means not ready; say which kind
        checks["temporal"] = type(exc).__name__
    try:
        with session_scope(ctx.settings.database_url) as session:
            session.exec(text("SELECT 1"))  # type: ignore[call-overload]
            problems = problem_counts(session=session)
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = type(exc).__name__
    ready = all(value == "ok" for value in checks.values())
    body = {"status": "ready" if ready else "not ready", **checks, "problems": problems}
    return JSONResponse(body, status_code=200 if ready else 503)
