"""Who stands in for whom on a day (``models.cover``): one rule for mail and decisions."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from models.cover import covered_by, recipient_for, stand_in
from models.payloads import Absence

D = date(2031, 3, 10)


def away(person: str, deputy: str, first: int = 1, last: int = 20) -> Absence:
    return Absence(person=person, first_day=date(2031, 3, first), last_day=date(2031, 3, last), deputy=deputy)


def test_cover_starts_on_the_first_day_and_ends_after_the_last():
    absences = [away("a@x.example", "b@x.example", 5, 12)]
    assert ("a@x.example", None) == recipient_for(absences, "a@x.example", date(2031, 3, 4))
    assert "b@x.example" == recipient_for(absences, "a@x.example", date(2031, 3, 5))[0]
    assert "b@x.example" == recipient_for(absences, "A@x.example", date(2031, 3, 12))[0]
    assert ("a@x.example", None) == recipient_for(absences, "a@x.example", date(2031, 3, 13))


def test_a_deputy_away_too_passes_it_on_and_a_ring_ends_without_looping():
    chain = [away("a@x.example", "b@x.example"), away("b@x.example", "c@x.example")]
    cover = stand_in(chain, "a@x.example", D)
    assert cover is not None and ("a@x.example", "c@x.example") == (cover.person, cover.deputy)
    assert ["a@x.example", "b@x.example"] == covered_by(chain, "c@x.example", D)
    ring = [away("a@x.example", "b@x.example"), away("b@x.example", "a@x.example")]
    assert "b@x.example" == recipient_for(ring, "a@x.example", D)[0]
    assert "a@x.example" == recipient_for(ring, "b@x.example", D)[0]


def test_an_absence_is_refused_out_of_order_or_covering_itself():
    with pytest.raises(ValidationError, match="last day must not be before its first"):
        away("a@x.example", "b@x.example", 12, 5)
    with pytest.raises(ValidationError, match="cannot be their own deputy"):
        away("a@x.example", "A@x.example")
