"""Response pages: ``GET /r/<token>`` shows a recommendation to the person a link was sent to,
``POST /r/<token>/<decision>`` takes one decision as them, ``POST /r/<token>/fresh-link`` asks
for a new link.

The token says who and which recommendation, and must still fit the role it was sent for; the
live workflow says what they may do now (its ``reader`` query runs the validators' own checks,
so these pages keep no table of their own), and the Workflow Update's validator has the last
word. A GET reads and never writes: mail scanners open links.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.background import BackgroundTask

from gateway.workflows import UnknownRecommendation, reader_status, recommendation_status
from links.signed import ROLE_HOLDERS, LinkClaims, LinkExpired, LinkRefused, still_valid
from models.payloads import RecommendationStatus
from models.permissions import Reader
from web import wording
from web.context import WebContext
from web.fresh_links import fresh_link_after_answer
from web.recommendation_view import FormView, PageParts, offered, recommendation_page, submit_form

log = structlog.get_logger(__name__)
router = APIRouter()
ACTING_OVER_REASON = (
    "You were sent this link to stand in for someone while they were away. They are back (or someone "
    "else covers for them now), so this link no longer works."
)


@dataclass
class Opened:
    """A link that checked out, with what the workflow says now."""

    token: str
    claims: LinkClaims
    status: RecommendationStatus
    reader: Reader
    read_only: bool = False


async def _open(ctx: WebContext, token: str, *, read_only: bool) -> Opened:
    """The link's claims and the live status; ``LinkRefused`` (with a plain reason) if it cannot be used."""
    claims = ctx.signer.read(token)
    try:
        status = await recommendation_status(ctx.client, claims.ref)
        reader = await reader_status(ctx.client, claims.ref, claims.person)
    except UnknownRecommendation:
        raise LinkRefused("This link is for a recommendation that is not in Assure.") from None
    holders = ROLE_HOLDERS[claims.role]
    current = None if claims.role == "owner" else ([claims.person] if holders & set(reader.roles) else [])
    if claims.acting_for is not None:
        # A deputy's link works while they stand in: the workflow gives the reader the absent
        # person's roles only on the days of the absence (``models.cover``).
        current = None
        if not holders & set(reader.roles):
            raise Revoked(ACTING_OVER_REASON, claims)
    reason = still_valid(claims, status, current, read_only=read_only)
    if reason:
        raise Revoked(reason, claims)
    return Opened(token=token, claims=claims, status=status, reader=reader, read_only=read_only)


class Revoked(LinkRefused):
    """A genuine link that no longer fits the recommendation (reassigned, role ended, closed)."""

    def __init__(self, message: str, claims: LinkClaims) -> None:
        super().__init__(message)
        self.claims = claims


@router.get("/r/{token}", response_class=HTMLResponse, include_in_schema=False)
async def response_page(request: Request, token: str, done: str | None = None) -> Response:
    """Show the recommendation, the reader's actions and the forms open to them. Changes nothing."""
    ctx: WebContext = request.app.state.ctx
    if limited := ctx.limited(request, "pages"):
        return limited
    try:
        opened = await _open(ctx, token, read_only=True)
    except LinkRefused as refusal:
        return _link_problem(ctx, request, token, refusal)
    return await _render_page(ctx, request, opened, done=done if done in wording.DECISION_DONE else None)


@router.post("/r/{token}/fresh-link", response_class=HTMLResponse, include_in_schema=False)
async def fresh_link(request: Request, token: str) -> Response:
    """Email a new link to the address registered for the role this link was for, if there is one.

    The answer is the same whatever happens, so that nobody learns whether an address is known.
    """
    ctx: WebContext = request.app.state.ctx
    form = await ctx.guarded_form(request, binding=token, bucket="fresh_links")
    if isinstance(form, Response):
        return form
    claims = _claims_even_if_unusable(ctx, token)
    email = (str(form.get("email") or "")).strip()[:254]
    ref = (str(form.get("ref") or "")).strip()[:64]
    response = ctx.page(request, "fresh_link_sent.html", {})
    # The lookup and the sending after the answer: the same page in the same time either way.
    response.background = BackgroundTask(
        fresh_link_after_answer, ctx, claims=claims, email=email or None, ref=ref or None
    )
    return response


@router.post("/r/{token}/{decision}", response_class=HTMLResponse, include_in_schema=False)
async def take_decision(request: Request, token: str, decision: str) -> Response:
    """Take ``decision`` as the link's person; show it again with the reason if it is refused."""
    ctx: WebContext = request.app.state.ctx
    # Counted against the signed link's person, after the cheap checks: not the shared address.
    signed = _claims_even_if_unusable(ctx, token)
    subject = f"person:{signed.person}" if signed is not None else None
    form = await ctx.guarded_form(request, binding=token, bucket="decisions", subject=subject)
    if isinstance(form, Response):
        return form
    try:
        opened = await _open(ctx, token, read_only=False)
    except LinkRefused as refusal:
        return _link_problem(ctx, request, token, refusal)
    named = form.get("action_id")
    if not offered(opened.reader, decision, str(named) if named else None):
        # Checked at the edge as well as in the workflow: nothing this person may decide now.
        return ctx.page(request, "not_allowed.html", {"status": opened.status}, status_code=403)
    refused = await submit_form(ctx, opened.claims.ref, decision, form, by=opened.claims.person)
    if refused is not None:
        return await _render_page(ctx, request, opened, failed=refused, status_code=refused.status_code)
    # Post/redirect/get: a refresh shows the new state and never posts twice.
    return RedirectResponse(f"/r/{token}?done={decision}", status_code=303)


# --- helpers --------------------------------------------------------------------------------


def _claims_even_if_unusable(ctx: WebContext, token: str) -> LinkClaims | None:
    """What a genuine link was for, expired or not; None for a forged or damaged one."""
    try:
        return ctx.signer.read(token)
    except LinkExpired as expired:
        return expired.claims
    except LinkRefused:
        return None


def _link_problem(ctx: WebContext, request: Request, token: str, refusal: LinkRefused) -> Response:
    """A clear page for a link that cannot be used, with the way to ask for a fresh one."""
    known = isinstance(refusal, Revoked | LinkExpired) and getattr(refusal, "claims", None) is not None
    return ctx.page(
        request,
        "link_problem.html",
        {
            "reason": refusal.message,
            "expired": isinstance(refusal, LinkExpired),
            "known": known,
            "csrf_token": ctx.csrf.issue(token),
            "token": token,
        },
        status_code=410 if isinstance(refusal, LinkExpired) else 403,
    )


async def _render_page(
    ctx: WebContext,
    request: Request,
    opened: Opened,
    *,
    done: str | None = None,
    failed: FormView | None = None,
    status_code: int = 200,
) -> Response:
    claims = opened.claims
    return await recommendation_page(
        ctx,
        request,
        "response.html",
        PageParts(
            status=opened.status,
            reader=opened.reader,
            person=claims.person,
            own_view=claims.role == "owner",
            post_base=f"/r/{opened.token}",
            csrf_token=ctx.csrf.issue(opened.token),
        ),
        {"claims": claims, "token": opened.token},
        done=done,
        failed=failed,
        status_code=status_code,
    )
