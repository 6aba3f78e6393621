"""Fault injection on the real Temporal dev server: the worker dies at each point of delivery.

The worker runs as a separate process (``python worker.py``), and ``ASSURE_TEST_CRASH_AT`` makes it
die like a SIGKILL (exit status 137) once, before sending a message or after sending it but before
the sent log is written. A second worker then finishes the work. Every message must arrive; the one
resend a crash after sending makes unavoidable must carry the same Message-ID; without crashes no
message may arrive twice.

A worker that dies mid-activity leaves its attempt "started" on the server until the activity's
start-to-close timeout (two minutes for deliveries) runs out, and leaves the workflow's next task on
the dead worker's sticky queue until that task's schedule-to-start timeout (ten seconds). Rather
than wait, the test tells the server both things it would conclude by itself, only sooner: the
stranded attempt failed (retry at once), and the workflow's sticky queue is gone.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from temporalio.client import WorkflowHandle

from activities.mail.message import mail_domain, message_id_for
from gateway.workflows import start_recommendation
from models.payloads import Stage, WithdrawInput
from settings import Settings
from tests import factories as f
from tests.helpers import days, eventually, sent
from tests.processes import (
    WAIT,
    exit_status,
    expected_message_ids,
    forget_dead_worker,
    log_tail,
    logged,
    received,
    worker_process,
)
from workflows.recommendation import RecommendationWorkflow

pytestmark = pytest.mark.devserver

CRASH_POINTS = ("before_send", "after_send")


async def withdraw_and_finish(handle: WorkflowHandle) -> None:
    """Withdraw the recommendation and wait for its workflow to close, its mail all delivered."""
    async with asyncio.timeout(WAIT):
        await handle.execute_update(
            RecommendationWorkflow.withdraw, WithdrawInput(by=f.SPONSOR, reason="test finished")
        )
        result = await handle.result()
    assert Stage.withdrawn == result.stage


def task_email_id(database_url: str, ref: str, settings: Settings) -> str:
    """The Message-ID of the owner's task email for ``ref``."""
    [notification] = [n for n in sent(database_url, ref) if n.kind == "task_assigned"]
    return message_id_for(notification.key, f.OWNER, mail_domain(settings.mail_from))


class TestWorkerDiesDuringDelivery:
    @pytest.mark.parametrize("point", CRASH_POINTS)
    async def test_every_message_arrives_and_a_resend_keeps_its_message_id(
        self, dev_env, settings, database_url, tmp_path, point
    ):
        """A worker killed before sending, or after sending but before logging, is replaced: every message arrives, and the task email arrives twice (same Message-ID) only when the crash came after sending."""
        ref = f"FAULT-{point.upper().replace('_', '-')}"
        marker = tmp_path / "crashed"
        today = datetime.now(UTC).date()

        with worker_process(
            dev_env,
            settings,
            tmp_path / "worker-1.log",
            ASSURE_TEST_CRASH_AT=point,
            ASSURE_TEST_CRASH_MARKER=str(marker),
        ) as first:
            handle = await start_recommendation(
                dev_env.client,
                f.start(ref, actions=[f.action("A1", today + days(60))], measures=[]),
                task_queue=settings.task_queue,
            )
            assert 137 == await exit_status(first, tmp_path / "worker-1.log")
        assert marker.exists()

        # The crash came before the sent log was written: the task email went only if sent first.
        task_email = task_email_id(database_url, ref, settings)
        assert ({task_email: 1} if point == "after_send" else {}) == dict(received(database_url))
        assert [] == logged(database_url, ref)

        with worker_process(dev_env, settings, tmp_path / "worker-2.log") as second:
            assert 1 == len(await forget_dead_worker(dev_env, handle))
            await eventually(lambda: logged(database_url, ref), timeout=WAIT)
            await withdraw_and_finish(handle)
            assert second.poll() is None, log_tail(tmp_path / "worker-2.log")

        expected = expected_message_ids(database_url, ref, settings)
        counts = received(database_url)
        assert ("task_assigned", f.OWNER) == expected[task_email]
        assert any(kind == "withdrawn" for kind, _ in expected.values())
        assert set(expected) == set(counts)
        resent = {task_email: 2} if point == "after_send" else {}
        assert resent == {message_id: n for message_id, n in counts.items() if n != 1}
        assert sorted((message_id, "sent") for message_id in expected) == sorted(logged(database_url, ref))


class TestNoCrash:
    async def test_without_crashes_no_message_arrives_twice(self, dev_env, settings, database_url, tmp_path):
        """With a worker that never dies, every message of a recommendation arrives exactly once and is logged once."""
        ref = "FAULT-NONE"
        today = datetime.now(UTC).date()

        with worker_process(dev_env, settings, tmp_path / "worker.log") as worker:
            handle = await start_recommendation(
                dev_env.client,
                f.start(ref, actions=[f.action("A1", today + days(60))], measures=[]),
                task_queue=settings.task_queue,
            )
            await eventually(lambda: logged(database_url, ref), timeout=WAIT)
            await withdraw_and_finish(handle)
            assert worker.poll() is None, log_tail(tmp_path / "worker.log")

        expected = expected_message_ids(database_url, ref, settings)
        counts = received(database_url)
        assert ("task_assigned", f.OWNER) == expected[task_email_id(database_url, ref, settings)]
        assert any(kind == "withdrawn" for kind, _ in expected.values())
        assert dict.fromkeys(expected, 1) == dict(counts)
        assert sorted((message_id, "sent") for message_id in expected) == sorted(logged(database_url, ref))
