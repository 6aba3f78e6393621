"""Impact measures on the command line: ``assure measures REF`` shows each measure of a
recommendation (its baseline and target, its latest reading, whether it is on track, and every
reading), from the workflow's own answer, as ``assure cascade`` shows the cascade."""

from __future__ import annotations

import json
import sys
from datetime import date
from typing import Any

import typer
from rich.markup import escape

from cli import _exit, app
from cli.recommendations import live_status_or_exit
from models.payloads import MeasureTrack, MeasureView, RecommendationStatus

TRACK_STYLES = {MeasureTrack.on_track: "green", MeasureTrack.off_track: "bold red", MeasureTrack.no_data: ""}


@app.command()
def measures(ref: str, as_json: bool = typer.Option(False, "--json", help="Print the measures as JSON")) -> None:
    """Show a recommendation's impact measures: baseline, target, latest reading, track and readings."""
    status = live_status_or_exit(ref)
    if as_json:
        typer.echo(json.dumps(measures_of(status), indent=2))
    elif not status.measures:
        typer.echo(f"{status.ref} has no impact measures yet")
    else:
        _print_measures(status)
    _exit(0)


def measures_of(status: RecommendationStatus) -> dict[str, Any]:
    """The measures part of a status, as ``--json`` prints it: the same keys with none."""
    return {"ref": status.ref, "measures": [view.model_dump(mode="json") for view in status.measures]}


def _print_measures(status: RecommendationStatus) -> None:
    from rich.console import Console

    # Piped into a file or another program, there is no terminal to fit: keep whole lines.
    console = Console() if sys.stdout.isatty() else Console(width=200)
    for view in status.measures:
        for line in measure_lines(view):
            console.print(line, highlight=False)
        if view.readings:
            console.print(readings_table(view))
        console.print("")


def measure_lines(view: MeasureView) -> list[str]:
    """What is said of a measure above its readings: its name and where it stands, its baseline,
    target and latest reading against the line, who reports it and when the next is owed. Rich
    markup, with people's words escaped."""
    from models.measures import dated_figure, with_unit
    from models.wording import DIRECTION_WORDS, MEASURE_TRACK, every_words

    unit = view.unit.value
    words = MEASURE_TRACK[view.on_track]
    style = TRACK_STYLES[view.on_track]
    lines = [f"{escape(view.measure_id)} {escape(view.name)}: {f'[{style}]{words}[/]' if style else words}"]
    baseline = dated_figure(view.baseline, unit, "on", view.baseline_on) or "not set"
    target = dated_figure(view.target, unit, "by", view.target_by) or "not set"
    lines.append(f"  Baseline {baseline}; target {target} ({DIRECTION_WORDS[view.direction].lower()})")
    if view.readings:
        latest = view.readings[-1]
        against = f", against {with_unit(round(view.expected, 1), unit)} expected" if view.expected is not None else ""
        lines.append(f"  Latest reading {dated_figure(latest.value, unit, 'on', latest.on)}{against}")
    else:
        lines.append("  No reading yet")
    owed = f"; next due {_day(view.reading_due_on)}" if view.reading_due_on else ""
    overdue = " [bold red](overdue)[/]" if view.overdue else ""
    lines.append(f"  Reported by {escape(view.reporter)}, {every_words(view.every)}{owed}{overdue}")
    return lines


def readings_table(view: MeasureView):
    """Every reading of ``view``, oldest first, with what the line to the target expected that day."""
    from rich.table import Table

    from reports.measure_chart import measure_rows

    table = Table(title=f"Baseline, readings and target of {escape(view.measure_id)}")
    for name in ("What", "Date", "Figure", "Expected", "Given by", "Note"):
        table.add_column(name, overflow="fold")
    for row in measure_rows(view):
        table.add_row(*(escape(row[key]) for key in ("label", "on", "value", "expected", "by", "note")))
    return table


def _day(value: date | None) -> str:
    """A day as the readings table writes it (``measure_rows``): 14 March 2023."""
    from models.wording import uk_date

    return uk_date(value) if value else ""
