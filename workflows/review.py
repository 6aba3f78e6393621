"""ReviewWorkflow: one durable workflow per review, running its statutory and local clocks.

The rules live in ``models.review_lifecycle``; this class gives them Temporal's guarantees: the
one decision (``record_review_milestone``) is an Update whose validator refuses it before it
reaches history, one loop sleeps until the next rung of a clock (or a decision) and fires what is
due, and each change reaches the store (the review row's days) and the mail relay through
activities, as a recommendation's do, with the same retry rules.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from models.review_lifecycle import (
        RECORD_REVIEW,
        RecordReviewMilestoneInput,
        ReviewEvent,
        ReviewInput,
        ReviewLifecycle,
        ReviewProjection,
        ReviewRefused,
        ReviewState,
        ReviewStatus,
        UpdateReviewPartiesInput,
    )
    from workflows.outbox import ClockedWorkflow
    from workflows.recommendation import write_to_store


@workflow.defn
class ReviewWorkflow(ClockedWorkflow[ReviewStatus]):
    """Runs one review's clocks until each has ended or the review is published."""

    _life: ReviewLifecycle

    @workflow.init
    def __init__(self, start: ReviewInput) -> None:
        self._life = ReviewLifecycle.begin(start, workflow_id=workflow.info().workflow_id, now=workflow.now())
        self._woken = False
        self._stored_version = -1

    @workflow.run
    async def run(self, start: ReviewInput) -> ReviewStatus:
        self._start = start
        return await self._run_loop(start.continue_as_new_after)

    # --- the loop's pieces (``workflows.outbox.ClockedWorkflow``) ----------------------------

    def _books(self) -> ReviewState:
        return self._life.state

    async def _write(self) -> str | None:
        """The review row's days, and the notifications to send after."""
        state = self._life.state
        write = ReviewProjection(
            review=state.review, version=state.version, at=workflow.now(), workflow_id=workflow.info().workflow_id,
            notifications=list(state.outbox),
        )  # fmt: skip
        return await write_to_store(RECORD_REVIEW, write, "the store refused the review")

    def _problem(self, what: str, detail: str) -> None:
        self._life.problem(ReviewEvent(what), detail, workflow.now())

    def _carried(self) -> ReviewInput:
        return self._start.model_copy(update={"state": self._life.state})

    def _result(self) -> ReviewStatus:
        return self._life.status(workflow.now())

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
