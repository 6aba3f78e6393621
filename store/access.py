"""Who sees which recommendations: one rule for the dashboard, the JSON API and the lists.

The Assurance Board, the partnership's auditors (who audit for every board) and an admin see
everything; a board's sponsor and chair see their
board's; an agency's safeguarding lead sees their agency's; owners see those they hold an action
on. What someone may *do* is the workflow's to say (its ``reader`` query and validators).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, or_, select

from store.listing import Visibility
from store.tables import Board, Person

SEE_EVERYTHING = frozenset({"assurance_member", "auditor", "admin"})


@dataclass(frozen=True)
class Viewer:
    """A registry person with what their roles let them see."""

    email: str
    name: str
    everything: bool
    boards: frozenset[str]  # boards they sponsor or chair
    lead_of: str | None  # the agency they are safeguarding lead for
    roles: frozenset[str]

    def may_see(self, *, board: str, owners: set[str], agencies: set[str]) -> bool:
        if self.everything or board in self.boards:
            return True
        if self.email in {o.lower() for o in owners}:
            return True
        return self.lead_of is not None and self.lead_of in agencies

    @property
    def visibility(self) -> Visibility | None:
        """The filter for ``recommendation_summaries``; None (no filter) when they see everything."""
        if self.everything:
            return None
        # ``may_see`` without its lower-casing: the listing's owners are lower-cased already, and
        # this runs once per recommendation of every list (20,000 of them at a region's scale).
        boards, email, lead_of = self.boards, self.email, self.lead_of
        return lambda board, owners, agencies: (
            board in boards or email in owners or (lead_of is not None and lead_of in agencies)
        )


def viewer_for(*, session: Session, person: Person) -> Viewer:
    """The ``Viewer`` of ``person``: roles from the registry, and boards naming them sponsor or chair."""
    roles = set(person.role_list())
    email = person.email.lower()
    boards = {role.split(":", 1)[1] for role in roles if role.startswith(("board_sponsor:", "board_chair:"))}
    named = session.exec(select(Board.name).where(or_(Board.sponsor_email == email, Board.chair_email == email)))
    return Viewer(
        email=email,
        name=person.name or email,
        everything=bool(roles & SEE_EVERYTHING),
        boards=frozenset(boards | set(named)),
        lead_of=person.agency if "agency_lead" in roles and person.agency else None,
        roles=frozenset(roles),
    )


def may_manage(viewer: Viewer, person: Person, *, leaving: bool = False) -> bool:
    """Who may see and change someone's deputy and absences (they, their agency's safeguarding
    lead, an admin), and record that they left (the lead or an admin): the one rule for the
    dashboard's people pages and the API's people routes."""
    if "admin" in viewer.roles:
        return True
    if not leaving and viewer.email.lower() == person.email.lower():
        return True
    agency = person.agency.strip().casefold()
    return bool(agency) and viewer.lead_of is not None and viewer.lead_of.strip().casefold() == agency
