"""Benchmark: a leaver's N recommendations passed to a successor; the time it takes and the mail.

Run by hand (not in CI):  .venv/bin/python -m bench.leaver_hand_over [N] [--others M]
(default N 500, M 500)

On the dev server (in memory), with the worker in a process of its own (``bench.scale_timers``'s),
N recommendations with an action owned by the leaver and M owned by someone else are started and
stored. Then, timed from the registry's record of the leaving (``store.people.record_leaving``) to
the hand-over workflow's end (``gateway.people``): every open recommendation is asked to hand over
(the others answer "unchanged"), the registry's change reaches every running workflow, and the
successor is emailed once. Reports the phases, the emails the hand-over sent (the sent log's count
before and after) and how many recommendations moved.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlmodel import func, select

from bench.lifecycle_throughput import header, in_lanes, print_table, start_dev_server
from bench.scale_timers import bench_settings, counts, spawn_worker, stop_worker
from devtools import sample_data as f
from devtools.local_stack import free_port
from devtools.mailcatcher import start_mailcatcher
from gateway.people import hand_over_progress, start_hand_over
from gateway.workflows import recommendation_status, start_recommendation
from logs import configure_logging
from store.db import init_db, session_scope
from store.read_model import upsert_registry
from store.tables import SentMail

TASK_QUEUE = "bench-leaver"
STARTS_IN_FLIGHT = 32


def sent_count(database_url: str) -> int:
    with session_scope(database_url) as session:
        return session.exec(select(func.count()).select_from(SentMail)).one()


async def main(n: int, others: int) -> None:
    from store.people import record_leaving

    configure_logging(fmt="json", level=logging.WARNING)
    today = date.today()
    with tempfile.TemporaryDirectory() as tmp:
        database_url = f"sqlite:///{Path(tmp) / 'assure.db'}"
        init_db(database_url)
        agencies, people, boards = f.registry_rows()
        with session_scope(database_url) as session:
            upsert_registry(session=session, agencies=agencies, people=people, boards=boards)
        smtp_port, port = free_port(), free_port()
        catcher = start_mailcatcher(host="127.0.0.1", port=smtp_port, database_url=database_url)
        env = await start_dev_server(port)
        settings = bench_settings(
            address=f"127.0.0.1:{port}", task_queue=TASK_QUEUE, database_url=database_url, smtp_port=smtp_port
        )
        worker = spawn_worker(settings, None)
        try:
            total = n + others

            async def start(i: int) -> None:
                owner = f.OWNER if i < n else f.OWNER_2
                due = today + timedelta(days=90 + i % 180)
                begin = f.start(f"LEAVER-{i:06d}", actions=[f.action("A1", due, owner=owner)])
                await start_recommendation(env.client, begin, task_queue=TASK_QUEUE)

            starting = await in_lanes(total, STARTS_IN_FLIGHT, start)
            while counts(database_url)[0] < total:
                if worker.poll() is not None:
                    raise SystemExit(f"the worker process ended with status {worker.returncode}")
                await asyncio.sleep(0.5)
            # Wait for the starts' own mail to settle, so the count after is the hand-over's alone.
            settled = -1
            while (now_sent := sent_count(database_url)) != settled:
                settled = now_sent
                await asyncio.sleep(3)
            before = sent_count(database_url)

            began = time.perf_counter()
            with session_scope(database_url) as session:
                record = record_leaving(
                    session, leaver=f.OWNER, successor=f.NEW_OWNER, by=f.ICB_LEAD, today=today, now=datetime.now(UTC)
                )
            recorded = time.perf_counter() - began
            workflow_id = await start_hand_over(
                env.client, settings, leaver=f.OWNER, successor=f.NEW_OWNER, by=f.ICB_LEAD,
                registry_moved=record.moved,
            )  # fmt: skip
            progress = await hand_over_progress(env.client, workflow_id, wait=True)
            handed = time.perf_counter() - began
            while not (mailed := sent_count(database_url) - before):
                await asyncio.sleep(0.2)
            await asyncio.sleep(3)  # anything more the hand-over made would be in by now
            mailed = sent_count(database_url) - before
            check = await recommendation_status(env.client, "LEAVER-000000")
            assert f.NEW_OWNER == check.actions[0].owner, "the first recommendation did not move"
        finally:
            stop_worker(worker)
            await env.shutdown()
            catcher.stop()
    print()
    print(header("bench.leaver_hand_over"))
    print_table(
        f"A leaver's {n} recommendations (and {others} of others) passed to a successor: dev server, SQLite",
        ["measure", "value"],
        [
            ["recommendations started and stored", f"{total} ({starting:.1f} s to start)"],
            ["registry's record of the leaving", f"{recorded * 1000:.0f} ms"],
            ["hand-over, recorded to finished", f"{handed:.1f} s"],
            ["  per open recommendation asked", f"{handed / total * 1000:.1f} ms"],
            ["recommendations moved", f"{len(progress.moved)} of {n}"],
            ["could not be moved", f"{len(progress.failed)}"],
            ["emails sent by the hand-over", f"{mailed}"],
        ],
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=500, help="the leaver's recommendations (default 500)")
    parser.add_argument("--others", type=int, default=500, help="others' recommendations asked too (default 500)")
    options = parser.parse_args()
    asyncio.run(main(options.n, options.others))
