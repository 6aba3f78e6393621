"""Who stands in for whom, on a given day: the one rule for absence cover.

A workflow holds the absences of the people it may write to (``Parties.absences``, each with its
deputy already resolved by the registry) and asks this module by its own clock, so cover starts on
an absence's first day and ends after its last without anything having to wake it: mail meant for
an absent person goes to their deputy, marked as acting for them, and the deputy may take the
decisions the absent person could, recorded as "D, acting for X".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date

from models.payloads import Absence


def absence_of(absences: Iterable[Absence], person: str, day: date) -> Absence | None:
    """``person``'s absence that ``day`` falls in, if any."""
    who = person.lower()
    return next((a for a in absences if a.person.lower() == who and a.first_day <= day <= a.last_day), None)


def stand_in(absences: Sequence[Absence], person: str, day: date) -> Absence | None:
    """The absence whose deputy receives what is meant for ``person`` on ``day``.

    A deputy who is away too passes it on to their own cover, one step at a time; a ring of people
    all away ends at the last one not yet visited, so mail is never lost in a loop."""
    absence = absence_of(absences, person, day)
    if absence is None:
        return None
    seen = {person.lower()}
    final = absence
    while (onward := absence_of(absences, final.deputy, day)) is not None and onward.deputy.lower() not in seen:
        seen.add(final.deputy.lower())
        final = onward
    return final.model_copy(
        update={"person": absence.person, "first_day": absence.first_day, "last_day": absence.last_day}
    )


def recipient_for(absences: Sequence[Absence], person: str, day: date) -> tuple[str, Absence | None]:
    """Who receives on ``day`` what is meant for ``person``, and the absence that routed it there."""
    cover = stand_in(absences, person, day)
    return (cover.deputy.lower(), cover) if cover is not None else (person, None)


def covered_by(absences: Sequence[Absence], deputy: str, day: date) -> list[str]:
    """Everyone ``deputy`` stands in for on ``day``, in a fixed order."""
    who = deputy.lower()
    return sorted(
        {a.person.lower() for a in absences if (c := stand_in(absences, a.person, day)) and c.deputy.lower() == who}
    )


def acting_label(deputy: str, absent: str) -> str:
    """How the timeline names a decision a deputy took for someone away."""
    return f"{deputy}, acting for {absent}"


def route(
    absences: Sequence[Absence], meant_for: Sequence[str], day: date, role_of: Callable[[str], str]
) -> tuple[list[str], dict[str, str], dict[str, dict[str, str]]]:
    """A message meant for ``meant_for`` as sent on ``day``: who receives it, the role each reads
    it in (a deputy reads it in the absent person's), and, for each deputy standing in, whom for,
    until when and why them (``acting_for`` in the message's context). A deputy who gets it in
    their own right as well is told once, as themselves."""
    wanted = sorted({person for person in meant_for if person})
    roles: dict[str, str] = {}
    acting: dict[str, dict[str, str]] = {}
    for person in wanted:
        to, cover = recipient_for(absences, person, day)
        roles.setdefault(to, role_of(person))
        if cover is not None and to not in wanted:
            acting.setdefault(to, {"person": person, "until": cover.last_day.isoformat(), "cover": cover.cover})
    return sorted(roles), roles, acting
