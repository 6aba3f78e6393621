"""A return's messages, made by its lifecycle and rendered for each reader: each kind the lifecycle
makes has its headline, its ask and what happens next in both parts, in words (no internal names,
ISO dates or times), with the lead's personal link or the dashboard page, and never the return's
answers or the challenge's words."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from activities.mail.return_render import RETURN_KINDS, render_return, return_link
from links.return_links import ReturnLinkSigner
from models.cycle_lifecycle import ReturnInput, ReturnLifecycle
from models.cycle_returns import (
    AcceptReturnInput,
    ChallengeReturnInput,
    CommittedAction,
    Rating,
    ReturnParties,
    StandardAnswer,
    SubmitReturnInput,
)
from models.payloads import EscalationPolicy
from tests.models.test_cycles import section_11

LEAD, SPONSOR, CHAIR, MEMBER = "lead@police.example", "sponsor@mk.example", "chair@mk.example", "member@mk.example"
SECRET_EVIDENCE = "Case of child K in ward 7"
SECRET_CHALLENGE = "Why was child K not seen?"
INTERNAL = re.compile(r"\b[a-z]+_[a-z_]+\b|\d{4}-\d{2}-\d{2}|UTC")
SIGNER = ReturnLinkSigner("k" * 40, timedelta(days=30))
BASE = "https://assure.example"


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 9, tzinfo=UTC)


def a_life_through_everything() -> ReturnLifecycle:
    """A return asked, chased to the Assurance Board, submitted, challenged, answered and accepted."""
    life = a_life()
    for day in (date(2026, 6, 24), date(2026, 7, 2), date(2026, 7, 15), date(2026, 8, 12)):
        assert life.fire_due(at(day))
    action = CommittedAction(description="Brief every custody sergeant", owner=LEAD, due=date(2026, 12, 1))
    answers = [
        StandardAnswer(standard_id="1", rating=Rating.met, evidence=SECRET_EVIDENCE),
        StandardAnswer(standard_id="2", rating=Rating.not_met, evidence=SECRET_EVIDENCE, action=action),
    ]
    life.submit(SubmitReturnInput(by=LEAD, answers=answers), at(date(2026, 8, 13)))
    life.challenge(ChallengeReturnInput(by=CHAIR, challenge=SECRET_CHALLENGE), at(date(2026, 8, 14)))
    life.submit(SubmitReturnInput(by=LEAD, answers=answers, response="Sergeants briefed"), at(date(2026, 8, 20)))
    life.accept(AcceptReturnInput(by=SPONSOR), at(date(2026, 8, 21)))
    return life


def test_the_lifecycle_makes_every_return_kind_and_each_reads_in_words():
    life = a_life_through_everything()
    made = life.record.outbox
    assert sorted(RETURN_KINDS) == sorted({n.kind for n in made})
    for notification in made:
        for reader in notification.recipients:
            link = return_link(SIGNER, BASE, notification.context, reader)
            rendered = render_return(notification.kind, notification.context, recipient=reader, link=link,
                                     sent_on=notification.created_at.date())  # fmt: skip
            for part in (rendered.text, rendered.html):
                assert SECRET_EVIDENCE not in part and SECRET_CHALLENGE not in part
                assert link in part
            words = rendered.text.replace(link, "")
            assert not INTERNAL.findall(words), (notification.kind, INTERNAL.findall(words))
            assert rendered.subject.startswith("[S11 2026-27] Thames Valley Police's return for 2026-27")


def a_life(**changes) -> ReturnLifecycle:
    start = ReturnInput(
        cycle=section_11(board="Children's Board"), period="2026-27", starts_on=date(2026, 4, 1),
        due_on=date(2026, 7, 1), agency="Thames Valley Police", policy=EscalationPolicy(),
        parties=ReturnParties(lead=LEAD, reviewers=[SPONSOR, CHAIR], assurance_members=[MEMBER]),
    ).model_copy(update=changes)  # fmt: skip
    return ReturnLifecycle.begin(
        start, workflow_id="cycle-S11-2026-27-thames-valley-police-1a2b3c", now=at(date(2026, 4, 1))
    )


def test_only_the_lead_gets_a_personal_link():
    """A ladder measured late fires once at its top, telling everyone up to it; only the lead's
    link opens the return itself, everyone else's the return's dashboard page."""
    life = a_life()
    assert life.fire_due(at(date(2026, 9, 30)))
    [escalation] = [n for n in life.record.outbox if n.kind == "return_assurance_escalation"]
    assert [MEMBER, SPONSOR, CHAIR, LEAD] == escalation.recipients
    assert not life.fire_due(at(date(2026, 10, 30)))  # the top of the ladder fires once
    lead_link = return_link(SIGNER, BASE, escalation.context, LEAD)
    claims = SIGNER.read(lead_link.removeprefix(f"{BASE}/c/"))
    assert (LEAD, "cycle-S11-2026-27-thames-valley-police-1a2b3c") == (claims.person, claims.return_id)
    for reader in (SPONSOR, CHAIR, MEMBER):
        page = return_link(SIGNER, BASE, escalation.context, reader)
        assert page.startswith(f"{BASE}/dashboard/cycles/S11/2026-27/thames-valley-police-") and "/c/" not in page


def test_what_each_reader_is_asked_and_told_next():
    life = a_life_through_everything()
    by_kind = {n.kind: n for n in life.record.outbox}

    def text(kind: str, reader: str) -> str:
        n = by_kind[kind]
        return render_return(kind, n.context, recipient=reader, link=f"{BASE}/x", sent_on=date(2026, 8, 1)).text

    reminder = text("return_reminder", LEAD)
    assert "DUE: Wednesday 1 July 2026" in reminder and "it is overdue from 2 July 2026" in reminder
    assert "the Children's Board is told on 15 July 2026" in text("return_overdue", LEAD)
    board = text("return_board_escalation", SPONSOR)
    assert "Ask Thames Valley Police's safeguarding lead when" in board
    assert "the Assurance Board is told on 12 August 2026" in board
    assert "as a sponsor or the chair of the Children's Board" in board
    assert "It stays on the Assurance Board's agenda until it is given." in text("return_assurance_escalation", MEMBER)
    assert "Accept it, or challenge it." in text("return_submitted", CHAIR)
    challenged = text("return_challenged", LEAD)
    assert "Open it to read the challenge" in challenged and "DUE: Friday 28 August 2026" in challenged
