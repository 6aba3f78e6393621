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
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.api.workflowservice.v1 import ResetStickyTaskQueueRequest
from temporalio.client import WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.mail.message import mail_domain, message_id_for
from models.db import session_scope
from models.payloads import DELIVER_MAIL, DIGEST_KINDS, Stage, WithdrawInput
from models.store import caught_mail, sent_log
from settings import Settings
from temporal_client import start_recommendation
from tests import factories as f
from tests.helpers import TEST_SECRET_KEY, days, eventually, sent
from workflows.recommendation import RecommendationWorkflow

pytestmark = pytest.mark.devserver

ROOT = Path(__file__).resolve().parents[1]
# Every wait is bounded, so a failure is quick and says what it waited for.
WAIT = 60.0
CRASH_POINTS = ("before_send", "after_send")


def worker_environment(dev_env: WorkflowEnvironment, settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a worker process on the dev server and this test's queue, store and mail catcher."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("ASSURE_")}
    environment.update(
        ASSURE_TEMPORAL_ADDRESS=dev_env.client.service_client.config.target_host,
        ASSURE_TEMPORAL_NAMESPACE=dev_env.client.namespace,
        ASSURE_TASK_QUEUE=settings.task_queue,
        ASSURE_DATABASE_URL=settings.database_url,
        ASSURE_SMTP_HOST=settings.smtp_host,
        ASSURE_SMTP_PORT=str(settings.smtp_port),
        ASSURE_SMTP_TLS="none",
        ASSURE_SECRET_KEY=TEST_SECRET_KEY,
        ASSURE_BASE_URL=settings.base_url,
        ASSURE_MAIL_FROM=settings.mail_from,
        ASSURE_LOG_FORMAT="json",
        **extra,
    )
    return environment


def stop(process: subprocess.Popen) -> None:
    """Terminate ``process``, killing it if it does not go within a few seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@contextmanager
def worker_process(
    dev_env: WorkflowEnvironment, settings: Settings, log_path: Path, **extra: str
) -> Iterator[subprocess.Popen]:
    """``python worker.py`` from the project root, logging to ``log_path``; stopped on exit."""
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "worker.py"],
            cwd=ROOT,
            env=worker_environment(dev_env, settings, **extra),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        stop(process)


async def exit_status(process: subprocess.Popen, log_path: Path) -> int:
    """The exit status of ``process`` once it has ended (within WAIT seconds), with its log on failure."""
    try:
        await eventually(lambda: process.poll() is not None, timeout=WAIT)
    except AssertionError:
        raise AssertionError(f"the worker did not exit within {WAIT}s; its log:\n{log_tail(log_path)}") from None
    return process.returncode


def log_tail(path: Path, lines: int = 30) -> str:
    """The end of a worker's log, for assertion messages."""
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def received(database_url: str) -> Counter[str]:
    """How many times the mail catcher received each Message-ID."""
    with session_scope(database_url) as session:
        return Counter(row.message_id for row in caught_mail(session=session))


def logged(database_url: str, ref: str) -> list[tuple[str, str]]:
    """The sent log of ``ref`` as (Message-ID, status) pairs."""
    with session_scope(database_url) as session:
        return [(row.message_id, row.status) for row in sent_log(session=session, ref=ref)]


def expected_message_ids(database_url: str, ref: str, settings: Settings) -> dict[str, tuple[str, str]]:
    """Every message ``ref``'s outbox asks for, by Message-ID: its (kind, recipient)."""
    domain = mail_domain(settings.mail_from)
    return {
        message_id_for(notification.key, recipient, domain): (notification.kind, recipient)
        for notification in sent(database_url, ref)
        if notification.kind not in DIGEST_KINDS
        for recipient in notification.recipients
    }


async def fail_stranded_deliveries(dev_env: WorkflowEnvironment, handle: WorkflowHandle) -> list[str]:
    """Report every delivery attempt still "started" on the dead worker as failed, to retry at once.

    Returns the activity ids. The server concludes the same when the attempt's start-to-close
    timeout runs out; this saves the two minutes' wait.
    """
    description = await handle.describe()
    stranded = [
        pending.activity_id
        for pending in description.raw_description.pending_activities
        if pending.activity_type.name == DELIVER_MAIL
        and pending.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
    ]
    for activity_id in stranded:
        attempt = dev_env.client.get_async_activity_handle(
            workflow_id=handle.id, run_id=description.run_id, activity_id=activity_id
        )
        await attempt.fail(
            ApplicationError(
                "the worker running this attempt died", type="WorkerDied", next_retry_delay=timedelta(milliseconds=100)
            )
        )
    return stranded


async def forget_dead_worker(dev_env: WorkflowEnvironment, handle: WorkflowHandle) -> list[str]:
    """Tell the server the worker is dead: its delivery attempts failed and its sticky queue is gone.

    Returns the ids of the delivery activities that were stranded.
    """
    stranded = await fail_stranded_deliveries(dev_env, handle)
    await dev_env.client.workflow_service.reset_sticky_task_queue(
        ResetStickyTaskQueueRequest(
            namespace=dev_env.client.namespace, execution=WorkflowExecution(workflow_id=handle.id)
        )
    )
    return stranded


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
                dev_env.client, f.start(ref, actions=[f.action("A1", today + days(60))]), task_queue=settings.task_queue
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
                dev_env.client, f.start(ref, actions=[f.action("A1", today + days(60))]), task_queue=settings.task_queue
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
