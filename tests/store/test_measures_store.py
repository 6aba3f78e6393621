"""Impact measures in the read model: the projection writes each measure's row, readings and all,
then only the measures that changed, and their readings only when those did; the store keeps the
count off track on the recommendation's row, rebuilds the status's view from a row, and lists the
measures off track of the recommendations a reader may see."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from models.lifecycle import Lifecycle
from models.payloads import (
    AcknowledgeInput,
    Decision,
    Direction,
    ImportedReading,
    MeasureRowFacts,
    MeasureSpec,
    MeasureTrack,
    MeasureUnit,
    ProjectionInput,
    RecordReadingInput,
    WithdrawInput,
)
from models.projection import action_rows, cascade_rows, measure_rows, projection
from store.db import session_scope
from store.measures import off_track_measures, stored_measures
from store.read_model import apply_projection, recommendation_row
from store.tables import MeasureRow
from tests import factories as f

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)
# M1 runs from 60% on 14 March 2023 to 90% by 14 March 2024: from then on the line is the target.
PAST_TARGET = date(2024, 6, 1)


def _life(ref: str, *, readings: list[ImportedReading] = (), owner: str = f.OWNER) -> Lifecycle:
    """A recommendation with M1, past its target date, so owing no more readings, and M2, counted
    in days, to fall from 20 to 15 by March 2027 and read each quarter (owed one now)."""
    m2 = MeasureSpec(
        measure_id="M2", name="Days to an initial sentence plan", unit=MeasureUnit.days, direction=Direction.down,
        baseline=20, baseline_on=date(2025, 3, 14), target=15, target_by=date(2027, 3, 14), reporter=f.REPORTER,
        every="P3M",
    )  # fmt: skip
    start = f.start(ref, actions=[f.action("A1", NOW.date() + timedelta(days=30), owner=owner)])
    start = start.model_copy(update={"measures": [f.measure(), m2], "readings": list(readings)})
    return Lifecycle.begin(start, workflow_id=f"recommendation-{ref}", now=NOW)


def _take(life: Lifecycle, at: datetime, decision: Decision) -> None:
    life.check(decision, at)
    life.apply(decision, at)


class _Run:
    """One workflow run's writes, as the workflow makes them: each after the first a delta
    against what the run stored last."""

    def __init__(self, life: Lifecycle) -> None:
        self.life = life
        self.actions: dict | None = None
        self.cascade: list | None = None
        self.measures: dict[str, MeasureRowFacts] | None = None

    def write(self, now: datetime) -> ProjectionInput:
        status = self.life.status(now)
        data = projection(
            status,
            workflow_id=self.life.workflow_id,
            audit_due=self.life.planned_audit_on(),
            new_events=list(self.life.state.timeline),
            notifications=list(self.life.state.outbox),
            stored_actions=self.actions,
            stored_cascade=self.cascade,
            stored_measures=self.measures,
        )
        self.actions = {row.action_id: row for row in action_rows(status)}
        self.cascade, self.measures = cascade_rows(status), measure_rows(status)
        return data


def _apply(url: str, data: ProjectionInput) -> bool:
    with session_scope(url) as session:
        return apply_projection(session=session, data=data)


def _rows(url: str, ref: str) -> dict[str, MeasureRow]:
    with session_scope(url) as session:
        rows = list(session.exec(select(MeasureRow).where(MeasureRow.ref == ref)))
        for row in rows:
            session.expunge(row)
        return {row.measure_id: row for row in rows}


def _off_track_count(url: str, ref: str) -> int:
    with session_scope(url) as session:
        return recommendation_row(session=session, ref=ref).measures_off_track


class TestMeasureRows:
    def test_a_first_write_stores_every_measure_with_its_readings_and_the_count_off_track(self, store_url):
        """M1 read at 70% past its target date (90% expected) is off track, M2 unread has no data;
        the row keeps the readings as JSON and the recommendation counts one measure off track."""
        reading = ImportedReading(measure_id="M1", value=70, on=PAST_TARGET, by=f.REPORTER, note="Q1 audit")
        life = _life("MEASURE-ROWS", readings=[reading])
        data = _Run(life).write(NOW)
        assert ["M1", "M2"] == [m.measure_id for m in data.measures]
        assert _apply(store_url, data)

        rows = _rows(store_url, "MEASURE-ROWS")
        m1, m2 = rows["M1"], rows["M2"]
        assert ("off_track", 70, PAST_TARGET, 90, "percent", "up") == (
            m1.track, m1.latest_value, m1.latest_on, m1.expected, m1.unit, m1.direction
        )  # fmt: skip
        assert [{"value": 70.0, "on": "2024-06-01", "by": f.REPORTER, "note": "Q1 audit"}] == json.loads(m1.readings)
        assert (None, False) == (m1.reading_due_on, m1.overdue)  # past its target date: no more owed
        assert ("no_data", None, None, "[]", "days", "down") == (
            m2.track, m2.latest_value, m2.expected, m2.readings, m2.unit, m2.direction
        )  # fmt: skip
        assert m2.reading_due_on == life.state.measure("M2").reading_due_on == date(2026, 3, 14)
        assert 1 == _off_track_count(store_url, "MEASURE-ROWS")

    def test_a_stored_row_gives_back_the_status_own_view(self, store_url):
        """Rebuilt by ``models.measures.view_of`` from the row, each view is the status's, readings,
        track and expected figure and all; a closed recommendation's owes no reading."""
        readings = [
            ImportedReading(measure_id="M1", value=64, on=date(2023, 9, 14)),
            # 85% against 81.5% expected that day: on track.
            ImportedReading(measure_id="M1", value=85, on=date(2023, 12, 1), note="after the briefings"),
        ]
        life = _life("MEASURE-VIEW", readings=readings)
        run = _Run(life)
        _apply(store_url, run.write(NOW))
        with session_scope(store_url) as session:
            views = stored_measures(session=session)["MEASURE-VIEW"]
        assert life.status(NOW).measures == views
        assert [None, date(2026, 3, 14)] == [v.reading_due_on for v in views]  # M2 owes one; M1 is past its date
        later = NOW + timedelta(hours=1)
        _take(life, later, WithdrawInput(by=f.SPONSOR, reason="Superseded by the new protocol"))
        _apply(store_url, run.write(later))
        with session_scope(store_url) as session:
            views = stored_measures(session=session, refs={"MEASURE-VIEW"})["MEASURE-VIEW"]
        assert life.status(later).measures == views
        assert [None, None] == [v.reading_due_on for v in views]
        assert [MeasureTrack.on_track, MeasureTrack.no_data] == [v.on_track for v in views]


class TestMeasureDeltas:
    """After a run's first write, a write carries only the measures whose row changed, and a
    measure's readings only when they changed: history does not grow with every figure at every
    transition."""

    def test_a_write_that_changes_no_measure_carries_none(self, store_url):
        """Acknowledging an action leaves the measures out of the write; their rows stay."""
        life = _life("MEASURE-SAME")
        run = _Run(life)
        _apply(store_url, run.write(NOW))
        later = NOW + timedelta(hours=1)
        _take(life, later, AcknowledgeInput(by=f.OWNER, action_id="A1"))
        data = run.write(later)
        assert data.measures is None
        assert _apply(store_url, data)
        assert {"M1", "M2"} == set(_rows(store_url, "MEASURE-SAME"))

    def test_a_reading_sends_its_measure_with_its_readings_and_counts_again(self, store_url):
        """A reading of M1 short of its line: only M1 goes, with its readings; the count becomes one.
        A second, at the target, corrects nothing else and brings the count back to none."""
        life = _life("MEASURE-READ")
        run = _Run(life)
        _apply(store_url, run.write(NOW))
        assert 0 == _off_track_count(store_url, "MEASURE-READ")

        later = NOW + timedelta(hours=1)
        _take(life, later, RecordReadingInput(by=f.REPORTER, measure_id="M1", value=70, on=PAST_TARGET))
        data = run.write(later)
        assert [("M1", [70.0])] == [(m.measure_id, [r.value for r in m.readings]) for m in data.measures]
        assert _apply(store_url, data)
        assert ("off_track", 1) == (_rows(store_url, "MEASURE-READ")["M1"].track, _off_track_count(store_url, "MEASURE-READ"))  # fmt: skip

        latest = later + timedelta(hours=1)
        _take(life, latest, RecordReadingInput(by=f.SPONSOR, measure_id="M1", value=90, on=date(2025, 1, 6)))
        data = run.write(latest)
        assert [("M1", [70.0, 90.0])] == [(m.measure_id, [r.value for r in m.readings]) for m in data.measures]
        assert _apply(store_url, data)
        m1 = _rows(store_url, "MEASURE-READ")["M1"]
        assert ("on_track", 90, 2) == (m1.track, m1.latest_value, len(json.loads(m1.readings)))
        assert 0 == _off_track_count(store_url, "MEASURE-READ")

    def test_a_measure_that_changed_without_new_readings_goes_without_them_and_the_store_keeps_its_own(self, store_url):
        """Withdrawn, M2 owes no reading any more: it goes alone (M1 owed none already), without its
        readings, and the store keeps the readings it has."""
        readings = [
            ImportedReading(measure_id="M1", value=70, on=PAST_TARGET),
            ImportedReading(measure_id="M2", value=19, on=date(2026, 1, 5)),  # 18 days expected: off track
        ]
        life = _life("MEASURE-SHUT", readings=readings)
        run = _Run(life)
        _apply(store_url, run.write(NOW))
        assert 2 == _off_track_count(store_url, "MEASURE-SHUT")
        later = NOW + timedelta(hours=1)
        _take(life, later, WithdrawInput(by=f.SPONSOR, reason="Superseded by the new protocol"))
        data = run.write(later)
        assert [("M2", None, None)] == [(m.measure_id, m.readings, m.reading_due_on) for m in data.measures]
        assert _apply(store_url, data)
        m2 = _rows(store_url, "MEASURE-SHUT")["M2"]
        assert (None, [19.0]) == (m2.reading_due_on, [r["value"] for r in json.loads(m2.readings)])
        assert 2 == _off_track_count(store_url, "MEASURE-SHUT")

    def test_a_late_write_moves_no_measure(self, store_url):
        """A stale version arriving after a newer one leaves the newer readings and count in place."""
        life = _life("MEASURE-LATE")
        run = _Run(life)
        older = run.write(NOW)
        later = NOW + timedelta(hours=1)
        _take(life, later, RecordReadingInput(by=f.REPORTER, measure_id="M1", value=70, on=PAST_TARGET))
        newer = _Run(life).write(later)  # a first write of its own: every measure
        assert _apply(store_url, newer)
        assert not _apply(store_url, older)
        assert ("off_track", 1) == (_rows(store_url, "MEASURE-LATE")["M1"].track, _off_track_count(store_url, "MEASURE-LATE"))  # fmt: skip


class TestOffTrackList:
    @pytest.fixture
    def stored(self, store_url) -> str:
        """OFF-A 70% past the target (20 points short of 90); OFF-B 75% (15 short) with M2 at 19
        days against 18 expected (1 of the 5 days' fall short); OFF-C on track; OFF-D off track but
        withdrawn."""
        lives = {
            "OFF-A": _life("OFF-A", readings=[ImportedReading(measure_id="M1", value=70, on=PAST_TARGET)]),
            "OFF-B": _life(
                "OFF-B",
                owner=f.OWNER_2,
                readings=[
                    ImportedReading(measure_id="M1", value=75, on=PAST_TARGET),
                    ImportedReading(measure_id="M2", value=19, on=date(2026, 1, 5)),
                ],
            ),
            "OFF-C": _life("OFF-C", readings=[ImportedReading(measure_id="M1", value=91, on=PAST_TARGET)]),
            "OFF-D": _life("OFF-D", readings=[ImportedReading(measure_id="M1", value=10, on=PAST_TARGET)]),
        }
        _take(lives["OFF-D"], NOW, WithdrawInput(by=f.SPONSOR, reason="Superseded by the new protocol"))
        for life in lives.values():
            _apply(store_url, _Run(life).write(NOW))
        return store_url

    def test_the_open_measures_off_track_come_furthest_behind_first_with_their_units(self, stored):
        """OFF-A's M1 is 20 of its 30 points short, OFF-B's 15 of 30, OFF-B's M2 1 of its 5 days;
        OFF-C is on track and OFF-D closed."""
        with session_scope(stored) as session:
            found = off_track_measures(session=session, refs={"OFF-A", "OFF-B", "OFF-C", "OFF-D"})
        assert [("OFF-A", "M1"), ("OFF-B", "M1"), ("OFF-B", "M2")] == [(m.ref, m.measure_id) for m in found]
        percent, days = found[0], found[2]
        assert ("19 days", date(2026, 1, 5), "18 days", "15 days", date(2027, 3, 14)) == (
            days.latest, days.latest_on, days.expected, days.target, days.target_by
        )  # fmt: skip
        assert ("70%", PAST_TARGET, "90%", "90%", f.REPORTER) == (
            percent.latest, percent.latest_on, percent.expected, percent.target, percent.reporter
        )  # fmt: skip
        assert percent.title == f.recommendation("OFF-A").title and percent.board == "Review Board"

    def test_only_the_refs_the_reader_may_see_are_listed(self, stored):
        """The refs given are the reader's: another's measures are not listed, and none for nobody."""
        with session_scope(stored) as session:
            assert ["OFF-A"] == [m.ref for m in off_track_measures(session=session, refs={"OFF-A", "OFF-C"})]
            assert [] == off_track_measures(session=session, refs=set())
