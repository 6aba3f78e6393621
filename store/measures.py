"""Impact measures in the read model (the ``measure`` table, beside each recommendation's row):
written by the projection as a delta, read back as the status's ``MeasureView`` for the board
pack's charts, and as the overview's list of the measures off track.

Where a measure stands is never worked out here: the row keeps what the workflow's status said
(``models.measures``), and the view is read back as it was written.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import date
from functools import lru_cache
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from models.measures import with_unit
from models.payloads import (
    CLOSED_STAGES,
    Direction,
    MeasureRowFacts,
    MeasureTrack,
    MeasureUnit,
    MeasureView,
    ReadingView,
)
from store.tables import MeasureRow, RecommendationRow, table_of

# Columns every measure write sets; ``readings`` only when the write carries them.
_FACT_COLUMNS = (
    "name", "unit", "direction", "baseline", "baseline_on", "target", "target_by", "reporter", "every",
    "latest_value", "latest_on", "track", "expected", "reading_due_on", "overdue",
)  # fmt: skip


@lru_cache(maxsize=8)
def _upsert(dialect: str, with_readings: bool) -> Any:
    module = postgresql if dialect == "postgresql" else sqlite
    insert = module.insert(MeasureRow)
    columns = (*_FACT_COLUMNS, "readings") if with_readings else _FACT_COLUMNS
    return insert.on_conflict_do_update(
        index_elements=["ref", "measure_id"], set_={name: insert.excluded[name] for name in columns}
    )


def readings_json(readings: Sequence[ReadingView]) -> str:
    """The ``readings`` column's text: each reading's figure, day, who gave it and its note."""
    return json.dumps([r.model_dump(mode="json") for r in readings], separators=(",", ":"))


def write_measures(*, session: Session, ref: str, measures: Sequence[MeasureRowFacts]) -> None:
    """Upsert these measures of ``ref`` (a row without readings keeps the readings it has) and
    count again how many of its measures are off track, on the recommendation's row."""
    dialect = session.get_bind().dialect.name
    connection = session.connection()
    for with_readings in (True, False):
        rows = [
            {
                "ref": ref,
                "measure_id": m.measure_id,
                **m.model_dump(include=set(_FACT_COLUMNS)),
                # A measure first written without its readings (never, from the projection) has none.
                "readings": readings_json(m.readings or []),
            }
            for m in measures
            if (m.readings is not None) == with_readings
        ]
        if rows:
            connection.execute(_upsert(dialect, with_readings), rows)
    t, r = table_of(MeasureRow).c, table_of(RecommendationRow)
    off_track = sa_select(func.count()).where(t.ref == ref, t.track == MeasureTrack.off_track.value).scalar_subquery()
    connection.execute(r.update().where(r.c.ref == ref).values(measures_off_track=off_track))


def stored_view(row: Any) -> MeasureView:
    """The ``MeasureView`` the status showed when ``row`` (a ``measure`` row) was written: the row
    keeps the figures, the readings (oldest first) and where the measure stood, as
    ``models.measures`` worked it out."""
    # Trusted values from our own store: constructed without checking each figure again.
    return MeasureView.model_construct(
        measure_id=row.measure_id, name=row.name, unit=MeasureUnit(row.unit), direction=Direction(row.direction),
        baseline=row.baseline, baseline_on=row.baseline_on, target=row.target, target_by=row.target_by,
        reporter=row.reporter, every=row.every,
        readings=[ReadingView.model_validate(r) for r in json.loads(row.readings)],
        on_track=MeasureTrack(row.track), expected=row.expected, reading_due_on=row.reading_due_on,
        overdue=bool(row.overdue),
    )  # fmt: skip


def stored_measures(*, session: Session, refs: Collection[str] | None = None) -> dict[str, list[MeasureView]]:
    """Each recommendation's measures as views, by ref (those of ``refs``, or every one's), in
    measure id order."""
    t = table_of(MeasureRow)
    query = sa_select(t).order_by(t.c.ref, t.c.measure_id)
    if refs is not None:
        if not refs:
            return {}
        query = query.where(t.c.ref.in_(sorted(refs)))
    found: dict[str, list[MeasureView]] = {}
    for row in session.connection().execute(query):
        found.setdefault(row.ref, []).append(stored_view(row))
    return found


class OffTrackMeasure(BaseModel):
    """One measure off track, as the overview lists it: its latest reading against the line's
    figure for that day and the target, with units."""

    ref: str
    title: str
    board: str
    measure_id: str
    name: str
    reporter: str
    latest: str  # "52%"
    latest_on: date | None
    expected: str  # what the line from baseline to target expected that day
    target: str
    target_by: date | None
    # How far short, as a share of the whole way from baseline to target: the list's order.
    shortfall: float


def off_track_measures(*, session: Session, refs: Collection[str]) -> list[OffTrackMeasure]:
    """The measures off track on the open recommendations among ``refs`` (those the reader may
    see), the furthest behind first."""
    if not refs:
        return []
    m, r = table_of(MeasureRow).c, table_of(RecommendationRow)
    rows = session.connection().execute(
        sa_select(
            m.ref, m.measure_id, m.name, m.unit, m.reporter, m.latest_value, m.latest_on, m.expected, m.baseline,
            m.target, m.target_by, r.c.title, r.c.board,
        )
        .join(r, r.c.ref == m.ref)
        .where(
            m.track == MeasureTrack.off_track.value,
            m.ref.in_(sorted(refs)),
            r.c.stage.not_in(sorted(CLOSED_STAGES)),
        )
    )  # fmt: skip
    found = [
        OffTrackMeasure(
            ref=row.ref,
            title=row.title,
            board=row.board,
            measure_id=row.measure_id,
            name=row.name,
            reporter=row.reporter,
            latest=with_unit(row.latest_value, row.unit),
            latest_on=row.latest_on,
            expected=with_unit(_rounded(row.expected), row.unit),
            target=with_unit(row.target, row.unit),
            target_by=row.target_by,
            shortfall=_shortfall(row),
        )  # fmt: skip
        for row in rows
    ]
    return sorted(found, key=lambda o: (-o.shortfall, o.ref, o.measure_id))


def _rounded(value: float | None) -> float | None:
    """The line's figure as the charts print it (one decimal place): it is rarely a whole number."""
    return None if value is None else round(value, 1)


def _shortfall(row: Any) -> float:
    if row.latest_value is None or row.expected is None or row.baseline is None or row.target is None:
        return 0.0
    span = abs(row.target - row.baseline)
    return abs(row.expected - row.latest_value) / span if span else 0.0
