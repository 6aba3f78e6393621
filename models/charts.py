"""Charts as inline SVG, made on the server: no script, no outside resource, readable in email.

Colours are the GOV.UK palette's red, orange, green and mid-grey; every bar also carries its
number as text, and the chart has a title and description for screen readers.
"""

from __future__ import annotations

from html import escape

RAG_COLOURS = {"red": "#d4351c", "amber": "#f47738", "green": "#00703c", "closed": "#b1b4b6"}
RAG_ORDER = ("red", "amber", "green", "closed")
ROW_HEIGHT = 28
LABEL_WIDTH = 220
BAR_WIDTH = 420


def rag_bars_svg(title: str, rows: dict[str, dict[str, int]]) -> str:
    """One stacked horizontal bar per row label (a board, an agency), split by RAG rating."""
    height = ROW_HEIGHT * max(len(rows), 1) + 40
    largest = max((sum(counts.values()) for counts in rows.values()), default=0) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{LABEL_WIDTH + BAR_WIDTH + 60}" '
        f'height="{height}" viewBox="0 0 {LABEL_WIDTH + BAR_WIDTH + 60} {height}" aria-labelledby="t d">',
        f'<title id="t">{escape(title)}</title>',
        f'<desc id="d">{escape(_describe(rows))}</desc>',
    ]
    for index, (label, counts) in enumerate(rows.items()):
        y = 10 + index * ROW_HEIGHT
        parts.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{y + 17}" text-anchor="end" font-family="arial, sans-serif" '
            f'font-size="14" fill="#0b0c0c">{escape(label[:32])}</text>'
        )
        x = LABEL_WIDTH
        for rating in RAG_ORDER:
            count = counts.get(rating, 0)
            if not count:
                continue
            width = max(round(BAR_WIDTH * count / largest), 18)
            parts.append(f'<rect x="{x}" y="{y}" width="{width}" height="22" fill="{RAG_COLOURS[rating]}"/>')
            colour = "#0b0c0c" if rating in {"amber", "closed"} else "#ffffff"
            parts.append(
                f'<text x="{x + width / 2}" y="{y + 16}" text-anchor="middle" font-family="arial, sans-serif" '
                f'font-size="13" fill="{colour}">{count}</text>'
            )
            x += width
    parts.append("</svg>")
    return "".join(parts)


def _describe(rows: dict[str, dict[str, int]]) -> str:
    return (
        "; ".join(
            f"{label}: " + ", ".join(f"{counts.get(r, 0)} {r}" for r in RAG_ORDER if counts.get(r))
            for label, counts in rows.items()
        )
        or "nothing to show"
    )
