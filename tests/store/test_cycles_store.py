"""Assurance cycles in the store, on SQLite and PostgreSQL: a definition written is read back
whole (its cadence as the rule it names), the same again is not touched, a changed one is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from store.cycles import stored_cycles, write_cycles
from store.db import session_scope
from store.tables import CycleRow
from tests.models.test_cycles import section_11

NOW = datetime(2026, 12, 3, 9, tzinfo=UTC)


def write(url: str, cycles, now: datetime = NOW) -> list[str]:
    with session_scope(url) as session:
        return write_cycles(session=session, cycles=cycles, now=now)


def read(url: str, ids=None):
    with session_scope(url) as session:
        return stored_cycles(session=session, cycle_ids=ids)


def test_a_cycle_is_read_back_whole_and_the_same_again_is_not_touched(store_url):
    restraint = section_11(cycle_id="OAKHILL-RESTRAINT", name="Oakhill restraint review", agencies=["Oakhill STC"])
    assert write(store_url, [section_11(), restraint]) == ["S11", "OAKHILL-RESTRAINT"]
    assert read(store_url) == [restraint, section_11()]  # by id
    assert read(store_url, ["S11"]) == [section_11()]
    assert read(store_url)[1].cadence.words() == "yearly on 1 April"

    later = NOW + timedelta(days=1)
    assert write(store_url, [section_11()], later) == []
    quarterly = section_11(cadence="quarterly", name="Section 11 audit (quarterly)")
    assert write(store_url, [quarterly, restraint], later) == ["S11"]
    assert read(store_url, ["S11"]) == [quarterly]
    with session_scope(store_url) as session:
        rows = {row.cycle_id: (row.name, row.updated_at, row.created_at) for row in session.exec(select(CycleRow))}
    assert rows["S11"] == ("Section 11 audit (quarterly)", later, NOW)
    assert rows["OAKHILL-RESTRAINT"][1] == NOW


def test_nothing_to_write_writes_nothing(store_url):
    assert write(store_url, []) == [] and read(store_url) == []
