"""Worker processes for the fault tests: ``python worker.py`` with a test's settings, stopped or
killed at will, and what to tell the server after a worker died so that tests need not wait out
its timeouts."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.api.workflowservice.v1 import ResetStickyTaskQueueRequest
from temporalio.client import WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.mail.message import mail_domain, message_id_for
from models.payloads import DELIVER_MAIL, DELIVER_MAIL_BATCH, DIGEST_KINDS
from settings import Settings
from store.db import session_scope
from store.read_model import caught_mail, sent_log
from tests.helpers import TEST_SECRET_KEY, eventually, sent

ROOT = Path(__file__).resolve().parents[1]
# Every wait is bounded, so a failure is quick and says what it waited for.
WAIT = 60.0

# The activities that send mail: one message, or a transition's messages together.
DELIVERIES = frozenset({DELIVER_MAIL, DELIVER_MAIL_BATCH})


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


async def fail_stranded_deliveries(
    dev_env: WorkflowEnvironment, handle: WorkflowHandle, *, types: frozenset[str] | None = DELIVERIES
) -> list[str]:
    """Report every attempt (of a delivery, or of any activity with ``types`` None) still "started"
    on the dead worker as failed, to retry at once.

    Returns the activity ids. The server concludes the same when the attempt's timeout runs out
    (a heartbeat's 30 s, or start-to-close); this saves the wait.
    """
    description = await handle.describe()
    stranded = [
        pending.activity_id
        for pending in description.raw_description.pending_activities
        if (types is None or pending.activity_type.name in types)
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


async def forget_dead_worker(
    dev_env: WorkflowEnvironment, handle: WorkflowHandle, *, types: frozenset[str] | None = DELIVERIES
) -> list[str]:
    """Tell the server the worker is dead: its attempts failed and its sticky queue is gone.

    Returns the ids of the activities that were stranded (deliveries only, unless ``types``).
    """
    stranded = await fail_stranded_deliveries(dev_env, handle, types=types)
    await dev_env.client.workflow_service.reset_sticky_task_queue(
        ResetStickyTaskQueueRequest(
            namespace=dev_env.client.namespace, execution=WorkflowExecution(workflow_id=handle.id)
        )
    )
    return stranded
