"""What each person is offered at each stage: the lifecycle's own checks, asked with probes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from models.lifecycle import DECISION_INPUTS, Lifecycle
from models.payloads import AuditOutcome, RecordAuditInput, SignOffInput, SubmitPlansInput
from models.permissions import open_decisions, reader_of, roles_of
from tests import factories as f

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)
EVERYONE = (f.OWNER, f.OWNER_2, f.SPONSOR, f.CHAIR, f.ASSURANCE, f.AUDITOR, f.ICB_LEAD, f.STRANGER)


def offered(life: Lifecycle, person: str, now: datetime = NOW) -> set[tuple[str, str | None]]:
    return {(d.name, d.action_id) for d in open_decisions(life, person, now)}


def with_actions() -> Lifecycle:
    return Lifecycle.begin(f.start(actions=f.two_actions(NOW.date() + timedelta(days=40))), workflow_id="w", now=NOW)


# In any open stage: the board adds measures, and the board and the Assurance Board may record a
# reading on a reporter's behalf (the recommendations here carry the measure M1).
MEASURE_WORK = {("add_measures", None), ("record_reading", None)}


def test_at_review_only_the_board_can_agree_or_close():
    life = Lifecycle.begin(f.start(), workflow_id="w", now=NOW)
    board = {("agree_actions", None), ("decline", None), ("withdraw", None), ("record_board_decision", None)}
    assert offered(life, f.SPONSOR) == board | MEASURE_WORK
    assert offered(life, f.CHAIR) == board | MEASURE_WORK
    assert offered(life, f.ASSURANCE) == {("withdraw", None), ("record_reading", None)}
    assert offered(life, f.REPORTER) == {("record_reading", None)}
    for nobody in (f.OWNER, f.AUDITOR, f.ICB_LEAD, f.STRANGER):
        assert offered(life, nobody) == set()


def test_without_measures_nobody_is_offered_a_reading():
    life = Lifecycle.begin(f.start(measures=[]), workflow_id="w", now=NOW)
    assert ("record_reading", None) not in offered(life, f.SPONSOR)
    assert ("add_measures", None) in offered(life, f.SPONSOR)


def test_owners_act_on_their_own_actions_and_sponsors_on_everyones():
    life = with_actions()
    own = {"acknowledge", "report_progress", "request_extension", "complete_action"}
    assert offered(life, f.OWNER) == {(name, "A1") for name in own}
    assert offered(life, f.OWNER_2) == {(name, "A2") for name in own}
    # What a sponsor does with an escalation: a new due date, a reminder now, the board's decision,
    # another action, or another owner.
    on_each = {"reassign_owner", "change_due_date", "remind_owner", "record_board_decision"}
    assert offered(life, f.SPONSOR) == {
        *((name, aid) for name in on_each for aid in ("A1", "A2")),
        ("add_actions", None),
        ("record_board_decision", None),
        ("decline", None),
        ("withdraw", None),
        *MEASURE_WORK,
    }
    assert offered(life, f.STRANGER) == set()


def test_an_extension_request_moves_the_choice_to_the_board():
    life = with_actions()
    request = {"by": f.OWNER, "action_id": "A1", "new_due": NOW.date() + timedelta(days=70), "reason": "Moved"}
    life.apply(life_input("request_extension", request), NOW)
    assert ("request_extension", "A1") not in offered(life, f.OWNER)
    assert ("decide_extension", "A1") in offered(life, f.SPONSOR)
    assert ("decide_extension", "A2") not in offered(life, f.SPONSOR)


def test_plans_and_sign_off_follow_the_stage():
    life = with_actions()
    for who, aid in ((f.OWNER, "A1"), (f.OWNER_2, "A2")):
        life.apply(life_input("complete_action", {"by": who, "action_id": aid, "evidence": "x"}), NOW)
    for submitter in (f.OWNER, f.OWNER_2, f.SPONSOR, f.CHAIR):
        assert ("submit_plans", None) in offered(life, submitter)
    # Shown to the Assurance Board even with gaps, so the page can say what stands in the way.
    assert offered(life, f.ASSURANCE) == {("sign_off", None), ("withdraw", None), ("record_reading", None)}

    dissemination, audit = f.credible_plans(NOW.date())
    life.apply(SubmitPlansInput(by=f.OWNER, dissemination=dissemination, audit=audit), NOW)
    life.apply(SignOffInput(by=f.ASSURANCE), NOW)
    assert offered(life, f.AUDITOR) == {("record_audit", None)}
    # The Assurance Board tests embedding too; an owner never records the audit of their own work.
    assert ("record_audit", None) in offered(life, f.ASSURANCE)
    assert ("record_audit", None) not in offered(life, f.OWNER)
    assert ("submit_plans", None) not in offered(life, f.OWNER)

    life.apply(RecordAuditInput(by=f.AUDITOR, outcome=AuditOutcome.embedded), NOW)
    for person in EVERYONE:
        assert offered(life, person) == set(), person


def test_roles_are_read_from_the_parties_and_the_actions():
    life = with_actions()
    assert roles_of(life, f.OWNER) == ["owner"]
    assert roles_of(life, f.SPONSOR.upper()) == ["board_sponsor"]
    assert roles_of(life, f.CHAIR) == ["board_chair"]
    assert roles_of(life, f.ICB_LEAD) == ["agency_lead"]
    assert roles_of(life, f.STRANGER) == []
    assert roles_of(life, f.REPORTER) == ["reporter"]
    assert reader_of(life, f.AUDITOR, NOW).roles == ["auditor"]


def test_asking_changes_nothing():
    life = with_actions()
    before = life.state.model_dump_json()
    for person in EVERYONE:
        open_decisions(life, person, NOW)
    assert life.state.model_dump_json() == before


def life_input(name: str, data: dict):
    return DECISION_INPUTS[name].model_validate(data)


def test_a_sponsor_reminds_an_owner_once_a_day_at_most():
    """After a sponsor's reminder the same day's second is refused (and not offered), and the next day it is open again."""
    life = with_actions()
    life.apply(life_input("remind_owner", {"by": f.SPONSOR, "action_id": "A1"}), NOW)
    assert ("remind_owner", "A1") not in offered(life, f.SPONSOR)
    assert ("remind_owner", "A2") in offered(life, f.SPONSOR)
    assert ("remind_owner", "A1") in offered(life, f.SPONSOR, NOW + timedelta(days=1))
