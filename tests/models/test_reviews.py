"""Reviews as records: the milestones in order, one spelling per theme, and the ref a review gets
when a plan names only its source."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from models.lifecycle import Lifecycle
from models.payloads import SourceKind
from models.review_clocks import ReviewMilestone
from models.reviews import Review, derived_review_ref
from tests import factories as f

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)


def review(**changes: object) -> Review:
    fields = {"review_ref": "SAR-2023-01", "kind": "Safeguarding Adults Review", "title": "Adult B",
              "board": "Adult Board"} | changes  # fmt: skip
    return Review.model_validate(fields)


def test_the_kind_is_read_as_people_write_it_and_themes_have_one_spelling():
    made = review(themes=["Domestic  Abuse", " mental health"], decided_on=date(2023, 1, 2))
    assert made.kind is SourceKind.sar
    assert made.themes == ["domestic abuse", "mental health"]
    assert made.milestones() == {ReviewMilestone.decided: date(2023, 1, 2)}


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        (
            {"decided_on": date(2023, 5, 1), "concluded_on": date(2023, 1, 1)},
            "concluded_on (2023-01-01) is before decided_on",
        ),
        (
            {"notified_on": date(2023, 5, 1), "decided_on": date(2023, 4, 30)},
            "decided_on (2023-04-30) is before notified_on",
        ),
        ({"themes": ["Hate crime", "hate  crime"]}, "a theme is named more than once"),
        ({"kind": "gossip"}, "kind"),
        ({"review_ref": "no spaces allowed"}, "review_ref"),
    ],
)
def test_a_review_that_cannot_be_is_refused_with_the_reason(changes, words):
    with pytest.raises(ValidationError, match=re.escape(words)):
        review(**changes)


def test_a_source_makes_the_same_review_ref_every_time_and_two_sources_two():
    one = derived_review_ref(SourceKind.cspr, "Child Safeguarding Practice Review: Child T", date(2023, 3, 14))
    again = derived_review_ref(SourceKind.cspr, "child safeguarding  practice review: Child T", date(2023, 3, 14))
    other = derived_review_ref(SourceKind.cspr, "Child Safeguarding Practice Review: Child U", date(2023, 3, 14))
    assert one == again and one != other
    assert one.startswith("CSPR-2023-03-14-")
    assert derived_review_ref(SourceKind.rapid_review, "Rapid review: Child V", date(2023, 1, 5)).startswith(
        "RAPID-REVIEW-2023-01-05-"
    )


def test_the_status_says_which_review_a_recommendation_belongs_to():
    start = f.start()
    start = start.model_copy(
        update={"recommendation": start.recommendation.model_copy(update={"review_ref": "CSPR-T"})}
    )
    status = Lifecycle.begin(start, workflow_id="w", now=NOW).status(NOW)
    assert status.source.review_ref == "CSPR-T"
