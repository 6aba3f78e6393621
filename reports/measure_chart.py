"""One impact measure as an inline SVG line chart, and the same figures as table rows.

The chart draws the baseline, the readings joined by a line, the straight line from baseline to
target that "on track" is read against (``models.measures``), and the target as a dashed line
with its date. Every point carries its figure as text, the chart has a title and a description
that says the same in words, and the table under it holds every figure: nothing is only a colour
or a position. It scales to the width it is given (a phone, a printed pack).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from html import escape

from models.measures import dated_figure, expected_on, with_unit
from models.payloads import MeasureTrack, MeasureView
from models.wording import MEASURE_TRACK, uk_date

WIDTH, HEIGHT = 640, 280
LEFT, RIGHT, TOP, BOTTOM = 64, 24, 28, 78  # room for the figures on the axis and the key under it
FONT = 'font-family="arial, sans-serif"'
# A white outline under a label keeps it readable where it crosses a line.
HALO = 'paint-order="stroke" stroke="#ffffff" stroke-width="4" stroke-linejoin="round"'
# GOV.UK colours: the readings in blue, the target in black, the line to it in mid-grey.
READINGS_COLOUR, TARGET_COLOUR, LINE_COLOUR, BASELINE_COLOUR = "#1d70b8", "#0b0c0c", "#505a5f", "#505a5f"
TRACK_COLOUR = {MeasureTrack.on_track: "#00703c", MeasureTrack.off_track: "#d4351c", MeasureTrack.no_data: "#505a5f"}


def _short_date(day: date) -> str:
    return f"{day:%b} {day.year}"


def measure_chart_svg(view: MeasureView, *, title_id: str) -> str:
    """The chart of ``view``; ``title_id`` keeps its ids unique on a page. Safe markup (every text
    is escaped), ready to be placed in a page or an email as it is."""
    unit = view.unit.value
    points = [(r.on, r.value) for r in view.readings]
    days = [d for d in (view.baseline_on, view.target_by, *(d for d, _ in points)) if d is not None]
    values = [v for v in (view.baseline, view.target, *(v for _, v in points)) if v is not None]
    title = f"{view.name}: {MEASURE_TRACK[view.on_track]}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" '
        'preserveAspectRatio="xMinYMin meet" '
        f'aria-labelledby="{title_id}-t {title_id}-d" class="assure-measure-chart">',
        f'<title id="{title_id}-t">{escape(title)}</title>',
        f'<desc id="{title_id}-d">{escape(describe(view))}</desc>',
    ]
    if not days or not values:
        parts.append(
            f'<text x="{LEFT}" y="{TOP + 40}" {FONT} font-size="16" fill="#0b0c0c">'
            "No baseline, target or readings yet</text></svg>"
        )
        return "".join(parts)
    first, last = min(days), max(days)
    span = max((last - first).days, 1)
    low, high = _value_range(values, unit)

    def x(day: date) -> float:
        return round(LEFT + (WIDTH - LEFT - RIGHT) * (day - first).days / span, 1)

    def y(value: float) -> float:
        return round(TOP + (HEIGHT - TOP - BOTTOM) * (high - value) / (high - low), 1)

    parts += _axes(low, high, first, last, unit, y)
    if view.baseline is not None and view.baseline_on is not None and view.target is not None and view.target_by:
        parts.append(
            f'<line x1="{x(view.baseline_on)}" y1="{y(view.baseline)}" x2="{x(view.target_by)}" '
            f'y2="{y(view.target)}" stroke="{LINE_COLOUR}" stroke-width="2" stroke-dasharray="2 4"/>'
        )
    if view.target is not None and view.target_by is not None:
        ty = y(view.target)
        parts.append(
            f'<line x1="{LEFT}" y1="{ty}" x2="{WIDTH - RIGHT}" y2="{ty}" stroke="{TARGET_COLOUR}" '
            'stroke-width="2" stroke-dasharray="8 5"/>'
        )
        parts.append(
            f'<line x1="{x(view.target_by)}" y1="{TOP}" x2="{x(view.target_by)}" y2="{HEIGHT - BOTTOM}" '
            f'stroke="{TARGET_COLOUR}" stroke-width="1" stroke-dasharray="3 3"/>'
        )
        label = f"Target {with_unit(view.target, unit)} by {_short_date(view.target_by)}"
        anchor = "end" if x(view.target_by) > WIDTH / 2 else "start"
        tx = x(view.target_by) - 4 if anchor == "end" else x(view.target_by) + 4
        parts.append(
            f'<text x="{tx}" y="{ty - 6}" text-anchor="{anchor}" {FONT} {HALO} font-size="13" '
            f'fill="{TARGET_COLOUR}">{escape(label)}</text>'
        )
    if view.baseline is not None and view.baseline_on is not None:
        bx, by = x(view.baseline_on), y(view.baseline)
        parts.append(f'<circle cx="{bx}" cy="{by}" r="5" fill="#ffffff" stroke="{BASELINE_COLOUR}" stroke-width="2"/>')
        parts.append(
            f'<text x="{bx + 8}" y="{by + 18}" {FONT} {HALO} font-size="13" fill="#0b0c0c">'
            f"Baseline {escape(with_unit(view.baseline, unit))}</text>"
        )
    if points:
        path = " ".join(f"{x(d)},{y(v)}" for d, v in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{READINGS_COLOUR}" stroke-width="3"/>')
        for day, value in points:
            parts.append(f'<circle cx="{x(day)}" cy="{y(value)}" r="5" fill="{READINGS_COLOUR}"/>')
            parts.append(
                f'<text x="{x(day)}" y="{y(value) - 10}" text-anchor="middle" {FONT} {HALO} font-size="13" '
                f'font-weight="bold" fill="{READINGS_COLOUR}">{escape(with_unit(value, unit))}</text>'
            )
    parts += _key(bool(points))
    parts.append("</svg>")
    return "".join(parts)


def _value_range(values: list[float], unit: str) -> tuple[float, float]:
    """The figures the vertical axis spans: every value with room around it (0 to 100 at most
    for a percentage; never below 0, since no unit goes negative)."""
    low, high = min(values), max(values)
    pad = (high - low) * 0.15 or max(abs(high) * 0.15, 1)
    low, high = max(low - pad, 0), high + pad
    if unit == "percent":
        high = min(high, 100)
    return (low, high) if high > low else (low, low + 1)


def _axes(low: float, high: float, first: date, last: date, unit: str, y: Callable[[float], float]) -> list[str]:
    parts = [
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{HEIGHT - BOTTOM}" stroke="#0b0c0c" stroke-width="1"/>',
        f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" y2="{HEIGHT - BOTTOM}" stroke="#0b0c0c" '
        'stroke-width="1"/>',
    ]
    for step in range(5):
        value = low + (high - low) * step / 4
        shown = with_unit(round(value, 1) if high - low < 10 else round(value), unit).replace(" days", "d")
        parts.append(
            f'<text x="{LEFT - 6}" y="{y(value) + 4}" text-anchor="end" {FONT} font-size="12" '
            f'fill="#505a5f">{escape(shown)}</text>'
        )
    base = HEIGHT - BOTTOM + 18
    parts.append(f'<text x="{LEFT}" y="{base}" {FONT} font-size="12" fill="#505a5f">{_short_date(first)}</text>')
    parts.append(
        f'<text x="{WIDTH - RIGHT}" y="{base}" text-anchor="end" {FONT} font-size="12" '
        f'fill="#505a5f">{_short_date(last)}</text>'
    )
    return parts


def _key(has_readings: bool) -> list[str]:
    """What each line means, under the chart."""
    y = HEIGHT - 30
    items = [
        *([(READINGS_COLOUR, "", "3", "Readings")] if has_readings else []),
        (LINE_COLOUR, "2 4", "2", "Line from baseline to target"),
        (TARGET_COLOUR, "8 5", "2", "Target"),
    ]
    parts, x = [], LEFT
    for colour, dashes, width, label in items:
        dash = f' stroke-dasharray="{dashes}"' if dashes else ""
        parts.append(f'<line x1="{x}" y1="{y}" x2="{x + 28}" y2="{y}" stroke="{colour}" stroke-width="{width}"{dash}/>')
        parts.append(f'<text x="{x + 34}" y="{y + 4}" {FONT} font-size="13" fill="#0b0c0c">{label}</text>')
        x += 40 + 8 * len(label)
    return parts


def describe(view: MeasureView) -> str:
    """The chart in words, for a screen reader and anyone who cannot see the lines."""
    unit = view.unit.value
    said = []
    if baseline := dated_figure(view.baseline, unit, "on", view.baseline_on):
        said.append(f"Baseline {baseline}")
    if target := dated_figure(view.target, unit, "by", view.target_by):
        said.append(f"target {target}")
    if view.readings:
        said.append("readings: " + ", ".join(dated_figure(r.value, unit, "on", r.on) for r in view.readings))
    else:
        said.append("no readings yet")
    verdict = MEASURE_TRACK[view.on_track]
    if view.readings and view.expected is not None:
        latest = view.readings[-1]
        verdict += (
            f": the latest reading, {with_unit(latest.value, unit)}, against "
            f"{with_unit(round(view.expected, 1), unit)} expected on that day"
        )
    return "; ".join(said) + f". {verdict}."


def measure_rows(view: MeasureView) -> list[dict[str, str]]:
    """The chart's figures as table rows, oldest first: the baseline, each reading with what the
    line to the target expected on its day, and the target."""
    unit = view.unit.value
    rows: list[dict[str, str]] = []
    if view.baseline is not None and view.baseline_on is not None:
        rows.append(_row("Baseline", view.baseline_on, with_unit(view.baseline, unit)))
    readings_on = [r.on for r in view.readings]
    for reading in view.readings:
        expected = expected_on(view, reading.on)
        rows.append(
            _row(
                "Reading",
                reading.on,
                with_unit(reading.value, unit),
                expected=with_unit(round(float(expected), 1), unit) if expected is not None else "",
                by=reading.by,
                note=reading.note,
            )
        )
    if view.target is not None and view.target_by is not None:
        target = _row("Target", view.target_by, with_unit(view.target, unit))
        # In date order: a reading after the target date comes after the target's row.
        later = next((i for i, r in enumerate(readings_on) if r > view.target_by), len(readings_on))
        rows.insert(later + (1 if view.baseline is not None and view.baseline_on is not None else 0), target)
    return rows


def _row(label: str, on: date, value: str, *, expected: str = "", by: str = "", note: str = "") -> dict[str, str]:
    return {"label": label, "on": uk_date(on), "value": value, "expected": expected, "by": by, "note": note}
