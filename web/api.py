"""The JSON API: bearer tokens from `assure token issue`, the person's registry roles applied.

Lists and reviews read the read model; a single recommendation asks its workflow; a decision is
the workflow's Update with the token's person as ``by``, so an agency's own system can report
progress and a board's secretary can record decisions.
"""

from __future__ import annotations

import tempfile
from bisect import bisect_right
from collections.abc import Callable, Coroutine, Sequence
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Body, Depends, File, HTTPException, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, create_model
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from gateway.cycles import DECISIONS as RETURN_DECISIONS
from gateway.cycles import ReturnNotTaken, decide_return, parties_now, raise_recommendation, return_status
from gateway.reviews import UnknownReview, record_review_milestone
from gateway.workflows import DecisionNotTaken, UnknownRecommendation, decide, recommendation_status
from models.cycle_lifecycle import ReturnStatus
from models.cycle_returns import is_person, may_review
from models.cycles import StandardId
from models.lifecycle import DECISION_INPUTS
from models.payloads import Payload, RecommendationStatus, Stage
from models.review_lifecycle import RecordReviewMilestoneInput, ReviewStatus
from plans.apply import check_plan_against_store, import_plan
from plans.isolated import read_plan_file
from plans.sheets import MAX_FILE_BYTES, Problem
from reports.annual import DOCX_TYPE, annual_file
from reports.annual_data import parse_year
from reports.cycle_matrix import cycle_matrix
from reports.cycle_standing import CycleStanding, cycle_standings, may_see_cycle, seen_matrix, sees_return
from store.access import Viewer, viewer_for
from store.api_tokens import person_for_token
from store.cycles import stored_cycles
from store.db import session_scope
from store.listing import RecommendationSummary, recommendation_summaries
from store.read_model import problem_counts
from store.reviews import ReviewDetail, ReviewSummary, review_detail, review_summaries
from store.tables import CycleReturnRow
from web.context import WebContext
from web.recommendation_view import involved

# Each route names its one tag: Swagger UI lists an operation under every tag it has.
router = APIRouter()
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


# A page of the list: enough for a screen or a sync's batch, and quick at a region's 20,000.
PAGE_SIZE = 100
PAGE_SIZE_MOST = 1000


@router.get("/api/recommendations", response_model=list[RecommendationSummary], tags=["recommendations"])
def list_recommendations(
    request: Request,
    response: Response,
    person: Caller,
    board: str | None = None,
    agency: str | None = None,
    stage: Stage | None = None,
    overdue: Annotated[bool, Query(description="Only overdue ones")] = False,
    limit: Annotated[int, Query(ge=1, le=PAGE_SIZE_MOST, description="How many to a page")] = PAGE_SIZE,
    after: Annotated[
        str | None, Query(max_length=64, description="The last ref of the page before (the `next` link names it)")
    ] = None,
) -> list[RecommendationSummary]:
    """Summaries (stage, RAG, next deadline, escalation) of what the caller may see, by ref, a
    page at a time: the `Link` header names the next page (`rel="next"`) while there is one, and
    `X-Total-Count` says how many match in all."""
    # A plain function: FastAPI runs it in the thread pool, so the query never blocks the loop.
    ctx = _ctx(request)
    with session_scope(ctx.settings.database_url) as session:
        matching = recommendation_summaries(
            session=session,
            now=ctx.clock(),
            board=board,
            agency=agency,
            stage=stage.value if stage else None,
            overdue_only=overdue,
            visible=person.visibility,
        )
    # The listing is in ref order, so a page starts just past ``after``.
    start = bisect_right(matching, after, key=lambda summary: summary.ref) if after else 0
    page = matching[start : start + limit]
    response.headers["X-Total-Count"] = str(len(matching))
    if page and start + limit < len(matching):
        # From the configured address, not the request's Host header, which the caller chose.
        query = urlencode({**request.query_params, "after": page[-1].ref, "limit": limit})
        response.headers["Link"] = f'<{ctx.settings.base_url.rstrip("/")}/api/recommendations?{query}>; rel="next"'
    return page


def _not_found(ref: str, what: str = "recommendation") -> HTTPException:
    """The one answer for a ref that does not exist and for one the caller may not see, so that
    the API never says whether a recommendation (or a review) exists to someone whose roles do
    not cover it."""
    return HTTPException(404, f"there is no {what} {ref!r} that you may see")


async def _visible_status(request: Request, person: Viewer, ref: str) -> RecommendationStatus:
    try:
        status = await recommendation_status(_ctx(request).client, ref)
    except UnknownRecommendation:
        raise _not_found(ref) from None
    owners, agencies = involved(status)
    if not person.may_see(board=status.board, owners=owners, agencies=agencies):
        raise _not_found(ref)
    return status


@router.get("/api/recommendations/{ref}", response_model=RecommendationStatus, tags=["recommendations"])
async def get_recommendation(request: Request, ref: str, person: Caller) -> RecommendationStatus:
    """The live state: exactly the workflow's ``status`` query."""
    return await _visible_status(request, person, ref)


# --- reviews: plain functions, so their queries run in the thread pool -------------------------


@router.get("/api/reviews", response_model=list[ReviewSummary], tags=["reviews"])
def list_reviews(request: Request, person: Caller) -> list[ReviewSummary]:
    """The reviews the caller may see, by ref, each with how its recommendations stand (counting
    only those the caller may see)."""
    ctx = _ctx(request)
    with session_scope(ctx.settings.database_url) as session:
        return review_summaries(session=session, now=ctx.clock(), visible=person.visibility)


@router.get(
    "/api/reviews/{review_ref}",
    response_model=ReviewDetail,
    tags=["reviews"],
    responses={404: {"description": "no such review that the caller may see"}},
)
def get_review(request: Request, review_ref: str, person: Caller) -> ReviewDetail:
    """One review with the summaries of its recommendations that the caller may see."""
    ctx = _ctx(request)
    with session_scope(ctx.settings.database_url) as session:
        detail = review_detail(session=session, review_ref=review_ref, now=ctx.clock(), visible=person.visibility)
    if detail is None:
        raise _not_found(review_ref, "review")
    return detail


# --- the annual report ------------------------------------------------------------------


@router.get(
    "/api/reports/annual",
    tags=["reports"],
    response_class=Response,
    responses={
        200: {"content": {DOCX_TYPE: {}, "text/html": {}}, "description": "the report as a Word file or a web page"},
        400: {"description": "the year or the format is not one Assure makes"},
        403: {"description": "only those who see every recommendation may have the partnership's report"},
    },
)
def get_annual_report(
    request: Request,
    person: Caller,
    year: Annotated[str, Query(description="The reporting year, 1 April to 31 March: 2023-24")],
    format: Annotated[Literal["docx", "html"], Query(description="docx (Word) or html")] = "docx",
) -> Response:
    """The annual report's learning from reviews for ``year``, written from the record."""
    if not person.everything:
        raise HTTPException(403, "the annual report covers every board: it is for the Assurance Board and admins")
    try:
        reporting_year = parse_year(year)
    except ValueError as exc:
        raise HTTPException(400, f"year: {exc}") from None
    ctx = _ctx(request)
    body, media_type, filename = annual_file(
        database_url=ctx.settings.database_url, year=reporting_year, made=format, now=ctx.clock(),
        partnership=ctx.settings.partnership_name,
    )  # fmt: skip
    return Response(body, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# --- decisions: one route per decision, so that /docs shows each one's body ---------------------

BY_REFUSED = "leave out 'by': the decision is taken as the token's person"
DECISION_RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"description": "not this person's to take (``WrongPerson``)"},
    404: {"description": "no such recommendation that the caller may see"},
    409: {"description": "refused by the workflow, with its reasons"},
    422: {"description": "the body does not fit the decision (``InvalidInput``, with ``fields``)"},
}


def decision_body(name: str, payload: type[BaseModel] | None = None) -> type[BaseModel]:
    """Decision ``name``'s payload (a recommendation's, unless given) without ``by``: what a caller
    sends (the token's person decides). Unknown fields, ``by`` among them, are refused as the
    payload itself refuses them."""
    payload = payload or DECISION_INPUTS[name]
    fields: dict[str, Any] = {
        field: (info.annotation, info) for field, info in payload.model_fields.items() if field != "by"
    }
    body = create_model(f"{payload.__name__.removesuffix('Input')}Body", __base__=Payload, **fields)
    body.__doc__ = payload.__doc__ or f"The body of the {name!r} decision."
    return body


class DecisionRoute(APIRoute):
    """A decision's route: a body that does not fit its payload is answered as the workflow's own
    check of it answers (422, ``InvalidInput`` with ``fields``), so the typed body changes what
    /docs shows and not what callers get back."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()
        name = self.path.rsplit("/", 1)[-1]

        async def route(request: Request) -> Response:
            try:
                return await handle(request)
            except RequestValidationError as exc:
                answer = _invalid_body(name, exc.errors())
                if answer is None:
                    raise
                return answer

        return route


def _invalid_body(name: str, errors: Sequence[Any]) -> JSONResponse | None:
    """The answer for a body whose fields do not fit decision ``name``; None (FastAPI's own answer)
    for a body that is not a JSON object at all."""
    if any(tuple(e["loc"]) == ("body", "by") for e in errors):
        return JSONResponse({"detail": BY_REFUSED}, status_code=422)
    if any(len(e["loc"]) < 2 or e["loc"][0] != "body" or e["type"] == "json_invalid" for e in errors):
        return None
    # The shape and words of gateway.workflows.parse_decision's refusal.
    fields = {".".join(str(p) for p in e["loc"][1:]): e["msg"] for e in errors}
    summary = "; ".join(f"{where}: {message}" for where, message in fields.items())
    body = {"type": "InvalidInput", "message": f"{name}: {summary}", "gaps": [], "fields": fields}
    return JSONResponse(body, status_code=422)


async def _take(request: Request, ref: str, name: str, person: Viewer, payload: dict[str, Any]) -> Any:
    """Take decision ``name`` as the token's person: the new status, or why not."""
    await _visible_status(request, person, ref)
    ctx = _ctx(request)
    try:
        await decide(ctx.client, ref, name, {**payload, "by": person.email}, database_url=ctx.settings.database_url)
        # Whatever decide answers, the caller gets the whole status, as the status query gives it.
        return await recommendation_status(ctx.client, ref)
    except UnknownRecommendation:
        raise _not_found(ref) from None
    except DecisionNotTaken as refused:
        body = {"type": refused.type, "message": refused.message, "gaps": refused.gaps, "fields": refused.fields}
        status_code = {"InvalidInput": 422, "WrongPerson": 403}.get(refused.type, 409)
        return JSONResponse(body, status_code=status_code)


def _decision_endpoint(name: str, body: type[BaseModel]) -> Callable[..., Coroutine[Any, Any, Any]]:
    async def endpoint(request: Request, ref: str, person: Caller, payload: Any = None) -> Any:
        data = payload.model_dump(exclude_unset=True) if payload is not None else {}
        return await _take(request, ref, name, person, data)

    # Set here rather than written above: the body's type is made at import, one per decision.
    endpoint.__annotations__["payload"] = Annotated[body, Body(description=f"The {name} payload, without `by`")]
    endpoint.__doc__ = f"Take the decision ``{name}`` as the token's person: 200 with the new status, or why not."
    return endpoint


for _name in DECISION_INPUTS:
    router.add_api_route(
        f"/api/recommendations/{{ref}}/decisions/{_name}",
        _decision_endpoint(_name, decision_body(_name)),
        methods=["POST"],
        name=f"decide_{_name}",
        summary=_name.replace("_", " ").capitalize(),
        response_model=RecommendationStatus,
        responses=DECISION_RESPONSES,
        tags=["decisions"],
        route_class_override=DecisionRoute,
    )


@router.post("/api/recommendations/{ref}/decisions/{decision}", include_in_schema=False)
async def unknown_decision(ref: str, decision: str, person: Caller) -> None:
    """Any other name (the routes above take every decision there is). ``person`` is asked for
    all the same: without a live token the answer is 401, as on every other route."""
    raise HTTPException(404, f"{decision!r} is not a decision; use one of {', '.join(DECISION_INPUTS)}")


# --- a review's milestone: its one decision, taken as a recommendation's are ----------------------


async def record_review_milestone_endpoint(
    request: Request, review_ref: str, person: Caller, payload: Any = None
) -> Any:
    """Record a milestone of the review as the token's person (its board's sponsor or chair); the
    same milestone again corrects its day. 200 with where its clocks now stand, or why not."""
    ctx = _ctx(request)
    detail = await run_in_threadpool(_review_detail, ctx, review_ref[:64], person)
    if detail is None:
        raise _not_found(review_ref, "review")
    data = payload.model_dump(mode="json", exclude_unset=True) if payload is not None else {}
    try:
        # The gateway checks the payload by the same rule as the page's form (``parse_milestone``).
        return await record_review_milestone(
            ctx.client, ctx.settings.database_url, detail.review.review_ref, {**data, "by": person.email}
        )
    except UnknownReview:
        refused = DecisionNotTaken("WrongStage", f"review {review_ref}'s clocks are not running: nothing to record")
    except DecisionNotTaken as not_taken:
        refused = not_taken
    body = {"type": refused.type, "message": refused.message, "gaps": refused.gaps, "fields": refused.fields}
    status_code = {"InvalidInput": 422, "WrongPerson": 403}.get(refused.type, 409)
    return JSONResponse(body, status_code=status_code)


def _review_detail(ctx: WebContext, review_ref: str, person: Viewer) -> ReviewDetail | None:
    with session_scope(ctx.settings.database_url) as session:
        return review_detail(session=session, review_ref=review_ref, now=ctx.clock(), visible=person.visibility)


record_review_milestone_endpoint.__annotations__["payload"] = Annotated[
    decision_body("record_review_milestone", RecordReviewMilestoneInput),
    Body(description="The milestone reached, its day and a note, without `by`"),
]
router.add_api_route(
    "/api/reviews/{review_ref}/record_review_milestone",
    record_review_milestone_endpoint,
    methods=["POST"],
    name="record_review_milestone",
    summary="Record a review's milestone",
    response_model=ReviewStatus,
    responses={**DECISION_RESPONSES, 404: {"description": "no such review that the caller may see"}},
    tags=["reviews"],
    route_class_override=DecisionRoute,
)


# --- assurance cycles: the matrix, one return, and the decisions on it --------------------------


@router.get("/api/cycles", response_model=list[CycleStanding], tags=["cycles"])
def list_cycles(request: Request, person: Caller) -> list[CycleStanding]:
    """The cycles the caller may see, each with its latest period: how many returned of how many
    asked, who has not, and per standard how many agencies met it (counting the returns the
    caller may see: their board's cycles whole, or their own agency's returns)."""
    ctx = _ctx(request)
    with session_scope(ctx.settings.database_url) as session:
        return cycle_standings(session=session, visible=person.visibility)


@router.get(
    "/api/cycles/{cycle_id}",
    tags=["cycles"],
    responses={
        400: {"description": "no such period of the cycle"},
        404: {"description": "no such cycle that the caller may see"},
    },
)
def get_cycle(
    request: Request,
    cycle_id: str,
    person: Caller,
    period: Annotated[str | None, Query(description="A period's name, such as 2026-27; by default the latest")] = None,
) -> dict[str, Any]:
    """A period's matrix: each agency's rating of each standard, beside its rating the period
    before, its return's stage and due day, and the agencies that have not returned."""
    ctx = _ctx(request)
    with session_scope(ctx.settings.database_url) as session:
        found = stored_cycles(session=session, cycle_ids=[cycle_id])
        if not found or not may_see_cycle(session=session, cycle=found[0], visible=person.visibility):
            raise _not_found(cycle_id, "cycle")
        try:
            matrix = cycle_matrix(session=session, cycle_id=cycle_id, period=period)
        except LookupError as error:
            raise HTTPException(400, str(error)) from None
    return seen_matrix(matrix, person.visibility).as_dict()


def _visible_return(request: Request, person: Viewer, workflow_id: str) -> CycleReturnRow:
    """The return's row if the caller may see the return (by its board and agency), else 404."""
    with session_scope(_ctx(request).settings.database_url) as session:
        row = session.get(CycleReturnRow, workflow_id[:200])
        if row is None or not sees_return(person.visibility, row.board, row.agency):
            raise _not_found(workflow_id, "return")
        session.expunge(row)
        return row


@router.get(
    "/api/returns/{workflow_id}",
    response_model=ReturnStatus,
    tags=["cycles"],
    responses={404: {"description": "no such return that the caller may see, or its workflow has ended"}},
)
async def get_return(request: Request, workflow_id: str, person: Caller) -> ReturnStatus:
    """Where a return stands: exactly its workflow's ``status`` query."""
    row = await run_in_threadpool(_visible_return, request, person, workflow_id)
    try:
        return await return_status(_ctx(request).client, row.workflow_id)
    except LookupError:
        raise _not_found(workflow_id, "return") from None


def _return_refusal(refused: ReturnNotTaken, *, wrong_person: bool, workflow_id: str) -> JSONResponse:
    """A return's decision not taken, in the shape and codes of a recommendation's: the body that
    does not fit 422, not this person's 403, the workflow's refusal 409, no such return 404."""
    if refused.kind == "Unknown":
        raise _not_found(workflow_id, "return")
    if refused.kind == "Invalid":
        kind, status_code = "InvalidInput", 422
    elif wrong_person:
        kind, status_code = "WrongPerson", 403
    else:
        kind, status_code = "InvalidDecision", 409
    body = {"type": kind, "message": refused.message, "gaps": [], "fields": {}}
    return JSONResponse(body, status_code=status_code)


def _not_theirs(database_url: str, row: CycleReturnRow, name: str, email: str) -> bool:
    """Whether decision ``name`` is someone else's to take on this return, as the registry has its
    roles now (the workflow's rule, ``models.cycle_returns``): a submission the lead's, a review the
    board's sponsor's or chair's. It only chooses the answer's code; the workflow refused it."""
    parties = parties_now(database_url, row.board, row.agency)
    if parties is None:
        return False
    if name == "submit_return":
        return parties.lead is not None and not is_person(email, parties.lead)
    return not may_review(parties, email)


def _return_decision_endpoint(name: str) -> Callable[..., Coroutine[Any, Any, Any]]:
    async def endpoint(request: Request, workflow_id: str, person: Caller, payload: Any = None) -> Any:
        ctx = _ctx(request)
        row = await run_in_threadpool(_visible_return, request, person, workflow_id)
        data = payload.model_dump(mode="json", exclude_unset=True) if payload is not None else {}
        try:
            return await decide_return(
                ctx.client, ctx.settings.database_url, row.workflow_id, name, {**data, "by": person.email}
            )
        except ReturnNotTaken as refused:
            wrong = refused.kind == "Refused" and await run_in_threadpool(
                _not_theirs, ctx.settings.database_url, row, name, person.email
            )
            return _return_refusal(refused, wrong_person=wrong, workflow_id=workflow_id)

    endpoint.__annotations__["payload"] = Annotated[
        decision_body(name, RETURN_DECISIONS[name]), Body(description=f"The {name} payload, without `by`")
    ]
    endpoint.__doc__ = f"Take ``{name}`` on a return as the token's person: 200 with its status, or why not."
    return endpoint


RETURN_DECISION_RESPONSES: dict[int | str, dict[str, Any]] = {
    **DECISION_RESPONSES,
    404: {"description": "no such return that the caller may see"},
}
for _name in RETURN_DECISIONS:
    router.add_api_route(
        f"/api/returns/{{workflow_id}}/{_name}",
        _return_decision_endpoint(_name),
        methods=["POST"],
        name=f"return_{_name}",
        summary=_name.replace("_", " ").capitalize(),
        response_model=ReturnStatus,
        responses=RETURN_DECISION_RESPONSES,
        tags=["cycles"],
        route_class_override=DecisionRoute,
    )


class RaiseBody(Payload):
    """The standard, rated not met in the return, to raise a recommendation from."""

    standard_id: StandardId


class Raised(BaseModel):
    """The recommendation raised: it runs the normal lifecycle from here."""

    standard_id: str
    ref: str
    path: str  # its page on the dashboard


async def raise_from_return(request: Request, workflow_id: str, person: Caller, payload: RaiseBody) -> Any:
    """Raise a recommendation from a standard the return rates not met, as the token's person (an
    Assurance Board member): its action the agency's committed one, its source the cycle and the
    period. The same standard again answers with the same recommendation."""
    ctx = _ctx(request)
    row = await run_in_threadpool(_visible_return, request, person, workflow_id)
    try:
        ref = await raise_recommendation(
            ctx.client, ctx.settings.database_url, ctx.settings.task_queue, row.workflow_id, payload.standard_id,
            by=person.email,
        )  # fmt: skip
    except ReturnNotTaken as refused:
        wrong = refused.kind == "Refused" and "assurance_member" not in person.roles
        return _return_refusal(refused, wrong_person=wrong, workflow_id=workflow_id)
    return Raised(standard_id=payload.standard_id, ref=ref, path=f"/dashboard/r/{quote(ref, safe='')}")


router.add_api_route(
    "/api/returns/{workflow_id}/raise",
    raise_from_return,
    methods=["POST"],
    name="raise_from_return",
    summary="Raise a recommendation from a standard not met",
    response_model=Raised,
    responses=RETURN_DECISION_RESPONSES,
    tags=["cycles"],
    route_class_override=DecisionRoute,
)


@router.post("/api/returns/{workflow_id}/{decision}", include_in_schema=False)
async def unknown_return_decision(workflow_id: str, decision: str, person: Caller) -> None:
    """Any other name; without a live token the answer is 401, as on every other route."""
    names = ", ".join([*RETURN_DECISIONS, "raise"])
    raise HTTPException(404, f"{decision!r} is not a decision on a return; use one of {names}")


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
    plan, problems = await run_in_threadpool(
        _checked_upload, data, suffix, ctx.settings.database_url, ctx.london_today()
    )
    if problems or plan is None:
        named = [{**p.as_dict(), "sheet": file.filename if p.sheet.startswith("upload") else p.sheet} for p in problems]
        return JSONResponse({"problems": named}, status_code=400)
    report = await import_plan(
        plan,
        client=ctx.client,
        database_url=ctx.settings.database_url,
        task_queue=ctx.settings.task_queue,
        review_policy=ctx.settings.review_policy(),
        dry_run=dry_run,
    )
    return JSONResponse(report.as_dict())


def _checked_upload(data: bytes, suffix: str, database_url: str, today: date) -> tuple[Any, list[Problem]]:
    """The uploaded plan, read as `assure import` reads a file, and checked against the registry
    (``today``, London's, is the last day a source or a completion may be dated)."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / f"upload{suffix}"
        path.write_bytes(data)
        sheets, problems = read_plan_file(path)
    if problems:
        return None, problems
    return check_plan_against_store(sheets, database_url=database_url, today=today)


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
        problems = await run_in_threadpool(_database_answers, ctx.settings.database_url)
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = type(exc).__name__
    ready = all(value == "ok" for value in checks.values())
    body = {"status": "ready" if ready else "not ready", **checks, "problems": problems}
    return JSONResponse(body, status_code=200 if ready else 503)


def _database_answers(database_url: str) -> dict[str, int]:
    """The store answers a query: the operator problems it holds, by kind (blocking: in a thread)."""
    with session_scope(database_url) as session:
        session.exec(text("SELECT 1"))  # type: ignore[call-overload]
        return problem_counts(session=session)
