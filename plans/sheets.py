"""Read an action plan file (.xlsx, .csv or .yaml) into named sheets of numbered rows.

Nothing here judges the content: it only refuses files that are not what their name says, too
large, macro-enabled, or holding formulas, and hands every cell on as it was written. Every
problem names the sheet, the row (as the spreadsheet numbers it) and the column.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

from models.plain_text import text_problem
from plans import limits

# A plan of several thousand recommendations is well under this; a bigger file is a mistake.
MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_ROWS = 50_000

# Every sheet of the format: its required and optional columns (README, "Importing action plans").
POLICY_COLUMNS = ("acknowledge_within", "remind_before_due", "agency_lead_after", "board_after", "assurance_after",
                  "progress_every", "working_days")  # fmt: skip
SHEETS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "Agencies": (("name",), ("short_name", "safeguarding_lead_email")),
    "People": (("email", "roles"), ("name", "agency")),
    "Boards": (("name", "sponsor_email"), ("sponsor_agency", "chair_email", *POLICY_COLUMNS)),
    # The reviews, audits and inspections recommendations come from, with their milestones so far
    # and their themes (separated by ';'); a plan without the sheet makes one per distinct source.
    "Reviews": (
        ("review_ref", "kind", "title", "board"),
        ("notified_on", "decided_on", "commissioned_on", "concluded_on", "published_on", "themes"),
    ),
    # A recommendation names its review (review_ref) or its source (the three source_ columns,
    # each required without a review_ref; with one, each left blank is taken from the review),
    # and its own themes (separated by ';') from the partnership's vocabulary.
    "Recommendations": (
        ("ref", "title", "board"),
        ("review_ref", "source_kind", "source_title", "source_date", "priority", "themes"),
    ),
    "Actions": (
        ("recommendation_ref", "action_id", "description", "agency", "owner_email", "due_date", "success_measure"),
        ("status", "completed_on", "evidence"),
    ),
    "Plans": (
        ("ref",),
        (
            "audiences",
            "channels",
            "socialisation",
            "owner",
            "starts",
            "ends",
            "method",
            "auditor",
            "audit_on",
            "success_measures",
            "audit_measures",
            "cascade_by",
            "reach_threshold",
            "signed_off_on",
        ),
    ),  # fmt: skip
    # One row per agency whose staff the learning must reach; the last four columns only for a
    # confirmation the agency made before the import (its recommendation signed off already).
    "Cascade": (
        ("ref", "agency"),
        ("lead_email", "staff_group", "expected_reach", "reached", "channels", "done_on", "note"),
    ),
    # A recommendation's impact measures, one row each, and the readings already collected for
    # them (the history before the import; Assure asks the reporter for the next ones).
    "Measures": (
        ("ref", "measure_id", "name", "unit", "direction", "reporter"),
        ("baseline", "baseline_on", "target", "target_by", "every"),
    ),
    "Readings": (("ref", "measure_id", "value", "on"), ("by", "note")),
    # Recurring assurance (models.cycles): a cycle, who answers it (``all``, or agencies separated
    # by ';'), on what calendar and how long they have; its standards one row each, in the order asked.
    "Cycles": (("cycle_id", "name", "board", "cadence", "due_within"), ("agencies",)),
    "Standards": (("cycle_id", "standard_id", "text"), ("guidance",)),
}
REGISTRY_SHEETS = ("Agencies", "People", "Boards")
# The columns a Recommendations sheet without review_ref must have: a plan written before reviews
# were records names each recommendation's source.
SOURCE_COLUMNS = ("source_kind", "source_title", "source_date")
# A CSV is one row per action, the recommendation's columns repeated on each.
CSV_SHEET = "CSV"
CSV_RECOMMENDATION_COLUMNS = SHEETS["Recommendations"][0] + SHEETS["Recommendations"][1]
CSV_ACTION_COLUMNS = tuple(c for c in SHEETS["Actions"][0] + SHEETS["Actions"][1] if c != "recommendation_ref")
# Cells a spreadsheet program would run as a formula if the file were opened in it: these first
# characters, also after leading spaces or quotes (` =HYPERLINK(...)`, `"=1+1`), which a
# spreadsheet skips. A lone "-" is a placeholder, not a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMULA_SKIPPED = "'\""

FORMULA_REASON = "formulas are not accepted: type the value"

# A cell's value as a reader hands it on (a spreadsheet's time or duration cell gives a time or a timedelta).
Cell = str | int | float | bool | date | datetime | time | timedelta | None


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the file: where (sheet, row, column; any may be empty) and why."""

    sheet: str
    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        where = [part for part in (self.sheet, f"row {self.row}" if self.row else "", self.column) if part]
        return f"{', '.join(where)}: {self.reason}" if where else self.reason

    def as_dict(self) -> dict[str, Any]:
        return {"sheet": self.sheet, "row": self.row or None, "column": self.column or None, "reason": self.reason}


def cell_text(value: Cell) -> str:
    """A cell as the text it shows, trimmed: a whole number a spreadsheet holds as 3.0 is ``3``."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


@dataclass
class Sheet:
    name: str
    columns: list[str] = field(default_factory=list)
    rows: list[tuple[int, dict[str, Cell]]] = field(default_factory=list)


# Told the name of each sheet as its reading starts, so a reader stopped at a limit can say where.
OnSheet = Callable[[str], None]


def read_plan_file(path: Path, *, on_sheet: OnSheet | None = None) -> tuple[dict[str, Sheet], list[Problem]]:
    """The file's sheets, or the problems that stop it being read at all. This reads in the calling
    process with no time or memory limit: ``plans.isolated.read_plan_file`` is the same read in
    a child process within limits, which the CLI and the API use."""
    on_sheet = on_sheet or (lambda _name: None)
    name = path.name
    suffix = path.suffix.lower()
    if not path.is_file():
        return {}, [Problem(name, 0, "", "no such file")]
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        limit = MAX_FILE_BYTES // (1024 * 1024)
        return {}, [Problem(name, 0, "", f"the file is {size / 1024 / 1024:.1f} MB; the limit is {limit} MB")]
    if suffix in {".xlsm", ".xltm", ".xls", ".xlsb"}:
        return {}, [Problem(name, 0, "", f"{suffix} files are not accepted (macros or an old format): save as .xlsx")]
    data = path.read_bytes()
    if suffix == ".xlsx":
        return _read_xlsx(name, data, on_sheet)
    if suffix == ".csv":
        on_sheet(CSV_SHEET)
        return _read_text(name, data, _read_csv)
    if suffix in {".yaml", ".yml"}:
        on_sheet(name)
        return _read_text(name, data, _read_yaml)
    return {}, [Problem(name, 0, "", "use a .xlsx, .csv or .yaml file")]


def _read_text(name: str, data: bytes, reader) -> tuple[dict[str, Sheet], list[Problem]]:
    if b"\x00" in data[:8192] or data.startswith(b"PK\x03\x04"):
        return {}, [Problem(name, 0, "", "this is not a text file, whatever its name says")]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return {}, [Problem(name, 0, "", f"this is not UTF-8 text (byte {exc.start}); save it as UTF-8")]
    return reader(name, text)


def _read_xlsx(name: str, data: bytes, on_sheet: OnSheet) -> tuple[dict[str, Sheet], list[Problem]]:
    if not data.startswith(b"PK\x03\x04"):
        return {}, [Problem(name, 0, "", "this is not an Excel workbook (.xlsx), whatever its name says")]
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            if any(n.lower().endswith("vbaproject.bin") for n in names):
                return {}, [Problem(name, 0, "", "the workbook contains macros; remove them and save as .xlsx")]
            oversized = _oversized(name, archive, data)
    except (zipfile.BadZipFile, EOFError):
        return {}, [Problem(name, 0, "", "this Excel workbook is damaged")]
    if oversized:
        return {}, oversized
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception:  # openpyxl raises many kinds for a damaged file
        return {}, [Problem(name, 0, "", "this Excel workbook could not be read")]
    sheets: dict[str, Sheet] = {}
    problems: list[Problem] = []
    try:
        for worksheet in workbook.worksheets:
            if worksheet.title not in SHEETS:
                continue
            sheet = Sheet(worksheet.title)
            on_sheet(sheet.name)
            # Only the header's columns and one row past the limit are read, whatever size the
            # sheet declares: openpyxl would otherwise fill every declared cell of every row.
            header = next(worksheet.iter_rows(max_row=1, max_col=limits.MAX_COLUMNS), ())
            sheet.columns = [_header(c.value) for c in header]
            width = max((i for i, column in enumerate(sheet.columns, start=1) if column), default=0)
            sheet.columns = sheet.columns[:width]
            rows = worksheet.iter_rows(min_row=2, max_row=MAX_ROWS + 1, max_col=width) if width else ()
            for number, cells in enumerate(rows, start=2):
                if number > MAX_ROWS:
                    problems.append(Problem(sheet.name, number, "", f"more than {MAX_ROWS} rows"))
                    break
                row: dict[str, Cell] = {}
                for column, cell in zip(sheet.columns, cells, strict=False):
                    if not column:
                        continue
                    if isinstance(cell.value, str) and len(cell.value) > limits.MAX_CELL_CHARS:
                        problems.append(Problem(sheet.name, number, column, _LONG_CELL))
                        continue
                    reason = FORMULA_REASON if cell.data_type == "f" else cell_problem(cell.value)
                    if reason:
                        problems.append(Problem(sheet.name, number, column, reason))
                        continue
                    # Not a formula (refused above), from a workbook read without rich text: openpyxl's
                    # value is then one of Cell's types, never its formula or rich-text objects.
                    value = cast(Cell, cell.value)
                    row[column] = _as_shown(value, cell.number_format) if isinstance(value, int | float) else value
                if any(v not in (None, "") for v in row.values()):
                    sheet.rows.append((number, row))
            sheets[sheet.name] = sheet
    finally:
        workbook.close()
    return sheets, problems


def _as_shown(value: Cell, number_format: str | None) -> Cell:
    """A number in a percentage format as the sheet shows it: a cell showing 60% holds 0.6, and
    the importer reads "60%" as people typed it (a threshold, a measure in percent)."""
    # A % in quotes or escaped (0"%", 0\%) is shown as written, the number unscaled.
    scaling = re.sub(r'"[^"]*"|\\.', "", number_format or "")
    if isinstance(value, bool) or not isinstance(value, int | float) or "%" not in scaling:
        return value
    shown = format((Decimal(str(value)) * 100).normalize(), "f")
    return f"{shown}%"


_LONG_CELL = f"the cell holds more than {limits.MAX_CELL_CHARS:,} characters, the most a spreadsheet cell can"


def _oversized(name: str, archive: zipfile.ZipFile, data: bytes) -> list[Problem]:
    """The workbook's parts and declared sheet sizes beyond a plan's, found before parsing."""
    titles = limits.sheet_parts(archive, data)
    problems = [Problem(where or name, 0, "", why) for where, why in limits.archive_problems(archive, titles)]
    if problems:
        return problems
    for part, title in titles.items():
        if title in SHEETS and part in archive.NameToInfo:
            why = limits.dimension_problem(archive, part, MAX_ROWS)
            if why:
                problems.append(Problem(title, 0, "", why))
    return problems


def is_formula(text: str) -> bool:
    """Whether a spreadsheet would run ``text`` as a formula (the rule for every format)."""
    if text.startswith(("\t", "\r")):
        return True
    start = text
    while start and (start[0].isspace() or start[0] in FORMULA_SKIPPED):
        start = start[1:]
    return start.startswith(FORMULA_STARTS) and start.strip() != "-"


def cell_problem(value: object) -> str | None:
    """What is wrong with one cell's value wherever it came from, or None: a formula, or a
    character the text rule (``models.plain_text``) refuses. Every cell of every sheet is checked,
    the ones the import ignores too, so nothing is stored that the store would refuse."""
    if not isinstance(value, str):
        return None
    if is_formula(value):
        return FORMULA_REASON
    return text_problem(value, multiline=True)


def _header(value: Any) -> str:
    return str(value).strip().lower().replace(" ", "_") if value is not None else ""


def _read_csv(name: str, text: str) -> tuple[dict[str, Sheet], list[Problem]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    sheet = Sheet(CSV_SHEET)
    problems: list[Problem] = []
    # The csv module's field limit is for the whole process: set to a cell's most for this read.
    field_limit = csv.field_size_limit(limits.MAX_CELL_CHARS)
    try:
        for number, cells in enumerate(reader, start=1):
            if number > MAX_ROWS:
                problems.append(Problem(CSV_SHEET, number, "", f"more than {MAX_ROWS} rows"))
                break
            if len(cells) > limits.MAX_COLUMNS:
                too_wide = f"{len(cells):,} columns; the limit is {limits.MAX_COLUMNS}"
                problems.append(Problem(CSV_SHEET, reader.line_num, "", too_wide))
                break
            if number == 1:
                sheet.columns = [_header(c) for c in cells]
                continue
            row: dict[str, Cell] = {}
            for column, value in zip(sheet.columns, cells, strict=False):
                reason = cell_problem(value) if column else None
                if reason:
                    problems.append(Problem(CSV_SHEET, number, column, reason))
                    continue
                if column:
                    row[column] = value
            if any(v for v in row.values()):
                sheet.rows.append((number, row))
    except csv.Error as exc:
        reason = _LONG_CELL if "field larger than field limit" in str(exc) else f"not a well-formed CSV file ({exc})"
        problems.append(Problem(CSV_SHEET, reader.line_num, "", reason))
    finally:
        csv.field_size_limit(field_limit)
    return {CSV_SHEET: sheet}, problems


def _read_yaml(name: str, text: str) -> tuple[dict[str, Sheet], list[Problem]]:
    import yaml

    try:
        document = limits.yaml_document(text)
    except limits.YamlTooLarge as exc:
        return {}, [Problem(name, exc.line, "", exc.reason)]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        return {}, [Problem(name, line, "", f"not well-formed YAML ({getattr(exc, 'problem', None) or exc})")]
    if not isinstance(document, dict):
        return {}, [Problem(name, 0, "", "the YAML file must be a mapping of sheet names to lists of rows")]
    sheets: dict[str, Sheet] = {}
    problems: list[Problem] = []
    for key, items in document.items():
        if key not in SHEETS:
            problems.append(Problem(str(key), 0, "", f"unknown sheet; use {', '.join(SHEETS)}"))
            continue
        if not isinstance(items, list):
            problems.append(Problem(key, 0, "", "must be a list of rows"))
            continue
        sheet = Sheet(key)
        for number, item in enumerate(items, start=1):
            if not isinstance(item, dict):
                problems.append(Problem(key, number, "", "each row must be a mapping of column to value"))
                continue
            row = {_header(column): value for column, value in item.items()}
            for column, value in row.items():
                if isinstance(value, list | dict):
                    problems.append(Problem(key, number, column, "must be a single value (separate lists with ';')"))
                elif reason := cell_problem(value):
                    problems.append(Problem(key, number, column, reason))
            sheet.columns = list(dict.fromkeys([*sheet.columns, *row]))
            sheet.rows.append((number, row))
        sheets[key] = sheet
    return sheets, problems
