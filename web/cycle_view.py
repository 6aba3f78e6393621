"""One agency's return as the board reads it on the dashboard: from its workflow while it can be
asked (the challenges, the lead's answers and the timeline are the workflow's alone), else from
the store's row, which keeps the answers once the workflow has gone.

The store says which return a page's address names (its cycle, period and agency key) and what
was raised from it; who sees it is ``reports.cycle_standing``'s rule; who may decide is the
workflow's (``models.cycle_returns.may_review``) over the registry as it is now.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import structlog
from sqlmodel import select

from gateway.cycles import return_status
from models.cycle_lifecycle import ReturnStatus, return_path
from models.cycle_returns import Challenge, Rating, ReturnStage, StandardAnswer
from models.cycles import Cycle, Standard, agency_key
from models.payloads import TimelineEvent
from store.cycles import stored_cycles
from store.db import session_scope
from store.tables import CycleReturnRow

log = structlog.get_logger(__name__)
# Stages a recommendation may be raised in: what the agency has returned, under review or accepted.
RAISABLE_STAGES = frozenset({ReturnStage.submitted, ReturnStage.accepted})


@dataclass(frozen=True)
class StoredReturn:
    """A return's row and its cycle as the store holds them, detached from the session."""

    row: CycleReturnRow
    cycle: Cycle | None


@dataclass(frozen=True)
class StandardView:
    standard: Standard
    answer: StandardAnswer | None
    raised: str | None  # the recommendation raised from it
    raisable: bool  # not met, with the agency's action, and nothing raised yet


@dataclass(frozen=True)
class ReturnView:
    workflow_id: str
    cycle_id: str
    cycle_name: str
    board: str
    period: str
    agency: str
    stage: ReturnStage
    due_on: date
    answer_due_on: date | None  # the lead's answer to a challenge, while one is owed
    submitted_at: datetime | None
    accepted_at: datetime | None
    accepted_by: str | None
    standards: list[StandardView]
    challenges: list[Challenge] = field(default_factory=list)
    timeline: list[TimelineEvent] = field(default_factory=list)
    live: bool = True  # read from the workflow, which can still take decisions
    note: str = ""  # why the page is from the record, when it is

    @property
    def path(self) -> str:
        return return_path(self.cycle_id, self.period, self.agency)

    @property
    def open(self) -> bool:
        return self.live and self.stage is not ReturnStage.accepted


def stored_return(database_url: str, cycle_id: str, period: str, key: str) -> StoredReturn | None:
    """The return a dashboard address names (blocking: run it in the thread pool)."""
    with session_scope(database_url) as session:
        rows = session.exec(
            select(CycleReturnRow).where(CycleReturnRow.cycle_id == cycle_id, CycleReturnRow.period == period)
        )
        row = next((r for r in rows if agency_key(r.agency) == key), None)
        if row is None:
            return None
        session.expunge(row)
        cycles = stored_cycles(session=session, cycle_ids=[cycle_id])
        return StoredReturn(row=row, cycle=cycles[0] if cycles else None)


async def return_view(client, stored: StoredReturn) -> ReturnView:
    """The return from its workflow, or from the row (saying why) when the workflow cannot be asked."""
    row = stored.row
    try:
        status = await return_status(client, row.workflow_id)
    except LookupError:
        return from_row(stored, "This return's workflow has ended and is no longer kept: this is the record.")
    except Exception:  # Temporal did not answer: the record still shows the answers
        log.warning("return_status_unavailable", cycle_id=row.cycle_id, period=row.period, exc_info=True)
        return from_row(stored, "The return could not be read just now (Temporal did not answer): this is the record.")
    return from_status(status, row.raised)


def from_status(status: ReturnStatus, raised: dict[str, str]) -> ReturnView:
    state = status.state
    raised = {**state.raised, **raised}
    owed = status.owed if state.stage is ReturnStage.challenged else None
    return ReturnView(
        workflow_id=status.workflow_id, cycle_id=status.cycle_id, cycle_name=status.cycle_name, board=status.board,
        period=status.period, agency=status.agency, stage=state.stage, due_on=state.due_on,
        answer_due_on=owed.due_on if owed else None, submitted_at=state.submitted_at,
        accepted_at=state.accepted_at, accepted_by=state.accepted_by,
        standards=_standards(status.standards, state.answers, raised, state.stage),
        challenges=list(state.challenges), timeline=list(status.timeline),
    )  # fmt: skip


def from_row(stored: StoredReturn, note: str) -> ReturnView:
    """The record alone: its answers, stage and days, against the cycle's standards as stored now."""
    row, cycle = stored.row, stored.cycle
    answers = [StandardAnswer.model_validate(a) for a in row.answers]
    standards = list(cycle.standards) if cycle else [Standard(standard_id=a.standard_id, text=a.standard_id)
                                                      for a in answers]  # fmt: skip
    return ReturnView(
        workflow_id=row.workflow_id, cycle_id=row.cycle_id, cycle_name=cycle.name if cycle else row.cycle_id,
        board=row.board, period=row.period, agency=row.agency, stage=ReturnStage(row.stage), due_on=row.due_on,
        answer_due_on=None, submitted_at=row.submitted_at, accepted_at=row.accepted_at, accepted_by=None,
        standards=_standards(standards, answers, dict(row.raised), ReturnStage(row.stage)),
        live=False, note=note,
    )  # fmt: skip


def _standards(
    standards: list[Standard], answers: list[StandardAnswer], raised: dict[str, str], stage: ReturnStage
) -> list[StandardView]:
    given = {a.standard_id: a for a in answers}
    views = []
    for standard in standards:
        answer = given.get(standard.standard_id)
        ref = raised.get(standard.standard_id)
        raisable = (
            answer is not None and answer.rating is Rating.not_met and answer.action is not None
            and stage in RAISABLE_STAGES and ref is None
        )  # fmt: skip
        views.append(StandardView(standard=standard, answer=answer, raised=ref, raisable=raisable))
    return views
