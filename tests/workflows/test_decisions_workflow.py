"""Decisions on the recommendation workflow: who may take them, when, and what they change."""

from __future__ import annotations

import asyncio

from gateway.workflows import start_recommendation
from models.payloads import (
    AcknowledgeInput,
    AgreeActionsInput,
    AuditOutcome,
    CompleteActionInput,
    DecideExtensionInput,
    DeclineInput,
    EscalationLevel,
    ReassignOwnerInput,
    RecordAuditInput,
    ReportProgressInput,
    RequestExtensionInput,
    SignOffInput,
    Stage,
    SubmitPlansInput,
    WithdrawInput,
)
from tests import factories as f
from tests.helpers import (
    days,
    decide,
    eventually_async,
    refused,
    sent,
    skip_to,
    status,
    status_with_escalations,
    stored_through,
    today,
)


async def _in_progress(env, start, ref: str):
    """A recommendation with actions A1 (OWNER) and A2 (OWNER_2), both acknowledged."""
    now = await today(env)
    handle = await start(
        f.start(
            ref,
            actions=f.two_actions(now + days(40)),
        )
    )
    await decide(handle, "acknowledge", AcknowledgeInput(by=f.OWNER, action_id="A1"))
    await decide(handle, "acknowledge", AcknowledgeInput(by=f.OWNER_2, action_id="A2"))
    return handle, now


async def _at_sign_off(env, start, ref: str):
    handle, now = await _in_progress(env, start, ref)
    await decide(handle, "complete_action", CompleteActionInput(by=f.OWNER, action_id="A1", evidence="done"))
    await decide(handle, "complete_action", CompleteActionInput(by=f.OWNER_2, action_id="A2", evidence="done"))
    dissemination, audit = f.credible_plans(now)
    await decide(handle, "submit_plans", SubmitPlansInput(by=f.OWNER, dissemination=dissemination, audit=audit))
    return handle, now, audit


class TestRefusals:
    async def test_every_decision_in_review_except_the_sponsors_is_refused(self, env, start):
        """In review only the board's sponsor or chair may agree actions; owners' and auditors' decisions are refused."""
        handle = await start(f.start("REFUSE-REVIEW"))
        before = await status(handle)
        now = await today(env)
        dissemination, audit = f.credible_plans(now)
        cases = [
            ("agree_actions", AgreeActionsInput(by=f.OWNER, actions=[f.action("A1", now + days(9))]), "WrongPerson"),
            (
                "agree_actions",
                AgreeActionsInput(by=f.SPONSOR, actions=[f.action("A1", now - days(1))]),
                "InvalidDecision",
            ),
            ("acknowledge", AcknowledgeInput(by=f.OWNER, action_id="A1"), "WrongStage"),
            ("report_progress", ReportProgressInput(by=f.OWNER, action_id="A1", note="x"), "WrongStage"),
            (
                "request_extension",
                RequestExtensionInput(by=f.OWNER, action_id="A1", new_due=now + days(90), reason="x"),
                "WrongStage",
            ),
            ("decide_extension", DecideExtensionInput(by=f.SPONSOR, action_id="A1", approve=True), "WrongStage"),
            ("complete_action", CompleteActionInput(by=f.OWNER, action_id="A1", evidence="x"), "WrongStage"),
            (
                "reassign_owner",
                ReassignOwnerInput(by=f.SPONSOR, action_id="A1", new_owner=f.NEW_OWNER, reason="x"),
                "WrongStage",
            ),
            ("submit_plans", SubmitPlansInput(by=f.SPONSOR, dissemination=dissemination, audit=audit), "WrongStage"),
            ("sign_off", SignOffInput(by=f.ASSURANCE), "WrongStage"),
            ("record_audit", RecordAuditInput(by=f.AUDITOR, outcome=AuditOutcome.embedded), "WrongStage"),
            ("decline", DeclineInput(by=f.OWNER, reason="x"), "WrongPerson"),
            ("withdraw", WithdrawInput(by=f.STRANGER, reason="x"), "WrongPerson"),
        ]
        for name, payload, expected_type in cases:
            error = await refused(handle, name, payload)
            assert (name, expected_type) == (name, error.type), error.message
        after = await status(handle)
        assert before.version == after.version  # a refused decision never enters history
        assert before.timeline == after.timeline

    async def test_owners_act_only_on_their_own_actions(self, env, start):
        """While actions run, an owner cannot act on another's action and only sponsors decide extensions or reassign."""
        handle, now = await _in_progress(env, start, "REFUSE-OWNERS")
        cases = [
            ("acknowledge", AcknowledgeInput(by=f.OWNER, action_id="A1"), "InvalidDecision"),  # already acknowledged
            ("acknowledge", AcknowledgeInput(by=f.OWNER_2, action_id="A1"), "WrongPerson"),
            ("acknowledge", AcknowledgeInput(by=f.OWNER, action_id="NOPE"), "UnknownAction"),
            ("report_progress", ReportProgressInput(by=f.OWNER_2, action_id="A1", note="x"), "WrongPerson"),
            ("complete_action", CompleteActionInput(by=f.OWNER_2, action_id="A1", evidence="x"), "WrongPerson"),
            (
                "request_extension",
                RequestExtensionInput(by=f.STRANGER, action_id="A1", new_due=now + days(90), reason="x"),
                "WrongPerson",
            ),
            (
                "request_extension",
                RequestExtensionInput(by=f.OWNER, action_id="A1", new_due=now + days(10), reason="x"),
                "InvalidDecision",
            ),
            ("decide_extension", DecideExtensionInput(by=f.SPONSOR, action_id="A1", approve=True), "InvalidDecision"),
            (
                "reassign_owner",
                ReassignOwnerInput(by=f.OWNER, action_id="A1", new_owner=f.NEW_OWNER, reason="x"),
                "WrongPerson",
            ),
            (
                "reassign_owner",
                ReassignOwnerInput(by=f.SPONSOR, action_id="A1", new_owner=f.OWNER, reason="x"),
                "InvalidDecision",
            ),
            ("agree_actions", AgreeActionsInput(by=f.SPONSOR, actions=[f.action("A9", now + days(9))]), "WrongStage"),
            (
                "submit_plans",
                SubmitPlansInput(by=f.OWNER, dissemination=f.credible_plans(now)[0], audit=f.credible_plans(now)[1]),
                "WrongStage",
            ),
            ("sign_off", SignOffInput(by=f.ASSURANCE), "WrongStage"),
            ("record_audit", RecordAuditInput(by=f.AUDITOR, outcome=AuditOutcome.embedded), "WrongStage"),
        ]
        for name, payload, expected_type in cases:
            error = await refused(handle, name, payload)
            assert (name, expected_type) == (name, error.type), error.message

        await decide(
            handle,
            "request_extension",
            RequestExtensionInput(by=f.OWNER, action_id="A1", new_due=now + days(90), reason="x"),
        )
        error = await refused(
            handle, "decide_extension", DecideExtensionInput(by=f.OWNER, action_id="A1", approve=True)
        )
        assert "WrongPerson" == error.type
        error = await refused(
            handle,
            "request_extension",
            RequestExtensionInput(by=f.OWNER, action_id="A1", new_due=now + days(99), reason="y"),
        )
        assert "already has an extension request waiting" in error.message

    async def test_sign_off_and_audit_need_the_right_board_member(self, env, start):
        """Only an Assurance Board member signs off and only an auditor records an audit."""
        handle, now, audit = await _at_sign_off(env, start, "REFUSE-BOARD")
        dissemination, _ = f.credible_plans(now)
        resubmission = SubmitPlansInput(by=f.STRANGER, dissemination=dissemination, audit=audit)
        assert "WrongPerson" == (await refused(handle, "submit_plans", resubmission)).type
        assert "WrongPerson" == (await refused(handle, "sign_off", SignOffInput(by=f.SPONSOR))).type
        assert "WrongStage" == (await refused(handle, "decline", DeclineInput(by=f.SPONSOR, reason="x"))).type
        await decide(handle, "sign_off", SignOffInput(by=f.ASSURANCE))
        assert (
            "WrongPerson"
            == (await refused(handle, "record_audit", RecordAuditInput(by=f.OWNER, outcome=AuditOutcome.embedded))).type
        )
        error = await refused(handle, "record_audit", RecordAuditInput(by=f.AUDITOR, outcome=AuditOutcome.not_embedded))
        assert "needs remedial actions" in error.message
        error = await refused(
            handle,
            "record_audit",
            RecordAuditInput(
                by=f.AUDITOR, outcome=AuditOutcome.partially_embedded, remedial_actions=[f.action("R1", now + days(30))]
            ),
        )
        assert "needs a re-audit date" in error.message

    async def test_a_refused_sign_off_names_every_gap_of_weak_plans(self, env, start):
        """Plans missing a socialisation approach and an auditor are refused with both gaps named."""
        handle, now, _ = await _at_sign_off(env, start, "REFUSE-GAPS")
        dissemination, audit = f.credible_plans(now)
        weak = dissemination.model_copy(update={"socialisation": "", "channels": []})
        await decide(
            handle,
            "submit_plans",
            SubmitPlansInput(by=f.OWNER, dissemination=weak, audit=audit.model_copy(update={"auditor": ""})),
        )
        error = await refused(handle, "sign_off", SignOffInput(by=f.ASSURANCE))
        assert "SignOffRefused" == error.type
        assert [
            "dissemination plan: name the channels the learning goes out through",
            "dissemination plan: say how the change is socialised into everyday practice",
            "audit plan: name an auditor",
        ] == error.details[0]["gaps"]


class TestChanges:
    async def test_reassignment_moves_the_task_and_revokes_the_old_owner(self, env, start, database_url):
        """After reassignment the new owner is tasked and acts; the old owner is told and can no longer act."""
        handle, _ = await _in_progress(env, start, "REASSIGN")
        result = await decide(
            handle,
            "reassign_owner",
            ReassignOwnerInput(
                by=f.SPONSOR, action_id="A1", new_owner=f.NEW_OWNER, reason="Named nurse on long-term leave"
            ),
        )
        action = result.actions[0]
        assert (f.NEW_OWNER, "assigned", 1) == (action.owner, action.status, action.owner_epoch)
        assert (
            "WrongPerson"
            == (
                await refused(handle, "complete_action", CompleteActionInput(by=f.OWNER, action_id="A1", evidence="x"))
            ).type
        )
        result = await decide(handle, "acknowledge", AcknowledgeInput(by=f.NEW_OWNER, action_id="A1"))
        assert "acknowledged" == result.actions[0].status
        await stored_through(database_url, result)
        rows = sorted((r.kind, r.recipients) for r in sent(database_url, "REASSIGN") if r.action_id == "A1")
        assert [("task_assigned", [f.NEW_OWNER]), ("task_assigned", [f.OWNER]), ("task_reassigned", [f.OWNER])] == rows

    async def test_withdrawal_closes_the_workflow_with_its_reason(self, env, start, database_url):
        """A sponsor's withdrawal ends the workflow in 'withdrawn' with the reason kept, and open owners are told."""
        handle, _ = await _in_progress(env, start, "WITHDRAW")
        await decide(handle, "withdraw", WithdrawInput(by=f.SPONSOR, reason="Superseded by the 2024 thematic review"))
        final = await handle.result()
        assert (Stage.withdrawn, "Superseded by the 2024 thematic review") == (final.stage, final.closed_reason)
        assert None is final.next_deadline
        withdrawn = [r for r in sent(database_url, "WITHDRAW") if r.kind == "withdrawn"]
        assert [sorted([f.OWNER, f.OWNER_2, f.SPONSOR, f.CHAIR])] == [r.recipients for r in withdrawn]
        # The query still answers after the workflow has closed.
        assert Stage.withdrawn == (await status(handle)).stage

    async def test_decline_records_the_boards_reasons(self, env, start):
        """The sponsoring board declines a recommendation in review, and its published reasons are kept."""
        handle = await start(f.start("DECLINE"))
        await decide(handle, "decline", DeclineInput(by=f.CHAIR, reason="Already covered by the SAR action plan"))
        final = await handle.result()
        assert (Stage.declined, "Already covered by the SAR action plan") == (final.stage, final.closed_reason)

    async def test_two_failed_audits_in_a_row_escalate_to_the_assurance_board(self, env, start, database_url):
        """A second failed audit escalates to the Assurance Board; remedial actions run their own ladder."""
        handle, now, audit = await _at_sign_off(env, start, "REAUDIT")
        await decide(handle, "sign_off", SignOffInput(by=f.ASSURANCE))
        await skip_to(env, audit.audit_on)
        first = await decide(
            handle,
            "record_audit",
            RecordAuditInput(
                by=f.AUDITOR,
                outcome=AuditOutcome.partially_embedded,
                findings="Half the teams",
                remedial_actions=[f.action("R1", audit.audit_on + days(20))],
                re_audit_on=audit.audit_on + days(60),
            ),
        )
        assert (Stage.re_audit, []) == (
            first.stage,
            [e for e in first.escalations if e.kind == "repeated_audit_failure"],
        )
        await decide(handle, "acknowledge", AcknowledgeInput(by=f.OWNER, action_id="R1"))
        await skip_to(env, audit.audit_on + days(21))
        overdue = await status(handle)
        assert (True, EscalationLevel.owner) == (overdue.overdue, overdue.escalation_level)
        await decide(handle, "complete_action", CompleteActionInput(by=f.OWNER, action_id="R1", evidence="done"))
        second = await decide(
            handle,
            "record_audit",
            RecordAuditInput(
                by=f.AUDITOR,
                outcome=AuditOutcome.not_embedded,
                findings="Still not embedded",
                remedial_actions=[f.action("R2", audit.audit_on + days(80))],
                re_audit_on=audit.audit_on + days(120),
                early_reason="R1 finished early, so re-audited at once",
            ),
        )
        # Recorded before the re-audit date, with its reason: kept on the audit and in the timeline.
        assert "R1 finished early, so re-audited at once" == second.audits[1].early_reason
        assert "" == second.audits[0].early_reason  # the first was on its date
        [early] = [e for e in second.timeline if e.detail.startswith("audit 2")]
        assert f"early (planned for {audit.audit_on + days(60)}): R1 finished early" in early.detail
        repeated = [e for e in second.escalations if e.kind == "repeated_audit_failure"]
        assert [(EscalationLevel.assurance_board, [f.ASSURANCE])] == [(e.level, e.recipients) for e in repeated]
        assert 2 == len(second.audits)
        await stored_through(database_url, second)
        assert 1 == len([r for r in sent(database_url, "REAUDIT") if r.kind == "repeated_audit_failure"])


class TestEarlyAudit:
    async def test_an_audit_before_its_date_needs_a_confirmed_reason_kept_in_the_timeline(self, env, start):
        """Before the plan's audit date an audit is refused as EarlyAudit unless a reason is given, which the timeline keeps."""
        handle, now, audit = await _at_sign_off(env, start, "EARLY")
        await decide(handle, "sign_off", SignOffInput(by=f.ASSURANCE))
        early = RecordAuditInput(by=f.AUDITOR, outcome=AuditOutcome.embedded, findings="20 of 20")
        refusal = await refused(handle, "record_audit", early)
        assert "EarlyAudit" == refusal.type
        assert "planned for" in refusal.message
        reason = "The team asked for the audit before a restructure"
        result = await decide(handle, "record_audit", early.model_copy(update={"early_reason": reason}))
        assert Stage.assured == result.stage
        [event] = [e for e in result.timeline if e.kind == "audit_embedded"]
        assert reason in event.detail and str(audit.audit_on) in event.detail


class TestContinueAsNew:
    async def test_continue_as_new_keeps_the_whole_state(self, env, start, database_url):
        """A workflow that continues as new keeps its actions, notes, timeline and sends nothing twice."""
        now = await today(env)
        handle = await start(
            f.start("CAN", actions=[f.action("A1", now + days(60))], continue_as_new_after=50, measures=[])
        )
        first_run = handle.first_execution_run_id
        await decide(handle, "acknowledge", AcknowledgeInput(by=f.OWNER, action_id="A1"))
        for n in range(12):
            await decide(handle, "report_progress", ReportProgressInput(by=f.OWNER, action_id="A1", note=f"update {n}"))
        # It continues as new once the last transition is stored, just after the decision answers
        # (polled in real time: the worker's work, not the clock).
        async with asyncio.timeout(15):
            while (await env.client.get_workflow_handle(handle.id).describe()).run_id == first_run:
                await asyncio.sleep(0.05)
        carried = await status(handle)
        assert [f"update {n}" for n in range(12)] == [p.note for p in carried.actions[0].progress]
        assert list(range(1, carried.timeline[-1].seq + 1)) == [e.seq for e in carried.timeline]
        done = await decide(handle, "complete_action", CompleteActionInput(by=f.OWNER, action_id="A1", evidence="done"))
        assert Stage.dissemination_plan == (await status(handle)).stage
        await stored_through(database_url, done)
        keys = [r.key for r in sent(database_url, "CAN")]
        assert len(keys) == len(set(keys))
        assert ["task_assigned", "plans_requested"] == [r.kind for r in sent(database_url, "CAN")]


class TestWorkerHandover:
    async def test_a_second_worker_finishes_what_a_stopped_worker_started(self, env, worker_factory, task_queue):
        """A recommendation whose worker stops mid-way is carried on, timers included, by a new worker."""
        now = await today(env)
        # Without a workflow cache the first worker holds no sticky task queue, which the
        # time-skipping server would otherwise wait on (in frozen time) after the worker stops.
        async with worker_factory(max_cached_workflows=0):
            handle = await start_recommendation(
                env.client, f.start("HANDOVER", actions=[f.action("A1", now + days(10))]), task_queue=task_queue
            )
            await decide(handle, "acknowledge", AcknowledgeInput(by=f.OWNER, action_id="A1"))
            # The store write and the mail run beside the decision: let them finish before the
            # worker stops, or the server would hold its clock for them.
            await eventually_async(lambda: _no_activity_pending(handle))
        async with worker_factory():
            await skip_to(env, now + days(11))
            assert EscalationLevel.owner == (await status_with_escalations(handle, 1)).escalation_level
            await decide(handle, "complete_action", CompleteActionInput(by=f.OWNER, action_id="A1", evidence="done"))
            await decide(handle, "withdraw", WithdrawInput(by=f.SPONSOR, reason="test finished"))
            assert Stage.withdrawn == (await handle.result()).stage


async def _no_activity_pending(handle) -> bool:
    return not (await handle.describe()).raw_description.pending_activities
