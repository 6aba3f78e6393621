"""The board pack's cascade section, from a read model the projection wrote for recommendations at
each point of the cascade: partly confirmed, overdue, and complete and audited this month."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from models.lifecycle import Lifecycle
from models.payloads import (
    AuditOutcome,
    CompleteActionInput,
    ConfirmCascadeInput,
    Decision,
    RecordAuditInput,
    SignOffInput,
    Stage,
    SubmitPlansInput,
)
from reports.board_pack import board_pack_data, render_board_pack
from reports.charts import reach_bars_svg
from store.db import session_scope
from store.read_model import apply_projection
from tests import factories as f

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)
MONTH = date(2026, 3, 1)


def _signed_off(ref: str, at: datetime) -> Lifecycle:
    """A recommendation whose action is done and whose plans the Assurance Board signed off at ``at``."""
    life = Lifecycle.begin(
        f.start(ref, actions=[f.action("A1", at.date() + timedelta(days=30))]), workflow_id=f"rec-{ref}", now=at
    )
    dissemination, audit = f.credible_plans(at.date())
    _take(life, at, CompleteActionInput(by=f.OWNER, action_id="A1", evidence="Guidance v2 published"))
    _take(life, at, SubmitPlansInput(by=f.OWNER, dissemination=dissemination, audit=audit))
    _take(life, at, SignOffInput(by=f.ASSURANCE))
    return life


def _take(life: Lifecycle, at: datetime, decision: Decision) -> None:
    life.check(decision, at)
    life.apply(decision, at)


def _confirm(life: Lifecycle, at: datetime, by: str, agency: str, reached: int, note: str = "") -> None:
    _take(
        life,
        at,
        ConfirmCascadeInput(
            by=by, agency=agency, reached=reached, channels=["7-minute briefing"], done_on=at.date(), note=note
        ),
    )


@pytest.fixture
def cascades(database_url) -> dict[str, Lifecycle]:
    """PACK-PART: the ICB confirmed 60 of 120 this month, the police not yet. PACK-LATE: signed off
    in November, the ICB in full then, the police silent past ``cascade_by``. PACK-DONE: both in
    full this month, then audited early."""
    part = _signed_off("PACK-PART", NOW)
    _confirm(part, NOW, f.ICB_LEAD, f.ICB, 60, note="Night staff are briefed in April")

    signed = NOW - timedelta(days=130)
    late = _signed_off("PACK-LATE", signed)
    _confirm(late, signed + timedelta(days=1), f.ICB_LEAD, f.ICB, f.ICB_REACH)
    late.fire_due(NOW)

    done = _signed_off("PACK-DONE", NOW)
    _confirm(done, NOW, f.ICB_LEAD, f.ICB, f.ICB_REACH)
    _confirm(done, NOW, f.POLICE_LEAD, f.POLICE, f.POLICE_REACH)
    audit = RecordAuditInput(by=f.AUDITOR, outcome=AuditOutcome.embedded, early_reason="Asked for by the board")
    _take(done, NOW, audit)

    lives = {"PACK-PART": part, "PACK-LATE": late, "PACK-DONE": done}
    for life in lives.values():
        with session_scope(database_url) as session:
            apply_projection(session=session, data=f.projection_of(life, NOW))
    return lives


def _pack(database_url: str):
    with session_scope(database_url) as session:
        return board_pack_data(session=session, month=MONTH, now=NOW + timedelta(hours=1))


def _section(html: str) -> str:
    return html.split("<h2>Cascade")[1].split("<h2>")[0]


class TestCascadeSection:
    def test_the_section_lists_the_open_cascades_overdue_first(self, database_url, cascades):
        """The overdue cascade comes first, then the one waiting; the audited one is not listed."""
        assert Stage.cascade == cascades["PACK-LATE"].state.stage
        assert Stage.assured == cascades["PACK-DONE"].state.stage
        pack = _pack(database_url)
        assert ["PACK-LATE", "PACK-PART"] == [item.summary.ref for item in pack.cascades]
        late, part = pack.cascades
        assert (True, "red", (NOW - timedelta(days=10)).date(), 80) == (
            late.cascade.cascade_overdue, late.summary.rag, late.cascade.cascade_by, late.cascade.reach_threshold
        )  # fmt: skip
        assert (False, True, "amber", 30) == (
            part.cascade.cascade_overdue, part.cascade.cascade_short, part.summary.rag, part.cascade.reach_percent
        )  # fmt: skip

    def test_each_row_names_the_unconfirmed_agencies_and_those_below_the_threshold(self, database_url, cascades):
        """Per recommendation: who has not confirmed (lead, overdue or waiting), who fell short, the overall reach."""
        section = _section(render_board_pack(_pack(database_url)))
        assert section.startswith(": the learning going out to staff (2)</h2>")
        late, part = section.split("<td>PACK-LATE<br>")[1].split("<td>PACK-PART<br>")
        assert late.startswith('<span class="rag red">red</span>') and part.startswith('<span class="rag amber">')
        lead = f'<span class="muted">lead: {f.POLICE_LEAD}</span>'
        assert f"<li>{f.POLICE}: <strong>overdue</strong><br>{lead}</li>" in late
        assert "20 February 2026 (passed)" in late and '60%<br><span class="muted">threshold 80%</span>' in late
        assert f"<li>{f.ICB}:" not in late.split("</ul>")[0]  # the ICB confirmed in full
        assert f"<li>{f.POLICE}: waiting<br>{lead}</li>" in part
        assert f"<li>{f.ICB}: 60 of 120 staff (50%)</li>" in part
        assert "30 June 2026" in part and '30%<br><span class="muted">threshold 80%</span>' in part
        assert "PACK-DONE" not in section.split("<h3>")[0]

    def test_the_reach_chart_and_its_table_sum_every_open_cascade_and_the_months(self, database_url, cascades):
        """The chart counts the two open cascades and the one completed this month; a silent agency reached none."""
        pack = _pack(database_url)
        assert 3 == pack.reach_counted
        # The ICB: 60 + 120 + 120 of 3 x 120; the police: 0 + 0 + 80 of 3 x 80.
        assert [(f.ICB, 300, 360, 83), (f.POLICE, 80, 240, 33)] == [
            (r.agency, r.reached, r.expected, r.percent) for r in pack.reach
        ]
        section = _section(render_board_pack(pack))
        reach = section.split("<h3>Staff reached, by agency</h3>")[1]
        assert "Summed over 3 recommendations" in reach
        assert '<title id="reach-t">Staff the learning reached, by agency</title>' in reach
        described = f"{f.ICB}: 300 reached, 60 not confirmed; {f.POLICE}: 80 reached, 160 not confirmed"
        assert f'<desc id="reach-d">{described}</desc>' in reach
        assert f"<tr><td>{f.ICB}</td><td>300</td><td>360</td><td>83%</td></tr>" in reach
        assert f"<tr><td>{f.POLICE}</td><td>80</td><td>240</td><td>33%</td></tr>" in reach

    def test_the_months_changes_include_the_confirmations(self, database_url, cascades):
        """An agency's confirmation is a change the board sees, in the timeline's words."""
        changes = render_board_pack(_pack(database_url)).split("<h2>What changed")[1]
        assert "The learning reached an agency&#39;s staff" in changes
        assert f"{f.ICB}: 60 of 120 staff reached" in changes

    def test_without_cascades_the_section_says_so_and_draws_no_chart(self, database_url):
        """An empty read model: a plain sentence, no reach chart."""
        section = _section(render_board_pack(_pack(database_url)))
        assert "No recommendation is waiting for its agencies to confirm the cascade." in section
        assert "<svg" not in section


def test_the_reach_chart_draws_an_over_reach_whole_and_escapes_names():
    """A reach above the plan's is one full bar; an agency's name is escaped in the label and the description."""
    svg = reach_bars_svg("Reach", {"<Police & Co>": (90, 80), "ICB": (30, 120)}, chart_id="r")
    assert "&lt;Police &amp; Co&gt;: 90 reached; ICB: 30 reached, 90 not confirmed" in svg
    assert "<Police" not in svg
    assert ">Staff reached</text>" in svg and ">Not confirmed as reached</text>" in svg
