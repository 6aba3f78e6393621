"""Dashboard sign-in: one-time links by email, then a server-side session behind a signed cookie.

No passwords. A person in the registry asks for a link; it is signed, names them, carries a
random nonce and lasts ``SIGN_IN_LINK_MINUTES``. Opening it shows a button; pressing the button
(a POST, so mail scanners that open links use nothing) records the nonce, so the link works once,
and starts a session. The cookie holds a random token signed with the deployment key; the store
keeps only its hash, so a session can be ended for good.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, Signer, URLSafeTimedSerializer
from itsdangerous.exc import SignatureExpired
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from store.tables import Person, UsedSignInLink, WebSession

SIGN_IN_LINK_MINUTES = 30
SESSION_HOURS = 12
COOKIE_NAME = "assure_session"
_LINK_SALT = "assure.sign-in-link"
_COOKIE_SALT = "assure.session-cookie"


class SignInRefused(Exception):
    """A sign-in link that cannot be used, with the plain reason to show."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.expired = expired


@dataclass(frozen=True)
class SignInClaims:
    email: str
    nonce: str


class SignInLinks:
    """Signs and reads the one-time links; ``max_age`` is how long one may wait unused."""

    def __init__(self, secret_key: str, max_age: timedelta = timedelta(minutes=SIGN_IN_LINK_MINUTES)) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt=_LINK_SALT)
        self.max_age = max_age

    def sign(self, email: str, nonce: str) -> str:
        return self._serializer.dumps({"e": email.lower(), "n": nonce})

    def url(self, base_url: str, email: str, nonce: str) -> str:
        return f"{base_url.rstrip('/')}/sign-in/{self.sign(email, nonce)}"

    def read(self, token: str) -> SignInClaims:
        if len(token) > 600:
            raise SignInRefused("This sign-in link is not complete or has been changed.")
        try:
            wire = self._serializer.loads(token, max_age=int(self.max_age.total_seconds()))
        except SignatureExpired:
            raise SignInRefused(
                f"This sign-in link has expired: links last {int(self.max_age.total_seconds() // 60)} minutes.",
                expired=True,
            ) from None
        except BadSignature:
            raise SignInRefused("This sign-in link is not complete or has been changed.") from None
        if not isinstance(wire, dict) or not isinstance(wire.get("e"), str) or not isinstance(wire.get("n"), str):
            raise SignInRefused("This sign-in link is not complete or has been changed.")
        return SignInClaims(email=wire["e"], nonce=wire["n"])


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def registered_person(*, session: Session, email: str) -> Person | None:
    """The registry person with this address, detached, or None; None too for someone who has
    left (``store.people``): their sign-in, sessions and tokens end with their leaving."""
    person = session.exec(select(Person).where(Person.email == email.strip().lower())).first()
    if person is not None and person.left_on is not None:
        return None
    if person is not None:
        session.expunge(person)
    return person


def use_sign_in_link(*, session: Session, claims: SignInClaims, now: datetime) -> None:
    """Record the link as used, or raise ``SignInRefused`` if it was used before."""
    try:
        with session.begin_nested():
            session.add(UsedSignInLink(nonce=claims.nonce[:64], used_at=now))
    except IntegrityError:
        raise SignInRefused("This sign-in link has been used already. Each link works once.") from None


class SessionCookies:
    """The session cookie's value: a random token, signed so that a forged one is turned away
    before the store is asked."""

    def __init__(self, secret_key: str) -> None:
        self._signer = Signer(secret_key, salt=_COOKIE_SALT)

    def start(self, *, session: Session, email: str, now: datetime) -> str:
        """A new session for ``email``; returns the cookie value."""
        token = secrets.token_urlsafe(32)
        session.add(
            WebSession(
                token_hash=_hash(token),
                person=email.lower(),
                created_at=now,
                expires_at=now + timedelta(hours=SESSION_HOURS),
            )
        )
        return self._signer.sign(token).decode()

    def token(self, cookie: str | None) -> str | None:
        """The random token inside a genuine cookie, or None."""
        if not cookie or len(cookie) > 200:
            return None
        try:
            return self._signer.unsign(cookie).decode()
        except BadSignature:
            return None

    def person(self, *, session: Session, cookie: str | None, now: datetime) -> Person | None:
        """The registry person of a live session, or None (no cookie, forged, ended, expired, or
        no longer in the registry)."""
        token = self.token(cookie)
        if token is None:
            return None
        row = session.get(WebSession, _hash(token))
        if row is None or row.expires_at <= now:
            return None
        return registered_person(session=session, email=row.person)

    def end(self, *, session: Session, cookie: str | None) -> None:
        token = self.token(cookie)
        if token is not None:
            session.exec(delete(WebSession).where(col(WebSession.token_hash) == _hash(token)))
