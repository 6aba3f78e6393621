"""Domain rules as plain functions, shared by the workflow, the web pages and the CLI.

- what a dissemination or audit plan still lacks before the Assurance Board can sign it off;
- the overdue ladder: on which day each rung falls for a policy and an anchor date;
- when on a deadline day Assure acts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time

from models.calendar import add_duration, roll_forward
from models.payloads import AuditPlan, CascadeStep, DisseminationPlan, EscalationLevel, EscalationPolicy, MeasureSpec

# Timers fire at 08:00 UTC on their day: before the working day starts in the UK all year.
DEADLINE_TIME = time(8, 0)

# A plan says how the change is socialised in at least a sentence, not a word or two.
MIN_SOCIALISATION_CHARS = 20

LADDER: tuple[EscalationLevel, ...] = (
    EscalationLevel.owner,
    EscalationLevel.agency_lead,
    EscalationLevel.sponsoring_board,
    EscalationLevel.assurance_board,
)


def deadline_at(day: date) -> datetime:
    """The moment on ``day`` at which a deadline for that day fires."""
    return datetime.combine(day, DEADLINE_TIME, tzinfo=UTC)


def dissemination_gaps(plan: DisseminationPlan | None) -> list[str]:
    """What the dissemination, communication and socialisation plan still lacks; empty if credible."""
    if plan is None:
        return ["no dissemination, communication and socialisation plan has been submitted"]
    gaps = []
    if not [a for a in plan.audiences if a.strip()]:
        gaps.append("dissemination plan: name the audiences who need to know")
    if not [c for c in plan.channels if c.strip()]:
        gaps.append("dissemination plan: name the channels the learning goes out through")
    if len(plan.socialisation.strip()) < MIN_SOCIALISATION_CHARS:
        gaps.append("dissemination plan: say how the change is socialised into everyday practice")
    if not plan.owner.strip():
        gaps.append("dissemination plan: name an owner")
    if plan.starts is None:
        gaps.append("dissemination plan: give a start date")
    if plan.ends is None:
        gaps.append("dissemination plan: give an end date")
    if plan.starts and plan.ends and plan.ends < plan.starts:
        gaps.append(f"dissemination plan: ends ({plan.ends}) before it starts ({plan.starts})")
    return gaps


def audit_plan_gaps(plan: AuditPlan | None, dissemination: DisseminationPlan | None) -> list[str]:
    """What the review and audit plan still lacks; empty if credible."""
    if plan is None:
        return ["no review and audit plan has been submitted"]
    gaps = []
    if not plan.method.strip():
        gaps.append("audit plan: say how the audit will test application and impact (method)")
    if not plan.auditor.strip():
        gaps.append("audit plan: name an auditor")
    if plan.audit_on is None:
        gaps.append("audit plan: give an audit date")
    elif dissemination is not None and dissemination.ends is not None and plan.audit_on <= dissemination.ends:
        gaps.append(
            f"audit plan: the audit date ({plan.audit_on}) must be after dissemination ends ({dissemination.ends})"
        )
    if not [m for m in plan.success_measures if m.strip()]:
        gaps.append("audit plan: list the success measures the audit will check")
    return gaps


def cascade_lead(step: CascadeStep, agency_leads: Mapping[str, str]) -> str | None:
    """Who confirms ``step``: the lead the plan names, else the agency's safeguarding lead now."""
    return step.lead or agency_leads.get(step.agency)


def cascade_gaps(plan: DisseminationPlan | None, audit: AuditPlan | None, agency_leads: Mapping[str, str]) -> list[str]:
    """What the plan's cascade to each agency's staff still lacks; empty if credible.

    Whether each agency and named lead is in the registry is checked where the plan comes in
    (``models.people``): here, that every agency has someone to confirm it."""
    if plan is None:
        return []
    if not plan.cascade:
        return ["cascade: name at least one agency whose staff the learning must reach"]
    gaps = []
    for step in plan.cascade:
        if cascade_lead(step, agency_leads) is None:
            gaps.append(f"cascade: {step.agency} has no safeguarding lead in the registry; name the lead who confirms")
        if step.expected_reach < 1:
            gaps.append(f"cascade: say how many of {step.agency}'s staff the learning must reach")
    audit_on = audit.audit_on if audit else None
    if plan.cascade_by is None:
        gaps.append("cascade: give the date by which every agency is to confirm")
    elif audit_on is not None and plan.cascade_by > audit_on:
        gaps.append(f"cascade: confirmations are due ({plan.cascade_by}) after the audit date ({audit_on})")
    return gaps


def audit_measure_gaps(audit: AuditPlan | None, measures: Sequence[MeasureSpec]) -> list[str]:
    """What the audit plan lacks in measures: it names at least one of the recommendation's
    measures that has a baseline and a target, and none that the recommendation lacks."""
    if audit is None:
        return []
    known = {m.measure_id.casefold(): m for m in measures}
    gaps = [
        f"audit plan: there is no measure {named!r} on this recommendation"
        for named in audit.measures
        if named.casefold() not in known
    ]
    named = [known[n.casefold()] for n in audit.measures if n.casefold() in known]
    if not any(m.baseline is not None and m.target is not None for m in named):
        gaps.append(
            "audit plan: name at least one impact measure with a baseline and a target that the audit will weigh"
            + ("" if measures else " (the recommendation has none yet: the board adds them)")
        )
    return gaps


def sign_off_gaps(
    dissemination: DisseminationPlan | None,
    audit: AuditPlan | None,
    agency_leads: Mapping[str, str],
    measures: Sequence[MeasureSpec],
) -> list[str]:
    """Every reason the Assurance Board cannot yet sign off; empty when both plans are credible."""
    return (
        dissemination_gaps(dissemination)
        + cascade_gaps(dissemination, audit, agency_leads)
        + audit_plan_gaps(audit, dissemination)
        + audit_measure_gaps(audit, measures)
    )


def ladder_dates(
    policy: EscalationPolicy, anchor: date, levels: Sequence[EscalationLevel] = LADDER
) -> dict[EscalationLevel, date]:
    """The day each rung of the ladder falls on, measured from ``anchor`` (usually the due date)."""
    offsets = {
        EscalationLevel.agency_lead: policy.agency_lead_after,
        EscalationLevel.sponsoring_board: policy.board_after,
        EscalationLevel.assurance_board: policy.assurance_after,
    }
    dates: dict[EscalationLevel, date] = {}
    previous = anchor
    for level in levels:
        if level is EscalationLevel.owner:
            day = roll_forward(anchor) if policy.working_days else anchor
        else:
            day = add_duration(anchor, offsets[level], working_days=policy.working_days)
        # Months and days mixed (P30D then P1M) can cross over for some anchors; a rung never
        # comes before the one below it, so nobody on the ladder is skipped.
        previous = dates[level] = max(day, previous)
    return dates


def next_ladder_step(
    policy: EscalationPolicy,
    anchor: date,
    fired: Iterable[EscalationLevel],
    levels: Sequence[EscalationLevel] = LADDER,
) -> tuple[EscalationLevel, date] | None:
    """The next rung not yet fired and the day it falls on, or None at the top of the ladder."""
    done = set(fired)
    highest_done = max((level.rank for level in done), default=0)
    for level, day in ladder_dates(policy, anchor, levels).items():
        if level not in done and level.rank > highest_done:
            return level, day
    return None


def level_reached(
    policy: EscalationPolicy, anchor: date, today: date, levels: Sequence[EscalationLevel] = LADDER
) -> EscalationLevel:
    """The highest rung whose day has come by ``today`` (``none`` before the anchor)."""
    reached = EscalationLevel.none
    for level, day in ladder_dates(policy, anchor, levels).items():
        if day <= today:
            reached = level
    return reached


def highest(levels: Iterable[EscalationLevel]) -> EscalationLevel:
    """The highest of some ladder levels (``none`` for none)."""
    return max(levels, key=lambda level: level.rank, default=EscalationLevel.none)
