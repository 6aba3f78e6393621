"""The cascade after sign-off: ``assure cascade`` (how far the learning has reached each agency's
staff, from the workflow's own answer) and ``assure confirm-cascade`` (an agency's confirmation,
taken as a Workflow Update like the board's other decisions)."""

from __future__ import annotations

import json
import sys
from datetime import date
from typing import Any

import typer
from rich.markup import escape

from cli import _exit, app
from cli.recommendations import _decide_as, live_status_or_exit
from models.payloads import CASCADE_OPEN_STAGES, RecommendationStatus

STATUS_STYLES = {"confirmed": "green", "waiting": "", "overdue": "bold red"}


@app.command()
def cascade(ref: str, as_json: bool = typer.Option(False, "--json", help="Print the cascade as JSON")) -> None:
    """Show how far the learning has reached each agency's staff, and whether the cascade is short or overdue."""
    status = live_status_or_exit(ref)
    found = cascade_of(status)
    if as_json:
        typer.echo(json.dumps(found, indent=2))
    elif not found["cascade"]:
        typer.echo(no_cascade_yet(status))
    else:
        _print_cascade(found, still_open=status.stage in CASCADE_OPEN_STAGES and not status.audits)
    _exit(0)


def cascade_of(status: RecommendationStatus) -> dict[str, Any]:
    """The cascade part of a status, as ``--json`` prints it: the same keys whether or not it has begun."""
    plan = status.dissemination
    return {
        "ref": status.ref,
        "cascade_by": plan.cascade_by.isoformat() if plan is not None and plan.cascade_by else None,
        "reach_threshold": plan.reach_threshold if plan is not None else None,
        "reach_percent": status.reach_percent,
        "cascade_short": status.cascade_short,
        "cascade_overdue": status.cascade_overdue,
        "cascade": [view.model_dump(mode="json") for view in status.cascade],
    }


def no_cascade_yet(status: RecommendationStatus) -> str:
    """Why a recommendation has no cascade to show: not signed off yet, or signed off without one."""
    if status.sign_off is None:
        stage = status.stage.value
        return f"{status.ref} has no cascade yet: it is at stage {stage}, and the cascade starts at sign-off"
    return f"{status.ref} has no cascade: its plans were signed off without one"


def _print_cascade(found: dict[str, Any], *, still_open: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    from models.wording import CASCADE_STATUS

    table = Table(title=f"Cascade of {found['ref']}")
    for name, width in (("Agency", 16), ("Lead", 16), ("Staff group", 12), ("Reached", 9), ("Reach", 5)):
        table.add_column(name, min_width=width, overflow="fold")
    for name in ("Channels", "Done on", "Status"):
        table.add_column(name, overflow="fold")
    for agency in found["cascade"]:
        reached = "-" if agency["reached"] is None else agency["reached"]
        percent = "" if agency["reach_percent"] is None else f"{agency['reach_percent']}%"
        style = STATUS_STYLES[agency["status"]]
        table.add_row(
            # People's words are shown as typed: "[band 5]" is text, not a Rich style.
            escape(agency["agency"]),
            escape(agency["lead"] or "nobody registered"),
            escape(agency["staff_group"]),
            f"{reached} / {agency['expected_reach']}",
            percent,
            escape(", ".join(agency["channels"])),
            _day(agency["done_on"]),
            f"[{style}]{CASCADE_STATUS[agency['status']]}[/]" if style else CASCADE_STATUS[agency["status"]],
        )
    # Piped into a file or another program, there is no terminal to fit: keep whole lines.
    console = Console() if sys.stdout.isatty() else Console(width=200)
    console.print(table)
    for line in cascade_summary(found, still_open=still_open):
        console.print(line, highlight=False)


def cascade_summary(found: dict[str, Any], *, still_open: bool) -> list[str]:
    """The lines under the table: overall reach against the threshold, the date, and what is wrong
    (once the audit is recorded, only who never confirmed)."""
    threshold, agencies = found["reach_threshold"], found["cascade"]
    expected = sum(a["expected_reach"] for a in agencies)
    lines = [
        f"Overall reach: {found['reach_percent']}% of {expected} staff (threshold {threshold}%); "
        f"every agency to confirm by {_day(found['cascade_by']) or 'a date not set'}"
    ]
    below = [a for a in agencies if a["reach_percent"] is not None and a["reach_percent"] < threshold]
    silent = [escape(a["agency"]) for a in agencies if a["status"] != "confirmed"]
    if found["cascade_short"]:
        names = ", ".join(f"{escape(a['agency'])} ({a['reach_percent']}%)" for a in below)
        lines.append(f"[yellow]Short:[/] below the {threshold}% threshold: {names}")
    if found["cascade_overdue"]:
        lines.append(f"[bold red]Overdue:[/] the date has passed with {', '.join(silent)} still to confirm")
    elif silent and not still_open:
        lines.append(f"The cascade closed at the audit with {', '.join(silent)} never confirmed")
    elif silent:
        lines.append(f"Waiting for {', '.join(silent)} to confirm")
    else:
        lines.append("Every agency has confirmed")
    return lines


def _day(value: str | None) -> str:
    return f"{date.fromisoformat(value):%d %b %Y}" if value else ""


@app.command("confirm-cascade")
def confirm_cascade(
    ref: str,
    agency: str = typer.Option(..., "--agency", help="The agency whose staff the learning reached (its registry name)"),
    reached: int = typer.Option(..., "--reached", help="How many of its staff the learning reached"),
    done_on: str = typer.Option(..., "--done-on", metavar="YYYY-MM-DD", help="When the cascade was done"),
    channel: list[str] = typer.Option([], "--channel", help="How it reached them (repeat for each channel)"),
    note: str = typer.Option("", "--note", help="Why fewer staff were reached than planned, or anything else"),
    by: str = typer.Option(
        ..., "--by", help="The agency's cascade lead, or a board sponsor or Assurance Board member on their behalf"
    ),
) -> None:
    """Confirm that the learning reached an agency's staff (sent again, it corrects the figures)."""
    payload = {"by": by, "agency": agency, "reached": reached, "done_on": done_on, "channels": channel, "note": note}
    _decide_as(ref, "confirm_cascade", payload)
