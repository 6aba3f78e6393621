"""Plain words for where things stand, as the person reading a response page would say them.

Shared phrases (stage names, dates, review kinds) come from the email renderer, so a page and
the email that linked to it describe a recommendation the same way.
"""

from __future__ import annotations

from datetime import date

from activities.mail.render import SOURCE_KINDS, STAGES, uk_date, uk_day
from models.payloads import ActionStatus, ActionView, EscalationLevel, RecommendationStatus, Stage

__all__ = ["SOURCE_KINDS", "STAGES", "uk_date", "uk_day"]

# What a stage means for the whole partnership, one sentence each.
STAGE_MEANING = {
    Stage.review: "The sponsoring board is agreeing SMART actions with owners.",
    Stage.action: "Actions have owners; waiting for each owner to confirm they have taken it on.",
    Stage.in_progress: "Every owner has confirmed; the actions are under way.",
    Stage.dissemination_plan: "All actions are complete; waiting for the dissemination and audit plans.",
    Stage.sign_off: "The plans are in; waiting for the Assurance Board to sign off.",
    Stage.audit: "Signed off; waiting for the audit that tests whether the change is embedded.",
    Stage.re_audit: "The audit found the change not yet embedded: remedial actions, then a re-audit.",
    Stage.assured: "Closed: the change is embedded and evidenced by audit.",
    Stage.declined: "Closed: the sponsoring board declined this recommendation.",
    Stage.withdrawn: "Closed: this recommendation was withdrawn.",
}

LEVEL_WORDS = {
    EscalationLevel.none: "Not escalated",
    EscalationLevel.owner: "Reminder sent to the owner",
    EscalationLevel.agency_lead: "The agency's safeguarding lead has been told",
    EscalationLevel.sponsoring_board: "Escalated to the sponsoring board",
    EscalationLevel.assurance_board: "Escalated to the Assurance Board",
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
    "sign_off": "Signed off. The audit is now scheduled.",
    "record_audit": "The audit result is recorded.",
    "decline": "The recommendation is declined and closed.",
    "withdraw": "The recommendation is withdrawn and closed.",
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


# What falls due, by the deadline's kind (a ladder's subject, or a reminder).
DEADLINE_WORDS = {
    "acknowledge": "Action {action} to be confirmed by its owner",
    "overdue": "Action {action} due",
    "plans": "Dissemination and audit plans due",
    "agree_actions": "Actions to be agreed by the board",
    "audit": "Audit due",
    "re_audit": "Re-audit due",
    "due_reminder": "Reminder that action {action} is nearly due",
    "progress_request": "Progress update on action {action} asked for",
}
# The condition under which a ladder climbs, by its subject.
STILL_OPEN = {
    "acknowledge": "If action {action} is still not confirmed",
    "overdue": "If action {action} is still not complete",
    "plans": "If the plans are still not in",
    "agree_actions": "If actions are still not agreed",
    "audit": "If the audit is still not recorded",
    "re_audit": "If the re-audit is still not recorded",
}
LEVEL_TARGETS = {
    EscalationLevel.agency_lead: "the agency's safeguarding lead",
    EscalationLevel.sponsoring_board: "the sponsoring board",
    EscalationLevel.assurance_board: "the Assurance Board",
}


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
    action = deadline.action_id or ""
    target = LEVEL_TARGETS.get(deadline.level) if deadline.level else None
    if target:
        condition = STILL_OPEN.get(deadline.kind, "If nothing is done").format(action=action)
        return f"{condition} by {uk_day(deadline.at)}, it goes to {target}"
    return f"{DEADLINE_WORDS.get(deadline.kind, 'Next step').format(action=action)}: {uk_day(deadline.at)}"


def source_phrase(status: RecommendationStatus) -> str:
    """Where the recommendation comes from; the review's kind only when its title does not say it."""
    kind = SOURCE_KINDS.get(status.source.kind.value, status.source.kind.value)
    title = status.source.title
    named = title if title.lower().startswith(kind.lower()) else f"{kind}: {title}"
    return f"{named} ({uk_date(status.source.date)})"
