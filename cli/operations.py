"""What needs an operator: ``assure doctor``."""

from __future__ import annotations

import asyncio
import json

import typer

from cli import _exit, app
from settings import settings_or_exit


@app.command()
def doctor(
    as_json: bool = typer.Option(False, "--json", help="Print what was found as JSON"),
    resolve: list[int] = typer.Option([], "--resolve", help="Mark problem ID dealt with (repeatable)"),
    grace: int = typer.Option(120, help="Seconds a new workflow may run before the store must have its row"),
) -> None:
    """What needs an operator: problems the effects recorded, workflows whose task keeps failing,
    and the read model against Temporal. Exit 0 when all is well, 1 when anything needs attention
    (or Temporal or the store cannot be reached)."""
    from datetime import UTC, datetime, timedelta

    from gateway.doctor import examine
    from gateway.workflows import connect
    from store.db import init_db, session_scope
    from store.read_model import resolve_problems

    settings = settings_or_exit()
    init_db(settings.database_url)
    if resolve:
        with session_scope(settings.database_url) as session:
            count = resolve_problems(session=session, ids=resolve, now=datetime.now(UTC))
        typer.echo(f"{count} problem(s) marked resolved")

    async def look():
        client = await connect(settings)
        return await examine(client, settings.database_url, grace=timedelta(seconds=max(grace, 0)))

    try:
        found = asyncio.run(look())
    except RuntimeError as exc:  # the SDK's "Failed client connect"
        typer.echo(f"cannot reach Temporal at {settings.temporal_address}: {exc}", err=True)
        _exit(1)
    typer.echo(json.dumps(found.as_json(), indent=2) if as_json else found.as_text())
    _exit(1 if found.needs_attention else 0)
