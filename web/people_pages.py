"""People on the dashboard: someone's absences and standing deputy, and a leaver's hand-over.

``/dashboard/people/{email}`` shows a person's agency, roles, standing deputy, absences now and to
come and the latest registry changes about them, with the forms that name a deputy, record an
absence and cancel one; ``/dashboard/me`` is the signed-in person's own (the address an email's
"manage your absences" link can use). They, their agency's safeguarding lead and an admin may see
and change it; anyone else gets the not-found page, as for anything they may not see.

``/dashboard/people/{email}/leaving`` is for the lead or an admin: it records that the person left,
naming a successor, and starts the hand-over of their parts in every running recommendation, whose
progress ``/dashboard/hand-overs/{email}`` shows. Recorded again with the same successor, it
resumes the hand-over.

Every rule of an edit is the store's (``store.people``), which refuses with a reason per field;
the page shows them in a GOV.UK error summary, keeps what was typed, and changes nothing on GET.
An accepted edit is delivered to the running workflows (``gateway.people``) before the page says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import quote, urlencode

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from gateway.people import (
    hand_over_id,
    hand_over_progress,
    registry_changed,
    start_hand_over,
    tell_agency_lead_of_uncovered_absence,
)
from models.addresses import MAX_ADDRESS
from models.payloads import HandOverProgress
from models.wording import REGISTRY_CHANGE_WORDS
from store.access import Viewer, may_manage
from store.db import session_scope
from store.people import (
    AbsenceView,
    LeavingRecord,
    PersonRecord,
    RegistryEditRefused,
    cancel_absence,
    person_record,
    record_absence,
    record_leaving,
    set_deputy,
    uncovered,
)
from store.tables import AbsenceRow, Agency, Person
from web import wording
from web.context import WebContext
from web.dashboard import _not_found, _shared, _sign_in_first, signed_in_form
from web.forms import read_date
from web.recommendation_view import form_fields
from web.sign_in import signed_in

log = structlog.get_logger(__name__)
router = APIRouter(include_in_schema=False)

# The signed-in person's own page: a stable address for the footer of every email.
OWN_PAGE = "/dashboard/me"
# The date boxes of the absence form, and how a message names each.
DAY_LABELS = {"first_day": "the first day away", "last_day": "the last day away"}
# Where on the page each field the store may refuse sits: the element a message links to.
ABSENCE_FIELDS = {"first_day": "absence-first_day-day", "last_day": "absence-last_day-day", "deputy": "absence-deputy"}
DEPUTY_FIELDS = {"deputy": "deputy-deputy"}
LEAVING_FIELDS = {"successor": "leaving-successor", "confirmed": "leaving-confirmed"}
CONFIRM_MISSING = "Confirm that you understand their links stop working"
SUCCESSOR_MISSING = "Choose who takes over their work"
LATE = (
    " Assure could not tell the running recommendations just now: they will learn of it with the next "
    "change to the registry."
)
# What the registry's record of a change is called, in a table of them.


def person_path(email: str) -> str:
    """The address of ``email``'s absence page."""
    return f"/dashboard/people/{quote(email.strip().lower(), safe='@')}"


def hand_over_path(email: str) -> str:
    return f"/dashboard/hand-overs/{quote(email.strip().lower(), safe='@')}"


@dataclass(frozen=True)
class Colleague:
    email: str
    name: str
    agency: str

    @property
    def words(self) -> str:
        return f"{self.name} ({self.email})" if self.name and self.name != self.email else self.email


@dataclass
class Shown:
    """What a person's pages show: their record, who could deputise for them (or succeed them),
    their agency's lead, and what the viewer may do."""

    record: PersonRecord
    colleagues: list[Colleague]  # registered, still here, of their agency, not them
    lead: str  # their agency's safeguarding lead, "" without one
    may_record_leaving: bool
    names: dict[str, str] = field(default_factory=dict)  # the address -> the name of those shown

    def who(self, email: str) -> str:
        """``Name (address)``, or the address of someone without a name."""
        name = self.names.get(email.lower(), "")
        return f"{name} ({email.lower()})" if name else email

    def name_of(self, email: str) -> str:
        """The name alone, or the address of someone without a name."""
        return self.names.get(email.lower(), "") or email


# --- the absence page -----------------------------------------------------------------------


@router.get(OWN_PAGE, response_class=HTMLResponse)
async def own_page(request: Request) -> Response:
    """The signed-in person's own absences and deputy."""
    viewer = await signed_in(request)
    if viewer is None:
        return _sign_in_first(request)
    return RedirectResponse(person_path(viewer.email), status_code=303)


@router.get("/dashboard/people/{email}", response_class=HTMLResponse)
async def person_page(
    request: Request, email: str, done: str | None = None, absence: int | None = None, late: str | None = None
) -> Response:
    ctx: WebContext = request.app.state.ctx
    viewer = await signed_in(request)
    if viewer is None:
        return _sign_in_first(request)
    shown = await run_in_threadpool(_shown, ctx, viewer, email)
    if shown is None:
        return _not_found(ctx, request, viewer)
    banner = _banner(shown, viewer, done, absence)
    if banner and late == "1":
        banner += LATE
    return _person(ctx, request, viewer, shown, banner=banner)


@router.post("/dashboard/people/{email}/deputy", response_class=HTMLResponse)
async def name_deputy(request: Request, email: str) -> Response:
    """Name (or clear) the person's standing deputy."""
    ctx: WebContext = request.app.state.ctx
    posted_form = await signed_in_form(request)
    if isinstance(posted_form, Response):
        return posted_form
    viewer, form = posted_form
    shown = await run_in_threadpool(_shown, ctx, viewer, email)
    if shown is None:
        return _not_found(ctx, request, viewer)
    values = form_fields(form)
    deputy = values.get("deputy", "")[:MAX_ADDRESS]
    person = shown.record.email

    def write() -> bool:
        with session_scope(ctx.settings.database_url) as session:
            return set_deputy(session, person=person, deputy=deputy, by=viewer.email, now=ctx.clock())

    try:
        changed = await run_in_threadpool(write)
    except RegistryEditRefused as refused:
        log.info("deputy_refused", fields=sorted(refused.fields))
        errors = _located(refused, DEPUTY_FIELDS, default="deputy-deputy")
        return _person(ctx, request, viewer, shown, form="deputy", values=values, errors=errors, status_code=400)
    late = await _deliver(ctx) if changed else False
    log.info("deputy_named", changed=changed)
    return _back(person, done="deputy", late=late)


@router.post("/dashboard/people/{email}/absences", response_class=HTMLResponse)
async def add_absence(request: Request, email: str) -> Response:
    """Record an absence; with nobody named to cover it, the agency's lead is told."""
    ctx: WebContext = request.app.state.ctx
    posted_form = await signed_in_form(request)
    if isinstance(posted_form, Response):
        return posted_form
    viewer, form = posted_form
    shown = await run_in_threadpool(_shown, ctx, viewer, email)
    if shown is None:
        return _not_found(ctx, request, viewer)
    values = form_fields(form)
    errors: dict[str, str] = {}
    days: dict[str, date] = {}
    for name, label in DAY_LABELS.items():
        day, problem = _read_day(values, name, label)
        if problem:
            errors[ABSENCE_FIELDS[name]] = problem
        elif day is not None:
            days[name] = day
    if errors:
        return _person(ctx, request, viewer, shown, form="absence", values=values, errors=errors, status_code=400)
    person = shown.record.email
    deputy = values.get("deputy", "")[:MAX_ADDRESS]

    def write() -> tuple[int, bool]:
        with session_scope(ctx.settings.database_url) as session:
            row = record_absence(
                session, person=person, first_day=days["first_day"], last_day=days["last_day"], deputy=deputy,
                by=viewer.email, today=ctx.london_today(), now=ctx.clock(),
            )  # fmt: skip
            assert row.id is not None
            return row.id, uncovered(session, row)

    try:
        absence_id, nobody = await run_in_threadpool(write)
    except RegistryEditRefused as refused:
        log.info("absence_refused", fields=sorted(refused.fields))
        errors = _located(refused, ABSENCE_FIELDS, default="absence-first_day-day")
        return _person(ctx, request, viewer, shown, form="absence", values=values, errors=errors, status_code=400)
    late = await _deliver(ctx)
    if nobody:
        try:
            await tell_agency_lead_of_uncovered_absence(ctx.client, ctx.settings, absence_id)
        except Exception:  # Temporal did not answer: the absence stands, and its cover resolves anyway
            log.warning("absence_lead_not_told", absence_id=absence_id, exc_info=True)
    log.info("absence_recorded", absence_id=absence_id, uncovered=nobody)
    return _back(person, done="absence", absence=absence_id, late=late)


@router.post("/dashboard/people/{email}/absences/{absence_id}/cancel", response_class=HTMLResponse)
async def cancel(request: Request, email: str, absence_id: int) -> Response:
    """Cancel one of the person's absences: their mail comes to them again on those days."""
    ctx: WebContext = request.app.state.ctx
    posted_form = await signed_in_form(request)
    if isinstance(posted_form, Response):
        return posted_form
    viewer, form = posted_form
    shown = await run_in_threadpool(_shown, ctx, viewer, email)
    if shown is None:
        return _not_found(ctx, request, viewer)
    person = shown.record.email

    def write() -> None:
        with session_scope(ctx.settings.database_url) as session:
            row = session.get(AbsenceRow, absence_id)
            if row is None or row.person.lower() != person:
                # Only the absences of the person whose page this is (and the same words for one
                # that is not there: nobody learns of others' absences by trying ids).
                reason = "this absence is no longer recorded: it may have been cancelled already"
                raise RegistryEditRefused(reason, {"absence_id": reason})
            cancel_absence(session, absence_id=absence_id, by=viewer.email, now=ctx.clock())

    try:
        await run_in_threadpool(write)
    except RegistryEditRefused as refused:
        log.info("absence_cancel_refused")
        errors = _located(refused, {}, default="absences")
        return _person(ctx, request, viewer, shown, errors=errors, status_code=400)
    late = await _deliver(ctx)
    log.info("absence_cancelled", absence_id=absence_id)
    return _back(person, done="cancelled", late=late)


def _person(
    ctx: WebContext,
    request: Request,
    viewer: Viewer,
    shown: Shown,
    *,
    banner: str | None = None,
    form: str | None = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    record = shown.record
    own = viewer.email.lower() == record.email
    today = ctx.london_today()
    values = values or {}
    errors = errors or {}
    deputy_chosen = values.get("deputy", record.deputy) if form == "deputy" else record.deputy
    absence_deputy = values.get("deputy", "") if form == "absence" else ""
    fallback = _fallback_words(shown, own)
    standing = (
        f"{'Your' if own else 'Their'} standing deputy, {shown.who(record.deputy)}"
        if record.deputy
        else f"No one named: {fallback}"
    )
    context: dict[str, Any] = {
        **_shared(ctx, request, viewer),
        "nav": "people" if own else "",
        "shown": shown,
        "record": record,
        "own": own,
        "path": person_path(record.email),
        "roles": [wording.registry_role_words(role) for role in record.roles],
        "absences": [
            {
                "view": a,
                "covered_by": _cover_words(shown, a, own),
                "now": a.first_day <= today,
            }
            for a in record.absences
        ],
        "changes": [
            {
                "at": c.at,
                "by": shown.name_of(c.by),
                "what": REGISTRY_CHANGE_WORDS.get(c.what, c.what.capitalize()),
                "detail": c.detail,
            }
            for c in record.changes
        ],
        "deputy_items": _choices([("", "No standing deputy"), *_deputy_options(shown, record.deputy)], deputy_chosen),
        "absence_deputy_items": _choices([("", standing), *_deputy_options(shown, "")], absence_deputy),
        "fallback": fallback,
        "form": form,
        "values": values if form == "absence" else {},
        "errors": errors,
        "error_list": [{"text": message, "href": f"#{target}"} for target, message in errors.items()],
        "banner": banner,
        "hand_over_path": hand_over_path(record.email),
    }
    return ctx.page(request, "dashboard/person.html", context, status_code=status_code, error=bool(errors))


def _banner(shown: Shown, viewer: Viewer, done: str | None, absence: int | None) -> str | None:
    """The success banner after an edit: what was recorded, in words (from the registry, so a
    link cannot make the page claim what did not happen)."""
    record = shown.record
    own = viewer.email.lower() == record.email
    if done == "absence":
        found = next((a for a in record.absences if a.id == absence), None)
        if found is None:
            return "Absence recorded."
        return (
            f"Absence recorded: away from {wording.uk_date(found.first_day)} to {wording.uk_date(found.last_day)}, "
            f"covered by {_cover_words(shown, found, own)}."
        )
    yours, you = ("your", "you") if own else ("their", "them")
    if done == "deputy":
        if record.deputy:
            return f"Standing deputy saved: {shown.who(record.deputy)} covers {yours} absences."
        return f"No standing deputy now: {_fallback_words(shown, own)} covers {yours} absences."
    if done == "cancelled":
        return f"Absence cancelled: {yours} mail comes to {you} again on those days."
    return None


def _cover_words(shown: Shown, absence: AbsenceView, own: bool) -> str:
    """Who covers ``absence``: the deputy it names, else the standing deputy, else the lead."""
    if absence.deputy:
        return shown.who(absence.deputy)
    if shown.record.deputy:
        return f"{'your' if own else 'their'} standing deputy, {shown.who(shown.record.deputy)}"
    return _fallback_words(shown, own)


def _fallback_words(shown: Shown, own: bool) -> str:
    """Who covers an absence nobody is named for (``store.cover``'s rule): the agency's lead, or,
    for the lead themselves, each board's sponsor."""
    lead = shown.lead
    if lead and lead != shown.record.email:
        return f"{'your' if own else 'their'} agency's safeguarding lead, {shown.who(lead)}"
    return "the sponsor of each recommendation's board"


def _deputy_options(shown: Shown, current: str) -> list[tuple[str, str]]:
    options = [(c.email, c.words) for c in shown.colleagues]
    if current and current not in {c.email for c in shown.colleagues}:
        options.append((current, f"{current} (no longer someone who may deputise)"))
    return options


def _choices(options: list[tuple[str, str]], chosen: str) -> list[dict[str, Any]]:
    chosen = chosen.strip().lower()
    return [{"value": value, "text": text, "selected": value == chosen} for value, text in options]


def _read_day(values: dict[str, str], name: str, label: str) -> tuple[date | None, str | None]:
    """A required date from its three boxes, the form's rule (``web.forms.read_date``) in this
    form's words."""
    day, problem = read_date(values, name, required=True)
    if problem:
        problem = problem.replace("the date", label).replace("The date", label[:1].upper() + label[1:])
    return day, problem


def _located(refused: RegistryEditRefused, targets: dict[str, str], *, default: str) -> dict[str, str]:
    """The store's reasons, each at the element of the field it concerns (the others at
    ``default``), written as a page writes a message."""
    located: dict[str, str] = {}
    for name, reason in refused.fields.items():
        target = targets.get(name, default)
        message = wording.with_uk_dates(reason)
        message = message[:1].upper() + message[1:]
        located[target] = f"{located[target]}. {message}" if target in located else message
    return located or {default: refused.message}


async def _deliver(ctx: WebContext) -> bool:
    """Carry the registry as it now is into the running workflows; True when that failed (the
    change stands, and the next one carries it)."""
    try:
        await registry_changed(ctx.client, ctx.settings.database_url)
    except Exception:
        log.warning("people_change_not_delivered", exc_info=True)
        return True
    return False


def _back(person: str, **query: Any) -> Response:
    shown = {k: ("1" if v is True else v) for k, v in query.items() if v not in (None, False)}
    return RedirectResponse(f"{person_path(person)}?{urlencode(shown)}", status_code=303)


# --- the leaver page and the hand-over's progress ---------------------------------------------


@router.get("/dashboard/people/{email}/leaving", response_class=HTMLResponse)
async def leaving_page(request: Request, email: str) -> Response:
    ctx: WebContext = request.app.state.ctx
    viewer = await signed_in(request)
    if viewer is None:
        return _sign_in_first(request)
    found = await run_in_threadpool(_leaving_shown, ctx, viewer, email)
    if found is None:
        return _not_found(ctx, request, viewer)
    return _leaving(ctx, request, viewer, *found)


@router.post("/dashboard/people/{email}/leaving", response_class=HTMLResponse)
async def record_leaver(request: Request, email: str) -> Response:
    """Record that the person left, naming their successor, and start (or resume) the hand-over."""
    ctx: WebContext = request.app.state.ctx
    posted_form = await signed_in_form(request)
    if isinstance(posted_form, Response):
        return posted_form
    viewer, form = posted_form
    found = await run_in_threadpool(_leaving_shown, ctx, viewer, email)
    if found is None:
        return _not_found(ctx, request, viewer)
    shown, successors = found
    values = form_fields(form)
    successor = values.get("successor", "").strip()[:MAX_ADDRESS]
    errors: dict[str, str] = {}
    if not successor:
        errors[LEAVING_FIELDS["successor"]] = SUCCESSOR_MISSING
    if values.get("confirmed") != "yes":
        errors[LEAVING_FIELDS["confirmed"]] = CONFIRM_MISSING
    if errors:
        return _leaving(ctx, request, viewer, shown, successors, values=values, errors=errors, status_code=400)
    leaver = shown.record.email

    def write() -> LeavingRecord:
        with session_scope(ctx.settings.database_url) as session:
            return record_leaving(
                session, leaver=leaver, successor=successor, by=viewer.email, today=ctx.london_today(),
                now=ctx.clock(),
            )  # fmt: skip

    try:
        record = await run_in_threadpool(write)
    except RegistryEditRefused as refused:
        log.info("leaving_refused", fields=sorted(refused.fields))
        errors = _located(refused, LEAVING_FIELDS, default=LEAVING_FIELDS["successor"])
        return _leaving(ctx, request, viewer, shown, successors, values=values, errors=errors, status_code=400)
    await start_hand_over(
        ctx.client, ctx.settings, leaver=record.leaver, successor=record.successor, by=viewer.email,
        registry_moved=record.moved,
    )  # fmt: skip
    log.info("leaver_recorded", already_left=record.already_left, registry_moved=len(record.moved))
    return RedirectResponse(hand_over_path(record.leaver), status_code=303)


def _leaving(
    ctx: WebContext,
    request: Request,
    viewer: Viewer,
    shown: Shown,
    successors: list[Colleague],
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    record = shown.record
    values = values or {}
    errors = errors or {}
    chosen = values.get("successor", record.successor)
    context: dict[str, Any] = {
        **_shared(ctx, request, viewer),
        "nav": "",
        "shown": shown,
        "record": record,
        "path": person_path(record.email),
        "hand_over_path": hand_over_path(record.email),
        "successor_items": _choices(
            [
                ("", "Choose the successor"),
                *((c.email, f"{c.words}, {c.agency}" if c.agency else c.words) for c in successors),
            ],
            chosen,
        ),  # fmt: skip
        "confirmed": values.get("confirmed") == "yes",
        "errors": errors,
        "error_list": [{"text": message, "href": f"#{target}"} for target, message in errors.items()],
    }
    return ctx.page(request, "dashboard/leaver.html", context, status_code=status_code, error=bool(errors))


@router.get("/dashboard/hand-overs/{email}", response_class=HTMLResponse)
async def hand_over_page(request: Request, email: str) -> Response:
    """Where a leaver's hand-over stands; once finished, what moved to whom."""
    ctx: WebContext = request.app.state.ctx
    viewer = await signed_in(request)
    if viewer is None:
        return _sign_in_first(request)
    shown = await run_in_threadpool(lambda: _shown(ctx, viewer, email, leaving=True))
    if shown is None:
        return _not_found(ctx, request, viewer)
    record = shown.record
    if record.left_on is None:
        # Only someone this registry records as gone has a hand-over to show.
        return _not_found(ctx, request, viewer)
    progress, state = await _progress(ctx, record.email)
    if progress is None and state == "none":
        return _not_found(ctx, request, viewer)
    left = next((c for c in record.changes if c.what == "left"), None)
    context: dict[str, Any] = {
        **_shared(ctx, request, viewer),
        "nav": "",
        "shown": shown,
        "record": record,
        "progress": progress,
        "state": state,
        "left_detail": left.detail if left else "",
        "path": person_path(record.email),
        "leaving_path": f"{person_path(record.email)}/leaving",
        "here": hand_over_path(record.email),
        "stages": wording.STAGES,
    }
    return ctx.page(request, "dashboard/hand_over.html", context)


async def _progress(ctx: WebContext, leaver: str) -> tuple[HandOverProgress | None, str]:
    """The hand-over's progress and its state: "running", "finished", "stopped" (ended without
    finishing: record the leaving again to resume), "unknown" (Temporal did not answer) or "none"
    (no hand-over was ever started for them). A finished one is read from its result, which needs
    no worker; a running one is asked."""
    workflow_id = hand_over_id(leaver)
    try:
        described = await ctx.client.get_workflow_handle(workflow_id).describe()
        if described.status == WorkflowExecutionStatus.COMPLETED:
            return await hand_over_progress(ctx.client, workflow_id, wait=True), "finished"
        if described.status != WorkflowExecutionStatus.RUNNING:
            return None, "stopped"
        return await hand_over_progress(ctx.client, workflow_id), "running"
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None, "none"
        log.warning("hand_over_progress_unavailable", exc_info=True)
        return None, "unknown"


# --- the store's reads, each a blocking query: run in the thread pool, off the event loop ----


def _shown(ctx: WebContext, viewer: Viewer, email: str, *, leaving: bool = False) -> Shown | None:
    """The person ``email`` names as ``viewer`` may see them; None when there is no such person
    or they may not (the same answer, so nobody learns who is registered)."""
    address = email.strip().lower()[:MAX_ADDRESS]
    with session_scope(ctx.settings.database_url) as session:
        person = _person_row(session, address)
        if person is None or not may_manage(viewer, person, leaving=leaving):
            return None
        record = person_record(session, address, ctx.london_today())
        agency = session.exec(select(Agency).where(Agency.name == person.agency)).first() if person.agency else None
        colleagues = [
            c
            for c in _present(session)
            if person.agency and c.agency.strip().casefold() == person.agency.strip().casefold() and c.email != address
        ]
        shown = Shown(
            record=record,
            colleagues=colleagues,
            lead=((agency.safeguarding_lead_email or "") if agency else "").lower(),
            may_record_leaving=record.left_on is None and may_manage(viewer, person, leaving=True),
        )
        named = {
            record.deputy, shown.lead, record.successor, *(a.deputy for a in record.absences),
            *(c.by.lower() for c in record.changes),
        } - {""}  # fmt: skip
        for other in session.exec(select(Person).where(func.lower(Person.email).in_(sorted(named)))):
            if other.name.strip():
                shown.names[other.email.lower()] = other.name.strip()
        return shown


def _leaving_shown(ctx: WebContext, viewer: Viewer, email: str) -> tuple[Shown, list[Colleague]] | None:
    """The leaver page's person (for their agency's lead or an admin only) and who may succeed
    them: anyone registered and still here, their own agency's people first."""
    shown = _shown(ctx, viewer, email, leaving=True)
    if shown is None:
        return None
    record = shown.record
    with session_scope(ctx.settings.database_url) as session:
        present = [c for c in _present(session) if c.email != record.email]
    mine = record.agency.strip().casefold()
    present.sort(key=lambda c: (not mine or c.agency.strip().casefold() != mine, c.agency.casefold(),
                                c.name.casefold() or c.email))  # fmt: skip
    return shown, present


def _person_row(session: Session, address: str) -> Person | None:
    if not address:
        return None
    return session.exec(select(Person).where(func.lower(Person.email) == address)).first()


def _present(session: Session) -> list[Colleague]:
    """Everyone registered who has not left, by name."""
    rows = session.exec(
        select(Person).where(col(Person.left_on).is_(None)).order_by(col(Person.name), col(Person.email))
    )
    return [Colleague(p.email.lower(), p.name, p.agency) for p in rows]
