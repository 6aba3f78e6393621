"""The registry on the dashboard, for admins: people, agencies and boards changed (or added)
without a workbook.

``/dashboard/registry`` lists the stored registry in three tables, each row with its edit page;
someone who has left is shown as gone, with a link to their person page, and is not edited here.
``/dashboard/registry/{kind}/{key}`` (kind ``people``, ``agencies`` or ``boards``; key ``new`` to
add one) is a form with one field per column of the import's sheet, filled from the stored row,
and the latest registry changes about that subject beneath it. Anyone but an admin gets the
not-found page, for the list, every form and every post.

Every rule is the import's, applied by the store (``store.registry_edits.edit_registry``) to the
fields the form changed; a refusal is shown at each field it concerns in a GOV.UK error summary,
with what was typed kept, and nothing is written. An accepted edit is recorded with who made it and
delivered to the running workflows (``web.people_pages._deliver``) before the page says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal
from urllib.parse import quote, urlencode

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from models.addresses import MAX_ADDRESS
from models.wording import REGISTRY_CHANGE_WORDS
from plans.sheets import POLICY_COLUMNS, cell_text
from store.access import Viewer
from store.db import session_scope
from store.people import RECENT_CHANGES, RegistryEditRefused
from store.registry_edits import KEY_OF, SHEET_OF, Kind, edit_registry, registry_sheets
from store.tables import Agency, Board, Person, RegistryChange
from web import wording
from web.context import WebContext
from web.dashboard import _not_found, _shared, _sign_in_first, signed_in_form
from web.people_pages import LATE, _deliver, _located, person_path
from web.recommendation_view import form_fields
from web.sign_in import signed_in

log = structlog.get_logger(__name__)
router = APIRouter(include_in_schema=False)

LIST_PAGE = "/dashboard/registry"
NEW = "new"  # the key of the form that adds one
# The path's word for each kind, and the kind each names.
PATH_OF: dict[Kind, str] = {"person": "people", "agency": "agencies", "board": "boards"}
KIND_OF: dict[str, Kind] = {words: kind for kind, words in PATH_OF.items()}
NOUN: dict[Kind, str] = {"person": "person", "agency": "agency", "board": "board"}
MAX_VALUE = 2000  # no column holds more; a longer value is not someone typing
ROLE_HINT = (
    "Separated by commas, for example: owner, board_sponsor:Adults Board, assurance_member. "
    "The roles are owner, agency_lead, board_sponsor:<board>, board_chair:<board>, assurance_member, "
    "auditor and admin"
)
DURATION_HINT = "ISO-8601, for example P14D (14 days) or P1M (1 month)"
DONE = {"saved", "added", "nothing"}


@dataclass(frozen=True)
class Column:
    """One column of the import's sheet as the form shows it."""

    name: str
    label: str
    hint: str = ""
    width: str = ""
    input: Literal["text", "email", "yes_no"] = "text"


COLUMNS: dict[Kind, tuple[Column, ...]] = {
    "person": (
        Column("email", "Email address", width="govuk-!-width-two-thirds", input="email"),
        Column("name", "Name", width="govuk-!-width-two-thirds"),
        Column("agency", "Agency", "The agency's registered name; leave it empty for none",
               width="govuk-!-width-two-thirds"),
        Column("roles", "Roles", ROLE_HINT),
    ),
    "agency": (
        Column("name", "Name", width="govuk-!-width-two-thirds"),
        Column("short_name", "Short name", "Up to 30 characters, for example TVP", width="govuk-input--width-10"),
        Column("safeguarding_lead_email", "Safeguarding lead's email address",
               "Copied in when an action of this agency is overdue", width="govuk-!-width-two-thirds", input="email"),
    ),
    "board": (
        Column("name", "Name", width="govuk-!-width-two-thirds"),
        Column("sponsor_email", "Sponsor's email address", width="govuk-!-width-two-thirds", input="email"),
        Column("sponsor_agency", "Sponsor's agency", width="govuk-!-width-two-thirds"),
        Column("chair_email", "Chair's email address", "Leave it empty for none", width="govuk-!-width-two-thirds",
               input="email"),
        Column("acknowledge_within", "Time an owner has to acknowledge an action", DURATION_HINT,
               width="govuk-input--width-10"),
        Column("remind_before_due", "Reminder this long before an action is due", DURATION_HINT,
               width="govuk-input--width-10"),
        Column("agency_lead_after", "Copy in the agency's lead this long after the due date", DURATION_HINT,
               width="govuk-input--width-10"),
        Column("board_after", "Escalate to the board this long after the due date",
               f"{DURATION_HINT}. Longer than the agency lead's", width="govuk-input--width-10"),
        Column("assurance_after", "Escalate to the Assurance Board this long after the due date",
               f"{DURATION_HINT}. Longer than the board's", width="govuk-input--width-10"),
        Column("progress_every", "Ask for progress every", DURATION_HINT, width="govuk-input--width-10"),
        Column("working_days", "Count working days only", "Whether a duration in days counts only Monday to Friday",
               input="yes_no"),
    ),
}  # fmt: skip


def edit_path(kind: Kind, key: str) -> str:
    """The address of the edit page of ``key`` (``new`` for the form that adds one)."""
    return f"{LIST_PAGE}/{PATH_OF[kind]}/{quote(key, safe='@')}"


def _target(kind: Kind, column: str) -> str:
    """The id of a column's field on the page: what a message about it links to."""
    return f"{kind}-{column}"


@dataclass
class Subject:
    """The row an edit page is about: its stored cells as text ("" each for a new one), whether
    they left (a person only), and the latest changes made to it."""

    kind: Kind
    key: str  # "" for the form that adds one
    stored: dict[str, str]
    left_on: date | None = None
    successor: str = ""
    changes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def new(self) -> bool:
        return not self.key


# --- the list -------------------------------------------------------------------------------


@router.get(LIST_PAGE, response_class=HTMLResponse)
async def registry_page(request: Request) -> Response:
    """The people, agencies and boards of the registry, each with its edit page (admins only)."""
    ctx: WebContext = request.app.state.ctx
    viewer = await signed_in(request)
    if viewer is None:
        return _sign_in_first(request)
    if "admin" not in viewer.roles:
        return _not_found(ctx, request, viewer)
    tables = await run_in_threadpool(_tables, ctx)
    context: dict[str, Any] = {
        **_shared(ctx, request, viewer),
        "nav": "registry",
        **tables,
        "add": {kind: edit_path(kind, NEW) for kind in PATH_OF},
    }
    return ctx.page(request, "dashboard/registry.html", context)


def _tables(ctx: WebContext) -> dict[str, Any]:
    with session_scope(ctx.settings.database_url) as session:
        people = [
            {
                "email": p.email.lower(),
                "name": p.name,
                "agency": p.agency,
                "roles": [wording.registry_role_words(r) for r in p.role_list()],
                "left_on": p.left_on,
                "successor": p.successor,
                "edit": edit_path("person", p.email.lower()),
                "page": person_path(p.email),
            }
            for p in session.exec(select(Person).order_by(col(Person.email)))
        ]
        agencies = [
            {"row": a.model_dump(), "edit": edit_path("agency", a.name)}
            for a in session.exec(select(Agency).order_by(col(Agency.name)))
        ]
        boards = [
            {"row": b.model_dump(), "edit": edit_path("board", b.name)}
            for b in session.exec(select(Board).order_by(col(Board.name)))
        ]
    return {"people": people, "agencies": agencies, "boards": boards}


# --- one row's form -------------------------------------------------------------------------


@router.get("/dashboard/registry/{kind}/{key:path}", response_class=HTMLResponse)
async def edit_page(
    request: Request, kind: str, key: str, done: str | None = None, late: str | None = None
) -> Response:
    ctx: WebContext = request.app.state.ctx
    viewer = await signed_in(request)
    if viewer is None:
        return _sign_in_first(request)
    found = await _found(ctx, viewer, kind, key)
    if found is None:
        return _not_found(ctx, request, viewer)
    banner = _banner(found, done)
    if banner and late == "1":
        banner += LATE
    return _edit(ctx, request, viewer, found, banner=banner)


@router.post("/dashboard/registry/{kind}/{key:path}", response_class=HTMLResponse)
async def save(request: Request, kind: str, key: str) -> Response:
    """Change (or add) the row with the fields the form changed, by the import's rules."""
    ctx: WebContext = request.app.state.ctx
    posted_form = await signed_in_form(request)
    if isinstance(posted_form, Response):
        return posted_form
    viewer, form = posted_form
    found = await _found(ctx, viewer, kind, key)
    if found is None:
        return _not_found(ctx, request, viewer)
    subject = found
    posted = form_fields(form)
    values = {c.name: posted[c.name].strip()[:MAX_VALUE] for c in COLUMNS[subject.kind] if c.name in posted}
    key_column = KEY_OF[subject.kind]
    wanted = values.get(key_column, "") if subject.new else subject.key
    if subject.kind == "person":
        wanted = wanted.lower()[:MAX_ADDRESS]
    # Only what differs from the stored row: a field left as it was is not the editor's to answer for.
    fields = {
        name: value for name, value in values.items() if name != key_column and value != subject.stored.get(name, "")
    }
    if subject.left_on is not None:
        reason = f"{subject.key} left on {subject.left_on}: edit their successor instead"
        return _refused(ctx, request, viewer, subject, values, RegistryEditRefused(reason, {"left": reason}))
    if subject.new and wanted and await run_in_threadpool(_stored, ctx, subject.kind, wanted) is not None:
        reason = f"{wanted} is registered already: edit it from the registry's list"
        return _refused(ctx, request, viewer, subject, values, RegistryEditRefused(reason, {key_column: reason}))
    if not fields and not subject.new:
        return _back(subject.kind, wanted, done="nothing")

    def write() -> str:
        with session_scope(ctx.settings.database_url) as session:
            return edit_registry(session, kind=subject.kind, key=wanted, fields=fields, by=viewer.email,
                                 now=ctx.clock())  # fmt: skip

    try:
        detail = await run_in_threadpool(write)
    except RegistryEditRefused as refused:
        log.info("registry_edit_refused", kind=subject.kind, fields=sorted(refused.fields))
        return _refused(ctx, request, viewer, subject, values, refused, changed=list(fields))
    if detail == "nothing changed":
        return _back(subject.kind, wanted, done="nothing")
    late = await _deliver(ctx)
    log.info("registry_edited", kind=subject.kind, fields=sorted(fields), late=late)
    return _back(subject.kind, wanted, done="added" if subject.new else "saved", late=late)


def _refused(
    ctx: WebContext,
    request: Request,
    viewer: Viewer,
    subject: Subject,
    values: dict[str, str],
    refused: RegistryEditRefused,
    *,
    changed: list[str] | None = None,
) -> Response:
    """The form again, 400, each reason at the field it concerns and what was typed kept. A reason
    about the row as a whole, or about the registry elsewhere, goes to the first field changed."""
    kind = subject.kind
    fields = [c.name for c in COLUMNS[kind] if subject.new or c.name != KEY_OF[kind]]
    targets = {name: _target(kind, name) for name in fields}
    first = next((targets[name] for name in changed or [] if name in targets), targets[fields[0]])
    if subject.left_on is not None:
        first = "left"
    reasons = {name: _worded(kind, reason, name == "registry") for name, reason in refused.fields.items()}
    errors = _located(RegistryEditRefused(refused.message, reasons), targets, default=first)
    return _edit(ctx, request, viewer, subject, values=values, errors=errors, status_code=400)


# A problem elsewhere in the registry says where, as the import does: "People, row 7, roles: ...".
# Its row numbers mean nothing here: the page says what is wrong, not where a workbook would have it.
_WHERE = re.compile(r"^(?:Agencies|People|Boards)(?:, row \d+)?(?:, [a-z_]+)?: ")


def _worded(kind: Kind, reason: str, elsewhere: bool) -> str:
    """The store's reason as the page shows it: without a workbook's whereabouts, and a reason that
    opens with a column's name ("board_after must be shorter than ...") not made to start with a
    capital (``_located`` capitalises), which would misspell the column the hint names."""
    if elsewhere:
        reason = _WHERE.sub("", reason)
    if reason.split(" ", 1)[0] in {c.name for c in COLUMNS[kind]}:
        reason = f"The {reason}"
    return reason


def _edit(
    ctx: WebContext,
    request: Request,
    viewer: Viewer,
    subject: Subject,
    *,
    banner: str | None = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    kind = subject.kind
    errors = errors or {}
    shown = {**subject.stored, **(values or {})}
    fields: list[dict[str, Any]] = [
        {
            "column": c,
            "id": _target(kind, c.name),
            "value": shown.get(c.name, ""),
            # The store's reasons name the import's columns ("board_after must be shorter than ..."):
            # each field says which it is.
            "hint": f"{c.hint} (column {c.name})" if c.hint else f"Column {c.name}",
            "error": errors.get(_target(kind, c.name)),
        }
        for c in COLUMNS[kind]
        if subject.new or c.name != KEY_OF[kind]
    ]
    context: dict[str, Any] = {
        **_shared(ctx, request, viewer),
        "nav": "registry",
        "subject": subject,
        "noun": NOUN[kind],
        "heading": _heading(subject),
        "caption": "Registry" if subject.new else f"Registry: {NOUN[kind]}",
        "sheet": SHEET_OF[kind],
        "policy": [f for f in fields if f["column"].name in POLICY_COLUMNS],
        "main": [f for f in fields if f["column"].name not in POLICY_COLUMNS],
        "path": edit_path(kind, subject.key or NEW),
        "person_page": person_path(subject.key) if kind == "person" and subject.key else "",
        "successor_page": person_path(subject.successor) if subject.successor else "",
        "list_page": f"{LIST_PAGE}#{PATH_OF[kind]}",
        "banner": banner,
        "errors": errors,
        "error_list": [{"text": message, "href": f"#{target}"} for target, message in errors.items()],
    }
    return ctx.page(request, "dashboard/registry_edit.html", context, status_code=status_code, error=bool(errors))


def _heading(subject: Subject) -> str:
    if subject.new:
        return f"Add {'an' if subject.kind == 'agency' else 'a'} {NOUN[subject.kind]}"
    if subject.kind == "person" and subject.stored.get("name"):
        return f"{subject.stored['name']} ({subject.key})"
    return subject.key


def _banner(subject: Subject, done: str | None) -> str | None:
    """What the last post did, in words from the registry's own record of it (so a link cannot make
    the page claim what did not happen)."""
    if done not in DONE or subject.new:
        return None
    if done == "nothing":
        return "Nothing changed: the form matched the registry."
    latest = next((c for c in subject.changes if c["kind"] == subject.kind), None)
    noun = NOUN[subject.kind].capitalize()
    if latest is None:
        return f"{noun} saved."
    words = f"{noun} {'added' if done == 'added' else 'saved'}: {latest['detail']}."
    columns = {part.split(" ", 1)[0] for part in latest["detail"].split("; ")}
    if subject.kind == "board" and columns & set(POLICY_COLUMNS):
        words += " Its running recommendations take the new policy from each next deadline."
    return words


def _back(kind: Kind, key: str, **query: Any) -> Response:
    shown = {k: ("1" if v is True else v) for k, v in query.items() if v not in (None, False)}
    return RedirectResponse(f"{edit_path(kind, key)}?{urlencode(shown)}", status_code=303)


# --- the store's reads, each a blocking query: run in the thread pool, off the event loop ----


async def _found(ctx: WebContext, viewer: Viewer, kind: str, key: str) -> Subject | None:
    """The subject of an edit page, for an admin; None for anyone else, an unknown kind or a key
    the registry does not hold (the same answer: the registry is not for browsing)."""
    if "admin" not in viewer.roles or kind not in KIND_OF:
        return None
    return await run_in_threadpool(_subject, ctx, KIND_OF[kind], key)


def _subject(ctx: WebContext, kind: Kind, key: str) -> Subject | None:
    wanted = key.strip()[:MAX_ADDRESS]
    if wanted == NEW:
        return Subject(kind=kind, key="", stored=_blank(kind))
    if kind == "person":
        wanted = wanted.lower()
    if not wanted:
        return None
    with session_scope(ctx.settings.database_url) as session:
        if kind == "person":
            person = session.exec(select(Person).where(func.lower(Person.email) == wanted)).first()
            if person is None:
                return None
            if person.left_on is not None:
                stored = {"email": wanted, "name": person.name, "agency": person.agency, "roles": person.roles}
                subject = Subject(kind=kind, key=wanted, stored=stored, left_on=person.left_on,
                                  successor=person.successor)  # fmt: skip
                subject.changes = _changes(session, kind, wanted)
                return subject
        cells = _stored_cells(session, kind, wanted)
        if cells is None:
            return None
        key_text = cells[KEY_OF[kind]]
        return Subject(kind=kind, key=key_text, stored=cells, changes=_changes(session, kind, key_text))


def _blank(kind: Kind) -> dict[str, str]:
    """The form that adds one: empty, but a board's policy is the default one (as the import's is
    for a row that leaves it out)."""
    blank = {c.name: "" for c in COLUMNS[kind]}
    if kind == "board":
        defaults = Board(name="").model_dump()
        blank.update({name: str(defaults[name]) for name in POLICY_COLUMNS if name != "working_days"})
        blank["working_days"] = "yes" if defaults["working_days"] else "no"
    return blank


def _stored(ctx: WebContext, kind: Kind, key: str) -> dict[str, str] | None:
    with session_scope(ctx.settings.database_url) as session:
        return _stored_cells(session, kind, key)


def _stored_cells(session: Session, kind: Kind, key: str) -> dict[str, str] | None:
    """The stored row of ``kind`` named ``key`` (in any case) as the import's cells, in text; None
    without one (someone who has left is not in the registry's sheets)."""
    sheet = registry_sheets(session)[SHEET_OF[kind]]
    wanted = key.strip().casefold()
    for _, cells in sheet.rows:
        if cell_text(cells[KEY_OF[kind]]).casefold() == wanted:
            return {name: cell_text(value) for name, value in cells.items()}
    return None


def _changes(session: Session, kind: Kind, subject: str) -> list[dict[str, Any]]:
    """The latest changes about ``subject``: for a person every kind (absences, deputies, their
    entry), for an agency or a board its own edits only (an agency and a board may share a name)."""
    query = select(RegistryChange).where(func.lower(RegistryChange.subject) == subject.lower())
    if kind != "person":
        query = query.where(RegistryChange.what == kind)
    rows = list(
        session.exec(query.order_by(col(RegistryChange.at).desc(), col(RegistryChange.id).desc()).limit(RECENT_CHANGES))
    )
    names = {
        p.email.lower(): p.name.strip()
        for p in session.exec(select(Person).where(func.lower(Person.email).in_(sorted({r.by.lower() for r in rows}))))
        if p.name.strip()
    }
    return [
        {
            "at": r.at,
            "by": names.get(r.by.lower(), r.by),
            "kind": r.what,
            "what": REGISTRY_CHANGE_WORDS.get(r.what, r.what.capitalize()),
            "detail": r.detail,
        }
        for r in rows
    ]
