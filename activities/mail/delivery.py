"""The delivery activity: render, sign the reader's link, send once, log it.

Exactly once from the reader's view: the Message-ID is fixed per (notification, recipient); the
sent log is read before sending and written after. A crash between sending and logging makes one
resend unavoidable, and it carries the same Message-ID, so the reader's mail client shows one.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.exc import SQLAlchemyError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.mail.message import build_message, mail_domain, message_id_for, thread_id_for
from activities.mail.people_render import dashboard_link, is_people_kind, render_people
from activities.mail.render import RenderedEmail, render, render_sign_in
from activities.mail.return_render import is_return_kind, render_return, return_link
from activities.mail.review_render import is_review_kind, render_review, review_page_link
from activities.mail.smtp import PermanentSendFailure, Relay, TemporarySendFailure, UnsendableMessage
from activities.problems import (
    MAIL_FAILED,
    STORE_REFUSED,
    describe,
    note_problem,
    store_refused_data,
    store_unavailable,
    unsendable,
)
from links.return_links import return_signer
from links.signed import LINK_ROLES, LinkClaims, LinkSigner, signer_from_settings, signing_key
from models.payloads import (
    DELIVER_MAIL,
    DELIVER_MAIL_BATCH,
    SIGN_IN_KIND,
    MailBatch,
    MailBatchResult,
    MailDelivery,
    MailDeliveryResult,
    Notification,
)
from settings import Settings
from store.db import session_scope
from store.read_model import record_sent_mail, sent_mail_statuses
from store.sessions import SIGN_IN_LINK_MINUTES, SignInLinks

log = structlog.get_logger(__name__)
# How long a sent message waits for the store to take its sent-log row (within the activity's
# two-minute start-to-close timeout) before the activity fails and the message is sent again.
SENT_LOG_PATIENCE = timedelta(seconds=80)


def link_for(signer: LinkSigner, base_url: str, context: Mapping[str, Any], recipient: str) -> str | None:
    """The reader's personal response link for one notification's context, or None when their
    role acts on nothing (an agency lead copied in for information)."""
    role = LINK_ROLES.get(context.get("roles", {}).get(recipient, ""))
    if role is None or "ref" not in context:
        return None
    action = context.get("action") or {}
    acting = (context.get("acting_for") or {}).get(recipient.lower()) or {}
    claims = LinkClaims(
        person=recipient,
        acting_for=acting.get("person") or None,
        ref=context["ref"],
        role=role,
        action_id=action.get("action_id") if role == "owner" else None,
        owner_epoch=int(context.get("owner_epoch", 0)) if role == "owner" else 0,
    )
    return signer.url(base_url, claims)


def mail_context(signer: LinkSigner, base_url: str, notification: Notification, recipient: str) -> dict[str, Any]:
    """The template context; a digest's items each get the reader's link to their recommendation."""
    context = dict(notification.context)
    if notification.kind == "board_digest":
        context["items"] = [
            {**item, "link": link_for(signer, base_url, {**item, "roles": context.get("roles", {})}, recipient)}
            for item in context.get("items", [])
        ]
    return context


def _count(kind: str, outcome: str) -> None:
    """One message handled, for the operators' dashboards: by kind, and sent, bounced or already sent."""
    activity.metric_meter().create_counter("assure_notifications", "Emails handled by the delivery activity").add(
        1, {"kind": kind, "outcome": outcome}
    )


def _crash_here(point: str) -> None:
    """Fault injection for the delivery tests: die like a SIGKILL at ``point``, once.

    Only when ``ASSURE_TEST_CRASH_AT`` names the point and the marker file in
    ``ASSURE_TEST_CRASH_MARKER`` does not exist yet (it is created first, so a restarted worker
    runs on). Unset in every real deployment.
    """
    if os.environ.get("ASSURE_TEST_CRASH_AT") != point:
        return
    marker = os.environ.get("ASSURE_TEST_CRASH_MARKER")
    if not marker:
        return
    try:
        with open(marker, "x"):
            pass
    except FileExistsError:
        return
    os._exit(137)


class MailActivities:
    """Holds the settings and the link signer, so the worker decides where mail goes."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.signer = signer_from_settings(settings)
        self.sign_in_links = SignInLinks(signing_key(settings))
        self.return_links = return_signer(settings)

    @activity.defn(name=DELIVER_MAIL)
    async def deliver_mail(self, delivery: MailDelivery) -> MailDeliveryResult:
        """Send one notification to one recipient, unless the sent log says it already went."""
        activity.heartbeat()  # alive; the workflow's heartbeat timeout catches a dead worker
        earlier = await asyncio.to_thread(self._earlier_statuses, [delivery])
        async with Relay(self.settings) as relay:
            return await self._deliver(delivery, relay, earlier)

    @activity.defn(name=DELIVER_MAIL_BATCH)
    async def deliver_mail_batch(self, batch: MailBatch) -> MailBatchResult:
        """Send a transition's messages over one connection to the relay, each once: those the
        sent log already has are skipped, so a retried batch resends nothing that went.

        A relay that is down fails the whole batch for a retry; a bounce is that message's result,
        and so is a message that cannot be sent as it is (``failed``, recorded as a problem): one
        unsendable recipient never holds back the others.
        """
        activity.heartbeat()
        deliveries = batch.deliveries()
        earlier = await asyncio.to_thread(self._earlier_statuses, deliveries)
        results = []
        async with Relay(self.settings) as relay:
            for delivery in deliveries:
                results.append(await self._deliver(delivery, relay, earlier))
                activity.heartbeat(len(results))
        return MailBatchResult(results=results)

    async def _deliver(self, delivery: MailDelivery, relay: Relay, earlier: Mapping[str, str]) -> MailDeliveryResult:
        info = activity.info()
        notification, recipient = delivery.notification, delivery.recipient
        message_id = self._message_id(delivery)
        bound = log.bind(
            workflow_id=info.workflow_id,
            run_id=info.workflow_run_id,
            ref=notification.context.get("ref"),
            kind=notification.kind,
            message_id=message_id,
            attempt=info.attempt,
        )
        if earlier.get(message_id) == "sent":
            bound.info("mail_already_sent")
            _count(notification.kind, "already_sent")
            return MailDeliveryResult(status="already_sent", message_id=message_id)
        domain = mail_domain(self.settings.mail_from)
        try:
            rendered = self._render(notification, recipient)
            message = build_message(
                mail_from=self.settings.mail_from,
                recipient=recipient,
                subject=rendered.subject,
                text=rendered.text,
                html=rendered.html,
                message_id=message_id,
                thread_root=thread_id_for(str(notification.context.get("thread", notification.key)), domain),
                sent_at=datetime.now(UTC),
            )
        except Exception as exc:
            if not unsendable(exc):
                raise
            return await self._failed(delivery, message_id, bound, f"could not be built ({type(exc).__name__})")
        activity.heartbeat()
        _crash_here("before_send")
        try:
            await relay.send(message)
        except UnsendableMessage as exc:
            return await self._failed(delivery, message_id, bound, f"could not be encoded for sending ({exc})")
        except TemporarySendFailure as exc:
            bound.warning("mail_deferred", reason=str(exc))
            raise ApplicationError(str(exc), type="MailDeferred") from None
        except PermanentSendFailure as exc:
            bound.warning("mail_bounced", smtp_code=exc.code)
            await asyncio.to_thread(self._log_refusable, delivery, message_id, "bounced", exc.code, exc.detail)
            _count(notification.kind, "bounced")
            return MailDeliveryResult(
                status="bounced", message_id=message_id, smtp_code=exc.code, detail=exc.detail[:500]
            )
        _crash_here("after_send")
        await self._log_after_sending(delivery, message_id, bound)
        _count(notification.kind, "sent")
        bound.info("mail_sent")
        return MailDeliveryResult(status="sent", message_id=message_id)

    async def _failed(self, delivery: MailDelivery, message_id: str, bound, what: str) -> MailDeliveryResult:
        """A message that cannot be sent as it is: recorded as a problem and given up, so the rest
        of the batch (and the recommendation's later mail) still goes. ``what`` names no one."""
        notification = delivery.notification
        reason = f"{notification.kind} message {what}"
        bound.warning("mail_failed", reason=reason)
        await asyncio.to_thread(
            note_problem,
            self.settings.database_url,
            kind=MAIL_FAILED,
            subject=delivery.recipient,
            ref=str(notification.context.get("ref", "")),
            detail=reason,
            workflow_id=delivery.workflow_id,
        )
        _count(notification.kind, "failed")
        return MailDeliveryResult(status="failed", message_id=message_id, reason=reason)

    def _log_refusable(self, delivery: MailDelivery, message_id: str, status: str, code=None, detail: str = "") -> None:
        """Write the sent log of a message that has been handed over or refused; a row the store
        refuses (its data) becomes a problem rather than a resend, and an outage a retry."""
        try:
            self._log(delivery, message_id, status=status, code=code, detail=detail)
        except SQLAlchemyError as exc:
            if not store_refused_data(exc):
                raise store_unavailable(exc) from None
            note_problem(
                self.settings.database_url,
                kind=STORE_REFUSED,
                subject=f"sent log {message_id}",
                ref=str(delivery.notification.context.get("ref", "")),
                detail=f"the sent log refused a {delivery.notification.kind} message's row ({describe(exc)})",
                workflow_id=delivery.workflow_id,
            )

    def _message_id(self, delivery: MailDelivery) -> str:
        return message_id_for(delivery.notification.key, delivery.recipient, mail_domain(self.settings.mail_from))

    async def _log_after_sending(self, delivery: MailDelivery, message_id: str, bound) -> None:
        """Write the sent log of a message that has gone, waiting out a store that is down.

        Failing here would retry the whole activity and send the message again, so the log is
        retried in place (heartbeating) for up to ``SENT_LOG_PATIENCE``; only a longer outage
        ends in a resend, which carries the same Message-ID.
        """
        wait, waited = 0.5, 0.0
        while True:
            try:
                await asyncio.to_thread(self._log_refusable, delivery, message_id, "sent")
                return
            except ApplicationError as exc:  # the store did not answer (see _log_refusable)
                if waited >= SENT_LOG_PATIENCE.total_seconds():
                    raise
                bound.warning("sent_log_waiting_for_store", error=exc.message)
                activity.heartbeat()
                await asyncio.sleep(wait)
                waited += wait
                wait = min(wait * 2, 10.0)

    def _render(self, notification: Notification, recipient: str) -> RenderedEmail:
        base_url = self.settings.base_url
        # Every message but the sign-in email says where to name a deputy before going away.
        away = {"away_page": f"{base_url.rstrip('/')}/dashboard/me"}
        notification = notification.model_copy(update={"context": {**notification.context, **away}})
        if notification.kind == SIGN_IN_KIND:
            # Signed here, at sending, so the secret never enters workflow history and the
            # link's half hour starts when it is sent.
            link = self.sign_in_links.url(base_url, recipient, str(notification.context["nonce"]))
            return render_sign_in(recipient=recipient, link=link, minutes=SIGN_IN_LINK_MINUTES)
        if is_review_kind(notification.kind):
            link = review_page_link(base_url, notification.context)
            sent_on = notification.created_at.date()
            return render_review(
                notification.kind, notification.context, recipient=recipient, link=link, sent_on=sent_on
            )
        if is_people_kind(notification.kind):
            return render_people(
                notification.kind,
                notification.context,
                recipient=recipient,
                link=dashboard_link(base_url),
                sent_on=notification.created_at.date(),
            )
        if is_return_kind(notification.kind):
            link = return_link(self.return_links, base_url, notification.context, recipient)
            sent_on = notification.created_at.date()
            return render_return(
                notification.kind, notification.context, recipient=recipient, link=link, sent_on=sent_on
            )
        return render(
            notification.kind,
            mail_context(self.signer, base_url, notification, recipient),
            recipient=recipient,
            link=link_for(self.signer, base_url, notification.context, recipient),
            sent_on=notification.created_at.date(),
        )

    # The store is synchronous (SQLAlchemy): its calls run on a thread, so that a slow or locked
    # store never stalls the event loop every other delivery and workflow task shares.
    def _earlier_statuses(self, deliveries: list[MailDelivery]) -> dict[str, str]:
        """What the sent log says of these messages, by Message-ID."""
        try:
            with session_scope(self.settings.database_url) as session:
                return sent_mail_statuses(session=session, message_ids=[self._message_id(d) for d in deliveries])
        except SQLAlchemyError as exc:
            raise store_unavailable(exc) from None

    def _log(self, delivery: MailDelivery, message_id: str, *, status: str, code: int | None = None, detail: str = ""):
        with session_scope(self.settings.database_url) as session:
            record_sent_mail(
                session=session,
                message_id=message_id,
                notification=delivery.notification,
                recipient=delivery.recipient,
                status=status,
                smtp_code=code,
                detail=detail,
            )
