"""Each absence in force with who covers it, for a board's recommendations (``Parties.absences``).

Resolved here, from the registry as it is now, so the workflows need only dates: the deputy named
for the absence, else the person's standing deputy, else their agency's safeguarding lead, else
the board's first sponsor. Someone is never left covering for themselves; an absence nobody can
cover is left out, and the absent person keeps receiving their mail rather than nobody.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlmodel import Session, col, select

from models.payloads import Absence
from store.tables import AbsenceRow, Agency, Person


def absences_from(session: Session, today: date) -> list[AbsenceRow]:
    """The absences not yet over on ``today``."""
    rows = session.exec(
        select(AbsenceRow)
        .where(AbsenceRow.last_day >= today)
        .order_by(col(AbsenceRow.person), col(AbsenceRow.first_day))
    )
    return list(rows)


def resolved_absences(
    rows: Sequence[AbsenceRow], people: Sequence[Person], agencies: Sequence[Agency], sponsors: Sequence[str]
) -> list[Absence]:
    """Each absence of ``rows`` with its cover resolved (see the module docstring)."""
    by_email = {p.email.lower(): p for p in people}
    leads = {a.name: (a.safeguarding_lead_email or "").lower() for a in agencies}
    resolved = []
    for row in rows:
        who = row.person.lower()
        person = by_email.get(who)
        options = [
            (row.deputy.lower(), "deputy"),
            ((person.deputy if person else "").lower(), "deputy"),
            (leads.get(person.agency, "") if person else "", "agency_lead"),
            *((s.lower(), "board_sponsor") for s in sponsors),
        ]
        cover = next(((d, kind) for d, kind in options if d and d != who), None)
        if cover is None:
            continue
        resolved.append(
            Absence(person=who, first_day=row.first_day, last_day=row.last_day, deputy=cover[0], cover=cover[1])  # type: ignore[arg-type]
        )
    return resolved
