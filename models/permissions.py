"""What one person may decide on a recommendation right now: the forms a response page offers.

The answer is worked out by *asking the lifecycle's own checks* with a harmless probe payload per
decision and action, never by a second copy of the rules: a form is offered exactly when the
workflow's validator would accept that person and that stage. The probe values are chosen to
satisfy every content rule (a future date, a non-empty reason), so only who, when and which
action decide the answer. Sign-off is the one exception: an Assurance Board member is shown the
sign-off form even when the plans have gaps, so that the page can say which gaps stand in the way.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel

from models.payloads import (
    DECISION_INPUTS,
    ActionSpec,
    AuditOutcome,
    AuditPlan,
    DisseminationPlan,
    Payload,
)

if TYPE_CHECKING:
    from models.lifecycle import Lifecycle

# A syntactically valid address no person has (RFC 2606), for the reassignment probe.
PROBE_OWNER = "probe@assure.invalid"
PROBE_TEXT = "probe"
# Decisions shown even when their check refuses for content, with these refusal types.
# An audit before its planned date is offered too: the form asks to confirm it, with a reason.
SHOWN_WHEN_REFUSED = {"sign_off": {"SignOffRefused"}, "record_audit": {"EarlyAudit"}}


class OpenDecision(Payload):
    """A decision ``person`` may take now, on one action or on the recommendation as a whole."""

    name: str
    action_id: str | None = None


class Reader(Payload):
    """Who someone is to a recommendation and what they may do on it now."""

    person: str
    roles: list[str]
    decisions: list[OpenDecision]


def roles_of(life: Lifecycle, person: str) -> list[str]:
    """Every role ``person`` holds on the recommendation, in a fixed order."""
    who = person.lower()
    parties = life.state.parties
    held = {
        "owner": any(a.owner.lower() == who for a in life.state.actions),
        "board_sponsor": who in {p.lower() for p in parties.board_sponsors},
        "board_chair": (parties.board_chair or "").lower() == who,
        "assurance_member": who in {p.lower() for p in parties.assurance_members},
        "auditor": who in {p.lower() for p in life.auditors()},
        "agency_lead": who in {p.lower() for p in parties.agency_leads.values()},
    }
    return [role for role, holds in held.items() if holds]


def _probes(life: Lifecycle, person: str, today: date) -> Iterator[tuple[str, str | None, BaseModel]]:
    """One probe payload per (decision, action) worth asking about."""
    later = today + timedelta(days=1)
    for action in life.state.actions:
        aid = action.action_id
        yield "acknowledge", aid, DECISION_INPUTS["acknowledge"](by=person, action_id=aid)
        yield "report_progress", aid, DECISION_INPUTS["report_progress"](by=person, action_id=aid, note=PROBE_TEXT)
        new_due = max(action.due, today) + timedelta(days=1)
        yield (
            "request_extension",
            aid,
            DECISION_INPUTS["request_extension"](by=person, action_id=aid, new_due=new_due, reason=PROBE_TEXT),
        )
        yield "decide_extension", aid, DECISION_INPUTS["decide_extension"](by=person, action_id=aid, approve=True)
        yield "complete_action", aid, DECISION_INPUTS["complete_action"](by=person, action_id=aid, evidence=PROBE_TEXT)
        yield (
            "reassign_owner",
            aid,
            DECISION_INPUTS["reassign_owner"](by=person, action_id=aid, new_owner=PROBE_OWNER, reason=PROBE_TEXT),
        )
        yield (
            "change_due_date",
            aid,
            DECISION_INPUTS["change_due_date"](by=person, action_id=aid, new_due=new_due, reason=PROBE_TEXT),
        )
        yield "remind_owner", aid, DECISION_INPUTS["remind_owner"](by=person, action_id=aid)
        yield (
            "record_board_decision",
            aid,
            DECISION_INPUTS["record_board_decision"](by=person, action_id=aid, decision=PROBE_TEXT),
        )
    taken = {a.action_id for a in life.state.actions}
    probe_id = next(f"probe{n}" for n in range(len(taken) + 1) if f"probe{n}" not in taken)
    probe_action = ActionSpec(
        action_id=probe_id, description=PROBE_TEXT, agency=PROBE_TEXT, owner=PROBE_OWNER, due=later,
        success_measure=PROBE_TEXT,
    )  # fmt: skip
    yield "agree_actions", None, DECISION_INPUTS["agree_actions"](by=person, actions=[probe_action])
    yield "add_actions", None, DECISION_INPUTS["add_actions"](by=person, actions=[probe_action])
    yield "record_board_decision", None, DECISION_INPUTS["record_board_decision"](by=person, decision=PROBE_TEXT)
    yield (
        "submit_plans",
        None,
        DECISION_INPUTS["submit_plans"](by=person, dissemination=DisseminationPlan(), audit=AuditPlan()),
    )
    yield "sign_off", None, DECISION_INPUTS["sign_off"](by=person)
    yield "record_audit", None, DECISION_INPUTS["record_audit"](by=person, outcome=AuditOutcome.embedded)
    yield "decline", None, DECISION_INPUTS["decline"](by=person, reason=PROBE_TEXT)
    yield "withdraw", None, DECISION_INPUTS["withdraw"](by=person, reason=PROBE_TEXT)


def open_decisions(life: Lifecycle, person: str, now: datetime) -> list[OpenDecision]:
    """The decisions the workflow would accept from ``person`` now (see the module docstring)."""
    from models.lifecycle import DecisionRefused

    offered: list[OpenDecision] = []
    for name, action_id, probe in _probes(life, person, now.date()):
        try:
            life.check(name, probe, now)
        except DecisionRefused as refusal:
            if refusal.type not in SHOWN_WHEN_REFUSED.get(name, set()):
                continue
        offered.append(OpenDecision(name=name, action_id=action_id))
    return offered


def reader_of(life: Lifecycle, person: str, now: datetime) -> Reader:
    """The ``reader`` query's answer: ``person``'s roles and open decisions."""
    return Reader(person=person.lower(), roles=roles_of(life, person), decisions=open_decisions(life, person, now))
