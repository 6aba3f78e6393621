"""People's messages: a successor's one summary and an agency lead's notice of an absence with no
deputy; and a deputy's copy of an owner's message, which says whom it is for."""

from __future__ import annotations

from datetime import date

from activities.mail.people_render import render_people
from activities.mail.render import render

LINK = "https://assure.example/dashboard"


def test_the_successor_s_summary_lists_what_passed_and_how_many_more():
    context = {
        "leaver": "gone@icb.example", "successor": "new@icb.example", "more": 3,
        "moved": [{"ref": "CSPR-1", "parts": ["action A1", "measure M1"]}], "registry_moved": ["lead of the ICB"],
    }  # fmt: skip
    rendered = render_people("hand_over_summary", context, recipient="new@icb.example", link=LINK, sent_on=date.today())
    assert "gone@icb.example has left: 1 recommendation passed to you" == rendered.subject
    assert "CSPR-1: action A1, measure M1" in rendered.text and "and 3 more" in rendered.text
    assert "lead of the ICB" in rendered.text and "no longer work" in rendered.text
    assert LINK in rendered.html and "&lt;" not in rendered.subject


def test_the_agency_lead_is_told_of_an_absence_with_no_deputy():
    context = {"person": "away@icb.example", "agency": "BLMK ICB", "first_day": "2031-03-01", "last_day": "2031-03-21"}
    rendered = render_people(
        "absence_uncovered", context, recipient="lead@icb.example", link=LINK, sent_on=date.today()
    )
    assert "away@icb.example is away from 1 March 2031 to 21 March 2031 with no deputy" == rendered.subject
    assert "safeguarding lead for BLMK ICB" in rendered.text


def test_a_deputy_s_copy_says_whom_it_is_for_and_until_when():
    context = {
        "ref": "CSPR-1", "title": "Guidance", "board": "Review Board", "source_kind": "cspr", "source_title": "X",
        "priority": "high", "stage": "action", "thread": "t",
        "roles": {"deputy@icb.example": "owner"},
        "acting_for": {"deputy@icb.example": {"person": "away@icb.example", "until": "2031-03-21", "cover": "deputy"}},
        "action": {"action_id": "A1", "description": "Brief the teams", "agency": "BLMK ICB",
                   "owner": "away@icb.example", "due": "2031-03-15", "success_measure": "Audit"},
        "due": "2031-03-15", "owner_epoch": 0, "deadline": "2031-03-15",
    }  # fmt: skip
    rendered = render("due_reminder", context, recipient="deputy@icb.example", link=None, sent_on=date(2031, 3, 8))
    assert rendered.subject.startswith("[CSPR-1] For away@icb.example:")
    text = " ".join(rendered.text.split())
    assert "in place of away@icb.example, who is away until 21 March 2031, because you are their deputy" in text
    assert "they own action A1 for BLMK ICB" in text
