"""The one rule for an email address, wherever one enters (payloads, importer, forms, API).

An address is accepted only if the message builder (``activities/mail/message.py``, Python's
``email`` package) puts it in the ``To`` header and the SMTP envelope exactly as given. That is
a plain ASCII ``local@domain``: dot-atoms both sides, no comments ``(...)``, quoted parts,
display names, domain literals or non-ASCII characters, any of which the builder would drop,
re-encode or refuse (a non-ASCII local part makes it raise, and the mail batch with it).
``tests/models/test_input_rules.py`` proves the agreement with a property test.
"""

from __future__ import annotations

import re
import unicodedata

MAX_ADDRESS = 254
MAX_LOCAL_PART = 64
# RFC 5322 atext: what a dot-atom local part may hold without quoting.
_ATEXT = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
ADDRESS_PATTERN = rf"{_ATEXT}+(?:\.{_ATEXT}+)*@{_LABEL}(?:\.{_LABEL})+"
_ADDRESS = re.compile(ADDRESS_PATTERN)
# What Excel and Word put in place of a typed apostrophe.
_CURLY_APOSTROPHES = "\u2019\u2018\u02bc\u2032\u00b4`"


class AddressError(ValueError):
    """An address mail could not be sent to unchanged; the message says why and how to fix it."""


def check_address(value: str) -> str:
    """``value`` trimmed and lower-cased, or ``AddressError`` saying what is wrong and the fix."""
    address = value.strip().lower()
    problem = address_problem(address)
    if problem:
        raise AddressError(f"{value.strip()[:80]!r} is not an email address: {problem}")
    return address


def is_address(value: str) -> bool:
    """Whether ``value`` (already trimmed and lower-cased) passes the rule."""
    return address_problem(value) is None


def address_problem(address: str) -> str | None:
    """Why ``address`` (trimmed, lower-cased) is refused, with the fix; None when it is fine."""
    if not address:
        return "enter an address like name@example.org"
    if "<" in address or ">" in address:
        return "give the address alone, without a name or angle brackets, like name@example.org"
    if any(ch.isspace() for ch in address):
        return "it has a space in it: remove it"
    if "(" in address or ")" in address:
        return "it has a comment in brackets, which mail drops: remove the brackets and what is in them"
    if '"' in address:
        return "it has a quoted part, which mail does not send as typed: use a plain address"
    if "," in address or ";" in address:
        return "give one address only"
    curly = next((ch for ch in address if ch in _CURLY_APOSTROPHES and ch != "`"), None)
    if curly:
        return f"it has a curly apostrophe ({curly}, {_name(curly)}): use a straight apostrophe ' instead"
    local, at, domain = address.rpartition("@")
    if not at or "@" in local:
        return "an address has exactly one @, like name@example.org"
    odd = next((ch for ch in local if not ch.isascii()), None)
    if odd:
        return f"the part before the @ has {odd!r} ({_name(odd)}), which mail cannot carry: type plain letters"
    if not domain.isascii():
        try:
            ascii_domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            return "the part after the @ is not a domain name"
        return f"write the part after the @ as {ascii_domain}"
    if len(address) > MAX_ADDRESS or len(local) > MAX_LOCAL_PART:
        return f"it is too long (at most {MAX_LOCAL_PART} characters before the @ and {MAX_ADDRESS} in all)"
    if not _ADDRESS.fullmatch(address):
        return "it is not of the form name@example.org"
    return None


def _name(ch: str) -> str:
    return unicodedata.name(ch, f"U+{ord(ch):04X}").lower()
