"""Helpers for workflow tests: run decisions, read the outbox, wait for projections."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import date, timedelta
from typing import TypeVar

from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from models.db import session_scope
from models.payloads import RecommendationStatus
from models.store import outbox, recommendation_row
from models.tables import OutboxRow, RecommendationRow
from worker import build_worker
from workflows.recommendation import RecommendationWorkflow

T = TypeVar("T")


async def decide(handle: WorkflowHandle, name: str, payload) -> RecommendationStatus:
    """Run one decision (a Workflow Update) and return the new status."""
    return await handle.execute_update(getattr(RecommendationWorkflow, name), payload)


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


def sent(database_url: str, ref: str | None = None) -> list[OutboxRow]:
    with session_scope(database_url) as session:
        rows = outbox(session=session, ref=ref)
        for row in rows:
            session.expunge(row)
        return rows


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


async def today(env) -> date:
    return (await env.get_current_time()).date()


async def skip_to(env, day: date, hour: int = 9) -> None:
    """Move the test server's clock to ``day`` at ``hour``:00 UTC (after the 08:00 deadlines)."""
    from datetime import UTC, datetime

    target = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
    now = await env.get_current_time()
    if target > now:
        await env.sleep(target - now)


def days(n: int) -> timedelta:
    return timedelta(days=n)


def stored_row(database_url: str, ref: str) -> RecommendationRow | None:
    """The read-model row of ``ref``, detached from its session."""
    with session_scope(database_url) as session:
        row = recommendation_row(session=session, ref=ref)
        if row is not None:
            session.expunge(row)
        return row


def worker_maker(client, *, task_queue: str, database_url: str, executor: ThreadPoolExecutor):
    """A factory of running workers on one queue and store: ``async with make():`` runs one."""

    @asynccontextmanager
    async def make(**options) -> AsyncIterator[Worker]:
        worker = build_worker(client, task_queue=task_queue, database_url=database_url, executor=executor, **options)
        async with worker as running:
            yield running

    return make
