"""Who a decision may name: every person a decision puts to work must be in the registry, in a role
that fits what they are named for.

One rule for every entry: the importer checks its Actions and Plans sheets with it, and every
edge (pages, dashboard, API, CLI) checks a decision with it before the workflow sees it, so a
reassignment can never email the recommendation's details to an address nobody registered.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence

from pydantic import BaseModel

from models.payloads import (
    ActionSpec,
    AddActionsInput,
    AddMeasuresInput,
    AgreeActionsInput,
    CascadeStep,
    MeasureSpec,
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
    "measure reporter": None,
}


def named_people(decision: BaseModel) -> Iterator[tuple[str, str, str]]:
    """Each (where, address, what for) a decision names, as it would be written to."""

    def owners(specs: Collection[ActionSpec], where: str) -> Iterator[tuple[str, str, str]]:
        for spec in specs:
            yield f"{where} {spec.action_id}: owner", spec.owner, "action owner"

    def reporters(specs: Collection[MeasureSpec]) -> Iterator[tuple[str, str, str]]:
        for spec in specs:
            yield f"measure {spec.measure_id}: reporter", spec.reporter, "measure reporter"

    if isinstance(decision, ReassignOwnerInput):
        yield "new_owner", decision.new_owner, "action owner"
    elif isinstance(decision, AgreeActionsInput):
        yield from owners(decision.actions, "action")
        yield from reporters(decision.measures)
    elif isinstance(decision, AddActionsInput):
        yield from owners(decision.actions, "action")
    elif isinstance(decision, AddMeasuresInput):
        yield from reporters(decision.measures)
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


def cascade_step_problems(
    steps: Sequence[CascadeStep], agency_of: Mapping[str, str], agencies: Collection[str], *, where: str
) -> dict[str, str]:
    """Why each step of a cascade cannot stand, by where (``<where>.<i>.agency`` or ``.lead``):
    its agency must be in the registry, by its registered name, and a lead it names a registered
    person of that agency. ``agency_of`` maps each registered address to its agency."""
    problems: dict[str, str] = {}
    known = {name.casefold(): name for name in agencies}
    for index, step in enumerate(steps):
        registered = known.get(step.agency.casefold())
        if registered is None:
            problems[f"{where}.{index}.agency"] = f"there is no agency called {step.agency!r} in the registry"
        elif registered != step.agency:
            problems[f"{where}.{index}.agency"] = f"the registry names this agency {registered!r}, not {step.agency!r}"
        if step.lead is None:
            continue
        lead = step.lead.lower()
        if lead not in agency_of:
            problems[f"{where}.{index}.lead"] = (
                f"the cascade lead {lead} is not in the registry: name a registered person"
            )
        elif registered is not None and agency_of[lead].casefold() != registered.casefold():
            home = agency_of[lead] or "no agency"
            problems[f"{where}.{index}.lead"] = f"the cascade lead {lead} is registered with {home}, not {registered}"
    return problems


def unregistered_people(
    decision: BaseModel,
    roles_by_person: Mapping[str, Collection[str]],
    *,
    agency_of: Mapping[str, str] | None = None,
    agencies: Collection[str] | None = None,
) -> dict[str, str]:
    """Every person ``decision`` names who may not be named for it, by where: empty when all may.
    With the registry's agencies (``agency_of``, ``agencies``), a plan's cascade is checked too."""
    problems = {}
    for where, address, named_for in named_people(decision):
        problem = person_problem(address, named_for, roles_by_person)
        if problem:
            problems[where] = problem
    if isinstance(decision, SubmitPlansInput) and agency_of is not None and agencies is not None:
        problems |= cascade_step_problems(
            decision.dissemination.cascade, agency_of, agencies, where="dissemination.cascade"
        )
    return problems
