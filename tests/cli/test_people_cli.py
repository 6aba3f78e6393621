"""People change on the command line, run as a person runs it against the test's Temporal server
and store: `assure person show` (the registry's record), `assure person absent` (refused with
each reason by its option, exit 2, nothing written; accepted with its cover), `assure person
deputy` (recorded, then delivered to the running workflows; recorded but said to be undelivered
when Temporal is out of reach) and `assure person left` (the registry moved, the hand-over run)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from datetime import UTC, date, datetime, timedelta

from sqlmodel import col, select
from temporalio.client import WorkflowHandle

from gateway.people import hand_over_id
from store.db import session_scope
from store.people import record_absence, set_deputy
from store.read_model import upsert_registry
from store.tables import AbsenceRow, Agency, Board, Person, RegistryChange
from tests.cli.test_board_cli import ASSURE, assure
from tests.helpers import free_port

ICB, POLICE = "BLMK Integrated Care Board", "Thames Valley Police"
BEN = "ben.baker@icb.example"
CAT = "cat.cole@icb.example"
DAN = "dan.dale@icb.example"
PAT = "pat.pike@police.example"
ADMIN = "registry.admin@mk.example"
OPERATOR = "operator (command line)"


def registry(database_url: str) -> None:
    agencies = [Agency(name=ICB, safeguarding_lead_email=DAN), Agency(name=POLICE, safeguarding_lead_email=PAT)]
    people = [
        Person(email=BEN, name="Ben Baker", agency=ICB, roles="owner"),
        Person(email=CAT, name="Cat Cole", agency=ICB, roles="owner,auditor"),
        Person(email=DAN, name="Dan Dale", agency=ICB, roles="agency_lead"),
        Person(email=PAT, name="Pat Pike", agency=POLICE, roles="agency_lead,board_sponsor:Review Board"),
        Person(email=ADMIN, roles="admin"),
    ]
    boards = [Board(name="Review Board", sponsor_email=PAT, chair_email=BEN)]
    with session_scope(database_url) as session:
        upsert_registry(session=session, agencies=agencies, people=people, boards=boards)


def stored(database_url: str):
    """Ben's deputy, every absence and every registry change, as plain values."""
    with session_scope(database_url) as session:
        ben = session.exec(select(Person).where(Person.email == BEN)).one()
        absences = [(a.person, a.first_day, a.last_day, a.deputy) for a in session.exec(select(AbsenceRow))]
        changes = [
            (c.by, c.subject, c.what) for c in session.exec(select(RegistryChange).order_by(col(RegistryChange.id)))
        ]
        return ben.deputy, absences, changes


def london_today() -> date:
    from models.measure_decisions import today_in_london

    return today_in_london(datetime.now(UTC))


async def test_person_show_gives_the_registrys_record(env, settings, database_url):
    registry(database_url)
    today = london_today()
    with session_scope(database_url) as session:
        set_deputy(session, person=BEN, deputy=CAT, by=ADMIN, now=datetime.now(UTC))
        record_absence(session, person=BEN, first_day=today + timedelta(days=3), last_day=today + timedelta(days=9),
                       deputy="", by=ADMIN, today=today, now=datetime.now(UTC))  # fmt: skip

    shown = await assure(env, settings, "person", "show", "Ben.Baker@ICB.example")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[:4] == [f"{BEN} (Ben Baker)", f"Agency: {ICB}", "Roles: owner", f"Standing deputy: {CAT}"]
    assert "Absences not yet over:" in lines and "Recent changes:" in lines
    assert any(line.endswith(f"covered by their standing deputy {CAT} (absence 1)") for line in lines), lines
    assert any(f"deputy, by {ADMIN}: standing deputy {CAT}" in line for line in lines), lines

    as_json = await assure(env, settings, "person", "show", BEN, "--json")
    record = json.loads(as_json.stdout)
    assert (record["email"], record["deputy"], record["left_on"]) == (BEN, CAT, None)
    assert [a["first_day"] for a in record["absences"]] == [(today + timedelta(days=3)).isoformat()]
    assert [c["what"] for c in record["changes"]] == ["absence", "deputy"]

    unknown = await assure(env, settings, "person", "show", "nobody@icb.example")
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == "no one with the address nobody@icb.example is in the registry"


async def test_person_absent_is_refused_with_each_reason_by_its_option_and_nothing_written(env, settings, database_url):
    registry(database_url)
    today = london_today()
    before = stored(database_url)
    ended = await assure(env, settings, "person", "absent", BEN, "--from", (today - timedelta(days=10)).isoformat(),
                         "--to", (today - timedelta(days=5)).isoformat(), "--deputy", PAT)  # fmt: skip
    assert ended.returncode == 2, ended.stdout
    lines = ended.stderr.splitlines()
    assert lines[0] == "the absence cannot be recorded:"
    assert lines[1].startswith("  --to: an absence that has already ended cannot be recorded: its last day, ")
    assert (
        lines[2]
        == f"  --deputy: the deputy {PAT} is registered with {POLICE}, not {ICB}: a deputy is someone of the same agency"
    )
    assert ended.stdout == "" and "Traceback" not in ended.stderr

    not_a_day = await assure(env, settings, "person", "absent", BEN, "--from", "2027-02-30", "--to", "2027-03-02")
    assert not_a_day.returncode == 2
    assert not_a_day.stderr.splitlines()[1] == "  --from: '2027-02-30' is not a date: write it as YYYY-MM-DD"
    assert stored(database_url) == before


async def test_person_absent_is_recorded_with_the_deputy_named(env, settings, database_url):
    registry(database_url)
    first, last = date(2090, 3, 1), date(2090, 3, 21)
    done = await assure(env, settings, "person", "absent", "BEN.baker@icb.example", "--from", first.isoformat(),
                        "--to", last.isoformat(), "--deputy", CAT, "--by", ADMIN)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"Recorded: {BEN} away from 1 March 2090 to 21 March 2090; covered by {CAT}"]
    assert stored(database_url) == ("", [(BEN, first, last, CAT)], [(ADMIN, BEN, "absence")])


async def test_person_deputy_is_recorded_and_delivered(env, settings, database_url):
    registry(database_url)
    named = await assure(env, settings, "person", "deputy", "Ben.Baker@icb.example", "--deputy", "CAT.cole@icb.example",
                         "--by", ADMIN)  # fmt: skip
    assert named.returncode == 0, named.stderr
    assert named.stdout.strip() == f"Recorded: {BEN}'s standing deputy is now {CAT}"
    again = await assure(env, settings, "person", "deputy", BEN, "--deputy", CAT)
    assert again.returncode == 0 and again.stdout.strip() == f"Unchanged: {BEN}'s standing deputy is {CAT} already"
    cleared = await assure(env, settings, "person", "deputy", BEN, "--deputy", "")
    assert cleared.returncode == 0 and cleared.stdout.strip() == f"Recorded: {BEN} has no standing deputy now"
    assert stored(database_url) == ("", [], [(ADMIN, BEN, "deputy"), (OPERATOR, BEN, "deputy")])

    refused = await assure(env, settings, "person", "deputy", BEN, "--deputy", PAT)
    assert refused.returncode == 2
    assert refused.stderr.splitlines() == [
        "the deputy cannot be recorded:",
        f"  --deputy: the deputy {PAT} is registered with {POLICE}, not {ICB}: a deputy is someone of the same agency",
    ]


async def test_person_deputy_out_of_temporals_reach_is_recorded_and_said_undelivered(settings, database_url, tmp_path):
    registry(database_url)
    environment = {**os.environ, "ASSURE_DATABASE_URL": database_url,
                   "ASSURE_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}"}  # nothing listens there  # fmt: skip
    result = await asyncio.to_thread(
        subprocess.run, [ASSURE, "person", "deputy", BEN, "--deputy", CAT], env=environment, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stdout.strip() == f"Recorded: {BEN}'s standing deputy is now {CAT}"
    assert result.stderr.startswith(
        "The change is recorded in the registry, but not yet delivered to the running workflows: cannot reach Temporal at 127.0.0.1:"
    )
    assert "Traceback" not in result.stderr
    assert stored(database_url)[0] == CAT


async def test_person_left_moves_the_registry_and_runs_the_hand_over_once(
    env, worker, settings, database_url, monkeypatch
):
    """With no open recommendations the hand-over has only the registry to deliver and the
    successor to tell; the recommendations' side is the workflows' tests'."""
    monkeypatch.setenv("ASSURE_TASK_QUEUE", settings.task_queue)  # the hand-over runs on this test's worker
    registry(database_url)
    today = london_today()
    done = await assure(env, settings, "person", "left", "Ben.Baker@icb.example", "--successor", CAT, "--by", ADMIN)
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert done.stdout.splitlines() == [
        f"Recorded: {BEN} left on {today.day} {today:%B %Y}; {CAT} succeeds them",
        "Moved in the registry:",
        "  - chair of Review Board",  # his role owner Cat holds already
        f"Hand-over under way: workflow {hand_over_id(BEN)}",
        f"Handed over: 0 of 0 open recommendation(s) asked; 0 moved to {CAT}",
        f"{CAT} has been sent one summary of it all",
    ]
    with session_scope(database_url) as session:
        ben = session.exec(select(Person).where(Person.email == BEN)).one()
        board = session.exec(select(Board)).one()
        assert (ben.left_on, ben.successor, ben.roles, board.chair_email) == (today, CAT, "", CAT)
        logged = session.exec(select(RegistryChange)).one()
        assert (logged.by, logged.subject, logged.what) == (ADMIN, BEN, "left")

    again = await assure(env, settings, "person", "left", BEN, "--successor", CAT, "--no-wait")
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == [
        f"{BEN} has left already, handing over to {CAT}: resuming the hand-over of their running workflows",
        f"Hand-over started: workflow {hand_over_id(BEN)} (run this command again to follow it)",
    ]
    # Ended before the worker stops, waited for with the clock held: the time-skipping handle's own
    # result() would let the shared clock leap years ahead for every later test.
    await WorkflowHandle.result(env.client.get_workflow_handle(hand_over_id(BEN)))
    other = await assure(env, settings, "person", "left", BEN, "--successor", DAN)
    assert other.returncode == 2
    assert other.stderr.splitlines()[1].startswith(
        f"  --successor: {BEN} left on {today.day} {today:%B %Y}, handing over to {CAT}"
    )
