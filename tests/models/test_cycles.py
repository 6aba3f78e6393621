"""Cycles of recurring assurance as rules: the cadence people write read into one calendar rule,
its periods named and found, a cycle's definition checked whole, and one agency's return moved
only by the right person in the right stage with every standard answered."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from models.cycle_returns import (
    AcceptReturnInput,
    ChallengeReturnInput,
    CommittedAction,
    Rating,
    ReturnParties,
    ReturnRefused,
    ReturnStage,
    ReturnState,
    StandardAnswer,
    SubmitReturnInput,
    accept,
    answer_problems,
    challenge,
    check_review,
    check_submit,
    not_met,
    submit,
)
from models.cycles import CadenceError, Cycle, agency_key, named_period, parse_cadence, period_of

LEAD, SPONSOR, CHAIR, STRANGER = "lead@police.example", "sponsor@mk.example", "chair@mk.example", "x@else.example"
TODAY = date(2026, 12, 3)
AT = datetime(2026, 12, 3, 10, tzinfo=UTC)


def section_11(**changes) -> Cycle:
    fields = {
        "cycle_id": "S11",
        "name": "Section 11 audit",
        "board": "Assurance Board",
        "cadence": "yearly on 1 April",
        "due_within": "P3M",
        "standards": [
            {"standard_id": "1", "text": "Senior leadership for safeguarding"},
            {"standard_id": "2", "text": "Staff trained to their role", "guidance": "Training records, by role"},
        ],
    }
    return Cycle.model_validate(fields | changes)


class TestCadence:
    @pytest.mark.parametrize(
        ("written", "words", "starts"),
        [
            ("yearly on 1 April", "yearly on 1 April", [4]),
            ("Annually on the 1st January", "yearly on 1 January", [1]),
            ("yearly on 31 March", "yearly on 31 March", [3]),
            ("quarterly", "quarterly from 1 April", [1, 4, 7, 10]),
            ("half-yearly from 1 October", "half-yearly from 1 October", [4, 10]),
            ("monthly on day 15", "monthly on day 15", list(range(1, 13))),
            ("Monthly", "monthly on day 1", list(range(1, 13))),
        ],
    )
    def test_a_rule_is_read_as_people_write_it_and_said_back_so(self, written, words, starts):
        cadence = parse_cadence(written)
        assert (cadence.words(), cadence.start_months()) == (words, starts)
        assert parse_cadence(cadence.words()) == cadence

    @pytest.mark.parametrize(
        ("written", "reason"),
        [
            ("weekly", "is no cadence: write 'yearly on 1 April'"),
            ("yearly on 1 Smarch", "'smarch' is no month"),
            ("yearly on 29 February", "29 February is not a day every year has"),
            ("yearly on 31 April", "31 April is not a day every year has"),
            ("quarterly from 30 April", "starts on a day from 1 to 28"),
            ("monthly on day 31", "starts on a day from 1 to 28"),
        ],
    )
    def test_a_rule_that_is_no_calendar_is_refused_with_what_is_wrong(self, written, reason):
        with pytest.raises(CadenceError, match=reason):
            parse_cadence(written)

    @pytest.mark.parametrize(
        ("rule", "day", "name", "starts_on"),
        [
            ("yearly on 1 April", date(2026, 12, 3), "2026-27", date(2026, 4, 1)),
            ("yearly on 1 April", date(2027, 3, 31), "2026-27", date(2026, 4, 1)),
            ("yearly on 1 April", date(2027, 4, 1), "2027-28", date(2027, 4, 1)),
            ("yearly on 1 January", date(2026, 12, 3), "2026", date(2026, 1, 1)),
            ("quarterly", date(2026, 12, 3), "2026-10", date(2026, 10, 1)),
            ("quarterly", date(2027, 2, 1), "2027-01", date(2027, 1, 1)),
            ("monthly on day 15", date(2026, 12, 3), "2026-11", date(2026, 11, 15)),
        ],
    )
    def test_each_day_falls_in_one_named_period_found_again_by_its_name(self, rule, day, name, starts_on):
        cycle = section_11(cadence=rule)
        period = period_of(cycle, day)
        assert (period.name, period.starts_on) == (name, starts_on)
        assert named_period(cycle, name) == period

    def test_returns_are_due_the_cycles_due_within_after_the_period_starts(self):
        assert period_of(section_11(), TODAY).due_on == date(2026, 7, 1)

    @pytest.mark.parametrize("name", ["2026-28", "2026", "26-27", "2026-27 "])
    def test_a_name_that_is_no_period_of_the_cycle_is_refused(self, name):
        if name == "2026-27 ":
            assert named_period(section_11(), name).name == "2026-27"  # spaces around are trimmed
            return
        with pytest.raises(CadenceError, match="write it as 2026-27"):
            named_period(section_11(), name)

    def test_periods_follow_each_other_without_gap(self):
        cadence = parse_cadence("quarterly")
        start = date(2026, 4, 1)
        following = [start := cadence.next_start(start) for _ in range(4)]
        assert following == [date(2026, 7, 1), date(2026, 10, 1), date(2027, 1, 1), date(2027, 4, 1)]
        assert cadence.previous_start(date(2027, 1, 1)) == date(2026, 10, 1)


class TestTheCycle:
    def test_its_cadence_travels_as_its_words(self):
        cycle = section_11()
        dumped = cycle.model_dump(mode="json")
        assert dumped["cadence"] == "yearly on 1 April"
        assert Cycle.model_validate(dumped) == cycle

    @pytest.mark.parametrize(
        ("changes", "field", "reason"),
        [
            ({"cadence": "fortnightly"}, "cadence", "is no cadence"),
            ({"due_within": "three months"}, "due_within", "ISO-8601"),
            ({"standards": []}, "standards", "at least 1"),
            ({"standards": [{"standard_id": "1", "text": "A"}, {"standard_id": "1", "text": "B"}]}, "standards",
             "the standard '1' is named more than once"),
            ({"agencies": ["Police", "police"]}, "agencies", "an agency is named more than once: Police, police"),
            ({"cycle_id": "S 11"}, "cycle_id", "pattern"),
        ],
    )  # fmt: skip
    def test_a_bad_definition_is_refused_at_its_field(self, changes, field, reason):
        with pytest.raises(ValidationError) as caught:
            section_11(**changes)
        [error] = caught.value.errors()
        assert error["loc"][0] == field and reason in error["msg"]

    def test_all_agencies_are_the_registrys_now_and_a_list_is_spelt_as_the_registry_spells_it(self):
        registry = ["Thames Valley Police", "BLMK ICB", "MK City Council"]
        assert section_11().agencies_of(registry) == ["BLMK ICB", "MK City Council", "Thames Valley Police"]
        named = section_11(agencies=["thames valley police", "Gone Agency"])
        assert named.agencies_of(registry) == ["Thames Valley Police"]

    def test_an_agencys_key_is_safe_in_a_workflow_id_and_tells_near_names_apart(self):
        one, other = agency_key("MKCC – Adult Social Care"), agency_key("MKCC: Adult Social Care")
        assert one.startswith("mkcc-adult-social-care-") and one != other
        assert agency_key("MKCC – Adult Social Care") == one


def answers(*ratings: Rating, due: date = date(2027, 3, 31)) -> list[StandardAnswer]:
    made = []
    for standard_id, rating in zip(("1", "2"), ratings, strict=True):
        action = None if rating is Rating.met else CommittedAction(description="Fix it", owner=LEAD, due=due)
        made.append(StandardAnswer(standard_id=standard_id, rating=rating, evidence="Board minutes", action=action))
    return made


def a_return() -> ReturnState:
    return ReturnState(cycle_id="S11", period="2026-27", agency="Thames Valley Police", due_on=date(2026, 7, 1),
                       parties=ReturnParties(lead=LEAD, reviewers=[SPONSOR, CHAIR]))  # fmt: skip


class TestTheAnswers:
    def test_every_standard_answered_with_actions_where_unmet_has_no_problem(self):
        assert answer_problems(section_11(), answers(Rating.met, Rating.not_met), TODAY) == []

    @pytest.mark.parametrize(
        ("given", "expected"),
        [
            (answers(Rating.met, Rating.met)[:1], ["not answered: 2"]),
            ([*answers(Rating.met, Rating.met), answers(Rating.met, Rating.met)[0]],
             ["1: answered 2 times; answer each standard once"]),
            ([StandardAnswer(standard_id="9", rating=Rating.met, evidence="x"), *answers(Rating.met, Rating.met)],
             ["9: no such standard in Section 11 audit"]),
            ([answers(Rating.met, Rating.met)[0], StandardAnswer(standard_id="2", rating="partly_met", evidence="x")],
             ["2: partly met: say what the agency will do about it, who owns it and by when"]),
            ([answers(Rating.not_met, Rating.met)[0].model_copy(update={"rating": Rating.met}),
              answers(Rating.met, Rating.met)[1]],
             ["1: met: a standard met needs no action (rate it partly met if one is still to do)"]),
            (answers(Rating.met, Rating.not_met, due=date(2026, 12, 2)), ["2: the action's date 2026-12-02 is before today"]),
        ],
        ids=["one missing", "one twice", "unknown standard", "partly met without action", "met with action",
             "action in the past"],
    )  # fmt: skip
    def test_each_problem_names_its_standard(self, given, expected):
        assert answer_problems(section_11(), given, TODAY) == expected

    def test_a_rating_is_one_of_three(self):
        with pytest.raises(ValidationError, match="'met', 'partly_met' or 'not_met'"):
            StandardAnswer(standard_id="1", rating="mostly", evidence="x")


class TestTheReturnsStages:
    def test_submit_challenge_answer_and_accept(self):
        state, cycle = a_return(), section_11()
        first = SubmitReturnInput(by=LEAD.upper(), answers=answers(Rating.met, Rating.partly_met))
        check_submit(state, cycle, first, TODAY)
        submit(state, first, AT)
        assert state.stage is ReturnStage.submitted

        check_review(state, CHAIR)
        challenge(state, ChallengeReturnInput(by=CHAIR, challenge="Where is the training record?"), AT)
        assert state.stage is ReturnStage.challenged

        silent = SubmitReturnInput(by=LEAD, answers=answers(Rating.met, Rating.not_met))
        with pytest.raises(ReturnRefused, match="answer the challenge"):
            check_submit(state, cycle, silent, TODAY)
        again = silent.model_copy(update={"response": "Re-rated after the records check"})
        check_submit(state, cycle, again, TODAY)
        submit(state, again, AT)
        assert state.challenges[-1].response == "Re-rated after the records check"
        assert [a.standard_id for a in not_met(state)] == ["2"]

        check_review(state, SPONSOR)
        accept(state, AcceptReturnInput(by=SPONSOR), AT)
        assert (state.stage, state.accepted_by) == (ReturnStage.accepted, SPONSOR)

    @pytest.mark.parametrize(
        ("who", "stage", "reason"),
        [
            (STRANGER, ReturnStage.awaiting, "only Thames Valley Police's safeguarding lead may submit"),
            (SPONSOR, ReturnStage.awaiting, "only Thames Valley Police's safeguarding lead may submit"),
            (LEAD, ReturnStage.submitted, "the return is submitted: there is nothing to submit"),
            (LEAD, ReturnStage.accepted, "the return is accepted: there is nothing to submit"),
        ],
    )
    def test_a_submission_from_the_wrong_person_or_stage_is_refused(self, who, stage, reason):
        state = a_return().model_copy(update={"stage": stage})
        with pytest.raises(ReturnRefused, match=reason):
            check_submit(state, section_11(), SubmitReturnInput(by=who, answers=answers(Rating.met, Rating.met)), TODAY)

    def test_a_submission_with_problems_is_refused_whole(self):
        state = a_return()
        bad = SubmitReturnInput(by=LEAD, answers=answers(Rating.met, Rating.met)[:1])
        with pytest.raises(ReturnRefused, match="not answered: 2"):
            check_submit(state, section_11(), bad, TODAY)
        assert (state.stage, state.answers) == (ReturnStage.awaiting, [])

    @pytest.mark.parametrize(
        ("who", "stage", "reason"),
        [
            (LEAD, ReturnStage.submitted, "only the board's sponsor or chair"),
            (STRANGER, ReturnStage.submitted, "only the board's sponsor or chair"),
            (SPONSOR, ReturnStage.awaiting, "the return is awaiting: only a submitted return"),
            (CHAIR, ReturnStage.challenged, "the return is challenged: only a submitted return"),
            (CHAIR, ReturnStage.accepted, "the return is accepted: only a submitted return"),
        ],
    )
    def test_a_review_from_the_wrong_person_or_stage_is_refused(self, who, stage, reason):
        with pytest.raises(ReturnRefused, match=reason):
            check_review(a_return().model_copy(update={"stage": stage}), who)
