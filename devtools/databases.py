"""A PostgreSQL database of its own, made and dropped around a test run or a benchmark."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def temporary_database(server_url: str, prefix: str, *, migrated: bool = True) -> Iterator[str]:
    """A new PostgreSQL database on the server of ``server_url`` (at the current schema unless
    ``migrated`` is False), dropped on leaving, even one left refusing connections. Creating it
    raises ``OperationalError`` when the server does not answer."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    from store.db import get_engine, migrate

    server = make_url(server_url)
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(
        server.set(database="postgres"), isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except BaseException:
        admin.dispose()
        raise
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        if migrated:
            migrate(url)
        yield url
    finally:
        get_engine(url).dispose()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
