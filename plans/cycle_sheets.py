"""The Cycles and Standards sheets: assurance cycles (``models.cycles``) given in a plan file.

A cycle is given whole: its row in Cycles and every one of its standards in Standards, in the
order they are asked, so an import replaces a stored cycle's definition and never half of it. A
Standards row for a cycle the file's Cycles sheet does not give is refused, even when Assure
holds that cycle. Each cycle is built by the ``Cycle`` model (the one rule for the file, the API
and any form); what only a file can get wrong is checked here: a board or agency outside the
registry, a standard for a cycle that is not given, a cycle or standard named twice. Every
problem names its sheet, row and column.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError

from models.cycles import MAX_STANDARDS, Cycle, Standard
from plans.sheets import SHEETS, Cell, Problem, Sheet, cell_text

ALL_AGENCIES: Literal["all"] = "all"
AGENCY_SEPARATOR = ";"
ID_RULE = "letters, digits, '.', '_' or '-', starting with a letter or a digit"
# Stands in for a cycle's standards when they are refused on their own rows (or missing, which
# is said once), so that the Cycles row's own cells are still judged by the model.
_STAND_IN = Standard(standard_id="stand-in", text="stand-in")


@dataclass
class _Standards:
    """The standards of one cycle as the Standards sheet gives them, by cycle id in any case."""

    cycle_id: str  # as its first row spells it
    first_row: int
    standards: list[Standard] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)  # standard id in any case -> its row
    clean: bool = True  # every row read without a problem


@dataclass
class _Collect:
    """The problems found so far."""

    problems: list[Problem] = field(default_factory=list)

    def add(self, sheet: str, row: int, column: str, reason: str) -> None:
        self.problems.append(Problem(sheet, row, column, reason))

    def required(self, sheet: str, number: int, row: dict[str, Cell]) -> bool:
        missing = [column for column in SHEETS[sheet][0] if not cell_text(row.get(column))]
        for column in missing:
            self.add(sheet, number, column, "is required")
        return not missing


def check_cycles(
    sheets: Mapping[str, Sheet], *, boards: Mapping[str, str], agencies: Mapping[str, str], stored: Sequence[Cycle]
) -> tuple[list[Cycle], list[Problem]]:
    """The cycles the file gives that differ from the stored ones (the new and the changed, in
    the Cycles sheet's order), and every problem. ``boards`` and ``agencies`` are the names a
    cycle may use, by name in any case, each spelt as the registry spells it."""
    found = _Collect()
    known = {cycle.cycle_id.casefold(): cycle for cycle in stored}
    by_cycle = _standards(sheets.get("Standards"), found)
    given = {cell_text(row.get("cycle_id")).casefold() for _, row in _rows(sheets, "Cycles")} - {""}
    for key, standards in by_cycle.items():
        if key not in given:
            found.add("Standards", standards.first_row, "cycle_id", _not_given(key, standards, known))
    cycles: list[Cycle] = []
    seen: dict[str, int] = {}
    for number, row in _rows(sheets, "Cycles"):
        if not found.required("Cycles", number, row):
            continue
        cycle_id = cell_text(row.get("cycle_id"))
        key = cycle_id.casefold()
        if key in seen:
            found.add("Cycles", number, "cycle_id", f"the cycle {cycle_id!r} is already on row {seen[key]}")
            continue
        seen[key] = number
        cycle = _cycle(found, number, row, by_cycle.get(key), boards, agencies, known)
        if cycle is not None:
            cycles.append(cycle)
    return [c for c in cycles if known.get(c.cycle_id.casefold()) != c], found.problems


def _not_given(key: str, standards: _Standards, known: Mapping[str, Cycle]) -> str:
    """Why a Standards row's cycle is refused: it is nowhere, or it is stored but not given whole."""
    stored = known.get(key)
    if stored is None:
        return f"no cycle {standards.cycle_id!r} in the Cycles sheet or in Assure"
    return (f"the cycle {stored.cycle_id} is in Assure but not in the Cycles sheet: a cycle is given whole, "
            "so give its Cycles row too, with all its standards")  # fmt: skip


def _standards(sheet: Sheet | None, found: _Collect) -> dict[str, _Standards]:
    """Each cycle's standards (by cycle id in any case), each row by the ``Standard`` model, in
    the sheet's order; a standard id once per cycle, at most ``MAX_STANDARDS`` a cycle."""
    by_cycle: dict[str, _Standards] = {}
    for number, row in sheet.rows if sheet else []:
        if not found.required("Standards", number, row):
            key = cell_text(row.get("cycle_id")).casefold()
            if key:
                by_cycle.setdefault(key, _Standards(cell_text(row.get("cycle_id")), number)).clean = False
            continue
        cycle_id, standard_id = cell_text(row.get("cycle_id")), cell_text(row.get("standard_id"))
        its = by_cycle.setdefault(cycle_id.casefold(), _Standards(cycle_id, number))
        earlier = its.rows.get(standard_id.casefold())
        if earlier is not None:
            found.add("Standards", number, "standard_id",
                      f"{standard_id!r} is already a standard of {cycle_id} on row {earlier}")  # fmt: skip
            its.clean = False
            continue
        its.rows[standard_id.casefold()] = number
        if len(its.rows) > MAX_STANDARDS:
            found.add("Standards", number, "standard_id", f"{cycle_id} has more than {MAX_STANDARDS} standards")
            its.clean = False
            continue
        data = {"standard_id": standard_id, "text": cell_text(row.get("text")),
                "guidance": cell_text(row.get("guidance"))}  # fmt: skip
        try:
            its.standards.append(Standard.model_validate(data))
        except ValidationError as exc:
            its.clean = False
            for error in exc.errors():
                found.add("Standards", number, *_problem(error, data, "standard"))
    return by_cycle


def _cycle(
    found: _Collect,
    number: int,
    row: dict[str, Cell],
    standards: _Standards | None,
    boards: Mapping[str, str],
    agencies: Mapping[str, str],
    known: Mapping[str, Cycle],
) -> Cycle | None:
    """One Cycles row and its standards as a ``Cycle``, or None with each problem where it is."""
    mark = len(found.problems)
    cycle_id, board = cell_text(row.get("cycle_id")), cell_text(row.get("board"))
    stored = known.get(cycle_id.casefold())
    if stored is not None and stored.cycle_id != cycle_id:
        # One row per cycle in the store, and its id is in the names of its Schedule and workflows.
        found.add("Cycles", number, "cycle_id", f"{cycle_id!r} is the cycle {stored.cycle_id} in Assure: spell it so")
    if board.casefold() not in boards:
        found.add("Cycles", number, "board", f"unknown board {board!r}")
    if standards is None:
        found.add("Cycles", number, "cycle_id",
                  f"the cycle {cycle_id} has no standards: give them in the Standards sheet, one row each")  # fmt: skip
    data: dict[str, Any] = {
        "cycle_id": cycle_id,
        "name": cell_text(row.get("name")),
        "board": boards.get(board.casefold(), board),
        "cadence": cell_text(row.get("cadence")),
        "agencies": _agencies(found, number, cell_text(row.get("agencies")), agencies),
        "due_within": cell_text(row.get("due_within")),
        # The standards' own problems are said on their rows: a stand-in lets the model judge the rest.
        "standards": standards.standards if standards and standards.clean else [_STAND_IN],
    }
    try:
        cycle = Cycle.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            found.add("Cycles", number, *_problem(error, data, "cycle"))
        return None
    clean = len(found.problems) == mark and standards is not None and standards.clean
    return cycle if clean else None


def _agencies(found: _Collect, number: int, text: str, registry: Mapping[str, str]) -> list[str] | Literal["all"]:
    """``all`` (or blank), or the agencies named, each spelt as the registry spells it; an unknown
    one is reported and left out (the row is refused then)."""
    if text.casefold() in {"", ALL_AGENCIES}:
        return ALL_AGENCIES
    names = [part.strip() for part in text.split(AGENCY_SEPARATOR) if part.strip()]
    if any(name.casefold() == ALL_AGENCIES for name in names):
        found.add("Cycles", number, "agencies", "write all alone, or name the agencies separated by ';'")
    chosen = []
    for name in names:
        if name.casefold() == ALL_AGENCIES:
            continue
        if name.casefold() not in registry:
            found.add("Cycles", number, "agencies", f"unknown agency {name!r}")
            continue
        chosen.append(registry[name.casefold()])
    return chosen


def _problem(error: Any, data: Mapping[str, Any], what: str) -> tuple[str, str]:
    """The column and the reason of one of the model's refusals (an id broken is said in words)."""
    reason = str(error["msg"]).removeprefix("Value error, ")
    column = str(error["loc"][0]) if error["loc"] else ""
    if column in {"cycle_id", "standard_id"} and error["type"] == "string_pattern_mismatch":
        most = 64 if column == "cycle_id" else 32
        reason = f"{str(data[column])[:40]!r} is not a {what} id: use up to {most} {ID_RULE}"
    return column, reason


def _rows(sheets: Mapping[str, Sheet], name: str) -> list[tuple[int, dict[str, Cell]]]:
    return sheets[name].rows if name in sheets else []
