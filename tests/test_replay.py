"""Replay of recorded histories: a workflow change that would break running workflows fails here.

The histories in ``tests/histories/*.json`` were recorded by ``tests/histories/record_histories.py``
from real runs on the time-skipping server. Replaying them needs no server: the Replayer feeds
each history to today's ``RecommendationWorkflow`` and fails if the code now issues different
commands (an extra activity or timer, a changed order). Put such changes behind
``workflow.patched(...)``; never re-record a history to make its replay pass.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from gateway.workflows import workflow_id_for
from models.payloads import (
    DELIVER_MAIL,
    DELIVER_MAIL_BATCH,
    RECORD_TRANSITION,
    RecommendationInput,
    mail_queue,
    store_queue,
)
from worker import workflow_runner
from workflows.recommendation import RecommendationWorkflow

HISTORIES = Path(__file__).parent / "histories"
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


class TestReplay:
    def test_the_recorded_histories_are_all_there(self):
        """At least the four recorded scenarios are present, so deleting histories fails a test."""
        names = {path.stem for path in HISTORY_FILES}
        scenarios = {
            "full_lifecycle",
            "overdue_ladder_and_extension",
            "reassign_and_withdraw",
            "continue_as_new_first_run",
            "continue_as_new_final_run",
        }
        # Before email delivery (patch deliver-email-v1 off), after it, after deliveries stopped
        # waking the main loop (quiet-deliveries-v1), and after transitions were stored by local
        # activity and mail sent in batches (local-projection-v1, batched-mail-v1), and after
        # they were stored in the background (background-projection-v1).
        generations = ("email", "quiet", "batched", "background")
        expected = (
            scenarios
            | {f"{name}.{generation}" for name in scenarios for generation in generations}
            | {f"imported_start.{generation}" for generation in generations}
        )
        assert 4 <= len(HISTORY_FILES)
        assert set() == expected - names

    @pytest.mark.parametrize(
        ("generation", "patches", "stored_by", "sent_by"),
        [
            ("quiet", {"deliver-email-v1", "quiet-deliveries-v1"}, "activity", DELIVER_MAIL),
            ("batched", {"deliver-email-v1", "quiet-deliveries-v1", "local-projection-v1", "batched-mail-v1",
                         "steady-timer-v1"},
             "local activity", DELIVER_MAIL_BATCH),
            ("background", {"deliver-email-v1", "quiet-deliveries-v1", "batched-mail-v1", "steady-timer-v1",
                            "background-projection-v1"},
             "activity", DELIVER_MAIL_BATCH),
        ],
    )  # fmt: skip
    def test_each_generation_takes_its_own_paths(self, generation, patches, stored_by, sent_by):
        """Each generation's recording carries its patches' markers and stores and sends the way
        its code did, so the replays above really cover those branches."""
        events = json.loads((HISTORIES / f"full_lifecycle.{generation}.json").read_text())["events"]
        markers = [e["markerRecordedEventAttributes"] for e in events if e["eventType"] == "EVENT_TYPE_MARKER_RECORDED"]
        scheduled = {e["activityTaskScheduledEventAttributes"]["activityType"]["name"] for e in events
                     if e["eventType"] == "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED"}  # fmt: skip
        recorded = {
            json.loads(base64.b64decode(m["details"]["patch-data"]["payloads"][0]["data"]))["id"]
            for m in markers
            if m["markerName"] == "core_patch"
        }
        local = any(m["markerName"] == "core_local_activity" for m in markers)
        assert patches == recorded
        assert ("local activity" if local else "activity") == stored_by
        assert (RECORD_TRANSITION in scheduled) is not local
        assert sent_by in scheduled and ({DELIVER_MAIL, DELIVER_MAIL_BATCH} - {sent_by}).isdisjoint(scheduled)

    @pytest.mark.parametrize("generation", ["batched", "background"])
    def test_mail_batches_go_to_the_mail_queue_and_background_writes_to_the_store_queue(self, generation):
        """Batches are scheduled on the workflow's queue's mail queue, and (in the background
        generation) the store's writes on its store queue, each served apart from the decisions."""
        events = json.loads((HISTORIES / f"full_lifecycle.{generation}.json").read_text())["events"]
        started = next(e for e in events if e["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED")
        task_queue = started["workflowExecutionStartedEventAttributes"]["taskQueue"]["name"]
        queues = {(e["activityTaskScheduledEventAttributes"]["activityType"]["name"],
                   e["activityTaskScheduledEventAttributes"]["taskQueue"]["name"])
                  for e in events if e["eventType"] == "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED"}  # fmt: skip
        wanted = {(DELIVER_MAIL_BATCH, mail_queue(task_queue))}
        if generation == "background":
            wanted.add((RECORD_TRANSITION, store_queue(task_queue)))
        assert wanted == queues

    def test_the_first_run_history_ends_by_continuing_as_new(self):
        """The continue-as-new recording really covers a run that continued as new."""
        events = json.loads((HISTORIES / "continue_as_new_first_run.json").read_text())["events"]
        assert "EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW" == events[-1]["eventType"]

    @pytest.mark.parametrize("path", HISTORY_FILES, ids=[path.stem for path in HISTORY_FILES])
    async def test_the_history_replays_without_nondeterminism(self, path: Path):
        """Today's workflow code replays the recorded history command for command."""
        json_text = path.read_text()
        history = WorkflowHistory.from_json(workflow_id_of(json_text), json_text)
        result = await replayer().replay_workflow(history, raise_on_replay_failure=False)
        failure = result.replay_failure
        assert None is failure, f"{path.name} no longer replays: {failure}"


KIND_FILES = sorted((HISTORIES / "kinds").glob("*.json"))


def test_every_other_workflow_kind_has_a_history():
    """The short workflows added with the response pages and the board pack have recorded histories
    (BoardDigestWorkflow has none yet)."""
    assert {path.stem for path in KIND_FILES} >= {"FreshLinkWorkflow", "BoardPackWorkflow"}


@pytest.mark.parametrize("path", KIND_FILES, ids=[path.stem for path in KIND_FILES])
async def test_the_other_kinds_replay_without_nondeterminism(path: Path):
    """The short workflows replay their recorded histories command for command."""
    from workflows.board_digest import BoardDigestWorkflow
    from workflows.board_pack import BoardPackWorkflow
    from workflows.fresh_link import FreshLinkWorkflow

    replaying = Replayer(
        workflows=[FreshLinkWorkflow, BoardPackWorkflow, BoardDigestWorkflow],
        data_converter=pydantic_data_converter,
        workflow_runner=workflow_runner(),
    )
    history = WorkflowHistory.from_json(f"replay-{path.stem}", path.read_text())
    result = await replaying.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name} no longer replays: {result.replay_failure}"
