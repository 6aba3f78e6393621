"""The action plan in and out: ``assure import``, ``assure template`` and ``assure export``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import typer

from cli import _exit, app
from logs import configure_logging
from settings import settings_or_exit


@app.command("import")
def import_plan(
    path: Path = typer.Argument(..., help="The plan: .xlsx, .csv or .yaml (format in the README)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check and compare only; start nothing"),
    as_json: bool = typer.Option(False, "--json", help="Print problems or the report as JSON"),
    apply_changes: bool = typer.Option(False, "--apply-changes", help="Apply changes to running workflows"),
    rebase_dates: str | None = typer.Option(
        None, "--rebase-dates", metavar="YYYY-MM-DD", help="Shift every date so this day falls on today"
    ),
) -> None:
    """Import an action plan: check the whole file, then start each recommendation's workflow."""
    from datetime import date

    settings = settings_or_exit()
    configure_logging(fmt=settings.log_format)
    shift = None
    if rebase_dates is not None:
        try:
            shift = date.today() - date.fromisoformat(rebase_dates)
        except ValueError:
            typer.echo(f"--rebase-dates: {rebase_dates!r} is not a date like 2023-04-01", err=True)
            _exit(2)
    status = asyncio.run(_import(path, settings, dry_run=dry_run, as_json=as_json, apply=apply_changes, shift=shift))
    _exit(status)


async def _import(path: Path, settings, *, dry_run: bool, as_json: bool, apply: bool, shift) -> int:
    from datetime import date, timedelta

    from rich.progress import Progress

    from gateway.workflows import connect
    from plans.apply import check_plan_against_store, import_plan
    from plans.isolated import read_plan_file  # the API's reader: a child process within limits
    from store.db import init_db

    init_db(settings.database_url)
    sheets, problems = read_plan_file(path)
    plan = None
    if not problems:
        plan, problems = check_plan_against_store(
            sheets, database_url=settings.database_url, today=date.today(), shift=shift or timedelta(0)
        )
    if problems or plan is None:
        if as_json:
            typer.echo(json.dumps({"problems": [p.as_dict() for p in problems]}, indent=2))
        else:
            typer.echo(f"{path.name}: {len(problems)} problem(s); nothing was imported", err=True)
            for problem in problems:
                typer.echo(f"  {problem}", err=True)
        return 2
    try:
        client = await connect(settings)
    except RuntimeError as exc:
        typer.echo(f"cannot reach Temporal at {settings.temporal_address}: {exc}", err=True)
        return 1
    with Progress(transient=True, disable=as_json or len(plan.recommendations) < 50) as bar:
        task = bar.add_task("Importing", total=len(plan.recommendations))
        report = await import_plan(
            plan,
            client=client,
            database_url=settings.database_url,
            task_queue=settings.task_queue,
            review_policy=settings.review_policy(),
            dry_run=dry_run,
            apply_changes=apply,
            progress=lambda _ref: bar.advance(task),
        )
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
        return 0
    verb = "would start" if dry_run else "started"
    typer.echo(f"{len(report.started)} {verb}, {len(report.unchanged)} unchanged, {len(report.changes)} changed")
    typer.echo(f"{len(report.reviews_written)} review(s) {'would be ' if dry_run else ''}added or changed")
    # By id: the cycles whose Schedules are made or changed from this import.
    cycles = f": {', '.join(report.cycles_written)}" if report.cycles_written else ""
    typer.echo(f"{len(report.cycles_written)} cycle(s) {'would be ' if dry_run else ''}added or changed{cycles}")
    for cycle_id, reason in report.schedules_not_made.items():
        typer.echo(f"  {cycle_id}: no Schedule: {reason}", err=True)
    if report.reviews_started or report.review_milestones:
        typer.echo(
            f"{len(report.reviews_started)} review clock(s) started; "
            f"{len(report.review_milestones)} running review(s) given new milestones"
        )
    for ref, changes in report.changes.items():
        typer.echo(f"  {ref}:")
        for change in changes:
            mark = "applied" if change in report.applied.get(ref, []) else "not applied"
            typer.echo(f"    {change} ({mark if apply else 'use --apply-changes to apply'})")
        for refused in report.not_applied.get(ref, []):
            if refused not in changes:
                typer.echo(f"    not applied: {refused}")
    if report.roles_updated:
        typer.echo(f"roles changed in the registry reached {len(report.roles_updated)} running recommendation(s)")
    return 0


@app.command()
def template(
    out: Path = typer.Option(..., "--out", help="Where to write the workbook (.xlsx)"),
    from_yaml: Path | None = typer.Option(None, "--from", help="Fill it from this YAML plan instead"),
) -> None:
    """Write the blank plan workbook (headers, drop-down lists, a worked example row), or a YAML plan as one."""
    from plans.workbook import write_from_yaml, write_template

    if out.suffix.lower() != ".xlsx":
        typer.echo("--out must name a .xlsx file", err=True)
        raise SystemExit(2)
    if from_yaml is not None:
        write_from_yaml(from_yaml, out)
    else:
        write_template(out)
    typer.echo(f"Wrote {out}")


@app.command()
def export(out: Path = typer.Option(..., "--out", help="FILE.xlsx or FILE.csv")) -> None:
    """Export the action plan as it stands: one row per recommendation with its RAG."""
    import csv
    from datetime import UTC, datetime

    from store.db import init_db, session_scope
    from store.listing import recommendation_summaries

    suffix = out.suffix.lower()
    if suffix not in {".xlsx", ".csv"}:
        typer.echo("--out must name a .xlsx or .csv file", err=True)
        _exit(2)
    settings = settings_or_exit()
    init_db(settings.database_url)
    with session_scope(settings.database_url) as session:
        rows = recommendation_summaries(session=session, now=datetime.now(UTC))
    columns = ["ref", "title", "board", "agencies", "stage", "rag", "overdue", "escalation_level",
               "next_deadline_at", "next_deadline_kind", "next_open_due"]  # fmt: skip

    def cells(row) -> list:
        data = row.model_dump()
        data["agencies"] = "; ".join(row.agencies)
        values = [data[c] for c in columns]
        # Text that a spreadsheet would run as a formula is written as text.
        return ["'" + v if isinstance(v, str) and v.startswith(("=", "+", "-", "@")) else v for v in values]

    if suffix == ".csv":
        with out.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            writer.writerows(cells(row) for row in rows)
    else:
        from openpyxl import Workbook

        workbook = Workbook()
        sheet = workbook.create_sheet("Recommendations", 0)
        workbook.remove(workbook.worksheets[1])  # the default sheet a new workbook starts with
        sheet.title = "Recommendations"
        sheet.append(columns)
        for row in rows:
            sheet.append([v.replace(tzinfo=None) if isinstance(v, datetime) else v for v in cells(row)])
        workbook.save(out)
    typer.echo(f"Wrote {len(rows)} recommendation(s) to {out}")
    _exit(0)
