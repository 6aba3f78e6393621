"""The cascade across recommendations, from the read model (the ``cascade`` table, beside each
recommendation's row): each agency's part as the dashboard's cascade list reads it, limited to
what the reader may see; each recommendation's cascade as the board pack reads it; and the one
reach-by-agency rule both chart.

A reader sees an agency's cascade row when they may see its recommendation, by the one rule of
``store.access``, through its actions or its cascade: an agency's safeguarding lead sees the
recommendations whose cascade reaches their agency, and a named cascade lead those they lead.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from datetime import date
from typing import Protocol

from pydantic import BaseModel
from sqlalchemy import ColumnElement, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session

from models.payloads import CASCADE_OPEN_STAGES, CascadeRowFacts
from store.listing import Visibility, involved_beyond_actions
from store.tables import ActionRow, Agency, CascadeRow, RecommendationRow, table_of


class CascadeEntry(CascadeRowFacts):
    """One agency's cascade on one recommendation."""

    ref: str
    title: str
    board: str
    stage: str
    cascade_by: date | None  # the day every agency was to confirm by

    @property
    def still_open(self) -> bool:
        """Whether this agency may still confirm: its recommendation is between sign-off and audit."""
        return self.stage in CASCADE_OPEN_STAGES


class AgencyReach(BaseModel):
    """Staff reached and expected at one agency, summed over the cascades counted."""

    agency: str
    reached: int
    expected: int

    @property
    def percent(self) -> int:
        return self.reached * 100 // self.expected if self.expected > 0 else 0


# Overdue first, then those waiting, then the confirmed.
_STATUS_ORDER = {"overdue": 0, "waiting": 1, "confirmed": 2}


def cascade_entries(*, session: Session, visible: Visibility | None = None) -> list[CascadeEntry]:
    """Every agency's cascade row the reader ``visible`` admits (None: everyone's), overdue first."""
    recommendations = table_of(RecommendationRow)
    c, r, a = table_of(CascadeRow).c, recommendations.c, table_of(ActionRow).c
    connection = session.connection()
    columns = [c.ref, c.agency, c.lead, c.staff_group, c.expected_reach, c.reached, c.done_on, c.status,
               r.title, r.board, r.stage, r.cascade_by]  # fmt: skip
    rows = list(connection.execute(sa_select(*columns).join(recommendations, r.ref == c.ref).order_by(c.ref, c.agency)))
    if not rows:
        return []
    refs = sorted({row.ref for row in rows})
    involved: dict[str, tuple[set[str], set[str]]] = defaultdict(lambda: (set(), set()))
    for action in connection.execute(sa_select(a.ref, a.owner, a.agency).where(a.ref.in_(refs))):
        owners, agencies = involved[action.ref]
        owners.add(action.owner.lower())
        agencies.add(action.agency)
    for ref, (people, reached) in involved_beyond_actions(connection, refs).items():
        owners, agencies = involved[ref]
        owners |= people
        agencies |= reached
    boards = {row.ref: row.board for row in rows}
    seen = {ref for ref in refs if visible is None or visible(boards[ref], *involved[ref])}
    entries = [
        CascadeEntry(
            ref=row.ref,
            title=row.title,
            board=row.board,
            stage=row.stage,
            agency=row.agency,
            lead=row.lead,
            staff_group=row.staff_group,
            expected_reach=row.expected_reach,
            reached=row.reached,
            done_on=row.done_on,
            status=row.status,
            cascade_by=row.cascade_by,
        )  # fmt: skip
        for row in rows
        if row.ref in seen
    ]
    return sorted(entries, key=lambda e: (_STATUS_ORDER.get(e.status, 9), e.cascade_by or date.max, e.ref, e.agency))


def unconfirmed(entries: list[CascadeEntry]) -> list[CascadeEntry]:
    """The agencies still to confirm, on recommendations where they still may."""
    return [e for e in entries if e.status != "confirmed" and e.still_open]


class _AgencyPart(Protocol):
    agency: str
    reached: int | None
    expected_reach: int


def reach_by_agency(parts: Iterable[_AgencyPart]) -> list[AgencyReach]:
    """Each agency's reach summed over its cascades, by agency name: the staff reached over the staff
    planned, an agency that has not confirmed counting as none reached (the status's own rule for a
    recommendation's ``reach_percent``), so the dashboard and the board pack show one figure."""
    totals: dict[str, AgencyReach] = {}
    for part in parts:
        reach = totals.setdefault(part.agency, AgencyReach(agency=part.agency, reached=0, expected=0))
        reach.reached += part.reached or 0
        reach.expected += part.expected_reach
    return [totals[name] for name in sorted(totals)]


def agency_names(*, session: Session) -> list[str]:
    """The registry's agencies by name, as the plans form offers them for the cascade."""
    return sorted(session.connection().execute(sa_select(table_of(Agency).c.name)).scalars())


# --- the board pack's cascades: per recommendation, with its flags and plan terms ----------


class StoredAgency(CascadeRowFacts):
    """One agency's part of a cascade, as its row holds it."""

    @property
    def confirmed(self) -> bool:
        return self.status == "confirmed"

    @property
    def reach_percent(self) -> int | None:
        """Reached / expected, rounded down as the workflow rounds it; None until confirmed."""
        if self.reached is None:
            return None
        return self.reached * 100 // self.expected_reach if self.expected_reach > 0 else 0


class StoredCascade(BaseModel):
    """One recommendation's cascade: its agencies, reach and flags, and the plan's terms if known."""

    ref: str
    stage: str
    reach_percent: int | None
    cascade_short: bool
    cascade_overdue: bool
    cascade_by: date | None
    reach_threshold: int | None
    agencies: list[StoredAgency]

    @property
    def unconfirmed(self) -> list[StoredAgency]:
        return [a for a in self.agencies if not a.confirmed]

    @property
    def below_threshold(self) -> list[StoredAgency]:
        """The agencies that confirmed a reach below the plan's threshold (none when it is not known)."""
        if self.reach_threshold is None:
            return []
        return [a for a in self.agencies if (p := a.reach_percent) is not None and p < self.reach_threshold]


def stored_cascades(*, session: Session, also: Collection[str] = ()) -> dict[str, StoredCascade]:
    """Every cascade still open (stage cascade or audit), and those of the refs in ``also`` (a
    month's confirmations, say) whatever their stage, by ref; agencies in name order."""
    r, c = table_of(RecommendationRow), table_of(CascadeRow)
    wanted: ColumnElement[bool] = r.c.stage.in_(sorted(CASCADE_OPEN_STAGES))
    if also:
        wanted = or_(wanted, r.c.ref.in_(list(also)))
    columns = (
        r.c.ref, r.c.stage, r.c.reach_percent, r.c.cascade_short, r.c.cascade_overdue, r.c.cascade_by,
        r.c.reach_threshold,
        c.c.agency, c.c.lead, c.c.staff_group, c.c.expected_reach, c.c.reached, c.c.done_on, c.c.status,
    )  # fmt: skip
    rows = session.connection().execute(
        sa_select(*columns).join(c, c.c.ref == r.c.ref).where(wanted).order_by(r.c.ref, c.c.agency)
    )
    found: dict[str, StoredCascade] = {}
    for row in rows:
        cascade = found.get(row.ref)
        if cascade is None:
            cascade = found[row.ref] = StoredCascade(
                ref=row.ref, stage=row.stage, reach_percent=row.reach_percent, cascade_short=bool(row.cascade_short),
                cascade_overdue=bool(row.cascade_overdue), cascade_by=row.cascade_by,
                reach_threshold=row.reach_threshold, agencies=[],
            )  # fmt: skip
        cascade.agencies.append(
            StoredAgency(
                agency=row.agency, lead=row.lead, staff_group=row.staff_group, expected_reach=row.expected_reach,
                reached=row.reached, done_on=row.done_on, status=row.status,
            )
        )  # fmt: skip
    return found
