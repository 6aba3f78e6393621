"""Who a decision may name: every person a decision puts to work must be in the registry, in a role
that fits what they are named for.

One rule for every entry: the importer checks its Actions and Plans sheets with it, and every
edge (pages, dashboard, API, CLI) checks a decision with it before the workflow sees it, so a
reassignment can never email the recommendation's details to an address nobody registered.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping

from pydantic import BaseModel

from models.payloads import (
    ActionSpec,
    AddActionsInput,
    AgreeActionsInput,
    ReassignOwnerInput,
    RecordAuditInput,
    SubmitPlansInput,
)

# The roles that fit each thing a person can be named for (None: any registered person).
OWNER_ROLES = frozenset({"owner"})
AUDITOR_ROLES = frozenset({"auditor", "assurance_member"})
NAMED_FOR = {
    "action owner": OWNER_ROLES,
    "dissemination plan owner": None,
    "auditor": AUDITOR_ROLES,
}


def named_people(decision: BaseModel) -> Iterator[tuple[str, str, str]]:
    """Each (where, address, what for) a decision names, as it would be written to."""

    def owners(specs: Collection[ActionSpec], where: str) -> Iterator[tuple[str, str, str]]:
        for spec in specs:
            yield f"{where} {spec.action_id}: owner", spec.owner, "action owner"

    if isinstance(decision, ReassignOwnerInput):
        yield "new_owner", decision.new_owner, "action owner"
    elif isinstance(decision, AgreeActionsInput | AddActionsInput):
        yield from owners(decision.actions, "action")
    elif isinstance(decision, RecordAuditInput):
        yield from owners(decision.remedial_actions, "remedial action")
    elif isinstance(decision, SubmitPlansInput):
        if decision.dissemination.owner.strip():
            yield "dissemination.owner", decision.dissemination.owner, "dissemination plan owner"
        if decision.audit.auditor.strip():
            yield "audit.auditor", decision.audit.auditor, "auditor"


def person_problem(address: str, named_for: str, roles_by_person: Mapping[str, Collection[str]]) -> str | None:
    """Why ``address`` cannot be named for ``named_for`` (a key of ``NAMED_FOR``), or None if it can."""
    who = address.strip().lower()
    roles = roles_by_person.get(who)
    if roles is None:
        return f"the {named_for} {who} is not in the registry: name a registered person"
    fitting = NAMED_FOR[named_for]
    if fitting is not None and not fitting & set(roles):
        wanted = " or ".join(sorted(fitting))
        return f"the {named_for} {who} is in the registry, but without the role {wanted}"
    return None


def unregistered_people(decision: BaseModel, roles_by_person: Mapping[str, Collection[str]]) -> dict[str, str]:
    """Every person ``decision`` names who may not be named for it, by where: empty when all may."""
    problems = {}
    for where, address, named_for in named_people(decision):
        problem = person_problem(address, named_for, roles_by_person)
        if problem:
            problems[where] = problem
    return problems
