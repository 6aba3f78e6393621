"""Test data: a recommendation of the example partnership, its board's policy and parties.

The data lives in ``devtools.sample_data``, which the benchmarks use too (they do not import the
tests); the tests use its names from here, as ``f.NAME``.
"""

from __future__ import annotations

from devtools.sample_data import (
    ASSURANCE,
    AUDITOR,
    CHAIR,
    ICB,
    ICB_LEAD,
    ICB_REACH,
    MEASURE_ID,
    NEW_OWNER,
    OWNER,
    OWNER_2,
    POLICE,
    POLICE_LEAD,
    POLICE_REACH,
    REPORTER,
    SPONSOR,
    STRANGER,
    action,
    cascade_steps,
    credible_plans,
    measure,
    parties,
    recommendation,
    registry_rows,
    start,
    two_actions,
)

__all__ = [
    "ASSURANCE",
    "AUDITOR",
    "CHAIR",
    "ICB",
    "ICB_LEAD",
    "ICB_REACH",
    "MEASURE_ID",
    "NEW_OWNER",
    "OWNER",
    "OWNER_2",
    "POLICE",
    "POLICE_LEAD",
    "POLICE_REACH",
    "REPORTER",
    "SPONSOR",
    "STRANGER",
    "action",
    "cascade_steps",
    "credible_plans",
    "measure",
    "parties",
    "recommendation",
    "registry_rows",
    "start",
    "two_actions",
    "projection_of",
]


def projection_of(life, now, *, stored_actions=None):
    """The store write that brings a read model up to ``life`` as it stands at ``now``: every
    timeline event and queued notification (a store ignores those it has)."""
    from models.projection import projection

    return projection(
        life.status(now),
        workflow_id=life.workflow_id,
        audit_due=life.planned_audit_on(),
        new_events=list(life.state.timeline),
        notifications=list(life.state.outbox),
        stored_actions=stored_actions,
    )
