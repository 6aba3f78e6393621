"""Hostile plan files are refused within 5 s with a message naming the sheet and the limit, by the
one reader that the CLI and the API share, and the web app stays responsive while it reads."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import uvicorn

from devtools import bombs
from plans.isolated import ReadLimits, read_plan_file
from store.api_tokens import issue_token
from store.db import session_scope
from store.read_model import upsert_registry
from store.tables import Person
from tests.helpers import eventually, free_port
from web.app import create_app

ASSURE = str(Path(sys.executable).parent / "assure")
ADMIN = "secretary@mk.example"

# (builder, file suffix, the sheet named, words of the reason)
BOMBS = [
    (bombs.huge_dimension, ".xlsx", "Actions", "declares its size as A1:XFD1048576"),
    (bombs.huge_cell, ".xlsx", "Actions", "the sheet unpacks to 256 MB; the limit for one part"),
    (bombs.huge_entry, ".xlsx", "bomb.xlsx", "xl/media/image1.png unpacks to 512 MB"),
    # 120,000 rows, not the benchmark's 300,000: those take 3.5 s of the 4 s here just to open, so
    # a loaded machine reached the time limit (also a refusal, but not the one this case shows).
    (lambda path: bombs.many_rows(path, count=120_000), ".xlsx", "Actions", "more than 50000 rows"),
    (lambda path: bombs.many_rows(path, declared=True), ".xlsx", "Actions", "declares its size as A1:A300000"),
    (bombs.wide_rows, ".xlsx", "Actions", "reading stopped after 4 s, the limit"),
    (bombs.yaml_aliases, ".yaml", "bomb.yaml", "repeated through aliases (*) expand to more than 2,000,000"),
    (bombs.yaml_recursive, ".yaml", "bomb.yaml", "a value contains itself through an alias"),
    (bombs.yaml_many_values, ".yaml", "bomb.yaml", "reading stopped after 4 s, the limit"),
    (bombs.csv_huge_field, ".csv", "CSV", "the cell holds more than 32,767 characters"),
    (bombs.csv_many_lines, ".csv", "CSV", "more than 50000 rows"),
    (bombs.csv_wide, ".csv", "CSV", "2,000,001 columns; the limit is 256"),
]


class TestEachBombIsRefused:
    @pytest.mark.parametrize(("build", "suffix", "sheet", "reason"), BOMBS, ids=lambda v: getattr(v, "__name__", None))
    def test_refused_within_5_s_naming_the_sheet_and_the_limit(self, tmp_path, build, suffix, sheet, reason):
        """Each bomb is refused, before or while parsing, within 5 s, by the sheet and the limit."""
        path = build(tmp_path / f"bomb{suffix}")
        started = time.perf_counter()
        _, problems = read_plan_file(path)
        elapsed = time.perf_counter() - started
        assert [p.sheet for p in problems][:1] == [sheet], problems
        assert reason in problems[0].reason, problems
        assert elapsed < 5, f"refused after {elapsed:.1f} s"

    def test_a_read_past_the_memory_limit_is_stopped_and_said_so(self, tmp_path):
        """A file that needs more memory than the limit is stopped by the kernel and refused so."""
        path = bombs.yaml_many_values(tmp_path / "values.yaml")
        _, problems = read_plan_file(path, ReadLimits(seconds=30, memory_bytes=400 * 1024 * 1024))
        assert [(p.sheet, p.reason.split(",")[0]) for p in problems] == [
            ("values.yaml", "reading needed more than 400 MB of memory")
        ]

    def test_a_plan_still_reads_through_the_limits(self, tmp_path):
        """A real plan passes every limit and reads as it did in process."""
        from plans.sheets import read_plan_file as read_in_process

        example = Path(__file__).parents[2] / "examples" / "mk-together-2022-23.xlsx"
        assert read_plan_file(example) == read_in_process(example)


def test_the_cli_refuses_a_bomb_in_the_same_words(tmp_path):
    """`assure import` reads through the same limits: exit 2 and the located message."""
    path = bombs.huge_dimension(tmp_path / "bomb.xlsx")
    env = {**os.environ, "ASSURE_STATE_DIR": str(tmp_path / "state"),
           "ASSURE_DATABASE_URL": f"sqlite:///{tmp_path / 'assure.db'}",
           "ASSURE_TEMPORAL_ADDRESS": "127.0.0.1:1"}  # fmt: skip
    result = subprocess.run([ASSURE, "import", str(path)], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines()[1].startswith("  Actions: the sheet declares its size as A1:XFD1048576")


async def test_healthz_answers_at_once_while_a_bomb_upload_is_read(env, settings, database_url, tmp_path):
    """While the app reads a bomb until its time limit, /healthz keeps answering in well under a second,
    and the upload gets its located refusal."""
    with session_scope(database_url) as session:
        upsert_registry(session=session, agencies=[], people=[Person(email=ADMIN, roles="admin")], boards=[])
    with session_scope(database_url) as session:
        token = issue_token(session=session, email=ADMIN)
    body = bombs.wide_rows(tmp_path / "bomb.xlsx").read_bytes()
    port = free_port()
    app = create_app(settings, client=env.client)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, access_log=False, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: server.started or serving.done(), timeout=10)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            upload = asyncio.create_task(client.post(
                "/api/plans", files={"file": ("bomb.xlsx", body)}, headers={"Authorization": f"Bearer {token}"}
            ))  # fmt: skip
            latencies = []
            while not upload.done():
                started = time.perf_counter()
                assert (await client.get("/healthz")).status_code == 200
                latencies.append(time.perf_counter() - started)
                await asyncio.sleep(0.02)
            refused = await upload
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, timeout=10)
    assert refused.status_code == 400
    [problem] = refused.json()["problems"]
    assert problem["sheet"] == "Actions" and problem["reason"].startswith("reading stopped after 4 s, the limit")
    assert len(latencies) > 50, "the upload should have taken the whole time limit"
    assert max(latencies) < 0.5, f"/healthz took up to {max(latencies) * 1000:.0f} ms"
