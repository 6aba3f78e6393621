"""Reviews as records: the review, audit or inspection a partnership's recommendations come from,
with the milestones its clocks run between (``models.review_clocks``) and the themes it names.

A recommendation belongs to a review by ``review_ref``. A plan written before reviews were
records names only its source (kind, title, date): each distinct source then makes one review,
whose ref ``derived_review_ref`` works out the same way on every import.
"""

from __future__ import annotations

import hashlib
from datetime import date

from pydantic import Field, model_validator

from models.payloads import Day, Name, Payload, Ref, SourceKind, SourceKindName, Themes, Title
from models.review_clocks import MILESTONE_ORDER, ReviewMilestone


class Review(Payload):
    """A review with its kind, sponsoring board, milestones so far, and themes."""

    review_ref: Ref
    kind: SourceKindName
    title: Title
    board: Name
    notified_on: Day | None = None
    decided_on: Day | None = None
    commissioned_on: Day | None = None
    concluded_on: Day | None = None
    published_on: Day | None = None
    themes: Themes = Field(default_factory=list)

    @model_validator(mode="after")
    def _milestones_in_order(self) -> Review:
        recorded = [(m, day) for m, day in self.milestones().items()]
        for (earlier, first), (later, second) in zip(recorded, recorded[1:], strict=False):
            if second < first:
                raise ValueError(f"{later.value}_on ({second}) is before {earlier.value}_on ({first})")
        return self

    def milestones(self) -> dict[ReviewMilestone, date]:
        """The milestones recorded so far, in the order they come."""
        days = {m: getattr(self, f"{m.value}_on") for m in MILESTONE_ORDER}
        return {m: day for m, day in days.items() if day is not None}


def derived_review_ref(kind: SourceKind, title: str, on: date) -> str:
    """The ref of the review a plan names only by its source: the kind and date people read, and
    a short digest of the title that tells two sources of one kind and day apart."""
    digest = hashlib.sha256(" ".join(title.split()).casefold().encode()).hexdigest()[:6]
    return f"{kind.value.upper().replace('_', '-')}-{on.isoformat()}-{digest}"
