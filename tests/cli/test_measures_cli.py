"""Impact measures on the command line: `assure measures REF [--json]`, run as a person runs it,
against the test's Temporal server and store."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

from gateway.workflows import recommendation_status
from models.payloads import Direction, ImportedReading, MeasureSpec, MeasureUnit
from tests import factories as f

ASSURE = str(Path(sys.executable).parent / "assure")


async def assure(env, settings, *args: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "ASSURE_DATABASE_URL": settings.database_url,
                   "ASSURE_TEMPORAL_ADDRESS": env.client.service_client.config.target_host}  # fmt: skip
    return await asyncio.to_thread(
        subprocess.run, [ASSURE, *args], env=environment, capture_output=True, text=True, timeout=60
    )


# Counted nowhere yet: no baseline, no target, so no data whatever is read.
UNCOUNTED = MeasureSpec(
    measure_id="M2", name="Health visiting records with the child's voice", unit=MeasureUnit.percent,
    direction=Direction.up, reporter=f.REPORTER,
)  # fmt: skip


async def measured(start, ref: str):
    """M1 read twice, short of its line both times (64% against 75.1% expected; 70% against the
    target of 90%, with a note in brackets), and owing no more past its target date; M2 never
    counted, without a target, so read each quarter while the recommendation runs."""
    readings = [
        ImportedReading(measure_id="M1", value=64, on=date(2023, 9, 14)),
        ImportedReading(measure_id="M1", value=70, on=date(2024, 6, 1), note="[band 5] staff audited"),
    ]
    begun = f.start(ref, measures=[f.measure(every="P6M"), UNCOUNTED])
    return await start(begun.model_copy(update={"readings": readings}))


class TestShowMeasures:
    async def test_the_json_is_the_status_measures(self, env, start, settings):
        """`--json` prints the workflow's own view of each measure, readings oldest first."""
        await measured(start, "CLI-MEASURES")
        shown = await assure(env, settings, "measures", "CLI-MEASURES", "--json")
        assert 0 == shown.returncode, shown.stderr
        status = await recommendation_status(env.client, "CLI-MEASURES")
        expected = {"ref": "CLI-MEASURES", "measures": [m.model_dump(mode="json") for m in status.measures]}
        assert expected == json.loads(shown.stdout)
        m1, m2 = json.loads(shown.stdout)["measures"]
        assert ("off_track", 90, [64, 70]) == (m1["on_track"], m1["expected"], [r["value"] for r in m1["readings"]])
        assert ("no_data", None, []) == (m2["on_track"], m2["baseline"], m2["readings"])

    async def test_the_table_says_where_each_measure_stands_in_words(self, env, start, settings):
        """Each measure: its track in the word table's words, baseline and target with their dates,
        the latest reading against the line, who reports it and how often, then every figure; a
        note's brackets are text, not Rich markup."""
        await measured(start, "CLI-MEASURES-T")
        table = await assure(env, settings, "measures", "CLI-MEASURES-T")
        assert 0 == table.returncode, table.stderr
        out = table.stdout
        assert "M1 Qualifying cases with a professionals' meeting held: Off track\n" in out
        assert "  Baseline 60% on 14 March 2023; target 90% by 14 March 2024 (higher is better)\n" in out
        assert "  Latest reading 70% on 1 June 2024, against 90% expected\n" in out
        assert f"  Reported by {f.REPORTER}, every 6 months\n" in out  # past its target date: none owed
        reading = next(line for line in out.splitlines() if "1 June 2024" in line and "Reading" in line)
        assert "70%" in reading and "90%" in reading and "[band 5] staff audited" in reading
        earlier = next(line for line in out.splitlines() if "14 September 2023" in line)
        assert "64%" in earlier and "75.1%" in earlier
        assert "M2 Health visiting records with the child's voice: No data yet\n" in out
        assert "  Baseline not set; target not set (higher is better)\n  No reading yet\n" in out
        assert f"  Reported by {f.REPORTER}, every 3 months; next due " in out  # read while it runs

    async def test_a_recommendation_without_measures_says_so(self, env, start, settings):
        """No measures: a plain sentence and exit 0; the JSON keeps its shape, empty."""
        await start(f.start("CLI-NO-MEASURES", measures=[]))
        said = await assure(env, settings, "measures", "CLI-NO-MEASURES")
        assert (0, "CLI-NO-MEASURES has no impact measures yet\n") == (said.returncode, said.stdout)
        found = json.loads((await assure(env, settings, "measures", "CLI-NO-MEASURES", "--json")).stdout)
        assert {"ref": "CLI-NO-MEASURES", "measures": []} == found

    async def test_an_unknown_ref_exits_4_as_show_does(self, env, settings, worker):
        """No workflow for the ref: the message `show` gives, and its exit status."""
        unknown = await assure(env, settings, "measures", "NO-SUCH-REF")
        assert 4 == unknown.returncode
        assert "there is no recommendation 'NO-SUCH-REF'\n" == unknown.stderr
