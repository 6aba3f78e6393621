"""Driving Assure's pages as a person does: a personal link as the worker mints it, and the CSRF
token a page's form carries. For the tests and the benchmarks (which do not import the tests);
the tests use these names from ``tests.web_client``."""

from __future__ import annotations

import re
from html import unescape

from links.signed import LinkClaims, Role, signer_from_settings
from settings import Settings

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def token_for(
    settings: Settings, person: str, ref: str, role: Role, action_id: str | None = None, epoch: int = 0
) -> str:
    """The signed token of ``person``'s link to ``ref`` in ``role`` (on ``action_id``, if given)."""
    claims = LinkClaims(person=person, ref=ref, role=role, action_id=action_id, owner_epoch=epoch)
    return signer_from_settings(settings).sign(claims)


def csrf_of(html: str) -> str:
    """The CSRF token of the (first) form on a page."""
    found = CSRF_FIELD.search(html)
    assert found, "the page has no form with a CSRF token"
    return unescape(found.group(1))
