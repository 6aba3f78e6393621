"""What needs an operator, in one place: ``assure doctor``, the dashboard's problems list and
``/readyz`` all read it from here.

Four things are looked for:
- problems the effects recorded (a store write or a message refused for its data; ``problem``);
- running recommendation workflows whose workflow task keeps failing (it would retry for ever,
  and the recommendation would appear nowhere), or whose activity has failed many times;
- running workflows the read model lacks (after a grace period: the first write takes a moment);
- open rows of the read model whose workflow is gone or no longer running.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryReverseRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from gateway.workflows import WORKFLOW_ID_PREFIX
from models.payloads import CLOSED_STAGES
from store.db import session_scope
from store.read_model import open_problems, problem_counts, stored_workflows

RUNNING_RECOMMENDATIONS = 'WorkflowType = "RecommendationWorkflow" AND ExecutionStatus = "Running"'
# Describing thousands of workflows one by one would take long, and all at once would flood the
# server: this many at a time.
DESCRIBE_AT_ONCE = 20
# An activity retried this often is worth a look (a relay down for minutes, a store refusing
# for a reason not recognised as bad data); a workflow task is worth one from its second attempt.
ACTIVITY_ATTEMPTS = 5
# A workflow started this recently may not have had its first write yet.
STORE_GRACE = timedelta(minutes=2)
_CLOSED = {stage.value for stage in CLOSED_STAGES}


@dataclass
class Finding:
    """One thing that needs attention, with where to look; ``detail`` holds no personal data."""

    kind: str  # problem | failing_task | failing_activity | missing_from_store | workflow_not_running
    workflow_id: str
    ref: str
    detail: str
    count: int = 1
    since: datetime | None = None
    problem_id: int | None = None


@dataclass
class Examination:
    """What ``examine`` found: every finding, and how much it looked at."""

    findings: list[Finding] = field(default_factory=list)
    running: int = 0
    stored: int = 0
    problems_by_kind: dict[str, int] = field(default_factory=dict)

    @property
    def needs_attention(self) -> bool:
        return bool(self.findings)

    def counts(self) -> dict[str, int]:
        """Findings by kind."""
        counts: dict[str, int] = {}
        for finding in self.findings:
            counts[finding.kind] = counts.get(finding.kind, 0) + 1
        return counts

    def as_json(self) -> dict[str, Any]:
        return {
            "needs_attention": self.needs_attention,
            "running_workflows": self.running,
            "stored_recommendations": self.stored,
            "counts": self.counts(),
            "findings": [{**asdict(f), "since": f.since.isoformat() if f.since else None} for f in self.findings],
        }

    def as_text(self) -> str:
        head = f"{self.running} recommendation workflow(s) running, {self.stored} in the store: " + (
            "nothing needs attention" if not self.findings else f"{len(self.findings)} thing(s) need attention"
        )
        lines = [head]
        for f in self.findings:
            count = f" ({f.count} times)" if f.count > 1 else ""
            problem = f" [problem {f.problem_id}]" if f.problem_id is not None else ""
            lines.append(f"  {f.kind}: {f.ref or '-'} ({f.workflow_id}){problem}: {f.detail}{count}")
        return "\n".join(lines)


def ref_of(workflow_id: str) -> str:
    return workflow_id.removeprefix(WORKFLOW_ID_PREFIX)


def stored_problems(database_url: str) -> list[Finding]:
    """The open problems the effects recorded, newest first."""
    with session_scope(database_url) as session:
        rows = open_problems(session=session)
    return [
        Finding(
            kind="problem",
            workflow_id=row.workflow_id,
            ref=row.ref,
            detail=f"{row.kind}: {row.detail}",
            count=row.count,
            since=row.first_seen,
            problem_id=row.id,
        )
        for row in rows
    ]


def _stored_workflows(database_url: str):
    with session_scope(database_url) as session:
        return stored_workflows(session=session)


def _problem_counts(database_url: str) -> dict[str, int]:
    with session_scope(database_url) as session:
        return problem_counts(session=session)


async def examine(
    client: Client,
    database_url: str,
    *,
    at_once: int = DESCRIBE_AT_ONCE,
    grace: timedelta = STORE_GRACE,
    activity_attempts: int = ACTIVITY_ATTEMPTS,
    now: datetime | None = None,
) -> Examination:
    """Look at every running recommendation workflow and the store, and say what needs attention."""
    now = now or datetime.now(UTC)
    running: dict[str, datetime | None] = {}
    async for execution in client.list_workflows(RUNNING_RECOMMENDATIONS):
        running[execution.id] = execution.start_time
    report = Examination(running=len(running))
    gate = asyncio.Semaphore(at_once)

    async def look(workflow_id: str) -> list[Finding]:
        async with gate:
            return await _failing(client, workflow_id, activity_attempts)

    for found in await asyncio.gather(*(look(workflow_id) for workflow_id in running)):
        report.findings.extend(found)

    # The store is read in a thread: the dashboard awaits this on the web app's event loop.
    stored = await asyncio.to_thread(_stored_workflows, database_url)
    report.stored = len(stored)
    for workflow_id, started in sorted(running.items()):
        if workflow_id not in stored and (started is None or started <= now - grace):
            report.findings.append(
                Finding(
                    kind="missing_from_store",
                    workflow_id=workflow_id,
                    ref=ref_of(workflow_id),
                    detail="running, but the read model has no row for it: lists and reports leave it out",
                    since=started,
                )
            )
    suspects = [
        (wid, ref) for wid, (ref, stage) in sorted(stored.items()) if stage not in _CLOSED and wid not in running
    ]

    async def confirm(workflow_id: str, ref: str) -> Finding | None:
        async with gate:
            return await _not_running(client, workflow_id, ref)

    report.findings.extend(f for f in await asyncio.gather(*(confirm(w, r) for w, r in suspects)) if f)
    report.findings.extend(await asyncio.to_thread(stored_problems, database_url))
    report.problems_by_kind = await asyncio.to_thread(_problem_counts, database_url)
    return report


async def _failing(client: Client, workflow_id: str, activity_attempts: int) -> list[Finding]:
    """A running workflow's failing workflow task or much-retried activities, if any."""
    try:
        described = await client.get_workflow_handle(workflow_id).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:  # closed since it was listed
            return []
        raise
    raw = described.raw_description
    found = []
    task = raw.pending_workflow_task
    if raw.HasField("pending_workflow_task") and task.attempt > 1:
        cause = await _last_task_failure(client, workflow_id, described.run_id)
        found.append(
            Finding(
                kind="failing_task",
                workflow_id=workflow_id,
                ref=ref_of(workflow_id),
                detail=f"its workflow task has failed {task.attempt - 1} time(s) and is being retried"
                + (f" ({cause})" if cause else ""),
                count=task.attempt - 1,
                since=task.original_scheduled_time.ToDatetime(tzinfo=UTC) if task.original_scheduled_time else None,
            )
        )
    for pending in raw.pending_activities:
        if pending.attempt >= activity_attempts:
            failure = pending.last_failure
            what = failure.application_failure_info.type if failure.HasField("application_failure_info") else ""
            found.append(
                Finding(
                    kind="failing_activity",
                    workflow_id=workflow_id,
                    ref=ref_of(workflow_id),
                    detail=f"{pending.activity_type.name} has been tried {pending.attempt} times"
                    + (f" (last: {what})" if what else ""),
                    count=pending.attempt,
                )
            )
    return found


async def _last_task_failure(client: Client, workflow_id: str, run_id: str | None) -> str:
    """The error type of the workflow task's latest failure (from the end of its history): the
    type only, since a failure's message can quote anything."""
    request = GetWorkflowExecutionHistoryReverseRequest(namespace=client.namespace, maximum_page_size=50)
    request.execution.workflow_id = workflow_id
    if run_id:
        request.execution.run_id = run_id
    try:
        response = await client.workflow_service.get_workflow_execution_history_reverse(request)
    except RPCError:
        return ""
    for event in response.history.events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
            failure = event.workflow_task_failed_event_attributes.failure
            if failure.HasField("application_failure_info") and failure.application_failure_info.type:
                return failure.application_failure_info.type
            return "workflow task failed"
    return ""


async def _not_running(client: Client, workflow_id: str, ref: str) -> Finding | None:
    """A finding for an open row whose workflow is gone or closed; None when it does run (the
    list it was missing from lags a moment behind)."""
    try:
        described = await client.get_workflow_handle(workflow_id).describe()
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        detail = "the read model shows it open, but Temporal has no such workflow"
    else:
        if described.status == WorkflowExecutionStatus.RUNNING:
            return None
        state = described.status.name.lower() if described.status else "closed"
        detail = f"the read model shows it open, but its workflow has {state.replace('_', ' ')}"
    return Finding(kind="workflow_not_running", workflow_id=workflow_id, ref=ref, detail=detail)
