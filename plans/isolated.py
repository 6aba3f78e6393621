"""Read a plan file in a child process, within a time and a memory limit.

The checks in ``plans.limits`` refuse what a file declares; this is the backstop for what no
declaration shows (a sheet whose cells are cheap to pack and slow to parse, text that grows in
memory). The child is a fresh interpreter (``python -m plans.isolated``), so it inherits none
of the web app's threads or state and re-runs no one's main module, and the kernel enforces its
limits (``resource.setrlimit``) while the parent keeps the wall-clock deadline. The child
reports each sheet as it starts it, so a read stopped at a limit names the sheet it was in.
The CLI (`assure import`) and the API (POST /api/plans) both read through here, so a file is
refused the same way wherever it arrives.
"""

from __future__ import annotations

import math
import os
import pickle
import resource
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from plans.limits import megabytes
from plans.sheets import Problem, Sheet
from plans.sheets import read_plan_file as read_in_process


@dataclass(frozen=True)
class ReadLimits:
    """What one read may use. A plan of 30,000 rows reads in about 3 s here; a file that needs
    more than ``seconds`` is refused so that every bad file is answered within 5 s."""

    seconds: float = 4.0
    # Address space of the child, which holds the interpreter and openpyxl (about 100 MB) too.
    memory_bytes: int = 1024 * 1024 * 1024


LIMITS = ReadLimits()
# Reads at once in this process (each child may take ``memory_bytes``); a further one waits up to
# ``seconds`` for a turn and is then told to try again.
READS_AT_ONCE = 2
_turns = threading.BoundedSemaphore(READS_AT_ONCE)
PROJECT_ROOT = Path(__file__).resolve().parents[1]

Result = tuple[dict[str, Sheet], list[Problem]]


def read_plan_file(path: Path, limits: ReadLimits = LIMITS) -> Result:
    """The file's sheets, or the problems that stop it being read at all, as
    ``plans.sheets.read_plan_file`` gives them; a read past a limit is stopped and refused
    with the sheet it was reading and the limit. Blocks: an async caller runs it in a thread."""
    name = path.name
    if not _turns.acquire(timeout=limits.seconds):
        return {}, [Problem(name, 0, "", "other plans are being read; try again in a minute")]
    try:
        return _read_in_child(path, limits)
    finally:
        _turns.release()


def _read_in_child(path: Path, limits: ReadLimits) -> Result:
    name = path.name
    deadline = time.monotonic() + limits.seconds
    command = [sys.executable, "-m", "plans.isolated", str(path.resolve()), repr(limits.seconds),
               str(limits.memory_bytes)]  # fmt: skip
    child = subprocess.Popen(command, cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)  # fmt: skip
    assert child.stdout is not None
    receiver = Connection(os.dup(child.stdout.fileno()), writable=False)
    child.stdout.close()
    where = name
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not receiver.poll(remaining):
                return {}, [Problem(where, 0, "", _too_long(limits))]
            try:
                kind, value = receiver.recv()
            except (EOFError, pickle.UnpicklingError):  # the child died: the kernel stopped it at a limit
                return {}, [Problem(where, 0, "", _died(child, limits))]
            if kind == "sheet":
                where = value
            elif kind == "memory":
                return {}, [Problem(value, 0, "", _memory(limits))]
            elif kind == "failed":
                return {}, [Problem(value, 0, "", "this could not be read: it is damaged or not in the plan format")]
            else:
                return value
    finally:
        receiver.close()
        if child.poll() is None:
            child.kill()
        child.wait()


def _child(path: Path, limits: ReadLimits) -> None:
    """In the child: set the limits, read, send each sheet's name and then the result on stdout
    (anything else the libraries print goes to stderr, which the parent discards)."""
    sender = Connection(os.dup(sys.stdout.fileno()), readable=False)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    # The wall-clock deadline in the parent comes first; this stops a child the parent lost.
    cpu = math.ceil(limits.seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    where = path.name

    def on_sheet(name: str) -> None:
        nonlocal where
        where = name
        sender.send(("sheet", name))

    # The exception itself is not sent or printed: its text may quote the file's cells.
    outcome: tuple[str, object]
    try:
        outcome = ("done", read_in_process(path, on_sheet=on_sheet))
    except MemoryError:
        outcome = ("memory", where)  # the read's objects are gone by now: this small send fits
    except Exception:
        outcome = ("failed", where)
    sender.send(outcome)
    sender.close()


def _too_long(limits: ReadLimits) -> str:
    return (f"reading stopped after {limits.seconds:g} s, the limit: this holds more cells than a plan "
            "file can be read with; split the plan into smaller files")  # fmt: skip


def _memory(limits: ReadLimits) -> str:
    return (f"reading needed more than {megabytes(limits.memory_bytes)} of memory, the limit: "
            "the file holds far more than a plan does")  # fmt: skip


def _died(child: subprocess.Popen, limits: ReadLimits) -> str:
    try:
        code = child.wait(1)
    except subprocess.TimeoutExpired:
        code = None
    if code is not None and code < 0:
        if -code in (signal.SIGXCPU, signal.SIGKILL):
            return _too_long(limits)
        return _memory(limits) if -code in (signal.SIGSEGV, signal.SIGABRT) else f"reading failed (signal {-code})"
    return "this file could not be read"


if __name__ == "__main__":
    _child(Path(sys.argv[1]), ReadLimits(seconds=float(sys.argv[2]), memory_bytes=int(sys.argv[3])))
