"""CycleReturnWorkflow: one agency's return to one period of a cycle, from the request to its
acceptance; CyclePeriodWorkflow: a period of a cycle, starting one return per agency.

The rules live in ``models.cycle_lifecycle`` and ``models.cycle_returns``; these classes give
them Temporal's guarantees, as the review's workflow does: each decision (``submit_return``,
``challenge_return``, ``accept_return``) is an Update whose validator refuses it before it reaches
history, one loop sleeps until the next rung of the ladder (or a decision) and fires what is due,
and each change reaches the store (the return's row) and then the mail relay through activities.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from models.cycle_lifecycle import (
        PLAN_CYCLE_PERIOD,
        RECORD_CYCLE_RETURN,
        AcceptReturnInput,
        ChallengeReturnInput,
        CyclePeriodInput,
        PeriodPlan,
        PeriodRequest,
        PeriodStarted,
        ReturnEvent,
        ReturnInput,
        ReturnLifecycle,
        ReturnRecord,
        ReturnRefused,
        ReturnStatus,
        SubmitReturnInput,
        UpdateReturnPartiesInput,
    )
    from models.cycles import agency_key, return_workflow_id
    from models.measure_decisions import today_in_london
    from models.payloads import store_queue
    from workflows.outbox import ClockedWorkflow
    from workflows.recommendation import STORE_RETRY, write_to_store


def _refused(refused: ReturnRefused) -> ApplicationError:
    return ApplicationError(str(refused), type="InvalidDecision", non_retryable=True)


@workflow.defn
class CycleReturnWorkflow(ClockedWorkflow[ReturnStatus]):
    """Runs one return until it is accepted."""

    _life: ReturnLifecycle

    @workflow.init
    def __init__(self, start: ReturnInput) -> None:
        self._life = ReturnLifecycle.begin(start, workflow_id=workflow.info().workflow_id, now=workflow.now())
        self._woken = False
        self._stored_version = -1

    @workflow.run
    async def run(self, start: ReturnInput) -> ReturnStatus:
        self._start = start
        return await self._run_loop(start.continue_as_new_after)

    # --- the loop's pieces (``workflows.outbox.ClockedWorkflow``) ----------------------------

    def _books(self) -> ReturnRecord:
        return self._life.record

    async def _write(self) -> str | None:
        """The return's row, and the messages to send after."""
        return await write_to_store(RECORD_CYCLE_RETURN, self._life.projection(workflow.now()),
                                    "the store refused the return")  # fmt: skip

    def _problem(self, what: str, detail: str) -> None:
        self._life.problem(ReturnEvent(what), detail, workflow.now())

    def _carried(self) -> ReturnInput:
        return self._start.model_copy(update={"record": self._life.record})

    def _result(self) -> ReturnStatus:
        return self._life.status()

    # --- decisions --------------------------------------------------------------------------

    @workflow.update
    def submit_return(self, decision: SubmitReturnInput) -> ReturnStatus:
        self._life.submit(decision, workflow.now())
        self._woken = True
        return self._life.status()

    @submit_return.validator
    def _check_submit_return(self, decision: SubmitReturnInput) -> None:
        try:
            self._life.check_submit(decision, workflow.now())
        except ReturnRefused as refused:
            raise _refused(refused) from None

    @workflow.update
    def challenge_return(self, decision: ChallengeReturnInput) -> ReturnStatus:
        self._life.challenge(decision, workflow.now())
        self._woken = True
        return self._life.status()

    @challenge_return.validator
    def _check_challenge_return(self, decision: ChallengeReturnInput) -> None:
        try:
            self._life.check_review(decision.by)
        except ReturnRefused as refused:
            raise _refused(refused) from None

    @workflow.update
    def accept_return(self, decision: AcceptReturnInput) -> ReturnStatus:
        self._life.accept(decision, workflow.now())
        self._woken = True
        return self._life.status()

    @accept_return.validator
    def _check_accept_return(self, decision: AcceptReturnInput) -> None:
        try:
            self._life.check_review(decision.by)
        except ReturnRefused as refused:
            raise _refused(refused) from None

    @workflow.update
    def update_parties(self, change: UpdateReturnPartiesInput) -> bool:
        """The registry changed who holds the roles."""
        changed = self._life.update_parties(change, workflow.now())
        self._woken = self._woken or changed
        return changed

    @workflow.query
    def status(self) -> ReturnStatus:
        """Where the return stands, any time."""
        return self._life.status()


@workflow.defn
class CyclePeriodWorkflow:
    """Starts one period's returns, one child per agency, and ends: the returns outlive it
    (``ParentClosePolicy.ABANDON``), so a period holds nothing long. A second run for the same
    period (the Schedule, then ``assure cycle run``) starts only the returns not yet asked: an
    agency added to the registry since joins then, or in the next period."""

    @workflow.run
    async def run(self, start: CyclePeriodInput) -> PeriodStarted:
        request = PeriodRequest(cycle_id=start.cycle_id, period=start.period, today=today_in_london(workflow.now()))
        plan = await workflow.execute_activity(
            PLAN_CYCLE_PERIOD, request, result_type=PeriodPlan, task_queue=store_queue(workflow.info().task_queue),
            start_to_close_timeout=timedelta(seconds=30), retry_policy=STORE_RETRY,
        )  # fmt: skip
        done = PeriodStarted(cycle_id=plan.cycle_id, period=plan.period, problems=list(plan.problems))
        for child in plan.returns:
            child_id = return_workflow_id(plan.cycle_id, plan.period, agency_key(child.agency))
            try:
                await workflow.start_child_workflow(
                    CycleReturnWorkflow.run, child, id=child_id,
                    parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                )  # fmt: skip
            except WorkflowAlreadyStartedError:
                done.already.append(child_id)
                continue
            done.started.append(child_id)
        return done
