"""Plain words for where things stand, as the person reading a response page would say them.

Shared phrases (stage names, dates, review kinds) come from the email renderer, so a page and
the email that linked to it describe a recommendation the same way.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from activities.mail.render import MESSAGE_NAMES, SOURCE_KINDS, STAGES
from activities.mail.render import uk_date as _uk_date
from activities.mail.render import uk_day as _uk_day
from models.payloads import ActionStatus, ActionView, EscalationLevel, RecommendationStatus, Stage

__all__ = ["SOURCE_KINDS", "STAGES", "uk_date", "uk_day", "uk_time", "event_words", "event_detail"]

# The partnership works in London time (GMT, or BST in summer); the workflows keep UTC.
LONDON = ZoneInfo("Europe/London")


def in_london(moment: datetime) -> datetime:
    """``moment`` on London's clock (a naive time is the store's UTC)."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(LONDON)


def uk_date(value: Any) -> str:
    """A date as a British reader writes it, ``3 May 2023``; a moment's date is London's."""
    return _uk_date(in_london(value) if isinstance(value, datetime) else value)


def uk_day(value: Any) -> str:
    """A deadline with its weekday, ``Wednesday 3 May 2023``; a moment's date is London's."""
    return _uk_day(in_london(value) if isinstance(value, datetime) else value)


def uk_time(value: datetime) -> str:
    """A moment on London's clock with its zone, ``3 May 2023, 14:05 BST``."""
    local = in_london(value)
    return f"{_uk_date(local)}, {local:%H:%M} {local.tzname()}"


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
    "change_due_date": "The new due date is recorded and the owner has been told.",
    "add_actions": "The action is added and its owner has been emailed.",
    "remind_owner": "The reminder has been sent to the owner.",
    "record_board_decision": "The board's decision is recorded; the owners of the open actions it is about are told.",
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


# --- the timeline ---------------------------------------------------------------------------

# Every kind of timeline event, in words: the one table the pages use (``stage:`` and
# ``escalation:`` kinds are worded from the stage and level tables below).
EVENT_WORDS = {
    "received": "Recommendation received",
    "action_assigned": "Action assigned",
    "actions_agreed": "Actions agreed",
    "actions_added": "Actions added",
    "acknowledged": "Action taken on by its owner",
    "progress_reported": "Progress reported",
    "progress_requested": "Progress update asked for",
    "due_reminder": "Reminder before the due date",
    "extension_requested": "More time asked for",
    "extension_approved": "More time agreed",
    "extension_declined": "More time refused",
    "action_completed": "Action reported complete",
    "owner_reassigned": "Action given to a new owner",
    "due_date_changed": "Due date changed by the board",
    "plans_submitted": "Dissemination and audit plans submitted",
    "signed_off": "Signed off by the Assurance Board",
    "audit_embedded": "Audit: the change is embedded",
    "audit_partially_embedded": "Audit: the change is partly embedded",
    "audit_not_embedded": "Audit: the change is not embedded",
    "owner_reminded": "The board reminded the owner",
    "board_decision": "The board's decision recorded",
    "roles_changed": "Who holds the roles changed",
    "mail_bounced": "An email could not be delivered",
    "store_refused": "Assure could not save this recommendation's record: an operator is needed",
    "mail_failed": "An email could not be sent: an operator is needed",
}
# What an escalation was about, by the deadline's kind (``models.deadlines``) or its cause.
ESCALATION_ABOUT = {
    "acknowledge": "not confirmed by its owner",
    "overdue": "not complete by its due date",
    "plans": "the plans were not in on time",
    "agree_actions": "the actions were not agreed on time",
    "audit": "the audit was not recorded on time",
    "re_audit": "the re-audit was not recorded on time",
    "repeated_audit_failure": "audits found the change not embedded again",
    "owner_unreachable": "an email to the owner could not be delivered",
}
# Details that are a single action id, worded as "Action A1".
_ACTION_DETAIL = {"acknowledged", "progress_reported", "progress_requested", "due_reminder", "extension_declined",
                  "action_completed", "owner_reminded"}  # fmt: skip
_ISO_DAY = re.compile(r"\b(\d{4}-\d{2}-\d{2})\b")
_ESCALATION_DETAIL = re.compile(r"^(action|stage):(\S+) \((\w+)\)$")
_BOUNCE_DETAIL = re.compile(r"^(\w+) to (\S+) \((\d+)\)$")
_STAGE_DETAIL = {"imported": "taken up from the imported action plan"}


def with_uk_dates(text: str) -> str:
    """``text`` with each ISO date (``2026-12-31``) written as a British reader writes it."""
    return _ISO_DAY.sub(lambda m: _uk_date(m.group(1)), text)


def event_words(kind: str) -> str:
    """What a timeline event of ``kind`` was, in words."""
    if kind.startswith("stage:"):
        return f"Now at: {STAGES.get(kind.removeprefix('stage:'), 'a new stage')}"
    if kind.startswith("escalation:"):
        try:
            return LEVEL_WORDS[EscalationLevel(kind.removeprefix("escalation:"))]
        except ValueError:
            return "Escalated"
    return EVENT_WORDS.get(kind, kind.replace("_", " ").replace(":", " ").capitalize())


def event_detail(kind: str, detail: str) -> str:
    """An event's detail in words: dates written out, action ids and internal names explained."""
    if kind == "received":  # "from cspr": the source's kind
        source = detail.removeprefix("from ")
        return f"From {SOURCE_KINDS.get(source, source)}"
    if kind.startswith("escalation:") and (found := _ESCALATION_DETAIL.match(detail)):
        what, name, about = found.groups()
        subject = f"Action {name}" if what == "action" else STAGES.get(name, "This stage")
        return f"{subject}: {ESCALATION_ABOUT.get(about, about.replace('_', ' '))}"
    if kind.startswith("stage:"):
        detail = _STAGE_DETAIL.get(detail, detail)
    elif kind == "mail_bounced" and (found := _BOUNCE_DETAIL.match(detail)):
        message, recipient, code = found.groups()
        return f"{MESSAGE_NAMES.get(message, 'an email').capitalize()} to {recipient} (refused, code {code})"
    elif kind == "action_completed" and detail.endswith(" (imported)"):
        return f"Action {detail.removesuffix(' (imported)')}, complete when the plan was imported"
    elif kind == "plans_submitted":
        if detail == "credible":
            return "Complete enough to sign off"
        return detail.replace("1 gap(s)", "1 gap to fill").replace("gap(s)", "gaps to fill")
    elif kind == "board_decision":
        return f"About action {detail}" if detail else "About the whole recommendation"
    elif kind in _ACTION_DETAIL or kind in {"owner_reassigned", "due_date_changed", "extension_approved",
                                            "extension_requested", "action_assigned"}:  # fmt: skip
        detail = f"Action {detail}" if detail else detail
    elif kind in {"actions_agreed", "actions_added"}:
        detail = detail.replace("1 action(s)", "1 action").replace("action(s)", "actions")
    detail = with_uk_dates(detail)
    return detail[:1].upper() + detail[1:]
