"""Small action plans, written as YAML, CSV or a workbook: for the import tests and the benchmarks
(``bench/import_plan.py``, ``bench/file_bombs.py``), which must not import the tests."""

from __future__ import annotations

import copy
import csv
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

from plans.sheets import CSV_ACTION_COLUMNS, CSV_RECOMMENDATION_COLUMNS
from plans.workbook import write_workbook

SPONSOR = "sponsor@council.example.org"
CHAIR = "chair@council.example.org"
MEMBER = "member@icb.example.org"
AUDITOR = "auditor@council.example.org"
NURSE = "named.nurse@icb.example.org"
OFFICER = "di.lead@police.example.org"
DEPUTY = "deputy.nurse@icb.example.org"
ICB = "BLMK Integrated Care Board"
POLICE = "Thames Valley Police"
POLICE_REACH = 80
ICB_REACH = 120
SAR_TITLE = "Safeguarding Adult Review: Adult B"


def plan(
    today: date,
    tag: str = "",
    *,
    cascade: bool = False,
    measures: bool = False,
    reviews: bool = False,
    cycles: bool = False,
) -> dict[str, list[dict[str, Any]]]:
    """Five recommendations, one in each starting position an import can give, refs ``IMP<tag>-1`` to 5
    (a tag per test keeps workflow ids apart on the shared test server). With ``cascade``, IMP-3's
    plans name their cascade (police and ICB staff) and, with its measures, are credible; without,
    the cascade is a gap. With ``measures`` (or ``cascade``), IMP-1 and IMP-3 carry impact measures
    and readings already collected (``measure_rows``), and IMP-3's audit weighs its measure M1.
    Each names only its source (one review made per source), unless ``reviews``: a Reviews sheet
    then (``review_rows``), whose SAR IMP-1 to IMP-4 name (see ``name_reviews``). With ``cycles``,
    the Cycles and Standards sheets of ``cycle_rows``."""
    iso = lambda days: (today + timedelta(days=days)).isoformat()  # noqa: E731
    board = {"name": "Adults Board", "sponsor_agency": "Milton Keynes City Council", "chair_email": CHAIR,
             "sponsor_email": SPONSOR, "acknowledge_within": "P5D", "remind_before_due": "P7D",
             "agency_lead_after": "P7D", "board_after": "P14D", "assurance_after": "P42D", "progress_every": "P1M",
             "working_days": "no"}  # fmt: skip

    def rec(ref: str, title: str) -> dict[str, Any]:
        return {"ref": ref, "title": title, "source_kind": "sar", "source_title": f"SAR {ref}",
                "source_date": iso(-200), "board": "Adults Board", "priority": "high"}  # fmt: skip

    def act(ref: str, aid: str, owner: str, agency: str, due: int, **progress: Any) -> dict[str, Any]:
        return {"recommendation_ref": ref, "action_id": aid, "description": f"Do {aid} for {ref}", "agency": agency,
                "owner_email": owner, "due_date": iso(due), "success_measure": "Seen in 9 of 10 audited cases",
                **progress}  # fmt: skip

    done = {"status": "complete", "completed_on": iso(-5), "evidence": "Briefings held; register on file"}
    rows: dict[str, list[dict[str, Any]]] = {
        "Agencies": [
            {"name": "Milton Keynes City Council", "short_name": "MKCC", "safeguarding_lead_email": ""},
            {"name": ICB, "short_name": "ICB", "safeguarding_lead_email": "lead@icb.example.org"},
            {"name": POLICE, "short_name": "TVP", "safeguarding_lead_email": "lead@police.example.org"},
        ],
        "People": [
            {
                "email": SPONSOR,
                "name": "Sponsor",
                "agency": "Milton Keynes City Council",
                "roles": "board_sponsor:Adults Board",
            },
            {
                "email": CHAIR,
                "name": "Chair",
                "agency": "Milton Keynes City Council",
                "roles": "board_chair:Adults Board",
            },
            {"email": MEMBER, "name": "Member", "agency": ICB, "roles": "assurance_member"},
            {"email": AUDITOR, "name": "Auditor", "agency": "Milton Keynes City Council", "roles": "auditor"},
            {"email": NURSE, "name": "Nurse", "agency": ICB, "roles": "owner"},
            {"email": OFFICER, "name": "Officer", "agency": POLICE, "roles": "owner"},
            {"email": DEPUTY, "name": "Deputy", "agency": ICB, "roles": "owner"},
            {"email": "lead@icb.example.org", "name": "ICB lead", "agency": ICB, "roles": "agency_lead"},
            {"email": "lead@police.example.org", "name": "TVP lead", "agency": POLICE, "roles": "agency_lead"},
        ],  # fmt: skip
        "Boards": [board],
        "Recommendations": [
            rec(f"IMP{tag}-1", "Owners take on new actions"),
            rec(f"IMP{tag}-2", "Every action complete, plans to come"),
            rec(f"IMP{tag}-3", "Every action complete, plans given"),
            rec(f"IMP{tag}-4", "Waiting for the board to agree actions"),
            rec(f"IMP{tag}-5", "An action long overdue"),
        ],
        "Actions": [
            act(f"IMP{tag}-1", "A1", NURSE, ICB, 40),
            act(f"IMP{tag}-1", "A2", OFFICER, POLICE, 60, status="acknowledged"),
            act(f"IMP{tag}-2", "A1", NURSE, ICB, -10, **done),
            act(f"IMP{tag}-3", "A1", OFFICER, POLICE, -20, **done),
            act(f"IMP{tag}-5", "A1", OFFICER, POLICE, -20),
        ],
        "Plans": [
            {
                "ref": f"IMP{tag}-3",
                "audiences": "GPs; social workers",
                "channels": "7-minute briefing; newsletter",
                "socialisation": "Team meetings test the learning for three months",
                "owner": OFFICER,
                "starts": iso(7),
                "ends": iso(90),
                "method": "Case file audit of 20 cases",
                "auditor": AUDITOR,
                "audit_on": iso(180),
                "success_measures": "Protocol used in 90% of cases",
            },
        ],  # fmt: skip
    }
    if cascade:
        rows["Plans"][0].update(cascade_by=iso(120), reach_threshold=80)
        rows["Cascade"] = cascade_rows(f"IMP{tag}-3")
    if cascade or measures:
        rows["Measures"], rows["Readings"] = measure_rows(today, tag)
        rows["Plans"][0]["audit_measures"] = "M1"
    if reviews:
        rows["Reviews"] = review_rows(today, tag)
        name_reviews(rows, tag)
    if cycles:
        rows["Cycles"], rows["Standards"] = cycle_rows(tag)
    return rows


REGISTRY = ("Agencies", "People", "Boards")


def cycles_only(tag: str = "") -> dict[str, list[dict[str, Any]]]:
    """A file of cycles alone, with the registry sheets they name (``plan``'s) and no recommendation."""
    rows = plan(date(2026, 3, 2), tag, cycles=True)
    return {name: rows[name] for name in (*REGISTRY, "Cycles", "Standards")}


def cycle_rows(tag: str = "") -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The Cycles and Standards sheets: the yearly Section 11 audit ``S11<tag>`` that every agency
    answers (agencies left blank), with three standards, and the police's and the ICB's quarterly
    data return ``DATA<tag>`` (written as people write it), with one."""
    cycles: list[dict[str, Any]] = [
        {"cycle_id": f"S11{tag}", "name": "Section 11 audit", "board": "Adults Board",
         "cadence": "yearly on 1 April", "due_within": "P3M", "agencies": ""},
        {"cycle_id": f"DATA{tag}", "name": "Quarterly safeguarding data", "board": "Adults Board",
         "cadence": "Quarterly", "due_within": "P1M", "agencies": f"{POLICE}; {ICB}"},
    ]  # fmt: skip
    standards: list[dict[str, Any]] = [
        {"cycle_id": f"S11{tag}", "standard_id": "1", "text": "Senior managers are committed to safeguarding",
         "guidance": "Minutes of the board or executive that show it"},
        {"cycle_id": f"S11{tag}", "standard_id": "2", "text": "A named safeguarding lead", "guidance": ""},
        {"cycle_id": f"DATA{tag}", "standard_id": "D1", "text": "Referrals made and their outcomes",
         "guidance": "Counts for the quarter"},
        {"cycle_id": f"S11{tag}", "standard_id": "3", "text": "Staff are trained to their role",
         "guidance": "Training records, by role"},
    ]  # fmt: skip
    return cycles, standards


def review_rows(today: date, tag: str = "") -> list[dict[str, Any]]:
    """The Reviews sheet: the SAR ``SAR<tag>-B`` (notified to concluded, concluded on the day
    ``plan`` dates its sources, two themes written as people write them), and a rapid review
    ``RR<tag>-C`` notified ten days ago that no recommendation comes from yet."""
    iso = lambda days: (today + timedelta(days=days)).isoformat()  # noqa: E731
    return [
        {"review_ref": f"SAR{tag}-B", "kind": "Safeguarding Adult Review", "title": SAR_TITLE, "board": "Adults Board",
         "notified_on": iso(-400), "decided_on": iso(-380), "commissioned_on": iso(-350), "concluded_on": iso(-200),
         "published_on": "", "themes": "Mental health;  self-neglect "},
        {"review_ref": f"RR{tag}-C", "kind": "Rapid review", "title": "Rapid review: Child C", "board": "Adults Board",
         "notified_on": iso(-10), "themes": "domestic abuse"},
    ]  # fmt: skip


def name_reviews(rows: dict[str, list[dict[str, Any]]], tag: str = "") -> None:
    """IMP-1 to IMP-3 name the SAR and leave their source to it; IMP-4 names it with its own
    source (the same kind, written otherwise, and its own title and date); IMP-5 names only its
    source, as a plan written before reviews were records does."""
    for row in rows["Recommendations"][:3]:
        row.update(review_ref=f"SAR{tag}-B", source_kind="", source_title="", source_date="")
    rows["Recommendations"][3].update(review_ref=f"SAR{tag}-B", source_kind="SAR",
                                      source_title="SAR Adult B: the board's summary")  # fmt: skip


def measure_rows(today: date, tag: str = "") -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The Measures and Readings sheets: IMP-3's share of audited cases using the protocol (up,
    on track after two readings) and a measure not yet counted (no baseline or target); IMP-1's
    days to a strategy discussion (down, off track after one reading)."""
    iso = lambda days: (today + timedelta(days=days)).isoformat()  # noqa: E731
    measures: list[dict[str, Any]] = [
        {"ref": f"IMP{tag}-3", "measure_id": "M1", "name": "Audited cases where the protocol was used",
         "unit": "percent", "direction": "up", "baseline": 60, "baseline_on": iso(-200), "target": 90,
         "target_by": iso(365), "reporter": OFFICER, "every": "P3M"},
        {"ref": f"IMP{tag}-3", "measure_id": "M2", "name": "Families who say the plan was explained to them",
         "unit": "percent", "direction": "up", "reporter": MEMBER},
        {"ref": f"IMP{tag}-1", "measure_id": "W1", "name": "Days from referral to strategy discussion",
         "unit": "days", "direction": "down", "baseline": 12, "baseline_on": iso(-100), "target": 5,
         "target_by": iso(200), "reporter": NURSE, "every": "P1M"},
    ]  # fmt: skip
    readings: list[dict[str, Any]] = [
        {"ref": f"IMP{tag}-3", "measure_id": "M1", "value": 66, "on": iso(-100), "note": "Dip sample of 20 cases"},
        {"ref": f"IMP{tag}-3", "measure_id": "M1", "value": 72, "on": iso(-10), "by": MEMBER, "note": ""},
        {"ref": f"IMP{tag}-1", "measure_id": "W1", "value": 11, "on": iso(-30), "note": ""},
    ]
    return measures, readings


def cascade_rows(ref: str) -> list[dict[str, Any]]:
    """A two-agency cascade for ``ref``: police officers confirmed by the agency's safeguarding lead
    (no lead named), ICB staff by a named lead."""
    return [
        {"ref": ref, "agency": POLICE, "lead_email": "", "staff_group": "Neighbourhood officers",
         "expected_reach": POLICE_REACH},
        {"ref": ref, "agency": ICB, "lead_email": DEPUTY, "staff_group": "GPs and practice nurses",
         "expected_reach": ICB_REACH},
    ]  # fmt: skip


def write_yaml(rows: dict[str, list[dict[str, Any]]], path: Path) -> Path:
    path.write_text(yaml.safe_dump(rows, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def write_xlsx(rows: dict[str, list[dict[str, Any]]], path: Path) -> Path:
    write_workbook(path, rows)
    return path


def write_csv(rows: dict[str, list[dict[str, Any]]], path: Path) -> Path:
    """One row per action, the recommendation's columns repeated; a row for one without actions."""
    columns = [*CSV_RECOMMENDATION_COLUMNS, *CSV_ACTION_COLUMNS]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for recommendation in rows["Recommendations"]:
            actions = [a for a in rows["Actions"] if a["recommendation_ref"] == recommendation["ref"]] or [{}]
            for action in actions:
                writer.writerow({**recommendation, **action})
    return path


def changed(rows: dict[str, list[dict[str, Any]]], **edits: Any) -> dict[str, list[dict[str, Any]]]:
    return copy.deepcopy(rows) | edits
