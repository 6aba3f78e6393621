"""The recommendation workflow walked through its lifecycle on the time-skipping server."""

from __future__ import annotations

import asyncio

from models.payloads import (
    RECORD_TRANSITION,
    AcknowledgeInput,
    AgreeActionsInput,
    AuditOutcome,
    CompleteActionInput,
    RecordAuditInput,
    ReportProgressInput,
    SignOffInput,
    Stage,
    SubmitPlansInput,
)
from tests import factories as f
from tests.helpers import days, decide, refused, sent, skip_to, status, stored_seqs, stored_through, today


class TestFullLifecycle:
    async def test_review_to_assured_through_a_failed_audit(self, env, start, database_url):
        """A recommendation goes review → action → in_progress → plans → sign-off → audit → re-audit → assured."""
        now = await today(env)
        handle = await start(f.start("CSPR-LIFE"))
        assert Stage.review == (await status(handle)).stage

        result = await decide(
            handle,
            "agree_actions",
            AgreeActionsInput(
                by=f.SPONSOR,
                actions=[
                    f.action("A1", now + days(60)),
                    f.action("A2", now + days(60), owner=f.OWNER_2, agency=f.POLICE),
                ],
            ),
        )
        assert Stage.action == result.stage

        await decide(handle, "acknowledge", AcknowledgeInput(by=f.OWNER, action_id="A1"))
        result = await decide(handle, "acknowledge", AcknowledgeInput(by=f.OWNER_2, action_id="A2"))
        assert Stage.in_progress == result.stage

        await decide(
            handle, "complete_action", CompleteActionInput(by=f.OWNER, action_id="A1", evidence="Guidance v2 published")
        )
        result = await decide(
            handle, "complete_action", CompleteActionInput(by=f.OWNER_2, action_id="A2", evidence="Briefed 40 officers")
        )
        assert Stage.dissemination_plan == result.stage

        error = await refused(handle, "sign_off", SignOffInput(by=f.ASSURANCE))
        assert "SignOffRefused" == error.type
        gaps = error.details[0]["gaps"]
        assert [
            "no dissemination, communication and socialisation plan has been submitted",
            "no review and audit plan has been submitted",
        ] == gaps

        dissemination, audit = f.credible_plans(now)
        result = await decide(
            handle, "submit_plans", SubmitPlansInput(by=f.OWNER, dissemination=dissemination, audit=audit)
        )
        assert Stage.sign_off == result.stage
        result = await decide(handle, "sign_off", SignOffInput(by=f.ASSURANCE, note="Credible plans"))
        assert Stage.cascade == result.stage
        assert f.ASSURANCE == result.sign_off.by
        assert audit == result.sign_off.audit

        await skip_to(env, audit.audit_on)
        result = await decide(
            handle,
            "record_audit",
            RecordAuditInput(
                by=f.AUDITOR,
                outcome=AuditOutcome.not_embedded,
                findings="Meetings held in 12 of 20 cases",
                remedial_actions=[f.action("R1", audit.audit_on + days(30))],
                re_audit_on=audit.audit_on + days(60),
            ),
        )
        assert Stage.re_audit == result.stage
        assert "assigned" == result.actions[-1].status

        await decide(
            handle,
            "complete_action",
            CompleteActionInput(by=f.OWNER, action_id="R1", evidence="Supervision template changed"),
        )
        result = await decide(
            handle,
            "record_audit",
            RecordAuditInput(
                by=f.AUDITOR,
                outcome=AuditOutcome.embedded,
                findings="19 of 20",
                early_reason="Remedial work done early",
            ),
        )
        assert Stage.assured == result.stage
        final = await handle.result()
        assert Stage.assured == final.stage
        kinds = [row.kind for row in sent(database_url, "CSPR-LIFE")]
        assert kinds.count("task_assigned") == 3
        assert "plans_requested" in kinds and "signed_off" in kinds and "audit_failed" in kinds


class TestBackgroundWrites:
    async def test_a_burst_of_decisions_is_stored_one_write_at_a_time_and_completely(self, env, start, database_url):
        """Decisions taken together answer at once; their transitions reach the store in writes that
        never overlap (each starts after the last finished), fewer than the decisions, and the
        store ends with every timeline event the workflow has."""
        now = await today(env)
        handle = await start(f.start("BURST", actions=[f.action("A1", now + days(60))]))
        await decide(handle, "acknowledge", AcknowledgeInput(by=f.OWNER, action_id="A1"))
        notes = [ReportProgressInput(by=f.OWNER, action_id="A1", note=f"note {n}") for n in range(8)]
        answers = await asyncio.gather(*(decide(handle, "report_progress", note) for note in notes))
        latest = max(answers, key=lambda answer: answer.version)
        await stored_through(database_url, latest)

        history = await handle.fetch_history()
        writes, open_write = 0, None
        for event in history.events:
            if event.HasField("activity_task_scheduled_event_attributes"):
                if event.activity_task_scheduled_event_attributes.activity_type.name == RECORD_TRANSITION:
                    assert open_write is None, "a write started while another was on its way"
                    open_write, writes = event.event_id, writes + 1
            elif event.HasField("activity_task_completed_event_attributes"):
                if event.activity_task_completed_event_attributes.scheduled_event_id == open_write:
                    open_write = None
        assert 2 <= writes < 2 + len(notes)  # the start, then the decisions, some written together
        assert stored_seqs(database_url, "BURST") == [e.seq for e in (await status(handle)).timeline]
