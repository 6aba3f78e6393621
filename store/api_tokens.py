"""API tokens: issued for a person in the registry, stored hashed, revocable."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime

from sqlmodel import Session, select

from store.tables import ApiToken, Person

TOKEN_PREFIX = "assure_"


class UnknownPerson(LookupError):
    """Tokens are only for people in the registry."""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(*, session: Session, email: str) -> str:
    """A new token for ``email``; the plain token is returned once and never stored."""
    person = session.exec(select(Person).where(Person.email == email.strip().lower())).first()
    if person is None:
        raise UnknownPerson(f"{email} is not in the registry; import them with their roles first")
    if person.left_on is not None:
        raise UnknownPerson(f"{email} has left the partnership ({person.left_on}); issue a token to their successor")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(token_hash=_hash(token), person=person.email, created_at=datetime.now(UTC)))
    return token


def revoke_tokens(*, session: Session, token: str | None = None, email: str | None = None) -> int:
    """Revoke one token, or every token of ``email``; returns how many were revoked."""
    query = select(ApiToken).where(ApiToken.revoked_at == None)  # noqa: E711 (SQL, not Python)
    if token is not None:
        query = query.where(ApiToken.token_hash == _hash(token))
    if email is not None:
        query = query.where(ApiToken.person == email.strip().lower())
    rows = list(session.exec(query))
    for row in rows:
        row.revoked_at = datetime.now(UTC)
        session.add(row)
    return len(rows)


def person_for_token(*, session: Session, token: str) -> Person | None:
    """The registry person behind a live token, or None."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == _hash(token))).first()
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.token_hash, _hash(token)):
        return None
    person = session.exec(select(Person).where(Person.email == row.person)).first()
    if person is not None and person.left_on is not None:
        return None  # someone who has left: their tokens end with them
    if person is not None:
        session.expunge(person)
    return person
