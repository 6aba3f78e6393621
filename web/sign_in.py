"""Signing in to the dashboard: an emailed one-time link, then a session cookie (store/sessions.py).

``GET /sign-in`` asks for a work email address; ``POST /sign-in`` emails a link if the address is
in the registry, and answers the same either way. ``GET /sign-in/<token>`` shows a button and
uses nothing (mail scanners open links); ``POST /sign-in/<token>`` uses the link once and sets the
cookie. ``POST /sign-out`` ends the session for good.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from temporalio.exceptions import WorkflowAlreadyStartedError

from models.payloads import SIGN_IN_KIND, FreshLinkInput, Notification, is_email
from store.access import Viewer, viewer_for
from store.db import session_scope
from store.sessions import (
    COOKIE_NAME,
    SESSION_HOURS,
    SIGN_IN_LINK_MINUTES,
    SignInClaims,
    SignInRefused,
    new_nonce,
    registered_person,
    use_sign_in_link,
)
from store.tables import Person
from web.context import WebContext

log = structlog.get_logger(__name__)
router = APIRouter(include_in_schema=False)

# The CSRF binding of the one form shown before anyone is signed in or holds a link.
_REQUEST_FORM = "sign-in-request"
# Links asked for one address, whoever asks: stops someone filling a colleague's inbox.
SIGN_IN_PER_ADDRESS = "5/hour"


async def signed_in(request: Request) -> Viewer | None:
    """The person signed in on this request's cookie, with what they may see; None if nobody is."""
    ctx: WebContext = request.app.state.ctx
    cookie = request.cookies.get(COOKIE_NAME)
    if not cookie:
        return None
    return await run_in_threadpool(_session_viewer, ctx, cookie, ctx.clock())


def _session_viewer(ctx: WebContext, cookie: str, now: datetime) -> Viewer | None:
    """The live session's person and what they may see (blocking queries: run it in a thread)."""
    with session_scope(ctx.settings.database_url) as session:
        person = ctx.cookies.person(session=session, cookie=cookie, now=now)
        return viewer_for(session=session, person=person) if person is not None else None


def session_csrf(ctx: WebContext, request: Request) -> str:
    """A CSRF token bound to this browser's session cookie."""
    return ctx.csrf.issue(request.cookies.get(COOKIE_NAME, ""))


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_page(request: Request, signed_out: str | None = None) -> Response:
    ctx: WebContext = request.app.state.ctx
    if await signed_in(request) is not None:
        return RedirectResponse("/dashboard", status_code=303)
    return _request_page(ctx, request, signed_out=signed_out is not None)


def _request_page(
    ctx: WebContext, request: Request, *, email: str = "", error: str | None = None, signed_out: bool = False
) -> Response:
    return ctx.page(
        request,
        "sign_in.html",
        {"csrf_token": ctx.csrf.issue(_REQUEST_FORM), "email": email, "email_error": error, "signed_out": signed_out},
        status_code=422 if error else 200,
        error=bool(error),
    )


@router.post("/sign-in", response_class=HTMLResponse)
async def request_sign_in_link(request: Request) -> Response:
    """Email a one-time link to a registered address. The answer never says whether it is registered."""
    ctx: WebContext = request.app.state.ctx
    form = await ctx.guarded_form(request, binding=_REQUEST_FORM, bucket="sign_in")
    if isinstance(form, Response):
        return form
    email = str(form.get("email") or "").strip().lower()
    if not email:
        return _request_page(ctx, request, error="Enter your work email address")
    if len(email) > 254 or not is_email(email):
        return _request_page(ctx, request, email=email[:254], error="Enter an email address like name@agency.org.uk")
    fingerprint = hashlib.sha256(email.encode()).hexdigest()
    response = ctx.page(request, "sign_in_sent.html", {"minutes": SIGN_IN_LINK_MINUTES})
    if ctx.rate_limits.hit("sign_in_address", fingerprint) is None:
        # The registry lookup and the workflow start run once the answer is sent (Starlette's
        # background task): a registered address is answered as fast as an unknown one.
        response.background = BackgroundTask(_send_link_after_answer, ctx, email)
    return response


async def _send_link_after_answer(ctx: WebContext, email: str) -> None:
    try:
        await _send_link(ctx, email)
    except Exception as exc:  # the visitor learns nothing either way; the type alone is logged
        log.error("sign_in_link_failed", error=type(exc).__name__)


async def _send_link(ctx: WebContext, email: str) -> None:
    person = await run_in_threadpool(_registered, ctx.settings.database_url, email)
    if person is None:
        log.info("sign_in_unknown_address")
        return
    from workflows.fresh_link import FreshLinkWorkflow

    nonce = new_nonce()
    notification = Notification(
        key=f"sign-in/{nonce}",
        kind=SIGN_IN_KIND,
        recipients=[person.email],
        context={"nonce": nonce, "thread": f"sign-in/{nonce}"},
        created_at=ctx.clock(),
    )
    try:
        await ctx.client.start_workflow(
            FreshLinkWorkflow.run,
            FreshLinkInput(recommendation_workflow_id="sign-in", notification=notification),
            id=f"sign-in-{nonce}",
            task_queue=ctx.settings.task_queue,
        )
    except WorkflowAlreadyStartedError:  # a random nonce twice: not in practice
        return
    log.info("sign_in_link_requested")


def _registered(database_url: str, email: str) -> Person | None:
    """The registry's person for ``email``, or None (a blocking query: run it in a thread)."""
    with session_scope(database_url) as session:
        return registered_person(session=session, email=email)


@router.get("/sign-in/{token}", response_class=HTMLResponse)
async def confirm_page(request: Request, token: str) -> Response:
    """A button to press: opening the link uses nothing, so a mail scanner cannot spend it."""
    ctx: WebContext = request.app.state.ctx
    try:
        claims = ctx.sign_in_links.read(token)
    except SignInRefused as refused:
        return _link_refused(ctx, request, refused)
    return ctx.page(request, "sign_in_confirm.html", {"email": claims.email, "csrf_token": ctx.csrf.issue(token)})


@router.post("/sign-in/{token}", response_class=HTMLResponse)
async def use_link(request: Request, token: str) -> Response:
    """Use the link (once) and start a session."""
    ctx: WebContext = request.app.state.ctx
    form = await ctx.guarded_form(request, binding=token, bucket="sign_in")
    if isinstance(form, Response):
        return form
    try:
        claims = ctx.sign_in_links.read(token)
        cookie = await run_in_threadpool(_start_session, ctx, claims, ctx.clock())
    except SignInRefused as refused:
        return _link_refused(ctx, request, refused)
    log.info("signed_in")
    response = RedirectResponse("/dashboard", status_code=303)
    response.set_cookie(
        COOKIE_NAME,
        cookie,
        max_age=SESSION_HOURS * 3600,
        path="/",
        httponly=True,
        samesite="lax",  # sent when following a link from an email; never with a cross-site post
        secure=ctx.settings.base_url.startswith("https://"),
    )
    return response


@router.post("/sign-out", response_class=HTMLResponse)
async def sign_out(request: Request) -> Response:
    ctx: WebContext = request.app.state.ctx
    form = await ctx.guarded_form(request, binding=request.cookies.get(COOKIE_NAME, ""), bucket="decisions")
    if isinstance(form, Response):
        return form
    await run_in_threadpool(_end_session, ctx, request.cookies.get(COOKIE_NAME))
    response = RedirectResponse("/sign-in?signed_out=1", status_code=303)
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="lax")
    return response


def _start_session(ctx: WebContext, claims: SignInClaims, now: datetime) -> str:
    """Use the link once and start a session: the cookie's value, or ``SignInRefused`` (blocking)."""
    with session_scope(ctx.settings.database_url) as session:
        if registered_person(session=session, email=claims.email) is None:
            raise SignInRefused("This address is no longer in Assure's registry, so it cannot sign in.")
        use_sign_in_link(session=session, claims=claims, now=now)
        return ctx.cookies.start(session=session, email=claims.email, now=now)


def _end_session(ctx: WebContext, cookie: str | None) -> None:
    with session_scope(ctx.settings.database_url) as session:
        ctx.cookies.end(session=session, cookie=cookie)


def _link_refused(ctx: WebContext, request: Request, refused: SignInRefused) -> Response:
    return ctx.page(
        request, "sign_in_problem.html", {"reason": refused.message}, status_code=410 if refused.expired else 403
    )
