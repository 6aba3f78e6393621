"""Benchmark: the owners' response pages under concurrent clients, on the real stack.

Run by hand (not in CI):  .venv/bin/python -m bench.portal_latency [--clients 20] [--requests 200]

The web app (``web.app.create_app``) is served by uvicorn over HTTP on a free port in this
process, on the Temporal dev server (in memory), with the Assure worker in a process of its own
(``bench.scale_timers --serve-worker``), the SQLite store and the mail catcher. Enough
recommendations (two actions each) are started for every owner link to be used once, and the
benchmark waits until their task emails have gone. Then ``--clients`` httpx clients, each with
its own connections, go through owner links concurrently, as ``tests.web_client.Browser`` does:
GET ``/r/<token>`` (the page, with its CSRF token), POST ``acknowledge``, GET the page it
redirects to, POST ``report_progress`` with the new page's token, GET the page again: five
requests a link, until ``--requests`` requests in all (rounded up to whole links) have been
made, after one unmeasured page to warm up. Prints the median, 95th percentile and maximum
latency and the throughput of the GETs and of the POSTs separately (throughput: requests of
that kind over the whole run's wall time).

The clients run in the same process (and event loop) as the web server, so the latencies include
some of the clients' own time. Info logs are off (warnings still show).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlmodel import func, select
from temporalio.testing import WorkflowEnvironment

from bench.lifecycle_throughput import header, in_lanes, percentile, print_table, start_dev_server
from bench.scale_timers import bench_settings, spawn_worker, stop_worker
from devtools import sample_data as f
from devtools.local_stack import free_port
from devtools.mailcatcher import start_mailcatcher
from devtools.web_forms import csrf_of, token_for
from gateway.workflows import start_recommendation
from logs import configure_logging
from settings import Settings
from store.db import init_db, session_scope
from store.tables import SentMail
from web.app import create_app

TASK_QUEUE = "bench-portal"
REQUESTS_PER_LINK = 5
# Far above what the clients can reach: the limits are per client address, and every client here
# is 127.0.0.1, so the defaults (120 pages and 30 decisions a minute) would refuse most requests.
UNLIMITED = "1000000/minute"


@asynccontextmanager
async def serving(app, port: int) -> AsyncIterator[None]:
    """The app served over HTTP by uvicorn, in this event loop, until the block ends."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, access_log=False, log_level="warning"))
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(200):
            if server.started or task.done():
                break
            await asyncio.sleep(0.05)
        if not server.started:
            raise RuntimeError(f"uvicorn did not start: {task.exception() if task.done() else 'still starting'}")
        yield
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)


@asynccontextmanager
async def web_stack(database_url: str, **limits: str) -> AsyncIterator[tuple[WorkflowEnvironment, Settings, int, Any]]:
    """The mail catcher, a dev server, a worker process and the settings for a web app on a free
    port, over the store at ``database_url``, until the block ends: (env, settings, web port, worker)."""
    smtp_port, temporal_port, web_port = free_port(), free_port(), free_port()
    catcher = start_mailcatcher(host="127.0.0.1", port=smtp_port, database_url=database_url)
    env = await start_dev_server(temporal_port)
    settings = bench_settings(
        address=f"127.0.0.1:{temporal_port}",
        task_queue=TASK_QUEUE,
        database_url=database_url,
        smtp_port=smtp_port,
        base_url=f"http://127.0.0.1:{web_port}",
        **limits,
    )
    worker = spawn_worker(settings, None)
    try:
        yield env, settings, web_port, worker
    finally:
        stop_worker(worker)
        await env.shutdown()
        catcher.stop()


def emails_sent(database_url: str) -> int:
    with session_scope(database_url) as session:
        return session.exec(select(func.count()).select_from(SentMail)).one()


class Latencies:
    """Milliseconds per request, by method, and the requests that did not answer as expected."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {"GET": [], "POST": []}
        self.errors: dict[str, int] = {"GET": 0, "POST": 0}

    async def request(self, client: httpx.AsyncClient, method: str, path: str, expected: int, **kwargs):
        started = time.perf_counter()
        response = await client.request(method, path, **kwargs)
        self.times[method].append((time.perf_counter() - started) * 1000)
        if response.status_code != expected:
            self.errors[method] += 1
        return response


async def use_link(client: httpx.AsyncClient, token: str, action_id: str, measured: Latencies) -> None:
    """What an owner does with one link: open, acknowledge, report progress, each page seen."""
    path = f"/r/{token}"
    page = await measured.request(client, "GET", path, 200)
    for decision, fields in (
        ("acknowledge", {"action_id": action_id}),
        ("report_progress", {"action_id": action_id, "note": "Guidance drafted; briefings booked"}),
    ):
        posted = await measured.request(
            client, "POST", f"{path}/{decision}", 303, data={"csrf_token": csrf_of(page.text), **fields}
        )
        if posted.status_code != 303:
            return
        page = await measured.request(client, "GET", posted.headers["location"], 200)


async def main(clients: int, requests: int) -> None:
    configure_logging(fmt="json", level=logging.WARNING)
    links_needed = math.ceil(requests / REQUESTS_PER_LINK)
    n = math.ceil(links_needed / 2)
    today = date.today()
    with tempfile.TemporaryDirectory() as tmp:
        database_url = f"sqlite:///{Path(tmp) / 'assure.db'}"
        init_db(database_url)
        # Limits raised for the run: see UNLIMITED.
        stack = web_stack(database_url, rate_limit_pages=UNLIMITED, rate_limit_decisions=UNLIMITED)
        async with stack as (env, settings, web_port, worker):
            refs = [f"PORTAL-{i:05d}" for i in range(n)]

            async def start(i: int) -> None:
                actions = f.two_actions(today + timedelta(days=60), today + timedelta(days=75))
                await start_recommendation(env.client, f.start(refs[i], actions=actions), task_queue=TASK_QUEUE)

            await in_lanes(n, 16, start)
            # Every task email sent: the worker has nothing left to do before the clients begin.
            waited_from = time.perf_counter()
            while emails_sent(database_url) < 2 * n:
                if worker.poll() is not None:
                    raise SystemExit(f"the worker process ended with status {worker.returncode}")
                if time.perf_counter() - waited_from > max(300, n):
                    raise SystemExit(f"only {emails_sent(database_url)} of {2 * n} task emails were sent")
                await asyncio.sleep(0.5)

            links = [
                (token_for(settings, owner, ref, "owner", action_id), action_id)
                for ref in refs
                for owner, action_id in ((f.OWNER, "A1"), (f.OWNER_2, "A2"))
            ][:links_needed]
            measured = Latencies()
            app = create_app(settings, client=env.client)
            async with serving(app, web_port):
                sessions = [
                    httpx.AsyncClient(base_url=settings.base_url, timeout=60) for _ in range(min(clients, len(links)))
                ]
                # One page first, unmeasured: the templates are compiled on the first request.
                (await sessions[0].get(f"/r/{links[0][0]}")).raise_for_status()
                remaining = iter(links)

                async def client_lane(client: httpx.AsyncClient) -> None:
                    for token, action_id in remaining:  # shared: each link is used by one client
                        await use_link(client, token, action_id, measured)

                started = time.perf_counter()
                await asyncio.gather(*(client_lane(c) for c in sessions))
                wall = time.perf_counter() - started
                for client in sessions:
                    await client.aclose()
    rows = []
    for method, what in (("GET", "GET /r/<token>"), ("POST", "POST acknowledge, report_progress")):
        times = measured.times[method]
        rows.append(
            [
                what,
                f"{len(times)}",
                f"{measured.errors[method]}",
                f"{percentile(times, 50):.0f}",
                f"{percentile(times, 95):.0f}",
                f"{max(times, default=math.nan):.0f}",
                f"{len(times) / wall:.1f}",
            ]
        )
    total = sum(len(t) for t in measured.times.values())
    print()
    print(header("bench.portal_latency"))
    print_table(
        f"Response pages: uvicorn + dev server + one worker process, {len(sessions)} concurrent clients, "
        f"{len(links)} owner links on {n} recommendations, {wall:.1f} s",
        ["requests", "count", "unexpected", "median ms", "p95 ms", "max ms", "per s"],
        rows,
    )
    print(f"All requests: {total} in {wall:.1f} s, {total / wall:.1f} per second.")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20, help="concurrent HTTP clients (default 20)")
    parser.add_argument("--requests", type=int, default=200, help="requests in all, across clients (default 200)")
    options = parser.parse_args()
    asyncio.run(main(options.clients, options.requests))
