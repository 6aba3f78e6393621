"""Assurance cycles on the command line, run as a person runs them against the test's Temporal
server and store: `assure cycles`, `assure cycle run` (a period started now, once) and `assure
cycle show` (the matrix, with the period before and who has not returned)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from models.cycle_lifecycle import ReturnInput, ReturnLifecycle
from models.cycle_returns import CommittedAction, Rating, ReturnParties, StandardAnswer, SubmitReturnInput
from models.cycles import agency_key, return_workflow_id
from models.payloads import EscalationPolicy
from store.cycle_returns import record_cycle_return
from store.cycles import write_cycles
from store.db import session_scope
from tests import factories as f
from tests.cli.test_board_cli import assure
from tests.helpers import end_when_idle, seed_registry
from tests.models.test_cycles import section_11


def stored_return(database_url: str, period: str, agency: str, ratings: tuple[Rating, Rating] | None) -> None:
    """A return's row as its workflow would write it: submitted with these ratings, or still owed."""
    cycle = section_11(cycle_id="S11-CLI", board="Review Board")
    at = datetime(int(period[:4]), 5, 1, 9, tzinfo=UTC)
    start = ReturnInput(cycle=cycle, period=period, starts_on=date(int(period[:4]), 4, 1),
                        due_on=date(int(period[:4]), 7, 1), agency=agency, policy=EscalationPolicy(),
                        parties=ReturnParties(lead=f.ICB_LEAD, reviewers=[f.SPONSOR]))  # fmt: skip
    workflow_id = return_workflow_id(cycle.cycle_id, period, agency_key(agency))
    life = ReturnLifecycle.begin(start, workflow_id=workflow_id, now=at)
    if ratings is not None:
        action = CommittedAction(description="Train the wards", owner=f.OWNER, due=date(int(period[:4]) + 1, 3, 1))
        answers = [StandardAnswer(standard_id=str(n), rating=r, evidence="Seen",
                                  action=None if r is Rating.met else action) for n, r in enumerate(ratings, 1)]  # fmt: skip
        life.submit(SubmitReturnInput(by=f.ICB_LEAD, answers=answers), at)
    with session_scope(database_url) as session:
        record_cycle_return(session=session, data=life.projection(at).model_copy(update={"notifications": []}))


async def test_cycles_lists_and_show_gives_the_matrix_with_the_period_before(env, settings, database_url):
    with session_scope(database_url) as session:
        write_cycles(session=session, cycles=[section_11(cycle_id="S11-CLI", board="Review Board")],
                     now=datetime.now(UTC))  # fmt: skip
    stored_return(database_url, "2024-25", f.ICB, (Rating.not_met, Rating.partly_met))
    stored_return(database_url, "2025-26", f.ICB, (Rating.met, Rating.partly_met))
    stored_return(database_url, "2025-26", f.POLICE, None)

    listed = await assure(env, settings, "cycles")
    assert listed.returncode == 0, listed.stderr
    assert ("S11-CLI: Section 11 audit (Review Board), yearly on 1 April, due within P3M, 2 standards, every agency"
            in listed.stdout)  # fmt: skip

    shown = await assure(env, settings, "cycle", "show", "S11-CLI", "--json")
    assert shown.returncode == 0, shown.stderr
    matrix = json.loads(shown.stdout)
    assert (matrix["period"], matrix["previous"], matrix["not_returned"]) == ("2025-26", "2024-25", [f.POLICE])
    [icb] = [r for r in matrix["returns"] if r["agency"] == f.ICB]
    assert (icb["ratings"], icb["previous_ratings"]) == (
        {"1": "met", "2": "partly_met"},
        {"1": "not_met", "2": "partly_met"},
    )
    text = await assure(env, settings, "cycle", "show", "S11-CLI", "--period", "2024-25")
    assert f"{f.ICB}: Submitted; 1 Not met; 2 Partly met" in text.stdout and "Not returned: none" in text.stdout

    for wrong, message in ((["S12"], "there is no cycle 'S12'"),
                           (["S11-CLI", "--period", "2025"], "'2025' is no period of a cycle run yearly on 1 April")):  # fmt: skip
        refused = await assure(env, settings, "cycle", "show", *wrong)
        assert refused.returncode == 2 and message in refused.stderr


async def test_cycle_run_starts_a_period_once(env, worker, settings, database_url, monkeypatch):
    monkeypatch.setenv("ASSURE_TASK_QUEUE", settings.task_queue)  # the period runs on this test's worker
    seed_registry(database_url)
    with session_scope(database_url) as session:
        write_cycles(session=session, cycles=[section_11(cycle_id="S11-RUN", board="Review Board")],
                     now=datetime.now(UTC))  # fmt: skip
    ids = [return_workflow_id("S11-RUN", "2045-46", agency_key(a)) for a in (f.ICB, f.POLICE)]
    try:
        first = await assure(env, settings, "cycle", "run", "S11-RUN", "--period", "2045-46")
        assert first.returncode == 0, first.stderr
        assert "S11-RUN 2045-46: 2 return(s) asked now, 0 asked already" in first.stdout
        again = await assure(env, settings, "cycle", "run", "S11-RUN", "--period", "2045-46")
        assert "S11-RUN 2045-46: 0 return(s) asked now, 2 asked already" in again.stdout
        missing = await assure(env, settings, "cycle", "run", "NOPE")
        assert missing.returncode == 2 and "there is no cycle 'NOPE'" in missing.stderr
    finally:
        for workflow_id in ids:
            await end_when_idle(env.client.get_workflow_handle(workflow_id))
