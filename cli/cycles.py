"""Assurance cycles on the command line: ``assure cycles`` lists them, ``assure cycle show`` gives a
period's matrix of agencies and standards, ``assure cycle run`` starts a period now."""

from __future__ import annotations

import asyncio
import json

import typer

from cli import _exit, app
from settings import settings_or_exit

cycle_app = typer.Typer(help="One assurance cycle: its periods and returns.", no_args_is_help=True)
app.add_typer(cycle_app, name="cycle")


@app.command()
def cycles(as_json: bool = typer.Option(False, "--json", help="Print JSON")) -> None:
    """List the assurance cycles: each one's board, cadence, who answers and its standards."""
    from store.cycles import stored_cycles
    from store.db import init_db, session_scope

    settings = settings_or_exit()
    init_db(settings.database_url)
    with session_scope(settings.database_url) as session:
        found = stored_cycles(session=session)
    if as_json:
        typer.echo(json.dumps([c.model_dump(mode="json") for c in found], indent=2))
        _exit(0)
    if not found:
        typer.echo("No assurance cycles: import them with the Cycles and Standards sheets")
    for cycle in found:
        agencies = "every agency" if cycle.agencies == "all" else "; ".join(cycle.agencies)
        standards = len(cycle.standards)
        plural = "s" * (standards != 1)
        typer.echo(f"{cycle.cycle_id}: {cycle.name} ({cycle.board}), {cycle.cadence.words()}, "
                   f"due within {cycle.due_within}, {standards} standard{plural}, {agencies}")  # fmt: skip
    _exit(0)


@cycle_app.command("show")
def show(
    cycle_id: str = typer.Argument(..., metavar="CYCLE"),
    period: str | None = typer.Option(None, "--period", metavar="P", help="The period (default: the latest asked)"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """A period's returns: each agency's stage and rating of each standard, beside the period before."""
    from reports.cycle_matrix import cycle_matrix
    from store.db import init_db, session_scope

    settings = settings_or_exit()
    init_db(settings.database_url)
    with session_scope(settings.database_url) as session:
        try:
            matrix = cycle_matrix(session=session, cycle_id=cycle_id, period=period)
        except LookupError as missing:
            typer.echo(str(missing), err=True)
            _exit(2)
    if as_json:
        typer.echo(json.dumps(matrix.as_dict(), indent=2))
        _exit(0)
    typer.echo(matrix.as_text())
    _exit(0)


@cycle_app.command("run")
def run(
    cycle_id: str = typer.Argument(..., metavar="CYCLE"),
    period: str = typer.Option("", "--period", metavar="P", help="The period (default: the one holding today)"),
) -> None:
    """Start a period of the cycle now: one return asked of each agency not asked already."""
    from gateway.cycles import run_cycle
    from gateway.workflows import connect

    settings = settings_or_exit()

    async def go():
        client = await connect(settings)
        return await run_cycle(client, settings.database_url, settings.task_queue, cycle_id, period)

    try:
        started = asyncio.run(go())
    except LookupError as missing:
        typer.echo(str(missing), err=True)
        _exit(2)
    typer.echo(f"{cycle_id} {started.period}: {len(started.started)} return(s) asked now, "
               f"{len(started.already)} asked already")  # fmt: skip
    for problem in started.problems:
        typer.echo(f"  problem: {problem}", err=True)
    _exit(1 if started.problems and not started.started and not started.already else 0)
