"""Helpers for workflow tests: run decisions, read the outbox, wait for projections."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from datetime import date, timedelta
from typing import TypeVar

from sqlalchemy import select
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from models.payloads import RecommendationStatus
from settings import Settings
from store.db import session_scope
from store.read_model import outbox, recommendation_row
from store.tables import OutboxRow, RecommendationRow, TimelineRow
from worker import build_workers
from workflows.recommendation import RecommendationWorkflow

T = TypeVar("T")

# Signs links in tests only; long enough for the signer's minimum.
TEST_SECRET_KEY = "test-only-signing-key-not-for-production-0123456789"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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


async def skip_to(env, day: date, hour: int = 9, *, deadline: timedelta | None = None) -> None:
    """Move the test server's clock to ``day`` at ``hour``:00 UTC (after the 08:00 deadlines).

    The server holds the clock until the worker's work is done; ``deadline`` gives the call
    longer than its default when that work is large (hundreds of recommendations at once)."""
    from datetime import UTC, datetime

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


def worker_maker(client, *, settings: Settings, executor: ThreadPoolExecutor):
    """A factory of running workers on one queue and store: ``async with make():`` runs the
    decisions worker (yielded) and, unless ``settings.worker_serves`` says otherwise, the store
    and mail ones."""

    @asynccontextmanager
    async def make(**options) -> AsyncIterator[Worker]:
        async with AsyncExitStack() as stack:
            workers = build_workers(client, settings=settings, executor=executor, **options)
            running = [await stack.enter_async_context(worker) for worker in workers]
            yield running[0]

    return make


def digest_ids(database_url: str) -> list[tuple[str, date]]:
    """The board digest workflows this test's escalations started, with their days."""
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


async def drain_digests(env, database_url: str) -> None:
    """Let the board digests a test's escalations started send, while its worker still runs.

    They wait for their sending time; one left waiting holds the shared time-skipping clock once
    its worker has gone. Only handles from start_workflow skip time while awaiting a result, so
    move the clock past the last digest's sending time, then collect them.
    """
    from contextlib import suppress
    from datetime import UTC, datetime

    from temporalio.client import WorkflowFailureError
    from temporalio.service import RPCError

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


@contextmanager
def temporary_database(server_url: str, prefix: str, *, migrated: bool = True) -> Iterator[str]:
    """A new PostgreSQL database on the server of ``server_url`` (at the current schema unless
    ``migrated`` is False), dropped on leaving, even one left refusing connections. Creating it
    raises ``OperationalError`` when the server does not answer."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    from store.db import get_engine, migrate

    server = make_url(server_url)
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(
        server.set(database="postgres"), isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except BaseException:
        admin.dispose()
        raise
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        if migrated:
            migrate(url)
        yield url
    finally:
        get_engine(url).dispose()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def seed_registry(database_url: str) -> None:
    """Store the registry the factories' recommendations come from (``factories.registry_rows``)."""
    from store.db import session_scope
    from store.read_model import upsert_registry
    from tests.factories import registry_rows

    agencies, people, boards = registry_rows()
    with session_scope(database_url) as session:
        upsert_registry(session=session, agencies=agencies, people=people, boards=boards)
