"""Assurance cycles in the store: their definitions, written by the import and read by the
workflows' activities, the pages and the CLI (``models.cycles``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from models.cycles import Cycle
from store.tables import CycleRow, table_of


def write_cycles(*, session: Session, cycles: Sequence[Cycle], now: datetime) -> list[str]:
    """Add or update these cycles by ``cycle_id``; returns the ids added or changed, in the order
    given. A cycle stored already as it is given is not touched, so importing the same file again
    reports nothing."""
    if not cycles:
        return []
    ids = sorted({c.cycle_id for c in cycles})
    rows = {row.cycle_id: row for row in session.exec(select(CycleRow).where(col(CycleRow.cycle_id).in_(ids)))}
    changed = []
    for cycle in cycles:
        row = rows.get(cycle.cycle_id)
        if row is not None and Cycle.model_validate_json(row.definition) == cycle:
            continue
        if row is None:
            row = rows[cycle.cycle_id] = CycleRow(cycle_id=cycle.cycle_id, name="", board="", definition="",
                                                  created_at=now, updated_at=now)  # fmt: skip
        row.name, row.board, row.definition, row.updated_at = cycle.name, cycle.board, cycle.model_dump_json(), now
        session.add(row)
        changed.append(cycle.cycle_id)
    session.flush()
    return changed


def stored_cycles(*, session: Session, cycle_ids: Sequence[str] | None = None) -> list[Cycle]:
    """The cycles the store holds (only ``cycle_ids`` when given), by id."""
    t = table_of(CycleRow).c
    query = sa_select(t.definition).order_by(t.cycle_id)
    if cycle_ids is not None:
        query = query.where(t.cycle_id.in_(sorted(set(cycle_ids))))
    return [Cycle.model_validate_json(definition) for (definition,) in session.connection().execute(query)]
