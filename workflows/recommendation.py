"""RecommendationWorkflow: one durable workflow per recommendation, for its whole lifecycle.

The rules live in ``models.lifecycle.Lifecycle``; this class gives them Temporal's guarantees:
every human decision is an Update whose validator refuses bad decisions before they reach
history, one loop sleeps until the next deadline (or a decision) and fires what is due, and each
transition is flushed to the store and the outbox by one idempotent activity.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from models.lifecycle import DecisionRefused, Lifecycle
    from models.payloads import (
        ADD_TO_BOARD_DIGEST,
        BAD_DATA,
        DELIVER_MAIL,
        DELIVER_MAIL_BATCH,
        DIGEST_KINDS,
        DIGEST_ROLES,
        RECORD_TRANSITION,
        AcknowledgeInput,
        AddActionsInput,
        AgreeActionsInput,
        ChangeDueDateInput,
        CompleteActionInput,
        DecideExtensionInput,
        DeclineInput,
        MailBatch,
        MailBatchResult,
        MailDelivery,
        MailDeliveryResult,
        ProjectionInput,
        ReassignOwnerInput,
        RecommendationInput,
        RecommendationStatus,
        RecordAuditInput,
        RecordBoardDecisionInput,
        RemindOwnerInput,
        ReportProgressInput,
        RequestExtensionInput,
        SignOffInput,
        SubmitPlansInput,
        UpdatePartiesInput,
        WithdrawInput,
        mail_queue,
        store_queue,
    )
    from models.permissions import Reader, reader_of

# The store may be down for a while (a database restart): keep trying, but not too hard.
STORE_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
# A mail relay can be down for hours: back off to one try every half hour, and never give up.
MAIL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=10), backoff_coefficient=2.0, maximum_interval=timedelta(minutes=30)
)
# How every workflow runs the delivery activity. A worker that dies mid-delivery is noticed in
# 30 s (the heartbeat), not at the 2-minute timeout.
DELIVERY_OPTIONS: dict[str, Any] = {
    "start_to_close_timeout": timedelta(minutes=2),
    "heartbeat_timeout": timedelta(seconds=30),
    "retry_policy": MAIL_RETRY,
}
# Workflows started before email delivery existed keep their recorded behaviour on replay.
DELIVER_EMAIL_PATCH = "deliver-email-v1"
# Workflows started before it keep their recorded behaviour on replay: the main loop left asleep
# when a message is delivered.
QUIET_DELIVERIES_PATCH = "quiet-deliveries-v1"
# Workflows started before each of these keep their recorded behaviour on replay:
# - each transition stored by a local activity (in the decision's own workflow task, not through
#   the task queue);
LOCAL_PROJECTION_PATCH = "local-projection-v1"
# - a transition's messages sent by one batch activity on the mail queue, rather than one
#   activity per message and recipient;
BATCHED_MAIL_PATCH = "batched-mail-v1"
# - the timer to the next deadline kept while the deadline stays the same, rather than cancelled
#   and started again on every decision.
STEADY_TIMER_PATCH = "steady-timer-v1"
# - each transition stored by an activity on the store queue that a decision does not wait for,
#   one at a time per recommendation, rather than by a local activity in the decision's own
#   workflow task (the decision's caller reads the workflow, not the store; see _apply).
BACKGROUND_PROJECTION_PATCH = "background-projection-v1"
# The most messages one batch carries (one activity's input stays small); the rest go next.
MAIL_BATCH_LIMIT = 25
# Asked only when a store write or a mail batch has failed for good (bad data, which is never
# retried): the problem is recorded and the recommendation goes on. Histories where such a failure
# came before this replay as they ran (the failure left where it fell).
BAD_DATA_PATCH = "bad-data-problems-v1"


@workflow.defn
class RecommendationWorkflow:
    """Runs one recommendation from review to assured, declined or withdrawn."""

    @workflow.init
    def __init__(self, start: RecommendationInput) -> None:
        # Built in init so that updates and queries arriving before run() see the state.
        self._life = Lifecycle.begin(start, workflow_id=workflow.info().workflow_id, now=workflow.now())
        self._continue_as_new_after = start.continue_as_new_after
        self._woken = False
        # One flush at a time: the main loop and update handlers both flush.
        self._flush_lock = asyncio.Lock()
        # Deliveries running now, by (notification key, recipient); the pending list is in state.
        self._in_flight: set[tuple[str, str]] = set()
        self._batch_in_flight = False
        # A transition being stored in the background (see _start_projection).
        self._projecting = False
        # The timer to the next deadline, and that deadline (see _sleep_until_next_deadline).
        self._timer: asyncio.Task[None] | None = None
        self._timer_at: datetime | None = None

    @workflow.run
    async def run(self, start: RecommendationInput) -> RecommendationStatus:
        while True:
            # Reset before the flush: a decision taken while the flush runs wakes the next wait.
            self._woken = False
            self._life.fire_due(workflow.now())
            if workflow.patched(BACKGROUND_PROJECTION_PATCH):
                self._start_projection()
            else:
                await self._flush()
            self._start_deliveries()
            if self._finished():
                break
            if not self._life.closed and self._should_continue_as_new():
                # A write to the store on its way is waited for (as are handlers, which before
                # background-projection-v1 stored their own transitions); what is not stored yet
                # and deliveries still pending are carried in the state. Nothing awaits between
                # the wait and continuing.
                await workflow.wait_condition(
                    lambda: workflow.all_handlers_finished() and not self._in_flight and not self._projecting
                )
                workflow.continue_as_new(
                    start.model_copy(update={"state": self._life.state, "actions": []}),
                )
            await self._sleep_until_next_deadline()
        return self._life.status(workflow.now())

    def _finished(self) -> bool:
        """Closed, stored, every message delivered (or bounced), and no decision still being handled."""
        return (
            self._life.closed
            and not self._life.state.pending_mail
            and workflow.all_handlers_finished()
            and not self._projecting
            and not self._unprojected()
        )

    def _unprojected(self) -> bool:
        """Whether the state holds timeline events or notifications the store has not had yet."""
        state = self._life.state
        return bool(state.outbox) or any(e.seq > state.projected_seq for e in state.timeline[-1:])

    async def _sleep_until_next_deadline(self) -> None:
        """Wait for the next timer, decision or finished delivery, whichever comes first."""
        next_at = self._life.next_deadline()
        if not workflow.patched(STEADY_TIMER_PATCH):
            timeout = None if next_at is None else max(next_at - workflow.now(), timedelta(seconds=1))
            try:
                await workflow.wait_condition(lambda: self._woken or self._finished(), timeout=timeout)
            except TimeoutError:
                pass
            return
        if self._timer is None or self._timer.done() or next_at != self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer, self._timer_at = None, next_at
            if next_at is not None:
                delay = max(next_at - workflow.now(), timedelta(seconds=1))
                self._timer = asyncio.create_task(workflow.sleep(delay))
        timer = self._timer
        await workflow.wait_condition(lambda: self._woken or self._finished() or (timer is not None and timer.done()))

    def _start_deliveries(self) -> None:
        """Start delivering every pending message not already on its way; batched mail goes one
        batch at a time, and what is queued meanwhile goes in the next."""
        waiting = [d for d in self._life.state.pending_mail if self._key(d) not in self._in_flight]
        if not waiting:
            return
        # Started in the order they were queued: workflows recorded before batching replay the
        # same commands in the same order.
        batching = any(not self._for_digest(d) for d in waiting) and workflow.patched(BATCHED_MAIL_PATCH)
        to_send = []
        for delivery in waiting:
            if self._for_digest(delivery):
                self._in_flight.add(self._key(delivery))
                asyncio.create_task(self._add_to_digest(delivery))
            elif batching:
                to_send.append(delivery)
            else:
                self._in_flight.add(self._key(delivery))
                asyncio.create_task(self._send_one(delivery))
        if to_send and not self._batch_in_flight:
            batch = to_send[:MAIL_BATCH_LIMIT]
            self._in_flight.update(self._key(d) for d in batch)
            self._batch_in_flight = True
            asyncio.create_task(self._send_batch(batch))

    @staticmethod
    def _key(delivery: MailDelivery) -> tuple[str, str]:
        return (delivery.notification.key, delivery.recipient)

    @staticmethod
    def _for_digest(delivery: MailDelivery) -> bool:
        """The board hears of escalations once a day: the digest workflow sends and logs them."""
        role = delivery.notification.context.get("roles", {}).get(delivery.recipient)
        return delivery.notification.kind in DIGEST_KINDS and role in DIGEST_ROLES

    async def _add_to_digest(self, delivery: MailDelivery) -> None:
        await workflow.execute_activity(
            ADD_TO_BOARD_DIGEST,
            delivery,
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=MAIL_RETRY,
        )
        self._delivered(delivery, None)

    async def _send_one(self, delivery: MailDelivery) -> None:
        result = await workflow.execute_activity(
            DELIVER_MAIL,
            delivery,
            result_type=MailDeliveryResult,
            **DELIVERY_OPTIONS,
        )
        self._delivered(delivery, result)

    async def _send_batch(self, deliveries: list[MailDelivery]) -> None:
        try:
            batch = await workflow.execute_activity(
                DELIVER_MAIL_BATCH,
                MailBatch(deliveries=deliveries),
                result_type=MailBatchResult,
                task_queue=mail_queue(workflow.info().task_queue),
                **DELIVERY_OPTIONS,
            )
        except ActivityError as failure:
            # A relay that is down is retried without limit: only a failure for good gets here.
            if not workflow.patched(BAD_DATA_PATCH):
                raise
            batch = self._batch_failed(deliveries, failure)
        for delivery, result in zip(deliveries, batch.results, strict=True):
            self._delivered(delivery, result)
        # One batch at a time: a burst of decisions costs one batch (and one workflow task) for
        # what it queued while the last was out, not one per decision.
        self._batch_in_flight = False
        self._start_deliveries()

    @staticmethod
    def _batch_failed(deliveries: list[MailDelivery], failure: ActivityError) -> MailBatchResult:
        """A whole batch that failed for good, as one failed result per message: each is recorded
        as a problem, and the recommendation's later mail goes on."""
        reason = _failure_text(failure, "the mail batch failed")
        return MailBatchResult(
            results=[MailDeliveryResult(status="failed", message_id="", reason=reason) for _ in deliveries]
        )

    def _delivered(self, delivery: MailDelivery, result: MailDeliveryResult | None) -> None:
        self._in_flight.discard(self._key(delivery))
        self._life.state.pending_mail.remove(delivery)
        bounced = result is not None and result.status == "bounced"
        failed = result is not None and result.status == "failed"
        if bounced:
            self._life.mail_bounced(delivery, result, workflow.now())
        elif failed:
            # Not sent, and never will be as it is: for an operator, and on the recommendation.
            # The recipient is the problem's subject; its detail names nobody.
            self._life.problem("mail_failed", delivery.recipient, result.reason, workflow.now())
        # A delivered message changes nothing the main loop acts on (its wait also ends when the
        # last one of a closed recommendation is done), so only a bounce (or a failure) wakes it
        # now: waking it for each message cost a timer cancelled and started again per email.
        if bounced or failed or not workflow.patched(QUIET_DELIVERIES_PATCH):
            self._woken = True

    def _should_continue_as_new(self) -> bool:
        info = workflow.info()
        return info.is_continue_as_new_suggested() or info.get_current_history_length() > self._continue_as_new_after

    def _start_projection(self) -> None:
        """Store what the state holds that the store has not had, unless a write is already on its
        way: what is queued meanwhile goes in the next one, so a burst of decisions costs one
        write for all that came while the last was out."""
        if self._projecting or not self._unprojected():
            return
        self._projecting = True
        asyncio.create_task(self._project())

    async def _project(self) -> None:
        projection = self._projection()
        # On the store queue, off the decisions' path. Its worker takes a few writes at a time, so
        # in a burst a write waits its turn while this recommendation's next decisions queue up
        # for the write after it: fewer, fuller writes. A write retried (or late) is harmless:
        # the store keeps the newest version and ignores a timeline event or notification it
        # already has.
        try:
            await workflow.execute_activity(
                RECORD_TRANSITION,
                projection,
                task_queue=store_queue(workflow.info().task_queue),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=STORE_RETRY,
            )
        except ActivityError as failure:
            # Only a failure for good ends the activity (an outage is retried without limit).
            if not workflow.patched(BAD_DATA_PATCH):
                raise
            self._store_refused(projection, failure)
        else:
            self._projected(projection)
        self._projecting = False
        self._start_projection()
        self._start_deliveries()

    def _store_refused(self, projection: ProjectionInput, failure: ActivityError) -> None:
        """The store refused this write's data for good (the activity has put it in the problem
        table): note it on the recommendation, then go on as if stored, so its mail still goes
        (the people asked to act are told; the sent log has what went) and the next transition
        is written as usual. The read model lags until an operator deals with it."""
        detail = _failure_text(failure, "the store refused the transition")
        self._life.problem("store_refused", "store", detail, workflow.now())
        self._projected(projection)

    def _projection(self, **replace: Any) -> ProjectionInput:
        """The store's next write: the status now, and the events and notifications it lacks."""
        state = self._life.state
        return ProjectionInput(
            workflow_id=workflow.info().workflow_id,
            status=self._life.status(workflow.now()).model_copy(update={"timeline": []}),
            new_events=[e for e in state.timeline if e.seq > state.projected_seq],
            notifications=list(state.outbox),
            **replace,
        )

    def _projected(self, projection: ProjectionInput) -> None:
        """The store has ``projection``: count its escalations and send its mail."""
        state = self._life.state
        new_events, notifications = projection.new_events, projection.notifications
        escalations = [e.kind.removeprefix("escalation:") for e in new_events if e.kind.startswith("escalation:")]
        if escalations:  # metrics are not recorded on replay, so each escalation counts once
            counter = workflow.metric_meter().create_counter(
                "assure_escalations", "Escalations sent up the ladder, by the level reached"
            )
            for level in escalations:
                counter.add(1, {"level": level})
        # Decisions taken while the activity ran stay queued for the next write.
        state.projected_seq = max(state.projected_seq, new_events[-1].seq if new_events else 0)
        del state.outbox[: len(notifications)]
        if notifications and workflow.patched(DELIVER_EMAIL_PATCH):
            workflow_id = workflow.info().workflow_id
            state.pending_mail.extend(
                MailDelivery(workflow_id=workflow_id, notification=n, recipient=r)
                for n in notifications
                for r in n.recipients
            )

    async def _flush(self) -> None:
        """Send new timeline events and queued notifications to the store, exactly once."""
        async with self._flush_lock:
            await self._flush_pending()

    async def _flush_pending(self) -> None:
        """How workflows started before background projection store a transition, in the flusher's
        own workflow task."""
        if not self._unprojected():
            return
        state = self._life.state
        local = workflow.patched(LOCAL_PROJECTION_PATCH)
        # A local activity runs in this workflow task, without a trip through the task queue; the
        # decision's caller waits for it. The task may yet fail to commit (its worker killed) and
        # run again later, with new times in its messages' keys, so the store replaces what an
        # uncommitted run stored after what committed runs did: see ProjectionInput.
        replace = (
            {
                "replace_after_seq": state.projected_seq,
                "replace_outbox_after": state.outbox_stored_through or workflow.info().workflow_start_time,
            }
            if local
            else {}
        )
        projection = self._projection(**replace)
        run = workflow.execute_local_activity if local else workflow.execute_activity
        await run(RECORD_TRANSITION, projection, start_to_close_timeout=timedelta(seconds=30), retry_policy=STORE_RETRY)
        if local and projection.notifications:
            state.outbox_stored_through = max(n.created_at for n in projection.notifications)
        self._projected(projection)

    # --- decisions --------------------------------------------------------------------------

    def _check(self, name: str, decision: BaseModel) -> None:
        try:
            self._life.check(name, decision, workflow.now())
        except DecisionRefused as refused:
            # Counted for the operators' dashboards (never recorded on replay; validators never replay).
            workflow.metric_meter().create_counter(
                "assure_decisions_refused", "Decisions refused by the workflow, by decision and reason"
            ).add(1, {"decision": name, "reason": refused.type})
            raise ApplicationError(
                refused.message, {"gaps": refused.gaps}, type=refused.type, non_retryable=True
            ) from None

    async def _apply(self, name: str, decision: BaseModel) -> RecommendationStatus:
        # Applied before the first await, so no other handler interleaves with the change.
        self._life.apply(name, decision, workflow.now())
        self._woken = True
        if workflow.patched(BACKGROUND_PROJECTION_PATCH):
            # The caller has the new status in this answer and reads the workflow for the pages
            # after, so the decision does not wait for the store: lists and reports catch up as
            # soon as the write in the background is done (normally within a second).
            self._start_projection()
        else:
            await self._flush()
        return self._life.status(workflow.now())

    @workflow.update
    async def agree_actions(self, decision: AgreeActionsInput) -> RecommendationStatus:
        return await self._apply("agree_actions", decision)

    @agree_actions.validator
    def _check_agree_actions(self, decision: AgreeActionsInput) -> None:
        self._check("agree_actions", decision)

    @workflow.update
    async def acknowledge(self, decision: AcknowledgeInput) -> RecommendationStatus:
        return await self._apply("acknowledge", decision)

    @acknowledge.validator
    def _check_acknowledge(self, decision: AcknowledgeInput) -> None:
        self._check("acknowledge", decision)

    @workflow.update
    async def report_progress(self, decision: ReportProgressInput) -> RecommendationStatus:
        return await self._apply("report_progress", decision)

    @report_progress.validator
    def _check_report_progress(self, decision: ReportProgressInput) -> None:
        self._check("report_progress", decision)

    @workflow.update
    async def request_extension(self, decision: RequestExtensionInput) -> RecommendationStatus:
        return await self._apply("request_extension", decision)

    @request_extension.validator
    def _check_request_extension(self, decision: RequestExtensionInput) -> None:
        self._check("request_extension", decision)

    @workflow.update
    async def decide_extension(self, decision: DecideExtensionInput) -> RecommendationStatus:
        return await self._apply("decide_extension", decision)

    @decide_extension.validator
    def _check_decide_extension(self, decision: DecideExtensionInput) -> None:
        self._check("decide_extension", decision)

    @workflow.update
    async def complete_action(self, decision: CompleteActionInput) -> RecommendationStatus:
        return await self._apply("complete_action", decision)

    @complete_action.validator
    def _check_complete_action(self, decision: CompleteActionInput) -> None:
        self._check("complete_action", decision)

    @workflow.update
    async def reassign_owner(self, decision: ReassignOwnerInput) -> RecommendationStatus:
        return await self._apply("reassign_owner", decision)

    @reassign_owner.validator
    def _check_reassign_owner(self, decision: ReassignOwnerInput) -> None:
        self._check("reassign_owner", decision)

    @workflow.update
    async def add_actions(self, decision: AddActionsInput) -> RecommendationStatus:
        return await self._apply("add_actions", decision)

    @add_actions.validator
    def _check_add_actions(self, decision: AddActionsInput) -> None:
        self._check("add_actions", decision)

    @workflow.update
    async def change_due_date(self, decision: ChangeDueDateInput) -> RecommendationStatus:
        return await self._apply("change_due_date", decision)

    @change_due_date.validator
    def _check_change_due_date(self, decision: ChangeDueDateInput) -> None:
        self._check("change_due_date", decision)

    @workflow.update
    async def submit_plans(self, decision: SubmitPlansInput) -> RecommendationStatus:
        return await self._apply("submit_plans", decision)

    @submit_plans.validator
    def _check_submit_plans(self, decision: SubmitPlansInput) -> None:
        self._check("submit_plans", decision)

    @workflow.update
    async def sign_off(self, decision: SignOffInput) -> RecommendationStatus:
        return await self._apply("sign_off", decision)

    @sign_off.validator
    def _check_sign_off(self, decision: SignOffInput) -> None:
        self._check("sign_off", decision)

    @workflow.update
    async def record_audit(self, decision: RecordAuditInput) -> RecommendationStatus:
        return await self._apply("record_audit", decision)

    @record_audit.validator
    def _check_record_audit(self, decision: RecordAuditInput) -> None:
        self._check("record_audit", decision)

    @workflow.update
    async def decline(self, decision: DeclineInput) -> RecommendationStatus:
        return await self._apply("decline", decision)

    @decline.validator
    def _check_decline(self, decision: DeclineInput) -> None:
        self._check("decline", decision)

    @workflow.update
    async def withdraw(self, decision: WithdrawInput) -> RecommendationStatus:
        return await self._apply("withdraw", decision)

    @withdraw.validator
    def _check_withdraw(self, decision: WithdrawInput) -> None:
        self._check("withdraw", decision)

    @workflow.update
    async def remind_owner(self, decision: RemindOwnerInput) -> RecommendationStatus:
        return await self._apply("remind_owner", decision)

    @remind_owner.validator
    def _check_remind_owner(self, decision: RemindOwnerInput) -> None:
        self._check("remind_owner", decision)

    @workflow.update
    async def record_board_decision(self, decision: RecordBoardDecisionInput) -> RecommendationStatus:
        return await self._apply("record_board_decision", decision)

    @record_board_decision.validator
    def _check_record_board_decision(self, decision: RecordBoardDecisionInput) -> None:
        self._check("record_board_decision", decision)

    @workflow.update
    async def update_parties(self, change: UpdatePartiesInput) -> RecommendationStatus:
        """The registry changed who holds this recommendation's roles (see ``gateway.registry_sync``)."""
        return await self._apply("update_parties", change)

    @update_parties.validator
    def _check_update_parties(self, change: UpdatePartiesInput) -> None:
        self._check("update_parties", change)

    # --- query ------------------------------------------------------------------------------

    @workflow.query
    def status(self) -> RecommendationStatus:
        """Where this recommendation stands, any time, even after it has closed."""
        return self._life.status(workflow.now())

    @workflow.query
    def reader(self, person: str) -> Reader:
        """Who ``person`` is to this recommendation and which decisions it would accept from them
        now: what a response page offers. Read-only, so adding it changes no history."""
        return reader_of(self._life, person, workflow.now())


def _failure_text(failure: ActivityError, fallback: str) -> str:
    """What an effect's failure for good said: its own message when it is ours (``BadData``
    messages name no value), else only the kind of error."""
    cause = failure.cause
    if isinstance(cause, ApplicationError) and cause.type == BAD_DATA:
        return cause.message
    return f"{fallback} ({type(cause).__name__ if cause else 'no cause'})"
