"""Fresh links: a new personal link, emailed only to the address registered for the role.

The web process works out who should get it from the live workflow, then starts a short
``FreshLinkWorkflow`` that sends it through the same delivery activity as every other email
(retries, sent log, Message-ID). The workflow id carries the hour, so repeated clicks within an
hour send one email; rate limits cap the rest.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import structlog
from temporalio.client import WorkflowHandle
from temporalio.exceptions import WorkflowAlreadyStartedError

from gateway.workflows import UnknownRecommendation, reader_status, recommendation_status, workflow_id_for
from links.signed import LINK_ROLES, ROLE_HOLDERS, LinkClaims
from models.kinds import MessageKind
from models.mail_context import RecommendationMailFacts, mail_context
from models.measures import mail_facts
from models.payloads import FreshLinkInput, Notification, RecommendationStatus
from web.context import WebContext

log = structlog.get_logger(__name__)

# The role an email names for each link role (the first that maps to it).
CONTEXT_ROLE: dict[str, str] = {link: named for named, link in reversed(LINK_ROLES.items())}


async def fresh_link_after_answer(
    ctx: WebContext, *, claims: LinkClaims | None, email: str | None, ref: str | None
) -> None:
    """``request_fresh_link`` as a background task of the answer (Starlette runs it once the
    response is sent): the page then takes the same time whether or not anyone is registered,
    so its timing says nothing about an address. A failure is logged by its type alone (the
    locals of a traceback would hold the typed address)."""
    try:
        await request_fresh_link(ctx, claims=claims, email=email, ref=ref)
    except Exception as exc:  # nobody is waiting for it: the log is where it must show
        log.error("fresh_link_failed", error=type(exc).__name__)


async def request_fresh_link(
    ctx: WebContext, *, claims: LinkClaims | None, email: str | None, ref: str | None
) -> WorkflowHandle | None:
    """Send a fresh link if there is someone registered to send it to; None when there is not."""
    ref = claims.ref if claims is not None else ref
    if not ref or (claims is None and not email):
        return None
    try:
        status = await recommendation_status(ctx.client, ref)
        target = await _recipient(ctx, status, claims=claims, email=email)
    except UnknownRecommendation:
        return None
    if target is None:
        return None
    recipient, role, action = target
    notification = fresh_link_notification(status, recipient, role, action, now=ctx.clock())
    from workflows.fresh_link import FreshLinkWorkflow

    try:
        handle = await ctx.client.start_workflow(
            FreshLinkWorkflow.run,
            FreshLinkInput(recommendation_workflow_id=workflow_id_for(ref), notification=notification),
            id=notification.key.replace("/", "-"),
            task_queue=ctx.settings.task_queue,
        )
    except WorkflowAlreadyStartedError:
        log.info("fresh_link_already_sent_this_hour", ref=ref)
        return None
    log.info("fresh_link_requested", ref=ref, role=role)
    return handle


def fresh_link_notification(
    status: RecommendationStatus, recipient: str, role: str, action_id: str | None, *, now: datetime
) -> Notification:
    """The ``fresh_link`` email for ``recipient`` in link role ``role``: keyed per person, role,
    action and hour, so asking twice in an hour sends one email."""
    fingerprint = hashlib.sha256(f"{status.ref}|{recipient}|{role}|{action_id or '-'}".encode()).hexdigest()[:24]
    # Built as the lifecycle builds its own messages' context, so the fresh link joins the
    # recommendation's email thread instead of starting a new one.
    view = next((a for a in status.actions if a.action_id == action_id), None)
    context = mail_context(
        RecommendationMailFacts.of_status(status, roles={recipient: CONTEXT_ROLE[role]}),
        action=view,
        owner_epoch=view.owner_epoch if view is not None else 0,
        **(_cascade_led_by(status, recipient) if role == "cascade_lead" else {}),
        **(_measures_reported_by(status, recipient) if role == "reporter" else {}),
    )
    return Notification(
        key=f"fresh-link/{fingerprint}/{now.strftime('%Y%m%d%H')}",
        kind=MessageKind.fresh_link,
        recipients=[recipient],
        action_id=action_id,
        context=context,
        created_at=now,
    )


def _cascade_led_by(status: RecommendationStatus, recipient: str) -> dict[str, Any]:
    """The agencies ``recipient`` leads the cascade for, so the email can say why it comes to them
    (only theirs: the other agencies' leads are nothing to this reader)."""
    mine = [c.model_dump(mode="json") for c in status.cascade if (c.lead or "").casefold() == recipient.casefold()]
    return {"cascade": mine}


def _measures_reported_by(status: RecommendationStatus, recipient: str) -> dict[str, Any]:
    """The measures ``recipient`` reports, as the lifecycle's own emails carry them (their figures
    and latest reading, not their history), so the email can say why it comes to them."""
    return {"measures": [mail_facts(v) for v in status.measures if v.reporter.casefold() == recipient.casefold()]}


async def _recipient(
    ctx: WebContext, status: RecommendationStatus, *, claims: LinkClaims | None, email: str | None
) -> tuple[str, str, str | None] | None:
    """(recipient, link role, action id) of whoever holds the role now, or None."""
    if claims is None:
        assert email is not None
        reader = await reader_status(ctx.client, status.ref, email)
        return next(((reader.person, role, None) for held, role in LINK_ROLES.items() if held in reader.roles), None)
    if claims.role == "owner":
        if claims.action_id is not None:
            # The action's owner now: after a reassignment that is the new owner, never the clicker.
            action = next((a for a in status.actions if a.action_id == claims.action_id), None)
            return (action.owner, "owner", action.action_id) if action else None
        owns = any(a.owner.lower() == claims.person.lower() for a in status.actions)
        return (claims.person, "owner", None) if owns else None
    if claims.role not in CONTEXT_ROLE:
        return None
    reader = await reader_status(ctx.client, status.ref, claims.person)
    return (claims.person, claims.role, None) if ROLE_HOLDERS[claims.role] & set(reader.roles) else None
