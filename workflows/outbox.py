"""The workflows whose messages are not a recommendation's (a review's clocks, an agency's
return): their shared loop (``ClockedWorkflow``), and sending what their outbox holds in batches
over the mail queue, each message to each recipient once, a failure for good recorded by the
caller and the rest carried on.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from models.payloads import DELIVER_MAIL_BATCH, MailBatchResult, Notification, mail_queue
    from workflows.recommendation import DELIVERY_OPTIONS, MAIL_BATCH_LIMIT, _batch_failed, _batch_of


async def deliver_pending(pending: list[Notification], on_failed: Callable[[str], None]) -> None:
    """Send every message in ``pending`` (stored already), removing each recipient once delivered
    or failed for good; ``on_failed`` is told why of each failure, for the workflow's timeline."""
    while pending:
        messages: list[tuple[Notification, str]] = [(n, r) for n in pending for r in n.recipients][:MAIL_BATCH_LIMIT]
        batch = _batch_of(workflow.info().workflow_id, messages)
        try:
            sent = await workflow.execute_activity(
                DELIVER_MAIL_BATCH,
                batch,
                result_type=MailBatchResult,
                task_queue=mail_queue(workflow.info().task_queue),
                **DELIVERY_OPTIONS,
            )
        except ActivityError as failure:
            sent = _batch_failed(batch.deliveries(), failure)
        for delivery, result in zip(batch.deliveries(), sent.results, strict=True):
            if result.status == "failed":
                on_failed(result.reason)
            _delivered(pending, delivery.notification.key, delivery.recipient)


def _delivered(pending: list[Notification], key: str, recipient: str) -> None:
    for index, waiting in enumerate(pending):
        if waiting.key == key:
            waiting.recipients = [r for r in waiting.recipients if r != recipient]
            if not waiting.recipients:
                del pending[index]
            return


class Books(Protocol):
    """What a clocked workflow's record keeps of its messages and version."""

    version: int
    outbox: list[Notification]
    pending_mail: list[Notification]


ResultT = TypeVar("ResultT")


class Driven(Protocol):
    """The rules a clocked workflow runs: what is due when, and whether anything is left."""

    @property
    def closed(self) -> bool: ...

    def fire_due(self, now: datetime) -> Any: ...

    def next_deadline(self) -> datetime | None: ...


class ClockedWorkflow(Generic[ResultT]):
    """The loop a review's and a return's workflows share: fire what is due, store the change (and
    the messages it made), send them, then sleep until the next deadline or a decision; end once
    closed with everything stored and sent; continue as new past a bound.

    A subclass sets ``self._life`` (its rules), ``self._woken`` and ``self._stored_version = -1``
    in its init and gives the pieces that differ: its books, the store write, the input to carry
    over and its result."""

    _life: Driven
    _woken: bool
    _stored_version: int

    # --- what a subclass gives --------------------------------------------------------------

    def _books(self) -> Books:
        raise NotImplementedError

    async def _write(self) -> str | None:
        """Write the change to the store; None once stored, else why the store refused it for good."""
        raise NotImplementedError

    def _problem(self, what: str, detail: str) -> None:
        """Record on the timeline that an effect could not handle the data: ``what`` is
        ``store_refused`` or ``mail_failed``."""
        raise NotImplementedError

    def _carried(self) -> Any:
        """The input to continue as new with."""
        raise NotImplementedError

    def _result(self) -> ResultT:
        raise NotImplementedError

    # --- the loop ---------------------------------------------------------------------------

    async def _run_loop(self, continue_as_new_after: int) -> ResultT:
        while True:
            self._woken = False
            self._life.fire_due(workflow.now())
            await self._store()
            await deliver_pending(self._books().pending_mail, lambda reason: self._problem("mail_failed", reason))
            books = self._books()
            if self._life.closed and not books.pending_mail and not books.outbox:
                await workflow.wait_condition(workflow.all_handlers_finished)
                if self._stored_version == books.version:
                    return self._result()
                continue
            info = workflow.info()
            if info.is_continue_as_new_suggested() or info.get_current_history_length() > continue_as_new_after:
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(self._carried())
            next_at = self._life.next_deadline()
            timeout = max(next_at - workflow.now(), timedelta(seconds=1)) if next_at is not None else None
            try:
                await workflow.wait_condition(lambda: self._woken, timeout=timeout)
            except TimeoutError:
                pass

    async def _store(self) -> None:
        """The change and the messages it made, once per version; the messages are sent only once
        the store has the change that caused them, as a recommendation's are."""
        books = self._books()
        if self._stored_version == books.version and not books.outbox:
            return
        version = books.version
        refused = await self._write()
        if refused is not None:
            # On the timeline and in the problem table, counted as stored (so the note itself is
            # not written again and again); the mail still goes.
            self._problem("store_refused", refused)
            version = books.version
        self._stored_version = version
        made = list(books.outbox)
        del books.outbox[: len(made)]
        books.pending_mail.extend(made)
