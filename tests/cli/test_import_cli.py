"""`assure import` and `assure template` as a person runs them: exit statuses, messages, JSON."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

from devtools import plan_files as pf
from plans.sheets import read_plan_file
from plans.validate import check_plan

ASSURE = str(Path(sys.executable).parent / "assure")


def assure(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "ASSURE_STATE_DIR": str(tmp_path / "state"),
           "ASSURE_DATABASE_URL": f"sqlite:///{tmp_path / 'assure.db'}",
           "ASSURE_TEMPORAL_ADDRESS": "127.0.0.1:1"}  # fmt: skip
    return subprocess.run([ASSURE, *args], env=env, capture_output=True, text=True, timeout=60)


def test_a_bad_file_exits_2_listing_every_problem_and_starts_nothing(tmp_path):
    rows = pf.plan(date(2026, 3, 2))
    rows["Recommendations"][0]["board"] = "Nonexistent Board"
    rows["Actions"][4]["due_date"] = "31/02/2026"
    path = pf.write_yaml(rows, tmp_path / "plan.yaml")
    # Temporal is unreachable on purpose: a file with problems never gets as far as connecting.
    result = assure("import", str(path), tmp_path=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "plan.yaml: 2 problem(s); nothing was imported",
        "  Recommendations, row 1, board: unknown board 'Nonexistent Board'",
        "  Actions, row 5, due_date: '31/02/2026' is not a date (use 2023-04-01 or 01/04/2023)",
    ]
    as_json = assure("import", str(path), "--json", tmp_path=tmp_path)
    assert as_json.returncode == 2
    assert json.loads(as_json.stdout)["problems"][0] == {
        "sheet": "Recommendations", "row": 1, "column": "board", "reason": "unknown board 'Nonexistent Board'"
    }  # fmt: skip


def test_a_bad_rebase_date_is_refused(tmp_path):
    path = pf.write_yaml(pf.plan(date(2026, 3, 2)), tmp_path / "plan.yaml")
    result = assure("import", str(path), "--rebase-dates", "1st April", tmp_path=tmp_path)
    assert result.returncode == 2
    assert "--rebase-dates: '1st April' is not a date like 2023-04-01" in result.stderr


def test_the_template_is_a_valid_plan_with_one_worked_row_per_sheet(tmp_path):
    from openpyxl import load_workbook

    out = tmp_path / "plan.xlsx"
    result = assure("template", "--out", str(out), tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    workbook = load_workbook(out)
    assert workbook.sheetnames == [
        "Agencies",
        "People",
        "Boards",
        "Reviews",
        "Recommendations",
        "Actions",
        "Plans",
        "Cascade",
        "Measures",
        "Readings",
        "Cycles",
        "Standards",
    ]
    assert workbook["Actions"].max_row == 2
    assert any(
        v.formula1 == '"assigned,acknowledged,complete"' for v in workbook["Actions"].data_validations.dataValidation
    )
    sheets, problems = read_plan_file(out)
    _, problems = check_plan(sheets, today=date(2023, 4, 1))
    assert problems == []  # the worked example is itself a whole, valid plan


async def test_an_import_of_cycles_says_which_were_added_or_changed(env, settings, tmp_path):
    """A file of cycles alone imports: the summary names the cycles written, the JSON lists them, and
    the same file again writes none."""
    path = pf.write_yaml(pf.cycles_only(), tmp_path / "cycles.yaml")
    environment = {**os.environ, "ASSURE_STATE_DIR": str(tmp_path / "state"),
                   "ASSURE_DATABASE_URL": settings.database_url, "ASSURE_TASK_QUEUE": settings.task_queue,
                   "ASSURE_TEMPORAL_ADDRESS": env.client.service_client.config.target_host}  # fmt: skip

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([ASSURE, "import", str(path), *args], env=environment, capture_output=True, text=True,
                              timeout=60)  # fmt: skip

    dry = await asyncio.to_thread(run, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "2 cycle(s) would be added or changed: S11, DATA" in dry.stdout.splitlines()
    first = await asyncio.to_thread(run)
    assert first.returncode == 0, first.stderr
    # structlog's lines share stdout with the summary (logs.py leaves them on print's default).
    summary = ["0 started, 0 unchanged, 0 changed", "0 review(s) added or changed",
               "2 cycle(s) added or changed: S11, DATA"]  # fmt: skip
    assert [line for line in first.stdout.splitlines() if line in summary] == summary
    again = await asyncio.to_thread(run, "--json")
    assert again.returncode == 0, again.stderr
    lines = again.stdout.splitlines()
    assert json.loads("\n".join(lines[lines.index("{") :]))["cycles_written"] == []
