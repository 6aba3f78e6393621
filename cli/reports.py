"""The Assurance Board's monthly pack: ``assure report``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from cli import _exit, app
from settings import settings_or_exit


@app.command()
def report(
    month: str | None = typer.Option(None, "--month", metavar="YYYY-MM", help="The month (default: this one)"),
    out: Path | None = typer.Option(None, "--out", help="Write the pack here (.html); default: print it"),
    send: bool = typer.Option(False, "--send", help="Also email it to the Assurance Board now"),
) -> None:
    """Render the Assurance Board's monthly pack from the live record, as one HTML file."""
    from datetime import UTC, date, datetime

    from reports.board_pack import board_pack_data, render_board_pack, sign_off_gaps_of
    from store.db import init_db, session_scope

    settings = settings_or_exit()
    today = date.today()
    try:
        first = date.fromisoformat(f"{month}-01") if month else today.replace(day=1)
    except ValueError:
        typer.echo(f"--month: {month!r} is not a month like 2026-11", err=True)
        _exit(2)
    if out is not None and out.suffix.lower() != ".html":
        typer.echo("--out must name a .html file", err=True)
        _exit(2)
    init_db(settings.database_url)
    with session_scope(settings.database_url) as session:
        pack = board_pack_data(session=session, month=first, now=datetime.now(UTC))

    async def checked_gaps() -> dict[str, list[str]]:
        from gateway.workflows import connect

        try:
            client = await asyncio.wait_for(connect(settings), timeout=10)
        except (RuntimeError, TimeoutError):
            typer.echo("Temporal could not be reached: the plans' gaps are not checked in this pack", err=True)
            return {}
        return await sign_off_gaps_of(client, [s.ref for s in pack.awaiting_sign_off])

    if pack.awaiting_sign_off:
        pack.gaps = asyncio.run(checked_gaps())
    html = render_board_pack(pack)
    if out is None and not send:
        typer.echo(html)
    elif out is not None:
        out.write_text(html, encoding="utf-8")
        typer.echo(f"Wrote the board pack for {first:%B %Y} to {out}")
    if send:
        _exit(asyncio.run(_send_pack(settings, first)))
    _exit(0)


async def _send_pack(settings, month) -> int:
    """Email the pack through BoardPackWorkflow (the worker sends it, once per member)."""
    from datetime import UTC, datetime

    from gateway.workflows import connect
    from models.payloads import BoardPackInput, BoardPackResult
    from workflows.board_pack import BoardPackWorkflow

    try:
        client = await connect(settings)
    except RuntimeError as exc:
        typer.echo(f"cannot reach Temporal at {settings.temporal_address}: {exc}", err=True)
        return 1
    result: BoardPackResult = await client.execute_workflow(
        BoardPackWorkflow.run,
        BoardPackInput(month=month),
        id=f"board-pack-{month:%Y-%m}-sent-{datetime.now(UTC):%Y%m%dT%H%M%S}",
        task_queue=settings.task_queue,
    )
    typer.echo(f"Emailed the pack for {month:%B %Y} to {result.sent} of {len(result.recipients)} member(s)")
    return 0


@app.command("annual-report")
def annual_report(
    year: str = typer.Option(..., "--year", metavar="YYYY-YY", help="The year, 1 April to 31 March: 2023-24"),
    out: Path = typer.Option(..., "--out", help="Write the report here: a .docx (Word) or .html file"),
) -> None:
    """Write the annual report's learning-from-reviews section from the record, as Word or HTML."""
    from datetime import UTC, datetime

    from reports.annual import FORMATS, render_annual_docx, render_annual_html
    from reports.annual_data import annual_report_data, parse_year
    from store.db import init_db, session_scope

    try:
        reporting_year = parse_year(year)
    except ValueError as exc:
        typer.echo(f"--year: {exc}", err=True)
        _exit(2)
    made = FORMATS.get(out.suffix.lower())
    if made is None:
        typer.echo(f"--out: {out.name!r} is neither a .docx nor a .html file", err=True)
        _exit(2)
    settings = settings_or_exit()
    init_db(settings.database_url)
    with session_scope(settings.database_url) as session:
        report = annual_report_data(
            session=session, year=reporting_year, now=datetime.now(UTC), partnership=settings.partnership_name
        )
    if made == "docx":
        out.write_bytes(render_annual_docx(report))
    else:
        out.write_text(render_annual_html(report), encoding="utf-8")
    typer.echo(f"Wrote the annual report's learning from reviews for {reporting_year.label} to {out}")
    _exit(0)
