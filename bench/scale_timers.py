"""Benchmark: N recommendations waiting on timers months ahead; the memory they take and the query.

Run by hand (not in CI):  .venv/bin/python -m bench.scale_timers [N ...] [--max-wait SECONDS]
[--postgres URL | --sqlite-only] (default N 10000, max wait 1800 s; SQLite and PostgreSQL side by side)

On the dev server (in memory), N recommendations are started, each with two actions due three
to nine months ahead, so that every workflow sleeps on a timer. The Assure worker runs in a
process of its own (this script again, with ``--serve-worker``; ``bench.portal_latency`` uses it
too), so that its resident memory is its own. Prints the start rate; then, once every
recommendation has recorded its first transition in the read model (or after ``--max-wait``
seconds), the resident memory (VmRSS, and the peak VmHWM) of the worker and of the dev server,
read from ``/proc/<pid>/status``, and the latency of the ``status`` query
(``gateway.workflows.recommendation_status``) over a seeded random sample of 200 refs, one at a
time. The issue's target: the worker stays under 1 GiB.

The worker keeps the SDK's default sticky cache (1,000 workflows) unless ``--max-cached``
says otherwise; a query on a workflow outside the cache replays its history first. Info logs are
off in both processes (warnings still show).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlmodel import func, select

from bench.lifecycle_throughput import (
    header,
    in_lanes,
    mailcatcher_process,
    percentile,
    print_table,
    start_dev_server,
)
from bench.stores import add_store_options, store_urls
from devtools import sample_data as f
from devtools.local_stack import free_port
from gateway.workflows import connect, dev_server_path, recommendation_status, start_recommendation
from logs import configure_logging
from settings import Settings
from store.db import session_scope
from store.tables import RecommendationRow, SentMail

TASK_QUEUE = "bench-timers"
STARTS_IN_FLIGHT = 32
SAMPLE = 200
SEED = 20261126


def bench_settings(*, address: str, task_queue: str, database_url: str, smtp_port: int, **more: Any) -> Settings:
    """The settings of a benchmark's worker and app, built here rather than read from the environment."""
    return Settings(
        _env_file=None, temporal_address=address, task_queue=task_queue, database_url=database_url,
        smtp_port=smtp_port, secret_key=SecretStr("x" * 48), **more,
    )  # fmt: skip


# --- the worker process -------------------------------------------------------------------


async def serve_worker(settings: Settings, max_cached: int | None) -> None:
    """Run one Assure worker (decisions and mail) until this process is terminated."""
    from worker import build_workers

    client = await connect(settings)
    options = {} if max_cached is None else {"max_cached_workflows": max_cached}
    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="activity") as executor:
        workers = build_workers(client, settings=settings, executor=executor, **options)
        await asyncio.gather(*(worker.run() for worker in workers))


def spawn_worker(settings: Settings, max_cached: int | None) -> subprocess.Popen:
    """This module again, as a worker process on ``settings``' server, queue, store and relay."""
    command = [
        sys.executable, "-m", "bench.scale_timers", "--serve-worker", settings.temporal_address,
        settings.task_queue, settings.database_url, str(settings.smtp_port),
    ]  # fmt: skip
    if max_cached is not None:
        command += ["--max-cached", str(max_cached)]
    return subprocess.Popen(command)


def stop_worker(process: subprocess.Popen) -> None:
    """End the worker process this script started (by its own handle, never by name)."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- memory -------------------------------------------------------------------------------


def memory_of(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in KiB, from /proc/<pid>/status."""
    found = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in {"VmRSS", "VmHWM"}:
                found[key] = int(value.split()[0])
    return found


def dev_server_pid(port: int) -> int | None:
    """The pid of the dev server (the bundled ``temporal`` binary) listening on ``port``."""
    binary = os.path.realpath(dev_server_path())
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as raw:
                args = raw.read().decode(errors="replace").split("\0")
            executable = os.path.realpath(f"/proc/{entry}/exe")
        except OSError:
            continue
        if executable != binary and os.path.realpath(args[0]) != binary:
            continue
        if "start-dev" in args and any(a == str(port) and b == "--port" for b, a in zip(args, args[1:], strict=False)):
            return int(entry)
    return None


def mib(kib: int | None) -> str:
    return "?" if kib is None else f"{kib / 1024:.0f} MiB"


# --- the benchmark ------------------------------------------------------------------------


def counts(database_url: str) -> tuple[int, int]:
    """Recommendations in the read model, and emails in the sent log."""
    with session_scope(database_url) as session:
        stored = session.exec(select(func.count()).select_from(RecommendationRow)).one()
        mailed = session.exec(select(func.count()).select_from(SentMail)).one()
    return stored, mailed


async def run_on(database_url: str, n: int, max_wait: float, max_cached: int | None, smtp_port: int) -> dict[str, str]:
    """One run on one store, on a dev server of its own: each figure by its measure."""
    today = date.today()
    port = free_port()
    env = await start_dev_server(port)
    settings = bench_settings(
        address=f"127.0.0.1:{port}", task_queue=TASK_QUEUE, database_url=database_url, smtp_port=smtp_port
    )
    worker = spawn_worker(settings, max_cached)
    try:
        refs = [f"SCALE-{i:06d}" for i in range(n)]

        async def start(i: int) -> None:
            due = today + timedelta(days=90 + i % 180)
            begin = f.start(refs[i], actions=f.two_actions(due, due + timedelta(days=14)))
            await start_recommendation(env.client, begin, task_queue=TASK_QUEUE)

        starting = await in_lanes(n, STARTS_IN_FLIGHT, start)
        waited_from = time.perf_counter()
        while (stored := counts(database_url)[0]) < n and time.perf_counter() - waited_from < max_wait:
            if worker.poll() is not None:
                raise SystemExit(f"the worker process ended with status {worker.returncode}")
            await asyncio.sleep(0.5)
        waited = time.perf_counter() - waited_from
        stored, mailed = counts(database_url)
        worker_memory = memory_of(worker.pid)
        server_pid = dev_server_pid(port)
        server_memory = memory_of(server_pid) if server_pid else {}

        sample = random.Random(SEED).sample(refs, min(SAMPLE, n))
        latencies = []
        for ref in sample:
            began = time.perf_counter()
            await recommendation_status(env.client, ref)
            latencies.append((time.perf_counter() - began) * 1000)
    finally:
        stop_worker(worker)
        await env.shutdown()
    return {
        "start every workflow": f"{starting:.1f} s",
        "starts per second": f"{n / starting:.1f}",
        "first transitions in the read model": f"{stored:,} of {n:,}"
        + ("" if stored >= n else f" (stopped waiting at {max_wait:.0f} s)"),
        "  waited after the last start": f"{waited:.1f} s",
        "  emails in the sent log by then": f"{mailed:,}",
        "worker RSS (VmRSS)": mib(worker_memory.get("VmRSS")),
        "worker peak RSS (VmHWM)": mib(worker_memory.get("VmHWM")),
        "dev server RSS (VmRSS)": mib(server_memory.get("VmRSS")),
        "dev server peak RSS (VmHWM)": mib(server_memory.get("VmHWM")),
        f"status query, {len(sample)} random refs, median": f"{percentile(latencies, 50):.1f} ms",
        "status query, 95th percentile": f"{percentile(latencies, 95):.1f} ms",
        "status query, max": f"{max(latencies):.1f} ms",
    }


async def main(sizes: list[int], max_wait: float, max_cached: int | None, postgres: str | None) -> None:
    configure_logging(fmt="json", level=logging.WARNING)
    tables: list[tuple[int, list[str], dict[str, dict[str, str]]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        smtp_port = free_port()
        # The catcher stands in for a relay on another machine: a process of its own, keeping
        # what it catches in a file of its own, so that it never waits on the store's writer.
        catcher = mailcatcher_process(smtp_port, f"sqlite:///{Path(tmp) / 'mail.db'}")
        try:
            for n in sizes:
                # Each size on fresh stores, so that one run's rows do not slow the next.
                with store_urls(Path(tmp) / f"n{n}", postgres) as stores:
                    figures = {}
                    for name, url in stores:
                        figures[name] = await run_on(url, n, max_wait, max_cached, smtp_port)
                        print(f"# {n:,} on {name}: done", flush=True)
                    tables.append((n, [name for name, _ in stores], figures))
        finally:
            catcher.terminate()
            catcher.wait()
    print()
    print(header("bench.scale_timers"))
    cache = "the SDK's default" if max_cached is None else f"{max_cached}"
    for n, names, figures in tables:
        measures = list(next(iter(figures.values())))
        print_table(
            f"{n:,} recommendations waiting on timers: dev server (in memory), one worker process (cache: {cache})",
            ["measure", *names],
            [[measure, *(figures[name][measure] for name in names)] for measure in measures],
        )
    print("Targets: the worker stays under 400 MiB, and every first transition is stored under 60 s after")
    print("the last start, with 10,000 recommendations.")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[10_000], help="recommendations (default 10000)")
    parser.add_argument("--max-wait", type=float, default=1800, help="seconds to wait for the read model")
    parser.add_argument("--max-cached", type=int, help="the worker's max_cached_workflows (default: the SDK's)")
    add_store_options(parser)
    parser.add_argument("--serve-worker", nargs=4, metavar=("ADDRESS", "TASK_QUEUE", "DATABASE_URL", "SMTP_PORT"),
                        help=argparse.SUPPRESS)  # fmt: skip
    options = parser.parse_args()
    if options.serve_worker:
        address, task_queue, database_url, smtp_port = options.serve_worker
        configure_logging(fmt="json", level=logging.WARNING)
        worker_settings = bench_settings(
            address=address, task_queue=task_queue, database_url=database_url, smtp_port=int(smtp_port)
        )
        asyncio.run(serve_worker(worker_settings, options.max_cached))
    else:
        asyncio.run(
            main(options.sizes, options.max_wait, options.max_cached, None if options.sqlite_only else options.postgres)
        )
