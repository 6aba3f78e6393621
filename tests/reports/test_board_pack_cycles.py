"""The board pack's assurance cycles section, from returns' rows as their workflows write them:
each cycle's latest period, how many agencies returned of how many asked, who has not, and per
standard how many agencies rate it met, partly met or not met, with the period before beside."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from models.cycle_lifecycle import ReturnProjection
from models.cycle_returns import CommittedAction, Rating, ReturnStage, StandardAnswer
from models.cycles import agency_key, return_workflow_id
from reports.board_pack import board_pack_data, render_board_pack
from store.cycle_returns import record_cycle_return
from store.cycles import write_cycles
from store.db import session_scope
from tests import factories as f
from tests.models.test_cycles import section_11

NOW = datetime(2026, 9, 1, 9, tzinfo=UTC)
PRISON = "HMP Woodhill"


def _returned(database_url: str, period: str, agency: str, stage: ReturnStage, ratings: dict[str, Rating]) -> None:
    answers = [
        StandardAnswer(standard_id=k, rating=v, evidence="Audit of 20 files",
                       action=None if v is Rating.met else CommittedAction(description="Retrain", owner=f.OWNER,
                                                                           due=date(2027, 3, 31)))
        for k, v in ratings.items()
    ]  # fmt: skip
    data = ReturnProjection(
        workflow_id=return_workflow_id("S11", period, agency_key(agency)), cycle_id="S11", period=period,
        agency=agency, board="Review Board", stage=stage, due_on=date(int(period[:4]), 7, 1), ratings=ratings,
        answers=answers, submitted_at=NOW if ratings else None, accepted_at=None, version=3, at=NOW,
    )  # fmt: skip
    with session_scope(database_url) as session:
        record_cycle_return(session=session, data=data)


@pytest.fixture
def cycles(database_url) -> None:
    """Two periods of the Section 11 audit: last year both agencies returned (the ICB partly
    meeting standard 2); this year the ICB does not meet it, the police meet both, and the prison
    has not returned. A second cycle has no period yet."""
    with session_scope(database_url) as session:
        write_cycles(session=session, now=NOW, cycles=[
            section_11(board="Review Board"),
            section_11(cycle_id="RESTRAINT", name="Oakhill restraint review", cadence="half-yearly from 1 April"),
        ])  # fmt: skip
    met, partly, not_met = Rating.met, Rating.partly_met, Rating.not_met
    _returned(database_url, "2025-26", f.ICB, ReturnStage.accepted, {"1": met, "2": partly})
    _returned(database_url, "2025-26", f.POLICE, ReturnStage.accepted, {"1": met, "2": met})
    _returned(database_url, "2026-27", f.ICB, ReturnStage.submitted, {"1": met, "2": not_met})
    _returned(database_url, "2026-27", f.POLICE, ReturnStage.accepted, {"1": met, "2": met})
    _returned(database_url, "2026-27", PRISON, ReturnStage.awaiting, {})


def _pack(database_url: str):
    with session_scope(database_url) as session:
        return board_pack_data(session=session, month=date(2026, 9, 1), now=NOW)


class TestCyclesSection:
    def test_each_cycle_stands_at_its_latest_period_beside_the_one_before(self, database_url, cycles):
        """2026-27 of the Section 11 audit: 2 of 3 returned, the prison not; standard 2 met by the
        police and not met by the ICB, where last year one agency met it and one partly."""
        restraint, s11 = _pack(database_url).cycles
        assert (s11.period, s11.previous, s11.returned, s11.asked, s11.not_returned) == (
            "2026-27",
            "2025-26",
            2,
            3,
            [PRISON],
        )
        assert {"met": 1, "partly_met": 0, "not_met": 1} == s11.counts[1].now
        assert {"met": 1, "partly_met": 1, "not_met": 0} == s11.counts[1].before
        assert (restraint.period, restraint.asked, restraint.counts[0].before) == ("", 0, None)

    def test_the_section_says_it_in_words_with_last_period_in_brackets(self, database_url, cycles):
        """A heading per cycle, the returned and not-returned line, and a table of the ratings in
        words with last period's counts beside this period's; a cycle not started says so."""
        html = render_board_pack(_pack(database_url))
        section = html.split("<h2>Assurance cycles (2)</h2>")[1].split("<h2>")[0]
        s11 = section.split("Section 11 audit (Review Board): 2026-27</h3>")[1]
        assert f"<p><strong>Returned:</strong> 2 of 3. <strong>Not returned:</strong> {PRISON}.</p>" in s11
        assert '<th scope="col">Met</th><th scope="col">Partly met</th><th scope="col">Not met</th>' in s11
        standard_2 = s11.split("<td>2. Staff trained to their role</td>")[1].split("</tr>")[0]
        assert standard_2 == (
            '<td>1 <span class="muted">(1)</span></td><td>0 <span class="muted">(1)</span></td>'
            '<td>1 <span class="muted">(0)</span></td>'
        )
        assert "Oakhill restraint review (Assurance Board)</h3>" in section
        assert "No period has started yet (half-yearly from 1 April)." in section
        assert "<caption" in s11 and "2025-26 in brackets" in s11
