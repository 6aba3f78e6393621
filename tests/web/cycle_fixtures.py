"""A cycle for the dashboard's and the API's tests: the Section 11 audit of the Review Board with
last period's returns in the store (both accepted), and this period's two returns running on the
test's queue, the ICB's submitted (standard 2 not met, with its action) and the police's still
owed. Each test gets a cycle id of its own: workflow ids are shared by the whole session's server.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pytest_asyncio
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError

from gateway.workflows import workflow_id_for
from models.cycle_lifecycle import AcceptReturnInput, ReturnInput, ReturnProjection, SubmitReturnInput
from models.cycle_returns import CommittedAction, Rating, ReturnParties, ReturnStage, StandardAnswer
from models.cycles import Cycle, agency_key, return_workflow_id
from models.payloads import EscalationPolicy, WithdrawInput
from store.cycle_returns import record_cycle_return
from store.cycles import write_cycles
from store.db import session_scope
from store.tables import CycleReturnRow
from tests import factories as f
from tests.helpers import days, end_when_idle, eventually, seed_registry, today
from tests.models.test_cycles import section_11
from workflows.cycle_return import CycleReturnWorkflow
from workflows.recommendation import RecommendationWorkflow

PERIOD, EARLIER = "2026-27", "2025-26"
POLICY = EscalationPolicy(remind_before_due="P5D", agency_lead_after="P1D", board_after="P7D", assurance_after="P14D")
PARTIES = ReturnParties(lead=f.ICB_LEAD, reviewers=[f.SPONSOR, f.CHAIR], assurance_members=[f.ASSURANCE])
LEADS = {f.ICB: f.ICB_LEAD, f.POLICE: f.POLICE_LEAD}
ACTION = "Train every ward manager in the new supervision policy"


@dataclass
class Returns:
    """The cycle and this period's running returns, by agency."""

    cycle: Cycle
    handles: dict[str, WorkflowHandle]
    action_due: date
    raised: list[str] = field(default_factory=list)

    @property
    def cycle_id(self) -> str:
        return self.cycle.cycle_id

    def workflow_id(self, agency: str, period: str = PERIOD) -> str:
        return return_workflow_id(self.cycle_id, period, agency_key(agency))

    def path(self, agency: str, period: str = PERIOD) -> str:
        return f"/dashboard/cycles/{self.cycle_id}/{period}/{agency_key(agency)}"


def answers(*, due: date, second: Rating = Rating.not_met) -> list[StandardAnswer]:
    action = CommittedAction(description=ACTION, owner=f.OWNER, due=due) if second is not Rating.met else None
    return [
        StandardAnswer(standard_id="1", rating=Rating.met, evidence="The board minutes of March"),
        StandardAnswer(standard_id="2", rating=second, evidence="Training records show 61%", action=action),
    ]


def stored_stage(database_url: str, workflow_id: str) -> str | None:
    with session_scope(database_url) as session:
        row = session.get(CycleReturnRow, workflow_id)
        return row.stage if row is not None else None


def _earlier_period(database_url: str, cycle: Cycle, now: datetime) -> None:
    """Last period's returns as their workflows left them in the store: both accepted, the ICB's
    standard 2 partly met."""
    ratings = {f.ICB: {"1": Rating.met, "2": Rating.partly_met}, f.POLICE: {"1": Rating.met, "2": Rating.met}}
    for agency, rated in ratings.items():
        data = ReturnProjection(
            workflow_id=return_workflow_id(cycle.cycle_id, EARLIER, agency_key(agency)), cycle_id=cycle.cycle_id,
            period=EARLIER, agency=agency, board=cycle.board, stage=ReturnStage.accepted, due_on=date(2025, 7, 1),
            ratings=rated, answers=[StandardAnswer(standard_id=k, rating=v, evidence="Last year's audit",
                                                   action=None if v is Rating.met else CommittedAction(
                                                       description="Audit supervision", owner=f.OWNER,
                                                       due=date(2026, 3, 31)))
                                    for k, v in rated.items()],
            submitted_at=datetime(2025, 6, 20, tzinfo=UTC), accepted_at=datetime(2025, 7, 10, tzinfo=UTC),
            version=5, at=now,
        )  # fmt: skip
        with session_scope(database_url) as session:
            record_cycle_return(session=session, data=data)


async def close(handle: WorkflowHandle, lead: str, due: date) -> None:
    """Bring a return to its end as people would (the lead returns it, the sponsor accepts it)
    and wait for its workflow to finish, while the test's worker still runs: a return cut off by
    a termination mid-task can hold the shared time-skipping clock for the later tests."""
    with suppress(WorkflowUpdateFailedError, RPCError):
        status = await handle.query(CycleReturnWorkflow.status)
        if status.closed:
            return
        if status.state.stage in (ReturnStage.awaiting, ReturnStage.challenged):
            submission = SubmitReturnInput(by=lead, answers=answers(due=due), response="Answered to end the test")
            await handle.execute_update(CycleReturnWorkflow.submit_return, submission)
        await handle.execute_update(CycleReturnWorkflow.accept_return, AcceptReturnInput(by=f.SPONSOR))
        await WorkflowHandle.result(handle)
    await end_when_idle(handle)  # only if it could not be closed so


async def withdraw(env, ref: str) -> None:
    """Close a recommendation raised in the test, while its worker still runs."""
    handle = env.client.get_workflow_handle_for(RecommendationWorkflow.run, workflow_id_for(ref))
    with suppress(WorkflowUpdateFailedError, RPCError):
        await handle.execute_update(RecommendationWorkflow.withdraw, WithdrawInput(by=f.SPONSOR, reason="test over"))
    with suppress(Exception):
        await WorkflowHandle.result(handle)


@pytest_asyncio.fixture
async def returns(env, task_queue, worker, database_url) -> AsyncIterator[Returns]:
    """The registry, the cycle, last period's record and this period's returns (see the module)."""
    seed_registry(database_url)
    now = await env.get_current_time()
    day = await today(env)
    cycle = section_11(cycle_id=f"S11-{uuid.uuid4().hex[:8]}", board="Review Board")
    with session_scope(database_url) as session:
        write_cycles(session=session, cycles=[cycle], now=now)
    _earlier_period(database_url, cycle, now)
    found = Returns(cycle=cycle, handles={}, action_due=day + days(60))
    try:
        for agency, lead in LEADS.items():
            start = ReturnInput(cycle=cycle, period=PERIOD, starts_on=day, due_on=day + days(30), agency=agency,
                                policy=POLICY, parties=PARTIES.model_copy(update={"lead": lead}))  # fmt: skip
            found.handles[agency] = await env.client.start_workflow(
                CycleReturnWorkflow.run, start, id=found.workflow_id(agency), task_queue=task_queue
            )
        await found.handles[f.ICB].execute_update(
            CycleReturnWorkflow.submit_return, SubmitReturnInput(by=f.ICB_LEAD, answers=answers(due=found.action_due))
        )
        await eventually(lambda: stored_stage(database_url, found.workflow_id(f.ICB)) == "submitted")
        await eventually(lambda: stored_stage(database_url, found.workflow_id(f.POLICE)) == "awaiting")
        yield found
    finally:
        for ref in found.raised:
            await withdraw(env, ref)
        for agency, handle in found.handles.items():
            await close(handle, LEADS[agency], found.action_due)
