"""Importing assurance cycles (issue 19): the Cycles and Standards sheets, each cycle built by the
``Cycle`` model and given whole, every problem located; the cycles reach the store with the
registry in one transaction, a re-import writes none, a file of cycles alone imports, and the
example holds the Assurance Board's three cycles."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from devtools import plan_files as pf
from models.cycles import Cycle, parse_cadence
from plans import apply
from plans.apply import check_plan_against_store, import_plan
from plans.sheets import SHEETS, read_plan_file
from plans.validate import check_plan
from store.cycles import stored_cycles
from store.db import session_scope
from store.read_model import registry
from store.reviews import stored_reviews
from tests.models.test_cycles import section_11

DAY = date(2026, 3, 2)
ASSURE = str(Path(sys.executable).parent / "assure")
Rows = dict[str, list[dict[str, Any]]]


def checked(rows: Rows, tmp_path: Path, *, writer=pf.write_yaml, stored=([], [], []), cycles=()):
    suffix = ".yaml" if writer is pf.write_yaml else ".xlsx"
    sheets, problems = read_plan_file(writer(rows, tmp_path / f"plan{suffix}"))
    assert [str(p) for p in problems] == []
    plan, problems = check_plan(sheets, stored=stored, cycles=cycles, today=DAY)
    return plan, [str(p) for p in problems]


def section_11_of_the_file(**changes: Any) -> Cycle:
    """``pf.cycle_rows``'s Section 11 audit as the model holds it."""
    fields = {
        "cycle_id": "S11",
        "name": "Section 11 audit",
        "board": "Adults Board",
        "cadence": "yearly on 1 April",
        "due_within": "P3M",
        "agencies": "all",
        "standards": [
            {"standard_id": "1", "text": "Senior managers are committed to safeguarding",
             "guidance": "Minutes of the board or executive that show it"},
            {"standard_id": "2", "text": "A named safeguarding lead"},
            {"standard_id": "3", "text": "Staff are trained to their role", "guidance": "Training records, by role"},
        ],
    }  # fmt: skip
    return Cycle.model_validate(fields | changes)


def registry_of(tmp_path: Path) -> tuple[list, list, list]:
    """The registry ``pf.plan`` gives, as the store would hold it after importing that file."""
    plan, _ = checked(pf.plan(DAY), tmp_path)
    return plan.agencies, plan.people, plan.boards


class TestTheSheets:
    @pytest.mark.parametrize("writer", [pf.write_yaml, pf.write_xlsx], ids=["yaml", "xlsx"])
    def test_each_cycle_is_read_whole_with_its_standards_in_order(self, tmp_path, writer):
        """A Cycles row and its Standards rows (interleaved with another cycle's) make one Cycle; blank agencies are all."""
        plan, problems = checked(pf.plan(DAY, cycles=True), tmp_path, writer=writer)
        assert problems == []
        assert [c.cycle_id for c in plan.cycles] == ["S11", "DATA"]
        assert plan.cycles[0] == section_11_of_the_file()
        data = plan.cycles[1]
        assert (data.cadence, data.due_within) == (parse_cadence("quarterly from 1 April"), "P1M")
        assert data.agencies == [pf.POLICE, pf.ICB]
        assert [s.standard_id for s in data.standards] == ["D1"]

    def test_names_are_matched_in_any_case_and_spelt_as_the_registry_spells_them(self, tmp_path):
        """A board and agencies written in another case, and ALL, are the registry's."""
        rows = pf.plan(DAY, cycles=True)
        rows["Cycles"][0].update(board="adults BOARD", agencies="ALL")
        rows["Cycles"][1]["agencies"] = "thames valley police;blmk integrated care board "
        rows["Standards"][2]["cycle_id"] = "data"
        plan, problems = checked(rows, tmp_path)
        assert problems == []
        assert (plan.cycles[0].board, plan.cycles[0].agencies) == ("Adults Board", "all")
        assert plan.cycles[1].agencies == [pf.POLICE, pf.ICB]
        assert [s.standard_id for s in plan.cycles[1].standards] == ["D1"]

    @pytest.mark.parametrize("writer", [pf.write_yaml, pf.write_xlsx], ids=["yaml", "xlsx"])
    def test_a_file_of_cycles_alone_is_a_plan(self, tmp_path, writer):
        """Cycles with the registry sheets they need and no recommendation import."""
        plan, problems = checked(pf.cycles_only(), tmp_path, writer=writer)
        assert problems == []
        assert (plan.recommendations, [c.cycle_id for c in plan.cycles]) == ([], ["S11", "DATA"])

    def test_cycles_alone_may_name_the_stores_registry(self, tmp_path):
        """A file of the two cycle sheets only names boards and agencies the store holds."""
        rows = {name: pf.cycles_only()[name] for name in ("Cycles", "Standards")}
        plan, problems = checked(rows, tmp_path, stored=registry_of(tmp_path))
        assert problems == []
        assert [c.cycle_id for c in plan.cycles] == ["S11", "DATA"]

    def test_a_file_without_recommendations_or_cycles_is_nothing_to_import(self, tmp_path):
        """The registry alone still imports nothing, and says so."""
        rows = {name: pf.plan(DAY)[name] for name in pf.REGISTRY}
        _, problems = checked(rows, tmp_path)
        assert problems == ["Recommendations: the file has no recommendations or cycles, so there is nothing to import"]

    def test_a_file_without_the_sheets_is_as_before(self, tmp_path):
        """A plan of recommendations alone has no cycles and no problem."""
        plan, problems = checked(pf.plan(DAY), tmp_path)
        assert (problems, plan.cycles) == ([], [])

    def test_the_template_has_both_sheets_with_a_worked_row(self, tmp_path):
        """The blank workbook's Cycles and Standards sheets have every column and a cycle the checks accept."""
        from openpyxl import load_workbook

        from plans.workbook import write_template

        path = tmp_path / "template.xlsx"
        write_template(path)
        workbook = load_workbook(path)
        for name in ("Cycles", "Standards"):
            assert [c.value for c in workbook[name][1]] == [*SHEETS[name][0], *SHEETS[name][1]]
            assert workbook[name].max_row == 2
        sheets, _ = read_plan_file(path)
        plan, problems = check_plan(sheets, today=date(2023, 4, 1))
        assert problems == []
        [cycle] = plan.cycles
        assert (cycle.cycle_id, cycle.board, cycle.agencies, cycle.cadence.words()) == (
            "S11",
            "Adults Board",
            "all",
            "yearly on 1 April",
        )
        assert [s.standard_id for s in cycle.standards] == ["1"]


class TestCyclesTheStoreHolds:
    def test_a_cycle_stored_as_the_file_gives_it_is_not_written_again(self, tmp_path):
        """The plan's cycles leave out one the store holds exactly so, and keep one whose standards changed."""
        first, _ = checked(pf.cycles_only(), tmp_path)
        plan, problems = checked(pf.cycles_only(), tmp_path, cycles=first.cycles)
        assert (problems, plan.cycles) == ([], [])
        rows = pf.cycles_only()
        rows["Standards"][1]["text"] = "A named safeguarding lead, known to staff"
        plan, problems = checked(rows, tmp_path, cycles=first.cycles)
        assert problems == []
        assert [c.cycle_id for c in plan.cycles] == ["S11"]

    def test_a_stored_cycle_given_again_is_replaced_whole(self, tmp_path):
        """A standard left out of the file's Standards is gone from the cycle to write."""
        rows = pf.cycles_only()
        rows["Standards"] = [s for s in rows["Standards"] if s["standard_id"] != "2"]
        plan, problems = checked(rows, tmp_path, cycles=[section_11_of_the_file()])
        assert problems == []
        assert [s.standard_id for s in plan.cycles[0].standards] == ["1", "3"]


def _cycle(index: int, **edits: Any) -> Callable[[Rows], None]:
    def edit(rows: Rows) -> None:
        rows["Cycles"][index].update(edits)

    return edit


def _standard(index: int, **edits: Any) -> Callable[[Rows], None]:
    def edit(rows: Rows) -> None:
        rows["Standards"][index].update(edits)

    return edit


def _without_standards_of(cycle_id: str) -> Callable[[Rows], None]:
    def edit(rows: Rows) -> None:
        rows["Standards"] = [s for s in rows["Standards"] if s["cycle_id"] != cycle_id]

    return edit


def _cycle_repeated(rows: Rows) -> None:
    rows["Cycles"].append({**rows["Cycles"][0], "cycle_id": "s11"})


CADENCE_WORDS = "write 'yearly on 1 April', 'half-yearly from 1 April', 'quarterly from 1 April' or 'monthly on day 1'"
ORPHAN = "Standards, row 3, cycle_id: no cycle 'S12' in the Cycles sheet or in Assure"


class TestEachProblemIsRefusedWhereItIs:
    @pytest.mark.parametrize(
        ("edit", "expected"),
        [
            pytest.param(_cycle(1, cadence="weekly"), [f"Cycles, row 2, cadence: 'weekly' is no cadence: {CADENCE_WORDS}"],
                         id="no cadence"),
            pytest.param(_cycle(0, cadence="yearly on 31 April"),
                         ["Cycles, row 1, cadence: 'yearly on 31 April': 31 April is not a day every year has"],
                         id="no such day"),
            pytest.param(_cycle(0, due_within="3 months"),
                         ["Cycles, row 1, due_within: '3 months' is not an ISO-8601 duration such as P7D, P2W or P1M"],
                         id="not a duration"),
            pytest.param(_cycle(0, board="Kids Board"), ["Cycles, row 1, board: unknown board 'Kids Board'"],
                         id="unknown board"),
            pytest.param(_cycle(1, agencies=f"{pf.POLICE}; Fire Service"),
                         ["Cycles, row 2, agencies: unknown agency 'Fire Service'"], id="unknown agency"),
            pytest.param(_cycle(1, agencies=f"{pf.POLICE}; thames valley POLICE"),
                         [f"Cycles, row 2, agencies: an agency is named more than once: {pf.POLICE}"],
                         id="agency repeated"),
            pytest.param(_cycle(1, agencies=f"all; {pf.POLICE}"),
                         ["Cycles, row 2, agencies: write all alone, or name the agencies separated by ';'"],
                         id="all beside names"),
            pytest.param(_cycle_repeated, ["Cycles, row 3, cycle_id: the cycle 's11' is already on row 1"],
                         id="cycle_id repeated"),
            pytest.param(_cycle(0, name=""), ["Cycles, row 1, name: is required"], id="name missing"),
            pytest.param(_cycle(0, cycle_id="S 11"),
                         ["Cycles, row 1, cycle_id: 'S 11' is not a cycle id: use up to 64 letters, digits, '.', '_' "
                          "or '-', starting with a letter or a digit",
                          "Cycles, row 1, cycle_id: the cycle S 11 has no standards: give them in the Standards sheet, "
                          "one row each",
                          "Standards, row 1, cycle_id: no cycle 'S11' in the Cycles sheet or in Assure"],
                         id="not a cycle id"),
            pytest.param(_without_standards_of("DATA"),
                         ["Cycles, row 2, cycle_id: the cycle DATA has no standards: give them in the Standards sheet, "
                          "one row each"], id="no standards"),
            pytest.param(_standard(3, standard_id="2"),
                         ["Standards, row 4, standard_id: '2' is already a standard of S11 on row 2"],
                         id="standard_id repeated"),
            pytest.param(_standard(3, standard_id="A1"), [], id="standard ids of other cycles are their own"),
            pytest.param(_standard(1, standard_id="2 b"),
                         ["Standards, row 2, standard_id: '2 b' is not a standard id: use up to 32 letters, digits, "
                          "'.', '_' or '-', starting with a letter or a digit"], id="not a standard id"),
            pytest.param(_standard(1, text=""), ["Standards, row 2, text: is required"], id="text missing"),
            pytest.param(_standard(2, cycle_id="S12"),
                         ["Cycles, row 2, cycle_id: the cycle DATA has no standards: give them in the Standards "
                          "sheet, one row each", ORPHAN], id="standard of no cycle"),
        ],
    )  # fmt: skip
    def test_each_problem_is_named_at_its_sheet_row_and_column(self, tmp_path, edit, expected):
        """Every bad cell is refused with its own message; a cycle whose standards are refused on their rows is not refused again."""
        rows = pf.cycles_only()  # S11's standards on rows 1, 2 and 4 of Standards, DATA's on row 3
        edit(rows)
        _, problems = checked(rows, tmp_path)
        assert problems == expected

    def test_a_standard_for_a_stored_cycle_needs_its_cycles_row(self, tmp_path):
        """Standards for a cycle Assure holds, without its Cycles row, are refused: a cycle is given whole."""
        rows = pf.cycles_only()
        rows["Standards"].append({"cycle_id": "s11-stored", "standard_id": "9", "text": "A new standard"})
        _, problems = checked(rows, tmp_path, cycles=[section_11(cycle_id="S11-STORED")])
        assert problems == [
            "Standards, row 5, cycle_id: the cycle S11-STORED is in Assure but not in the Cycles sheet: a cycle is "
            "given whole, so give its Cycles row too, with all its standards"
        ]

    def test_a_stored_cycle_is_spelt_as_the_store_spells_it(self, tmp_path):
        """A Cycles row giving a stored cycle's id in another case is refused: its id names its Schedule."""
        rows = pf.cycles_only()
        rows["Cycles"][0]["cycle_id"] = "s11"
        _, problems = checked(rows, tmp_path, cycles=[section_11()])
        assert problems == ["Cycles, row 1, cycle_id: 's11' is the cycle S11 in Assure: spell it so"]

    def test_a_board_or_agency_refused_in_its_own_sheet_is_not_unknown_too(self, tmp_path):
        """A board whose Boards row is refused is said there once, not again as unknown in Cycles."""
        rows = pf.cycles_only()
        rows["Boards"][0]["acknowledge_within"] = "soon"
        _, problems = checked(rows, tmp_path)
        assert [p.split(":")[0] for p in problems] == ["Boards, row 1, acknowledge_within"]

    def test_a_sheet_without_a_required_column_is_refused_at_its_header(self, tmp_path):
        """A Cycles sheet with no cadence column says so at its header."""
        rows = pf.cycles_only()
        for row in rows["Cycles"]:
            del row["cadence"]
        _, problems = checked(rows, tmp_path)
        assert "Cycles, row 1, cadence: this required column is missing" in problems

    def test_every_problem_is_reported_at_once(self, tmp_path):
        """Problems in both sheets and beside the recommendations' are listed together, in the sheets' order."""
        rows = pf.plan(DAY, cycles=True)
        rows["Recommendations"][0]["board"] = "Kids Board"
        rows["Cycles"][0]["cadence"] = "weekly"
        rows["Standards"][1]["standard_id"] = "1"
        _, problems = checked(rows, tmp_path)
        assert [p.split(":")[0] for p in problems] == [
            "Recommendations, row 1, board",
            "Cycles, row 1, cadence",
            "Standards, row 2, standard_id",
        ]


# --- into the store ---------------------------------------------------------------------------------


def cycles_in_store(url: str) -> list[Cycle]:
    with session_scope(url) as session:
        return stored_cycles(session=session)


def checked_against_store(url: str, rows: Rows, tmp_path: Path):
    sheets, problems = read_plan_file(pf.write_yaml(rows, tmp_path / "plan.yaml"))
    assert problems == []
    plan, problems = check_plan_against_store(sheets, database_url=url, today=DAY)
    assert [str(p) for p in problems] == []
    return plan


class TestTheStore:
    def test_the_cycles_are_written_with_the_registry_and_read_back(self, store_url, tmp_path):
        """Stored with the registry, read back whole by stored_cycles; the same file again writes none; a changed cycle is written alone."""
        plan = checked_against_store(store_url, pf.cycles_only(), tmp_path)
        assert apply._store_registry(store_url, plan) == ([], ["S11", "DATA"])
        assert cycles_in_store(store_url) == sorted(plan.cycles, key=lambda c: c.cycle_id)
        with session_scope(store_url) as session:
            assert [b.name for b in registry(session=session)[2]] == ["Adults Board"]

        again = checked_against_store(store_url, pf.cycles_only(), tmp_path)
        assert (again.cycles, apply._store_registry(store_url, again)) == ([], ([], []))

        rows = pf.cycles_only()
        rows["Cycles"][1]["cadence"] = "half-yearly from 1 October"
        changed = checked_against_store(store_url, rows, tmp_path)
        assert apply._store_registry(store_url, changed) == ([], ["DATA"])
        assert cycles_in_store(store_url)[0].cadence.words() == "half-yearly from 1 October"

    def test_nothing_is_half_applied_when_the_cycles_cannot_be_written(self, database_url, tmp_path, monkeypatch):
        """A failure writing the cycles leaves neither the registry nor the reviews stored: one transaction."""
        plan = checked_against_store(database_url, pf.plan(DAY, reviews=True, cycles=True), tmp_path)
        assert plan.reviews and plan.cycles

        def fail(**_: Any) -> list[str]:
            raise RuntimeError("the store went away")

        monkeypatch.setattr(apply, "write_cycles", fail)
        with pytest.raises(RuntimeError, match="the store went away"):
            apply._store_registry(database_url, plan)
        with session_scope(database_url) as session:
            assert (registry(session=session), stored_reviews(session=session)) == (([], [], []), [])
        assert cycles_in_store(database_url) == []


def test_a_file_with_a_bad_cycle_imports_nothing(tmp_path):
    """`assure import` of a file whose one cycle is refused exits 2 naming it, and writes neither the
    cycles, nor the reviews, nor the registry (Temporal is unreachable: a refused file never needs it)."""
    rows = pf.plan(DAY, reviews=True, cycles=True)
    rows["Cycles"][1]["due_within"] = "a month"
    path = pf.write_yaml(rows, tmp_path / "plan.yaml")
    url = f"sqlite:///{tmp_path / 'assure.db'}"
    env = {**os.environ, "ASSURE_STATE_DIR": str(tmp_path / "state"), "ASSURE_DATABASE_URL": url,
           "ASSURE_TEMPORAL_ADDRESS": "127.0.0.1:1"}  # fmt: skip
    result = subprocess.run([ASSURE, "import", str(path)], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "plan.yaml: 1 problem(s); nothing was imported",
        "  Cycles, row 2, due_within: 'a month' is not an ISO-8601 duration such as P7D, P2W or P1M",
    ]
    assert cycles_in_store(url) == []
    with session_scope(url) as session:
        assert (registry(session=session), stored_reviews(session=session)) == (([], [], []), [])


async def test_an_import_reports_the_cycles_it_wrote(env, settings, tmp_path):
    """The report's cycles_written names each cycle new or changed (and so in the API's JSON); a dry run
    names them and writes none; the same file again names none."""
    options = {"client": env.client, "database_url": settings.database_url, "task_queue": settings.task_queue}
    url = settings.database_url
    dry = await import_plan(checked_against_store(url, pf.cycles_only(), tmp_path), dry_run=True, **options)
    assert (dry.cycles_written, cycles_in_store(url)) == (["S11", "DATA"], [])

    report = await import_plan(checked_against_store(url, pf.cycles_only(), tmp_path), **options)
    assert (report.cycles_written, report.started) == (["S11", "DATA"], [])
    assert report.as_dict()["cycles_written"] == ["S11", "DATA"]
    assert [c.cycle_id for c in cycles_in_store(url)] == ["DATA", "S11"]

    again = await import_plan(checked_against_store(url, pf.cycles_only(), tmp_path), **options)
    assert again.cycles_written == []

    rows = copy.deepcopy(pf.cycles_only())
    rows["Standards"].append({"cycle_id": "S11", "standard_id": "4", "text": "Information is shared in time"})
    changed = await import_plan(checked_against_store(url, rows, tmp_path), **options)
    assert changed.cycles_written == ["S11"]
    assert [s.standard_id for s in cycles_in_store(url)[1].standards] == ["1", "2", "3", "4"]


# --- the example partnership ------------------------------------------------------------------------

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mk-together-2022-23"


@pytest.mark.parametrize("suffix", [".yaml", ".xlsx"])
def test_the_example_holds_the_assurance_boards_three_cycles(suffix):
    """The Section 11 audit and the data reports of every agency, and Oakhill's restraint review, each yearly on 1 April."""
    sheets, problems = read_plan_file(EXAMPLE.with_suffix(suffix))
    assert problems == []
    plan, problems = check_plan(sheets, today=date(2023, 4, 1))
    assert [str(p) for p in problems] == []
    cycles = {cycle.cycle_id: cycle for cycle in plan.cycles}
    assert sorted(cycles) == ["AGENCY-DATA", "OAKHILL-RESTRAINT", "S11"]
    assert {(c.board, c.cadence.words()) for c in cycles.values()} == {("Assurance Board", "yearly on 1 April")}
    assert (cycles["S11"].agencies, cycles["AGENCY-DATA"].agencies) == ("all", "all")
    assert "Oakhill Secure Training Centre" in cycles["OAKHILL-RESTRAINT"].agencies
    assert len(cycles["S11"].standards) >= 6
