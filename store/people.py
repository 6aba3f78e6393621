"""People change in the registry without a workbook: a person's standing deputy, their absences,
and their leaving with a successor.

Each edit is checked here, by one set of rules, whichever edge it comes from (the command line,
the pages, the API), as an import checks its People sheet: every reason at once, each located on
the field it concerns, raised as ``RegistryEditRefused`` before anything is written. An accepted
edit writes its rows and one ``RegistryChange`` saying who made it, when, and what it was (names
and dates only, never free text), all in the caller's session, so the caller's transaction holds
the whole edit or none of it.

The store only says what the registry now is. Carrying an edit into the running workflows (their
role holders, the absences with their cover, a leaver's parts held by name) is the gateway's
(``gateway.people``), which the caller asks once the edit is committed.

Addresses are compared in any case and stored lower-case, as the import stores them.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from models.addresses import MAX_ADDRESS, AddressError, check_address
from models.days import DayError, check_day
from models.payloads import Payload
from models.wording import uk_date
from store.cover import absences_from
from store.tables import AbsenceRow, Agency, Board, Person, RegistryChange

# How many of a person's recent registry changes their record shows.
RECENT_CHANGES = 20
MAX_DETAIL = 2000
MAX_ROLES = 1000  # Person.roles


class RegistryEditRefused(ValueError):
    """A registry edit the rules do not allow. ``message`` says why in one sentence; ``fields``
    maps each field concerned ("person", "deputy", "first_day", "last_day", "leaver",
    "successor", "by", "absence_id") to its own reason, for a form to show beside that field."""

    def __init__(self, message: str, fields: dict[str, str]) -> None:
        super().__init__(message)
        self.message = message
        self.fields = dict(fields)


class AbsenceView(Payload):
    """One absence as a person's record shows it; ``deputy`` "" is their standing deputy."""

    id: int
    first_day: date
    last_day: date
    deputy: str


class ChangeView(Payload):
    """One registry change about a person, as their record shows it."""

    at: datetime
    by: str
    what: str
    detail: str


class PersonRecord(Payload):
    """Everything the registry holds about one person, as ``assure person show`` and the person's
    page show it: their roles and agency, their standing deputy, whether they have left and to
    whom, their absences not yet over and the latest changes made to them (newest first)."""

    email: str
    name: str
    agency: str
    roles: list[str]
    deputy: str
    left_on: date | None
    successor: str
    absences: list[AbsenceView]
    changes: list[ChangeView]


class LeavingRecord(Payload):
    """What recording a leaver did: each registry part that moved to the successor, in words.
    ``already_left`` says they had left already with this successor, so nothing changed and the
    hand-over of their workflows may be run again to resume it."""

    leaver: str
    successor: str
    moved: list[str]
    already_left: bool


# --- reading ------------------------------------------------------------------------------


def person_record(session: Session, email: str, today: date) -> PersonRecord:
    """The registry's record of ``email``, with their absences not over on ``today``; a
    ``LookupError`` naming the address when no one has it."""
    address = email.strip().lower()
    person = _registered(session, address)
    if person is None:
        raise LookupError(f"no one with the address {address} is in the registry")
    who = person.email.lower()
    absences = session.exec(
        select(AbsenceRow)
        .where(func.lower(AbsenceRow.person) == who, AbsenceRow.last_day >= today)
        .order_by(col(AbsenceRow.first_day), col(AbsenceRow.id))
    )
    changes = session.exec(
        select(RegistryChange)
        .where(func.lower(RegistryChange.subject) == who)
        .order_by(col(RegistryChange.at).desc(), col(RegistryChange.id).desc())
        .limit(RECENT_CHANGES)
    )
    return PersonRecord(
        email=who,
        name=person.name,
        agency=person.agency,
        roles=person.role_list(),
        deputy=person.deputy,
        left_on=person.left_on,
        successor=person.successor,
        absences=[
            AbsenceView(id=a.id or 0, first_day=a.first_day, last_day=a.last_day, deputy=a.deputy) for a in absences
        ],
        changes=[ChangeView(at=c.at, by=c.by, what=c.what, detail=c.detail) for c in changes],
    )


def has_left(session: Session, email: str) -> bool:
    """Whether ``email`` is someone who has left the partnership (False for an unknown address):
    their links and sign-in stop working."""
    person = _registered(session, email.strip().lower())
    return person is not None and person.left_on is not None


def absences_in_force(session: Session, today: date) -> list[AbsenceRow]:
    """Every absence not over on ``today`` (under way or to come), by person and first day: the
    ones the running workflows must hold. The same query the cover resolution reads."""
    return absences_from(session, today)


def uncovered(session: Session, person: str | AbsenceRow) -> bool:
    """Whether an absence leaves nobody named to cover it, so that the person's agency lead must
    be told: given an absence, when it names no deputy and its person has no standing deputy;
    given an address, when that person has no standing deputy (an absence naming none would be
    uncovered). An unknown address has nobody, so it is uncovered too."""
    if isinstance(person, AbsenceRow):
        if person.deputy.strip():
            return False
        address = person.person
    else:
        address = person
    found = _registered(session, address.strip().lower())
    return found is None or not found.deputy.strip()


# --- deputies -----------------------------------------------------------------------------


def set_deputy(session: Session, *, person: str, deputy: str, by: str, now: datetime) -> bool:
    """Name ``deputy`` as ``person``'s standing deputy ("" clears it): a registered person of the
    same agency, still here, not the person themselves. Returns whether anything changed (naming
    the deputy they have already changes nothing and records nothing)."""
    problems: dict[str, str] = {}
    actor = _actor(by, problems)
    subject = _subject(session, person, "person", problems)
    chosen = ""
    if deputy.strip():
        chosen = _address(deputy, "deputy", problems)
        if chosen and subject is not None:
            _check_deputy(session, subject, chosen, "deputy", problems)
    _refuse_if("the deputy cannot be recorded", problems)
    assert subject is not None
    before = subject.deputy.lower()
    if before == chosen:
        return False
    subject.deputy = chosen
    session.add(subject)
    if chosen:
        detail = f"standing deputy {chosen}" + (f", in place of {before}" if before else "")
    else:
        detail = f"standing deputy {before} removed: none now"
    _record(session, by=actor, subject=subject.email.lower(), what="deputy", detail=detail, now=now)
    session.flush()
    return True


# --- absences -----------------------------------------------------------------------------


def record_absence(
    session: Session, *, person: str, first_day: date, last_day: date, deputy: str, by: str, today: date, now: datetime
) -> AbsenceRow:
    """Record that ``person`` is away from ``first_day`` to ``last_day`` (both included), covered
    by ``deputy`` ("" for their standing deputy). Refused for someone not registered or who has
    left, for days out of order, outside 2000 to 2100 or all before ``today``, for a deputy the
    deputy rules refuse, and for days overlapping another of their absences. Returns the new row,
    flushed (its id is set)."""
    problems: dict[str, str] = {}
    actor = _actor(by, problems)
    subject = _subject(session, person, "person", problems)
    days_fine = True
    for field, day in (("first_day", first_day), ("last_day", last_day)):
        try:
            check_day(day)
        except DayError as exc:
            problems[field] = str(exc)
            days_fine = False
    if days_fine:
        if last_day < first_day:
            problems["last_day"] = (
                f"the last day, {uk_date(last_day)}, is before the first day, {uk_date(first_day)}: "
                "give the first day away, then the last"
            )
        elif last_day < today:
            problems["last_day"] = (
                f"an absence that has already ended cannot be recorded: its last day, {uk_date(last_day)}, "
                f"is before today, {uk_date(today)}"
            )
    chosen = ""
    if deputy.strip():
        chosen = _address(deputy, "deputy", problems)
        if chosen and subject is not None:
            _check_deputy(session, subject, chosen, "deputy", problems)
    if subject is not None and days_fine and last_day >= first_day:
        overlapping = session.exec(
            select(AbsenceRow)
            .where(
                func.lower(AbsenceRow.person) == subject.email.lower(),
                AbsenceRow.first_day <= last_day,
                AbsenceRow.last_day >= first_day,
            )
            .order_by(col(AbsenceRow.first_day))
        ).first()
        if overlapping is not None:
            problems.setdefault(
                "first_day",
                f"these days overlap the absence already recorded from {uk_date(overlapping.first_day)} to "
                f"{uk_date(overlapping.last_day)}: choose other days, or cancel that absence first",
            )
    _refuse_if("the absence cannot be recorded", problems)
    assert subject is not None
    who = subject.email.lower()
    row = AbsenceRow(
        person=who, first_day=first_day, last_day=last_day, deputy=chosen, recorded_by=actor, recorded_at=now
    )
    session.add(row)
    if chosen:
        cover = f"covered by {chosen}"
    elif subject.deputy:
        cover = f"covered by their standing deputy {subject.deputy.lower()}"
    else:
        cover = "with no deputy named"
    _record(session, by=actor, subject=who, what="absence", detail=f"{_days_words(row)}, {cover}", now=now)
    session.flush()
    return row


def cancel_absence(session: Session, *, absence_id: int, by: str, now: datetime) -> AbsenceRow:
    """Remove a recorded absence (plans changed, or it was recorded by mistake); returns a copy of
    the row removed, so the caller can say whose it was. Refused for an id the store does not hold."""
    problems: dict[str, str] = {}
    actor = _actor(by, problems)
    row = session.get(AbsenceRow, absence_id)
    if row is None:
        problems["absence_id"] = f"there is no absence {absence_id} in the registry"
    _refuse_if("the absence cannot be cancelled", problems)
    assert row is not None
    removed = AbsenceRow.model_validate(row.model_dump())
    session.delete(row)
    _record(session, by=actor, subject=row.person.lower(), what="absence",
            detail=f"cancelled: {_days_words(removed)}", now=now)  # fmt: skip
    session.flush()
    return removed


# --- leavers ------------------------------------------------------------------------------


def record_leaving(
    session: Session, *, leaver: str, successor: str, by: str, today: date, now: datetime
) -> LeavingRecord:
    """Record that ``leaver`` left the partnership on ``today``, handing over to ``successor``,
    and move their parts in the registry to the successor in this one transaction: their role
    entries (those the successor lacks), any agency they are safeguarding lead of, any board they
    chair or sponsor, the people whose standing deputy they are, and the absences not yet over
    that name them as deputy; their own absences not yet over are removed, and they keep no roles
    and no deputy. Their parts in running workflows are the hand-over's (``gateway.people``).

    Recorded again with the same successor, nothing changes and ``already_left`` says so, so an
    interrupted hand-over can be run again; with another successor it is refused."""
    problems: dict[str, str] = {}
    actor = _actor(by, problems)
    gone = _subject(session, leaver, "leaver", problems)
    heir = _subject(session, successor, "successor", problems)
    if gone is not None and heir is not None:
        if gone.email.lower() == heir.email.lower():
            problems["successor"] = f"{heir.email.lower()} cannot succeed themselves: name someone else"
        elif heir.left_on is not None:
            problems["successor"] = (
                f"the successor {heir.email.lower()} left on {uk_date(heir.left_on)}: name someone still here"
            )
        elif gone.left_on is not None and gone.successor.lower() != heir.email.lower():
            handed_to = gone.successor.lower() or "nobody"
            problems["successor"] = (
                f"{gone.email.lower()} left on {uk_date(gone.left_on)}, handing over to {handed_to}: "
                "a leaver's successor cannot be changed here"
            )
    held = heir.role_list() if heir is not None else []
    gained = [role for role in gone.role_list() if role not in held] if gone is not None else []
    roles = ",".join([*held, *gained])
    if gone is not None and heir is not None and "successor" not in problems and len(roles) > MAX_ROLES:
        problems["successor"] = (
            f"{heir.email.lower()} would hold more roles than the registry keeps ({MAX_ROLES} characters): "
            "remove the roles they no longer need first"
        )
    _refuse_if("the leaver cannot be recorded", problems)
    assert gone is not None and heir is not None
    was, now_held = gone.email.lower(), heir.email.lower()
    if gone.left_on is not None:
        return LeavingRecord(leaver=was, successor=now_held, moved=[], already_left=True)

    moved: list[str] = []
    if gained:
        heir.roles = roles
        moved += [f"the role {role}" for role in gained]
    for agency in session.exec(
        select(Agency).where(func.lower(Agency.safeguarding_lead_email) == was).order_by(col(Agency.name))
    ):
        agency.safeguarding_lead_email = now_held
        session.add(agency)
        moved.append(f"safeguarding lead of {agency.name}")
    boards = session.exec(
        select(Board)
        .where((func.lower(Board.chair_email) == was) | (func.lower(Board.sponsor_email) == was))
        .order_by(col(Board.name))
    )
    for board in boards:
        if (board.chair_email or "").lower() == was:
            board.chair_email = now_held
            moved.append(f"chair of {board.name}")
        if (board.sponsor_email or "").lower() == was:
            board.sponsor_email = now_held
            moved.append(f"sponsor of {board.name}")
        session.add(board)
    for other in session.exec(
        select(Person).where(func.lower(Person.deputy) == was, Person.id != gone.id).order_by(col(Person.email))
    ):
        if other.email.lower() == now_held:
            # Nobody deputises for themselves: the successor's own deputy was the leaver.
            other.deputy = ""
            moved.append(f"standing deputy of {now_held}: removed, as they cannot deputise for themselves")
        else:
            other.deputy = now_held
            moved.append(f"standing deputy of {other.email.lower()}")
        session.add(other)
    for absence in session.exec(
        select(AbsenceRow)
        .where(func.lower(AbsenceRow.deputy) == was, AbsenceRow.last_day >= today)
        .order_by(col(AbsenceRow.person), col(AbsenceRow.first_day))
    ):
        days = f"from {uk_date(absence.first_day)} to {uk_date(absence.last_day)}"
        if absence.person.lower() == now_held:
            absence.deputy = ""
            moved.append(f"deputy for the absence of {now_held} {days}: now their standing deputy instead")
        else:
            absence.deputy = now_held
            moved.append(f"deputy for the absence of {absence.person.lower()} {days}")
        session.add(absence)
    own = list(
        session.exec(select(AbsenceRow).where(func.lower(AbsenceRow.person) == was, AbsenceRow.last_day >= today))
    )
    for absence in own:
        session.delete(absence)

    gone.roles, gone.deputy, gone.left_on, gone.successor = "", "", today, now_held
    session.add(gone)
    session.add(heir)
    detail = f"left on {uk_date(today)}; successor {now_held}; moved to them: {'; '.join(moved) or 'nothing'}"
    if own:
        detail += f"; their {len(own)} absence(s) not yet over removed"
    _record(session, by=actor, subject=was, what="left", detail=detail, now=now)
    session.flush()
    return LeavingRecord(leaver=was, successor=now_held, moved=moved, already_left=False)


# --- the rules they share -----------------------------------------------------------------


def _registered(session: Session, address: str) -> Person | None:
    if not address:
        return None
    return session.exec(select(Person).where(func.lower(Person.email) == address.lower())).first()


def _address(value: str, field: str, problems: dict[str, str]) -> str:
    """``value`` by the one address rule (``models.addresses``), or "" with the reason at ``field``."""
    try:
        return check_address(value)
    except AddressError as exc:
        problems[field] = str(exc)
        return ""


def _subject(session: Session, value: str, field: str, problems: dict[str, str]) -> Person | None:
    """The registered person ``value`` names, or None with the reason at ``field``; for "person",
    also refused when they have left (a leaver's deputy and absences no longer matter)."""
    address = _address(value, field, problems)
    if not address:
        return None
    found = _registered(session, address)
    if found is None:
        problems[field] = f"no one with the address {address} is in the registry"
        return None
    if field == "person" and found.left_on is not None:
        problems[field] = (
            f"{address} left on {uk_date(found.left_on)}: their deputy and absences are no longer recorded"
        )
        return None
    return found


def _check_deputy(session: Session, person: Person, deputy: str, field: str, problems: dict[str, str]) -> None:
    """The rule for a deputy, standing or for one absence: a registered person, still here, of the
    same agency as ``person``, and not ``person`` themselves."""
    who = person.email.lower()
    if deputy == who:
        problems[field] = f"{who} cannot be their own deputy: name someone else of {person.agency or 'their agency'}"
        return
    found = _registered(session, deputy)
    if found is None:
        problems[field] = f"the deputy {deputy} is not in the registry: name a registered person"
    elif found.left_on is not None:
        problems[field] = f"the deputy {deputy} left on {uk_date(found.left_on)}: name someone still here"
    elif not person.agency.strip():
        problems[field] = (
            f"{who} has no agency in the registry, so no deputy of the same agency can be named: "
            "register their agency first"
        )
    elif found.agency.strip().casefold() != person.agency.strip().casefold():
        problems[field] = (
            f"the deputy {deputy} is registered with {found.agency or 'no agency'}, not {person.agency}: "
            "a deputy is someone of the same agency"
        )


def _actor(by: str, problems: dict[str, str]) -> str:
    """Who is making the change, as recorded: an address lower-case, any other name as given."""
    actor = by.strip()
    if not actor:
        problems["by"] = "say who is making the change"
    elif len(actor) > MAX_ADDRESS:
        problems["by"] = f"who is making the change is too long (at most {MAX_ADDRESS} characters)"
    return actor.lower() if "@" in actor else actor


def _refuse_if(what: str, problems: dict[str, str]) -> None:
    if problems:
        raise RegistryEditRefused(f"{what}: {'; '.join(problems.values())}", problems)


def _days_words(row: AbsenceRow) -> str:
    return f"away from {uk_date(row.first_day)} to {uk_date(row.last_day)}"


def _record(session: Session, *, by: str, subject: str, what: str, detail: str, now: datetime) -> None:
    if len(detail) > MAX_DETAIL:
        detail = detail[: MAX_DETAIL - 1] + "…"
    session.add(RegistryChange(at=now, by=by, subject=subject, what=what, detail=detail))
