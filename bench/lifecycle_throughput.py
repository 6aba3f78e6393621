"""Benchmark: recommendations driven through their whole lifecycle by Updates, against bare Temporal.

Run by hand (not in CI):  .venv/bin/python -m bench.lifecycle_throughput [N] [--concurrency C] [--rounds R]
(defaults 200, 20 and 3)

On the dev server (in memory) with one Assure worker, N recommendations with two actions each
are started and taken to ``assured`` by seven Updates each (acknowledge both actions, complete
both, submit credible plans, sign off, record an embedded audit), C recommendations at a time.
In the same run, on the same server and first (so that Assure is never helped by a warmer
server), a minimal workflow defined here, with one no-op Update handler, is driven the same way:
started, then given as many Updates as a recommendation takes, C at a time, by its own worker.
Prints both and the ratio of their update rates (the issue's target: at least 0.5). The two
runs are repeated R times in turn on the same server (new workflows each round), since one
round's ratio moves by a tenth from run to run on a small machine; the table is the round with
the median ratio, and every round's ratio is listed under it.

Starting each workflow is inside the timed window in both runs. An Assure decision answers
before its transition is written to the store, and the store's writes and the mail run on the
store and mail queues (by default in a worker process of their own): they are still being done
when the last Update returns. The time from then until every recommendation's workflow has
closed (every transition stored, every email sent) is reported on its own line and is not part
of the rates.

This module also holds the small helpers the other benchmarks share (the machine's header line,
aligned tables, percentiles). Its imports at the top are kept to the standard library and
temporalio because the workflow sandbox imports this module again for every run of
``BareWorkflow``; the rest of Assure is imported inside the functions. Info logs are off
(warnings still show).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import platform
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from temporalio import workflow

from workflows.search_attributes import KEYS as SEARCH_ATTRIBUTE_KEYS

if TYPE_CHECKING:
    from temporalio.testing import WorkflowEnvironment

# --- shared by the benchmarks -------------------------------------------------------------


def total_ram() -> str:
    """The machine's memory from /proc/meminfo, in GiB ("?" where there is no /proc)."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) / 1024**2:.1f} GiB"
    except OSError:
        pass
    return "?"


def command_line(module: str) -> str:
    """How this benchmark was run, as a person would type it again."""
    python = os.path.relpath(sys.executable) if sys.executable.startswith(os.getcwd()) else sys.executable
    return " ".join([python, "-m", module, *map(shlex.quote, sys.argv[1:])])


def header(module: str) -> str:
    """One line: the machine (CPUs, platform, RAM), the date and the command."""
    when = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    machine = f"{os.cpu_count()} CPUs, {platform.platform()}, {total_ram()} RAM"
    return f"# {machine}; {when}; {command_line(module)}"


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain-text table: the first column left-aligned, the others right-aligned."""
    cells = [[str(c) for c in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        first, *rest = row
        return "  ".join([first.ljust(widths[0]), *(c.rjust(w) for c, w in zip(rest, widths[1:], strict=True))])

    print(title)
    print(line(cells[0]))
    print("  ".join("-" * w for w in widths))
    for row in cells[1:]:
        print(line(row))


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by nearest rank; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


async def in_lanes(n: int, concurrency: int, one: Callable[[int], Awaitable[None]]) -> float:
    """Run ``one(i)`` for i in 0..n-1, ``concurrency`` at a time; the wall time in seconds."""
    indices = iter(range(n))

    async def lane() -> None:
        for i in indices:  # one iterator shared by every lane: each index is taken once
            await one(i)

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(max(1, min(concurrency, n)))))
    return time.perf_counter() - started


def mail_worker_process(settings, temporal_address: str, *, nice: bool = True, log: Any = None) -> subprocess.Popen:
    """An Assure worker serving only the background work (the store and mail queues), in a process
    of its own, by default at a lower CPU priority as the README suggests for a busy partnership
    (``terminate()`` it at the end); its log goes to ``log`` (a file) when given, else to stderr."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("ASSURE_")}
    env |= {
        "ASSURE_WORKER_SERVES": "mail",
        "ASSURE_TEMPORAL_ADDRESS": temporal_address,
        "ASSURE_TASK_QUEUE": settings.task_queue,
        "ASSURE_DATABASE_URL": settings.database_url,
        "ASSURE_SMTP_HOST": settings.smtp_host,
        "ASSURE_SMTP_PORT": str(settings.smtp_port),
        "ASSURE_SECRET_KEY": settings.secret_key.get_secret_value(),
        "ASSURE_LOG_FORMAT": "json",
    }
    command = [*(["nice", "-n", "10"] if nice else []), sys.executable, "-m", "cli", "worker"]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log)


async def start_dev_server(port: int | None = None) -> WorkflowEnvironment:
    """The dev server every benchmark runs on: in memory, with Assure's search attributes, no UI."""
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.testing import WorkflowEnvironment

    from gateway.workflows import dev_server_path

    return await WorkflowEnvironment.start_local(
        search_attributes=SEARCH_ATTRIBUTE_KEYS,
        dev_server_existing_path=dev_server_path(),
        data_converter=pydantic_data_converter,
        ui=False,
        port=port,
    )


def mailcatcher_process(port: int, database_url: str) -> subprocess.Popen:
    """The mail catcher in a process of its own and at a lower CPU priority, standing in for a
    relay on another machine: its work is not Assure's (``terminate()`` it at the end)."""
    env = {**os.environ, "ASSURE_SMTP_HOST": "127.0.0.1", "ASSURE_SMTP_PORT": str(port)}
    env["ASSURE_DATABASE_URL"] = database_url
    command = ["nice", "-n", "10", sys.executable, "-m", "cli", "mailcatcher"]
    # A line per caught message would bury the benchmark's own output; a catcher that fails shows
    # in the figures as mail missing from the sent log.
    catcher = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:  # serving once it accepts a connection
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return catcher
        except OSError:
            if catcher.poll() is not None or time.monotonic() > deadline:
                catcher.kill()
                raise RuntimeError("the mail catcher did not start") from None
            time.sleep(0.1)


# --- the bare Temporal baseline -----------------------------------------------------------


@workflow.defn
class BareWorkflow:
    """The least a workflow driven by Updates can be: it counts them, and ends after ``updates``."""

    @workflow.init
    def __init__(self, updates: int) -> None:
        self._count = 0

    @workflow.run
    async def run(self, updates: int) -> int:
        await workflow.wait_condition(lambda: self._count >= updates and workflow.all_handlers_finished())
        return self._count

    @workflow.update
    def touch(self) -> int:
        self._count += 1
        return self._count


# --- the benchmark ------------------------------------------------------------------------


def lifecycle_steps(today) -> list[tuple[str, Any]]:
    """The nine Updates that take a recommendation with two actions from ``action`` to ``assured``."""
    from devtools import sample_data as f
    from models.payloads import (
        AcknowledgeInput,
        AuditOutcome,
        CompleteActionInput,
        ConfirmCascadeInput,
        RecordAuditInput,
        SignOffInput,
        SubmitPlansInput,
    )

    dissemination, audit = f.credible_plans(today)
    return [
        ("acknowledge", AcknowledgeInput(by=f.OWNER, action_id="A1")),
        ("acknowledge", AcknowledgeInput(by=f.OWNER_2, action_id="A2")),
        ("complete_action", CompleteActionInput(by=f.OWNER, action_id="A1", evidence="Briefed 14 teams")),
        ("complete_action", CompleteActionInput(by=f.OWNER_2, action_id="A2", evidence="Protocol revised")),
        ("submit_plans", SubmitPlansInput(by=f.OWNER, dissemination=dissemination, audit=audit)),
        ("sign_off", SignOffInput(by=f.ASSURANCE, note="Credible plans")),
        (
            "confirm_cascade",
            ConfirmCascadeInput(by=f.ICB_LEAD, agency=f.ICB, reached=f.ICB_REACH, done_on=today),
        ),
        (
            "confirm_cascade",
            ConfirmCascadeInput(by=f.POLICE_LEAD, agency=f.POLICE, reached=f.POLICE_REACH, done_on=today),
        ),
        (
            "record_audit",
            RecordAuditInput(by=f.AUDITOR, outcome=AuditOutcome.embedded, findings="Embedded", early_reason="At once"),
        ),
    ]


class Run:
    """What one side of the comparison measured."""

    def __init__(self, n: int, updates_each: int) -> None:
        self.n = n
        self.updates_each = updates_each
        self.latencies: list[float] = []  # one per Update, in ms
        self.seconds = math.nan
        self.failures = 0

    @property
    def updates_per_second(self) -> float:
        return self.n * self.updates_each / self.seconds

    def column(self) -> list[str]:
        return [
            f"{self.n}",
            f"{self.updates_each}",
            f"{self.seconds:.1f}",
            f"{self.n / self.seconds:.1f}",
            f"{self.updates_per_second:.1f}",
            f"{percentile(self.latencies, 50):.0f}",
            f"{percentile(self.latencies, 95):.0f}",
            f"{max(self.latencies, default=math.nan):.0f}",
            f"{self.failures}",
        ]


async def bare_run(client, n: int, concurrency: int, updates_each: int, *, round_no: int = 0) -> Run:
    """The minimal workflow, started and updated ``updates_each`` times, ``concurrency`` at a time."""
    from temporalio.worker import Worker

    from settings import Settings
    from worker import workflow_runner

    run = Run(n, updates_each)

    async def one(i: int) -> None:
        handle = await client.start_workflow(
            BareWorkflow.run, updates_each, id=f"bare-{round_no}-{i:06d}", task_queue="bench-bare"
        )
        for _ in range(updates_each):
            started = time.perf_counter()
            await handle.execute_update(BareWorkflow.touch)
            run.latencies.append((time.perf_counter() - started) * 1000)

    # Run as Assure's workflows run in production (unsandboxed, by default), for a like comparison.
    runner = workflow_runner(sandboxed=Settings(_env_file=None).workflow_sandbox)
    async with Worker(client, task_queue="bench-bare", workflows=[BareWorkflow], workflow_runner=runner):
        run.seconds = await in_lanes(n, concurrency, one)
    return run


async def assure_run(
    client, settings, n: int, concurrency: int, *, split_mail: bool, round_no: int = 0
) -> tuple[Run, float]:
    """Recommendations through their lifecycle by Updates; also the seconds until all have closed.
    With ``split_mail`` the worker here serves the decisions, and a second process the mail."""
    from concurrent.futures import ThreadPoolExecutor
    from datetime import date, timedelta

    from devtools import sample_data as f
    from devtools.local_stack import worker_maker
    from gateway.workflows import decide, start_recommendation
    from models.payloads import Stage

    today = date.today()
    steps = lifecycle_steps(today)
    run = Run(n, len(steps))
    handles = []

    async def one(i: int) -> None:
        ref = f"BENCH-{round_no}-{i:06d}"
        start = f.start(ref, actions=f.two_actions(today + timedelta(days=60), today + timedelta(days=75)))
        handles.append(await start_recommendation(client, start, task_queue=settings.task_queue))
        status = None
        for name, payload in steps:
            started = time.perf_counter()
            status = await decide(client, ref, name, payload)
            run.latencies.append((time.perf_counter() - started) * 1000)
        if status is None or status.stage is not Stage.assured:
            run.failures += 1

    mail_worker = None
    if split_mail:
        mail_worker = mail_worker_process(settings, client.service_client.config.target_host)
        settings = settings.model_copy(update={"worker_serves": "decisions"})
    with ThreadPoolExecutor(max_workers=8) as executor:
        async with worker_maker(client, settings=settings, executor=executor)():
            run.seconds = await in_lanes(n, concurrency, one)
            # Closing (the last emails delivered) is the worker's business after the decisions.
            started = time.perf_counter()
            polls = asyncio.Semaphore(500)  # the dev server allows about 1,200 long polls

            async def closed(handle) -> None:
                async with polls:
                    await handle.result()

            await asyncio.wait_for(asyncio.gather(*(closed(h) for h in handles)), timeout=max(600, n * 3))
            closing = time.perf_counter() - started
    if mail_worker is not None:
        mail_worker.terminate()
        mail_worker.wait()
    return run, closing


async def main(
    n: int, concurrency: int, database: str | None = None, *, mail_in_worker: bool = False, rounds: int = 3
) -> None:
    import tempfile
    from pathlib import Path

    from pydantic import SecretStr

    from devtools.local_stack import free_port
    from logs import configure_logging
    from settings import Settings
    from store.db import init_db

    configure_logging(fmt="json", level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        database_url = database or f"sqlite:///{Path(tmp) / 'assure.db'}"
        init_db(database_url)
        smtp_port = free_port()
        # The caught mail in a file of its own: a real relay is not the store's business.
        catcher = mailcatcher_process(smtp_port, f"sqlite:///{Path(tmp) / 'mail.db'}")
        env = await start_dev_server()
        settings = Settings(
            _env_file=None, task_queue="bench-assure", database_url=database_url, smtp_port=smtp_port,
            secret_key=SecretStr("x" * 48),
        )  # fmt: skip
        results = []  # (ratio, bare, assure, closing) per round
        try:
            updates_each = len(lifecycle_steps(datetime.now().date()))
            for round_no in range(rounds):
                bare = await bare_run(env.client, n, concurrency, updates_each, round_no=round_no)
                assure, closing = await assure_run(
                    env.client, settings, n, concurrency, split_mail=not mail_in_worker, round_no=round_no
                )
                results.append((assure.updates_per_second / bare.updates_per_second, bare, assure, closing))
        finally:
            await env.shutdown()
            catcher.terminate()
            catcher.wait()
    ratio, bare, assure, closing = sorted(results, key=lambda result: result[0])[(len(results) - 1) // 2]
    names = [
        "workflows",
        "updates per workflow",
        "wall time, s (starts included)",
        "workflows/s",
        "updates/s",
        "update latency median, ms",
        "update latency p95, ms",
        "update latency max, ms",
        "not assured (Assure) / failed",
    ]
    print()
    print(header("bench.lifecycle_throughput"))
    where = "in the decisions' worker" if mail_in_worker else "in a worker process of its own (nice 10)"
    print_table(
        f"Lifecycle throughput: dev server (in memory), one worker each, {concurrency} at a time; "
        f"Assure's store writes and mail {where}",
        ["", "Assure", "bare Temporal"],
        [[name, a, b] for name, a, b in zip(names, assure.column(), bare.column(), strict=True)],
    )
    print(f"Assure updates/s ÷ bare updates/s: {ratio:.2f}   (the issue's target: at least 0.5)")
    print(f"  every round, in order: {', '.join(f'{result[0]:.2f}' for result in results)} (the table is the median)")
    print(
        "Assure, after its last Update until every workflow closed (every transition stored, "
        f"every email sent): {closing:.1f} s"
    )


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=200, help="workflows on each side (default 200)")
    parser.add_argument("--concurrency", type=int, default=20, help="workflows driven at a time (default 20)")
    parser.add_argument(
        "--database", metavar="URL", help="the store (default: a new SQLite file), e.g. an empty PostgreSQL database"
    )
    parser.add_argument("--rounds", type=int, default=3, help="bare and Assure runs in turn (default 3)")
    parser.add_argument(
        "--mail-in-worker",
        action="store_true",
        help="serve Assure's background work (the store's writes, the mail) from the worker that takes the decisions "
        "(default: a worker process of its own)",
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    options = parse()
    if options.rounds < 1 or options.n < 1 or options.concurrency < 1:
        raise SystemExit("N, --concurrency and --rounds must each be at least 1")
    mail_in_worker, rounds = options.mail_in_worker, options.rounds
    asyncio.run(main(options.n, options.concurrency, options.database, mail_in_worker=mail_in_worker, rounds=rounds))
