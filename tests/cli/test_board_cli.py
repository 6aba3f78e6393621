"""The Assurance Board's command line: `assure status`, `assure sign-off` and `assure audit`, run
as a person runs them, against the test's Temporal server and store."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from gateway.workflows import recommendation_status
from models.payloads import SubmitPlansInput
from tests import factories as f
from tests.helpers import decide, eventually, seed_registry, stored_row, today

ASSURE = str(Path(sys.executable).parent / "assure")


@pytest.fixture(autouse=True)
def registry(database_url) -> None:
    """The command line checks every decision against the registry, as the other edges do."""
    seed_registry(database_url)


async def assure(env, settings, *args: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "ASSURE_DATABASE_URL": settings.database_url,
                   "ASSURE_TEMPORAL_ADDRESS": env.client.service_client.config.target_host}  # fmt: skip
    return await asyncio.to_thread(
        subprocess.run, [ASSURE, *args], env=environment, capture_output=True, text=True, timeout=60
    )


async def at_sign_off(env, start, ref: str, *, credible: bool):
    day = await today(env)
    handle = await start(f.start(ref, actions=[f.action("A1", day + timedelta(days=30))]))
    await decide(handle, "complete_action", {"by": f.OWNER, "action_id": "A1", "evidence": "Done"})
    dissemination, audit = f.credible_plans(day)
    if not credible:
        dissemination = dissemination.model_copy(update={"channels": []})
    await decide(handle, "submit_plans", SubmitPlansInput(by=f.OWNER, dissemination=dissemination, audit=audit))
    return handle


async def test_status_lists_each_recommendation_with_its_rag_and_filters(env, start, settings, database_url):
    day = await today(env)
    await start(f.start("CLI-LATE", actions=[f.action("A1", day - timedelta(days=20))]))
    await start(f.start("CLI-FINE", actions=[f.action("A1", day + timedelta(days=60))]))
    await eventually(lambda: (row := stored_row(database_url, "CLI-LATE")) is not None and row.overdue)
    await eventually(lambda: stored_row(database_url, "CLI-FINE"))

    result = await assure(env, settings, "status", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["ref"]: row for row in json.loads(result.stdout)}
    assert (rows["CLI-LATE"]["rag"], rows["CLI-FINE"]["rag"]) == ("red", "green")
    assert rows["CLI-LATE"]["agencies"] == [f.ICB]

    late_only = json.loads((await assure(env, settings, "status", "--overdue", "--json")).stdout)
    assert [row["ref"] for row in late_only] == ["CLI-LATE"]
    assert json.loads((await assure(env, settings, "status", "--agency", "Nobody", "--json")).stdout) == []
    table = await assure(env, settings, "status", "--board", "Review Board")
    assert "CLI-LATE" in table.stdout and "action: 2" in table.stdout
    wrong = await assure(env, settings, "status", "--stage", "limbo")
    assert wrong.returncode == 2 and "'limbo' is not a stage" in wrong.stderr


async def test_sign_off_refused_prints_the_reason_and_exits_3(env, start, settings):
    await at_sign_off(env, start, "CLI-GAPS", credible=False)
    result = await assure(env, settings, "sign-off", "CLI-GAPS", "--by", f.ASSURANCE)
    assert result.returncode == 3
    assert result.stderr.startswith("CLI-GAPS: sign-off refused:")
    assert "channel" in result.stderr


async def test_sign_off_and_audit_move_a_recommendation_to_assured(env, start, settings):
    await at_sign_off(env, start, "CLI-GOOD", credible=True)
    signed = await assure(env, settings, "sign-off", "CLI-GOOD", "--by", f.ASSURANCE, "--note", "Credible plans")
    assert signed.returncode == 0, signed.stderr
    assert "now at stage cascade" in signed.stdout  # each agency's lead is asked to confirm its reach
    wrong_person = await assure(env, settings, "audit", "CLI-GOOD", "--outcome", "embedded", "--by", f.OWNER)
    assert wrong_person.returncode == 3 and "is not an auditor or an Assurance Board member" in wrong_person.stderr
    args = ("audit", "CLI-GOOD", "--outcome", "embedded", "--by", f.AUDITOR, "--findings", "18 of 20")
    early = await assure(env, settings, *args)
    assert early.returncode == 3 and "to record it early, confirm and give the reason" in early.stderr
    audited = await assure(env, settings, *args, "--early-reason", "Asked for before the service restructure")
    assert audited.returncode == 0, audited.stderr
    assert (await recommendation_status(env.client, "CLI-GOOD")).stage.value == "assured"


async def test_unknown_refs_exit_4_and_bad_arguments_exit_2(env, settings, worker):
    unknown = await assure(env, settings, "sign-off", "NO-SUCH-REF", "--by", f.ASSURANCE)
    assert unknown.returncode == 4 and "there is no recommendation 'NO-SUCH-REF'" in unknown.stderr
    bad_email = await assure(env, settings, "sign-off", "NO-SUCH-REF", "--by", "not-an-address")
    assert bad_email.returncode == 2 and "not an email address" in bad_email.stderr
    bad_outcome = await assure(env, settings, "audit", "X", "--outcome", "fine", "--by", f.AUDITOR)
    assert bad_outcome.returncode == 2
    bad_date = await assure(
        env, settings, "audit", "X", "--outcome", "embedded", "--by", f.AUDITOR, "--re-audit-on", "soon"
    )
    assert bad_date.returncode == 2 and "re_audit_on" in bad_date.stderr


async def test_a_failed_audit_takes_its_remedial_actions_from_a_file(env, start, settings, tmp_path):
    handle = await at_sign_off(env, start, "CLI-REMEDY", credible=True)
    await decide(handle, "sign_off", {"by": f.ASSURANCE})
    day = await today(env)
    args = ("audit", "CLI-REMEDY", "--outcome", "not_embedded", "--by", f.ASSURANCE, "--findings", "4 of 20",
            "--early-reason", "Concerns raised at the board")  # fmt: skip

    without = await assure(env, settings, *args, "--re-audit-on", str(day + timedelta(days=90)))
    assert without.returncode == 3 and "needs remedial actions" in without.stderr

    bad_header = tmp_path / "remedial.csv"
    bad_header.write_text("id,what\nR1,x\n")
    refused = await assure(env, settings, *args, "--remedial", str(bad_header))
    assert refused.returncode == 2
    assert refused.stderr.startswith(f"--remedial {bad_header}: the header lacks action_id, description")

    bad_owner = tmp_path / "owner.yaml"
    bad_owner.write_text(
        f"- {{action_id: R1, description: Re-brief teams, agency: {f.ICB}, owner: not-an-address, "
        f"due: '{day + timedelta(days=60)}', success_measure: All teams re-briefed}}\n"
    )
    malformed = await assure(
        env, settings, *args, "--re-audit-on", str(day + timedelta(days=90)), "--remedial", str(bad_owner)
    )
    assert malformed.returncode == 2 and "remedial_actions.0.owner" in malformed.stderr

    good = tmp_path / "remedial.csv"
    good.write_text(
        "action_id,description,agency,owner,due,success_measure\n"
        f"R1,Re-brief the health visiting teams,{f.ICB},{f.OWNER},{day + timedelta(days=60)},Every team re-briefed\n"
    )
    recorded = await assure(
        env, settings, *args, "--re-audit-on", str(day + timedelta(days=90)), "--remedial", str(good)
    )
    assert recorded.returncode == 0, recorded.stderr
    assert "now at stage re_audit" in recorded.stdout
    status = await recommendation_status(env.client, "CLI-REMEDY")
    assert [a.action_id for a in status.actions] == ["A1", "R1"] and status.actions[1].owner == f.OWNER
