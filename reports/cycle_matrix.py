"""The picture of a cycle's period: agencies down the side, standards across, each agency's rating
of each standard beside its rating the period before, its return's stage, and who has not
returned. Read from the store (the returns' rows), for the dashboard, the board pack and the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlmodel import Session, select

from models.cycle_returns import RATING_WORDS, Rating
from models.cycles import Cycle, Standard, named_period
from store.cycle_returns import cycle_returns
from store.cycles import stored_cycles
from store.tables import CycleReturnRow

# What a stage is called in the matrix; a return still owed is one "not returned".
STAGE_WORDS = {"awaiting": "Not returned", "submitted": "Submitted", "challenged": "Challenged", "accepted": "Accepted"}
OWED = frozenset({"awaiting", "challenged"})


@dataclass(frozen=True)
class MatrixRow:
    agency: str
    workflow_id: str
    stage: str
    due_on: date
    ratings: dict[str, str]  # standard id -> rating, this period
    before: dict[str, str]  # standard id -> rating, the period before
    raised: dict[str, str]  # standard id -> the recommendation raised from it

    @property
    def returned(self) -> bool:
        return self.stage not in OWED


@dataclass
class CycleMatrix:
    cycle: Cycle
    period: str
    previous: str | None
    rows: list[MatrixRow] = field(default_factory=list)

    @property
    def standards(self) -> list[Standard]:
        return list(self.cycle.standards)

    @property
    def not_returned(self) -> list[MatrixRow]:
        return [r for r in self.rows if not r.returned]

    def counts(self, standard_id: str) -> dict[str, int]:
        """How many agencies rated a standard each way, this period."""
        found = [r.ratings.get(standard_id) for r in self.rows]
        return {rating.value: found.count(rating.value) for rating in Rating}

    def as_dict(self) -> dict[str, Any]:
        return {
            "cycle_id": self.cycle.cycle_id, "name": self.cycle.name, "board": self.cycle.board,
            "period": self.period, "previous": self.previous,
            "standards": [{"standard_id": s.standard_id, "text": s.text} for s in self.standards],
            "returns": [
                {"agency": r.agency, "return_id": r.workflow_id, "stage": r.stage, "due_on": r.due_on.isoformat(),
                 "ratings": r.ratings, "previous_ratings": r.before, "raised": r.raised}
                for r in self.rows
            ],
            "not_returned": [r.agency for r in self.not_returned],
        }  # fmt: skip

    def as_text(self) -> str:
        lines = [f"{self.cycle.cycle_id} {self.period}: {self.cycle.name} ({self.cycle.board})"]
        if not self.rows:
            return "\n".join([*lines, "No returns asked for this period yet"])
        lines.append(f"Standards: {', '.join(f'{s.standard_id}. {s.text}' for s in self.standards)}")
        for row in self.rows:
            cells = []
            for s in self.standards:
                now = RATING_WORDS.get(Rating(row.ratings[s.standard_id])) if s.standard_id in row.ratings else "-"
                was = row.before.get(s.standard_id)
                cells.append(f"{s.standard_id} {now}" + (f" (was {RATING_WORDS[Rating(was)]})" if was else ""))
            lines.append(f"  {row.agency}: {STAGE_WORDS.get(row.stage, row.stage)}; " + "; ".join(cells))
        owed = self.not_returned
        lines.append("Not returned: " + (", ".join(r.agency for r in owed) if owed else "none"))
        return "\n".join(lines)


def cycle_matrix(*, session: Session, cycle_id: str, period: str | None = None) -> CycleMatrix:
    """The matrix of ``period`` (by default the latest a return was asked for) beside the one
    before it; ``LookupError`` for a cycle or a period that is not there."""
    found = stored_cycles(session=session, cycle_ids=[cycle_id])
    if not found:
        raise LookupError(f"there is no cycle {cycle_id!r}")
    cycle = found[0]
    if period is None:
        periods = _periods(session, cycle_id)
        if not periods:
            return CycleMatrix(cycle=cycle, period="", previous=None)
        period = periods[-1]
    try:
        start = named_period(cycle, period).starts_on
    except ValueError as error:
        raise LookupError(f"period: {error}") from None
    previous = cycle.cadence.period_name(cycle.cadence.previous_start(start))
    rows = cycle_returns(session=session, cycle_id=cycle_id, periods=[period, previous])
    earlier = {r.agency: r for r in rows if r.period == previous}
    matrix = CycleMatrix(cycle=cycle, period=period, previous=previous if earlier else None)
    for row in (r for r in rows if r.period == period):
        was = earlier.get(row.agency)
        matrix.rows.append(MatrixRow(agency=row.agency, workflow_id=row.workflow_id, stage=row.stage, due_on=row.due_on,
                                     ratings=dict(row.ratings), before=dict(was.ratings) if was else {},
                                     raised=dict(row.raised)))  # fmt: skip
    return matrix


def _periods(session: Session, cycle_id: str) -> list[str]:
    return sorted(set(session.exec(select(CycleReturnRow.period).where(CycleReturnRow.cycle_id == cycle_id))))
