"""Running Assure's workers against a local Temporal server and store: ports, workers, the test
server's clock and the board digests. For the tests and the benchmarks (which do not import the
tests); the tests use these names from ``tests.helpers``."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager, suppress
from datetime import UTC, date, datetime, timedelta
from typing import Any

from temporalio.client import Client, WorkflowFailureError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from settings import Settings
from store.db import session_scope
from store.read_model import outbox
from store.tables import OutboxRow
from worker import build_workers


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def worker_maker(
    client: Client, *, settings: Settings, executor: ThreadPoolExecutor
) -> Callable[..., AbstractAsyncContextManager[Worker]]:
    """A factory of running workers on one queue and store: ``async with make():`` runs the
    decisions worker (yielded) and, unless ``settings.worker_serves`` says otherwise, the store
    and mail ones."""

    @asynccontextmanager
    async def make(**options: Any) -> AsyncIterator[Worker]:
        async with AsyncExitStack() as stack:
            workers = build_workers(client, settings=settings, executor=executor, **options)
            running = [await stack.enter_async_context(worker) for worker in workers]
            yield running[0]

    return make


async def skip_to(env: WorkflowEnvironment, day: date, hour: int = 9, *, deadline: timedelta | None = None) -> None:
    """Move the test server's clock to ``day`` at ``hour``:00 UTC (after the 08:00 deadlines).

    The server holds the clock until the worker's work is done; ``deadline`` gives the call
    longer than its default when that work is large (hundreds of recommendations at once)."""
    from temporalio.api.testservice.v1 import SleepRequest

    target = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
    now = await env.get_current_time()
    if target <= now:
        return
    if deadline is None:
        await env.sleep(target - now)
        return
    request = SleepRequest()
    request.duration.FromTimedelta(target - now)
    await env.client.test_service.unlock_time_skipping_with_sleep(request, timeout=deadline)


def sent(database_url: str, ref: str | None = None) -> list[OutboxRow]:
    """The outbox's rows (of ``ref``, or all), detached from their session."""
    with session_scope(database_url) as session:
        rows = outbox(session=session, ref=ref)
        for row in rows:
            session.expunge(row)
        return rows


def digest_ids(database_url: str) -> list[tuple[str, date]]:
    """The board digest workflows the stored escalations started, with their days."""
    from activities.digest import digest_workflow_id
    from models.calendar import roll_forward
    from models.payloads import DIGEST_KINDS, DIGEST_ROLES

    ids = {
        (digest_workflow_id(recipient, day), day)
        for row in sent(database_url)
        if row.kind in DIGEST_KINDS
        for day in [roll_forward(row.created_at.date())]
        for recipient in row.recipients
        if row.context.get("roles", {}).get(recipient) in DIGEST_ROLES
    }
    return sorted(ids)


async def drain_digests(env: WorkflowEnvironment, database_url: str) -> None:
    """Let the board digests a run's escalations started send, while its worker still runs.

    They wait for their sending time; one left waiting holds the shared time-skipping clock once
    its worker has gone. Only handles from start_workflow skip time while awaiting a result, so
    move the clock past the last digest's sending time, then collect them.
    """
    from workflows.board_digest import DIGEST_TIME

    digests = digest_ids(database_url)
    if not digests:
        return
    last_send = max(datetime.combine(day, DIGEST_TIME, tzinfo=UTC) for _, day in digests)
    now = await env.get_current_time()
    if last_send + timedelta(minutes=1) > now:
        await env.sleep(last_send + timedelta(minutes=1) - now)
    for digest_id, _ in digests:
        with suppress(WorkflowFailureError, RPCError):
            await asyncio.wait_for(env.client.get_workflow_handle(digest_id).result(), timeout=30)
