"""Plain words for where things stand, as the person reading a response page would say them.

The shared words (stages, review kinds, timeline events, deadlines, dates in London time) are
``models.wording``'s, so a page, the email that linked to it and the board pack describe a
recommendation the same way; what only pages say (what a stage means, what a decision did, an
action's state) is here.
"""

from __future__ import annotations

from datetime import date

from models.cycle_lifecycle import ReturnEvent
from models.cycle_returns import RATING_WORDS, Rating, ReturnStage
from models.payloads import ActionStatus, ActionView, CascadeStatus, MeasureTrack, RecommendationStatus, Stage
from models.wording import (
    CASCADE_STATUS,
    DIRECTION_WORDS,
    EVENT_WORDS,
    LEVEL_WORDS,
    MEASURE_TRACK,
    MILESTONE_WORDS,
    SOURCE_KINDS,
    STAGES,
    deadline_words,
    event_detail,
    event_words,
    every_words,
    uk_date,
    uk_day,
    uk_time,
    with_uk_dates,
)
from reports.cycle_matrix import STAGE_WORDS as RETURN_STAGE_WORDS

__all__ = [
    "DIRECTION_WORDS", "EVENT_WORDS", "LEVEL_WORDS", "MILESTONE_WORDS", "SOURCE_KINDS", "STAGES", "event_detail",
    "event_words", "every_words", "uk_date", "uk_day", "uk_time", "with_uk_dates",
]  # fmt: skip


# What a stage means for the whole partnership, one sentence each.
STAGE_MEANING = {
    Stage.review: "The sponsoring board is agreeing SMART actions with owners.",
    Stage.action: "Actions have owners; waiting for each owner to confirm they have taken it on.",
    Stage.in_progress: "Every owner has confirmed; the actions are under way.",
    Stage.dissemination_plan: "All actions are complete; waiting for the dissemination and audit plans.",
    Stage.sign_off: "The plans are in; waiting for the Assurance Board to sign off.",
    Stage.cascade: "Signed off; each agency's lead is confirming that the learning reached their staff.",
    Stage.audit: "Signed off; waiting for the audit that tests whether the change is embedded.",
    Stage.re_audit: "The audit found the change not yet embedded: remedial actions, then a re-audit.",
    Stage.assured: "Closed: the change is embedded and evidenced by audit.",
    Stage.declined: "Closed: the sponsoring board declined this recommendation.",
    Stage.withdrawn: "Closed: this recommendation was withdrawn.",
}

DECISION_DONE = {
    "agree_actions": "The actions are agreed and their owners have been emailed.",
    "acknowledge": "Thank you: you have confirmed you have taken on the action.",
    "report_progress": "Thank you: your progress update is recorded.",
    "request_extension": "Your request for more time has been sent to the sponsoring board.",
    "decide_extension": "Your decision on the extension is recorded and the owner has been told.",
    "complete_action": "Thank you: the action is recorded as complete.",
    "reassign_owner": "The action has a new owner, who has been emailed.",
    "submit_plans": "The plans are recorded.",
    "sign_off": "Signed off. Each agency's lead has been asked to confirm the learning reached their staff.",
    "confirm_cascade": "Thank you: the cascade confirmation is recorded.",
    "record_audit": "The audit result is recorded.",
    "decline": "The recommendation is declined and closed.",
    "withdraw": "The recommendation is withdrawn and closed.",
    "change_due_date": "The new due date is recorded and the owner has been told.",
    "add_actions": "The action is added and its owner has been emailed.",
    "remind_owner": "The reminder has been sent to the owner.",
    "record_board_decision": "The board's decision is recorded; the owners of the open actions it is about are told.",
    "add_measures": "The measure is added and its reporter has been emailed.",
    "record_reading": "Thank you: the reading is recorded.",
}


def action_state(action: ActionView, *, reader_is_owner: bool, today: date) -> tuple[str, str]:
    """A short phrase for where an action stands, and the GOV.UK tag colour to show it in."""
    if action.status is ActionStatus.complete:
        when = f" on {uk_date(action.completed_at)}" if action.completed_at else ""
        return f"Complete{when}", "green"
    if action.overdue:
        return f"Overdue since {uk_date(action.due)}", "red"
    if action.status is ActionStatus.assigned:
        return ("Waiting for you to confirm" if reader_is_owner else "Waiting for the owner to confirm"), "blue"
    days = (action.due - today).days
    if days < 0:
        return f"Due on {uk_date(action.due)}", "orange"
    if days <= 14:
        return f"Due in {days} day{'' if days == 1 else 's'}", "yellow"
    return "In progress", "light-blue"


def deadline_phrase(status: RecommendationStatus, own: list[ActionView] | None = None) -> str:
    """The next deadline, in words: what happens on which day. For an owner (``own``: their
    actions) only their own: another owner's deadline is not theirs to worry about."""
    deadline = status.next_deadline
    if own is not None:
        mine = {a.action_id for a in own}
        if deadline is None or deadline.action_id not in mine:
            open_due = sorted((a.due, a.action_id) for a in own if a.status is not ActionStatus.complete)
            if not open_due:
                return "Nothing is due from you"
            due, action_id = open_due[0]
            return f"Action {action_id} due: {uk_day(due)}"
    if deadline is None:
        return "Nothing is due by a set date"
    return deadline_words(deadline)


def source_phrase(status: RecommendationStatus) -> str:
    """Where the recommendation comes from; the review's kind only when its title does not say it."""
    kind = SOURCE_KINDS.get(status.source.kind.value, status.source.kind.value)
    title = status.source.title
    named = title if title.lower().startswith(kind.lower()) else f"{kind}: {title}"
    return f"{named} ({uk_date(status.source.date)})"


# Where one agency's cascade stands, and the GOV.UK tag colour to show it in.
CASCADE_STATES = {
    state: (CASCADE_STATUS[state], colour)
    for state, colour in (
        (CascadeStatus.waiting, "grey"),
        (CascadeStatus.confirmed, "green"),
        (CascadeStatus.overdue, "red"),
    )
}
# An agency that never confirmed before the audit closed its cascade.
CASCADE_NEVER_CONFIRMED = ("Not confirmed", "grey")


# --- impact measures --------------------------------------------------------------------------

# Where a measure stands against its line to the target (``models.measures``), and its tag colour.
MEASURE_STATES = {
    track: (MEASURE_TRACK[track], colour)
    for track, colour in (
        (MeasureTrack.on_track, "green"),
        (MeasureTrack.off_track, "red"),
        (MeasureTrack.no_data, "grey"),
    )
}
# What a measure counts, as the start of a sentence about it.
UNIT_WORDS = {"percent": "A percentage", "count": "A count", "days": "A number of days", "rate": "A rate"}


# --- assurance cycles -------------------------------------------------------------------------

# A standard's rating (``models.cycle_returns``) in words, and its tag colour: the words are always
# shown, so nobody has to tell the colours apart.
RATING_TAGS = {
    rating: (RATING_WORDS[rating], colour)
    for rating, colour in ((Rating.met, "green"), (Rating.partly_met, "yellow"), (Rating.not_met, "red"))
}
# Where a return stands in the matrix's words (``reports.cycle_matrix``), and its tag colour.
RETURN_STAGE_TAGS = {
    stage: (RETURN_STAGE_WORDS[stage.value], colour)
    for stage, colour in (
        (ReturnStage.awaiting, "grey"),
        (ReturnStage.submitted, "blue"),
        (ReturnStage.challenged, "orange"),
        (ReturnStage.accepted, "green"),
    )
}
# What each stage asks of whom, for the board reading a return.
RETURN_STAGE_MEANING = {
    ReturnStage.awaiting: "Waiting for the agency's safeguarding lead to return it.",
    ReturnStage.submitted: "Returned: waiting for the board's sponsor or chair to accept it or challenge it.",
    ReturnStage.challenged: "Sent back with a challenge: waiting for the agency's answer.",
    ReturnStage.accepted: "Accepted by the board.",
}
# A return's timeline (``models.cycle_lifecycle.ReturnEvent``) in words.
RETURN_EVENTS: dict[str, str] = {
    ReturnEvent.requested: "Return asked for",
    ReturnEvent.reminder: "Reminder sent to the lead",
    ReturnEvent.overdue: "Overdue: the lead was told",
    ReturnEvent.escalated_to_board: "Escalated to the board",
    ReturnEvent.escalated_to_assurance: "Escalated to the Assurance Board",
    ReturnEvent.submitted: "Returned",
    ReturnEvent.challenged: "Challenged",
    ReturnEvent.accepted: "Accepted",
    ReturnEvent.roles_changed: "Who holds the roles changed in the registry",
    ReturnEvent.mail_failed: "An email could not be sent",
    ReturnEvent.store_refused: "The store refused the return",
}


# A registry role (``Person.roles``) as the person's page lists it.
REGISTRY_ROLE_WORDS: dict[str, str] = {
    "owner": "Action owner",
    "agency_lead": "Agency safeguarding lead",
    "assurance_member": "Assurance Board member",
    "auditor": "Auditor",
    "admin": "Administrator of Assure",
}
BOARD_ROLE_WORDS = {"board_sponsor": "Sponsor of", "board_chair": "Chair of"}


def registry_role_words(role: str) -> str:
    """``board_sponsor:Review Board`` -> ``Sponsor of Review Board``; an unknown role as it is."""
    kind, _, board = role.partition(":")
    if board and kind in BOARD_ROLE_WORDS:
        return f"{BOARD_ROLE_WORDS[kind]} {board}"
    return REGISTRY_ROLE_WORDS.get(role, role)
