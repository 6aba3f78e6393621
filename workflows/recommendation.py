"""RecommendationWorkflow: one durable workflow per recommendation, for its whole lifecycle.

The rules live in ``models.lifecycle.Lifecycle``; this class gives them Temporal's guarantees:
every human decision is an Update whose validator refuses bad decisions before they reach
history, one loop sleeps until the next deadline (or a decision) and fires what is due, and the
effects run beside it: each transition's delta written to the store, and its mail sent in
batches, each by an activity on its own task queue.

History stays small: an Update answers with a ``DecisionResult``, the store gets deltas
(``models.projection``), and a mail batch carries each notification once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from contextlib import suppress
from datetime import datetime, timedelta
from typing import Any, NoReturn

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.search_attributes import SearchAttributesPublisher

with workflow.unsafe.imports_passed_through():
    from models.lifecycle import DecisionRefused, Lifecycle, rule_for
    from models.payloads import (
        ADD_TO_BOARD_DIGEST,
        BAD_DATA,
        DELIVER_MAIL_BATCH,
        DIGEST_KINDS,
        DIGEST_ROLES,
        RECORD_TRANSITION,
        AcknowledgeInput,
        ActionRowFacts,
        AddActionsInput,
        AddMeasuresInput,
        AgreeActionsInput,
        CascadeRowFacts,
        ChangeDueDateInput,
        CompleteActionInput,
        ConfirmCascadeInput,
        DecideExtensionInput,
        Decision,
        DecisionResult,
        DeclineInput,
        HandOverInput,
        MailBatch,
        MailBatchResult,
        MailDelivery,
        MailDeliveryResult,
        MeasureRowFacts,
        Notification,
        ProjectionInput,
        ReassignOwnerInput,
        RecommendationInput,
        RecommendationStatus,
        RecordAuditInput,
        RecordBoardDecisionInput,
        RecordReadingInput,
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
    from models.projection import action_rows, cascade_rows, measure_rows, projection

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
# How long continuing as new waits for a store write or mail already on its way (see
# _continue_as_new): a healthy store and relay answer in well under a second.
EFFECTS_GRACE = timedelta(seconds=10)
# The most messages one batch carries (one activity's input stays small); the rest go next.
MAIL_BATCH_LIMIT = 25


@workflow.defn
class RecommendationWorkflow:
    """Runs one recommendation from review to assured, declined or withdrawn."""

    @workflow.init
    def __init__(self, start: RecommendationInput) -> None:
        # Built in init so that updates and queries arriving before run() see the state.
        self._life = Lifecycle.begin(start, workflow_id=workflow.info().workflow_id, now=workflow.now())
        self._continue_as_new_after = start.continue_as_new_after
        self._woken = False
        # Messages on their way, by (notification key, recipient); what is pending is in state.
        self._in_flight: set[tuple[str, str]] = set()
        self._batch_in_flight = False
        # A transition being stored in the background (see _start_projection), and the action
        # rows this run has stored (None before its first write: see models.projection).
        self._projecting = False
        self._stored_actions: dict[str, ActionRowFacts] | None = None
        self._stored_cascade: list[CascadeRowFacts] | None = None
        self._stored_measures: dict[str, MeasureRowFacts] | None = None
        # The timer to the next deadline, and that deadline (see _sleep_until_next_deadline).
        self._timer: asyncio.Task[None] | None = None
        self._timer_at: datetime | None = None
        # The first failure of a background task (a bug, not an outage: those are retried in the
        # activity), raised by the main loop so that it surfaces as a failing workflow task.
        self._background_failure: BaseException | None = None
        self._search_attributes = SearchAttributesPublisher()

    @workflow.run
    async def run(self, start: RecommendationInput) -> DecisionResult:
        while True:
            # Reset before the effects start: a decision taken meanwhile wakes the next wait.
            self._woken = False
            if self._background_failure is not None:
                raise self._background_failure
            self._life.fire_due(workflow.now())
            if not self._life.closed and self._should_continue_as_new():
                await self._continue_as_new(start)
            self._start_projection()
            self._start_deliveries()
            if self._finished():
                break
            await self._sleep_until_next_deadline()
        return self._result()

    async def _continue_as_new(self, start: RecommendationInput) -> NoReturn:
        """Continue as new, carrying the whole state. Checked before any new effect starts, so none
        is started only to be abandoned; effects already on their way get a short grace to land
        (their work is then not done twice), and no more: what is still to store or send is in
        the state (unstored events and notifications, pending mail), so the next run does it, and
        a relay that is down holds nothing back. The handlers are always waited for, and nothing
        awaits between that wait and continuing."""
        with suppress(TimeoutError):
            await workflow.wait_condition(lambda: not self._effects_in_flight(), timeout=EFFECTS_GRACE)
        await workflow.wait_condition(workflow.all_handlers_finished)
        # The state holds the actions, measures and readings it started with: not carried twice.
        carried = {"state": self._life.state, "actions": [], "measures": [], "readings": []}
        workflow.continue_as_new(start.model_copy(update=carried))

    def _effects_in_flight(self) -> bool:
        return self._projecting or self._batch_in_flight or bool(self._in_flight)

    def _result(self) -> DecisionResult:
        status = self._life.status(workflow.now())
        return DecisionResult(
            stage=status.stage,
            version=status.version,
            next_deadline=status.next_deadline,
            closed_reason=status.closed_reason,
        )

    def _publish_search_attributes(self, status: RecommendationStatus) -> None:
        self._search_attributes.publish(
            stage=status.stage.value,
            board=status.board,
            overdue=status.overdue,
            level=status.escalation_level.value,
        )

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
        """Wait for the next timer, a decision, a bounce or a failure, whichever comes first. The
        timer is kept while the deadline stays the same, not started again at every decision."""
        next_at = self._life.next_deadline()
        if self._timer is None or self._timer.done() or next_at != self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer, self._timer_at = None, next_at
            if next_at is not None:
                delay = max(next_at - workflow.now(), timedelta(seconds=1))
                self._timer = asyncio.create_task(workflow.sleep(delay))
        timer = self._timer
        await workflow.wait_condition(
            lambda: (
                self._woken
                or self._finished()
                or self._background_failure is not None
                or (timer is not None and timer.done())
            )
        )

    # --- supervised background work ---------------------------------------------------------

    def _in_background(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` beside the main loop; should it fail, the main loop raises the failure."""
        task = asyncio.create_task(work)
        task.add_done_callback(self._watch)

    def _watch(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        if self._background_failure is None:
            self._background_failure = task.exception()

    # --- mail -------------------------------------------------------------------------------

    def _start_deliveries(self) -> None:
        """Start delivering every pending message not already on its way: the board's escalations
        to its digest, the rest in one batch at a time (what is queued meanwhile goes next)."""
        to_send: list[tuple[Notification, str]] = []
        for notification in self._life.state.pending_mail:
            for recipient in notification.recipients:
                key = (notification.key, recipient)
                if key in self._in_flight:
                    continue
                if _for_digest(notification, recipient):
                    self._in_flight.add(key)
                    self._in_background(self._add_to_digest(notification, recipient))
                else:
                    to_send.append((notification, recipient))
        if to_send and not self._batch_in_flight:
            batch = to_send[:MAIL_BATCH_LIMIT]
            self._in_flight.update((n.key, r) for n, r in batch)
            self._batch_in_flight = True
            self._in_background(self._send_batch(_batch_of(workflow.info().workflow_id, batch)))

    async def _add_to_digest(self, notification: Notification, recipient: str) -> None:
        delivery = MailDelivery(workflow_id=workflow.info().workflow_id, notification=notification, recipient=recipient)
        await workflow.execute_activity(
            ADD_TO_BOARD_DIGEST,
            delivery,
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=MAIL_RETRY,
        )
        self._delivered(delivery, None)

    async def _send_batch(self, batch: MailBatch) -> None:
        deliveries = batch.deliveries()
        try:
            try:
                sent = await workflow.execute_activity(
                    DELIVER_MAIL_BATCH,
                    batch,
                    result_type=MailBatchResult,
                    task_queue=mail_queue(workflow.info().task_queue),
                    **DELIVERY_OPTIONS,
                )
            except ActivityError as failure:
                # A relay that is down is retried without limit: only a failure for good gets here.
                sent = _batch_failed(deliveries, failure)
            for delivery, result in zip(deliveries, sent.results, strict=True):
                self._delivered(delivery, result)
        finally:
            # One batch at a time: a burst of decisions costs one batch (and one workflow task)
            # for what it queued while the last was out, not one per decision.
            self._batch_in_flight = False
        self._start_deliveries()

    def _delivered(self, delivery: MailDelivery, result: MailDeliveryResult | None) -> None:
        notification, recipient = delivery.notification, delivery.recipient
        self._in_flight.discard((notification.key, recipient))
        pending = self._life.state.pending_mail
        for index, waiting in enumerate(pending):
            if waiting.key == notification.key:
                waiting.recipients = [r for r in waiting.recipients if r != recipient]
                if not waiting.recipients:
                    del pending[index]
                break
        if result is not None and result.status == "bounced":
            self._life.mail_bounced(delivery, result, workflow.now())
        elif result is not None and result.status == "failed":
            # Not sent, and never will be as it is: for an operator, and on the recommendation.
            # The recipient is the problem's subject; its detail names nobody.
            self._life.problem("mail_failed", recipient, result.reason, workflow.now())
        else:
            # A delivered message changes nothing the main loop acts on (its wait also ends when
            # the last one of a closed recommendation is done): it stays asleep.
            return
        self._woken = True

    # --- the store --------------------------------------------------------------------------

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
        self._in_background(self._project())

    async def _project(self) -> None:
        state = self._life.state
        status = self._life.status(workflow.now())
        # Published with each store write, not each decision: a burst of decisions costs one
        # upsert (a visibility write on the server) as it costs one write, and Temporal's view
        # of the stage keeps step with the read model's.
        self._publish_search_attributes(status)
        write = projection(
            status,
            workflow_id=workflow.info().workflow_id,
            audit_due=self._life.planned_audit_on(),
            new_events=[e for e in state.timeline if e.seq > state.projected_seq],
            notifications=list(state.outbox),
            stored_actions=self._stored_actions,
            stored_cascade=self._stored_cascade,
            stored_measures=self._stored_measures,
        )
        try:
            # On the store queue, off the decisions' path. Its worker takes a few writes at a time,
            # so in a burst a write waits its turn while this recommendation's next decisions queue
            # up for the write after it: fewer, fuller writes. A write retried (or late) is
            # harmless: the store keeps the newest version and ignores a timeline event or
            # notification it already has.
            refused = await write_to_store(RECORD_TRANSITION, write, "the store refused the transition")
            if refused is not None:
                # The store refused this write's data (the activity has put it in the problem
                # table). Noted on the recommendation, then on as if stored, so its mail still goes
                # and the next transition is written as usual (whole again, as a first write is,
                # since the refused one may have been the row's first); the read model lags until
                # an operator deals with it.
                self._life.problem("store_refused", "store", refused, workflow.now())
                self._stored_actions = None
            else:
                self._stored_actions = {row.action_id: row for row in action_rows(status)}
                self._stored_cascade = cascade_rows(status)
                self._stored_measures = measure_rows(status)
            self._projected(write)
        finally:
            self._projecting = False
        self._start_projection()
        self._start_deliveries()

    def _projected(self, write: ProjectionInput) -> None:
        """The store has ``write``: count its escalations and send its mail."""
        state = self._life.state
        new_events, notifications = write.new_events, write.notifications
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
        state.pending_mail.extend(n.model_copy(deep=True) for n in notifications)

    # --- decisions --------------------------------------------------------------------------

    def _check(self, decision: Decision) -> None:
        try:
            self._life.check(decision, workflow.now())
        except DecisionRefused as refused:
            # Counted for the operators' dashboards (never recorded on replay; validators never replay).
            workflow.metric_meter().create_counter(
                "assure_decisions_refused", "Decisions refused by the workflow, by decision and reason"
            ).add(1, {"decision": rule_for(decision).name, "reason": refused.type})
            raise ApplicationError(
                refused.message, {"gaps": refused.gaps}, type=refused.type, non_retryable=True
            ) from None

    def _decide(self, decision: Decision) -> DecisionResult:
        """Apply a checked decision. The caller gets a small answer and reads the ``status`` query
        for the pages after; the store catches up in the background (normally within a second)."""
        self._life.apply(decision, workflow.now())
        return self._changed()

    def _changed(self) -> DecisionResult:
        """After a change by an Update: wake the main loop, start storing, answer small."""
        self._woken = True
        self._start_projection()
        return self._result()

    @workflow.update
    def agree_actions(self, decision: AgreeActionsInput) -> DecisionResult:
        return self._decide(decision)

    @agree_actions.validator
    def _check_agree_actions(self, decision: AgreeActionsInput) -> None:
        self._check(decision)

    @workflow.update
    def acknowledge(self, decision: AcknowledgeInput) -> DecisionResult:
        return self._decide(decision)

    @acknowledge.validator
    def _check_acknowledge(self, decision: AcknowledgeInput) -> None:
        self._check(decision)

    @workflow.update
    def report_progress(self, decision: ReportProgressInput) -> DecisionResult:
        return self._decide(decision)

    @report_progress.validator
    def _check_report_progress(self, decision: ReportProgressInput) -> None:
        self._check(decision)

    @workflow.update
    def request_extension(self, decision: RequestExtensionInput) -> DecisionResult:
        return self._decide(decision)

    @request_extension.validator
    def _check_request_extension(self, decision: RequestExtensionInput) -> None:
        self._check(decision)

    @workflow.update
    def decide_extension(self, decision: DecideExtensionInput) -> DecisionResult:
        return self._decide(decision)

    @decide_extension.validator
    def _check_decide_extension(self, decision: DecideExtensionInput) -> None:
        self._check(decision)

    @workflow.update
    def complete_action(self, decision: CompleteActionInput) -> DecisionResult:
        return self._decide(decision)

    @complete_action.validator
    def _check_complete_action(self, decision: CompleteActionInput) -> None:
        self._check(decision)

    @workflow.update
    def reassign_owner(self, decision: ReassignOwnerInput) -> DecisionResult:
        return self._decide(decision)

    @reassign_owner.validator
    def _check_reassign_owner(self, decision: ReassignOwnerInput) -> None:
        self._check(decision)

    @workflow.update
    def add_actions(self, decision: AddActionsInput) -> DecisionResult:
        return self._decide(decision)

    @add_actions.validator
    def _check_add_actions(self, decision: AddActionsInput) -> None:
        self._check(decision)

    @workflow.update
    def change_due_date(self, decision: ChangeDueDateInput) -> DecisionResult:
        return self._decide(decision)

    @change_due_date.validator
    def _check_change_due_date(self, decision: ChangeDueDateInput) -> None:
        self._check(decision)

    @workflow.update
    def submit_plans(self, decision: SubmitPlansInput) -> DecisionResult:
        return self._decide(decision)

    @submit_plans.validator
    def _check_submit_plans(self, decision: SubmitPlansInput) -> None:
        self._check(decision)

    @workflow.update
    def sign_off(self, decision: SignOffInput) -> DecisionResult:
        return self._decide(decision)

    @sign_off.validator
    def _check_sign_off(self, decision: SignOffInput) -> None:
        self._check(decision)

    @workflow.update
    def confirm_cascade(self, decision: ConfirmCascadeInput) -> DecisionResult:
        return self._decide(decision)

    @confirm_cascade.validator
    def _check_confirm_cascade(self, decision: ConfirmCascadeInput) -> None:
        self._check(decision)

    @workflow.update
    def add_measures(self, decision: AddMeasuresInput) -> DecisionResult:
        return self._decide(decision)

    @add_measures.validator
    def _check_add_measures(self, decision: AddMeasuresInput) -> None:
        self._check(decision)

    @workflow.update
    def record_reading(self, decision: RecordReadingInput) -> DecisionResult:
        return self._decide(decision)

    @record_reading.validator
    def _check_record_reading(self, decision: RecordReadingInput) -> None:
        self._check(decision)

    @workflow.update
    def record_audit(self, decision: RecordAuditInput) -> DecisionResult:
        return self._decide(decision)

    @record_audit.validator
    def _check_record_audit(self, decision: RecordAuditInput) -> None:
        self._check(decision)

    @workflow.update
    def decline(self, decision: DeclineInput) -> DecisionResult:
        return self._decide(decision)

    @decline.validator
    def _check_decline(self, decision: DeclineInput) -> None:
        self._check(decision)

    @workflow.update
    def withdraw(self, decision: WithdrawInput) -> DecisionResult:
        return self._decide(decision)

    @withdraw.validator
    def _check_withdraw(self, decision: WithdrawInput) -> None:
        self._check(decision)

    @workflow.update
    def remind_owner(self, decision: RemindOwnerInput) -> DecisionResult:
        return self._decide(decision)

    @remind_owner.validator
    def _check_remind_owner(self, decision: RemindOwnerInput) -> None:
        self._check(decision)

    @workflow.update
    def record_board_decision(self, decision: RecordBoardDecisionInput) -> DecisionResult:
        return self._decide(decision)

    @record_board_decision.validator
    def _check_record_board_decision(self, decision: RecordBoardDecisionInput) -> None:
        self._check(decision)

    @workflow.update
    def update_parties(self, change: UpdatePartiesInput) -> DecisionResult:
        """The registry changed who holds this recommendation's roles (see ``gateway.registry_sync``)."""
        self._life.apply_update_parties(change, workflow.now())
        return self._changed()

    @update_parties.validator
    def _check_update_parties(self, change: UpdatePartiesInput) -> None:
        try:
            self._life.check_update_parties(change, workflow.now())
        except DecisionRefused as refused:
            raise ApplicationError(refused.message, type=refused.type, non_retryable=True) from None

    @workflow.update
    def hand_over(self, change: HandOverInput) -> list[str]:
        """Someone left: what they hold by name passes to their successor (``workflows.hand_over``);
        answers what passed."""
        parts = self._life.apply_hand_over(change, workflow.now())
        self._changed()
        return parts

    @hand_over.validator
    def _check_hand_over(self, change: HandOverInput) -> None:
        try:
            self._life.check_hand_over(change, workflow.now())
        except DecisionRefused as refused:
            raise ApplicationError(refused.message, type=refused.type, non_retryable=True) from None

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


def _for_digest(notification: Notification, recipient: str) -> bool:
    """The board hears of escalations once a day: the digest workflow sends and logs them."""
    role = notification.context.get("roles", {}).get(recipient)
    return notification.kind in DIGEST_KINDS and role in DIGEST_ROLES


def _batch_of(workflow_id: str, messages: list[tuple[Notification, str]]) -> MailBatch:
    """One batch carrying each notification once, with the recipients it goes to in this batch."""
    grouped: dict[str, Notification] = {}
    for notification, recipient in messages:
        if notification.key not in grouped:
            grouped[notification.key] = notification.model_copy(update={"recipients": []})
        grouped[notification.key].recipients.append(recipient)
    return MailBatch(workflow_id=workflow_id, notifications=list(grouped.values()))


def _batch_failed(deliveries: list[MailDelivery], failure: ActivityError) -> MailBatchResult:
    """A whole batch that failed for good, as one failed result per message: each is recorded as a
    problem, and the recommendation's later mail goes on."""
    reason = _failure_text(failure, "the mail batch failed")
    return MailBatchResult(
        results=[MailDeliveryResult(status="failed", message_id="", reason=reason) for _ in deliveries]
    )


async def write_to_store(activity: str, payload: Any, refused: str) -> str | None:
    """Run a write on the store's queue; None once stored, else why the store refused it for good
    (only such a failure ends the activity: an outage is retried without limit)."""
    try:
        await workflow.execute_activity(
            activity,
            payload,
            task_queue=store_queue(workflow.info().task_queue),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=STORE_RETRY,
        )
    except ActivityError as failure:
        return _failure_text(failure, refused)
    return None


def _failure_text(failure: ActivityError, fallback: str) -> str:
    """What an effect's failure for good said: its own message when it is ours (``BadData``
    messages name no value), else only the kind of error."""
    cause = failure.cause
    if isinstance(cause, ApplicationError) and cause.type == BAD_DATA:
        return cause.message
    return f"{fallback} ({type(cause).__name__ if cause else 'no cause'})"
