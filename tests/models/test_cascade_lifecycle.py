"""The cascade in the pure lifecycle: what the workflow tests would take a server for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from models.deadlines import SYSTEM_ACTOR
from models.lifecycle import Lifecycle
from models.payloads import CompleteActionInput, SignOffInput, Stage, SubmitPlansInput, UpdatePartiesInput
from models.rules import deadline_at
from tests import factories as f

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)


def signed_off() -> Lifecycle:
    life = Lifecycle.begin(f.start(actions=[f.action("A1", NOW.date() + timedelta(days=10))]), workflow_id="w", now=NOW)
    life.apply(CompleteActionInput(by=f.OWNER, action_id="A1", evidence="Guidance v2"), NOW)
    dissemination, audit = f.credible_plans(NOW.date())
    life.apply(SubmitPlansInput(by=f.OWNER, dissemination=dissemination, audit=audit), NOW)
    life.check(SignOffInput(by=f.ASSURANCE), NOW)
    life.apply(SignOffInput(by=f.ASSURANCE), NOW)
    assert Stage.cascade is life.state.stage
    del life.state.outbox[:]
    return life


def test_an_agency_that_loses_its_lead_is_asked_of_the_board_at_once():
    """The registry drops the police's safeguarding lead mid-cascade: the reminder and the first
    rung go to the ICB's lead and to the board's sponsors, not to the ICB's lead alone."""
    life = signed_off()
    parties = f.parties().model_copy(update={"agency_leads": {f.ICB: f.ICB_LEAD}})
    life.apply_update_parties(UpdatePartiesInput(by="registry", parties=parties), NOW)
    assert [None] == [v.lead for v in life.cascade_views() if v.agency == f.POLICE]

    reminder = next(d for d in life.pending_deadlines() if d.kind == "cascade_reminder")
    life.fire_due(reminder.at)
    told = next(n for n in life.state.outbox if n.kind == "cascade_reminder")
    assert sorted([f.ICB_LEAD, f.SPONSOR]) == told.recipients
    assert {f.ICB_LEAD: "cascade_lead", f.SPONSOR: "board_sponsor"} == told.context["roles"]

    cascade_by = life.state.dissemination.cascade_by
    life.fire_due(deadline_at(cascade_by))
    rung = life.state.escalations[-1]
    assert ("cascade", sorted([f.ICB_LEAD, f.SPONSOR])) == (rung.kind, rung.recipients)


def test_the_audit_date_on_the_cascade_date_tells_the_leads_then_opens_the_audit():
    """cascade_by on the audit date: the silent leads are told, then the audit stage begins, once each."""
    life = signed_off()
    audit_on = life.state.audit_plan.audit_on
    life.state.dissemination.cascade_by = audit_on
    life.state.cascade_reminder_sent = True  # the reminder before is another test's
    life.fire_due(deadline_at(audit_on))
    kinds = [n.kind for n in life.state.outbox]
    assert ["cascade_overdue", "audit_due"] == kinds
    assert Stage.audit is life.state.stage
    entered = next(e for e in reversed(life.state.timeline) if e.kind == "stage:audit")
    assert (SYSTEM_ACTOR, f"the audit date came with no confirmation from {f.ICB}, {f.POLICE}") == (
        entered.actor,
        entered.detail,
    )
    assert life.next_deadline() is not None and life.next_deadline() > deadline_at(audit_on)
