"""Assurance cycles at the edge: each cycle's Temporal Schedule, starting a period now, reading a
return, and the decisions on it, checked against the registry as it is now.

Each cycle has one Schedule (``cycle-<id>``) that starts ``CyclePeriodWorkflow`` on the first day
of each period at 08:00 in London; the import makes it, or brings it in line when the cadence
changed. ``run_cycle`` starts a period at once (``assure cycle run``): a period's returns have
fixed workflow ids, so a second start asks nobody twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from pydantic import BaseModel, ValidationError
from sqlmodel import select
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from models.cycle_lifecycle import (
    AcceptReturnInput,
    ChallengeReturnInput,
    CyclePeriodInput,
    PeriodStarted,
    ReturnStatus,
    SubmitReturnInput,
    UpdateReturnPartiesInput,
)
from models.cycle_returns import Rating, ReturnParties, StandardAnswer
from models.cycles import Cycle, cycle_workflow_id, period_workflow_id
from models.payloads import EscalationPolicy, Parties
from store.cycles import stored_cycles
from store.db import session_scope
from store.read_model import RegistryError, board_context
from store.tables import CycleReturnRow
from workflows.cycle_return import CyclePeriodWorkflow, CycleReturnWorkflow

log = structlog.get_logger(__name__)
SCHEDULE_HOUR = 8  # the period starts, and its leads hear, at the start of a working day
DECISIONS: dict[str, type[BaseModel]] = {
    "submit_return": SubmitReturnInput,
    "challenge_return": ChallengeReturnInput,
    "accept_return": AcceptReturnInput,
}
NO_SCHEDULES = (
    "this Temporal server has no Schedules (the time-skipping test server has none), so the cycle's "
    "periods start only with `assure cycle run`"
)


class ReturnNotTaken(Exception):
    """A decision on a return that was not taken: ``kind`` (``Invalid``, ``Refused``, ``Unknown``)
    and a message safe to show the person."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def cycle_schedule(cycle: Cycle, task_queue: str) -> Schedule:
    """A Schedule starting the cycle's period workflow on each period's first day, 08:00 London."""
    cadence = cycle.cadence
    return Schedule(
        action=ScheduleActionStartWorkflow(
            CyclePeriodWorkflow.run,
            CyclePeriodInput(cycle_id=cycle.cycle_id),
            id=f"{cycle_workflow_id(cycle.cycle_id)}-period",
            task_queue=task_queue,
        ),  # fmt: skip
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(
                    month=[ScheduleRange(m) for m in cadence.start_months()],
                    day_of_month=[ScheduleRange(cadence.day)],
                    hour=[ScheduleRange(SCHEDULE_HOUR)],
                    minute=[ScheduleRange(0)],
                    comment=f"{cycle.name}: {cadence.words()}",
                )
            ],
            time_zone_name="Europe/London",
        ),
    )


async def ensure_cycle_schedules(
    client: Client, database_url: str, task_queue: str, cycle_ids: list[str]
) -> dict[str, str]:
    """Make or update the Schedule of each of these stored cycles; what stopped one, by cycle id."""
    if not cycle_ids:
        return {}
    cycles = await asyncio.to_thread(_stored, database_url, cycle_ids)
    problems: dict[str, str] = {}
    for cycle in cycles:
        schedule = cycle_schedule(cycle, task_queue)
        schedule_id = cycle_workflow_id(cycle.cycle_id)
        try:
            try:
                await client.create_schedule(schedule_id, schedule)
            except ScheduleAlreadyRunningError:
                await client.get_schedule_handle(schedule_id).update(_replaced_by(schedule))
        except RPCError as error:
            if error.status is not RPCStatusCode.UNIMPLEMENTED:
                raise
            problems[cycle.cycle_id] = NO_SCHEDULES
    log.info("cycle_schedules_ensured", cycles=len(cycles), not_made=len(problems))
    return problems


async def ensure_all_cycle_schedules(client: Client, database_url: str, task_queue: str) -> dict[str, str]:
    """Every stored cycle's Schedule, as the worker starts: a Temporal whose state was lost, or a
    Schedule deleted by hand, gets them back."""
    ids = [cycle.cycle_id for cycle in await asyncio.to_thread(_stored, database_url)]
    return await ensure_cycle_schedules(client, database_url, task_queue, ids)


def _replaced_by(schedule: Schedule) -> Callable[[ScheduleUpdateInput], ScheduleUpdate]:
    return lambda _: ScheduleUpdate(schedule=schedule)


def _stored(database_url: str, cycle_ids: list[str] | None = None) -> list[Cycle]:
    with session_scope(database_url) as session:
        return stored_cycles(session=session, cycle_ids=cycle_ids)


async def start_period(
    client: Client, database_url: str, task_queue: str, cycle_id: str, period: str = ""
) -> WorkflowHandle:
    """Start a period of a stored cycle now (the one holding today, or ``period``) without waiting
    for it; ``LookupError`` for a cycle not stored."""
    if not await asyncio.to_thread(_stored, database_url, [cycle_id]):
        raise LookupError(f"there is no cycle {cycle_id!r}")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    return await client.start_workflow(
        CyclePeriodWorkflow.run, CyclePeriodInput(cycle_id=cycle_id, period=period),
        id=f"{period_workflow_id(cycle_id, period or 'now')}-run-{stamp}", task_queue=task_queue,
    )  # fmt: skip


async def run_cycle(
    client: Client, database_url: str, task_queue: str, cycle_id: str, period: str = ""
) -> PeriodStarted:
    """Start a period (``start_period``) and wait for its returns to be asked."""
    handle = await start_period(client, database_url, task_queue, cycle_id, period)
    return await handle.result()


# --- one return ------------------------------------------------------------------------------


def return_handle(client: Client, workflow_id: str) -> WorkflowHandle:
    return client.get_workflow_handle(workflow_id)


async def return_status(client: Client, workflow_id: str) -> ReturnStatus:
    """Where a return stands; ``LookupError`` if there is no such return."""
    try:
        return await return_handle(client, workflow_id).query(CycleReturnWorkflow.status)
    except RPCError as error:
        if error.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
            raise LookupError(f"there is no return {workflow_id}") from None
        raise


def parse_return_decision(name: str, payload: BaseModel | dict[str, Any]) -> BaseModel:
    """A decision's input from a form or the API, by the one model the workflow checks; a
    ``ReturnNotTaken("Invalid")`` naming each field that is wrong."""
    model = DECISIONS.get(name)
    if model is None:
        raise ReturnNotTaken("Unknown", f"there is no decision {name!r} on a return")
    if isinstance(payload, model):
        return payload
    try:
        return model.model_validate(payload.model_dump() if isinstance(payload, BaseModel) else payload)
    except ValidationError as error:
        reasons = []
        for item in error.errors():
            where = ".".join(str(p) for p in item["loc"])
            reasons.append(f"{where}: {item['msg'].removeprefix('Value error, ')}" if where else item["msg"])
        raise ReturnNotTaken("Invalid", "; ".join(reasons)) from None


def parties_now(database_url: str, board: str, agency: str) -> ReturnParties | None:
    """Who holds a return's roles in the registry now; None if the board has gone from it."""
    with session_scope(database_url) as session:
        try:
            _, parties = board_context(session=session, board_name=board)
        except RegistryError:
            return None
    return ReturnParties.of(parties, agency)


async def sync_return_parties(client: Client, database_url: str, status: ReturnStatus) -> bool:
    """Bring the return's role holders in line with the registry, so that its validator judges
    a decision by the registry as it is now (a lead replaced a moment ago is refused); True if
    they changed."""
    if status.closed:
        return False  # an accepted return has no roles left to hold
    parties = await asyncio.to_thread(parties_now, database_url, status.board, status.agency)
    if parties is None or parties == status.state.parties:
        return False
    change = UpdateReturnPartiesInput(parties=parties)
    await return_handle(client, status.workflow_id).execute_update(CycleReturnWorkflow.update_parties, change)
    return True


async def sync_open_returns(client: Client, database_url: str) -> list[str]:
    """Give every open return the registry's role holders now (after an import changed the
    registry), so that reminders go to the lead named today; returns the ids whose holders changed."""

    def open_ids() -> list[str]:
        with session_scope(database_url) as session:
            rows = session.exec(select(CycleReturnRow.workflow_id).where(CycleReturnRow.stage != "accepted"))
            return list(rows)

    changed = []
    for workflow_id in await asyncio.to_thread(open_ids):
        try:
            status = await return_status(client, workflow_id)
        except (LookupError, RPCError):
            continue  # gone (ended by hand, past retention): nothing to tell
        if await sync_return_parties(client, database_url, status):
            changed.append(workflow_id)
    return changed


async def decide_return(
    client: Client, database_url: str, workflow_id: str, name: str, payload: BaseModel | dict[str, Any]
) -> ReturnStatus:
    """Take a decision on a return: parsed by its model, the registry's role holders given to the
    workflow first, then the workflow's own check; ``ReturnNotTaken`` says why not."""
    decision = parse_return_decision(name, payload)
    try:
        status = await return_status(client, workflow_id)
    except LookupError as missing:
        raise ReturnNotTaken("Unknown", str(missing)) from None
    if status.closed:
        raise ReturnNotTaken("Refused", "the return is accepted: there is nothing left to decide")
    await sync_return_parties(client, database_url, status)
    try:
        # By name: the Update handlers are named as the decisions are.
        return await return_handle(client, workflow_id).execute_update(name, decision, result_type=ReturnStatus)
    except WorkflowUpdateFailedError as failed:
        cause = failed.cause
        if isinstance(cause, ApplicationError):
            raise ReturnNotTaken("Refused", cause.message) from None
        raise


# --- from a finding to a recommendation ---------------------------------------------------------


def _return_row(database_url: str, workflow_id: str) -> tuple[CycleReturnRow, Cycle | None] | None:
    with session_scope(database_url) as session:
        row = session.get(CycleReturnRow, workflow_id)
        if row is None:
            return None
        session.expunge(row)
        cycles = stored_cycles(session=session, cycle_ids=[row.cycle_id])
        return row, (cycles[0] if cycles else None)


def _board_context(database_url: str, board: str) -> tuple[EscalationPolicy, Parties]:
    with session_scope(database_url) as session:
        return board_context(session=session, board_name=board)


def _record_raised(database_url: str, workflow_id: str, standard_id: str, ref: str) -> None:
    from store.cycle_returns import record_raised

    with session_scope(database_url) as session:
        record_raised(session=session, workflow_id=workflow_id, standard_id=standard_id, ref=ref)


def raised_ref(cycle_id: str, period: str, workflow_id: str, standard_id: str) -> str:
    """The recommendation raised from one standard of one return: the same every time it is asked
    for, so a second raise finds the first (an agency's key is the return id's last part)."""
    agency_part = workflow_id.rsplit("-", 1)[-1]
    return f"{cycle_id}-{period}-{standard_id}-{agency_part}"[:64]


async def raise_recommendation(
    client: Client, database_url: str, task_queue: str, workflow_id: str, standard_id: str, *, by: str
) -> str:
    """Raise a recommendation from a standard a return rates not met: by an Assurance Board member
    (the registry as it is now), its action the agency's committed one, its source the cycle and
    the period; it then runs the normal lifecycle. Returns its ref; ``ReturnNotTaken`` says why not."""
    from gateway.registry_sync import registered_people
    from gateway.workflows import start_recommendation
    from models.payloads import ActionSpec, Recommendation, RecommendationInput, SourceKind

    roles, _, _ = await asyncio.to_thread(registered_people, database_url)
    if "assurance_member" not in roles.get(by.lower(), []):
        raise ReturnNotTaken("Refused", "only a member of the Assurance Board may raise a recommendation from a return")
    found = await asyncio.to_thread(_return_row, database_url, workflow_id)
    if found is None:
        raise ReturnNotTaken("Unknown", f"there is no return {workflow_id}")
    row, cycle = found
    if standard_id in row.raised:
        return row.raised[standard_id]  # raised already: the one recommendation, however it stands
    answer = next((StandardAnswer.model_validate(a) for a in row.answers if a["standard_id"] == standard_id), None)
    if answer is None or answer.rating is not Rating.not_met or answer.action is None:
        raise ReturnNotTaken("Refused", f"standard {standard_id} is not rated not met in this return")
    if row.stage not in ("submitted", "accepted"):
        raise ReturnNotTaken("Refused", "the return is not submitted: raise from what the agency has returned")
    standard = cycle.standard(standard_id) if cycle else None
    if answer.action.owner.lower() not in roles:
        raise ReturnNotTaken(
            "Refused", f"the action's owner {answer.action.owner} is not in the registry: add them, then raise it"
        )
    try:
        policy, parties = await asyncio.to_thread(_board_context, database_url, row.board)
    except RegistryError as error:
        raise ReturnNotTaken("Refused", str(error)) from None
    ref = raised_ref(row.cycle_id, row.period, workflow_id, standard_id)
    name = cycle.name if cycle else row.cycle_id
    text = standard.text if standard else f"Standard {standard_id} of {name}"
    recommendation = Recommendation(
        ref=ref, title=text, source_kind=SourceKind.audit, source_title=f"{name} {row.period}: {row.agency}",
        source_date=row.submitted_at.date() if row.submitted_at else row.due_on, board=row.board,
    )  # fmt: skip
    action = ActionSpec(
        action_id="A1", description=answer.action.description, agency=row.agency, owner=answer.action.owner,
        due=answer.action.due, success_measure=f"{text}: met at the next {name}",
    )  # fmt: skip
    start = RecommendationInput(recommendation=recommendation, policy=policy, parties=parties, actions=[action])
    from temporalio.exceptions import WorkflowAlreadyStartedError

    try:
        await start_recommendation(client, start, task_queue=task_queue)
    except WorkflowAlreadyStartedError:
        pass  # raised already: the link below is written again, nothing else
    await asyncio.to_thread(_record_raised, database_url, workflow_id, standard_id, ref)
    log.info("recommendation_raised_from_return", cycle_id=row.cycle_id, period=row.period)
    return ref
