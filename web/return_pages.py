"""An agency's return from its lead's emailed link: ``GET /c/<token>`` shows the return and, while
it is owed, the form; ``POST /c/<token>`` submits it (or the answer to a challenge).

The token says who and which return (``links.return_links``); the live workflow says where it
stands and who its lead is now, the registry's holders given to it first, so a lead replaced a
moment ago is refused; the Update's validator has the last word, with the one rule of what a
return must hold (``models.cycle_returns.answer_problems``). A GET reads and never writes: mail
scanners open links.
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from gateway.cycles import ReturnNotTaken, decide_return, return_status, sync_return_parties
from links.return_links import ReturnLinkClaims, ReturnLinkSigner, return_signer, still_valid
from links.signed import LinkExpired, LinkRefused
from models.cycle_lifecycle import ReturnStatus
from models.cycle_returns import NEEDS_ACTION, RATING_WORDS, Rating, ReturnStage, StandardAnswer
from web.context import WebContext

log = structlog.get_logger(__name__)
router = APIRouter()
EXPIRED_REASON = (
    "This link has expired. Every reminder from Assure carries a fresh one; or ask the board's business unit."
)


def _signer(ctx: WebContext) -> ReturnLinkSigner:
    return return_signer(ctx.settings)


async def _open(ctx: WebContext, token: str, *, read_only: bool) -> tuple[ReturnLinkClaims, ReturnStatus]:
    """The link's claims and the live return; ``LinkRefused`` (with a plain reason) if it cannot be used."""
    try:
        claims = _signer(ctx).read(token)
    except LinkExpired:
        raise LinkRefused(EXPIRED_REASON) from None
    try:
        status = await return_status(ctx.client, claims.return_id)
        if not read_only:
            await sync_return_parties(ctx.client, ctx.settings.database_url, status)
            status = await return_status(ctx.client, claims.return_id)
    except LookupError:
        raise LinkRefused("This link is for a return that is not in Assure.") from None
    reason = still_valid(claims, status.state.parties, status.state.stage, read_only=read_only)
    if reason:
        raise LinkRefused(reason)
    return claims, status


@router.get("/c/{token}", response_class=HTMLResponse, include_in_schema=False)
async def return_page(request: Request, token: str, done: str | None = None) -> Response:
    """Show the return, and the form while it is owed. Changes nothing."""
    ctx: WebContext = request.app.state.ctx
    if limited := ctx.limited(request, "pages"):
        return limited
    try:
        claims, status = await _open(ctx, token, read_only=True)
    except LinkRefused as refusal:
        return _link_problem(ctx, request, refusal)
    return _render(ctx, request, token, claims, status, done=done == "submitted")


@router.post("/c/{token}", response_class=HTMLResponse, include_in_schema=False)
async def submit_return(request: Request, token: str) -> Response:
    """Submit the return as the link's person; the page again with every problem if refused."""
    ctx: WebContext = request.app.state.ctx
    try:
        signed = _signer(ctx).read(token)
    except LinkRefused:
        signed = None
    subject = f"person:{signed.person}" if signed is not None else None
    form = await ctx.guarded_form(request, binding=token, bucket="decisions", subject=subject)
    if isinstance(form, Response):
        return form
    try:
        claims, status = await _open(ctx, token, read_only=False)
    except LinkRefused as refusal:
        return _link_problem(ctx, request, refusal)
    payload = submission_from_form(status, form, by=claims.person)
    try:
        await decide_return(ctx.client, ctx.settings.database_url, claims.return_id, "submit_return", payload)
    except ReturnNotTaken as refused:
        log.info("return_refused", kind=refused.kind)
        return _render(ctx, request, token, claims, status, problems=refused.message.split("; "), given=form,
                       status_code=400)  # fmt: skip
    # Post/redirect/get: a refresh shows the new state and never posts twice.
    return RedirectResponse(f"/c/{token}?done=submitted", status_code=303)


def submission_from_form(status: ReturnStatus, form: FormData | dict[str, Any], *, by: str) -> dict[str, Any]:
    """The form's fields as the ``submit_return`` decision the API takes: for each standard its
    rating, evidence and, where any of its fields is filled in, the action. Checked by the model
    and the workflow, not here: one rule."""
    answers = []
    for standard in status.standards:
        key = standard.standard_id
        answer: dict[str, Any] = {
            "standard_id": key,
            "rating": str(form.get(f"rating-{key}") or ""),
            "evidence": str(form.get(f"evidence-{key}") or ""),
        }
        action = {name: str(form.get(f"{name}-{key}") or "").strip() for name in ("description", "owner", "due")}
        if any(action.values()):
            answer["action"] = action
        answers.append(answer)
    return {"by": by, "answers": answers, "response": str(form.get("response") or "")}


def _render(
    ctx: WebContext, request: Request, token: str, claims: ReturnLinkClaims, status: ReturnStatus, *,
    done: bool = False, problems: list[str] | None = None, given: FormData | None = None, status_code: int = 200,
) -> Response:  # fmt: skip
    state = status.state
    owed = state.stage in (ReturnStage.awaiting, ReturnStage.challenged)
    answered = {a.standard_id: a for a in state.answers}
    rows = [
        _standard_row(s.standard_id, s.text, s.guidance, answered.get(s.standard_id), given) for s in status.standards
    ]
    context = {
        "status": status,
        "state": state,
        "rows": rows,
        "owed": owed,
        "done": done,
        "problems": problems or [],
        "challenge": state.challenges[-1] if state.stage is ReturnStage.challenged and state.challenges else None,
        "response": str(given.get("response") or "") if given else "",
        "csrf_token": ctx.csrf.issue(token),
        "post_to": f"/c/{token}",
        "person": claims.person,
        "ratings": [(r.value, RATING_WORDS[r]) for r in Rating],
        "needs_action": [r.value for r in NEEDS_ACTION],
        "stage_words": STAGE_WORDS[state.stage],
    }
    return ctx.page(request, "return.html", context, status_code=status_code, error=bool(problems))


STAGE_WORDS = {
    ReturnStage.awaiting: "Waiting for your return",
    ReturnStage.submitted: "Submitted: the board is reviewing it",
    ReturnStage.challenged: "Challenged: the board asks you to look again",
    ReturnStage.accepted: "Accepted",
}


def _standard_row(
    standard_id: str, text: str, guidance: str, answer: StandardAnswer | None, given: FormData | None
) -> dict[str, str]:
    """One standard's fields, from what was just posted, else from the return as it stands."""
    if given is not None:
        field = lambda name: str(given.get(f"{name}-{standard_id}") or "")  # noqa: E731
        return {"id": standard_id, "text": text, "guidance": guidance, "rating": field("rating"),
                "evidence": field("evidence"), "description": field("description"), "owner": field("owner"),
                "due": field("due")}  # fmt: skip
    action = answer.action if answer else None
    return {
        "id": standard_id, "text": text, "guidance": guidance,
        "rating": answer.rating.value if answer else "", "evidence": answer.evidence if answer else "",
        "description": action.description if action else "", "owner": action.owner if action else "",
        "due": action.due.isoformat() if action else "",
    }  # fmt: skip


def _link_problem(ctx: WebContext, request: Request, refusal: LinkRefused) -> Response:
    status_code = 410 if refusal.message == EXPIRED_REASON else 403
    context = {"reason": refusal.message, "expired": status_code == 410, "known": False, "csrf_token": "", "token": ""}
    return ctx.page(request, "link_problem.html", context, status_code=status_code)
