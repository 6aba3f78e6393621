"""What one person may decide on a recommendation right now: the forms a response page offers.

The answer is the lifecycle's own "who may decide now" part of each decision (``may_<name>`` in
``models.lifecycle.DECISION_RULES``), asked per action for the decisions about one action: never a
second copy of the rules, and no payload is made up to ask it. The content of a decision (dates,
plans, reasons) is checked only when it is taken, so a sign-off with gaps in the plans, or an
audit before its planned date, is still offered: the page then says what stands in the way.
"""

from __future__ import annotations

from datetime import datetime

from models.cover import covered_by
from models.kinds import Role
from models.lifecycle import DECISION_RULES, DecisionRefused, Lifecycle, Scope
from models.measure_decisions import today_in_london
from models.payloads import Payload


class OpenDecision(Payload):
    """A decision ``person`` may take now, on one action or on the recommendation as a whole."""

    name: str
    action_id: str | None = None


class Reader(Payload):
    """Who someone is to a recommendation and what they may do on it now."""

    person: str
    roles: list[Role]
    decisions: list[OpenDecision]


def roles_of(life: Lifecycle, person: str, now: datetime | None = None) -> list[Role]:
    """Every role ``person`` holds on the recommendation, in a fixed order; with ``now``, also
    those of everyone away whom they stand in for that day (``models.cover``)."""
    held = _own_roles(life, person)
    if now is not None:
        for absent in covered_by(life.state.parties.absences, person, today_in_london(now)):
            held += [role for role in _own_roles(life, absent) if role not in held]
    order = list(Role)
    return sorted(held, key=order.index)


def _own_roles(life: Lifecycle, person: str) -> list[Role]:
    who = person.lower()
    parties = life.state.parties
    held = {
        Role.owner: any(a.owner.lower() == who for a in life.state.actions),
        Role.board_sponsor: who in {p.lower() for p in parties.board_sponsors},
        Role.board_chair: (parties.board_chair or "").lower() == who,
        Role.assurance_member: who in {p.lower() for p in parties.assurance_members},
        Role.auditor: who in {p.lower() for p in life.auditors()},
        Role.agency_lead: who in {p.lower() for p in parties.agency_leads.values()},
        # A cascade lead from sign-off until the audit: their link and page end with it.
        Role.cascade_lead: life.cascade_open() and who in {p.lower() for p in life.cascade_leads()},
        Role.reporter: who in {p.lower() for p in life.reporters()},
    }
    return [role for role, holds in held.items() if holds]


def open_decisions(life: Lifecycle, person: str, now: datetime) -> list[OpenDecision]:
    """The decisions the workflow would take from ``person`` now (see the module docstring)."""
    offered: list[OpenDecision] = []
    for rule in DECISION_RULES:
        scopes: list[str | None] = []
        if rule.scope in (Scope.action, Scope.either):
            scopes += [a.action_id for a in life.state.actions]
        if rule.scope in (Scope.recommendation, Scope.either):
            scopes.append(None)
        for action_id in scopes:
            try:
                life.may(rule, person, action_id, now)
            except DecisionRefused:
                continue
            offered.append(OpenDecision(name=rule.name, action_id=action_id))
    return offered


def reader_of(life: Lifecycle, person: str, now: datetime) -> Reader:
    """The ``reader`` query's answer: ``person``'s roles and open decisions."""
    return Reader(person=person.lower(), roles=roles_of(life, person, now), decisions=open_decisions(life, person, now))
