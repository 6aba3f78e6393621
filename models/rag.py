"""The RAG rating, one rule for every list, dashboard, export and board pack (README, "RAG").

- **red**: overdue, or escalated at any level; this includes a cascade whose ``cascade_by`` has
  passed with agencies unconfirmed (until the audit is recorded);
- **amber**: an open action due within 14 days, or awaiting sign-off for longer than the
  Assurance Board's monthly cycle (it has missed a meeting), or an agency that confirmed its
  cascade reaching fewer of its staff than the plan's ``reach_threshold`` (until the audit);
- **green**: on track;
- closed recommendations (assured, declined, withdrawn) are **closed**, not rated.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Literal

from models.payloads import CLOSED_STAGES, EscalationLevel, Stage

Rag = Literal["red", "amber", "green", "closed"]
DUE_SOON = timedelta(days=14)
# The Assurance Board meets monthly: waiting longer than this means a meeting went by.
MEETING_CYCLE = timedelta(days=31)


def rag(
    *,
    stage: Stage | str,
    overdue: bool,
    escalation_level: EscalationLevel | str,
    next_open_due: date | None,
    stage_entered_at: datetime,
    now: datetime,
    cascade_short: bool = False,
    cascade_overdue: bool = False,
) -> Rag:
    """The rating of one recommendation at ``now`` (see the module docstring)."""
    stage = Stage(stage)
    if stage in CLOSED_STAGES:
        return "closed"
    if overdue or cascade_overdue or EscalationLevel(escalation_level) is not EscalationLevel.none:
        return "red"
    if cascade_short:
        return "amber"
    if next_open_due is not None and next_open_due - now.date() <= DUE_SOON:
        return "amber"
    if stage is Stage.sign_off and now - stage_entered_at > MEETING_CYCLE:
        return "amber"
    return "green"
