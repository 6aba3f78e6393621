"""The worker's Prometheus endpoint (ASSURE_METRICS_ADDRESS): the Temporal SDK's own metrics and
Assure's counters of emails handled, escalations by level and refused decisions, on the real dev
server with a worker whose client runs on a metrics runtime."""

from __future__ import annotations

import re
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from gateway.workflows import metrics_runtime, start_recommendation
from models.payloads import AcknowledgeInput, WithdrawInput
from tests import factories as f
from tests.helpers import decide, eventually, free_port, refused, worker_maker

pytestmark = pytest.mark.devserver


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return response.read().decode()


def counted(text: str, name: str, **labels: str) -> float:
    """The value of counter ``name`` with ``labels`` (0 when absent)."""
    for line in text.splitlines():
        if not re.match(rf"{name}(_total)?\{{", line):
            continue
        if all(f'{key}="{value}"' in line for key, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_the_worker_serves_sdk_metrics_and_assures_counters(dev_env, settings, executor):
    port = free_port()
    client = await Client.connect(
        dev_env.client.service_client.config.target_host,
        namespace=dev_env.client.namespace,
        data_converter=pydantic_data_converter,
        runtime=metrics_runtime(f"127.0.0.1:{port}"),
    )
    today = datetime.now(UTC).date()
    async with worker_maker(client, settings=settings, executor=executor)():
        handle = await start_recommendation(
            client, f.start("METRICS", actions=[f.action("A1", today - timedelta(days=20))]),
            task_queue=settings.task_queue,
        )  # fmt: skip
        try:
            await refused(handle, "acknowledge", AcknowledgeInput(by=f.STRANGER, action_id="A1"))
            text = await eventually(
                # The task, not just any email: the measure's reporter is told first, at the start.
                lambda: (
                    (t := scrape(port))
                    and counted(t, "assure_notifications", kind="task_assigned", outcome="sent") >= 1
                    and t
                ),
                timeout=30,
            )
            assert counted(text, "assure_notifications", kind="task_assigned", outcome="sent") == 1
            assert counted(text, "assure_decisions_refused", decision="acknowledge", reason="WrongPerson") == 1
            assert sum(counted(text, "assure_escalations", level=level)
                       for level in ("owner", "agency_lead", "sponsoring_board", "assurance_board")) >= 1  # fmt: skip
            assert "temporal_workflow_task_execution_latency" in text or "temporal_request" in text  # the SDK's own
        finally:
            await decide(handle, "withdraw", WithdrawInput(by=f.SPONSOR, reason="test finished"))
            await handle.result()
