"""Carry the registry as it is now into the running workflows.

Each recommendation's workflow keeps who holds its roles (its ``Parties``), because the lifecycle
is deterministic and cannot read the store. When the registry changes (an import, any registry
edit), ``sync_registry`` sends every open recommendation its new holders through the workflow's
``update_parties`` Update: new mail goes to the new holders, the old holders' links stop working
(links and pages ask the workflow who holds a role), and the timeline records the change. Before
any decision, ``prepare_decision`` does the same for that one recommendation, so a person whose
role was removed a moment ago is refused by the workflow itself, and checks that everyone the
decision names is in the registry in a fitting role.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection

import structlog
from pydantic import BaseModel
from sqlmodel import col, select
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from models.payloads import (
    CLOSED_STAGES,
    DecisionResult,
    EscalationPolicy,
    Parties,
    SignOffInput,
    UpdatePartiesInput,
)
from models.people import cascade_step_problems, unregistered_people
from store.db import session_scope
from store.read_model import RegistryError, board_context
from store.tables import Agency, Person, RecommendationRow

log = structlog.get_logger(__name__)
SYNC_CONCURRENCY = 16
REGISTRY_ACTOR = "registry"


def registered_people(database_url: str) -> tuple[dict[str, list[str]], dict[str, str], list[str]]:
    """Every registered address with its roles, and with its agency; and every agency's name."""
    with session_scope(database_url) as session:
        people = list(session.exec(select(Person)))
        agencies = [a.name for a in session.exec(select(Agency))]
        return (
            {p.email.lower(): p.role_list() for p in people},
            {p.email.lower(): p.agency for p in people},
            agencies,
        )


def parties_for(database_url: str, board: str) -> tuple[EscalationPolicy, Parties] | None:
    """The escalation policy and who holds the roles now, for a recommendation sponsored by ``board``."""
    with session_scope(database_url) as session:
        try:
            return board_context(session=session, board_name=board)
        except RegistryError:
            return None


def _board_of(database_url: str, ref: str) -> str | None:
    with session_scope(database_url) as session:
        row = session.get(RecommendationRow, ref)
        return row.board if row is not None else None


def open_boards(database_url: str) -> dict[str, str]:
    """Every recommendation the read model has open, with its board."""
    closed = [stage.value for stage in CLOSED_STAGES]
    with session_scope(database_url) as session:
        rows = session.exec(
            select(RecommendationRow.ref, RecommendationRow.board).where(col(RecommendationRow.stage).not_in(closed))
        )
        return dict(rows.all())


async def update_parties(
    client: Client, ref: str, held: tuple[EscalationPolicy, Parties], *, by: str = REGISTRY_ACTOR
) -> bool:
    """Send the board's policy and role holders to the recommendation's workflow; False when it had
    them already (or is closed). A new policy applies from each next deadline (the timeline says so)."""
    from gateway.workflows import workflow_id_for

    handle = client.get_workflow_handle(workflow_id_for(ref))
    policy, parties = held
    change = UpdatePartiesInput(by=by, parties=parties, summary="the registry changed", policy=policy)
    try:
        await handle.execute_update("update_parties", change, result_type=DecisionResult)
    except WorkflowUpdateFailedError as exc:
        if isinstance(exc.cause, ApplicationError) and exc.cause.type in {"Unchanged", "WrongStage"}:
            return False
        raise
    except RPCError as exc:
        # Closed or gone: a closed recommendation has no roles left to hold. Anything else (the
        # server out of reach) is raised: a decision must not go ahead on stale role holders.
        if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
            return False
        raise
    return True


async def prepare_decision(client: Client, database_url: str, ref: str, decision: BaseModel) -> None:
    """Before a decision: refuse it if it names someone who may not be named, then bring the
    workflow's role holders up to date so that its validator judges by the registry as it is now."""
    from gateway.workflows import DecisionNotTaken

    roles, agency_of, agencies = await asyncio.to_thread(registered_people, database_url)
    problems = unregistered_people(decision, roles, agency_of=agency_of, agencies=agencies)
    if problems:
        message = "; ".join(problems.values())
        raise DecisionNotTaken("NotInRegistry", message, fields=problems)
    if isinstance(decision, SignOffInput):
        await _refuse_a_cascade_the_registry_has_left(client, ref, agency_of, agencies)
    board = await asyncio.to_thread(_board_of, database_url, ref)
    if board is None:
        from gateway.workflows import recommendation_status

        board = (await recommendation_status(client, ref)).board
    held = await asyncio.to_thread(parties_for, database_url, board)
    if held is not None:
        await update_parties(client, ref, held)


async def _refuse_a_cascade_the_registry_has_left(
    client: Client, ref: str, agency_of: dict[str, str], agencies: list[str]
) -> None:
    """At sign-off, the plan's cascade is checked against the registry again: a lead it names who
    has left the registry (or their agency) since the plans came in would be asked to confirm, and
    sent the recommendation, as if still there. Refused, with the plans to submit again."""
    from gateway.workflows import DecisionNotTaken, recommendation_status

    plan = (await recommendation_status(client, ref)).dissemination
    if plan is None:
        return
    problems = cascade_step_problems(plan.cascade, agency_of, agencies, where="dissemination.cascade")
    # The named leads only: an agency's own name was checked as the plans came in, and its default
    # lead (its safeguarding lead) follows the registry in the workflow itself.
    leads = {where: reason for where, reason in problems.items() if where.endswith(".lead")}
    if leads:
        reasons = "; ".join(leads.values())
        raise DecisionNotTaken("NotInRegistry", f"sign-off refused: {reasons}; submit the plans again")


async def sync_registry(client: Client, database_url: str, *, refs: Collection[str] | None = None) -> list[str]:
    """Send every open recommendation (or those of ``refs``) its role holders from the registry;
    returns the refs whose holders changed."""
    boards = await asyncio.to_thread(open_boards, database_url)
    if refs is not None:
        boards = {ref: board for ref, board in boards.items() if ref in set(refs)}
    holders = {board: await asyncio.to_thread(parties_for, database_url, board) for board in set(boards.values())}
    gate = asyncio.Semaphore(SYNC_CONCURRENCY)

    async def one(ref: str, board: str) -> str | None:
        held = holders[board]
        if held is None:
            log.warning("registry_sync_skipped", ref=ref, reason="the board has no sponsor or the registry no member")
            return None
        async with gate:
            return ref if await update_parties(client, ref, held) else None

    changed = [ref for ref in await asyncio.gather(*(one(r, b) for r, b in sorted(boards.items()))) if ref]
    log.info("registry_synced", open=len(boards), changed=len(changed))
    return changed
