"""Data an effect cannot handle is recorded for an operator, never retried for ever, and `assure
doctor` (with the dashboard's list and /readyz) shows it: a store write PostgreSQL refuses, a
recipient the message builder cannot encode, a workflow whose task keeps failing, and the read
model out of step with Temporal, both ways.

The input checks refuse such data at every entry, so each case is started straight through the
client with a crafted payload (a field the checks do not cover, or a state carried in as if by
continue-as-new). Everything runs on a real dev server of this module's own (``assure doctor``
looks at every running workflow, so no other test's may be there), real workers, the real mail
catcher, and PostgreSQL for the store's refusal.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import select
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from activities.mail.message import mail_domain, message_id_for
from gateway.doctor import Examination, examine
from gateway.workflows import dev_server_path, workflow_id_for
from models.lifecycle import Lifecycle
from models.payloads import RECORD_TRANSITION, RecommendationInput, RecommendationStatus, WithdrawInput
from store.db import session_scope
from store.read_model import apply_projection, open_problems
from store.tables import TimelineRow
from tests import factories as f
from tests.helpers import decide, eventually, eventually_async, stored_row, temporary_database, worker_maker
from tests.processes import received
from workflows.recommendation import RecommendationWorkflow
from workflows.search_attributes import KEYS as SEARCH_ATTRIBUTE_KEYS

pytestmark = pytest.mark.devserver

ASSURE = str(Path(sys.executable).parent / "assure")
WAIT = 60.0
UNSENDABLE = "mary.o\u2019brien@icb.example"  # Excel's curly apostrophe in the local part


@pytest_asyncio.fixture(scope="module")
async def own_server() -> AsyncIterator[WorkflowEnvironment]:
    """A dev server for this module alone: doctor's findings are about every running workflow."""
    environment = await WorkflowEnvironment.start_local(
        search_attributes=SEARCH_ATTRIBUTE_KEYS,
        dev_server_existing_path=dev_server_path(),
        data_converter=pydantic_data_converter,
        ui=False,
    )
    yield environment
    await environment.shutdown()


@pytest_asyncio.fixture
async def client(own_server) -> AsyncIterator[Client]:
    """The module's server; every workflow a test leaves running is terminated after it."""
    yield own_server.client
    async for execution in own_server.client.list_workflows('ExecutionStatus = "Running"'):
        with suppress(RPCError):
            await own_server.client.get_workflow_handle(execution.id).terminate("test finished")
    await eventually_async(lambda: _none_running(own_server.client))


async def _none_running(client: Client) -> bool:
    return not [e async for e in client.list_workflows('ExecutionStatus = "Running"')]


async def doctor_finds(client: Client, url: str, wanted, **options) -> Examination:
    """Examine until ``wanted(examination)`` holds (visibility and retries take a moment)."""
    latest: list[Examination] = []

    async def probe():
        latest[:] = [await examine(client, url, **options)]
        return wanted(latest[0])

    try:
        await eventually_async(probe)
    except AssertionError:
        raise AssertionError(latest[0].as_text() if latest else "no examination") from None
    return latest[0]


def kinds(examination: Examination, ref: str) -> set[str]:
    return {finding.kind for finding in examination.findings if finding.ref == ref}


def add_unsendable(state) -> None:
    """The task email goes first to an address the message builder cannot encode, then to its owner."""
    [task] = [n for n in state.outbox if n.kind == "task_assigned"]
    task.recipients = [UNSENDABLE, *task.recipients]
    task.context["roles"][UNSENDABLE] = "owner"


def crafted(ref: str, change) -> RecommendationInput:
    """A start carrying a state built by the rules and then altered by ``change(state)``, as if
    it had come through continue-as-new: a way past the input checks to data they would refuse."""
    today = datetime.now(UTC).date()
    start = f.start(ref, actions=[f.action("A1", today + timedelta(days=40))])
    life = Lifecycle.begin(start, workflow_id=workflow_id_for(ref), now=datetime.now(UTC))
    change(life.state)
    return start.model_copy(update={"state": life.state, "actions": []})


async def start_crafted(client: Client, payload: RecommendationInput, task_queue: str):
    return await client.start_workflow(
        RecommendationWorkflow.run, payload, id=workflow_id_for(payload.recommendation.ref), task_queue=task_queue
    )


@pytest.fixture
def own_postgres(postgres_url) -> Iterator[str]:
    with temporary_database(postgres_url, "assure_problems") as url:
        yield url


@pytest.mark.postgres
async def test_a_write_postgresql_refuses_is_recorded_once_and_listed_by_doctor(
    client, settings, executor, own_postgres
):
    """A transition holding a NUL is refused by PostgreSQL once, not retried: it becomes a problem (table, workflow state, timeline), the task email still goes, the next transitions are stored, and doctor lists it."""
    ref = "NUL-STORE"

    def nul_in_an_event(state) -> None:
        state.timeline[1].detail = "A1 to the owner\x00"

    payload = crafted(ref, nul_in_an_event)
    on_postgres = settings.model_copy(update={"database_url": own_postgres})
    async with worker_maker(client, settings=on_postgres, executor=executor)():
        handle = await start_crafted(client, payload, settings.task_queue)

        def problems():
            with session_scope(own_postgres) as session:
                return open_problems(session=session)

        [problem] = await eventually(problems, timeout=WAIT)
        assert (problem.kind, problem.ref, problem.workflow_id) == ("store_refused", ref, workflow_id_for(ref))
        assert "DataError" in problem.detail and "new_events[1].detail" in problem.detail
        assert "owner" not in problem.detail  # what was refused is named, not quoted
        # What follows the refused write is stored: the row, and the problem in its timeline.
        row = await eventually(lambda: stored_row(own_postgres, ref), timeout=WAIT)
        assert row.stage == "action"
        with session_scope(own_postgres) as session:
            stored_kinds = list(session.exec(select(TimelineRow.kind).where(TimelineRow.ref == ref)).scalars())
        assert "store_refused" in stored_kinds
        status: RecommendationStatus = await handle.query(RecommendationWorkflow.status)
        assert [(p.kind, p.subject, p.count) for p in status.problems] == [("store_refused", "store", 1)]
        # The task email went all the same.
        [task] = status_notifications(payload)
        task_id = message_id_for(task.key, f.OWNER, mail_domain(settings.mail_from))
        await eventually(lambda: received(settings.database_url)[task_id] == 1, timeout=WAIT)
        # Not retried: no write is pending, and the problem was seen once.
        described = await handle.describe()
        assert [
            p for p in described.raw_description.pending_activities if p.activity_type.name == RECORD_TRANSITION
        ] == []
        assert problems()[0].count == 1
        # The failure kept in history is the BadData one, naming the field, not quoting the SQL's values.
        history = await handle.fetch_history()
        [failure] = [
            e.activity_task_failed_event_attributes.failure
            for e in history.events
            if e.HasField("activity_task_failed_event_attributes")
        ]
        assert failure.application_failure_info.type == "BadData" and failure.application_failure_info.non_retryable
        assert "new_events[1].detail" in failure.message and "A1 to the owner" not in str(failure)

        found = await doctor_finds(client, own_postgres, lambda e: "problem" in kinds(e, ref), grace=timedelta(0))
        assert kinds(found, ref) == {"problem"} and found.needs_attention
        # The recommendation goes on: a decision is taken and stored.
        withdrawn = await decide(handle, "withdraw", WithdrawInput(by=f.SPONSOR, reason="test finished"))
        await eventually(lambda: stored_row(own_postgres, ref).version >= withdrawn.version, timeout=WAIT)
        async with asyncio.timeout(WAIT):
            await handle.result()


def status_notifications(payload: RecommendationInput):
    """The task notification the crafted state queued (its key fixes the Message-ID)."""
    return [n for n in payload.state.outbox if n.kind == "task_assigned"]


async def test_one_unsendable_recipient_never_holds_back_the_others(client, settings, executor):
    """A batch whose first recipient cannot be encoded sends the second all the same, records the first as failed (a problem, never retried), and the recommendation's later mail goes on."""
    ref = "UNSENDABLE"

    payload = crafted(ref, add_unsendable)
    [task] = status_notifications(payload)
    domain = mail_domain(settings.mail_from)
    async with worker_maker(client, settings=settings, executor=executor)():
        handle = await start_crafted(client, payload, settings.task_queue)
        to_owner = message_id_for(task.key, f.OWNER, domain)
        await eventually(lambda: received(settings.database_url)[to_owner] == 1, timeout=WAIT)

        def problems():
            with session_scope(settings.database_url) as session:
                return open_problems(session=session)

        [problem] = await eventually(problems, timeout=WAIT)
        assert (problem.kind, problem.ref, problem.count) == ("mail_failed", ref, 1)
        # (the reader's link refuses the address before the message builder would)
        assert problem.detail.startswith("task_assigned message could not be ")
        assert "brien" not in problem.detail  # no address kept beside the problem
        status = await eventually_async(lambda: _with_problems(handle))
        assert [(p.kind, p.subject) for p in status.problems] == [("mail_failed", UNSENDABLE)]
        assert any(e.kind == "mail_failed" for e in status.timeline)
        assert message_id_for(task.key, UNSENDABLE, domain) not in received(settings.database_url)

        # Nothing is left to retry, and the next mail goes out.
        async def settled():
            return not (await handle.describe()).raw_description.pending_activities

        # The problem's own transition is stored in the background: then nothing is left pending.
        assert await eventually_async(settled)
        withdrawn = await decide(handle, "withdraw", WithdrawInput(by=f.SPONSOR, reason="test finished"))
        assert withdrawn.stage.value == "withdrawn"
        async with asyncio.timeout(WAIT):
            await handle.result()
        found = await doctor_finds(client, settings.database_url, lambda e: "problem" in kinds(e, ref))
        assert [f_.detail for f_ in found.findings if f_.ref == ref] == [f"mail_failed: {problem.detail}"]


async def _with_problems(handle):
    status = await handle.query(RecommendationWorkflow.status)
    return status if status.problems else None


async def test_a_workflow_whose_task_keeps_failing_is_listed(client, settings, executor):
    """A start whose title holds a NUL fails its first workflow task on every try (the worker refuses the input): doctor lists the failing task, and the recommendation as missing from the store."""
    ref = "NUL-TITLE"
    payload = f.start(ref, actions=[f.action("A1", datetime.now(UTC).date() + timedelta(days=40))])
    payload.recommendation.title = "Professionals' meetings\x00"  # assigned past the checks
    async with worker_maker(client, settings=settings, executor=executor)():
        await start_crafted(client, payload, settings.task_queue)
        found = await doctor_finds(
            client, settings.database_url, lambda e: "failing_task" in kinds(e, ref), grace=timedelta(0)
        )
    assert kinds(found, ref) == {"failing_task", "missing_from_store"}
    [failing] = [x for x in found.findings if x.kind == "failing_task"]
    assert failing.count >= 1 and "failed" in failing.detail
    assert "\x00" not in found.as_text() and "Professionals" not in found.as_text()


async def test_doctor_reconciles_the_read_model_with_temporal_both_ways(client, settings):
    """A running workflow the store lacks is listed once past the grace period, and an open row whose workflow does not exist is listed too; a fresh workflow inside the grace period is not."""
    url = settings.database_url
    ghost = Lifecycle.begin(f.start("GHOST", actions=[f.action("A1", datetime.now(UTC).date() + timedelta(days=9))]),
                            workflow_id=workflow_id_for("GHOST"), now=datetime.now(UTC))  # fmt: skip
    with session_scope(url) as session:
        apply_projection(
            session=session,
            data=f.projection_of(ghost, datetime.now(UTC)),
        )
    # No worker serves this queue: the workflow runs (its first task waits), and is never stored.
    await client.start_workflow(
        RecommendationWorkflow.run, f.start("UNSTORED"), id=workflow_id_for("UNSTORED"), task_queue="nobody-serves"
    )
    found = await doctor_finds(client, url, lambda e: "missing_from_store" in kinds(e, "UNSTORED"), grace=timedelta(0))
    assert kinds(found, "UNSTORED") == {"missing_from_store"}
    assert kinds(found, "GHOST") == {"workflow_not_running"}
    [gone] = [x for x in found.findings if x.ref == "GHOST"]
    assert "Temporal has no such workflow" in gone.detail
    within_grace = await examine(client, url)  # the default grace: two minutes
    assert kinds(within_grace, "UNSTORED") == set()


def doctor_cli(own_server: WorkflowEnvironment, database_url: str, *args: str) -> subprocess.CompletedProcess:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("ASSURE_")}
    environment.update(
        ASSURE_TEMPORAL_ADDRESS=own_server.client.service_client.config.target_host,
        ASSURE_TEMPORAL_NAMESPACE=own_server.client.namespace,
        ASSURE_DATABASE_URL=database_url,
    )
    return subprocess.run([ASSURE, "doctor", *args], env=environment, capture_output=True, text=True, timeout=60)


async def test_assure_doctor_exits_0_when_all_is_well_and_1_when_something_needs_attention(
    client, own_server, settings
):
    """`assure doctor` exits 0 with "nothing needs attention" on a healthy stack, 1 listing a problem (text and JSON), and 0 again once the problem is marked resolved."""
    url = settings.database_url
    await eventually_async(lambda: _none_running(client))
    healthy = await asyncio.to_thread(doctor_cli, own_server, url)
    assert (healthy.returncode, healthy.stderr) == (0, ""), healthy.stdout
    assert "nothing needs attention" in healthy.stdout

    from store.read_model import record_problem

    with session_scope(url) as session:
        record_problem(session=session, key="w/mail_failed/x", workflow_id=workflow_id_for("SICK"), ref="SICK",
                       kind="mail_failed", detail="task_assigned message could not be encoded", now=datetime.now(UTC))  # fmt: skip
    sick = await asyncio.to_thread(doctor_cli, own_server, url)
    assert sick.returncode == 1, sick.stdout + sick.stderr
    assert (
        "problem: SICK (recommendation-SICK) [problem 1]: mail_failed: task_assigned message could not be encoded"
        in sick.stdout
    )
    as_json = await asyncio.to_thread(doctor_cli, own_server, url, "--json")
    report = json.loads(as_json.stdout)
    assert as_json.returncode == 1 and report["needs_attention"] and report["counts"] == {"problem": 1}

    resolved = await asyncio.to_thread(doctor_cli, own_server, url, "--resolve", "1")
    assert resolved.returncode == 0, resolved.stdout
    assert "1 problem(s) marked resolved" in resolved.stdout and "nothing needs attention" in resolved.stdout


async def test_admins_see_the_same_list_on_the_dashboard_and_readyz_counts_problems(client, settings):
    """An admin's "Needs attention" page lists a recorded problem (others get 404, as for anything they may not see), and /readyz stays 200 with the open problems counted by kind."""
    import httpx

    from store.read_model import record_problem, upsert_registry
    from store.sessions import COOKIE_NAME
    from store.tables import Person
    from web.app import create_app

    url = settings.database_url
    admin, member = "ops.admin@mk.example", f.ASSURANCE
    with session_scope(url) as session:
        upsert_registry(session=session, agencies=[], boards=[], people=[
            Person(email=admin, name="Oli Ops", roles="admin"), Person(email=member, name="Sam", roles="assurance_member"),
        ])  # fmt: skip
        record_problem(session=session, key="w/store_refused/x", workflow_id=workflow_id_for("SICK"), ref="SICK",
                       kind="store_refused", detail="the store refused the transition (DataError)", now=datetime.now(UTC))  # fmt: skip
    app = create_app(settings, client=client)

    def cookie_for(person: str) -> dict[str, str]:
        with session_scope(url) as session:
            return {COOKIE_NAME: app.state.ctx.cookies.start(session=session, email=person, now=datetime.now(UTC))}

    def browser(person: str | None = None) -> httpx.AsyncClient:
        cookies = cookie_for(person) if person else None
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=settings.base_url, cookies=cookies)

    async with browser(admin) as as_admin, browser(member) as as_member, browser() as anyone:
        page = await as_admin.get("/dashboard/problems")
        assert page.status_code == 200
        assert "SICK" in page.text and "the store refused the transition (DataError)" in page.text
        assert 'href="/dashboard/problems"' in (await as_admin.get("/dashboard")).text
        assert (await as_member.get("/dashboard/problems")).status_code == 404
        assert 'href="/dashboard/problems"' not in (await as_member.get("/dashboard")).text
        ready = await anyone.get("/readyz")
        assert ready.status_code == 200 and ready.json()["problems"] == {"store_refused": 1}


async def test_a_recorded_problem_is_counted_on_the_workers_metrics(own_server, client, settings, executor):
    """An unsendable recipient counts once on `assure_problems{kind="mail_failed"}` and on `assure_notifications{outcome="failed"}` at the worker's Prometheus endpoint."""
    from gateway.workflows import metrics_runtime
    from tests.activities.test_metrics import counted, scrape
    from tests.helpers import free_port

    port = free_port()
    measured = await Client.connect(
        own_server.client.service_client.config.target_host,
        namespace=own_server.client.namespace,
        data_converter=pydantic_data_converter,
        runtime=metrics_runtime(f"127.0.0.1:{port}"),
    )

    async with worker_maker(measured, settings=settings, executor=executor)():
        handle = await start_crafted(measured, crafted("METRIC-PROBLEM", add_unsendable), settings.task_queue)
        text = await eventually(
            lambda: (t := scrape(port)) and counted(t, "assure_problems", kind="mail_failed") >= 1 and t, timeout=WAIT
        )
        assert counted(text, "assure_problems", kind="mail_failed") == 1
        assert counted(text, "assure_notifications", kind="task_assigned", outcome="failed") == 1
        await decide(handle, "withdraw", WithdrawInput(by=f.SPONSOR, reason="test finished"))
        async with asyncio.timeout(WAIT):
            await handle.result()
