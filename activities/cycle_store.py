"""The store's side of assurance cycles: plan a period's returns from the cycle and the registry,
and keep each return's row in step with its workflow."""

from __future__ import annotations

import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import select
from temporalio import activity

from activities.problems import STORE_REFUSED, bad_data, describe, note_problem, store_refused_data, store_unavailable
from models.cycle_lifecycle import (
    PLAN_CYCLE_PERIOD,
    RECORD_CYCLE_RETURN,
    PeriodPlan,
    PeriodRequest,
    ReturnInput,
    ReturnProjection,
)
from models.cycle_returns import ReturnParties
from models.cycles import CadenceError, named_period, period_of
from store.cycle_returns import record_cycle_return
from store.cycles import stored_cycles
from store.db import session_scope
from store.read_model import RegistryError, board_context
from store.tables import Agency

log = structlog.get_logger(__name__)
CYCLE_PROBLEM = "cycle_not_started"


class CycleStoreActivities:
    """Holds the database URL so the worker, not a global, decides where the store is."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    @activity.defn(name=PLAN_CYCLE_PERIOD)
    def plan_cycle_period(self, request: PeriodRequest) -> PeriodPlan:
        """The period's returns: one per agency that answers, with the board's policy and who
        holds each role now. What stops the period (no such cycle, period or board) is returned
        as a problem and kept for the operators: retrying cannot mend it."""
        try:
            with session_scope(self.database_url) as session:
                cycles = stored_cycles(session=session, cycle_ids=[request.cycle_id])
                if not cycles:
                    return self._refused(request, request.period, f"there is no cycle {request.cycle_id!r}")
                cycle = cycles[0]
                try:
                    period = named_period(cycle, request.period) if request.period else period_of(cycle, request.today)
                except CadenceError as error:
                    return self._refused(request, request.period, f"period: {error}")
                try:
                    policy, parties = board_context(session=session, board_name=cycle.board)
                except RegistryError as error:
                    return self._refused(request, period.name, str(error))
                agencies = cycle.agencies_of([a.name for a in session.exec(select(Agency))])
        except SQLAlchemyError as exc:
            raise store_unavailable(exc) from None
        returns = [
            ReturnInput(
                cycle=cycle, period=period.name, starts_on=period.starts_on, due_on=period.due_on, agency=agency,
                policy=policy,
                parties=ReturnParties.of(parties, agency),
            )
            for agency in agencies
        ]  # fmt: skip
        problems = [f"{a} has no safeguarding lead in the registry" for a in agencies if a not in parties.agency_leads]
        log.info("cycle_period_planned", cycle_id=cycle.cycle_id, period=period.name, returns=len(returns))
        return PeriodPlan(cycle_id=cycle.cycle_id, period=period.name, returns=returns, problems=problems)

    def _refused(self, request: PeriodRequest, period: str, detail: str) -> PeriodPlan:
        note_problem(self.database_url, kind=CYCLE_PROBLEM, subject="cycle", ref=request.cycle_id, detail=detail)
        log.warning("cycle_period_refused", cycle_id=request.cycle_id, period=period)
        return PeriodPlan(cycle_id=request.cycle_id, period=period, problems=[detail])

    @activity.defn(name=RECORD_CYCLE_RETURN)
    def record_cycle_return(self, data: ReturnProjection) -> bool:
        """Write the return's row; an outage is retried, data the store refuses fails for good
        (``BadData``) after it is kept as a problem."""
        info = activity.info()
        bound = log.bind(workflow_id=info.workflow_id, cycle_id=data.cycle_id, period=data.period)
        try:
            with session_scope(self.database_url) as session:
                moved = record_cycle_return(session=session, data=data)
        except SQLAlchemyError as exc:
            if not store_refused_data(exc):
                bound.warning("cycle_return_waiting_for_store", error=describe(exc))
                raise store_unavailable(exc) from None
            detail = f"the store refused the return ({describe(exc)})"
            note_problem(self.database_url, kind=STORE_REFUSED, subject="store", ref=data.cycle_id, detail=detail)
            raise bad_data(detail) from None
        bound.info("cycle_return_recorded", version=data.version, moved=moved,
                   notifications=[n.kind for n in data.notifications])  # fmt: skip
        return moved
