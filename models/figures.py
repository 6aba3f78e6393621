"""A figure as people type one (a measure's baseline, target or reading), read one way by the
forms, the API's neighbours and the importer: ``12``, ``12.5``, ``1,200`` (commas only between
groups of three digits, so that ``12,5`` is refused rather than read as 125), ``60%`` where the
measure is a percentage. Whether the figure fits its unit is ``models.payloads.unit_value_problem``."""

from __future__ import annotations

import re

_FIGURE = re.compile(r"^[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$")


class FigureError(ValueError):
    """Text that is not a figure, with the reason in words."""


def parse_figure(text: str, *, percent_sign: bool) -> float:
    """The figure ``text`` writes; ``percent_sign``: a trailing ``%`` is allowed (a percentage)."""
    cleaned = text.strip()
    number = cleaned.removesuffix("%").strip() if percent_sign else cleaned
    if not _FIGURE.match(number):
        if cleaned.endswith("%") and not percent_sign:
            raise FigureError(f"{cleaned[:40]!r} is not a number (a % sign only fits a measure in percent)")
        if re.fullmatch(r"[+-]?\d+,\d{1,2}", number):
            raise FigureError(f"{cleaned[:40]!r} is not a number: write a decimal with a point, like 12.5")
        raise FigureError(f"{cleaned[:40]!r} is not a number, like 72 or 72.5")
    return float(number.replace(",", ""))
