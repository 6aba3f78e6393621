"""The hand-over's effects (``workflows.hand_over``): which recommendations are open, asking each
to pass the leaver's parts on, and delivering the registry's change to every running workflow."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import structlog
from temporalio import activity
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from models.payloads import HandedOver, HandOverBatch, HandOverInput, HandOverProgress
from settings import Settings
from workflows.hand_over import DELIVER_REGISTRY, HAND_OVER_REFS, OPEN_REFS

log = structlog.get_logger(__name__)
AT_ONCE = 16


class HandOverActivities:
    def __init__(self, settings: Settings, client: Client) -> None:
        self.settings = settings
        self.client = client

    def all(self) -> list[Callable[..., Any]]:
        return [self.open_refs, self.hand_over_refs, self.deliver_registry_change]

    @activity.defn(name=OPEN_REFS)
    def open_refs(self) -> list[str]:
        """Every recommendation the read model has open, in ref order. Each is asked: the leaver may
        hold a part the read model does not list (a measure, a named cascade lead), and asking one
        that holds nothing costs a refused Update, not history."""
        from gateway.registry_sync import open_boards

        return sorted(open_boards(self.settings.database_url))

    @activity.defn(name=HAND_OVER_REFS)
    async def hand_over_refs(self, batch: HandOverBatch) -> HandOverProgress:
        """Ask each recommendation of ``batch`` to hand over; one asked twice answers "unchanged",
        so a batch retried after an interruption moves nothing twice."""
        from gateway.workflows import workflow_id_for

        change = HandOverInput(by=batch.start.by, leaver=batch.start.leaver, successor=batch.start.successor)
        gate = asyncio.Semaphore(AT_ONCE)
        done = HandOverProgress()

        async def one(ref: str) -> None:
            handle = self.client.get_workflow_handle(workflow_id_for(ref))
            async with gate:
                try:
                    parts = await handle.execute_update("hand_over", change, result_type=list[str])
                except WorkflowUpdateFailedError as exc:
                    if isinstance(exc.cause, ApplicationError) and exc.cause.type in {"Unchanged", "WrongStage"}:
                        return
                    # A refusal of another kind is data this hand-over cannot move: named for an
                    # operator (by ref only), and the rest carries on.
                    log.warning("hand_over_refused", ref=ref, reason=getattr(exc.cause, "type", None))
                    done.failed.append(ref)
                    return
                except RPCError as exc:
                    if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
                        return  # closed or gone since the list was read: nothing left to hold
                    raise
            done.moved.append(HandedOver(ref=ref, parts=parts))

        await asyncio.gather(*(one(ref) for ref in batch.refs))
        done.moved.sort(key=lambda m: m.ref)
        done.failed.sort()
        return done

    @activity.defn(name=DELIVER_REGISTRY)
    async def deliver_registry_change(self) -> int:
        from gateway.people import registry_changed

        return await registry_changed(self.client, self.settings.database_url)
