"""The recommendation workflow walked through its lifecycle on the time-skipping server."""

from __future__ import annotations

from models.payloads import (
    AcknowledgeInput,
    AgreeActionsInput,
    AuditOutcome,
    CompleteActionInput,
    RecordAuditInput,
    SignOffInput,
    Stage,
    SubmitPlansInput,
)
from tests import factories as f
from tests.helpers import days, decide, refused, sent, skip_to, status, today


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
        assert Stage.audit == result.stage
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
            handle, "record_audit", RecordAuditInput(by=f.AUDITOR, outcome=AuditOutcome.embedded, findings="19 of 20")
        )
        assert Stage.assured == result.stage
        final = await handle.result()
        assert Stage.assured == final.stage
        kinds = [row.kind for row in sent(database_url, "CSPR-LIFE")]
        assert kinds.count("task_assigned") == 3
        assert "plans_requested" in kinds and "signed_off" in kinds and "audit_failed" in kinds
