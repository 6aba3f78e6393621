"""Typed search attributes: a workflow's history gets an upsert only when a value changed, every
server Assure runs on has them registered, and an operator lists recommendations by stage with the
Temporal CLI."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

import pytest
import yaml
from temporalio import workflow
from temporalio.worker import Worker

from gateway.workflows import dev_server_path, start_recommendation, workflow_id_for
from models.payloads import AcknowledgeInput
from tests import factories as f
from tests.helpers import days, decide, worker_maker
from web.context import PROJECT_ROOT
from workflows.search_attributes import (
    BOARD,
    ESCALATION_LEVEL,
    OVERDUE,
    SEARCH_ATTRIBUTES,
    STAGE,
    SearchAttributesPublisher,
    register_search_attributes,
)


@workflow.defn(sandboxed=False)  # the publisher alone; RecommendationWorkflow runs it in the sandbox
class PublishTwice:
    """Publishes the same four values twice, then again with one of them changed."""

    @workflow.run
    async def run(self) -> None:
        publisher = SearchAttributesPublisher()
        publisher.publish(stage="action", board="Review Board", overdue=False, level="none")
        publisher.publish(stage="action", board="Review Board", overdue=False, level="none")
        publisher.publish(stage="action", board="Review Board", overdue=True, level="none")


class TestPublisher:
    async def test_only_the_values_that_changed_are_upserted(self, env):
        """Publishing the same values again adds nothing to history; a changed one is upserted alone."""
        queue = str(uuid.uuid4())
        async with Worker(env.client, task_queue=queue, workflows=[PublishTwice]):
            handle = await env.client.start_workflow(PublishTwice.run, id=f"publish-{queue}", task_queue=queue)
            await handle.result()
        history = await handle.fetch_history()
        upserts = [
            sorted(event.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields)
            for event in history.events
            if event.HasField("upsert_workflow_search_attributes_event_attributes")
        ]
        assert [["AssureBoard", "AssureEscalationLevel", "AssureOverdue", "AssureStage"], ["AssureOverdue"]] == upserts
        found = (await handle.describe()).typed_search_attributes
        assert ("action", "Review Board", True, "none") == (
            found.get(STAGE),
            found.get(BOARD),
            found.get(OVERDUE),
            found.get(ESCALATION_LEVEL),
        )

    async def test_registering_them_again_is_harmless(self, env):
        """The session's test server has them already (conftest); registering again raises nothing."""
        await register_search_attributes(env.client)


class TestRegistration:
    def test_the_compose_namespace_job_creates_every_attribute(self):
        """docker-compose's temporal-namespace job creates each attribute, with its type, in Assure's namespace."""
        compose = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
        script = compose["services"]["temporal-namespace"]["command"][0]
        loop = next(line for line in script.splitlines() if line.strip().startswith("for attribute in"))
        listed = loop.split(" in ", 1)[1].split(";", 1)[0].split()
        assert [f"{name}={kind}" for name, kind in SEARCH_ATTRIBUTES] == listed
        assert 'temporal operator search-attribute create -n "$$NAMESPACE"' in script


async def listed(dev_env, query: str) -> set[str]:
    """The workflow ids `temporal workflow list --query` prints, as an operator would run it."""
    process = await asyncio.create_subprocess_exec(
        dev_server_path(),
        "workflow",
        "list",
        "--address",
        dev_env.client.service_client.config.target_host,
        "--namespace",
        dev_env.client.namespace,
        "--query",
        query,
        "--output",
        "json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert 0 == process.returncode, err.decode()
    return {row["execution"]["workflowId"] for row in json.loads(out or b"[]")}


async def listed_eventually(dev_env, query: str, workflow_id: str, *, present: bool, timeout: float = 15.0) -> None:
    """Wait until ``workflow_id`` is (or is no longer) among those ``query`` lists: visibility
    catches up with a workflow's upsert a moment after it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (workflow_id in await listed(dev_env, query)) != present:
        if loop.time() > deadline:
            raise AssertionError(f"{workflow_id} {'not ' if present else ''}listed by {query!r} within {timeout}s")
        await asyncio.sleep(0.2)


@pytest.mark.devserver
class TestOperatorsView:
    async def test_a_recommendation_is_listed_by_its_stage_with_the_temporal_cli(
        self, dev_env, settings, executor, task_queue
    ):
        """`temporal workflow list --query 'AssureStage="action"'` finds a new recommendation, with its
        board, not overdue and not escalated; once both owners acknowledge, it is listed at in_progress instead."""
        ref = f"SA-{uuid.uuid4().hex[:8].upper()}"
        today = datetime.now(UTC).date()
        dev_worker = worker_maker(dev_env.client, settings=settings, executor=executor)
        async with dev_worker():
            handle = await start_recommendation(
                dev_env.client, f.start(ref, actions=f.two_actions(today + days(60))), task_queue=task_queue
            )
            assert workflow_id_for(ref) == handle.id
            at_action = (
                'AssureStage = "action" AND AssureBoard = "Review Board" AND AssureOverdue = false'
                ' AND AssureEscalationLevel = "none"'
            )
            await listed_eventually(dev_env, at_action, handle.id, present=True)

            await decide(handle, "acknowledge", AcknowledgeInput(by=f.OWNER, action_id="A1"))
            await decide(handle, "acknowledge", AcknowledgeInput(by=f.OWNER_2, action_id="A2"))
            await listed_eventually(dev_env, 'AssureStage = "in_progress"', handle.id, present=True)
            await listed_eventually(dev_env, 'AssureStage = "action"', handle.id, present=False)
