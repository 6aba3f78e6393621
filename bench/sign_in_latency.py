"""Benchmark: does asking for a sign-in link take the same time for a registered address as for
an unknown one? (issue 14, A5: it must, within 10 ms, or the timing says who is registered.)

Run by hand (not in CI):  .venv/bin/python -m bench.sign_in_latency [--requests 100]

The web app is served by uvicorn over HTTP on a free port in this process, on the Temporal dev
server (in memory), with the Assure worker in a process of its own (so each registered address's
sign-in email is really sent), the SQLite store and the mail catcher. ``--requests`` registered
people are put in the registry; then one client posts the sign-in form (with its CSRF token)
for a registered and an unknown address in turn, each address once (the per-address limit
would otherwise stop the sending after five), after a few unmeasured posts to warm up. Prints
the median, 95th percentile and maximum of each kind and the difference of the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import tempfile
import time
from pathlib import Path

import httpx

from bench.lifecycle_throughput import percentile, print_table
from bench.portal_latency import UNLIMITED, serving, web_stack
from devtools.web_forms import csrf_of
from logs import configure_logging
from store.db import init_db, session_scope
from store.read_model import upsert_registry
from store.tables import Person
from web.app import create_app

TASK_QUEUE = "bench-sign-in"
WARM_UP = 4


async def ask(client: httpx.AsyncClient, address: str) -> float:
    """Milliseconds from posting the sign-in form for ``address`` to the whole answer."""
    page = await client.get("/sign-in")
    started = time.perf_counter()
    answer = await client.post("/sign-in", data={"csrf_token": csrf_of(page.text), "email": address})
    elapsed = (time.perf_counter() - started) * 1000
    if answer.status_code != 200 or "Check your email" not in answer.text:
        raise SystemExit(f"unexpected answer {answer.status_code} for a sign-in request")
    return elapsed


async def main(requests: int) -> None:
    configure_logging(fmt="json", level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        database_url = f"sqlite:///{Path(tmp) / 'assure.db'}"
        init_db(database_url)
        total = requests + WARM_UP
        registered = [f"member.{i:04d}@agency.example" for i in range(total)]
        unknown = [f"stranger.{i:04d}@elsewhere.example" for i in range(total)]
        with session_scope(database_url) as session:
            upsert_registry(
                session=session,
                agencies=[],
                boards=[],
                people=[Person(email=address, name="Member", roles="assurance_member") for address in registered],
            )
        # One client asks for every address.
        async with web_stack(database_url, rate_limit_sign_in=UNLIMITED) as (env, settings, web_port, _):
            times: dict[str, list[float]] = {"registered": [], "unknown": []}
            async with serving(create_app(settings, client=env.client), web_port):
                async with httpx.AsyncClient(base_url=settings.base_url, timeout=60) as client:
                    for i in range(total):
                        for kind, addresses in (("registered", registered), ("unknown", unknown)):
                            elapsed = await ask(client, addresses[i])
                            if i >= WARM_UP:
                                times[kind].append(elapsed)
    rows = [
        [kind, f"{len(t)}", f"{percentile(t, 50):.1f}", f"{percentile(t, 95):.1f}", f"{max(t, default=math.nan):.1f}"]
        for kind, t in times.items()
    ]
    print_table("POST /sign-in", ["address", "posts", "median ms", "p95 ms", "max ms"], rows)
    difference = percentile(times["registered"], 50) - percentile(times["unknown"], 50)
    print(f"difference of the medians: {difference:+.1f} ms (must be within 10 ms)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100, help="posts of each kind, measured")
    asyncio.run(main(parser.parse_args().requests))
