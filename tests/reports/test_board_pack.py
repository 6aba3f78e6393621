"""The monthly board pack and the export, from the read model a real run wrote."""

from __future__ import annotations

import asyncio
import csv
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from models.payloads import SubmitPlansInput
from reports.charts import rag_bars_svg, stage_bars_svg
from tests import factories as f
from tests.helpers import decide, eventually, stored_row, today

ASSURE = str(Path(sys.executable).parent / "assure")


async def assure(database_url: str, *args: str, temporal: str = "127.0.0.1:1") -> subprocess.CompletedProcess:
    environment = {**os.environ, "ASSURE_DATABASE_URL": database_url, "ASSURE_TEMPORAL_ADDRESS": temporal}
    return await asyncio.to_thread(
        subprocess.run, [ASSURE, *args], env=environment, capture_output=True, text=True, timeout=60
    )


async def test_the_pack_shows_the_months_state_and_the_export_holds_every_row(env, start, database_url, tmp_path):
    day = await today(env)
    await start(f.start("PACK-LATE", actions=[f.action("A1", day - timedelta(days=20))]))
    handle = await start(f.start("PACK-SIGN", actions=[f.action("A1", day + timedelta(days=30))]))
    await decide(handle, "complete_action", {"by": f.OWNER, "action_id": "A1", "evidence": "Done"})
    dissemination, audit = f.credible_plans(day)
    await decide(handle, "submit_plans", SubmitPlansInput(by=f.OWNER, dissemination=dissemination, audit=audit))
    await eventually(lambda: (row := stored_row(database_url, "PACK-LATE")) is not None and row.overdue)

    out = tmp_path / "pack.html"
    temporal = env.client.service_client.config.target_host
    made = await assure(database_url, "report", "--month", f"{day:%Y-%m}", "--out", str(out), temporal=temporal)
    assert made.returncode == 0, made.stderr
    html = out.read_text()
    assert f"Assurance Board pack: {day:%B %Y}" in html
    awaiting = html.split("Awaiting sign-off (1)")[1].split("<h2>")[0]
    assert "PACK-SIGN" in awaiting and "Nothing: ready to sign off" in awaiting
    red = html.split("Overdue and escalated (1)")[1].split("<h2>")[0]
    assert "PACK-LATE" in red and f.ICB in red and "sponsoring board" in red
    assert (
        "Dissemination and audit plans submitted" in html
        and "<svg" in html
        and "<script" not in html
        and "http" not in html.replace("http://www.w3.org/2000/svg", "")
    )
    # Without Temporal the pack is still made, and says the gaps were not checked.
    unchecked = await assure(database_url, "report", "--out", str(tmp_path / "unchecked.html"))
    assert unchecked.returncode == 0 and "gaps are not checked" in unchecked.stderr
    assert "Not checked: the workflow could not be asked" in (tmp_path / "unchecked.html").read_text()
    bad = await assure(database_url, "report", "--month", "November")
    assert bad.returncode == 2 and "not a month like 2026-11" in bad.stderr

    exported = tmp_path / "plan.csv"
    assert (await assure(database_url, "export", "--out", str(exported))).returncode == 0
    with exported.open(newline="") as handle_:
        rows = {row["ref"]: row for row in csv.DictReader(handle_)}
    assert (rows["PACK-LATE"]["rag"], rows["PACK-SIGN"]["stage"]) == ("red", "sign_off")
    workbook = tmp_path / "plan.xlsx"
    assert (await assure(database_url, "export", "--out", str(workbook))).returncode == 0
    from openpyxl import load_workbook

    assert load_workbook(workbook)["Recommendations"].max_row == 3


def test_charts_escape_their_labels_and_describe_themselves():
    svg = rag_bars_svg("By board", {"<Adults & Co>": {"red": 2, "green": 1}}, chart_id="b")
    assert "&lt;Adults &amp; Co&gt;" in svg and "<Adults" not in svg
    assert '<desc id="b-d">&lt;Adults &amp; Co&gt;: 2 red, 1 green</desc>' in svg
    assert 'aria-labelledby="b-t b-d"' in svg
    assert svg.count("<rect") == 4  # two bar segments and a key of the two colours used
    assert ">Red</text>" in svg and ">Green</text>" in svg and ">Amber</text>" not in svg
    # Two charts on one page never share an id (a screen reader would read the wrong title).
    stages = stage_bars_svg("By stage", {"Review Board": {"sign_off": 1, "audit": 2}}, chart_id="s")
    assert '<title id="s-t">By stage</title>' in stages and "Review Board: 1 sign off, 2 audit" in stages


async def test_the_pack_says_which_open_reviews_repeat_an_earlier_reviews_theme(env, start, database_url):
    from datetime import UTC, datetime

    from models.payloads import SourceKind
    from models.reviews import Review
    from reports.board_pack import board_pack_data, render_board_pack
    from store.db import session_scope
    from store.reviews import write_reviews

    day = await today(env)
    earlier = Review(review_ref="DHR-FIRST", kind=SourceKind.dhr, title="The first DHR", board="Review Board",
                     notified_on=day - timedelta(days=800), themes=["domestic abuse"])  # fmt: skip
    later = Review(review_ref="DHR-AGAIN", kind=SourceKind.dhr, title="The second DHR", board="Review Board",
                   notified_on=day - timedelta(days=10), themes=["Domestic  abuse", "coercive control"])  # fmt: skip
    with session_scope(database_url) as session:
        write_reviews(session=session, reviews=[earlier, later], now=datetime.now(UTC))
    payload = f.start("PACK-THEME", actions=[f.action("A1", day + timedelta(days=30))])
    recommendation = payload.recommendation.model_copy(update={"review_ref": "DHR-AGAIN"})
    await start(payload.model_copy(update={"recommendation": recommendation}))
    await eventually(lambda: stored_row(database_url, "PACK-THEME"))
    with session_scope(database_url) as session:
        pack = board_pack_data(session=session, month=day.replace(day=1), now=await env.get_current_time())
    since = (day - timedelta(days=800)).year
    assert pack.repeats == [
        ("DHR-AGAIN", "The second DHR", [f"Domestic abuse has come up in 1 earlier review since {since}"])
    ]
    assert "Themes coming round again (1)" in render_board_pack(pack)
