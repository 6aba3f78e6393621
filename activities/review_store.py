"""Keep a review's row in step with its workflow: the milestones its clocks run between."""

from __future__ import annotations

import structlog
from sqlalchemy.exc import SQLAlchemyError
from temporalio import activity

from activities.problems import STORE_REFUSED, bad_data, describe, note_problem, store_refused_data, store_unavailable
from models.review_lifecycle import RECORD_REVIEW, ReviewProjection
from store.db import session_scope
from store.reviews import queue_review_mail, record_review_days

log = structlog.get_logger(__name__)


class ReviewStoreActivities:
    """Holds the database URL so the worker, not a global, decides where the store is."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    @activity.defn(name=RECORD_REVIEW)
    def record_review(self, data: ReviewProjection) -> bool:
        """Write the review's days; an outage is retried, data the store refuses fails for good
        (``BadData``) after it is kept as a problem."""
        info = activity.info()
        bound = log.bind(workflow_id=info.workflow_id, run_id=info.workflow_run_id, ref=data.review.review_ref)
        try:
            with session_scope(self.database_url) as session:
                changed = record_review_days(session=session, review=data.review, at=data.at)
                queue_review_mail(session=session, data=data)
        except SQLAlchemyError as exc:
            if not store_refused_data(exc):
                bound.warning("review_waiting_for_store", error=describe(exc))
                raise store_unavailable(exc) from None
            detail = f"the store refused the review's days ({describe(exc)})"
            note_problem(self.database_url, kind=STORE_REFUSED, subject="store", ref=data.review.review_ref,
                         detail=detail)  # fmt: skip
            raise bad_data(detail) from None
        bound.info(
            "review_recorded", version=data.version, changed=changed, notifications=[n.kind for n in data.notifications]
        )
        return changed
