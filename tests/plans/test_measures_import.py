"""Importing impact measures (issue 17): the Measures and Readings sheets and the Plans sheet's
audit_measures, checked by the rules a board agreeing a measure and a reporter recording a reading
meet, every problem located by sheet, row and column, the whole file refused on any; the sign-off
gate weighs the imported measures; the example partnership's measures stand as the report has them."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from devtools import plan_files as pf
from gateway.workflows import recommendation_status
from models.measures import track_of
from models.payloads import (
    Direction,
    ImportedReading,
    MeasureSpec,
    MeasureTrack,
    MeasureUnit,
    Reading,
    RecommendationInput,
    Stage,
)
from models.rules import sign_off_gaps
from plans.sheets import SHEETS, read_plan_file
from plans.validate import check_plan
from tests.helpers import drain_digests, eventually, sent, today
from tests.plans.test_import import close_all, run_import

DAY = date(2026, 3, 2)
ASSURE = str(Path(sys.executable).parent / "assure")


def iso(days: int) -> str:
    return (DAY + timedelta(days=days)).isoformat()


def rows_with_measures() -> dict[str, list[dict[str, Any]]]:
    """pf.plan with IMP-3's measures M1 (percent, up) and M2 (not counted yet), IMP-1's W1 (days,
    down), and their readings: Readings rows 1 and 2 are M1's, row 3 is W1's."""
    return pf.plan(DAY, measures=True)


def checked(rows: dict[str, list[dict[str, Any]]], tmp_path: Path, *, writer=pf.write_yaml):
    path = writer(rows, tmp_path / ("plan.yaml" if writer is pf.write_yaml else "plan.xlsx"))
    sheets, problems = read_plan_file(path)
    assert [str(p) for p in problems] == []
    plan, problems = check_plan(sheets, today=DAY)
    return plan, [str(p) for p in problems]


def start_of(plan, ref: str) -> RecommendationInput:
    return next(r.start for r in plan.recommendations if r.start.recommendation.ref == ref)


def tracks(start: RecommendationInput) -> dict[str, MeasureTrack]:
    """Each measure's track by ``models.measures.track_of`` over the readings the import carries."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    found = {}
    for spec in start.measures:
        readings = [Reading(value=r.value, on=r.on, by=r.by or spec.reporter, note=r.note, at=at)
                    for r in start.readings if r.measure_id == spec.measure_id]  # fmt: skip
        found[spec.measure_id] = track_of(spec, readings)
    return found


class TestGoodSheets:
    @pytest.mark.parametrize("writer", [pf.write_yaml, pf.write_xlsx])
    def test_measures_and_readings_reach_the_start(self, tmp_path, writer):
        """Each Measures row becomes a MeasureSpec of its recommendation, each Readings row an ImportedReading."""
        plan, problems = checked(rows_with_measures(), tmp_path, writer=writer)
        assert problems == []
        three = start_of(plan, "IMP-3")
        assert three.measures == [
            MeasureSpec(measure_id="M1", name="Audited cases where the protocol was used", unit=MeasureUnit.percent,
                        direction=Direction.up, baseline=60, baseline_on=DAY - timedelta(days=200), target=90,
                        target_by=DAY + timedelta(days=365), reporter=pf.OFFICER, every="P3M"),
            MeasureSpec(measure_id="M2", name="Families who say the plan was explained to them",
                        unit=MeasureUnit.percent, direction=Direction.up, reporter=pf.MEMBER),
        ]  # fmt: skip
        assert three.readings == [
            ImportedReading(measure_id="M1", value=66, on=DAY - timedelta(days=100), by=None,
                            note="Dip sample of 20 cases"),
            ImportedReading(measure_id="M1", value=72, on=DAY - timedelta(days=10), by=pf.MEMBER),
        ]  # fmt: skip
        assert three.imported.audit.measures == ["M1"]
        one = start_of(plan, "IMP-1")
        assert [(m.measure_id, m.unit, m.direction, m.every) for m in one.measures] == [
            ("W1", MeasureUnit.days, Direction.down, "P1M")
        ]
        assert [(r.measure_id, r.value) for r in one.readings] == [("W1", 11)]
        assert start_of(plan, "IMP-4").measures == [] and start_of(plan, "IMP-4").readings == []

    def test_the_readings_put_each_measure_on_its_track(self, tmp_path):
        """M1's latest reading is above its line (on track), W1's above a line going down (off track), M2 has none."""
        plan, _ = checked(rows_with_measures(), tmp_path)
        assert tracks(start_of(plan, "IMP-3")) == {"M1": MeasureTrack.on_track, "M2": MeasureTrack.no_data}
        assert tracks(start_of(plan, "IMP-1")) == {"W1": MeasureTrack.off_track}

    @pytest.mark.parametrize(
        ("unit", "direction", "expected"),
        [
            ("Percent", "Up", (MeasureUnit.percent, Direction.up)),
            ("%", "DOWN", (MeasureUnit.percent, Direction.down)),
            ("per  cent", "increase", (MeasureUnit.percent, Direction.up)),
            ("Percentage", "Decrease", (MeasureUnit.percent, Direction.down)),
            ("COUNT", "higher", (MeasureUnit.count_, Direction.up)),
            ("Number", "lower", (MeasureUnit.count_, Direction.down)),
            ("Days", "down", (MeasureUnit.days, Direction.down)),
            ("day", "up", (MeasureUnit.days, Direction.up)),
            ("Rate", "Down", (MeasureUnit.rate, Direction.down)),
        ],
    )
    def test_units_and_directions_are_read_in_the_words_people_write(self, tmp_path, unit, direction, expected):
        """A unit or a direction is read in any case, in the words a spreadsheet would hold."""
        rows = rows_with_measures()
        rows["Measures"][1].update(unit=unit, direction=direction)  # M2: no figures to fit either way
        plan, problems = checked(rows, tmp_path)
        assert problems == []
        m2 = start_of(plan, "IMP-3").measures[1]
        assert (m2.unit, m2.direction) == expected

    @pytest.mark.parametrize(
        ("column", "written", "expected"), [("baseline", "60%", 60), ("target", "90 %", 90), ("baseline", "62.5", 62.5)]
    )
    def test_a_percentage_may_carry_its_sign(self, tmp_path, column, written, expected):
        rows = rows_with_measures()
        rows["Measures"][0][column] = written
        plan, problems = checked(rows, tmp_path)
        assert problems == []
        assert getattr(start_of(plan, "IMP-3").measures[0], column) == expected

    def test_a_workbook_cell_showing_a_percentage_is_read_as_shown(self, tmp_path):
        """A spreadsheet keeps 60% as 0.6 in a percentage format: the importer reads what the cell shows."""
        from openpyxl import load_workbook

        path = pf.write_xlsx(rows_with_measures(), tmp_path / "plan.xlsx")
        workbook = load_workbook(path)
        for cell, value in (("G2", 0.6), ("I2", 0.905)):  # M1's baseline and target
            workbook["Measures"][cell] = value
            workbook["Measures"][cell].number_format = "0.0%"
        workbook["Readings"]["C2"] = 0.66
        workbook["Readings"]["C2"].number_format = "0%"
        workbook.save(path)
        assert [c.value for c in workbook["Measures"][1]][6:9:2] == ["baseline", "target"]
        sheets, _ = read_plan_file(path)
        plan, problems = check_plan(sheets, today=DAY)
        assert [str(p) for p in problems] == []
        three = start_of(plan, "IMP-3")
        assert (three.measures[0].baseline, three.measures[0].target, three.readings[0].value) == (60, 90.5, 66)

    def test_figures_may_be_grouped_in_thousands(self, tmp_path):
        rows = rows_with_measures()
        rows["Measures"][2].update(unit="count", baseline="1,200", target="900")
        rows["Readings"][2]["value"] = "1,150"
        plan, problems = checked(rows, tmp_path)
        assert problems == []
        one = start_of(plan, "IMP-1")
        assert (one.measures[0].baseline, one.readings[0].value) == (1200, 1150)

    def test_every_is_a_quarter_when_blank(self, tmp_path):
        rows = rows_with_measures()
        rows["Measures"][0]["every"] = ""
        plan, _ = checked(rows, tmp_path)
        assert start_of(plan, "IMP-3").measures[0].every == "P3M"

    def test_audit_measures_are_comma_separated_and_spelt_as_the_measures_sheet_spells_them(self, tmp_path):
        rows = rows_with_measures()
        rows["Plans"][0]["audit_measures"] = "m1, M2,m1"
        plan, problems = checked(rows, tmp_path)
        assert problems == []
        assert start_of(plan, "IMP-3").imported.audit.measures == ["M1", "M2"]

    def test_a_hand_written_yaml_column_named_on_is_read_as_on(self, tmp_path):
        """YAML 1.1 reads an unquoted ``on:`` as a boolean; a column name is read as written."""
        rows = rows_with_measures()
        text = pf.write_yaml(rows, tmp_path / "quoted.yaml").read_text(encoding="utf-8")
        assert "'on':" in text  # how PyYAML writes it; people write it bare
        path = tmp_path / "plan.yaml"
        path.write_text(text.replace("'on':", "on:"), encoding="utf-8")
        sheets, problems = read_plan_file(path)
        assert problems == []
        plan, problems = check_plan(sheets, today=DAY)
        assert [str(p) for p in problems] == []
        assert [r.on for r in start_of(plan, "IMP-3").readings] == [DAY - timedelta(days=100), DAY - timedelta(days=10)]

    def test_the_dates_are_rebased_with_the_rest_of_the_file(self, tmp_path):
        path = pf.write_yaml(pf.plan(date(2023, 4, 1), measures=True), tmp_path / "plan.yaml")
        sheets, _ = read_plan_file(path)
        plan, problems = check_plan(sheets, today=DAY, shift=DAY - date(2023, 4, 1))
        assert problems == []
        three = start_of(plan, "IMP-3")
        assert (three.measures[0].baseline_on, three.measures[0].target_by) == (
            DAY - timedelta(days=200),
            DAY + timedelta(days=365),
        )
        assert three.readings[1].on == DAY - timedelta(days=10)

    def test_the_template_has_both_sheets_with_drop_downs_and_worked_rows(self, tmp_path):
        from openpyxl import load_workbook

        from plans.workbook import write_template

        path = tmp_path / "template.xlsx"
        write_template(path)
        workbook = load_workbook(path)
        for name in ("Measures", "Readings"):
            assert [c.value for c in workbook[name][1]] == [*SHEETS[name][0], *SHEETS[name][1]]
            assert workbook[name].max_row == 2
        assert "audit_measures" in [c.value for c in workbook["Plans"][1]]
        formulas = [v.formula1 for v in workbook["Measures"].data_validations.dataValidation]
        assert '"percent,count,days,rate"' in formulas and '"up,down"' in formulas
        sheets, _ = read_plan_file(path)
        plan, problems = check_plan(sheets, today=date(2023, 4, 1))
        assert problems == []
        start = start_of(plan, "SAR-2023-01")
        assert [m.measure_id for m in start.measures] == ["M1"] and len(start.readings) == 1
        assert start.imported.audit.measures == ["M1"]


def _measure(index: int, **edits: Any):
    def edit(rows):
        rows["Measures"][index].update(edits)

    return edit


def _reading(index: int, **edits: Any):
    def edit(rows):
        rows["Readings"][index].update(edits)

    return edit


STRANGER = "stranger@elsewhere.example.org"
M1 = "M1 (Audited cases where the protocol was used)"
W1 = "W1 (Days from referral to strategy discussion)"


class TestEachBadInputIsRefusedWhereItIs:
    @pytest.mark.parametrize(
        ("edit", "expected"),
        [
            (_measure(0, unit="kg"), "Measures, row 1, unit: 'kg' is not a unit: use percent (or %), count, days or rate"),
            (_measure(0, unit=""), "Measures, row 1, unit: is required"),
            (_measure(0, direction="sideways"), "Measures, row 1, direction: 'sideways' is not a direction: use up or down"),
            (_measure(0, baseline=120),
             "Measures, row 1, baseline: 120 is more than 100, and a percentage is between 0 and 100"),
            (_measure(0, target="120%"),
             "Measures, row 1, target: 120 is more than 100, and a percentage is between 0 and 100"),
            (_measure(2, unit="count", baseline=12.5),
             "Measures, row 3, baseline: 12.5 is not a whole number, and a count is"),
            (_measure(0, baseline="lots"), "Measures, row 1, baseline: 'lots' is not a number, like 72 or 72.5"),
            (_measure(2, baseline="12%"),
             "Measures, row 3, baseline: '12%' is not a number (a % sign only fits a measure in percent)"),
            (_measure(0, baseline_on=""),
             "Measures, row 1, baseline_on: give the baseline and the date it was measured (baseline_on) together, "
             "or neither"),
            (_measure(0, baseline=""),
             "Measures, row 1, baseline: give the baseline and the date it was measured (baseline_on) together, "
             "or neither"),
            (_measure(0, target_by=""),
             "Measures, row 1, target_by: give the target and the date it is to be reached by (target_by) together, "
             "or neither"),
            (_measure(0, target=""),
             "Measures, row 1, target: give the target and the date it is to be reached by (target_by) together, "
             "or neither"),
            (_measure(0, target=50),
             "Measures, row 1, target: the target (50) must be above the baseline (60) for a measure that should go up"),
            (_measure(2, target=15),
             "Measures, row 3, target: the target (15) must be below the baseline (12) for a measure that should go down"),
            (_measure(0, target_by=iso(-300)),
             f"Measures, row 1, target_by: target_by ({iso(-300)}) must be after baseline_on ({iso(-200)})"),
            (_measure(0, baseline_on=iso(3), target_by=iso(365)),
             f"Measures, row 1, baseline_on: measure M1: the baseline cannot be dated {iso(3)}, a future day"),
            (_measure(0, baseline_on="last spring"),
             "Measures, row 1, baseline_on: 'last spring' is not a date (use 2023-04-01 or 01/04/2023)"),
            (_measure(0, every="P0D"),
             "Measures, row 1, every: every must be longer than zero, e.g. P3M for a reading each quarter"),
            (_measure(0, every="quarterly"), "Measures, row 1, every: "),
            (_measure(0, reporter=STRANGER),
             f"Measures, row 1, reporter: the measure reporter {STRANGER} is not in People: name a registered person"),
            (_measure(0, reporter="Officer <di.lead@police.example.org>"), "Measures, row 1, reporter: "),
            (_measure(0, ref="IMP-9"), "Measures, row 1, ref: no recommendation 'IMP-9' in Recommendations"),
            (_measure(0, measure_id="M 1"),
             "Measures, row 1, measure_id: 'M 1' is not a measure id: use up to 32 letters, digits, '.', '_' or '-', "
             "starting with a letter or a digit"),
            (_measure(0, name=""), "Measures, row 1, name: is required"),
            (_measure(1, measure_id="m1"), "Measures, row 2, measure_id: 'm1' is already a measure of IMP-3 on row 1"),
            (_reading(0, value=120),
             f"Readings, row 1, value: reading of {M1}: 120 is more than 100, and a percentage is between 0 and 100"),
            (_reading(0, value=-3), f"Readings, row 1, value: reading of {M1}: -3 is negative; a measure in percent cannot be"),
            (_reading(0, value="most"), "Readings, row 1, value: 'most' is not a number, like 72 or 72.5"),
            (_reading(0, value=""), "Readings, row 1, value: is required"),
            (_reading(0, on=iso(1)), f"Readings, row 1, on: a reading of {M1} cannot be dated {iso(1)}, a future day"),
            (_reading(0, on=iso(-201)),
             f"Readings, row 1, on: a reading of {M1} cannot be dated {iso(-201)}, before its baseline of {iso(-200)}"),
            (_reading(0, on="yesterday"), "Readings, row 1, on: 'yesterday' is not a date (use 2023-04-01 or 01/04/2023)"),
            (_reading(1, on=iso(-100)), f"Readings, row 2, on: M1 already has a reading on {iso(-100)}, on row 1"),
            (_reading(0, measure_id="M9"), "Readings, row 1, measure_id: no measure 'M9' of IMP-3 in Measures"),
            (_reading(2, ref="IMP-3"), "Readings, row 3, measure_id: no measure 'W1' of IMP-3 in Measures"),
            (_reading(0, ref="IMP-9"), "Readings, row 1, ref: no recommendation 'IMP-9' in Recommendations"),
            (_reading(1, by=STRANGER),
             f"Readings, row 2, by: the measure reporter {STRANGER} is not in People: name a registered person"),
            (lambda r: r["Plans"][0].update(audit_measures="M1, M9"),
             "Plans, row 1, audit_measures: no measure 'M9' of IMP-3 in Measures"),
        ],
    )  # fmt: skip
    def test_a_bad_cell_is_refused_with_its_sheet_row_and_column(self, tmp_path, edit, expected):
        """Each bad cell of the two sheets and the column is named by sheet, row and column, with what is wrong."""
        rows = rows_with_measures()
        edit(rows)
        _, problems = checked(rows, tmp_path)
        assert any(p.startswith(expected) for p in problems), problems

    def test_a_count_reading_must_be_whole(self, tmp_path):
        rows = rows_with_measures()
        rows["Measures"][2]["unit"] = "count"
        rows["Readings"][2]["value"] = 2.5
        _, problems = checked(rows, tmp_path)
        assert problems == [f"Readings, row 3, value: reading of {W1}: 2.5 is not a whole number, and a count is"]

    def test_a_reading_both_early_and_out_of_range_is_refused_for_both(self, tmp_path):
        rows = rows_with_measures()
        rows["Readings"][0].update(value=101, on=iso(5))
        _, problems = checked(rows, tmp_path)
        assert problems == [
            f"Readings, row 1, on: a reading of {M1} cannot be dated {iso(5)}, a future day",
            f"Readings, row 1, value: reading of {M1}: 101 is more than 100, and a percentage is between 0 and 100",
        ]

    def test_readings_of_a_refused_measure_are_not_refused_again(self, tmp_path):
        """A measure refused for its unit is said once; its readings wait until it is put right."""
        rows = rows_with_measures()
        rows["Measures"][0]["unit"] = "kg"
        _, problems = checked(rows, tmp_path)
        assert problems == ["Measures, row 1, unit: 'kg' is not a unit: use percent (or %), count, days or rate"]

    def test_a_missing_required_column_is_named(self, tmp_path):
        rows = rows_with_measures()
        for row in rows["Readings"]:
            del row["value"]
        _, problems = checked(rows, tmp_path)
        assert "Readings, row 1, value: this required column is missing" in problems

    def test_more_measures_than_a_recommendation_holds_are_refused_at_the_row_past_the_limit(self, tmp_path):
        rows = rows_with_measures()
        rows["Measures"] += [{"ref": "IMP-4", "measure_id": f"X{n}", "name": f"Measure {n}", "unit": "count",
                              "direction": "up", "reporter": pf.NURSE} for n in range(21)]  # fmt: skip
        _, problems = checked(rows, tmp_path)
        assert problems == ["Measures, row 24, measure_id: IMP-4 has more than 20 measures"]

    def test_every_problem_is_reported_at_once_in_sheet_and_row_order(self, tmp_path):
        rows = rows_with_measures()
        rows["Readings"][2]["on"] = iso(2)
        rows["Measures"][2]["reporter"] = STRANGER
        rows["Measures"][0]["direction"] = "Sideways"
        rows["Plans"][0]["audit_measures"] = "M7"
        _, problems = checked(rows, tmp_path)
        assert problems == [
            "Plans, row 1, audit_measures: no measure 'M7' of IMP-3 in Measures",
            "Measures, row 1, direction: 'Sideways' is not a direction: use up or down",
            f"Measures, row 3, reporter: the measure reporter {STRANGER} is not in People: name a registered person",
        ]  # W1's reading waits for its measure

    def test_a_bad_reading_refuses_the_whole_file_and_starts_nothing(self, tmp_path):
        """One bad reading in an otherwise good file: the command lists it, exits 2 and imports nothing."""
        rows = pf.plan(date.today(), measures=True)
        rows["Readings"][1]["on"] = (date.today() + timedelta(days=1)).isoformat()
        path = pf.write_yaml(rows, tmp_path / "plan.yaml")
        env = {**os.environ, "ASSURE_STATE_DIR": str(tmp_path / "state"),
               "ASSURE_DATABASE_URL": f"sqlite:///{tmp_path / 'assure.db'}",
               "ASSURE_TEMPORAL_ADDRESS": "127.0.0.1:1"}  # fmt: skip
        # Temporal is unreachable on purpose: a file with problems never gets as far as connecting.
        result = subprocess.run([ASSURE, "import", str(path)], env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.splitlines()
        assert lines[0] == "plan.yaml: 1 problem(s); nothing was imported"
        assert lines[1].startswith("  Readings, row 2, on: a reading of M1 (Audited cases where the protocol was used)")


class TestTheSignOffGateWeighsTheImportedMeasures:
    def test_a_credible_plan_names_a_measure_with_a_baseline_and_a_target(self, tmp_path):
        plan, _ = checked(pf.plan(DAY, cascade=True), tmp_path)
        start = start_of(plan, "IMP-3")
        gaps = sign_off_gaps(start.imported.dissemination, start.imported.audit, start.parties.agency_leads,
                             start.measures)  # fmt: skip
        assert gaps == []

    @pytest.mark.parametrize(
        "edit",
        [
            lambda r: r["Plans"][0].update(audit_measures=""),
            lambda r: r["Plans"][0].update(audit_measures="M2"),  # not counted yet: no baseline or target
            lambda r: r.update(Measures=[], Readings=[], Plans=[{**r["Plans"][0], "audit_measures": ""}]),
        ],
    )
    def test_a_sign_off_without_such_a_measure_is_refused_naming_the_gap(self, tmp_path, edit):
        rows = pf.plan(DAY, cascade=True)
        rows["Plans"][0]["signed_off_on"] = iso(-3)
        edit(rows)
        _, problems = checked(rows, tmp_path)
        assert len(problems) == 1, problems
        assert problems[0].startswith(
            "Plans, row 1, signed_off_on: the plans are not credible, so the Assurance Board cannot have signed "
            "them off: audit plan: name at least one impact measure with a baseline and a target"
        )

    def test_a_plan_to_be_signed_off_may_lack_the_measure(self, tmp_path):
        """As with other gaps, the file is accepted and the workflow tells the board what is missing."""
        rows = pf.plan(DAY, cascade=True)
        rows["Plans"][0]["audit_measures"] = "M2"
        plan, problems = checked(rows, tmp_path)
        assert problems == []
        start = start_of(plan, "IMP-3")
        gaps = sign_off_gaps(start.imported.dissemination, start.imported.audit, start.parties.agency_leads,
                             start.measures)  # fmt: skip
        assert gaps == ["audit plan: name at least one impact measure with a baseline and a target that the audit "
                        "will weigh"]  # fmt: skip

    def test_a_refused_measure_is_not_reported_again_as_a_gap_in_a_signed_off_plan(self, tmp_path):
        rows = pf.plan(DAY, cascade=True)
        rows["Plans"][0]["signed_off_on"] = iso(-3)
        rows["Measures"][0]["baseline"] = "sixty"
        _, problems = checked(rows, tmp_path)
        assert problems == ["Measures, row 1, baseline: 'sixty' is not a number, like 72 or 72.5"]


# --- re-imports: what differs from the running workflow ----------------------------------


class TestReImports:
    def test_new_measures_and_new_or_corrected_readings_are_changes_a_changed_figure_is_for_a_person(self, tmp_path):
        """differences() offers add_measures and record_reading (as the board's sponsor); a changed target is reported."""
        from models.lifecycle import Lifecycle
        from plans.apply import differences

        plan, _ = checked(rows_with_measures(), tmp_path)
        item = next(r for r in plan.recommendations if r.start.recommendation.ref == "IMP-3")
        now = datetime(2026, 3, 2, 9, tzinfo=UTC)
        status = Lifecycle.begin(item.start, workflow_id="recommendation-IMP-3", now=now).status(now)
        assert differences(item, status) == []
        rows = rows_with_measures()
        rows["Measures"][0]["target"] = 95
        rows["Measures"].append({"ref": "IMP-3", "measure_id": "M3", "name": "Plans reviewed on time",
                                 "unit": "count", "direction": "up", "reporter": pf.NURSE})  # fmt: skip
        rows["Readings"][1]["value"] = 75
        rows["Readings"].append({"ref": "IMP-3", "measure_id": "M1", "value": 74, "on": iso(-2)})
        changed, problems = checked(rows, tmp_path)
        assert problems == []
        item = next(r for r in changed.recommendations if r.start.recommendation.ref == "IMP-3")
        changes = differences(item, status)
        assert [(c.describe, c.decision) for c in changes] == [
            ("measure M1: target differs from the running recommendation (change it by hand)", None),
            ("new measure(s) M3", "add_measures"),
            (f"measure M1: reading on {iso(-10)} 72 -> 75", "record_reading"),
            (f"measure M1: new reading 74 on {iso(-2)}", "record_reading"),
        ]
        assert changes[3].payload == {"by": pf.SPONSOR, "measure_id": "M1", "value": 74, "on": iso(-2), "note": ""}


# --- through the workflow -------------------------------------------------------------------


@pytest.fixture
async def imported(env, settings, worker):
    refs: list[str] = []

    async def run(path: Path, **options):
        report = await run_import(env, settings, path, on=await today(env), **options)
        refs.extend(report.started)
        return report

    yield run
    await close_all(env, refs)
    await drain_digests(env, settings.database_url)


async def test_imported_measures_and_readings_are_in_the_status_and_the_reporters_told(
    env, settings, imported, tmp_path
):
    """The workflow takes the measures and readings up: tracks, readings oldest first, the reporter
    standing for a blank ``by``; each reporter is told of the measures they report; the signed-off
    plan weighs M1."""
    day = await today(env)
    tag = "MSR"
    rows = pf.plan(day, tag, cascade=True)
    rows["Plans"][0]["signed_off_on"] = (day - timedelta(days=3)).isoformat()
    report = await imported(pf.write_yaml(rows, tmp_path / "plan.yaml"))
    assert len(report.started) == 5
    three = await recommendation_status(env.client, f"IMP{tag}-3")
    assert three.stage is Stage.cascade
    by_id = {m.measure_id: m for m in three.measures}
    assert by_id["M1"].on_track is MeasureTrack.on_track and by_id["M2"].on_track is MeasureTrack.no_data
    assert [(r.value, r.by) for r in by_id["M1"].readings] == [(66, pf.OFFICER), (72, pf.MEMBER)]
    assert by_id["M1"].reading_due_on > day
    one = await recommendation_status(env.client, f"IMP{tag}-1")
    assert [(m.measure_id, m.on_track) for m in one.measures] == [("W1", MeasureTrack.off_track)]

    def told() -> list[tuple[str, str]]:
        return sorted((ref, row.recipients[0]) for ref in (f"IMP{tag}-1", f"IMP{tag}-3")
                      for row in sent(settings.database_url, ref) if row.kind == "measure_assigned")  # fmt: skip

    await eventually(lambda: len(told()) == 3)
    assert told() == sorted([(f"IMP{tag}-1", pf.NURSE), (f"IMP{tag}-3", pf.MEMBER), (f"IMP{tag}-3", pf.OFFICER)])


async def test_a_re_import_with_apply_changes_adds_the_new_measure_and_readings(env, settings, imported, tmp_path):
    day = await today(env)
    tag = "MSC"
    rows = pf.plan(day, tag, measures=True)
    await imported(pf.write_yaml(rows, tmp_path / "plan.yaml"))
    edited = copy.deepcopy(rows)
    edited["Measures"].append({"ref": f"IMP{tag}-1", "measure_id": "W2", "name": "Strategy discussions held",
                               "unit": "count", "direction": "up", "reporter": pf.NURSE})  # fmt: skip
    edited["Readings"].append(
        {"ref": f"IMP{tag}-1", "measure_id": "W1", "value": 9, "on": (day - timedelta(days=1)).isoformat()}
    )
    edited["Readings"].append({"ref": f"IMP{tag}-1", "measure_id": "W2", "value": 14, "on": day.isoformat()})
    path = pf.write_yaml(edited, tmp_path / "changed.yaml")
    applied = await imported(path, apply_changes=True)
    assert applied.applied[f"IMP{tag}-1"] == [
        "new measure(s) W2",
        f"measure W1: new reading 9 on {day - timedelta(days=1)}",
        f"measure W2: new reading 14 on {day}",
    ]
    one = await recommendation_status(env.client, f"IMP{tag}-1")
    assert [(m.measure_id, [r.value for r in m.readings]) for m in one.measures] == [("W1", [11, 9]), ("W2", [14])]
    assert one.measures[0].on_track is MeasureTrack.on_track  # 9 days is below W1's line now
    assert (await imported(path)).changes.get(f"IMP{tag}-1") is None  # now in step


# --- the example partnership ----------------------------------------------------------------

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mk-together-2022-23.yaml"
ANCHOR = date(2023, 4, 1)
ON = date(2026, 11, 25)  # any day: the example is rebased so that 1 April 2023 falls on it


@pytest.fixture(scope="module")
def example() -> dict[str, RecommendationInput]:
    sheets, problems = read_plan_file(EXAMPLE)
    assert problems == []
    plan, problems = check_plan(sheets, today=ON, shift=ON - ANCHOR)
    assert [str(p) for p in problems] == []
    return {r.start.recommendation.ref: r.start for r in plan.recommendations}


class TestTheExampleMeasures:
    def test_the_reports_measures_stand_on_and_off_track_and_one_has_no_reading(self, example):
        """The measures the report states, with readings leaving them as the report describes them."""
        found = {(ref, m): track for ref, start in example.items() for m, track in tracks(start).items()}
        assert found[("MKT-2023-11", "force-rate")] is MeasureTrack.on_track  # a 40% fall in the rate of use of force
        assert found[("MKT-2023-09", "self-harm")] is MeasureTrack.off_track  # to fall 15% by December 2023
        assert found[("MKT-2023-05", "isp-in-15-days")] is MeasureTrack.off_track  # outside the 15-day target
        assert found[("MKT-2023-32", "voice-of-child")] is MeasureTrack.on_track  # good progress in the audit
        assert found[("MKT-2023-02", "adhd-waiting")] is MeasureTrack.on_track  # 14% fewer children waiting
        assert found[("MKT-2023-30", "guidance-followed")] is MeasureTrack.no_data
        counts = {track: list(found.values()).count(track) for track in MeasureTrack}
        assert counts[MeasureTrack.on_track] >= 3 and counts[MeasureTrack.off_track] >= 3
        assert not [r for r in example["MKT-2023-30"].readings if r.measure_id == "guidance-followed"]

    def test_every_signed_off_plan_weighs_a_measure_with_a_baseline_and_a_target(self, example):
        signed = [start for start in example.values() if start.imported and start.imported.signed_off_on]
        assert len(signed) == 5
        for start in signed:
            weighed = {m.casefold() for m in start.imported.audit.measures}
            assert any(m.measure_id.casefold() in weighed and m.baseline is not None and m.target is not None
                       for m in start.measures), start.recommendation.ref  # fmt: skip

    def test_the_readings_are_several_dated_within_the_year_and_reporters_are_registered(self, example):
        readings = [r for start in example.values() for r in start.readings]
        assert len(readings) >= 20 and all(r.on <= ON for r in readings)
        sheets, _ = read_plan_file(EXAMPLE)
        people = {str(row["email"]) for _, row in sheets["People"].rows}
        reporters = {m.reporter for start in example.values() for m in start.measures}
        assert reporters <= people and {r.by for r in readings if r.by} <= people
        several = [start for start in example.values() if len(start.readings) >= 2]
        assert len(several) >= 5
