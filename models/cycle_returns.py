"""One agency's return to one period of a cycle, as rules: what it must hold, who may decide what,
and in which stage.

The agency's safeguarding lead answers every standard with a rating and evidence; for a standard
partly met or not met, the action the agency commits to, with an owner and a date
(``submit_return``). The board's reviewer (its sponsor or chair, as the registry has them now)
accepts the return (``accept_return``) or sends it back with a challenge (``challenge_return``),
which the lead answers by submitting again, saying what they changed and why. A return is never
half-taken: a submission is checked whole before anything of it is kept.

    awaiting --submit--> submitted --accept--> accepted
                 ^           |
                 |       challenge
                 +--submit-- challenged
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import Field

from models.cycles import Cycle, Standard
from models.payloads import Day, Email, LongText, Parties, Payload, RequiredLongText, Title


class Rating(StrEnum):
    met = "met"
    partly_met = "partly_met"
    not_met = "not_met"


RATING_WORDS = {Rating.met: "Met", Rating.partly_met: "Partly met", Rating.not_met: "Not met"}
# What a rating below met needs: the agency's own action, so the gap has an owner and a date.
NEEDS_ACTION = frozenset({Rating.partly_met, Rating.not_met})


class ReturnStage(StrEnum):
    awaiting = "awaiting"
    submitted = "submitted"
    challenged = "challenged"
    accepted = "accepted"


class CommittedAction(Payload):
    """What the agency commits to do about a standard it does not meet, by whom and by when."""

    description: Title
    owner: Email
    due: Day


class StandardAnswer(Payload):
    standard_id: str
    rating: Rating
    evidence: RequiredLongText
    action: CommittedAction | None = None


class SubmitReturnInput(Payload):
    """The lead's return: every standard answered once. Answering a challenge, ``response`` says
    what changed and why."""

    by: Email
    answers: list[StandardAnswer] = Field(min_length=1)
    response: LongText = ""


class ChallengeReturnInput(Payload):
    by: Email
    challenge: RequiredLongText


class AcceptReturnInput(Payload):
    by: Email
    note: LongText = ""


class ReturnRefused(Exception):
    """A decision refused, with the reason the person is shown."""


class ReturnParties(Payload):
    """Who answers for the agency, who reviews for the board and who hears last on silence, from
    the registry as it is now. An agency without a safeguarding lead still owes its return: the
    board hears of it on the ladder until the registry names one."""

    lead: Email | None = None
    reviewers: list[Email] = Field(min_length=1)
    assurance_members: list[Email] = Field(default_factory=list)

    @classmethod
    def of(cls, parties: Parties, agency: str) -> ReturnParties:
        """An agency's return's roles from its board's (``store.read_model.board_context``): the
        agency's lead, the board's sponsors and chair as reviewers, the Assurance Board."""
        chair = [parties.board_chair] if parties.board_chair else []
        reviewers = list(dict.fromkeys([*parties.board_sponsors, *chair]))
        return cls(
            lead=parties.agency_leads.get(agency), reviewers=reviewers, assurance_members=parties.assurance_members
        )


class Challenge(Payload):
    by: str
    at: datetime
    challenge: str
    response: str = ""  # the lead's answer, once given


class ReturnState(Payload):
    """Where one agency's return stands."""

    cycle_id: str
    period: str
    agency: str
    due_on: date
    parties: ReturnParties
    stage: ReturnStage = ReturnStage.awaiting
    answers: list[StandardAnswer] = Field(default_factory=list)
    submitted_at: datetime | None = None
    challenges: list[Challenge] = Field(default_factory=list)
    accepted_at: datetime | None = None
    accepted_by: str | None = None
    # The recommendations raised from its standards not met: standard id -> recommendation ref.
    raised: dict[str, str] = Field(default_factory=dict)


def is_person(person: str, *people: str) -> bool:
    return any(person.casefold() == p.casefold() for p in people)


def may_review(parties: ReturnParties, person: str) -> bool:
    """Whether ``person`` may accept or challenge the return: the board's sponsor or chair. The one
    rule for the workflow's check and the page that offers the forms."""
    return is_person(person, *parties.reviewers)


def answer_problems(cycle: Cycle, answers: list[StandardAnswer], today: date) -> list[str]:
    """What is wrong with a return's answers, each naming its standard: every standard answered
    once and no other; an action for each standard partly met or not met, none for one met, and
    no action due before today. The one rule for the form, the API and the workflow."""
    problems: list[str] = []
    given: dict[str, int] = {}
    for answer in answers:
        standard = cycle.standard(answer.standard_id)
        if standard is None:
            problems.append(f"{answer.standard_id}: no such standard in {cycle.name}")
            continue
        given[standard.standard_id] = given.get(standard.standard_id, 0) + 1
        problems.extend(f"{standard.standard_id}: {p}" for p in _answer_problems(standard, answer, today))
    for standard_id, count in given.items():
        if count > 1:
            problems.append(f"{standard_id}: answered {count} times; answer each standard once")
    missing = [s.standard_id for s in cycle.standards if s.standard_id not in given]
    if missing:
        problems.append(f"not answered: {', '.join(missing)}")
    return problems


def _answer_problems(standard: Standard, answer: StandardAnswer, today: date) -> list[str]:
    if answer.rating in NEEDS_ACTION and answer.action is None:
        words = RATING_WORDS[answer.rating].lower()
        return [f"{words}: say what the agency will do about it, who owns it and by when"]
    if answer.rating is Rating.met and answer.action is not None:
        return ["met: a standard met needs no action (rate it partly met if one is still to do)"]
    if answer.action is not None and answer.action.due < today:
        return [f"the action's date {answer.action.due} is before today"]
    return []


def check_submit(state: ReturnState, cycle: Cycle, decision: SubmitReturnInput, today: date) -> None:
    """Refuse a submission from anyone but the lead, in the wrong stage, or with any problem."""
    if state.parties.lead is None:
        raise ReturnRefused(f"{state.agency} has no safeguarding lead in the registry: name one, and they submit")
    if not is_person(decision.by, state.parties.lead):
        raise ReturnRefused(f"only {state.agency}'s safeguarding lead may submit its return")
    if state.stage not in (ReturnStage.awaiting, ReturnStage.challenged):
        raise ReturnRefused(f"the return is {state.stage.value}: there is nothing to submit")
    if state.stage is ReturnStage.challenged and not decision.response.strip():
        raise ReturnRefused("answer the challenge: say what changed in the return, and why")
    problems = answer_problems(cycle, decision.answers, today)
    if problems:
        raise ReturnRefused("; ".join(problems))


def check_review(state: ReturnState, person: str) -> None:
    """Refuse an accept or a challenge from anyone but the board's reviewer, or before a submission."""
    if not may_review(state.parties, person):
        raise ReturnRefused("only the board's sponsor or chair may accept or challenge a return")
    if state.stage is not ReturnStage.submitted:
        raise ReturnRefused(f"the return is {state.stage.value}: only a submitted return is accepted or challenged")


def submit(state: ReturnState, decision: SubmitReturnInput, at: datetime) -> None:
    if state.stage is ReturnStage.challenged and state.challenges:
        state.challenges[-1].response = decision.response
    state.answers = list(decision.answers)
    state.stage = ReturnStage.submitted
    state.submitted_at = at


def challenge(state: ReturnState, decision: ChallengeReturnInput, at: datetime) -> None:
    state.challenges.append(Challenge(by=decision.by, at=at, challenge=decision.challenge))
    state.stage = ReturnStage.challenged


def accept(state: ReturnState, decision: AcceptReturnInput, at: datetime) -> None:
    state.stage = ReturnStage.accepted
    state.accepted_at, state.accepted_by = at, decision.by


def not_met(state: ReturnState) -> list[StandardAnswer]:
    """The standards the agency does not meet, with the action it committed to."""
    return [a for a in state.answers if a.rating is Rating.not_met]
