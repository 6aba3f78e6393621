"""Project a workflow transition into the read model and the outbox, in one transaction."""

from __future__ import annotations

import structlog
from sqlalchemy.exc import SQLAlchemyError
from temporalio import activity

from activities.problems import (
    STORE_REFUSED,
    bad_data,
    describe,
    note_problem,
    store_refused_data,
    store_unavailable,
    suspect_fields,
)
from models.payloads import RECORD_TRANSITION, ProjectionInput
from store.db import session_scope
from store.read_model import apply_projection

log = structlog.get_logger(__name__)


class ProjectionActivities:
    """Holds the database URL so the worker, not a global, decides where the store is."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    @activity.defn(name=RECORD_TRANSITION)
    def record_transition(self, data: ProjectionInput) -> bool:
        """Upsert the read model (if newer), append timeline events, queue notifications.

        A store that is down is retried (``StoreUnavailable``); data it refuses is recorded as a
        problem and fails for good (``BadData``): the workflow notes it and carries on.
        """
        info = activity.info()
        bound = log.bind(workflow_id=info.workflow_id, run_id=info.workflow_run_id, ref=data.ref)
        try:
            with session_scope(self.database_url) as session:
                moved = apply_projection(session=session, data=data)
        except SQLAlchemyError as exc:
            if not store_refused_data(exc):
                bound.warning("transition_waiting_for_store", error=describe(exc))
                raise store_unavailable(exc) from None
            # The same data is refused on every try: kept for an operator, and not retried.
            fields = suspect_fields(data.model_dump(mode="json"))
            detail = f"the store refused the transition ({describe(exc)})" + (
                f"; text to check: {', '.join(fields)}" if fields else ""
            )
            note_problem(self.database_url, kind=STORE_REFUSED, subject="store", ref=data.ref, detail=detail)
            raise bad_data(detail) from None
        # Identifiers and counts only: no recommendation text or people in logs.
        bound.info(
            "transition_recorded",
            version=data.version,
            stage=data.row.stage.value,
            actions=len(data.actions),
            applied=moved,
            events=len(data.new_events),
            notifications=[n.kind for n in data.notifications],
        )
        return moved
