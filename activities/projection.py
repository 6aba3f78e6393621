"""Project a workflow transition into the read model and the outbox, in one transaction."""

from __future__ import annotations

import structlog
from temporalio import activity

from models.db import session_scope
from models.payloads import RECORD_TRANSITION, ProjectionInput
from models.store import apply_projection

log = structlog.get_logger(__name__)


class ProjectionActivities:
    """Holds the database URL so the worker, not a global, decides where the store is."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    @activity.defn(name=RECORD_TRANSITION)
    def record_transition(self, data: ProjectionInput) -> bool:
        """Upsert the read model (if newer), append timeline events, queue notifications."""
        info = activity.info()
        bound = log.bind(workflow_id=info.workflow_id, run_id=info.workflow_run_id, ref=data.status.ref)
        with session_scope(self.database_url) as session:
            moved = apply_projection(session=session, data=data)
        # Identifiers and counts only: no recommendation text or people in logs.
        bound.info(
            "transition_recorded",
            version=data.status.version,
            stage=data.status.stage.value,
            applied=moved,
            events=len(data.new_events),
            notifications=[n.kind for n in data.notifications],
        )
        return moved
