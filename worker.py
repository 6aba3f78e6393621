"""The Temporal worker: runs RecommendationWorkflow, ReviewWorkflow, the cycles' workflows, a
leaver's hand-over and their activities.

Run it with ``python worker.py`` or ``assure worker``; settings come from ``ASSURE_*``.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import structlog
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.board_pack_mail import BoardPackActivities
from activities.cycle_store import CycleStoreActivities
from activities.digest import add_to_board_digest
from activities.hand_over import HandOverActivities
from activities.mail.delivery import MailActivities
from activities.projection import ProjectionActivities
from activities.review_store import ReviewStoreActivities
from gateway.workflows import connect, metrics_runtime
from logs import configure_logging
from models.payloads import mail_queue, store_queue
from settings import Settings, get_settings, settings_or_exit
from store.db import init_db
from workflows.board_digest import BoardDigestWorkflow
from workflows.board_pack import BoardPackWorkflow
from workflows.cycle_return import CyclePeriodWorkflow, CycleReturnWorkflow
from workflows.fresh_link import FreshLinkWorkflow
from workflows.hand_over import HandOverWorkflow
from workflows.recommendation import RecommendationWorkflow
from workflows.review import ReviewWorkflow

log = structlog.get_logger(__name__)

# Pure libraries the workflow's rules use. Passed through, they load once per worker rather than
# on every workflow run, and holidays' lazy imports (dateutil reads the local time when it loads)
# happen outside the sandbox. Their answers are fixed for fixed inputs.
WORKFLOW_PASSTHROUGH = ("holidays", "dateutil", "isodate", "pydantic", "models")


def workflow_runner(*, sandboxed: bool = True) -> WorkflowRunner:
    """The sandbox with Assure's pure domain libraries passed through, or no sandbox."""
    if not sandboxed:
        return UnsandboxedWorkflowRunner()
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*WORKFLOW_PASSTHROUGH)
    )


def build_worker(client: Client, *, settings: Settings, executor: ThreadPoolExecutor, **options: Any) -> Worker:
    """A worker for Assure's workflows, their decisions and the store, on the settings' task queue
    (``options`` go to ``temporalio.worker.Worker``, e.g. ``max_cached_workflows``)."""
    mail = MailActivities(settings)
    hand_over = HandOverActivities(settings, client)
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[
            RecommendationWorkflow,
            ReviewWorkflow,
            BoardDigestWorkflow,
            FreshLinkWorkflow,
            BoardPackWorkflow,
            CyclePeriodWorkflow,
            CycleReturnWorkflow,
            HandOverWorkflow,
        ],  # fmt: skip
        workflow_runner=workflow_runner(sandboxed=settings.workflow_sandbox),
        activities=[
            # Single messages: a fresh link, a sign-in link, a board member's digest.
            mail.deliver_mail,
            add_to_board_digest,
            BoardPackActivities(settings, client).send_board_pack,
            *hand_over.all(),
        ],
        # The store activities are synchronous (SQLAlchemy), so they run on threads.
        activity_executor=executor,
        **options,
    )


def build_mail_worker(client: Client, *, settings: Settings) -> Worker:
    """A worker that sends the recommendations' mail batches, on the mail queue."""
    return Worker(
        client,
        task_queue=mail_queue(settings.task_queue),
        activities=[MailActivities(settings).deliver_mail_batch],
        max_concurrent_activities=settings.mail_batches_at_once,
    )


def build_store_worker(client: Client, *, settings: Settings, executor: ThreadPoolExecutor) -> Worker:
    """A worker that writes the recommendations' transitions to the store, on the store queue,
    ``settings.store_writes_at_once`` at a time."""
    cycles = CycleStoreActivities(settings.database_url)
    return Worker(
        client,
        task_queue=store_queue(settings.task_queue),
        activities=[
            ProjectionActivities(settings.database_url).record_transition,
            ReviewStoreActivities(settings.database_url).record_review,
            cycles.record_cycle_return,
            cycles.plan_cycle_period,
        ],
        activity_executor=executor,
        max_concurrent_activities=settings.store_writes_at_once,
    )


def build_workers(client: Client, *, settings: Settings, executor: ThreadPoolExecutor, **options: Any) -> list[Worker]:
    """The workers ``settings.worker_serves`` asks for (``options`` go to the decisions worker)."""
    serves = settings.worker_serves
    workers = []
    if serves in ("all", "decisions"):
        workers.append(build_worker(client, settings=settings, executor=executor, **options))
    if serves in ("all", "mail"):
        workers.append(build_store_worker(client, settings=settings, executor=executor))
        workers.append(build_mail_worker(client, settings=settings))
    return workers


async def run_worker(settings: Settings | None = None) -> None:
    """Connect, make sure the store exists, and work until cancelled."""
    settings = settings or get_settings()
    init_db(settings.database_url)
    runtime = metrics_runtime(settings.metrics_address) if settings.metrics_address else None
    client = await connect(settings, runtime=runtime)
    if settings.worker_serves != "mail":
        from gateway.cycles import ensure_all_cycle_schedules
        from gateway.workflows import ensure_board_pack_schedule

        await ensure_board_pack_schedule(client, settings)
        await ensure_all_cycle_schedules(client, settings.database_url, settings.task_queue)
    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="activity") as executor:
        workers = build_workers(client, settings=settings, executor=executor)
        log.info(
            "worker_started",
            task_queue=settings.task_queue,
            namespace=settings.temporal_namespace,
            serves=settings.worker_serves,
        )
        await asyncio.gather(*(w.run() for w in workers))


def main() -> None:
    settings = settings_or_exit()
    configure_logging(fmt=settings.log_format)
    try:
        asyncio.run(run_worker(settings))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
