"""The JSON API for people changing and for registry edits without a workbook.

A person's deputy and absences may be changed by them, by their agency's safeguarding lead and by
an admin; a leaving is recorded by the lead or an admin, and its hand-over followed by its
progress; people, agencies and boards are edited by an admin. Each route applies the same rules as
the command line and the dashboard (``store.people``, ``store.registry_edits``), refuses with each
field's reason (400) and writes nothing then, and delivers an accepted change to the running
workflows before it answers.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlmodel import select
from starlette.concurrency import run_in_threadpool

from gateway.people import (
    hand_over_id,
    hand_over_progress,
    registry_changed,
    start_hand_over,
    tell_agency_lead_of_uncovered_absence,
)
from models.payloads import HandOverProgress
from store.access import Viewer, may_manage
from store.db import session_scope
from store.people import (
    PersonRecord,
    RegistryEditRefused,
    cancel_absence,
    has_left,
    person_record,
    record_absence,
    record_leaving,
    set_deputy,
    uncovered,
)
from store.registry_edits import Kind, edit_registry
from store.tables import Person
from web.api import Caller, _ctx

router = APIRouter()


class DeputyBody(BaseModel):
    deputy: str = Field(description="A registered person of the same agency; empty to clear")


class AbsenceBody(BaseModel):
    first_day: date
    last_day: date
    deputy: str = Field(default="", description="Who covers this absence; empty for the standing deputy")


class LeavingBody(BaseModel):
    successor: str


def _refused(refused: RegistryEditRefused) -> JSONResponse:
    return JSONResponse({"error": refused.message, "fields": refused.fields}, status_code=400)


def _checked(request: Request, viewer: Viewer, email: str, *, leaving: bool = False) -> None:
    with session_scope(_ctx(request).settings.database_url) as session:
        found = session.exec(select(Person).where(Person.email == email.strip().lower())).first()
        if found is None or not may_manage(viewer, found, leaving=leaving):
            # The same answer whether or not they exist: the registry is not for browsing.
            raise HTTPException(404, f"no one you may manage has the address {email}")


@router.get("/api/people/{email}", response_model=PersonRecord, tags=["people"])
def get_person(request: Request, email: str, person: Caller) -> PersonRecord:
    """Someone's roles, agency, deputy, absences and recent registry changes."""
    _checked(request, person, email)
    ctx = _ctx(request)
    with session_scope(ctx.settings.database_url) as session:
        return person_record(session, email, ctx.london_today())


@router.post("/api/people/{email}/deputy", tags=["people"], responses={400: {}, 404: {}})
async def post_deputy(request: Request, email: str, person: Caller, body: DeputyBody) -> Any:
    """Name someone's standing deputy (empty to clear)."""
    _checked(request, person, email)
    ctx = _ctx(request)

    def write() -> bool:
        with session_scope(ctx.settings.database_url) as session:
            return set_deputy(session, person=email, deputy=body.deputy, by=person.email, now=datetime.now(UTC))

    try:
        changed = await run_in_threadpool(write)
    except RegistryEditRefused as refused:
        return _refused(refused)
    delivered = await registry_changed(ctx.client, ctx.settings.database_url) if changed else 0
    return {"changed": changed, "delivered_to": delivered}


@router.post("/api/people/{email}/absences", tags=["people"], status_code=201, responses={400: {}, 404: {}})
async def post_absence(request: Request, email: str, person: Caller, body: AbsenceBody) -> Any:
    """Record an absence; while it lasts their mail and decisions go to the deputy."""
    _checked(request, person, email)
    ctx = _ctx(request)

    def write() -> tuple[int, bool]:
        with session_scope(ctx.settings.database_url) as session:
            row = record_absence(
                session, person=email, first_day=body.first_day, last_day=body.last_day, deputy=body.deputy,
                by=person.email, today=ctx.london_today(), now=datetime.now(UTC),
            )  # fmt: skip
            assert row.id is not None
            return row.id, uncovered(session, row)

    try:
        absence_id, nobody = await run_in_threadpool(write)
    except RegistryEditRefused as refused:
        return _refused(refused)
    delivered = await registry_changed(ctx.client, ctx.settings.database_url)
    told = nobody and await tell_agency_lead_of_uncovered_absence(ctx.client, ctx.settings, absence_id)
    return JSONResponse(
        {"absence_id": absence_id, "agency_lead_told": told, "delivered_to": delivered}, status_code=201
    )


@router.delete("/api/people/{email}/absences/{absence_id}", tags=["people"], responses={400: {}, 404: {}})
async def delete_absence(request: Request, email: str, absence_id: int, person: Caller) -> Any:
    """Cancel an absence: their mail comes to them again."""
    _checked(request, person, email)
    ctx = _ctx(request)

    def write() -> None:
        with session_scope(ctx.settings.database_url) as session:
            row = cancel_absence(session, absence_id=absence_id, by=person.email, now=datetime.now(UTC))
            if row.person.lower() != email.strip().lower():
                raise RegistryEditRefused(
                    f"absence {absence_id} is not {email}'s", {"absence_id": f"absence {absence_id} is not {email}'s"}
                )

    try:
        await run_in_threadpool(write)
    except RegistryEditRefused as refused:
        return _refused(refused)
    return {"delivered_to": await registry_changed(ctx.client, ctx.settings.database_url)}


@router.post("/api/people/{email}/leaving", tags=["people"], status_code=202, responses={400: {}, 404: {}})
async def post_leaving(request: Request, email: str, person: Caller, body: LeavingBody) -> Any:
    """Record that someone left, naming their successor, and start the hand-over of their parts in
    every running recommendation (follow it at ``GET /api/hand-overs/{email}``)."""
    _checked(request, person, email, leaving=True)
    ctx = _ctx(request)

    def write() -> list[str]:
        with session_scope(ctx.settings.database_url) as session:
            record = record_leaving(
                session, leaver=email, successor=body.successor, by=person.email, today=ctx.london_today(),
                now=datetime.now(UTC),
            )  # fmt: skip
            return record.moved

    try:
        moved = await run_in_threadpool(write)
    except RegistryEditRefused as refused:
        return _refused(refused)
    workflow_id = await start_hand_over(
        ctx.client, ctx.settings, leaver=email, successor=body.successor, by=person.email, registry_moved=moved
    )
    return JSONResponse({"hand_over": workflow_id, "registry_moved": moved}, status_code=202)


@router.get("/api/hand-overs/{email}", response_model=HandOverProgress, tags=["people"])
async def get_hand_over(request: Request, email: str, person: Caller) -> HandOverProgress:
    """Where a leaver's hand-over stands (404 for someone the registry does not record as gone)."""
    _checked(request, person, email, leaving=True)
    ctx = _ctx(request)
    with session_scope(ctx.settings.database_url) as session:
        if not has_left(session, email):
            raise HTTPException(404, f"{email} is not recorded as having left")
    return await hand_over_progress(ctx.client, hand_over_id(email))


def _edit_endpoint(kind: Kind, path: str) -> None:
    async def edit(request: Request, key: str, person: Caller, fields: Annotated[dict[str, str], Body()]) -> Any:
        if "admin" not in person.roles:
            raise HTTPException(403, f"{person.email} may not edit the registry (role admin)")
        ctx = _ctx(request)

        def write() -> str:
            with session_scope(ctx.settings.database_url) as session:
                return edit_registry(session, kind=kind, key=key, fields=fields, by=person.email, now=datetime.now(UTC))

        try:
            detail = await run_in_threadpool(write)
        except RegistryEditRefused as refused:
            return _refused(refused)
        delivered = await registry_changed(ctx.client, ctx.settings.database_url) if detail != "nothing changed" else 0
        return {"changed": detail, "delivered_to": delivered}

    edit.__name__ = f"edit_{kind}"
    edit.__doc__ = (
        f"Change (or add) a {kind} of the registry with the import's column names as fields, checked by the "
        "import's rules; delivered to the running workflows (a board's new policy from each next deadline)."
    )
    router.add_api_route(path, edit, methods=["PUT"], tags=["registry"], responses={400: {}, 403: {}})


_edit_endpoint("person", "/api/registry/people/{key}")
_edit_endpoint("agency", "/api/registry/agencies/{key}")
_edit_endpoint("board", "/api/registry/boards/{key}")
