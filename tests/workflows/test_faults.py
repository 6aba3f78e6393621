"""Faults on the real Temporal dev server, each bounded in time: the worker killed with SIGKILL
in the middle of 200 recommendations' lifecycles, the mail relay down for a stretch, the store
(PostgreSQL) unavailable for a stretch, and the Temporal server itself stopped and restarted on
its SQLite file. Everything must come out right afterwards: every email delivered
once, every transition in the store, every workflow running on with its timers.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from contextlib import suppress
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.engine import make_url
from temporalio.api.enums.v1 import EventType
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from devtools.mailcatcher import start_mailcatcher
from gateway.workflows import dev_server_path, recommendation_status, start_recommendation
from models.payloads import (
    RECORD_TRANSITION,
    AcknowledgeInput,
    AuditOutcome,
    CompleteActionInput,
    DecisionResult,
    RecordAuditInput,
    SignOffInput,
    Stage,
    SubmitPlansInput,
    WithdrawInput,
)
from store.db import session_scope
from store.tables import RecommendationRow
from tests import factories as f
from tests.helpers import decide, eventually, free_port, stored_row, stored_seqs, temporary_database, worker_maker
from tests.processes import expected_message_ids, forget_dead_worker, log_tail, received, worker_process
from workflows.search_attributes import KEYS as SEARCH_ATTRIBUTE_KEYS

pytestmark = pytest.mark.devserver

WAIT = 60.0


def expected_mail(database_url: str, ref: str, settings) -> set[str]:
    return set(expected_message_ids(database_url, ref, settings))


async def close(handle) -> None:
    await decide(handle, "withdraw", WithdrawInput(by=f.SPONSOR, reason="test finished"))
    async with asyncio.timeout(WAIT):
        await handle.result()


async def test_the_mail_relay_down_for_a_stretch_delays_mail_and_loses_none(dev_env, settings, executor, tmp_path):
    """No relay when the task emails are due: each is retried until the relay is back, then
    delivered once (the first retry comes ten seconds after the first failure)."""
    port = free_port()
    database_url = settings.database_url
    down = settings.model_copy(update={"smtp_port": port})  # nothing listens there yet
    today = datetime.now(UTC).date()
    async with worker_maker(dev_env.client, settings=down, executor=executor)():
        handles = [
            await start_recommendation(
                dev_env.client, f.start(f"SMTP-{n}", actions=f.two_actions(today + timedelta(days=40)), measures=[]),
                task_queue=settings.task_queue,
            )
            for n in range(3)
        ]  # fmt: skip
        await asyncio.sleep(3)  # the relay stays down while the first attempts fail
        assert received(database_url) == Counter()
        relay = start_mailcatcher(host="127.0.0.1", port=port, database_url=database_url)
        try:
            wanted = set().union(*(expected_mail(database_url, f"SMTP-{n}", settings) for n in range(3)))
            assert len(wanted) == 6  # two owners' task emails for each of three
            await eventually(lambda: set(received(database_url)) >= wanted, timeout=WAIT)
            assert all(count == 1 for count in received(database_url).values())
        finally:
            for handle in handles:
                await close(handle)
            relay.stop()


@pytest.fixture
def own_postgres(postgres_url) -> Iterator[str]:
    """A PostgreSQL database for this test alone (it is made unavailable), at the current schema."""
    with temporary_database(postgres_url, "assure_fault") as url:
        yield url


def set_available(url: str, available: bool) -> None:
    """Let connections into the database again, or refuse new ones and cut the open ones."""
    server = make_url(url)
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(
                f'ALTER DATABASE "{server.database}" WITH ALLOW_CONNECTIONS {"true" if available else "false"}'
            )
            if not available:
                connection.exec_driver_sql(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    f"WHERE datname = '{server.database}' AND pid <> pg_backend_pid()"
                )
    finally:
        admin.dispose()


@pytest.mark.postgres
async def test_the_store_unavailable_for_a_stretch_loses_no_transition(dev_env, settings, executor, own_postgres):
    """PostgreSQL refuses every connection while owners take their decisions: the decisions are
    taken all the same, the projections retry, and once it is back the store holds every
    transition and every email."""
    on_postgres = settings.model_copy(update={"database_url": own_postgres})
    relay = start_mailcatcher(host="127.0.0.1", port=free_port(), database_url=settings.database_url)
    on_postgres = on_postgres.model_copy(update={"smtp_port": relay.port})
    today = datetime.now(UTC).date()
    refs = [f"STORE-DOWN-{n}" for n in range(4)]
    try:
        async with worker_maker(dev_env.client, settings=on_postgres, executor=executor)():
            handles = {
                ref: await start_recommendation(
                    dev_env.client, f.start(ref, actions=[f.action("A1", today + timedelta(days=30))], measures=[]),
                    task_queue=settings.task_queue,
                )
                for ref in refs
            }  # fmt: skip
            await eventually(lambda: len(stored(own_postgres, refs)) == len(refs), timeout=WAIT)

            set_available(own_postgres, False)
            try:
                # A decision answers from the workflow, which holds it; the store waits.
                async with asyncio.timeout(WAIT):
                    for handle in handles.values():
                        await decide(handle, "acknowledge", AcknowledgeInput(by=f.OWNER, action_id="A1"))
                        await decide(
                            handle, "complete_action", CompleteActionInput(by=f.OWNER, action_id="A1", evidence="Done")
                        )
                # Not a sleep: until each recommendation's write has failed and is being retried.
                async with asyncio.timeout(WAIT):
                    while not all([await retrying_projection(handle) for handle in handles.values()]):
                        await asyncio.sleep(0.1)
            finally:
                set_available(own_postgres, True)

            # Every transition reaches the store, in the version the workflow reached.
            for ref in refs:
                status = await recommendation_status(dev_env.client, ref)
                assert status.stage is Stage.dissemination_plan
                await eventually(lambda: stored(own_postgres, [ref])[ref].version == status.version, timeout=WAIT)  # noqa: B023
                row = stored(own_postgres, [ref])[ref]
                assert row.stage == status.stage.value
                assert stored_seqs(own_postgres, ref) == [e.seq for e in status.timeline]
            # Every email the outbox asked for was delivered, once (none was due during the outage).
            wanted = set().union(*(expected_mail(own_postgres, ref, settings) for ref in refs))
            assert len(wanted) == 2 * len(refs)  # the task, then the request for plans
            await eventually(lambda: set(received(settings.database_url)) >= wanted, timeout=WAIT)
            assert all(count == 1 for count in received(settings.database_url).values())
            for handle in handles.values():
                await close(handle)
    finally:
        relay.stop()


async def retrying_projection(handle) -> bool:
    """Whether the workflow's write to the store has failed at least once and waits to retry."""
    described = await handle.describe()
    return any(
        p.activity_type.name == RECORD_TRANSITION and p.attempt >= 2
        for p in described.raw_description.pending_activities
    )


def stored(url: str, refs: list[str]) -> dict[str, RecommendationRow]:
    with session_scope(url) as session:
        rows = session.exec(select(RecommendationRow).where(RecommendationRow.ref.in_(refs))).scalars().all()
        for row in rows:
            session.expunge(row)
        return {row.ref: row for row in rows}


async def test_the_temporal_server_restarted_on_its_file_resumes_every_workflow(settings, executor, tmp_path):
    """The dev server stops (its state in a SQLite file) and starts again on the same file and
    port: every recommendation is still running with its timer pending, and goes on taking
    decisions and sending mail."""
    db_file = tmp_path / "temporal.db"
    port = free_port()

    async def server() -> WorkflowEnvironment:
        return await WorkflowEnvironment.start_local(
            search_attributes=SEARCH_ATTRIBUTE_KEYS,
            dev_server_existing_path=dev_server_path(), data_converter=pydantic_data_converter, ui=False,
            port=port, dev_server_extra_args=["--db-filename", str(db_file)],
        )  # fmt: skip

    relay = start_mailcatcher(host="127.0.0.1", port=free_port(), database_url=settings.database_url)
    working = settings.model_copy(update={"smtp_port": relay.port})
    today = datetime.now(UTC).date()
    refs = [f"RESTART-{n}" for n in range(3)]
    try:
        first = await server()
        async with worker_maker(first.client, settings=working, executor=executor)():
            for ref in refs:
                await start_recommendation(
                    first.client, f.start(ref, actions=[f.action("A1", today + timedelta(days=30))], measures=[]),
                    task_queue=settings.task_queue,
                )  # fmt: skip
            await eventually(lambda: len(received(settings.database_url)) == len(refs), timeout=WAIT)
            before = {ref: (await recommendation_status(first.client, ref)).next_deadline for ref in refs}
        await first.shutdown()

        second = await server()
        try:
            async with worker_maker(second.client, settings=working, executor=executor)():
                for ref in refs:
                    status = await recommendation_status(second.client, ref)
                    assert status.next_deadline == before[ref]
                    assert await pending_timers(second, ref) >= 1  # its timer survived the restart
                    handle = second.client.get_workflow_handle(f"recommendation-{ref}")
                    await decide(handle, "acknowledge", AcknowledgeInput(by=f.OWNER, action_id="A1"))
                    await decide(
                        handle, "complete_action", CompleteActionInput(by=f.OWNER, action_id="A1", evidence="x")
                    )
                # The plans request for each went out after the restart, once.
                await eventually(lambda: len(received(settings.database_url)) >= 2 * len(refs), timeout=WAIT)
                assert all(count == 1 for count in received(settings.database_url).values())
                for ref in refs:
                    await close(second.client.get_workflow_handle(f"recommendation-{ref}"))
        finally:
            await second.shutdown()
    finally:
        relay.stop()


async def pending_timers(env: WorkflowEnvironment, ref: str) -> int:
    """Timers started in the workflow's history and neither fired nor cancelled."""
    history = await env.client.get_workflow_handle(f"recommendation-{ref}").fetch_history()
    started, ended = set(), set()
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
            started.add(event.timer_started_event_attributes.timer_id)
        elif event.event_type == EventType.EVENT_TYPE_TIMER_FIRED:
            ended.add(event.timer_fired_event_attributes.timer_id)
        elif event.event_type == EventType.EVENT_TYPE_TIMER_CANCELED:
            ended.add(event.timer_canceled_event_attributes.timer_id)
    return len(started - ended)


KILL_AT = 60  # recommendations assured before the worker is killed
RECOMMENDATIONS = 200


# About three minutes on a 2-core machine: the worker takes some 6 Updates a second through the
# whole lifecycle (bench/lifecycle_throughput.py), the figure issue 7's performance work raises.
@pytest.mark.timeout(360)
async def test_a_worker_killed_mid_lifecycle_loses_nothing_and_sends_nothing_twice(
    dev_env, settings, database_url, tmp_path
):
    """200 recommendations go through their whole lifecycle, twenty at a time, driven by their
    Updates; the worker process is killed with SIGKILL part-way and a new one started. Every one
    ends assured with its store row at the workflow's version, and every email the outboxes asked
    for arrives. A message the dead worker had sent but not yet logged is sent again by its
    successor with the same Message-ID (the reader's mail client shows one): that is the only
    repeat allowed, at most one per delivery in flight at the kill."""
    today = datetime.now(UTC).date()
    refs = [f"KILL-{n:03d}" for n in range(RECOMMENDATIONS)]
    assured: list[str] = []
    gate = asyncio.Semaphore(20)

    async def lifecycle(ref: str) -> None:
        async with gate:
            handle = await start_recommendation(
                dev_env.client, f.start(ref, actions=[f.action("A1", today + timedelta(days=30))]),
                task_queue=settings.task_queue,
            )  # fmt: skip
            dissemination, audit = f.credible_plans(today)
            for name, payload in (
                ("acknowledge", AcknowledgeInput(by=f.OWNER, action_id="A1")),
                ("complete_action", CompleteActionInput(by=f.OWNER, action_id="A1", evidence="Briefed")),
                ("submit_plans", SubmitPlansInput(by=f.OWNER, dissemination=dissemination, audit=audit)),
                ("sign_off", SignOffInput(by=f.ASSURANCE)),
                ("record_audit", RecordAuditInput(by=f.AUDITOR, outcome=AuditOutcome.embedded, early_reason="At once")),
            ):
                await decide(handle, name, payload)
            assured.append(ref)

    with worker_process(dev_env, settings, tmp_path / "worker-1.log") as first:
        driving = asyncio.gather(*(lifecycle(ref) for ref in refs))
        await eventually(lambda: len(assured) >= KILL_AT, timeout=120)
        first.kill()  # SIGKILL: no goodbye to the server, activities left "started"
        first.wait(timeout=10)
    with worker_process(dev_env, settings, tmp_path / "worker-2.log") as second:
        running = [r for r in refs if r not in assured]
        for ref in running:  # what the server would conclude from the timeouts, sooner
            with suppress(RPCError):
                await forget_dead_worker(
                    dev_env, dev_env.client.get_workflow_handle(f"recommendation-{ref}"), types=None
                )
        async with asyncio.timeout(240):
            await driving
        assert second.poll() is None, log_tail(tmp_path / "worker-2.log")

        # Each workflow closes once its mail is all delivered: its result says where it ended.
        final = {}
        async with asyncio.timeout(WAIT):
            for ref in refs:
                handle = dev_env.client.get_workflow_handle(f"recommendation-{ref}", result_type=DecisionResult)
                final[ref] = await handle.result()
        assert {status.stage.value for status in final.values()} == {"assured"}
        wanted = set().union(*(expected_mail(database_url, ref, settings) for ref in refs))
        await eventually(lambda: set(received(database_url)) >= wanted, timeout=WAIT)
        rows = {ref: (row.stage, row.version) for ref in refs if (row := stored_row(database_url, ref))}
        assert rows == {ref: ("assured", final[ref].version) for ref in refs}
    counts = received(database_url)
    assert set(counts) == wanted
    repeated = {message_id: n for message_id, n in counts.items() if n > 1}
    assert all(n == 2 for n in repeated.values()) and len(repeated) <= 20, repeated
