"""The one rule for characters in text, wherever text enters (payloads, importer, forms, API).

Refused: NUL and the other control characters (PostgreSQL refuses NUL outright; the rest break
headers, logs and CSV exports), lone surrogates (not encodable, so not storable),
bidirectional overrides and isolates (they make text read differently from what it says), and
line and paragraph separators. Multi-line text keeps tabs and line breaks; a Windows or old Mac
line end becomes a plain newline, which is harmless, so it is changed rather than refused.
"""

from __future__ import annotations

import re
import unicodedata

# U+202A-U+202E (embeddings and overrides) and U+2066-U+2069 (isolates).
BIDI_CONTROLS = frozenset({*map(chr, range(0x202A, 0x202F)), *map(chr, range(0x2066, 0x206A))})
# Every refused character as one search (text is checked at every entry, so the usual case,
# nothing found, must be cheap): Cc is U+0000-U+001F and U+007F-U+009F, Cs the surrogates.
_ALWAYS_REFUSED = r"\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff"
_SINGLE_LINE_REFUSED = re.compile(rf"[\x00-\x1f{_ALWAYS_REFUSED}]")
# Multi-line text keeps tab (U+0009) and newline (U+000A).
_MULTILINE_REFUSED = re.compile(rf"[\x00-\x08\x0b-\x1f{_ALWAYS_REFUSED}]")


class TextError(ValueError):
    """Text holding a character that is refused; the message names it and where it is."""


def clean_text(value: str, *, multiline: bool) -> str:
    """``value`` with line ends made plain, or ``TextError`` naming the first refused character."""
    text = value.replace("\r\n", "\n").replace("\r", "\n") if multiline else value
    problem = text_problem(text, multiline=multiline)
    if problem:
        raise TextError(problem)
    return text


def text_problem(text: str, *, multiline: bool) -> str | None:
    """What is wrong with ``text``'s characters (the first refused one, and where), or None."""
    found = (_MULTILINE_REFUSED if multiline else _SINGLE_LINE_REFUSED).search(text)
    if found is None:
        return None
    return f"character {found.start() + 1} is {_describe(found.group())}; remove it"


def _describe(ch: str) -> str:
    code = ord(ch)
    label = f"U+{code:04X}"
    if ch == "\x00":
        return f"a NUL character ({label})"
    if ch in ("\t", "\n", "\r"):
        return f"a {'tab' if ch == chr(9) else 'line break'} ({label}), which this field cannot hold"
    category = unicodedata.category(ch)
    if category == "Cc":
        return f"a control character ({label})"
    if category == "Cs":
        return f"half of a broken character pair ({label})"
    if ch in BIDI_CONTROLS:
        return f"an invisible text-direction control ({label} {unicodedata.name(ch).lower()})"
    return f"an invisible {unicodedata.name(ch).lower()} ({label})"


# What ``shown_harmlessly`` makes visible: everything refused at entry but the line ends (tab,
# newline, and the carriage return of a mail's CRLF), and the zero-width characters that hide
# text without being refused.
_HIDDEN = re.compile(rf"[\x00-\x08\x0b\x0c\x0e-\x1f{_ALWAYS_REFUSED}\u200b-\u200f\ufeff]")


def shown_harmlessly(value: object) -> object:
    """Text as a page or an email shows it: any character that slipped past the entry checks
    (data from before them, or from Temporal directly) is shown as a visible ``[U+202E]`` marker
    rather than reversing, hiding or breaking what is around it. Anything not text is untouched.
    Used as the templates' ``finalize``, so it applies to every value they print."""
    if type(value) is not str:  # Markup (already safe HTML) and non-text pass through
        return value
    if _HIDDEN.search(value) is None:
        return value
    return _HIDDEN.sub(lambda found: f"[U+{ord(found.group()):04X}]", value)
