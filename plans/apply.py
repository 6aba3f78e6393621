"""Bring a checked plan into Assure: the registry into the store, each recommendation into its
workflow. A re-import starts nothing twice; a changed plan is compared per ref and, if asked,
applied to the running workflows through their updates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import structlog
from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from gateway.cycles import ensure_cycle_schedules, sync_open_returns
from gateway.registry_sync import sync_registry
from gateway.reviews import start_reviews
from gateway.workflows import DecisionNotTaken, decide, recommendation_status, start_recommendation, workflow_id_for
from models.payloads import ActionSpec, RecommendationInput, RecommendationStatus, figure_text
from models.review_clocks import ReviewPolicy
from plans.validate import Plan, PlannedRecommendation, Problem, Sheet, check_plan
from store.cycles import stored_cycles, write_cycles
from store.db import session_scope
from store.read_model import registry, upsert_registry
from store.reviews import stored_reviews, write_reviews

log = structlog.get_logger(__name__)
# Starts in flight at once: enough to keep the server busy, few enough not to swamp a small one.
IMPORT_CONCURRENCY = 32


@dataclass
class ImportReport:
    """What an import did (or, in a dry run, would do), per ref."""

    started: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    changes: dict[str, list[str]] = field(default_factory=dict)
    applied: dict[str, list[str]] = field(default_factory=dict)
    not_applied: dict[str, list[str]] = field(default_factory=dict)
    roles_updated: list[str] = field(default_factory=list)
    # The reviews added or changed (in a dry run, that would be): a re-import of the same file has none.
    reviews_written: list[str] = field(default_factory=list)
    # The cycles added or changed (in a dry run, that would be), by id: each one's Schedule is made
    # or brought up to date from these. A re-import of the same file has none.
    cycles_written: list[str] = field(default_factory=list)
    # A written cycle whose Schedule could not be made, and why (a server without Schedules).
    schedules_not_made: dict[str, str] = field(default_factory=dict)
    # The reviews whose clocks started, and the milestones given to clocks already running.
    reviews_started: list[str] = field(default_factory=list)
    review_milestones: dict[str, list[str]] = field(default_factory=dict)
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "started": self.started,
            "unchanged": self.unchanged,
            "changes": self.changes,
            "applied": self.applied,
            "not_applied": self.not_applied,
            "roles_updated": self.roles_updated,
            "reviews_written": self.reviews_written,
            "cycles_written": self.cycles_written,
            "schedules_not_made": self.schedules_not_made,
            "reviews_started": self.reviews_started,
            "review_milestones": self.review_milestones,
        }


@dataclass
class Change:
    """One difference between the file and a running workflow, and the update that applies it."""

    describe: str
    decision: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)


async def import_plan(
    plan: Plan,
    *,
    client: Client,
    database_url: str,
    task_queue: str,
    dry_run: bool = False,
    apply_changes: bool = False,
    progress: Callable[[str], None] | None = None,
    review_policy: ReviewPolicy | None = None,
) -> ImportReport:
    """Store the registry and the reviews, and start (or compare) every recommendation of a
    checked ``plan``."""
    report = ImportReport(dry_run=dry_run)
    if dry_run:
        # The plan holds only the reviews and cycles the store does not hold as they are (when it
        # was checked against the store's).
        report.reviews_written = [review.review_ref for review in plan.reviews]
        report.cycles_written = [cycle.cycle_id for cycle in plan.cycles]
    else:
        # A blocking store call: on a thread, so that the web app's event loop (POST /api/plans)
        # keeps serving meanwhile. The reviews are there before any recommendation names them.
        report.reviews_written, report.cycles_written = await asyncio.to_thread(_store_registry, database_url, plan)
        # The registry is the truth from now on: every open recommendation learns who holds its
        # roles, whether or not its own rows changed (see registry_sync).
        report.roles_updated = await sync_registry(client, database_url)
        # Open returns learn the registry's role holders too, so reminders reach today's lead.
        await sync_open_returns(client, database_url)
        # Each new or changed cycle's Schedule: its periods start from it.
        report.schedules_not_made = await ensure_cycle_schedules(
            client, database_url, task_queue, report.cycles_written
        )
        # Each new or changed review's clocks, before its recommendations start.
        clocks = await start_reviews(
            client, database_url, plan.reviews, policy=review_policy or ReviewPolicy(), task_queue=task_queue
        )
        report.reviews_started = clocks.started
        report.review_milestones = clocks.updated
        for review_ref, reasons in clocks.not_applied.items():
            report.not_applied.setdefault(review_ref, []).extend(reasons)
    # Recommendations are independent: several at a time, in the file's order in the report.
    gate = asyncio.Semaphore(IMPORT_CONCURRENCY)

    async def one(item: PlannedRecommendation) -> tuple[str, str, list[Change]]:
        async with gate:
            outcome = await _import_one(client, item, task_queue=task_queue, dry_run=dry_run)
            if outcome[1] == "changed" and apply_changes and not dry_run:
                await _apply(client, outcome[0], outcome[2], report, database_url)
            if progress is not None:
                progress(outcome[0])
            return outcome

    for ref, outcome, changes in await asyncio.gather(*(one(item) for item in plan.recommendations)):
        if outcome == "started":
            report.started.append(ref)
        elif outcome == "unchanged":
            report.unchanged.append(ref)
        else:
            report.changes[ref] = [change.describe for change in changes]
    log.info(
        "plan_imported",
        dry_run=dry_run,
        started=len(report.started),
        unchanged=len(report.unchanged),
        changed=len(report.changes),
        reviews_written=len(report.reviews_written),
        cycles_written=len(report.cycles_written),
        reviews_started=len(report.reviews_started),
    )
    return report


def _store_registry(database_url: str, plan: Plan) -> tuple[list[str], list[str]]:
    """The registry, the plan's reviews and its cycles in one transaction: all or none. Returns the
    refs of the reviews and the ids of the cycles added or changed."""
    now = datetime.now(UTC)
    with session_scope(database_url) as session:
        upsert_registry(session=session, agencies=plan.agencies, people=plan.people, boards=plan.boards)
        reviews = write_reviews(session=session, reviews=plan.reviews, now=now)
        return reviews, write_cycles(session=session, cycles=plan.cycles, now=now)


async def _import_one(
    client: Client, item: PlannedRecommendation, *, task_queue: str, dry_run: bool
) -> tuple[str, str, list[Change]]:
    """Start one recommendation, or compare it with its running workflow."""
    ref = item.start.recommendation.ref
    try:
        await client.get_workflow_handle(workflow_id_for(ref)).describe()
    except RPCError as exc:
        if exc.status is not RPCStatusCode.NOT_FOUND:
            raise
        if not dry_run:
            try:
                await start_recommendation(client, item.start, task_queue=task_queue)
            except WorkflowAlreadyStartedError:  # started by a concurrent import a moment ago
                return ref, "unchanged", []
        return ref, "started", []
    changes = differences(item, await recommendation_status(client, ref))
    return ref, ("changed" if changes else "unchanged"), changes


def differences(item: PlannedRecommendation, status: RecommendationStatus) -> list[Change]:
    """How the file differs from the running workflow, each with its update where one exists."""
    start = item.start
    rec = start.recommendation
    by = start.parties.board_sponsors[0]
    changes: list[Change] = []
    for name, ours, theirs in (
        ("title", rec.title, status.title),
        ("board", rec.board, status.board),
        ("priority", rec.priority.value, status.priority.value),
        # One started before reviews were records has none: no difference to report for it.
        ("review_ref", rec.review_ref, status.source.review_ref or rec.review_ref),
    ):
        if ours != theirs:
            changes.append(Change(f"{name} differs from the running recommendation (change it by hand)"))
    running = {a.action_id: a for a in status.actions}
    new: list[ActionSpec] = []
    for spec in start.actions:
        current = running.get(spec.action_id)
        if current is None:
            new.append(spec)
            continue
        if current.status.value == "complete":
            continue
        if spec.owner != current.owner:
            changes.append(
                Change(
                    f"action {spec.action_id}: owner {current.owner} -> {spec.owner}",
                    "reassign_owner",
                    {
                        "by": by,
                        "action_id": spec.action_id,
                        "new_owner": spec.owner,
                        "reason": "Changed in the imported action plan",
                    },
                )  # fmt: skip
            )
        if spec.due != current.due:
            changes.append(
                Change(
                    f"action {spec.action_id}: due {current.due} -> {spec.due}",
                    "change_due_date",
                    {
                        "by": by,
                        "action_id": spec.action_id,
                        "new_due": spec.due.isoformat(),
                        "reason": "Changed in the imported action plan",
                    },
                )  # fmt: skip
            )
    if new:
        ids = ", ".join(spec.action_id for spec in new)
        changes.append(
            Change(
                f"new action(s) {ids}",
                "add_actions" if status.actions else "agree_actions",
                {"by": by, "actions": [spec.model_dump(mode="json") for spec in new]},
            )
        )
    return changes + measure_differences(item.start, status, by)


# A running measure's agreed figures: a change to one is for a person to make (no decision does).
_MEASURE_FIELDS = ("name", "unit", "direction", "baseline", "baseline_on", "target", "target_by", "reporter", "every")


def measure_differences(start: RecommendationInput, status: RecommendationStatus, by: str) -> list[Change]:
    """New measures (``add_measures``) and new or corrected readings (``record_reading``, acting
    as the board's sponsor on the reporter's behalf); a changed figure of a running measure is
    reported for a person to change."""
    running = {m.measure_id.casefold(): m for m in status.measures}
    changes: list[Change] = []
    for spec in start.measures:
        current = running.get(spec.measure_id.casefold())
        for name in _MEASURE_FIELDS if current is not None else ():
            if getattr(spec, name) != getattr(current, name):
                changes.append(Change(f"measure {spec.measure_id}: {name} differs from the running recommendation "
                                      "(change it by hand)"))  # fmt: skip
    new = [spec for spec in start.measures if spec.measure_id.casefold() not in running]
    if new:
        changes.append(
            Change(
                f"new measure(s) {', '.join(spec.measure_id for spec in new)}",
                "add_measures",
                {"by": by, "measures": [spec.model_dump(mode="json") for spec in new]},
            )
        )
    for reading in start.readings:
        current = running.get(reading.measure_id.casefold())
        same_day = next((r for r in current.readings if r.on == reading.on), None) if current else None
        if same_day is not None and same_day.value == reading.value:
            continue
        value = figure_text(reading.value)
        describe = (f"measure {reading.measure_id}: reading on {reading.on} {figure_text(same_day.value)} -> {value}"
                    if same_day else f"measure {reading.measure_id}: new reading {value} on {reading.on}")  # fmt: skip
        payload = {"by": by, "measure_id": reading.measure_id, "value": reading.value, "on": reading.on.isoformat(),
                   "note": reading.note}  # fmt: skip
        changes.append(Change(describe, "record_reading", payload))
    return changes


async def _apply(client: Client, ref: str, changes: list[Change], report: ImportReport, database_url: str) -> None:
    for change in changes:
        if change.decision is None:
            report.not_applied.setdefault(ref, []).append(change.describe)
            continue
        try:
            await decide(client, ref, change.decision, change.payload, database_url=database_url)
        except DecisionNotTaken as refused:
            report.not_applied.setdefault(ref, []).append(f"{change.describe}: {refused.message}")
        else:
            report.applied.setdefault(ref, []).append(change.describe)


def check_plan_against_store(
    sheets: dict[str, Sheet], *, database_url: str, today: date, shift: timedelta = timedelta(0)
) -> tuple[Plan, list[Problem]]:
    """``check_plan`` against what the store holds (its registry, reviews and cycles): the one
    check that ``assure import`` and ``POST /api/plans`` make."""
    with session_scope(database_url) as session:
        stored, reviews = registry(session=session), stored_reviews(session=session)
        cycles = stored_cycles(session=session)
    return check_plan(sheets, stored=stored, reviews=reviews, cycles=cycles, today=today, shift=shift)
