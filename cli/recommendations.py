"""The recommendations as the Assurance Board sees them: ``assure status`` (the listing from the
store), ``assure show`` (one workflow's own answer), and the board's decisions, ``assure sign-off``
and ``assure audit``, taken as Workflow Updates (``cli.cascade`` takes an agency's confirmation of
its cascade the same way)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import NoReturn

import typer

from cli import _exit, app
from models.payloads import AuditOutcome, RecommendationStatus
from settings import settings_or_exit


@app.command()
def status(
    board: str | None = typer.Option(None, help="Only this board's recommendations"),
    agency: str | None = typer.Option(None, help="Only those with an action for this agency"),
    stage: str | None = typer.Option(None, help="Only those at this stage"),
    overdue: bool = typer.Option(False, "--overdue", help="Only overdue ones"),
    as_json: bool = typer.Option(False, "--json", help="Print the listing as JSON"),
) -> None:
    """One line per recommendation (stage, RAG, next deadline, escalation), then totals per stage."""
    from collections import Counter
    from datetime import UTC, datetime

    from rich.console import Console
    from rich.table import Table

    from models.payloads import Stage
    from store.db import init_db, session_scope
    from store.listing import recommendation_summaries

    settings = settings_or_exit()
    if stage is not None and stage not in {s.value for s in Stage}:
        typer.echo(f"--stage: {stage!r} is not a stage; use one of {', '.join(s.value for s in Stage)}", err=True)
        _exit(2)
    init_db(settings.database_url)
    with session_scope(settings.database_url) as session:
        rows = recommendation_summaries(
            session=session, now=datetime.now(UTC), board=board, agency=agency, stage=stage, overdue_only=overdue
        )
    if as_json:
        typer.echo(json.dumps([row.model_dump(mode="json") for row in rows], indent=2))
        _exit(0)
    colours = {"red": "bold red", "amber": "yellow", "green": "green", "closed": "dim"}
    table = Table(title="Recommendations")
    # The short columns keep their width; the title gives way (cut short) on a narrow terminal.
    for name, width in (
        ("Ref", 12),
        ("Stage", 11),
        ("RAG", 5),
        ("Next deadline", 11),
        ("Escalation", 10),
        ("Board", 10),
    ):
        table.add_column(name, min_width=width, overflow="fold")
    table.add_column("Title", no_wrap=True, overflow="ellipsis", max_width=60)
    for row in rows:
        deadline = f"{row.next_deadline_at:%d %b %Y} {row.next_deadline_kind}" if row.next_deadline_at else ""
        level = row.escalation_level.replace("_", " ") if row.escalation_level != "none" else ""
        table.add_row(
            row.ref, row.stage, f"[{colours[row.rag]}]{row.rag}[/]", deadline, level, row.board, row.title[:60]
        )
    # Piped into a file or another program, there is no terminal to fit: keep whole lines.
    console = Console() if sys.stdout.isatty() else Console(width=200)
    console.print(table)
    totals = Counter(row.stage for row in rows)
    console.print("  ".join(f"{name}: {totals[name]}" for name in (s.value for s in Stage) if totals[name]) or "none")
    _exit(0)


def _decide_as(ref: str, name: str, payload: dict) -> None:
    """Take one decision as the person the payload's ``by`` names; exit 3 refused, 4 unknown ref,
    2 bad input, 1 no Temporal."""
    from gateway.workflows import DecisionNotTaken, UnknownRecommendation, connect, decide

    settings = settings_or_exit()

    async def take() -> str:
        client = await connect(settings)
        return (await decide(client, ref, name, payload, database_url=settings.database_url)).stage.value

    try:
        stage = asyncio.run(take())
    except DecisionNotTaken as refused:
        typer.echo(f"{ref}: {refused.message}", err=True)
        for gap in refused.gaps:
            typer.echo(f"  - {gap}", err=True)
        for where, problem in refused.fields.items():
            typer.echo(f"  - {where}: {problem}", err=True)
        _exit(2 if refused.type in {"InvalidInput", "UnknownDecision"} else 3)
    except UnknownRecommendation as exc:
        typer.echo(str(exc), err=True)
        _exit(4)
    except RuntimeError as exc:
        typer.echo(f"cannot reach Temporal at {settings.temporal_address}: {exc}", err=True)
        _exit(1)
    typer.echo(f"{ref}: done; the recommendation is now at stage {stage}")
    _exit(0)


@app.command("sign-off")
def sign_off(
    ref: str,
    by: str = typer.Option(..., "--by", help="The Assurance Board member signing off (email)"),
    note: str = typer.Option("", "--note", help="A note for the record"),
) -> None:
    """Sign a recommendation off as an Assurance Board member."""
    _decide_as(ref, "sign_off", {"by": by, "note": note})


@app.command()
def audit(
    ref: str,
    outcome: AuditOutcome = typer.Option(..., "--outcome", help="What the audit found"),
    by: str = typer.Option(..., "--by", help="The auditor (email)"),
    findings: str = typer.Option("", "--findings", help="What the audit found, in words"),
    re_audit_on: str | None = typer.Option(None, "--re-audit-on", metavar="YYYY-MM-DD", help="When to audit again"),
    remedial: Path | None = typer.Option(
        None,
        "--remedial",
        metavar="FILE",
        help="The remedial actions of an audit that is not fully embedded: a .yaml list or a .csv with the "
        "columns action_id, description, agency, owner, due (YYYY-MM-DD), success_measure",
    ),
    early_reason: str = typer.Option(
        "", "--early-reason", help="Why the audit is recorded before its planned date (needed before that date)"
    ),
) -> None:
    """Record an audit's outcome as an auditor or an Assurance Board member."""
    payload: dict = {"by": by, "outcome": outcome.value, "findings": findings, "early_reason": early_reason}
    if re_audit_on is not None:
        payload["re_audit_on"] = re_audit_on
    if remedial is not None:
        payload["remedial_actions"] = _remedial_actions(remedial)
    _decide_as(ref, "record_audit", payload)


REMEDIAL_COLUMNS = ("action_id", "description", "agency", "owner", "due", "success_measure")


def _remedial_actions(path: Path) -> list[dict[str, str]]:
    """The rows of a remedial-actions file, as given; the workflow's payload checks each field
    (and ``_decide_as`` prints where one is wrong). Exits 2 for a file it cannot read."""
    import csv

    import yaml

    def bad(reason: str) -> NoReturn:
        typer.echo(f"--remedial {path}: {reason}", err=True)
        _exit(2)

    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        bad(f"cannot be read ({exc.__class__.__name__})")
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        missing = [c for c in REMEDIAL_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            bad(f"the header lacks {', '.join(missing)}; it needs {', '.join(REMEDIAL_COLUMNS)}")
        rows: object = [{k: (v or "").strip() for k, v in row.items() if k in REMEDIAL_COLUMNS} for row in reader]
    elif path.suffix.lower() in {".yaml", ".yml"}:
        try:
            rows = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            bad(f"is not valid YAML ({str(exc).splitlines()[0]})")
    else:
        bad("use a .yaml or .csv file")
    if not isinstance(rows, list) or not rows or not all(isinstance(row, dict) for row in rows):
        bad("needs at least one action, each with " + ", ".join(REMEDIAL_COLUMNS))
    return [{str(k): str(v) for k, v in row.items()} for row in rows]


def live_status_or_exit(ref: str) -> RecommendationStatus:
    """The workflow's ``status`` query for ``ref``; exits 4 for an unknown ref, 1 without Temporal."""
    from gateway.workflows import UnknownRecommendation, connect, recommendation_status

    settings = settings_or_exit()

    async def query() -> RecommendationStatus:
        client = await connect(settings)
        return await recommendation_status(client, ref)

    try:
        return asyncio.run(query())
    except UnknownRecommendation as exc:
        typer.echo(str(exc), err=True)
        _exit(4)
    except RuntimeError as exc:  # the SDK's "Failed client connect"
        typer.echo(f"cannot reach Temporal at {settings.temporal_address}: {exc}", err=True)
        _exit(1)


@app.command()
def show(ref: str, as_json: bool = typer.Option(False, "--json", help="Print the status query's JSON")) -> None:
    """Ask a recommendation's workflow where it stands."""
    status = live_status_or_exit(ref).model_dump(mode="json")
    if as_json:
        typer.echo(json.dumps(status, indent=2))
    else:
        level, overdue = status["escalation_level"], status["overdue"]
        typer.echo(f"{status['ref']}  stage={status['stage']}  escalation={level}  overdue={overdue}")
        for action in status["actions"]:
            typer.echo(
                f"  {action['action_id']}: {action['status']}, due {action['due']} ({action['escalation_level']})"
            )
    _exit(0)
