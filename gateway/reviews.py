"""Starting reviews' clocks and taking their one decision: the one way the import, the pages, the
API and the CLI talk to review workflows (``workflows.review``)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from gateway.registry_sync import parties_for
from gateway.workflows import DecisionNotTaken
from models.review_clocks import MILESTONE_ORDER, ReviewPolicy
from models.review_lifecycle import (
    RecordReviewMilestoneInput,
    ReviewInput,
    ReviewStatus,
    UpdateReviewPartiesInput,
    may_record_milestones,
    review_workflow_id,
)
from models.reviews import Review
from store.db import session_scope
from store.read_model import RegistryError, board_context

IMPORTED_NOTE = "Recorded from the imported plan"


class UnknownReview(LookupError):
    """No workflow runs, or ever ran, for this review."""

    def __init__(self, review_ref: str) -> None:
        super().__init__(f"the clocks of review {review_ref!r} are not running")
        self.review_ref = review_ref


@dataclass
class ReviewsStarted:
    """What ``start_reviews`` did: clocks started, milestones given to running clocks, and what
    it could not do (with the reason)."""

    started: list[str] = field(default_factory=list)
    updated: dict[str, list[str]] = field(default_factory=dict)
    not_applied: dict[str, list[str]] = field(default_factory=dict)


def review_input(database_url: str, review: Review, policy: ReviewPolicy) -> ReviewInput:
    """The start of a review's workflow: its kind's clocks, its board's policy and role holders now.
    Raises ``RegistryError`` when the board is not (or no longer) in the registry."""
    with session_scope(database_url) as session:
        escalation, parties = board_context(session=session, board_name=review.board)
    return ReviewInput(review=review, clocks=policy.clocks_for(review.kind), policy=escalation, parties=parties)


async def start_reviews(
    client: Client, database_url: str, reviews: Sequence[Review], *, policy: ReviewPolicy, task_queue: str
) -> ReviewsStarted:
    """Start the clocks of each review not yet running; for one running, record the milestones the
    file gives that its workflow has not (on the board sponsor's behalf), and report the rest."""
    from workflows.review import ReviewWorkflow

    done = ReviewsStarted()
    for review in reviews:
        ref = review.review_ref
        try:
            start = await asyncio.to_thread(review_input, database_url, review, policy)
        except RegistryError as exc:
            done.not_applied.setdefault(ref, []).append(f"clocks not started: {exc}")
            continue
        try:
            await client.start_workflow(
                ReviewWorkflow.run,
                start,
                id=review_workflow_id(ref),
                task_queue=task_queue,
                # A review whose clocks have all ended is not started again by the next import.
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            await _give_milestones(client, database_url, review, start.parties.board_sponsors[0], done)
        else:
            done.started.append(ref)
    return done


async def _give_milestones(client: Client, database_url: str, review: Review, by: str, done: ReviewsStarted) -> None:
    try:
        status = await review_status(client, review.review_ref)
    except UnknownReview:
        return
    running = status.review.milestones()
    for milestone, day in review.milestones().items():
        if running.get(milestone) == day:
            continue
        change = f"{milestone.value}: {running[milestone] if milestone in running else 'none'} -> {day}"
        if status.closed:
            done.not_applied.setdefault(review.review_ref, []).append(f"{change}: its clocks have all ended")
            continue
        payload = {"by": by, "milestone": milestone.value, "on": day.isoformat(), "note": IMPORTED_NOTE}
        try:
            status = await record_review_milestone(client, database_url, review.review_ref, payload)
        except DecisionNotTaken as refused:
            done.not_applied.setdefault(review.review_ref, []).append(f"{change}: {refused.message}")
        else:
            done.updated.setdefault(review.review_ref, []).append(change)
    for milestone in MILESTONE_ORDER:
        if milestone in running and milestone not in review.milestones():
            done.not_applied.setdefault(review.review_ref, []).append(
                f"{milestone.value}: recorded as {running[milestone]}, and the file has none (it stays)"
            )


async def review_status(client: Client, review_ref: str) -> ReviewStatus:
    """Where a review's clocks stand, from its workflow (also after they have ended)."""
    try:
        return await client.get_workflow_handle(review_workflow_id(review_ref)).query(
            "status", result_type=ReviewStatus
        )
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            raise UnknownReview(review_ref) from None
        raise


def parse_milestone(payload: BaseModel | dict[str, Any]) -> RecordReviewMilestoneInput:
    """The typed decision, or ``DecisionNotTaken("InvalidInput")`` saying what is wrong and where."""
    if isinstance(payload, RecordReviewMilestoneInput):
        return payload
    data = payload.model_dump() if isinstance(payload, BaseModel) else payload
    try:
        return RecordReviewMilestoneInput.model_validate(data)
    except ValidationError as exc:
        fields = {".".join(str(p) for p in e["loc"]) or "decision": e["msg"] for e in exc.errors()}
        summary = "; ".join(f"{where}: {message}" for where, message in fields.items())
        raise DecisionNotTaken("InvalidInput", f"record_review_milestone: {summary}", fields=fields) from None


def may_record_milestone(database_url: str, board: str, person: str) -> bool:
    """Whether ``person`` may record milestones of a review of ``board`` now: its sponsor or chair
    as the registry has them, which ``record_review_milestone`` hands the workflow's check."""
    held = parties_for(database_url, board)
    from datetime import UTC, datetime

    from models.measure_decisions import today_in_london

    return held is not None and may_record_milestones(held[1], person, today_in_london(datetime.now(UTC)))


async def record_review_milestone(
    client: Client, database_url: str, review_ref: str, payload: BaseModel | dict[str, Any]
) -> ReviewStatus:
    """Record a milestone of a review, by its board's sponsor or chair as the registry has them now.

    Raises ``UnknownReview`` when its clocks never ran, ``DecisionNotTaken`` for a refusal
    (``WrongPerson``, ``WrongStage`` once every clock has ended, ``InvalidDecision``) or a
    malformed payload; nothing is applied in either case.
    """
    decision = parse_milestone(payload)
    handle = client.get_workflow_handle(review_workflow_id(review_ref))
    status = await review_status(client, review_ref)
    held = await asyncio.to_thread(parties_for, database_url, status.review.board)
    if held is None:
        raise DecisionNotTaken("NotInRegistry", f"board {status.review.board!r} is not in the registry as it is now")
    try:
        if not status.closed:
            # The registry as it is now decides who may record: the workflow learns it first.
            change = UpdateReviewPartiesInput(parties=held[1])
            await handle.execute_update("update_parties", change, result_type=bool)
        return await handle.execute_update("record_review_milestone", decision, result_type=ReviewStatus)
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError):
            raise DecisionNotTaken(cause.type or "InvalidDecision", cause.message) from None
        raise
    except RPCError as exc:
        if exc.status is not RPCStatusCode.NOT_FOUND:
            raise
    raise DecisionNotTaken("WrongStage", f"review {review_ref} has no clock left running: no milestone can be recorded")


async def sync_open_reviews(client: Client, database_url: str) -> list[str]:
    """Give every running review's clocks the registry's role holders now (after a leaver's
    hand-over or an absence), so that its reminders go to the board's sponsors and chair of today;
    returns the refs whose holders changed. A review whose clocks have all ended is left alone."""

    def boards() -> dict[str, str]:
        from sqlmodel import select

        from store.tables import ReviewRow

        with session_scope(database_url) as session:
            return dict(session.exec(select(ReviewRow.review_ref, ReviewRow.board)).all())

    changed = []
    for review_ref, board in sorted((await asyncio.to_thread(boards)).items()):
        held = await asyncio.to_thread(parties_for, database_url, board)
        if held is None:
            continue
        handle = client.get_workflow_handle(review_workflow_id(review_ref))
        try:
            if await handle.execute_update(
                "update_parties", UpdateReviewPartiesInput(parties=held[1]), result_type=bool
            ):
                changed.append(review_ref)
        except RPCError as exc:
            if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
                continue  # its clocks have ended (or never ran): no roles left to hold
            raise
    return changed
