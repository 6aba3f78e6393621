"""Charts as inline SVG, made on the server: no script, no outside resource, readable in email.

Colours are the GOV.UK palette's red, orange, green and mid-grey; every bar also carries its
number as text, and the chart has a title and description for screen readers.
"""

from __future__ import annotations

from html import escape

RAG_COLOURS = {"red": "#d4351c", "amber": "#f47738", "green": "#00703c", "closed": "#b1b4b6"}
RAG_ORDER = ("red", "amber", "green", "closed")
ROW_HEIGHT = 28
LABEL_WIDTH = 250
# Room for about this many characters of a board's or agency's name at 13px; longer ones are cut
# with an ellipsis (the full name is in the chart's description and in the table under it).
LABEL_CHARS = 34
BAR_WIDTH = 420


# One colour per stage, in lifecycle order: blues while actions run, purples through sign-off,
# then audit colours; closed stages grey. Each bar segment also carries its number as text.
STAGE_COLOURS = {
    "review": "#5694ca", "action": "#1d70b8", "in_progress": "#003078", "dissemination_plan": "#912b88",
    "sign_off": "#4c2c92", "cascade": "#85994b", "audit": "#28a197", "re_audit": "#f47738", "assured": "#00703c",
    "declined": "#b1b4b6", "withdrawn": "#505a5f",
}  # fmt: skip
DARK_TEXT_ON = frozenset({"#f47738", "#b1b4b6", "#5694ca", "#28a197", "#85994b"})

# A cascade's reach: the staff an agency confirmed reached, and the rest of those the plan expected.
REACH_COLOURS = {"reached": "#00703c", "not_confirmed": "#b1b4b6"}
REACH_LABELS = {"reached": "Staff reached", "not_confirmed": "Not confirmed as reached"}


RAG_LABELS = {"red": "Red", "amber": "Amber", "green": "Green", "closed": "Closed"}
KEY_ROW = 22
KEY_ITEM_WIDTH = 230


def rag_bars_svg(title: str, rows: dict[str, dict[str, int]], *, chart_id: str = "rag") -> str:
    """One stacked horizontal bar per row label (a board, an agency), split by RAG rating."""
    return stacked_bars_svg(title, rows, RAG_COLOURS, chart_id=chart_id, labels=RAG_LABELS)


def stage_bars_svg(
    title: str, rows: dict[str, dict[str, int]], *, chart_id: str = "stage", labels: dict[str, str] | None = None
) -> str:
    """One stacked horizontal bar per row label, split by lifecycle stage (``labels`` names them)."""
    return stacked_bars_svg(title, rows, STAGE_COLOURS, chart_id=chart_id, labels=labels)


def reach_bars_svg(title: str, reach: dict[str, tuple[int, int]], *, chart_id: str = "reach") -> str:
    """One bar per agency: the staff reached, then those expected but not confirmed as reached.
    ``reach`` is ``{agency: (reached, expected)}``; a reach above the plan's is drawn whole."""
    rows = {
        agency: {"reached": reached, "not_confirmed": max(expected - reached, 0)}
        for agency, (reached, expected) in reach.items()
    }
    return stacked_bars_svg(title, rows, REACH_COLOURS, chart_id=chart_id, labels=REACH_LABELS)


def stacked_bars_svg(
    title: str,
    rows: dict[str, dict[str, int]],
    colours: dict[str, str],
    *,
    chart_id: str,
    labels: dict[str, str] | None = None,
) -> str:
    """Stacked bars, segments in the order of ``colours``, with a key to the colours used under them;
    ``chart_id`` keeps ids unique on a page."""
    order = tuple(colours)
    used = [series for series in order if any(counts.get(series) for counts in rows.values())]
    per_row = max((LABEL_WIDTH + BAR_WIDTH + 60 - 20) // KEY_ITEM_WIDTH, 1)
    key_rows = -(-len(used) // per_row)
    bars_height = ROW_HEIGHT * max(len(rows), 1) + 20
    height = bars_height + KEY_ROW * key_rows + 10
    largest = max((sum(counts.values()) for counts in rows.values()), default=0) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{LABEL_WIDTH + BAR_WIDTH + 60}" '
        f'height="{height}" viewBox="0 0 {LABEL_WIDTH + BAR_WIDTH + 60} {height}" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
        f'<desc id="{chart_id}-d">{escape(_describe(rows, order))}</desc>',
    ]
    for index, (label, counts) in enumerate(rows.items()):
        y = 10 + index * ROW_HEIGHT
        parts.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{y + 17}" text-anchor="end" font-family="arial, sans-serif" '
            f'font-size="13" fill="#0b0c0c">{escape(_short(label))}</text>'
        )
        x = LABEL_WIDTH
        for series in order:
            count = counts.get(series, 0)
            if not count:
                continue
            width = max(round(BAR_WIDTH * count / largest), 18)
            fill = colours[series]
            parts.append(f'<rect x="{x}" y="{y}" width="{width}" height="22" fill="{fill}"/>')
            colour = "#0b0c0c" if fill in DARK_TEXT_ON or series in {"amber", "closed"} else "#ffffff"
            parts.append(
                f'<text x="{x + width / 2}" y="{y + 16}" text-anchor="middle" font-family="arial, sans-serif" '
                f'font-size="13" fill="{colour}">{count}</text>'
            )
            x += width
    for index, series in enumerate(used):
        x = 20 + (index % per_row) * KEY_ITEM_WIDTH
        y = bars_height + (index // per_row) * KEY_ROW
        name = (labels or {}).get(series, series.replace("_", " "))
        parts.append(f'<rect x="{x}" y="{y}" width="14" height="14" fill="{colours[series]}"/>')
        parts.append(
            f'<text x="{x + 20}" y="{y + 12}" font-family="arial, sans-serif" font-size="13" '
            f'fill="#0b0c0c">{escape(name[:32])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1].rstrip() + "…"


def _describe(rows: dict[str, dict[str, int]], order: tuple[str, ...]) -> str:
    return (
        "; ".join(
            f"{label}: " + ", ".join(f"{counts.get(r, 0)} {r.replace('_', ' ')}" for r in order if counts.get(r))
            for label, counts in rows.items()
        )
        or "nothing to show"
    )
