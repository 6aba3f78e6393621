"""Agencies' returns to cycles of assurance in the store: each return's row, written by its
workflow's projection (``activities.cycle_store``), and read by the matrix, the board pack and
the CLI."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from models.cycle_lifecycle import ReturnProjection
from store.read_model import queue_notifications
from store.tables import CycleReturnRow, table_of


def record_cycle_return(*, session: Session, data: ReturnProjection) -> bool:
    """Write a return's row at its workflow's version, and queue its messages; a write older than
    the row (a retry overtaken) moves nothing. Returns whether the row moved."""
    t = table_of(CycleReturnRow)
    connection = session.connection()
    values = {
        "cycle_id": data.cycle_id, "period": data.period, "agency": data.agency, "board": data.board,
        "stage": data.stage.value, "due_on": data.due_on, "ratings": {k: v.value for k, v in data.ratings.items()},
        "answers": [a.model_dump(mode="json") for a in data.answers],
        "submitted_at": data.submitted_at, "accepted_at": data.accepted_at, "version": data.version,
        "updated_at": data.at,
    }  # fmt: skip
    row = connection.execute(sa_select(t.c.version).where(t.c.workflow_id == data.workflow_id)).first()
    moved = False
    if row is None:
        connection.execute(t.insert().values(workflow_id=data.workflow_id, raised={}, **values))
        moved = True
    elif row.version < data.version:
        connection.execute(t.update().where(t.c.workflow_id == data.workflow_id).values(**values))
        moved = True
    queue_notifications(session=session, workflow_id=data.workflow_id, ref=data.cycle_id,
                        notifications=data.notifications)  # fmt: skip
    return moved


def cycle_returns(*, session: Session, cycle_id: str, periods: Sequence[str] | None = None) -> list[CycleReturnRow]:
    """A cycle's returns, for the periods named or all, by period then agency."""
    query = select(CycleReturnRow).where(CycleReturnRow.cycle_id == cycle_id)
    if periods is not None:
        query = query.where(col(CycleReturnRow.period).in_(list(periods)))
    rows = list(session.exec(query))
    return sorted(rows, key=lambda r: (r.period, r.agency.casefold()))


def record_raised(*, session: Session, workflow_id: str, standard_id: str, ref: str) -> None:
    """Link a standard of a return to the recommendation raised from it."""
    row = session.get(CycleReturnRow, workflow_id)
    if row is None:
        raise LookupError(f"no return {workflow_id}")
    row.raised = {**row.raised, standard_id: ref}
    session.add(row)
