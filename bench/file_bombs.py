"""Benchmark: how fast each hostile plan file ("file bomb", ``devtools/bombs.py``) is refused, how
large a real plan reads within the limits, and how /healthz answers while a bomb is uploaded.

Run by hand (not in CI):  .venv/bin/python -m bench.file_bombs [--rounds 3]

1. Each bomb is read ``--rounds`` times by ``plans.isolated.read_plan_file`` (the reader the
   CLI and the API share): the median and the slowest refusal, and the message.
2. Generated plans of N recommendations (two actions each) as .xlsx, .yaml and .csv: the read
   time, or the refusal once a plan is past the file size or the time limit.
3. The web app is served by uvicorn on the Temporal test server with a SQLite store; while an
   admin uploads each bomb to POST /api/plans, another client asks /healthz every 10 ms: the
   upload's time and /healthz's latency (median, p95, max).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

import httpx
import uvicorn
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from bench.import_plan import generated
from bench.lifecycle_throughput import header, percentile, print_table
from bench.scale_timers import bench_settings
from devtools import bombs
from devtools.local_stack import free_port
from devtools.plan_files import write_csv, write_xlsx, write_yaml
from gateway.workflows import test_server_path
from plans.isolated import read_plan_file
from store.api_tokens import issue_token
from store.db import init_db, session_scope
from store.read_model import upsert_registry
from store.tables import Person
from web.app import create_app
from workflows.search_attributes import register_search_attributes

BOMBS = [
    ("huge_dimension", bombs.huge_dimension, ".xlsx"),
    ("huge_cell", bombs.huge_cell, ".xlsx"),
    ("huge_entry", bombs.huge_entry, ".xlsx"),
    ("many_rows", bombs.many_rows, ".xlsx"),
    ("wide_rows", bombs.wide_rows, ".xlsx"),
    ("yaml_aliases", bombs.yaml_aliases, ".yaml"),
    ("yaml_recursive", bombs.yaml_recursive, ".yaml"),
    ("yaml_many_values", bombs.yaml_many_values, ".yaml"),
    ("csv_huge_field", bombs.csv_huge_field, ".csv"),
    ("csv_many_lines", bombs.csv_many_lines, ".csv"),
    ("csv_wide", bombs.csv_wide, ".csv"),
]
UPLOADED = ("huge_dimension", "huge_cell", "wide_rows", "yaml_many_values")
ADMIN = "admin@bench.example"


def refusals(directory: Path, rounds: int) -> dict[str, Path]:
    built: dict[str, Path] = {}
    rows = []
    for name, build, suffix in BOMBS:
        path = built[name] = build(directory / f"{name}{suffix}")
        times, problems = [], []
        for _ in range(rounds):
            started = time.perf_counter()
            _, problems = read_plan_file(path)
            times.append(time.perf_counter() - started)
        message = str(problems[0]) if problems else "NOT REFUSED"
        rows.append((name, f"{path.stat().st_size / 1024:,.0f} KB", f"{statistics.median(times):.2f} s",
                     f"{max(times):.2f} s", message[:110]))  # fmt: skip
    print_table("Refusal of each bomb (plans.isolated.read_plan_file)",
                ("bomb", "on disk", "median", "slowest", "first problem"), rows)  # fmt: skip
    return built


def real_plans(directory: Path) -> None:
    rows = []
    for n in (1_000, 5_000, 10_000, 15_000, 20_000):
        plan = generated(n, date.today())
        for suffix, write in ((".xlsx", write_xlsx), (".yaml", write_yaml), (".csv", write_csv)):
            path = write(plan, directory / f"plan-{n}{suffix}")
            started = time.perf_counter()
            _, problems = read_plan_file(path)
            elapsed = time.perf_counter() - started
            outcome = "read" if not problems else str(problems[0])[:80]
            rows.append((f"{n:,} recs, {3 * n:,} rows", suffix, f"{path.stat().st_size / 1024:,.0f} KB",
                         f"{elapsed:.2f} s", outcome))  # fmt: skip
    print_table("Real plans through the same limits", ("plan", "format", "size", "time", "outcome"), rows)


async def uploads(directory: Path, built: dict[str, Path]) -> None:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter, test_server_existing_path=test_server_path()
    )
    await register_search_attributes(env.client)
    database_url = f"sqlite:///{directory / 'assure.db'}"
    init_db(database_url)
    with session_scope(database_url) as session:
        upsert_registry(session=session, agencies=[], people=[Person(email=ADMIN, roles="admin")], boards=[])
    with session_scope(database_url) as session:
        token = issue_token(session=session, email=ADMIN)
    settings = bench_settings(address="127.0.0.1:1", task_queue="bench-bombs", database_url=database_url, smtp_port=1)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, client=env.client), host="127.0.0.1", port=port,
                                           access_log=False, log_level="warning"))  # fmt: skip
    serving = asyncio.create_task(server.serve())
    rows = []
    try:
        while not server.started:
            await asyncio.sleep(0.05)
        async with (
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as uploader,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as prober,
        ):
            # One request each first, so the connections are open and nothing is imported lazily.
            await prober.get("/healthz")
            await uploader.post(
                "/api/plans", files={"file": ("x.pdf", b"%PDF")}, headers={"Authorization": f"Bearer {token}"}
            )
            for name in UPLOADED:
                path = built[name]
                started = time.perf_counter()
                upload = asyncio.create_task(uploader.post(
                    "/api/plans", files={"file": (path.name, path.read_bytes())},
                    headers={"Authorization": f"Bearer {token}"},
                ))  # fmt: skip
                latencies = []
                while not upload.done():
                    asked = time.perf_counter()
                    assert (await prober.get("/healthz")).status_code == 200
                    latencies.append((time.perf_counter() - asked) * 1000)
                    await asyncio.sleep(0.01)
                answer = await upload
                took = time.perf_counter() - started
                rows.append((name, answer.status_code, f"{took:.2f} s", len(latencies),
                             f"{statistics.median(latencies):.1f} ms", f"{percentile(latencies, 95):.1f} ms",
                             f"{max(latencies):.1f} ms"))  # fmt: skip
    finally:
        server.should_exit = True
        await serving
        await env.shutdown()
    print_table("POST /api/plans with a bomb; /healthz meanwhile (every 10 ms, another client)",
                ("bomb", "status", "answered in", "/healthz asks", "median", "p95", "max"), rows)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(header("bench.file_bombs"))
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        built = refusals(directory, args.rounds)
        real_plans(directory)
        asyncio.run(uploads(directory, built))


if __name__ == "__main__":
    main()
