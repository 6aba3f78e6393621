"""The one place that opens database engines and sessions, and brings the store's schema up to
date (alembic migrations in ``migrations/``, the same on SQLite and PostgreSQL)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from functools import lru_cache
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, SQLModel, create_engine

from store import tables  # noqa: F401  (registers the tables on SQLModel.metadata)

# SQLAlchemy puts a failed statement's parameters (titles, addresses, evidence) into the error's
# text, which an activity reports to Temporal as its failure and a log line prints: never.
HIDE_PARAMETERS = True


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    """An engine for ``url``, created once per process; SQLite files get their folder made."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=HIDE_PARAMETERS
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_engine(url, pool_pre_ping=True, hide_parameters=HIDE_PARAMETERS)
    event.listen(engine, "handle_error", _primary_message_only)
    return engine


def _primary_message_only(context) -> None:
    """PostgreSQL's own error text quotes the row too ("DETAIL: Key (email)=(…) already exists",
    "Failing row contains (…)"): keep only its primary message, which names the constraint or
    the fault, in the driver's error and in SQLAlchemy's (whose text is built from it)."""
    original = context.original_exception
    primary = getattr(getattr(original, "diag", None), "message_primary", None)
    if not primary:
        return
    original.args = (primary,)
    if context.sqlalchemy_exception is not None:
        kind = type(original)
        context.sqlalchemy_exception.args = (f"({kind.__module__}.{kind.__name__}) {primary}",)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets the web app read while the worker writes; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL never corrupts the file; a power cut may lose the last commits, which
    # the workflows write again (every projection and sent-log write is idempotent).
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# Alembic narrates every step (even its imports) at INFO; what was applied is returned instead.
logging.getLogger("alembic").setLevel(logging.WARNING)
_MIGRATED: set[str] = set()


class StoreNeedsAttention(RuntimeError):
    """The store cannot be brought to the current schema by itself; the message says what to do."""


def init_db(url: str) -> Engine:
    """The engine for ``url``, with the store at the current schema (once per process)."""
    engine = get_engine(url)
    if url not in _MIGRATED:
        migrate(url)
        _MIGRATED.add(url)
    return engine


def migrate(url: str) -> list[str]:
    """Apply every migration the store lacks (alembic, ``migrations/``); returns those applied.

    A store made before migrations existed (by SQLModel's create_all) is adopted if its tables
    already match the current schema, and refused with what differs if they do not.
    """
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import inspect

    config = _alembic_config(url)
    scripts = ScriptDirectory.from_config(config)
    head = scripts.get_current_head()
    with get_engine(url).connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
        has_tables = "recommendation" in inspect(connection).get_table_names()
    if current == head:
        return []
    if current is None and has_tables:
        _adopt(url, config)
        return []
    command.upgrade(config, "head")
    # Another process may have migrated while this one waited for the lock: count from what it found.
    found = config.attributes.get("found_revision")
    return [script.revision for script in scripts.iterate_revisions(head, found)][::-1]


def _adopt(url: str, config) -> None:
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with get_engine(url).connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    if differences:
        shown = "; ".join(_describe(d) for d in differences[:5]) + ("; …" if len(differences) > 5 else "")
        raise StoreNeedsAttention(
            f"the store at {make_url(url).render_as_string(hide_password=True)} was made before Assure used "
            f"migrations and differs from the current schema ({len(differences)} difference(s): {shown}). "
            "A development store can be deleted (it is rebuilt, and the example re-imported, on the next "
            "start); otherwise bring it in line by hand, then run `assure migrate`."
        )
    command.stamp(config, "head")


def _describe(difference) -> str:
    """One of alembic's comparison results in a few words: "table web_session is missing"."""
    if isinstance(difference, list):  # changes to one column's type, nullability or default
        _, _, table, column, *_ = difference[0]
        return f"column {table}.{column} differs"
    kind, *details = difference
    change, _, thing = kind.partition("_")
    state = {"add": "is missing", "remove": "is not in the current schema"}.get(change, change)
    if thing == "column":
        return f"column {details[1]}.{details[2].name} {state}"
    return f"{thing.replace('_', ' ')} {getattr(details[-1], 'name', details[-1])} {state}"


def _alembic_config(url: str):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # configparser interpolation
    return config


@lru_cache(maxsize=8)
def _one_at_a_time(url: str) -> AbstractContextManager:
    """SQLite has one writer: this process's sessions on a SQLite file take turns. Left to
    SQLite's own busy handler, threads writing at once back off by sleeps of up to 100 ms, and a
    burst of workflow tasks storing their transitions waited seconds (bench.scale_timers)."""
    return threading.RLock() if get_engine(url).dialect.name == "sqlite" else nullcontext()


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with _one_at_a_time(url), Session(get_engine(url)) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
