"""Replay of recorded histories: a workflow change that would break running workflows fails here.

The histories in ``tests/histories/*.json`` were recorded by ``tests/histories/record_histories.py``
from real runs on the time-skipping server. Replaying them needs no server: the Replayer feeds
each history to today's ``RecommendationWorkflow`` and fails if the code now issues different
commands (an extra activity or timer, a changed order).

Versioning (the README's policy): until the first release is tagged no Assure workflow runs
anywhere, so a workflow change re-records these histories in the same commit and there is one
generation of workflow code. From the release on, every change goes behind
``workflow.patched(...)``, new histories are recorded beside the old, and a history is never
re-recorded to make its replay pass.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from temporalio.api.history.v1 import History
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from gateway.workflows import workflow_id_for
from models.payloads import (
    DELIVER_MAIL_BATCH,
    RECORD_TRANSITION,
    RecommendationInput,
    mail_queue,
    store_queue,
)
from worker import workflow_runner
from workflows.recommendation import RecommendationWorkflow

HISTORIES = Path(__file__).resolve().parents[1] / "histories"
HISTORY_FILES = sorted(HISTORIES.glob("*.json"))


def workflow_id_of(json_text: str) -> str:
    """The workflow id of a recorded run, from the recommendation in its start event's input."""
    started = json.loads(json_text)["events"][0]["workflowExecutionStartedEventAttributes"]
    payload = base64.b64decode(started["input"]["payloads"][0]["data"])
    return workflow_id_for(RecommendationInput.model_validate_json(payload).recommendation.ref)


def replayer() -> Replayer:
    """A Replayer configured like the worker: same workflow, converter and sandbox pass-through."""
    return Replayer(
        workflows=[RecommendationWorkflow],
        data_converter=pydantic_data_converter,
        workflow_runner=workflow_runner(),
    )


# One full lifecycle (two actions, an impact measure, a cascade to two agencies, a failed audit, a
# re-audit) must stay under this, as Temporal counts a history's size (the protobuf bytes its
# limits and ``get_current_history_size`` count): Updates answer small, the store gets deltas and
# a batch carries each notification once. (The cascade stage, with its two confirmations, its
# task email and its writes, took it from 51.7 to 62.2 KB; the measure, with its reporter's email,
# a reading owed, asked for and recorded, and the measure in the auditor's task, to 73.3 KB.)
FULL_LIFECYCLE_LIMIT = 80 * 1024
PROJECT = Path(__file__).resolve().parents[2]


def history_of(path: Path) -> WorkflowHistory:
    json_text = path.read_text()
    return WorkflowHistory.from_json(workflow_id_of(json_text), json_text)


class TestReplay:
    def test_the_recorded_histories_are_all_there(self):
        """Every recorded scenario is present, so deleting a history fails a test."""
        names = {path.stem for path in HISTORY_FILES}
        assert {
            "full_lifecycle",
            "overdue_ladder_and_extension",
            "reassign_and_withdraw",
            "continue_as_new_first_run",
            "continue_as_new_final_run",
            "imported_start",
        } == names

    def test_one_generation_of_workflow_code(self):
        """No workflow code asks ``workflow.patched`` and no recorded history carries a patch marker:
        before the first release there is one generation, and the replays test it."""
        patched = [p.name for p in (PROJECT / "workflows").glob("*.py") if "workflow.patched(" in p.read_text()]
        assert [] == patched
        for path in HISTORY_FILES:
            markers = [e.marker_recorded_event_attributes.marker_name for e in history_of(path).events
                       if e.HasField("marker_recorded_event_attributes")]  # fmt: skip
            assert "core_patch" not in markers, path.name

    def test_a_full_lifecycle_history_stays_small(self):
        """Two actions, a measure, a cascade, a failed audit and a re-audit record under 80 KB of history."""
        events = history_of(HISTORIES / "full_lifecycle.json").events
        size = History(events=events).ByteSize()
        assert size < FULL_LIFECYCLE_LIMIT, f"{size} bytes in {len(events)} events"

    def test_mail_batches_go_to_the_mail_queue_and_writes_to_the_store_queue(self):
        """Batches are scheduled on the workflow's queue's mail queue and the store's writes on its
        store queue, each served apart from the decisions; nothing else is scheduled."""
        events = json.loads((HISTORIES / "full_lifecycle.json").read_text())["events"]
        started = next(e for e in events if e["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED")
        task_queue = started["workflowExecutionStartedEventAttributes"]["taskQueue"]["name"]
        queues = {(e["activityTaskScheduledEventAttributes"]["activityType"]["name"],
                   e["activityTaskScheduledEventAttributes"]["taskQueue"]["name"])
                  for e in events if e["eventType"] == "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED"}  # fmt: skip
        assert {(DELIVER_MAIL_BATCH, mail_queue(task_queue)), (RECORD_TRANSITION, store_queue(task_queue))} == queues

    def test_the_first_run_history_ends_by_continuing_as_new(self):
        """The continue-as-new recording really covers a run that continued as new."""
        events = json.loads((HISTORIES / "continue_as_new_first_run.json").read_text())["events"]
        assert "EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW" == events[-1]["eventType"]

    @pytest.mark.parametrize("path", HISTORY_FILES, ids=[path.stem for path in HISTORY_FILES])
    async def test_the_history_replays_without_nondeterminism(self, path: Path):
        """Today's workflow code replays the recorded history command for command."""
        result = await replayer().replay_workflow(history_of(path), raise_on_replay_failure=False)
        failure = result.replay_failure
        assert None is failure, f"{path.name} no longer replays: {failure}"


KIND_FILES = sorted((HISTORIES / "kinds").glob("*.json"))


def test_every_other_workflow_kind_has_a_history():
    """The short workflows added with the response pages and the board pack, a cycle's period
    and return, and a leaver's hand-over have recorded histories."""
    assert {path.stem for path in KIND_FILES} >= {
        "FreshLinkWorkflow", "BoardPackWorkflow", "CyclePeriodWorkflow", "CycleReturnWorkflow", "HandOverWorkflow",
    }  # fmt: skip


@pytest.mark.parametrize("path", KIND_FILES, ids=[path.stem for path in KIND_FILES])
async def test_the_other_kinds_replay_without_nondeterminism(path: Path):
    """The short workflows replay their recorded histories command for command."""
    from workflows.board_digest import BoardDigestWorkflow
    from workflows.board_pack import BoardPackWorkflow
    from workflows.cycle_return import CyclePeriodWorkflow, CycleReturnWorkflow
    from workflows.fresh_link import FreshLinkWorkflow
    from workflows.hand_over import HandOverWorkflow

    replaying = Replayer(
        workflows=[
            FreshLinkWorkflow,
            BoardPackWorkflow,
            BoardDigestWorkflow,
            CyclePeriodWorkflow,
            CycleReturnWorkflow,
            HandOverWorkflow,
        ],  # fmt: skip
        data_converter=pydantic_data_converter,
        workflow_runner=workflow_runner(),
    )
    history = WorkflowHistory.from_json(f"replay-{path.stem}", path.read_text())
    result = await replaying.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name} no longer replays: {result.replay_failure}"
