"""The names people write for the fixed vocabularies (a review's kind, a priority), in one table.

Spreadsheets say ``SAR``, ``Safeguarding Adult Review``, ``Rapid review`` or ``High``; the
payload types, and so the importer, the forms and the API, read each of these as its value.
Matching ignores case, spacing, hyphens, underscores and a trailing plural "s".
"""

from __future__ import annotations

import re

# value -> (full name shown to people, other names and abbreviations people write)
SOURCE_KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "cspr": ("Child Safeguarding Practice Review", ("CSPR", "LCSPR", "Local Child Safeguarding Practice Review",
                                                    "Serious Case Review", "SCR")),
    "sar": ("Safeguarding Adult Review", ("SAR", "Safeguarding Adults Review")),
    "dhr": ("Domestic Homicide Review", ("DHR", "Domestic Abuse Related Death Review", "DARDR")),
    "rapid_review": ("Rapid review", ("RR",)),
    "learning_review": ("Local learning review", ("Learning review", "LLR", "Learning lessons review")),
    "audit": ("Audit", ("Multi-agency audit", "Case file audit")),
    "inspection": ("Inspection", ("JTAI", "Joint targeted area inspection")),
    "scrutiny": ("Scrutiny", ("Scrutiny exercise", "Independent scrutiny")),
}  # fmt: skip
PRIORITIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "high": ("High", ("H", "Urgent")),
    "medium": ("Medium", ("M", "Med", "Normal")),
    "low": ("Low", ("L",)),
}


def _key(text: str) -> str:
    words = re.sub(r"[\s_\-]+", " ", text.strip().casefold()).strip()
    return words.removesuffix("s") if len(words) > 3 else words


def _lookup(table: dict[str, tuple[str, tuple[str, ...]]]) -> dict[str, str]:
    found: dict[str, str] = {}
    for value, (full, others) in table.items():
        for name in (value, full, *others):
            key = _key(name)
            if found.setdefault(key, value) != value:
                raise AssertionError(f"{name!r} names both {found[key]} and {value}")
    return found


_SOURCE_KIND_NAMES = _lookup(SOURCE_KINDS)
_PRIORITY_NAMES = _lookup(PRIORITIES)


def source_kind_value(text: object) -> object:
    """The source kind ``text`` names (``'SAR'`` -> ``'sar'``); anything else unchanged, for the
    payload type to refuse with the list of choices."""
    return _SOURCE_KIND_NAMES.get(_key(text), text) if isinstance(text, str) else text


def priority_value(text: object) -> object:
    """The priority ``text`` names (``'High'`` -> ``'high'``); anything else unchanged."""
    return _PRIORITY_NAMES.get(_key(text), text) if isinstance(text, str) else text


def source_kind_names() -> list[str]:
    """The full names, in order, as the template's drop-down shows them."""
    return [full for full, _ in SOURCE_KINDS.values()]


def priority_names() -> list[str]:
    return [full for full, _ in PRIORITIES.values()]
