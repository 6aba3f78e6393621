"""The stores a benchmark runs on, side by side: a temporary SQLite file and, when the server
answers, a temporary PostgreSQL database (dropped at the end), at the current schema."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from sqlalchemy.exc import OperationalError

from devtools.databases import temporary_database
from store.db import init_db

POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def add_store_options(parser) -> None:
    parser.add_argument(
        "--postgres", metavar="URL", default=POSTGRES_SERVER,
        help=f"the PostgreSQL server to make a database on (default {POSTGRES_SERVER})",
    )  # fmt: skip
    parser.add_argument("--sqlite-only", action="store_true", help="run on SQLite alone")


@contextmanager
def store_urls(directory: Path, postgres: str | None) -> Iterator[list[tuple[str, str]]]:
    """[("SQLite", url), ("PostgreSQL", url)]: PostgreSQL left out, with a line saying so, when
    ``postgres`` is None or its server does not answer."""
    sqlite_url = f"sqlite:///{directory / 'assure.db'}"
    init_db(sqlite_url)
    stores = [("SQLite", sqlite_url)]
    with ExitStack() as stack:
        if postgres:
            try:
                stores.append(("PostgreSQL", stack.enter_context(temporary_database(postgres, "assure_bench"))))
            except OperationalError as exc:
                print(f"# PostgreSQL left out: the server did not answer ({type(exc).__name__})")
        yield stores
