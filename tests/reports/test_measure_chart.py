"""The measure chart: well-formed, accessible SVG saying in words what it draws, with the same
figures as table rows, and safe with any name a person types."""

from __future__ import annotations

from datetime import UTC, date, datetime
from xml.etree import ElementTree

from models.measures import view_of
from models.payloads import Direction, MeasureState, MeasureUnit, Reading
from reports.measure_chart import measure_chart_svg, measure_rows

SVG = "{http://www.w3.org/2000/svg}"


def _view(readings: list[tuple[float, date]], **changes: object):
    fields = {
        "measure_id": "M1", "name": "Use of force at Oakhill <per 100>", "unit": MeasureUnit.rate,
        "direction": Direction.down, "baseline": 42.0, "baseline_on": date(2025, 4, 1), "target": 25.2,
        "target_by": date(2026, 3, 31), "reporter": "lead@oakhill.example", "every": "P3M",
        "added_on": date(2025, 4, 1),
    } | changes  # fmt: skip
    state = MeasureState(
        **fields,  # type: ignore[arg-type]
        readings=[
            Reading(
                value=v, on=d, by="lead@oakhill.example", note="quarterly return", at=datetime(2026, 1, 2, tzinfo=UTC)
            )
            for v, d in readings
        ],
    )
    return view_of(state, overdue=False, open_=True)


def _parse(svg: str) -> ElementTree.Element:
    return ElementTree.fromstring(svg)


def test_the_chart_names_itself_and_says_every_figure_in_words():
    view = _view([(39, date(2025, 7, 1)), (33, date(2025, 10, 1)), (30.5, date(2026, 1, 1))])
    root = _parse(measure_chart_svg(view, title_id="m1"))
    assert root.get("role") == "img" and root.get("aria-labelledby") == "m1-t m1-d"
    assert root.find(f"{SVG}title").text == "Use of force at Oakhill <per 100>: Off track"
    desc = root.find(f"{SVG}desc").text
    for said in ("Baseline 42 on 1 April 2025", "target 25.2 by 31 March 2026", "30.5 on 1 January 2026", "Off track"):
        assert said in desc
    labels = [t.text for t in root.iter(f"{SVG}text")]
    assert {"39", "33", "30.5", "Baseline 42", "Target 25.2 by Mar 2026", "Readings", "Target"} <= set(labels)
    assert len(list(root.iter(f"{SVG}polyline"))) == 1  # the readings' line


def test_the_table_holds_the_same_figures_with_the_line_expected_on_each_day():
    view = _view([(39, date(2025, 7, 1)), (30.5, date(2026, 1, 1))], unit=MeasureUnit.percent)
    rows = measure_rows(view)
    assert [(r["label"], r["on"], r["value"]) for r in rows] == [
        ("Baseline", "1 April 2025", "42%"),
        ("Reading", "1 July 2025", "39%"),
        ("Reading", "1 January 2026", "30.5%"),
        ("Target", "31 March 2026", "25.2%"),
    ]
    assert rows[1]["expected"] == "37.8%" and rows[2]["expected"] == "29.3%"
    assert rows[1]["by"] == "lead@oakhill.example" and rows[1]["note"] == "quarterly return"


def test_a_measure_with_no_readings_yet_draws_its_line_and_says_so():
    root = _parse(measure_chart_svg(_view([]), title_id="m2"))
    assert root.find(f"{SVG}title").text.endswith(": No data yet")
    assert "no readings yet" in root.find(f"{SVG}desc").text
    assert not list(root.iter(f"{SVG}polyline"))


def test_a_measure_not_yet_counted_says_there_is_nothing_to_draw():
    bare = _view([], baseline=None, baseline_on=None, target=None, target_by=None)
    root = _parse(measure_chart_svg(bare, title_id="m3"))
    assert "No baseline, target or readings yet" in [t.text for t in root.iter(f"{SVG}text")]
    assert measure_rows(bare) == []


def test_a_reading_after_the_target_date_comes_after_the_target_in_the_table():
    rows = measure_rows(_view([(30, date(2025, 12, 1)), (24, date(2026, 6, 1))]))
    assert [r["label"] for r in rows] == ["Baseline", "Reading", "Target", "Reading"]


def test_a_flat_measure_and_one_reading_on_the_baseline_day_still_draw():
    flat = _view([(42, date(2025, 4, 1))], baseline=42.0, target=42.0 - 0.1)
    _parse(measure_chart_svg(flat, title_id="m4"))
