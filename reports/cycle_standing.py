"""Where each cycle of assurance stands in its latest period: how many of the agencies asked have
returned, who has not, and per standard how many agencies met it, partly met it or did not, beside
the period before. One reading for the dashboard's list of cycles, the JSON API and the board pack.

Who sees which returns is the dashboard's rule for recommendations (``store.access``), read by
board and agency: those who see everything see every return; a board's sponsor and chair see the
returns to their board's cycles; an agency's safeguarding lead sees their agency's.
"""

from __future__ import annotations

from pydantic import BaseModel
from sqlmodel import Session

from models.cycles import Cycle
from reports.cycle_matrix import CycleMatrix, cycle_matrix
from store.cycle_returns import cycle_returns
from store.cycles import stored_cycles
from store.listing import Visibility


class StandardCounts(BaseModel):
    """How many agencies rated one standard each way (rating -> agencies), this period and the one
    before (None when that period had no returns)."""

    standard_id: str
    text: str
    now: dict[str, int]
    before: dict[str, int] | None


class CycleStanding(BaseModel):
    cycle_id: str
    name: str
    board: str
    cadence: str  # the rule in words: "yearly on 1 April"
    agencies: str  # "every agency in the registry", or those named
    standards: int
    period: str  # the latest period returns were asked for; "" before the first
    previous: str | None
    asked: int
    returned: int
    not_returned: list[str]
    counts: list[StandardCounts]
    partial: bool = False  # the reader sees some of the returns only: the figures count those


def sees_cycle(cycle: Cycle, visible: Visibility | None) -> bool:
    """Whether a reader sees the whole of a cycle: they see everything, or it is their board's."""
    return visible is None or visible(cycle.board, set(), set())


def sees_return(visible: Visibility | None, board: str, agency: str) -> bool:
    """Whether a reader may see one agency's return to a cycle of ``board``."""
    return visible is None or visible(board, set(), {agency})


def seen_matrix(matrix: CycleMatrix, visible: Visibility | None) -> CycleMatrix:
    """The matrix with only the returns the reader may see (all of them for the cycle's board)."""
    if sees_cycle(matrix.cycle, visible):
        return matrix
    rows = [row for row in matrix.rows if sees_return(visible, matrix.cycle.board, row.agency)]
    return CycleMatrix(cycle=matrix.cycle, period=matrix.period, previous=matrix.previous, rows=rows)


def seen_periods(*, session: Session, cycle: Cycle, visible: Visibility | None) -> list[str]:
    """The periods with returns the reader may see, latest first; none for a reader who sees no
    return of the cycle (who then does not see the cycle at all)."""
    whole = sees_cycle(cycle, visible)
    rows = cycle_returns(session=session, cycle_id=cycle.cycle_id)
    seen = {r.period for r in rows if whole or sees_return(visible, cycle.board, r.agency)}
    return sorted(seen, reverse=True)


def may_see_cycle(*, session: Session, cycle: Cycle, visible: Visibility | None) -> bool:
    """Whether the reader sees the cycle: it is their board's (or they see everything), or they may
    see one of its returns."""
    return sees_cycle(cycle, visible) or bool(seen_periods(session=session, cycle=cycle, visible=visible))


def cycle_standings(*, session: Session, visible: Visibility | None = None) -> list[CycleStanding]:
    """Every cycle the reader may see (their board's, or one with a return of theirs), by id."""
    standings = []
    for cycle in stored_cycles(session=session):
        if not may_see_cycle(session=session, cycle=cycle, visible=visible):
            continue
        matrix = seen_matrix(cycle_matrix(session=session, cycle_id=cycle.cycle_id), visible)
        whole = sees_cycle(cycle, visible)
        before = None
        if matrix.previous is not None:
            earlier = cycle_matrix(session=session, cycle_id=cycle.cycle_id, period=matrix.previous)
            before = seen_matrix(earlier, visible)
        standings.append(standing(matrix, before, partial=not whole))
    return standings


def standing(matrix: CycleMatrix, before: CycleMatrix | None, *, partial: bool = False) -> CycleStanding:
    """One cycle's standing from its period's matrix and the period before's."""
    cycle = matrix.cycle
    earlier = before if before is not None and before.rows else None
    return CycleStanding(
        cycle_id=cycle.cycle_id, name=cycle.name, board=cycle.board, cadence=cycle.cadence.words(),
        agencies="every agency in the registry" if cycle.agencies == "all" else ", ".join(cycle.agencies),
        standards=len(cycle.standards), period=matrix.period, previous=earlier.period if earlier else None,
        asked=len(matrix.rows), returned=sum(1 for r in matrix.rows if r.returned),
        not_returned=[r.agency for r in matrix.not_returned],
        counts=[
            StandardCounts(standard_id=s.standard_id, text=s.text, now=matrix.counts(s.standard_id),
                           before=earlier.counts(s.standard_id) if earlier else None)
            for s in cycle.standards
        ],
        partial=partial,
    )  # fmt: skip
