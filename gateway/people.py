"""People change: carry a registry edit about someone (an absence, a deputy, a leaver) into the
running workflows.

The store records the edit (``store.people``) and this module delivers it: an absence or a new
deputy reaches every open recommendation and return through the registry sync (their ``Parties``
carry the absences with each one's cover, ``store.cover``); a leaver's parts held by name pass to
the successor through each recommendation's own ``hand_over`` decision, run by a durable
``HandOverWorkflow`` (``workflows.hand_over``) that shows its progress, resumes if interrupted and
writes to the successor once.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime

import structlog
from sqlmodel import select
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from models.kinds import MessageKind
from models.payloads import FreshLinkInput, HandOverProgress, HandOverStart, Notification
from settings import Settings
from store.db import session_scope
from store.tables import AbsenceRow, Agency, Person

log = structlog.get_logger(__name__)


async def registry_changed(client: Client, database_url: str) -> int:
    """Send the registry as it is now to every open recommendation, return and review; how many changed."""
    from gateway.cycles import sync_open_returns
    from gateway.registry_sync import sync_registry
    from gateway.reviews import sync_open_reviews

    changed = await sync_registry(client, database_url)
    returns = await sync_open_returns(client, database_url)
    reviews = await sync_open_reviews(client, database_url)
    log.info("people_change_delivered", recommendations=len(changed), returns=len(returns), reviews=len(reviews))
    return len(changed) + len(returns) + len(reviews)


def _pseudonym(*parts: object) -> str:
    """A stable stand-in for people's addresses in a workflow id: ids appear in the worker's logs
    and Temporal's UI, addresses must not."""
    return hashlib.sha256("|".join(str(p).strip().lower() for p in parts).encode()).hexdigest()[:24]


def hand_over_id(leaver: str) -> str:
    return f"hand-over-{_pseudonym(leaver)}"


async def start_hand_over(
    client: Client, settings: Settings, *, leaver: str, successor: str, by: str, registry_moved: Sequence[str] = ()
) -> str:
    """Start (or find running) the leaver's hand-over, after the store recorded their leaving
    (``store.people.record_leaving``); returns its workflow id. Run again after it finished, it
    asks every open recommendation again (each answers "unchanged" where nothing is left to move)
    and the successor's summary, keyed by the pair, is not sent twice."""
    from workflows.hand_over import HandOverWorkflow

    start = HandOverStart(leaver=leaver, successor=successor, by=by, registry_moved=list(registry_moved))
    workflow_id = hand_over_id(leaver)
    try:
        await client.start_workflow(
            HandOverWorkflow.run,
            start,
            id=workflow_id,
            task_queue=settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        pass  # under way: the caller follows its progress
    log.info("hand_over_started")
    return workflow_id


async def hand_over_progress(client: Client, workflow_id: str, *, wait: bool = False) -> HandOverProgress:
    """Where the hand-over stands; with ``wait``, once it has finished."""
    handle = client.get_workflow_handle(workflow_id, result_type=HandOverProgress)
    if wait:
        # The plain handle's wait: a time-skipping test client's own ``result`` would let its
        # clock leap ahead while it waits (harmless against a real server, where they are one).
        return await WorkflowHandle.result(handle)
    return await handle.query("progress", result_type=HandOverProgress)


async def tell_agency_lead_of_uncovered_absence(client: Client, settings: Settings, absence_id: int) -> bool:
    """Tell the absent person's agency lead that their mail comes to the lead meanwhile, once per
    absence (the message's workflow id is the absence's); False when the agency has no lead."""
    from workflows.fresh_link import FreshLinkWorkflow

    def facts() -> tuple[AbsenceRow, Person, str] | None:
        with session_scope(settings.database_url) as session:
            absence = session.get(AbsenceRow, absence_id)
            if absence is None:
                return None
            person = session.exec(select(Person).where(Person.email == absence.person)).first()
            agency = session.exec(select(Agency).where(Agency.name == (person.agency if person else ""))).first()
            lead = (agency.safeguarding_lead_email or "") if agency else ""
            if person is None or not lead or lead.lower() == person.email:
                return None
            session.expunge_all()
            return absence, person, lead.lower()

    found = await asyncio.to_thread(facts)
    if found is None:
        return False
    absence, person, lead = found
    key = f"absence/{absence_id}/uncovered"
    notification = Notification(
        key=key,
        kind=MessageKind.absence_uncovered,
        recipients=[lead],
        context={
            "person": person.email,
            "agency": person.agency,
            "first_day": absence.first_day.isoformat(),
            "last_day": absence.last_day.isoformat(),
            "thread": key,
        },
        created_at=datetime.now(UTC),
    )
    try:
        await client.start_workflow(
            FreshLinkWorkflow.run,
            FreshLinkInput(recommendation_workflow_id="people", notification=notification),
            id=f"absence-uncovered-{_pseudonym(absence_id, person.email, absence.first_day, absence.last_day)}",
            task_queue=settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        return True
    return True
