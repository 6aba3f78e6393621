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


def plan(today: date, tag: str = "", *, cascade: bool = False) -> dict[str, list[dict[str, Any]]]:
    """Five recommendations, one in each starting position an import can give, refs ``IMP<tag>-1`` to 5
    (a tag per test keeps workflow ids apart on the shared test server). With ``cascade``, IMP-3's
    plans name their cascade (police and ICB staff) and are credible; without, the cascade is a gap."""
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
    return rows


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
