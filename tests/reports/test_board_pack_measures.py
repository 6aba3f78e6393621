"""The board pack's measures section, from a read model the projection wrote: each measure of
the open recommendations with its chart and the chart's figures as a table, those off track first."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest

from models.lifecycle import Lifecycle
from models.payloads import Decision, ImportedReading, MeasureTrack, RecordReadingInput, WithdrawInput
from reports.board_pack import board_pack_data, render_board_pack
from store.db import session_scope
from store.read_model import apply_projection
from tests import factories as f

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)
MONTH = date(2026, 3, 1)
# M1 runs from 60% on 14 March 2023 to 90% by 14 March 2024: from then on the line is the target.
PAST_TARGET = date(2024, 6, 1)
MEASURE = "Qualifying cases with a professionals&#39; meeting held"


def _take(life: Lifecycle, decision: Decision) -> None:
    life.check(decision, NOW)
    life.apply(decision, NOW)


def _life(ref: str, readings: list[ImportedReading], **measure) -> Lifecycle:
    start = f.start(ref, actions=[f.action("A1", NOW.date() + timedelta(days=30))], measures=[f.measure(**measure)])
    return Lifecycle.begin(start.model_copy(update={"readings": readings}), workflow_id=f"rec-{ref}", now=NOW)


@pytest.fixture
def measured(database_url) -> None:
    """PACK-A on track (read this month at 95%, by the reporter, with a note that looks like
    markup; its target is a year off, read each quarter); PACK-B off track (70% against 90%, past
    its target date); PACK-C off track but withdrawn."""
    on_track = _life("PACK-A", [], target_by=date(2027, 3, 14), every="P3M")
    _take(on_track, RecordReadingInput(by=f.REPORTER, measure_id="M1", value=95, on=NOW.date(), note="<b>Q4</b>"))
    off_track = _life("PACK-B", [ImportedReading(measure_id="M1", value=70, on=PAST_TARGET, note="Audit of 20")])
    closed = _life("PACK-C", [ImportedReading(measure_id="M1", value=10, on=PAST_TARGET)])
    _take(closed, WithdrawInput(by=f.SPONSOR, reason="Superseded by the new protocol"))
    for life in (on_track, off_track, closed):
        with session_scope(database_url) as session:
            apply_projection(session=session, data=f.projection_of(life, NOW))


def _pack(database_url: str):
    with session_scope(database_url) as session:
        return board_pack_data(session=session, month=MONTH, now=NOW + timedelta(hours=1))


def _section(html: str) -> str:
    return html.split("<h2>Impact measures")[1].split("<h2>")[0]


class TestMeasuresSection:
    def test_the_open_recommendations_measures_come_off_track_first(self, database_url, measured):
        """PACK-B's measure before PACK-A's, though A comes first by ref; the withdrawn PACK-C is left out."""
        pack = _pack(database_url)
        assert [("PACK-B", MeasureTrack.off_track), ("PACK-A", MeasureTrack.on_track)] == [
            (item.summary.ref, item.view.on_track) for item in pack.measures
        ]
        assert [70.0] == [r.value for r in pack.measures[0].view.readings]

    def test_each_measure_has_its_chart_and_the_same_figures_as_a_table(self, database_url, measured):
        """A heading with the track in words, an accessible chart with ids of its own, and a table
        of the baseline, each reading against the line's figure that day, and the target."""
        section = _section(render_board_pack(_pack(database_url)))
        assert section.startswith(" (2)</h2>")
        assert "<p><strong>Off track:</strong> 1 of 2 measures.</p>" in section
        first, second = section.split('<h3 id="measure-1-h">')[1].split('<h3 id="measure-2-h">')
        assert first.startswith(f"PACK-B: {MEASURE} (Off track)</h3>")
        assert second.startswith(f"PACK-A: {MEASURE} (On track)</h3>")
        assert f"Higher is better; reported by {f.REPORTER}.</span>" in first  # past its target date: none owed
        assert f"Higher is better; reported by {f.REPORTER}; next reading due 14 June 2026.</span>" in second
        svg = re.search(r"<svg\b[^>]*>", first).group(0)
        assert 'role="img"' in svg and 'aria-labelledby="measure-1-t measure-1-d"' in svg
        assert '<title id="measure-1-t">' in first and '<desc id="measure-1-d">' in first
        assert 'aria-labelledby="measure-2-t measure-2-d"' in second
        rows = re.findall(r"<tr><td>(.*?)</td></tr>", first)
        assert [
            "Baseline</td><td>14 March 2023</td><td>60%</td><td></td><td></td><td>",
            "Target</td><td>14 March 2024</td><td>90%</td><td></td><td></td><td>",
            f"Reading</td><td>1 June 2024</td><td>70%</td><td>90%</td><td>{f.REPORTER}</td><td>Audit of 20",
        ] == rows

    def test_peoples_words_are_escaped_and_the_months_readings_are_changes(self, database_url, measured):
        """A note is text, never markup; the reading recorded this month is in what changed, in the timeline's words."""
        html = render_board_pack(_pack(database_url))
        assert "&lt;b&gt;Q4&lt;/b&gt;" in _section(html) and "<b>Q4</b>" not in html
        changes = html.split("<h2>What changed")[1]
        assert "Reading of a measure recorded" in changes and "PACK-A" in changes

    def test_without_measures_the_section_says_so_and_draws_no_chart(self, database_url):
        """An empty read model: a plain sentence, no chart."""
        section = _section(render_board_pack(_pack(database_url)))
        assert "No open recommendation has an impact measure yet." in section
        assert "<svg" not in section


def test_a_measure_neither_off_track_nor_overdue_nor_read_this_month_is_one_line(database_url, measured):
    """So that a pack of hundreds of measures stays one a chair reads: PACK-D, on track and read
    last month, is listed in the table of the others, not drawn."""
    quiet = _life(
        "PACK-D", [ImportedReading(measure_id="M1", value=85, on=date(2026, 2, 2))], target_by=date(2027, 3, 14)
    )
    with session_scope(database_url) as session:
        apply_projection(session=session, data=f.projection_of(quiet, NOW))
    pack = _pack(database_url)
    assert [("PACK-B", True), ("PACK-A", True), ("PACK-D", False)] == [
        (item.summary.ref, item.charted) for item in pack.measures
    ]
    section = _section(render_board_pack(pack))
    assert section.count("<svg") == 2 and section.startswith(" (3)</h2>")
    others = section.split('<h3 id="measures-others-h">')[1]
    assert others.startswith("The other measures (1)")
    assert f"<td>PACK-D</td><td>{MEASURE}</td><td>On track</td><td>85% on 2 February 2026</td>" in others
