"""The README's run command (`make run`) on a fresh data directory: it comes up with the example
plan imported, answers on the web, stops every child on Ctrl-C, and resumes when run again."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import urllib.request
from datetime import date
from pathlib import Path

import pytest
from temporalio.client import Client

from plans.sheets import read_plan_file
from plans.validate import check_plan
from tests.helpers import free_port
from web.context import PROJECT_ROOT

EXAMPLE = PROJECT_ROOT / "examples" / "mk-together-2022-23.yaml"
pytestmark = [pytest.mark.devserver, pytest.mark.timeout(300)]


def example_refs() -> set[str]:
    sheets, problems = read_plan_file(EXAMPLE)
    plan, more = check_plan(sheets, today=date.today(), shift=date.today() - date(2023, 4, 1))
    assert not problems and not more, [str(p) for p in [*problems, *more]]
    return {r.start.recommendation.ref for r in plan.recommendations}


def group_members(pgid: int) -> list[str]:
    """Every live process in a process group, as "pid command" (zombies are gone already)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(f"{entry.name} {stat.split('(', 1)[1].split(')')[0]}")
    return found


async def answered(url: str, deadline: float, *, wait: float = 1) -> bool:
    """Whether ``url`` answers 200 before ``deadline``, each try given ``wait`` seconds."""
    loop = asyncio.get_running_loop()
    while loop.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=wait) as response:  # noqa: S310 (our own local server)
                if response.status == 200:
                    return True
        except OSError:
            pass
        await asyncio.sleep(0.3)
    return False


async def running_recommendations(address: str, refs: set[str], deadline: float, *, query: str = "") -> set[str]:
    """The running recommendations' refs, once all of ``refs`` are among them (or at the deadline),
    narrowed by a further ``query`` if given."""
    loop = asyncio.get_running_loop()
    client = await Client.connect(address)
    found: set[str] = set()
    while loop.time() < deadline:
        found = set()
        async for execution in client.list_workflows(
            " AND ".join(filter(None, ["WorkflowType = 'RecommendationWorkflow'", query]))
        ):
            if execution.status is not None and execution.status.name == "RUNNING":
                found.add(execution.id.removeprefix("recommendation-"))
        if found >= refs:
            return found
        await asyncio.sleep(0.5)
    return found


def start_stack(state: Path, ports: dict[str, int], log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "ASSURE_STATE_DIR": str(state),
        "ASSURE_TEMPORAL_ADDRESS": f"127.0.0.1:{ports['temporal']}",
        "ASSURE_TEMPORAL_UI_PORT": str(ports["ui"]),
        "ASSURE_SMTP_PORT": str(ports["smtp"]),
        "ASSURE_WEB_PORT": str(ports["web"]),
        "ASSURE_BASE_URL": f"http://127.0.0.1:{ports['web']}",
        "ASSURE_LOG_FORMAT": "json",
    }
    env.pop("ASSURE_DATABASE_URL", None)  # the default: a file in the state directory
    env.pop("MAKEFLAGS", None)
    return subprocess.Popen(
        ["make", "-s", "run"],
        cwd=PROJECT_ROOT,
        env=env,
        # A file, not a pipe: nobody reads a pipe until the stack stops, and once its 64 KiB were
        # full (the example's first mail alone logs more) every process writing to it would block.
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: Ctrl-C goes to it alone, as in a terminal
    )


async def stop(stack: subprocess.Popen, log: Path) -> str:
    """Ctrl-C, and what the stack printed until it stopped."""
    os.killpg(stack.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    await asyncio.to_thread(stack.wait, timeout=60)
    return log.read_text()


@pytest.mark.skipif(not EXAMPLE.is_file(), reason="the example plan is not in examples/")
@pytest.mark.skipif(sys.platform != "linux", reason="reads process groups from /proc")
async def test_the_run_command_brings_everything_up_and_ctrl_c_stops_it_all(tmp_path):
    refs = example_refs()
    ports = {name: free_port() for name in ("temporal", "ui", "smtp", "web")}
    state = tmp_path / "state"
    loop = asyncio.get_running_loop()

    stack = start_stack(state, ports, tmp_path / "first.log")
    try:
        assert await answered(f"http://127.0.0.1:{ports['web']}/", loop.time() + 90), "the web app never answered"
        running = await running_recommendations(f"127.0.0.1:{ports['temporal']}", refs, loop.time() + 30)
        assert running >= refs
        # `assure dev` registered the search attributes, so each workflow could publish its stage.
        staged = await running_recommendations(
            f"127.0.0.1:{ports['temporal']}", refs, loop.time() + 60, query="AssureStage IS NOT NULL"
        )
        assert staged >= refs
        # The example's import also starts its 32 reviews' clocks and a period of its Section 11
        # audit, whose first messages the catcher is still taking as the list is first asked for:
        # a page of hundreds of messages on a loaded machine takes more than a second to answer.
        assert await answered(f"http://127.0.0.1:{ports['web']}/dev/mail", loop.time() + 90, wait=30)
    finally:
        output = await stop(stack, tmp_path / "first.log")
    assert group_members(stack.pid) == [], output
    # The dev server runs in a group of its own, so that it stops last: it must be gone too.
    assert not [p for p in _all_commands() if str(state / "temporal.db") in p], output
    assert f"{len(refs)} recommendations started" in output
    assert "A sample owner's link:    http://127.0.0.1:" in output
    assert "/sign-in (as an Assurance Board member, e.g. " in output  # someone from the example's registry
    assert (state / "temporal.db").is_file() and (state / "example-imported").is_file()

    # Run again: the same workflows carry on; nothing is imported twice.
    again = start_stack(state, ports, tmp_path / "again.log")
    try:
        assert await answered(f"http://127.0.0.1:{ports['web']}/", loop.time() + 90)
        assert await running_recommendations(f"127.0.0.1:{ports['temporal']}", refs, loop.time() + 30) >= refs
    finally:
        output = await stop(again, tmp_path / "again.log")
    assert "recommendations started" not in output
    assert group_members(again.pid) == [], output


def _all_commands() -> list[str]:
    commands = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                commands.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
            except OSError:
                pass
    return commands
