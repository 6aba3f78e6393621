"""No silent hang: the workflow's background work is supervised, and continue-as-new does not
wait for effects, so a relay that is down holds nothing back.

Each test runs its own time-skipping server: a workflow left failing on purpose must not hold
the shared server's clock."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from gateway import workflows as gateway
from models.payloads import DELIVER_MAIL_BATCH, MailBatch, MailBatchResult, ReportProgressInput, mail_queue
from store.db import session_scope
from store.read_model import caught_mail
from tests import factories as f
from tests.helpers import decide, eventually, eventually_async, today
from worker import build_mail_worker, build_store_worker, build_worker
from workflows.recommendation import EFFECTS_GRACE
from workflows.search_attributes import register_search_attributes


@pytest.fixture
async def own_env():
    environment = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter, test_server_existing_path=gateway.test_server_path()
    )
    await register_search_attributes(environment.client)
    yield environment
    await environment.shutdown()


@activity.defn(name=DELIVER_MAIL_BATCH)
async def a_broken_batch(batch: MailBatch) -> MailBatchResult:
    """A mail activity with a bug: it answers for none of the messages it was given."""
    return MailBatchResult(results=[])


async def test_a_failing_background_task_surfaces_as_a_failing_workflow_task(own_env, settings, executor):
    """A mail batch whose answer the workflow cannot use fails the workflow task, visibly and
    with the cause, instead of leaving the batch flag set and the mail never sent."""
    queue = f"supervised-{uuid.uuid4()}"
    on_queue = settings.model_copy(update={"task_queue": queue})
    client = own_env.client
    broken_mail = Worker(client, task_queue=mail_queue(queue), activities=[a_broken_batch])
    async with (
        build_worker(client, settings=on_queue, executor=executor),
        build_store_worker(client, settings=on_queue, executor=executor),
        broken_mail,
    ):
        start = f.start("SUPERVISED", actions=[f.action("A1", await today(own_env) + timedelta(days=30))])
        handle = await gateway.start_recommendation(client, start, task_queue=queue)

        async def failed_tasks():
            history = await handle.fetch_history()
            return [
                e.workflow_task_failed_event_attributes.failure.message
                for e in history.events
                if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
            ]

        failures = await eventually_async(failed_tasks)
        assert any("zip" in message for message in failures), failures
        await handle.terminate("test finished")


async def test_continue_as_new_goes_ahead_while_the_relay_is_down(own_env, settings, executor, database_url):
    """With nobody sending mail, a recommendation still continues as new when its history is long,
    carrying the messages still to send; they go once mail is served again."""
    queue = f"relay-down-{uuid.uuid4()}"
    on_queue = settings.model_copy(update={"task_queue": queue})
    client = own_env.client
    start = f.start("RELAY-DOWN", actions=[f.action("A1", await today(own_env) + timedelta(days=30))]).model_copy(
        update={"continue_as_new_after": 50}
    )
    async with (
        build_worker(client, settings=on_queue, executor=executor),
        build_store_worker(client, settings=on_queue, executor=executor),
    ):
        handle = await gateway.start_recommendation(client, start, task_queue=queue)
        first_run = (await handle.describe()).run_id
        for n in range(12):
            await decide(handle, "report_progress", ReportProgressInput(by=f.OWNER, action_id="A1", note=f"week {n}"))
        # The batch on its way gets its grace (workflow time), and no more.
        await own_env.sleep(EFFECTS_GRACE + timedelta(seconds=1))
        latest = client.get_workflow_handle(handle.id)

        async def continued():
            return (await latest.describe()).run_id != first_run

        assert await eventually_async(continued), "the workflow never continued as new"
        with session_scope(database_url) as session:
            assert [] == caught_mail(session=session, recipient=f.OWNER)  # nothing could be sent
        async with build_mail_worker(client, settings=on_queue):

            def task_email():
                with session_scope(database_url) as session:
                    return [m for m in caught_mail(session=session, recipient=f.OWNER) if "task" in m.subject.lower()]

            assert await eventually(task_email, timeout=30)
            await latest.execute_update("withdraw", {"by": f.SPONSOR, "reason": "test finished"})
            await latest.result()
