"""Benchmark: a simulated partnership year on the time-skipping test server.

Run by hand (not in CI):  .venv/bin/python -m bench.partnership_year [N] [--days D] [--seed S]
(defaults 500 recommendations, 365 days, seed 2026)

N recommendations are started on day 0, each with two actions due between one and eleven
months later, under the default escalation policy. Every action's owner is given one behaviour
by a seeded random choice: 50% answer on time (acknowledge within the first four days, complete
up to two weeks before the due date), 30% late (acknowledge after one to four weeks, complete
three days to seven weeks after the due date) and 20% never. A recommendation whose actions are
all complete has its plans submitted two to ten days later, is signed off three to fourteen days
after that, and has its embedded audit recorded on the audit date, when these fall in the year.

The clock moves a day at a time (to 09:00 UTC, after the day's 08:00 deadlines: see
``devtools.local_stack.skip_to``); the test server holds the clock while the worker has work, so each
day's timers fire, and each day's decisions are then taken by their Updates, eight
recommendations at a time. Prints the wall time, the simulated days, the reminders and
escalations sent (the outbox by kind and level, and the emails of the sent log), and how many
recommendations stand at, and ever reached, each stage. At the end every open recommendation
is withdrawn and the board digests still waiting are sent, so that the server shuts down cleanly.
Info logs are off (warnings still show).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import tempfile
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import select
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from bench.lifecycle_throughput import header, in_lanes, mail_worker_process, mailcatcher_process, print_table
from bench.scale_timers import bench_settings, stop_worker
from bench.stores import add_store_options, store_urls
from devtools import sample_data as f
from devtools.local_stack import drain_digests, free_port, skip_to, worker_maker
from gateway.workflows import (
    DecisionNotTaken,
    decide,
    recommendation_status,
    start_recommendation,
    test_server_path,
    workflow_id_for,
)
from logs import configure_logging
from models.payloads import (
    CLOSED_STAGES,
    AcknowledgeInput,
    AuditOutcome,
    CompleteActionInput,
    ConfirmCascadeInput,
    RecordAuditInput,
    SignOffInput,
    Stage,
    SubmitPlansInput,
    WithdrawInput,
)
from store.db import session_scope
from store.tables import OutboxRow, RecommendationRow, SentMail, TimelineRow
from workflows.search_attributes import register_search_attributes

TASK_QUEUE = "bench-year"
BEHAVIOURS = {"on time": 0.5, "late": 0.3, "never": 0.2}
IN_FLIGHT = 8  # decisions (on different recommendations) at a time
SETTLE_SECONDS = 2.0


@dataclass
class Decision:
    day: int
    name: str
    payload: Any


@dataclass
class Scenario:
    """One recommendation's year: its actions, and the decisions to take and when."""

    ref: str
    actions: list
    behaviours: list[str]
    decisions: list[Decision] = field(default_factory=list)


def scenario(i: int, rng: random.Random, day0: date, days: int) -> Scenario:
    """Recommendation ``i``: two actions with owners who answer on time, late or never."""
    ref = f"YEAR-{i:05d}"
    owners = [(f.OWNER, f.ICB), (f.OWNER_2, f.POLICE)]
    actions, behaviours, decisions, finished = [], [], [], []
    first_due = rng.randint(30, 300)
    for k, (owner, agency) in enumerate(owners):
        due_day = min(first_due + rng.randint(0, 30) * k, 330)
        action_id = f"A{k + 1}"
        actions.append(f.action(action_id, day0 + timedelta(days=due_day), owner=owner, agency=agency))
        behaviour = rng.choices(list(BEHAVIOURS), weights=list(BEHAVIOURS.values()))[0]
        behaviours.append(behaviour)
        if behaviour == "never":
            continue
        if behaviour == "on time":
            acknowledged = rng.randint(1, 4)
            completed = max(acknowledged + 1, due_day - rng.randint(0, 14))
        else:
            acknowledged = rng.randint(8, 28)
            completed = due_day + rng.randint(3, 49)
        decisions += [
            Decision(acknowledged, "acknowledge", AcknowledgeInput(by=owner, action_id=action_id)),
            Decision(completed, "complete_action", CompleteActionInput(by=owner, action_id=action_id,
                                                                       evidence="Briefings delivered")),
        ]  # fmt: skip
        finished.append(completed)
    if len(finished) == len(owners):
        submitted = max(finished) + rng.randint(2, 10)
        dissemination, audit = f.credible_plans(day0 + timedelta(days=submitted))
        assert audit.audit_on is not None
        signed = submitted + rng.randint(3, 14)
        decisions += [
            Decision(submitted, "submit_plans", SubmitPlansInput(by=f.OWNER, dissemination=dissemination, audit=audit)),
            Decision(signed, "sign_off", SignOffInput(by=f.ASSURANCE, note="Credible plans")),
            # Most agencies confirm their cascade within a few months; some never do (and escalate).
            *(
                Decision(
                    signed + rng.randint(5, 110),
                    "confirm_cascade",
                    ConfirmCascadeInput(by=lead, agency=agency, reached=reach, done_on=day0 + timedelta(days=signed)),
                )
                for lead, agency, reach in ((f.ICB_LEAD, f.ICB, f.ICB_REACH), (f.POLICE_LEAD, f.POLICE, f.POLICE_REACH))
                if rng.random() < 0.8
            ),
            Decision(
                (audit.audit_on - day0).days,
                "record_audit",
                RecordAuditInput(by=f.AUDITOR, outcome=AuditOutcome.embedded, findings="Embedded in practice"),
            ),
        ]
    return Scenario(ref, actions, behaviours, [d for d in decisions if d.day <= days])


async def settle(database_url: str, *, limit: float = 120.0) -> None:
    """Wait until the store stops changing (the worker has handled what the clock last fired)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    last = None
    while loop.time() < deadline:
        with session_scope(database_url) as session:
            now = (
                session.exec(select(func.count()).select_from(OutboxRow)).one(),
                session.exec(select(func.count()).select_from(SentMail)).one(),
                session.exec(select(func.count()).select_from(TimelineRow)).one(),
            )
        if now == last:
            return
        last = now
        await asyncio.sleep(SETTLE_SECONDS)


def mail_tables(database_url: str) -> tuple[list[list[str]], list[list[str]]]:
    """The outbox by kind and level with the emails sent for each, and both by level alone."""
    with session_scope(database_url) as session:
        notices = session.exec(
            select(OutboxRow.kind, OutboxRow.level, func.count()).group_by(OutboxRow.kind, OutboxRow.level)
        ).all()
        emails = session.exec(
            select(SentMail.kind, OutboxRow.level, func.count())
            .join(OutboxRow, OutboxRow.key == SentMail.notification_key, isouter=True)
            .group_by(SentMail.kind, OutboxRow.level)
        ).all()
    by_kind: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for kind, level, count in notices:
        by_kind[(kind, level or "")][0] += count
    for kind, level, count in emails:
        by_kind[(kind, level or "")][1] += count
    by_level: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for (_, level), (notified, sent) in by_kind.items():
        by_level[level or "(none)"][0] += notified
        by_level[level or "(none)"][1] += sent
    kinds = [[kind, level or "-", str(n), str(m)] for (kind, level), (n, m) in sorted(by_kind.items())]
    order = ["owner", "agency_lead", "sponsoring_board", "assurance_board", "(none)"]
    levels = [[level, str(n), str(m)] for level, (n, m) in sorted(by_level.items(), key=lambda x: order.index(x[0]))]
    return kinds, levels


def stage_table(database_url: str) -> list[list[str]]:
    """How many recommendations stand at each stage, and how many ever entered it."""
    with session_scope(database_url) as session:
        standing = Counter(
            dict(session.exec(select(RecommendationRow.stage, func.count()).group_by(RecommendationRow.stage)).all())
        )
        reached = Counter(
            dict(
                session.exec(
                    select(TimelineRow.kind, func.count(func.distinct(TimelineRow.ref)))
                    .where(TimelineRow.kind.startswith("stage:"))
                    .group_by(TimelineRow.kind)
                ).all()
            )
        )
    return [[stage.value, str(standing[stage.value]), str(reached[f"stage:{stage.value}"])] for stage in Stage]


@dataclass
class YearRun:
    """One year on one store: its figures by measure, and the count tables of the store."""

    figures: dict[str, str]
    levels: list[list[str]]
    kinds: list[list[str]]
    stages: list[list[str]]


async def run_on(database_url: str, n: int, days: int, seed: int, directory: Path) -> YearRun:
    """The year on one store, with a time-skipping server, a background worker process and a mail
    catcher of its own (so that one store's run leaves nothing for the next)."""
    smtp_port = free_port()
    # The catcher stands in for a relay on another machine: a process of its own, keeping what
    # it catches in a file of its own, so that it never waits on the store's writer.
    catcher = mailcatcher_process(smtp_port, f"sqlite:///{directory / 'mail.db'}")
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter, test_server_existing_path=test_server_path()
    )
    await register_search_attributes(env.client)
    settings = bench_settings(
        address=env.client.service_client.config.target_host, task_queue=TASK_QUEUE,
        database_url=database_url, smtp_port=smtp_port, worker_serves="decisions",
    )  # fmt: skip
    # The store's writes and the mail in a second process, on the second core: the test server
    # holds its clock until every activity of the day has run, so the year waits on the slower of
    # the two processes rather than on both in turn. Its log (a line per transition) goes to a
    # file, so that the tables stay readable, and is shown should the process end.
    log_path = directory / "background-worker.log"
    worker_log = log_path.open("w")
    background = mail_worker_process(settings, settings.temporal_address, nice=False, log=worker_log)
    refused: Counter[str] = Counter()
    try:
        with ThreadPoolExecutor(max_workers=8) as executor:
            async with worker_maker(env.client, settings=settings, executor=executor)():
                began = time.perf_counter()
                day0 = (await env.get_current_time()).date()
                rng = random.Random(seed)
                scenarios = [scenario(i, rng, day0, days) for i in range(n)]

                async def start(i: int) -> None:
                    begin = f.start(scenarios[i].ref, actions=scenarios[i].actions)
                    await start_recommendation(env.client, begin, task_queue=TASK_QUEUE)

                await in_lanes(n, IN_FLIGHT, start)
                by_day: dict[int, dict[str, list[Decision]]] = defaultdict(lambda: defaultdict(list))
                for s in scenarios:
                    for d in s.decisions:
                        by_day[d.day][s.ref].append(d)
                taken = 0
                for day in range(1, days + 1):
                    if background.poll() is not None:
                        tail = log_path.read_text().splitlines()[-20:]
                        ended = f"the background worker ended with status {background.returncode}"
                        raise SystemExit(ended + ":\n" + "\n".join(tail))
                    await skip_to(env, day0 + timedelta(days=day), deadline=timedelta(minutes=30))
                    todays = list(by_day.get(day, {}).items())

                    async def take(j: int, todays=todays) -> None:
                        nonlocal taken
                        ref, decisions = todays[j]
                        for d in decisions:
                            try:
                                await decide(env.client, ref, d.name, d.payload)
                                taken += 1
                            except DecisionNotTaken as exc:
                                refused[f"{d.name}: {exc.type}"] += 1

                    await in_lanes(len(todays), IN_FLIGHT, take)
                await settle(database_url)
                simulated = time.perf_counter() - began
                clock = (await env.get_current_time()).date()
                kinds, levels = mail_tables(database_url)
                stages = stage_table(database_url)
                behaviour_counts = Counter(b for s in scenarios for b in s.behaviours)

                # Close everything, so that no timer is left for the server's shutdown.
                closing = time.perf_counter()
                statuses = [await recommendation_status(env.client, s.ref) for s in scenarios]
                still_open = [s.ref for s in statuses if s.stage not in CLOSED_STAGES]

                async def withdraw(j: int) -> None:
                    await decide(env.client, still_open[j], "withdraw",
                                 WithdrawInput(by=f.SPONSOR, reason="End of the benchmark year"))  # fmt: skip

                await in_lanes(len(still_open), IN_FLIGHT, withdraw)
                with env.auto_time_skipping_disabled():
                    for s in scenarios:
                        await asyncio.wait_for(env.client.get_workflow_handle(workflow_id_for(s.ref)).result(), 60)
                await drain_digests(env, database_url)
                closed = time.perf_counter() - closing
    finally:
        stop_worker(background)
        worker_log.close()
        await env.shutdown()
        catcher.terminate()
        catcher.wait()
    figures = {
        "simulated days": f"{days} (to {clock})" if clock != day0 + timedelta(days=days) else f"{days}",
        "wall time (starts, the year, settling)": f"{simulated:.1f} s",
        "wall time per simulated day": f"{simulated / days * 1000:.0f} ms",
        "decisions taken by Updates": f"{taken:,}",
        "decisions refused": f"{sum(refused.values())}" + (f" {dict(refused)}" if refused else ""),
        "owners: on time / late / never": " / ".join(str(behaviour_counts[b]) for b in BEHAVIOURS),
        "withdrawing the open ones and closing all": f"{closed:.1f} s ({len(still_open)} withdrawn)",
    }
    return YearRun(figures, levels, kinds, stages)


def side_by_side(title: str, headers: list[str], names: list[str], tables: list[list[list[str]]], keys: int) -> None:
    """One count table with each store's columns in turn: the first ``keys`` columns name a row."""
    rows: dict[tuple[str, ...], dict[int, list[str]]] = defaultdict(dict)
    for s, table in enumerate(tables):
        for row in table:
            rows[tuple(row[:keys])][s] = row[keys:]
    width = len(headers) - keys
    print_table(
        title,
        [*headers[:keys], *(f"{column}, {name}" for name in names for column in headers[keys:])],
        [[*key, *(cell for s in range(len(names)) for cell in by_store.get(s, ["-"] * width))]
         for key, by_store in rows.items()],
    )  # fmt: skip


async def main(sizes: list[int], days: int, seed: int, postgres: str | None) -> None:
    configure_logging(fmt="json", level=logging.WARNING)
    results: list[tuple[int, list[str], list[YearRun]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            with store_urls(Path(tmp) / f"n{n}", postgres) as stores:
                runs = []
                for name, url in stores:
                    # The catcher's file and the worker's log apart for each run.
                    directory = Path(tmp) / f"n{n}" / name
                    directory.mkdir(parents=True)
                    runs.append(await run_on(url, n, days, seed, directory))
                    print(f"# {n:,} on {name}: done", flush=True)
                results.append((n, [name for name, _ in stores], runs))
    print()
    print(header("bench.partnership_year"))
    for n, names, runs in results:
        print_table(
            f"A partnership year on the time-skipping server: {n:,} recommendations, seed {seed}",
            ["measure", *names],
            [[measure, *(run.figures[measure] for run in runs)] for measure in runs[0].figures],
        )
        print()
        side_by_side("Notifications by level (outbox rows; emails in the sent log)", ["level", "outbox", "emails"],
                     names, [run.levels for run in runs], keys=1)  # fmt: skip
        print()
        side_by_side("Notifications by kind and level", ["kind", "level", "outbox", "emails"],
                     names, [run.kinds for run in runs], keys=2)  # fmt: skip
        print("A board_escalation reaches the board's sponsor and chair in their daily board_digest email;")
        print("anyone else it names is emailed at once.")
        print()
        side_by_side("Recommendations by stage at the year's end", ["stage", "at year end", "ever reached"],
                     names, [run.stages for run in runs], keys=1)  # fmt: skip
        print()
    print("Target: a year of 500 recommendations in under 60 s of wall time.")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[500], help="recommendations (default 500)")
    parser.add_argument("--days", type=int, default=365, help="days to simulate (default 365)")
    parser.add_argument("--seed", type=int, default=2026, help="the owners' random choices (default 2026)")
    add_store_options(parser)
    options = parser.parse_args()
    asyncio.run(main(options.sizes, options.days, options.seed, None if options.sqlite_only else options.postgres))
