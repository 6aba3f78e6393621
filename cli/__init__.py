"""The ``assure`` command line: one Typer app, its commands in a module per group.

Each group module registers its commands on ``app`` when imported; the imports at the end of
this file are what puts them all on the command line. Commands import what they need inside
their bodies, so ``assure --help`` (and every command) starts without loading Temporal, the
store or the web app.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn

import typer

app = typer.Typer(help="Assure: safeguarding action-plan assurance on Temporal.", no_args_is_help=True)


def _exit(status: int) -> NoReturn:
    # A process that used a Temporal client can abort at interpreter shutdown (sdk-python
    # issue 300): flush and leave with the exact status instead.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def main() -> None:
    """The console script: the commands, with a store that cannot be migrated said plainly."""
    from store.db import StoreNeedsAttention

    try:
        app()
    except StoreNeedsAttention as exc:
        typer.echo(f"the store needs attention: {exc}", err=True)
        _exit(3)


# After ``app`` and ``_exit`` exist: each module imports them from here as it registers its
# commands. The order is the order of ``assure --help``.
from cli import running, plans, recommendations, cascade, measures, reports, operations, tokens, cycles  # noqa: E402, F401, I001
from cli import people  # noqa: E402, F401, I001
