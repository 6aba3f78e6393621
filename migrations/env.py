"""Alembic's environment: the store's tables are SQLModel's metadata (store/tables.py).

Run by ``store.db.migrate`` (``assure migrate``, and every process that opens the store) with
the URL in the config; by hand (``alembic revision --autogenerate -m "..."`` from the project
root) it takes ``ASSURE_DATABASE_URL``. On PostgreSQL an advisory lock lets one process migrate
at a time, so several workers starting together never race.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import text
from sqlmodel import SQLModel

from store import tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from store.db import get_engine

# Any fixed number; the same in every Assure process.
MIGRATION_LOCK = 7_441_123


def _url() -> str:
    url = context.config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from settings import get_settings

    return get_settings().database_url


def run() -> None:
    engine = get_engine(_url())
    with engine.connect() as connection:
        postgresql = connection.dialect.name == "postgresql"
        if postgresql:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
            connection.commit()
        try:
            context.configure(
                connection=connection,
                target_metadata=SQLModel.metadata,
                render_as_batch=connection.dialect.name == "sqlite",  # ALTER TABLE by copy on SQLite
                compare_type=True,
            )
            with context.begin_transaction():
                # Read under the lock: what this process finds is what it applies.
                context.config.attributes["found_revision"] = context.get_context().get_current_revision()
                context.run_migrations()
        finally:
            if postgresql:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
                connection.commit()


if context.is_offline_mode():
    raise SystemExit("Assure's migrations run against a live database; offline SQL scripts are not supported")
run()
