"""ReviewWorkflow: one durable workflow per review, running its statutory and local clocks.

The rules live in ``models.review_lifecycle``; this class gives them Temporal's guarantees: the
one decision (``record_review_milestone``) is an Update whose validator refuses it before it
reaches history, one loop sleeps until the next rung of a clock (or a decision) and fires what is
due, and each change reaches the store (the review row's days) and the mail relay through
activities, as a recommendation's do, with the same retry rules.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from models.payloads import DELIVER_MAIL_BATCH, MailBatchResult, Notification, mail_queue
    from models.review_lifecycle import (
        RECORD_REVIEW,
        RecordReviewMilestoneInput,
        ReviewEvent,
        ReviewInput,
        ReviewLifecycle,
        ReviewProjection,
        ReviewRefused,
        ReviewStatus,
        UpdateReviewPartiesInput,
    )
    from workflows.recommendation import (
        DELIVERY_OPTIONS,
        MAIL_BATCH_LIMIT,
        _batch_failed,
        _batch_of,
        write_to_store,
    )


@workflow.defn
class ReviewWorkflow:
    """Runs one review's clocks until each has ended or the review is published."""

    @workflow.init
    def __init__(self, start: ReviewInput) -> None:
        self._life = ReviewLifecycle.begin(start, workflow_id=workflow.info().workflow_id, now=workflow.now())
        self._woken = False
        self._stored_version = -1

    @workflow.run
    async def run(self, start: ReviewInput) -> ReviewStatus:
        while True:
            self._woken = False
            self._life.fire_due(workflow.now())
            await self._store()
            await self._send()
            if self._life.closed and not self._life.state.pending_mail and not self._life.state.outbox:
                await workflow.wait_condition(workflow.all_handlers_finished)
                if self._stored_version == self._life.state.version:
                    return self._life.status(workflow.now())
                continue
            if workflow.info().is_continue_as_new_suggested() or (
                workflow.info().get_current_history_length() > start.continue_as_new_after
            ):
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(start.model_copy(update={"state": self._life.state}))
            next_at = self._life.next_deadline()
            timeout = max(next_at - workflow.now(), timedelta(seconds=1)) if next_at is not None else None
            try:
                await workflow.wait_condition(lambda: self._woken, timeout=timeout)
            except TimeoutError:
                pass

    # --- effects ----------------------------------------------------------------------------

    async def _store(self) -> None:
        """The review row's days (and the notifications to send after), once per version."""
        state = self._life.state
        if self._stored_version == state.version and not state.outbox:
            return
        version = state.version
        write = ReviewProjection(
            review=state.review, version=version, at=workflow.now(), workflow_id=workflow.info().workflow_id,
            notifications=list(state.outbox),
        )  # fmt: skip
        refused = await write_to_store(RECORD_REVIEW, write, "the store refused the review")
        if refused is not None:
            # On the review's timeline and in the problem table, counted as stored (so the note
            # itself is not written again and again); its mail still goes.
            self._life.problem(ReviewEvent.store_refused, refused, workflow.now())
            version = state.version
        self._stored_version = version
        # Sent only once the store has the change that caused them, as a recommendation's are.
        made = list(state.outbox)
        del state.outbox[: len(made)]
        state.pending_mail.extend(made)

    async def _send(self) -> None:
        state = self._life.state
        while state.pending_mail:
            messages: list[tuple[Notification, str]] = [(n, r) for n in state.pending_mail for r in n.recipients][
                :MAIL_BATCH_LIMIT
            ]
            batch = _batch_of(workflow.info().workflow_id, messages)
            try:
                sent = await workflow.execute_activity(
                    DELIVER_MAIL_BATCH,
                    batch,
                    result_type=MailBatchResult,
                    task_queue=mail_queue(workflow.info().task_queue),
                    **DELIVERY_OPTIONS,
                )
            except ActivityError as failure:
                sent = _batch_failed(batch.deliveries(), failure)
            for delivery, result in zip(batch.deliveries(), sent.results, strict=True):
                if result.status == "failed":
                    self._life.problem(ReviewEvent.mail_failed, result.reason, workflow.now())
                self._delivered(delivery.notification.key, delivery.recipient)

    def _delivered(self, key: str, recipient: str) -> None:
        pending = self._life.state.pending_mail
        for index, waiting in enumerate(pending):
            if waiting.key == key:
                waiting.recipients = [r for r in waiting.recipients if r != recipient]
                if not waiting.recipients:
                    del pending[index]
                return

    # --- decisions --------------------------------------------------------------------------

    @workflow.update
    def record_review_milestone(self, decision: RecordReviewMilestoneInput) -> ReviewStatus:
        self._life.apply(decision, workflow.now())
        self._woken = True
        return self._life.status(workflow.now())

    @record_review_milestone.validator
    def _check_record_review_milestone(self, decision: RecordReviewMilestoneInput) -> None:
        try:
            self._life.check(decision, workflow.now())
        except ReviewRefused as refused:
            raise ApplicationError(refused.message, type=refused.type, non_retryable=True) from None

    @workflow.update
    def update_parties(self, change: UpdateReviewPartiesInput) -> bool:
        """The registry changed who holds the board's roles (see ``gateway.reviews``)."""
        changed = self._life.update_parties(change, workflow.now())
        self._woken = self._woken or changed
        return changed

    @workflow.query
    def status(self) -> ReviewStatus:
        """Where the review's clocks stand, any time, even after they have all ended."""
        return self._life.status(workflow.now())
