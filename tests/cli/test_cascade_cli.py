"""The cascade on the command line: `assure confirm-cascade` and `assure cascade`, run as a person
runs them, against the test's Temporal server and store."""

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
from models.payloads import (
    AuditOutcome,
    CascadeStatus,
    RecordAuditInput,
    SignOffInput,
    Stage,
    SubmitPlansInput,
)
from tests import factories as f
from tests.helpers import decide, seed_registry, today

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


async def signed_off(env, start, ref: str):
    """A recommendation whose plans were signed off: its two agencies' leads are asked to confirm."""
    day = await today(env)
    handle = await start(f.start(ref, actions=[f.action("A1", day + timedelta(days=30))]))
    await decide(handle, "complete_action", {"by": f.OWNER, "action_id": "A1", "evidence": "Done"})
    dissemination, audit = f.credible_plans(day)
    await decide(handle, "submit_plans", SubmitPlansInput(by=f.OWNER, dissemination=dissemination, audit=audit))
    await decide(handle, "sign_off", SignOffInput(by=f.ASSURANCE))
    return handle, day


class TestConfirmCascade:
    async def test_a_lead_confirms_and_the_cascade_shows_one_agency_in(self, env, start, settings):
        """The ICB's lead confirms 60 of 120 with a note: the table and the JSON show it short and the police
        waiting; after the audit, the police as never confirmed."""
        handle, day = await signed_off(env, start, "CLI-CASCADE")
        args = ("confirm-cascade", "CLI-CASCADE", "--agency", f.ICB, "--reached", "60", "--done-on", str(day),
                "--channel", "7-minute briefing", "--channel", "team meetings", "--by", f.ICB_LEAD)  # fmt: skip

        no_reason = await assure(env, settings, *args)
        assert 3 == no_reason.returncode
        assert "CLI-CASCADE: 60 of the 120 staff planned were reached: say in the note why fewer\n" == no_reason.stderr

        confirmed = await assure(env, settings, *args, "--note", "Night staff are briefed in May")
        assert 0 == confirmed.returncode, confirmed.stderr
        assert "CLI-CASCADE: done; the recommendation is now at stage cascade\n" == confirmed.stdout
        views = (await recommendation_status(env.client, "CLI-CASCADE")).cascade
        assert [(f.ICB, CascadeStatus.confirmed, 60), (f.POLICE, CascadeStatus.waiting, None)] == [
            (v.agency, v.status, v.reached) for v in views
        ]

        shown = await assure(env, settings, "cascade", "CLI-CASCADE", "--json")
        assert 0 == shown.returncode, shown.stderr
        found = json.loads(shown.stdout)
        assert {
            "ref": "CLI-CASCADE",
            "cascade_by": str(day + timedelta(days=120)),
            "reach_threshold": 80,
            "reach_percent": 30,  # 60 of the 200 staff both agencies expect
            "cascade_short": True,
            "cascade_overdue": False,
        } == {key: value for key, value in found.items() if key != "cascade"}
        icb, police = found["cascade"]
        assert (f.ICB, f.ICB_LEAD, 60, 120, 50, "confirmed") == (
            icb["agency"], icb["lead"], icb["reached"], icb["expected_reach"], icb["reach_percent"], icb["status"]
        )  # fmt: skip
        assert (["7-minute briefing", "team meetings"], str(day)) == (icb["channels"], icb["done_on"])
        assert (f.POLICE_LEAD, None, "waiting") == (police["lead"], police["reached"], police["status"])

        table = await assure(env, settings, "cascade", "CLI-CASCADE")
        assert 0 == table.returncode, table.stderr
        icb_line = next(line for line in table.stdout.splitlines() if f.ICB in line)
        assert "60 / 120" in icb_line and "50%" in icb_line and "Confirmed" in icb_line
        assert f"{day:%d %b %Y}" in icb_line and "7-minute briefing, team meetings" in icb_line
        police_line = next(line for line in table.stdout.splitlines() if f.POLICE in line)
        assert "- / 80" in police_line and "Waiting" in police_line and f.POLICE_LEAD in police_line
        cascade_by = day + timedelta(days=120)
        assert (
            f"Overall reach: 30% of 200 staff (threshold 80%); every agency to confirm by {cascade_by:%d %b %Y}"
            in table.stdout
        )
        assert f"Short: below the 80% threshold: {f.ICB} (50%)" in table.stdout
        assert f"Waiting for {f.POLICE} to confirm" in table.stdout

        audit = RecordAuditInput(by=f.AUDITOR, outcome=AuditOutcome.embedded, early_reason="Asked for by the board")
        await decide(handle, "record_audit", audit)
        closed = await assure(env, settings, "cascade", "CLI-CASCADE")
        assert f"The cascade closed at the audit with {f.POLICE} never confirmed" in closed.stdout

    async def test_the_wrong_person_and_a_bad_figure_are_refused_with_their_exit_codes(self, env, start, settings):
        """The police lead may not confirm for the ICB (3); a negative reach is bad input (2)."""
        _, day = await signed_off(env, start, "CLI-CASCADE-NO")
        common = ("confirm-cascade", "CLI-CASCADE-NO", "--agency", f.ICB, "--done-on", str(day))
        wrong = await assure(env, settings, *common, "--reached", "120", "--by", f.POLICE_LEAD)
        assert 3 == wrong.returncode
        assert (
            f"CLI-CASCADE-NO: {f.POLICE_LEAD} is not the cascade lead of {f.ICB} for CLI-CASCADE-NO\n" == wrong.stderr
        )
        negative = await assure(env, settings, *common, "--reached", "-5", "--by", f.ICB_LEAD)
        assert 2 == negative.returncode
        assert negative.stderr.startswith("CLI-CASCADE-NO: confirm_cascade: reached: ")
        assert "  - reached: " in negative.stderr
        assert Stage.cascade == (await recommendation_status(env.client, "CLI-CASCADE-NO")).stage


class TestShowCascade:
    async def test_a_recommendation_not_signed_off_has_no_cascade_yet(self, env, start, settings):
        """Before sign-off the command says so plainly and exits 0; the JSON keeps its shape, empty."""
        day = await today(env)
        await start(f.start("CLI-NO-CASCADE", actions=[f.action("A1", day + timedelta(days=30))]))
        said = await assure(env, settings, "cascade", "CLI-NO-CASCADE")
        assert 0 == said.returncode, said.stderr
        assert (
            "CLI-NO-CASCADE has no cascade yet: it is at stage action, and the cascade starts at sign-off\n"
            == said.stdout
        )
        found = json.loads((await assure(env, settings, "cascade", "CLI-NO-CASCADE", "--json")).stdout)
        assert {"ref": "CLI-NO-CASCADE", "cascade_by": None, "reach_threshold": None, "reach_percent": None,
                "cascade_short": False, "cascade_overdue": False, "cascade": []} == found  # fmt: skip

    async def test_an_unknown_ref_exits_4_as_show_does(self, env, settings, worker):
        """No workflow for the ref: the message `show` gives, and its exit status."""
        unknown = await assure(env, settings, "cascade", "NO-SUCH-REF")
        assert 4 == unknown.returncode
        assert "there is no recommendation 'NO-SUCH-REF'\n" == unknown.stderr
        confirm = await assure(env, settings, "confirm-cascade", "NO-SUCH-REF", "--agency", f.ICB, "--reached", "1",
                               "--done-on", "2026-01-05", "--by", f.ICB_LEAD)  # fmt: skip
        assert 4 == confirm.returncode and "there is no recommendation 'NO-SUCH-REF'" in confirm.stderr
