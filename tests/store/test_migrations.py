"""The store's schema comes from the migrations, the same on SQLite and PostgreSQL: they match
the models exactly, a store made before migrations is adopted or refused with the reason, several
processes may migrate at once, and `assure migrate` says what it did."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlmodel import SQLModel

from store.db import StoreNeedsAttention, get_engine, migrate
from tests.helpers import temporary_database

ASSURE = str(Path(sys.executable).parent / "assure")
# Every revision, oldest first, as `assure migrate` lists what it applied to an empty store.
REVISIONS = sorted(
    p.name.split("_", 1)[0] for p in (Path(__file__).parents[2] / "migrations" / "versions").glob("0*.py")
)
APPLIED_ALL = "applied " + ", ".join(REVISIONS)


def differences(url: str) -> list:
    with get_engine(url).connect() as connection:
        return compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)


def revision(url: str) -> str | None:
    with get_engine(url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def test_the_migrations_build_exactly_the_models_tables(store_url):
    """A model changed without a migration fails here, on both databases."""
    assert differences(store_url) == []
    assert revision(store_url) is not None
    assert migrate(store_url) == []  # at the head already: nothing to do


def test_a_store_made_before_migrations_is_adopted_when_it_matches(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    SQLModel.metadata.create_all(get_engine(url))  # how the store was made before migrations
    assert revision(url) is None
    assert migrate(url) == []
    assert revision(url) is not None and differences(url) == []


def test_a_store_made_before_migrations_that_differs_is_refused_with_the_reason(tmp_path):
    url = f"sqlite:///{tmp_path / 'older.db'}"
    SQLModel.metadata.create_all(get_engine(url))
    with get_engine(url).begin() as connection:
        connection.execute(text("DROP TABLE web_session"))
    with pytest.raises(StoreNeedsAttention) as refused:
        migrate(url)
    assert "was made before Assure used migrations" in str(refused.value)
    assert "table web_session is missing" in str(refused.value) and "can be deleted" in str(refused.value)
    assert revision(url) is None  # nothing half-applied
    env = {**os.environ, "ASSURE_DATABASE_URL": url, "ASSURE_STATE_DIR": str(tmp_path)}
    status = subprocess.run([ASSURE, "status"], env=env, capture_output=True, text=True, timeout=60)
    assert status.returncode == 3 and status.stderr.startswith("the store needs attention: the store at sqlite")
    assert "Traceback" not in status.stderr


@pytest.mark.postgres
def test_workers_starting_together_migrate_one_at_a_time(postgres_url):
    """Three `assure migrate` processes on a fresh database at once (three workers starting
    together): the advisory lock lets one migrate at a time, and none fails."""
    with temporary_database(postgres_url, "assure_race", migrated=False) as url:
        env = {**os.environ, "ASSURE_DATABASE_URL": url}
        racers = [
            subprocess.Popen([ASSURE, "migrate"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(3)
        ]
        outcomes = [(racer.wait(timeout=60), *racer.communicate()) for racer in racers]
        assert [code for code, _, _ in outcomes] == [0, 0, 0], outcomes
        said = sorted(out.strip().rsplit(": ", 1)[1] for _, out, _ in outcomes)
        assert said == ["already at the current schema", "already at the current schema", APPLIED_ALL], outcomes
        assert differences(url) == [] and revision(url) == REVISIONS[-1]


def test_assure_migrate_says_what_it_did(tmp_path):
    env = {**os.environ, "ASSURE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "ASSURE_STATE_DIR": str(tmp_path)}
    first = subprocess.run([ASSURE, "migrate"], env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().endswith(APPLIED_ALL)
    again = subprocess.run([ASSURE, "migrate"], env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and again.stdout.strip().endswith("already at the current schema")
    unreachable = {**env, "ASSURE_DATABASE_URL": "postgresql+psycopg://nobody:secret@127.0.0.1:1/none"}
    failed = subprocess.run([ASSURE, "migrate"], env=unreachable, capture_output=True, text=True, timeout=60)
    assert failed.returncode == 1 and failed.stderr.startswith(
        "cannot reach the store at postgresql+psycopg://nobody:***@"
    )
    assert "secret" not in failed.stderr
