"""Effects that fail on bad data: told apart from outages, recorded for an operator, never retried.

A store that is down, or a relay that is, comes back: those failures are retried. Data the store
or the message builder refuses (a NUL PostgreSQL will not keep, an address that cannot be put in
a header) fails the same way on every try, so retrying it for ever only hides it. Such a failure
becomes a ``problem`` row (``assure doctor``, the dashboard's list), a count on the
``assure_problems`` metric, and a non-retryable ``ApplicationError`` of type ``BadData`` whose
message names what failed and where, never the value (no SQL parameters, no personal data).
"""

from __future__ import annotations

import email.errors
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError, StatementError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from models.payloads import BAD_DATA
from models.plain_text import shown_harmlessly, text_problem
from store.db import session_scope
from store.read_model import record_problem

log = structlog.get_logger(__name__)

STORE_REFUSED = "store_refused"
MAIL_FAILED = "mail_failed"
# The stable type of a store failure that is retried (the store is down or busy).
STORE_UNAVAILABLE = "StoreUnavailable"

# What a message builder or an encoder raises on text it cannot carry: the email package's
# header defects are ValueErrors, and so are Unicode's encoding errors.
_UNSENDABLE = (ValueError, email.errors.MessageError)


def store_refused_data(exc: BaseException) -> bool:
    """Whether a store error is about the data (the same on every try) rather than the store.

    ``DataError`` comes from the database; an ``IntegrityError`` only for a missing or refused
    value (NOT NULL, CHECK), since a unique-key clash can be two writes racing, which a retry
    settles (the projection's inserts ignore rows already there); a ``StatementError`` wrapping
    a ``ValueError`` or ``UnicodeError`` is the driver refusing a value before sending it
    (psycopg's "cannot contain NUL" is a ``DataError`` raised that way).
    """
    if isinstance(exc, DataError):
        return True
    if isinstance(exc, IntegrityError):
        text = str(getattr(exc, "orig", exc)).lower()
        return "unique" not in text and "duplicate" not in text
    return isinstance(exc, StatementError) and isinstance(exc.orig, ValueError | UnicodeError)


def unsendable(exc: BaseException) -> bool:
    """Whether building or encoding a message failed on its content (it will fail every time)."""
    return isinstance(exc, _UNSENDABLE)


def describe(exc: BaseException) -> str:
    """The failure in words safe to keep and log: its type, and the database's error code when
    there is one, never its message (which can quote the SQL and its values)."""
    origin = getattr(exc, "orig", None) or exc
    code = getattr(origin, "sqlstate", None) or getattr(getattr(origin, "diag", None), "sqlstate", None)
    name = type(origin).__name__
    return f"{name} (SQLSTATE {code})" if code else name


def suspect_fields(value: Any, path: str = "") -> list[str]:
    """Where in ``value`` (a payload's ``model_dump``) text holds a character a store or a header
    may refuse: field paths, never the text."""
    return list(_walk(value, path))[:10]


def _walk(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, str):
        # The entry checks' own rule (models/plain_text.py) says which characters are suspect.
        if text_problem(value, multiline=True):
            yield path or "(value)"
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")


def harmless(text: str) -> str:
    """``text`` with every character a store may refuse shown as a visible marker, for an
    identifier kept beside a problem (a ref or workflow id that came in crafted)."""
    return str(shown_harmlessly(text))


def subject_key(subject: str) -> str:
    """A stable token for what a problem concerns (a recipient), revealing nothing of it."""
    return hashlib.sha256(subject.lower().encode("utf-8", "surrogatepass")).hexdigest()[:16]


def note_problem(
    database_url: str, *, kind: str, subject: str, ref: str, detail: str, workflow_id: str | None = None
) -> None:
    """Keep one occurrence of a problem in its own short transaction (the failed one has rolled
    back), and count it. A store that is down now raises a retryable ``StoreUnavailable``: the
    activity is tried again, and so is this."""
    info = activity.info()
    workflow_id = harmless(workflow_id or info.workflow_id or "")
    try:
        with session_scope(database_url) as session:
            record_problem(
                session=session,
                key=f"{workflow_id}/{kind}/{subject_key(subject)}",
                workflow_id=workflow_id,
                ref=harmless(ref),
                kind=kind,
                detail=harmless(detail),
                now=datetime.now(UTC),
            )
    except SQLAlchemyError as exc:
        raise store_unavailable(exc) from None
    activity.metric_meter().create_counter(
        "assure_problems", "Effects that failed on bad data and were recorded for an operator, by kind"
    ).add(1, {"kind": kind})
    log.warning("problem_recorded", workflow_id=workflow_id, ref=harmless(ref), kind=kind, detail=detail)


def bad_data(message: str) -> ApplicationError:
    """The non-retryable failure of an effect on bad data (``message`` holds no value)."""
    return ApplicationError(message, type=BAD_DATA, non_retryable=True)


def store_unavailable(exc: BaseException) -> ApplicationError:
    """A store failure to retry, described without its SQL or parameters (which the database
    driver's message quotes, and Temporal would keep in the workflow's history)."""
    return ApplicationError(f"the store did not answer: {describe(exc)}", type=STORE_UNAVAILABLE)
