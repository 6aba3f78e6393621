"""Helpers for workflow tests: run decisions, read the outbox, wait for projections."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

from sqlalchemy import select
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

# The local stack's helpers and temporary databases live in devtools (the benchmarks use them
# too); the tests import them from here.
from devtools.databases import temporary_database as temporary_database
from devtools.local_stack import digest_ids as digest_ids
from devtools.local_stack import drain_digests as drain_digests
from devtools.local_stack import free_port as free_port
from devtools.local_stack import sent as sent
from devtools.local_stack import skip_to as skip_to
from devtools.local_stack import worker_maker as worker_maker
from models.payloads import RecommendationStatus
from store.db import session_scope
from store.read_model import recommendation_row
from store.tables import RecommendationRow, TimelineRow
from workflows.recommendation import RecommendationWorkflow

T = TypeVar("T")

# Signs links in tests only; long enough for the signer's minimum.
TEST_SECRET_KEY = "test-only-signing-key-not-for-production-0123456789"


async def decide(handle: WorkflowHandle, name: str, payload) -> RecommendationStatus:
    """Run one decision (a Workflow Update), then return the new status from the query (the
    Update itself answers only with a small ``DecisionResult``)."""
    await handle.execute_update(getattr(RecommendationWorkflow, name), payload)
    return await handle.query(RecommendationWorkflow.status)


async def refused(handle: WorkflowHandle, name: str, payload) -> ApplicationError:
    """Run a decision that must be refused; return the validator's ApplicationError."""
    try:
        await decide(handle, name, payload)
    except WorkflowUpdateFailedError as exc:
        assert isinstance(exc.cause, ApplicationError), exc.cause
        return exc.cause
    raise AssertionError(f"{name} was not refused")


async def status(handle: WorkflowHandle) -> RecommendationStatus:
    return await handle.query(RecommendationWorkflow.status)


async def eventually(check: Callable[[], T], *, timeout: float = 15.0) -> T:
    """Poll ``check`` until it returns a truthy value: the worker processes a fired timer in
    real time after the test server's clock has moved (the clock itself does not move here)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last result {result!r}")
        await asyncio.sleep(0.05)


async def eventually_async(check: Callable[[], Awaitable[T]], *, timeout: float = 30.0) -> T:
    """Poll the coroutine ``check()`` until it returns something truthy (visibility lags a moment)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"not within {timeout}s; last {result!r}")
        await asyncio.sleep(0.2)


async def server_clock(env) -> Callable[[], datetime]:
    """A clock for the web app that reads the test server's time: earlier tests move that clock
    far ahead, and the plans a test writes are dated by it."""
    offset = await env.get_current_time() - datetime.now(UTC)
    return lambda: datetime.now(UTC) + offset


async def today(env) -> date:
    return (await env.get_current_time()).date()


def days(n: int) -> timedelta:
    return timedelta(days=n)


def stored_row(database_url: str, ref: str) -> RecommendationRow | None:
    """The read-model row of ``ref``, detached from its session."""
    with session_scope(database_url) as session:
        row = recommendation_row(session=session, ref=ref)
        if row is not None:
            session.expunge(row)
        return row


def stored_seqs(database_url: str, ref: str) -> list[int]:
    """The sequence numbers of ``ref``'s timeline events in the store, in order."""
    with session_scope(database_url) as session:
        rows = session.exec(select(TimelineRow.seq).where(TimelineRow.ref == ref).order_by(TimelineRow.seq))
        return list(rows.scalars())


async def stored_through(database_url: str, status: RecommendationStatus, *, timeout: float = 15.0) -> None:
    """Wait until the store holds ``status``'s version: a decision answers before the background
    activity has written its transition."""

    def caught_up() -> bool:
        row = stored_row(database_url, status.ref)
        return row is not None and row.version >= status.version

    await eventually(caught_up, timeout=timeout)


async def status_with_escalations(handle: WorkflowHandle, count: int, *, timeout: float = 15.0) -> RecommendationStatus:
    """The status once ``count`` escalations are recorded: after the test server's clock moves,
    the worker handles the fired timer in real time."""
    latest: list[RecommendationStatus] = []

    async def probe() -> bool:
        latest[:] = [await status(handle)]
        return len(latest[0].escalations) >= count

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await probe():
        if loop.time() > deadline:
            raise AssertionError(f"{len(latest[0].escalations)} escalations recorded, expected {count}")
        await asyncio.sleep(0.05)
    return latest[0]


def seed_registry(database_url: str) -> None:
    """Store the registry the factories' recommendations come from (``factories.registry_rows``)."""
    from store.db import session_scope
    from store.read_model import upsert_registry
    from tests.factories import registry_rows

    agencies, people, boards = registry_rows()
    with session_scope(database_url) as session:
        upsert_registry(session=session, agencies=agencies, people=people, boards=boards)


def history_busy(events) -> bool:
    """Whether a run's history has a workflow task or an activity still outstanding."""

    task_open = False
    activities: set[int] = set()
    for event in events:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
            task_open = True
        elif kind in (
            EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
            EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
            EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
        ):
            task_open = False
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            activities.add(event.event_id)
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            activities.discard(event.activity_task_completed_event_attributes.scheduled_event_id)
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
            activities.discard(event.activity_task_failed_event_attributes.scheduled_event_id)
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
            activities.discard(event.activity_task_timed_out_event_attributes.scheduled_event_id)
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED:
            activities.discard(event.activity_task_canceled_event_attributes.scheduled_event_id)
    return task_open or bool(activities)


async def end_when_idle(handle: WorkflowHandle, *, timeout: float = 30.0) -> None:
    """Terminate a workflow once its history has no workflow task or activity outstanding: one cut
    off mid-task (a mail batch, a flush after an activity) would hold the shared time-skipping
    clock for every later test until its timeout. A workflow already closed is left alone."""
    from temporalio.client import WorkflowExecutionStatus
    from temporalio.service import RPCError

    async def idle() -> bool:
        described = await handle.describe()
        if described.status != WorkflowExecutionStatus.RUNNING:
            return True
        return not history_busy((await handle.fetch_history()).events)

    try:
        await eventually_async(idle, timeout=timeout)
        if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
            await handle.terminate(reason="the test is over")
    except RPCError:
        pass  # gone already
