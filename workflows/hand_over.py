"""A leaver's hand-over: every open recommendation is asked, through its own ``hand_over``
decision, to pass what the leaver holds by name to the successor; then the registry's change
(already recorded) reaches every running workflow, and the successor hears once, with the list.

Durable, so an interruption resumes where it was (each batch's recommendations answer
"unchanged" when asked twice), and queryable, so the page and the command show its progress.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from models.kinds import MessageKind
    from models.payloads import (
        DELIVER_MAIL_BATCH,
        HAND_OVER_BATCH,
        HandOverBatch,
        HandOverProgress,
        HandOverStart,
        MailBatch,
        MailBatchResult,
        Notification,
        mail_queue,
    )

OPEN_REFS = "hand_over_open_refs"
HAND_OVER_REFS = "hand_over_refs"
DELIVER_REGISTRY = "deliver_registry_change"
# The summary lists this many recommendations, then says how many more the dashboard has.
SUMMARY_LISTS = 100
# Transient trouble (the server, the store) is retried; bad data is refused by the activities
# themselves as non-retryable and recorded for an operator.
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))


@workflow.defn
class HandOverWorkflow:
    def __init__(self) -> None:
        self._progress = HandOverProgress()

    @workflow.run
    async def run(self, start: HandOverStart) -> HandOverProgress:
        progress = self._progress
        refs: list[str] = await workflow.execute_activity(
            OPEN_REFS, start_to_close_timeout=timedelta(minutes=2), retry_policy=RETRY, result_type=list[str]
        )
        progress.total = len(refs)
        for first in range(0, len(refs), HAND_OVER_BATCH):
            batch = HandOverBatch(start=start, refs=refs[first : first + HAND_OVER_BATCH])
            done: HandOverProgress = await workflow.execute_activity(
                HAND_OVER_REFS,
                batch,
                start_to_close_timeout=timedelta(minutes=5),
                retry_policy=RETRY,
                result_type=HandOverProgress,
            )
            progress.done += len(batch.refs)
            progress.moved += done.moved
            progress.failed += done.failed
        await workflow.execute_activity(
            DELIVER_REGISTRY, start_to_close_timeout=timedelta(minutes=30), retry_policy=RETRY
        )
        progress.synced = True
        await workflow.execute_activity(
            DELIVER_MAIL_BATCH,
            MailBatch(workflow_id=workflow.info().workflow_id, notifications=[self._summary(start)]),
            task_queue=mail_queue(workflow.info().task_queue),
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=RETRY,
            result_type=MailBatchResult,
        )
        progress.summary_sent = True
        progress.finished = True
        return progress

    def _summary(self, start: HandOverStart) -> Notification:
        """The successor's one message, whatever the number of recommendations. Its key is the
        pair's, so a hand-over run again (to resume or to check) never writes twice."""
        moved = self._progress.moved
        return Notification(
            key=f"hand-over/{start.leaver.lower()}/{start.successor.lower()}",
            kind=MessageKind.hand_over_summary,
            recipients=[start.successor.lower()],
            context={
                "leaver": start.leaver.lower(),
                "successor": start.successor.lower(),
                "moved": [m.model_dump() for m in moved[:SUMMARY_LISTS]],
                "more": max(0, len(moved) - SUMMARY_LISTS),
                "registry_moved": start.registry_moved,
            },
            created_at=workflow.now(),
        )

    @workflow.query
    def progress(self) -> HandOverProgress:
        return self._progress
