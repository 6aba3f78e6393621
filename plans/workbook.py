"""Write plan workbooks: the blank template (headers, drop-down lists, one worked example row per
sheet) and a workbook made from a YAML plan (how ``examples/*.xlsx`` are made from their YAML)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation

from models.payloads import ActionStatus, Direction, MeasureUnit
from models.vocabulary import priority_names, source_kind_names
from plans.sheets import SHEETS

EXAMPLE_ROWS: dict[str, dict[str, Any]] = {
    "Agencies": {"name": "Thames Valley Police", "short_name": "TVP",
                 "safeguarding_lead_email": "safeguarding.lead@police.example.org"},
    "People": {"email": "named.nurse@icb.example.org", "name": "Sam Example", "agency": "Thames Valley Police",
               "roles": "owner,assurance_member"},
    "Boards": {"name": "Adults Board", "sponsor_agency": "Thames Valley Police",
               "chair_email": "named.nurse@icb.example.org", "sponsor_email": "named.nurse@icb.example.org",
               "acknowledge_within": "P5D", "remind_before_due": "P7D", "agency_lead_after": "P7D",
               "board_after": "P14D", "assurance_after": "P42D", "progress_every": "P1M", "working_days": "no"},
    # The milestones reached so far (the rest left blank until they are); themes separated by ';'.
    "Reviews": {"review_ref": "SAR-ADULT-A", "kind": "Safeguarding Adult Review",
                "title": "Safeguarding Adult Review: Adult A", "board": "Adults Board", "notified_on": "2022-06-01",
                "decided_on": "2022-06-29", "commissioned_on": "2022-07-20", "concluded_on": "2023-03-14",
                "published_on": "", "themes": "mental health; self-neglect; professionals' meetings"},
    # source_kind, source_title and source_date left blank: taken from the review (its kind, its
    # title and the day of its latest milestone). A plan without review_ref fills them in instead.
    # Its own themes, beside the review's: a priority or a theme a review names.
    "Recommendations": {"ref": "SAR-2023-01", "title": "Professionals' meetings are held whenever concerns escalate",
                        "board": "Adults Board", "review_ref": "SAR-ADULT-A", "source_kind": "", "source_title": "",
                        "source_date": "", "priority": "High", "themes": "professionals' meetings"},
    "Actions": {"recommendation_ref": "SAR-2023-01", "action_id": "A1",
                "description": "Brief every adult social care team on the escalation protocol",
                "agency": "Thames Valley Police", "owner_email": "named.nurse@icb.example.org",
                "due_date": "2023-06-30", "success_measure": "Every team briefed, shown by the attendance register",
                "status": "complete", "completed_on": "2023-03-20",
                "evidence": "Briefing register signed by all 12 teams"},
    "Plans": {"ref": "SAR-2023-01", "audiences": "GPs; adult social care teams", "channels": "7-minute briefing",
              "socialisation": "Discussed in team meetings for three months", "owner": "named.nurse@icb.example.org",
              "starts": "2023-07-03", "ends": "2023-09-29", "method": "Case file audit of 20 cases",
              "auditor": "named.nurse@icb.example.org", "audit_on": "2024-01-15",
              "success_measures": "Protocol used in 90% of cases", "audit_measures": "M1", "cascade_by": "2023-10-31",
              "reach_threshold": 80, "signed_off_on": ""},
    # reached, channels, done_on and note stay blank until the agency confirms (or, for plans the
    # Assurance Board signed off before the import, hold the confirmation it has made since).
    "Cascade": {"ref": "SAR-2023-01", "agency": "Thames Valley Police", "lead_email": "named.nurse@icb.example.org",
                "staff_group": "Neighbourhood and safeguarding officers", "expected_reach": 120, "reached": "",
                "channels": "", "done_on": "", "note": ""},
    # baseline and target each with its date, or left blank until counted (the audit plan's gate
    # asks for one measure with both); every: how often a reading is owed (ISO-8601, default P3M).
    "Measures": {"ref": "SAR-2023-01", "measure_id": "M1",
                 "name": "Escalated cases where a professionals' meeting was held", "unit": "percent",
                 "direction": "up", "baseline": 45, "baseline_on": "2023-01-31", "target": 90,
                 "target_by": "2024-01-31", "reporter": "named.nurse@icb.example.org", "every": "P3M"},
    # Readings already collected before the import; by left blank: the measure's reporter.
    "Readings": {"ref": "SAR-2023-01", "measure_id": "M1", "value": 50, "on": "2023-03-31", "by": "",
                 "note": "Dip sample of 12 escalated cases"},
    # A cycle every agency answers (agencies: all, blank, or names separated by ';'), its cadence in
    # words ("yearly on 1 April", "quarterly", "half-yearly from 1 October", "monthly on day 15")
    # and how long each period's returns may take (ISO-8601); its standards below, one row each.
    "Cycles": {"cycle_id": "S11", "name": "Section 11 audit", "board": "Adults Board",
               "cadence": "yearly on 1 April", "due_within": "P3M", "agencies": "all"},
    "Standards": {"cycle_id": "S11", "standard_id": "1",
                  "text": "Senior managers show a clear commitment to safeguarding",
                  "guidance": "Board or executive minutes; the safeguarding policy and who signed it"},
}  # fmt: skip

# Drop-down lists for the columns with a fixed vocabulary.
CHOICES: dict[tuple[str, str], list[str]] = {
    # Full names, as people write them (the importer reads these, the values and abbreviations).
    ("Reviews", "kind"): source_kind_names(),
    ("Recommendations", "source_kind"): source_kind_names(),
    ("Recommendations", "priority"): priority_names(),
    ("Actions", "status"): [s.value for s in ActionStatus],
    ("Boards", "working_days"): ["yes", "no"],
    ("Measures", "unit"): [unit.value for unit in MeasureUnit],
    ("Measures", "direction"): [direction.value for direction in Direction],
}
HEADER_FILL = PatternFill("solid", fgColor="DDDDDD")


def write_workbook(path: Path, rows: dict[str, list[dict[str, Any]]]) -> None:
    """A workbook with every sheet of the format, its header row and ``rows`` under it."""
    workbook = Workbook()
    workbook.remove(workbook.worksheets[0])  # the empty sheet a new workbook starts with
    for name, (required, optional) in SHEETS.items():
        sheet = workbook.create_sheet(name)
        columns = [*required, *optional]
        sheet.append(columns)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
            cell.fill = HEADER_FILL
        for row in rows.get(name, []):
            sheet.append([_cell(row.get(column)) for column in columns])
        for index, column in enumerate(columns, start=1):
            letter = sheet.cell(row=1, column=index).column_letter
            sheet.column_dimensions[letter].width = max(14, min(50, len(column) + 4))
            choices = CHOICES.get((name, column))
            if choices:
                check = DataValidation(type="list", formula1=f'"{",".join(choices)}"', allow_blank=True)
                check.error = f"Choose one of: {', '.join(choices)}"
                check.showErrorMessage = True
                sheet.add_data_validation(check)
                check.add(f"{letter}2:{letter}5000")
        sheet.freeze_panes = "A2"
    workbook.save(path)


def _cell(value: Any) -> Any:
    # Text that a spreadsheet would read as a formula stays text (the importer refuses formulas).
    if isinstance(value, str) and value.startswith("="):
        return "'" + value
    return value


def write_template(path: Path) -> None:
    """The blank plan workbook: headers, drop-down lists and one worked example row per sheet."""
    write_workbook(path, {name: [row] for name, row in EXAMPLE_ROWS.items()})


def write_from_yaml(source: Path, path: Path) -> None:
    """The same plan as a workbook, from its YAML (dates stay ISO text, as the YAML has them),
    read as the importer reads it (a column named ``on`` stays ``on``)."""
    from plans.limits import yaml_document

    document = yaml_document(source.read_text(encoding="utf-8"))
    rows = {name: [{k: ("" if v is None else v) for k, v in row.items()} for row in items]
            for name, items in document.items()}  # fmt: skip
    write_workbook(path, rows)
