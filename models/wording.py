"""The one word table: how pages, emails and the board pack name stages, reviews, messages,
timeline events, deadlines and roles, and how they write dates (London's, the British way).

Pure (the standard library and ``models`` only), so the web, the mail renderer and the board pack
share it without reaching into one another. Where the channels used to disagree, the words are
the pages' (they were reviewed with users): an agreed extension is "More time agreed" everywhere.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from models import vocabulary
from models.calendar import DurationError, parse_duration
from models.kinds import DeadlineKind, EventKind, MessageKind, Role, audit_event
from models.payloads import AuditOutcome, CascadeStatus, Deadline, Direction, EscalationLevel, MeasureTrack, Stage

E, D, M, R, L = EventKind, DeadlineKind, MessageKind, Role, EscalationLevel

# --- dates --------------------------------------------------------------------------------

# The partnership works in London time (GMT, or BST in summer); the workflows and the store keep UTC.
LONDON = ZoneInfo("Europe/London")
_MONTHS = "January February March April May June July August September October November December".split()
_WEEKDAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
_ISO_DAY = re.compile(r"\b(\d{4}-\d{2}-\d{2})\b")


def in_london(moment: datetime) -> datetime:
    """``moment`` on London's clock (a naive time is the store's UTC)."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(LONDON)


def as_date(value: Any) -> date | None:
    """The day ``value`` names: a moment's London date, a date, or an ISO date at the start of
    a string (as notification contexts carry them); ``None`` for anything else."""
    if isinstance(value, datetime):
        return in_london(value).date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
    return None


def uk_date(value: Any) -> str:
    """A date as a British reader writes it, ``3 May 2023`` (text that is not a date is kept)."""
    day = as_date(value)
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}" if day else str(value)


def uk_day(value: Any) -> str:
    """A deadline with its weekday, ``Wednesday 3 May 2023``."""
    day = as_date(value)
    return f"{_WEEKDAYS[day.weekday()]} {uk_date(day)}" if day else str(value)


def uk_time(value: datetime) -> str:
    """A moment on London's clock with its zone, ``3 May 2023, 14:05 BST``."""
    local = in_london(value)
    return f"{uk_date(local)}, {local:%H:%M} {local.tzname()}"


def with_uk_dates(text: str) -> str:
    """``text`` with each ISO date (``2026-12-31``) written as a British reader writes it."""
    return _ISO_DAY.sub(lambda m: uk_date(m.group(1)), text)


# --- vocabularies -------------------------------------------------------------------------

STAGES: dict[str, str] = {
    Stage.review: "Agreeing actions",
    Stage.action: "Actions assigned",
    Stage.in_progress: "Actions in progress",
    Stage.dissemination_plan: "Plans due",
    Stage.sign_off: "Waiting for sign-off",
    Stage.cascade: "Learning going out to staff",
    Stage.audit: "Waiting for the audit",
    Stage.re_audit: "Remedial actions and re-audit",
    Stage.assured: "Assured (closed)",
    Stage.declined: "Declined (closed)",
    Stage.withdrawn: "Withdrawn (closed)",
}
# The full names people know each kind of review by: one table with the importer's.
SOURCE_KINDS: dict[str, str] = {value: full for value, (full, _) in vocabulary.SOURCE_KINDS.items()}
# A review's milestones (``models.review_clocks.ReviewMilestone``): the name, and what marks it.
MILESTONE_WORDS: dict[str, tuple[str, str]] = {
    "notified": ("Notified", "the serious incident notification or the referral"),
    "decided": ("Decided", "the decision to hold the review"),
    "commissioned": ("Commissioned", "the reviewer appointed and terms of reference agreed"),
    "concluded": ("Concluded", "the final report or findings agreed"),
    "published": ("Published", "the report published"),
}
# What an audit found, as the end of "the change is ...".
OUTCOMES: dict[str, str] = {
    AuditOutcome.embedded: "embedded",
    AuditOutcome.partially_embedded: "partly embedded",
    AuditOutcome.not_embedded: "not embedded",
}
# Where an agency's cascade stands (``CascadeView.status``).
CASCADE_STATUS: dict[str, str] = {
    CascadeStatus.waiting: "Waiting",
    CascadeStatus.confirmed: "Confirmed",
    CascadeStatus.overdue: "Overdue",
}
# Where an impact measure stands against its line to the target (``models.measures.track_of``):
# the one set of words for pages, emails, the board pack and the CLI.
MEASURE_TRACK: dict[str, str] = {
    MeasureTrack.on_track: "On track",
    MeasureTrack.off_track: "Off track",
    MeasureTrack.no_data: "No data yet",
}
# Which way a measure should move, as a reader checks a figure against it.
DIRECTION_WORDS: dict[str, str] = {
    Direction.up: "Higher is better",
    Direction.down: "Lower is better",
}
# Why a person is named on a recommendation (the roles the lifecycle gives its readers).
ROLE_WORDS: dict[str, str] = {
    R.owner: "action owner",
    R.previous_owner: "previous action owner",
    R.agency_lead: "agency safeguarding lead",
    R.cascade_lead: "lead for the cascade to an agency's staff",
    R.board_sponsor: "board sponsor",
    R.board_chair: "board chair",
    R.assurance_member: "Assurance Board member",
    R.auditor: "auditor",
    R.reporter: "reporter of an impact measure",
}
ROLES = tuple(ROLE_WORDS)
# What each kind of message is, for a reader told one was sent, or that one bounced.
MESSAGE_NAMES: dict[str, str] = {
    M.actions_needed: "a request to agree actions",
    M.task_assigned: "a new task",
    M.task_under_way: "a note that an action is now followed in Assure",
    M.sponsor_reminder: "a reminder from the board",
    M.board_decision: "the board's decision",
    M.task_reassigned: "a note that an action was reassigned",
    M.acknowledge_reminder: "a reminder to acknowledge a task",
    M.due_reminder: "a reminder of a due date",
    M.progress_request: "a request for a progress update",
    M.overdue_notice: "an overdue notice",
    M.agency_lead_copy: "an escalation",
    M.board_escalation: "an escalation",
    M.assurance_escalation: "an escalation",
    M.agree_actions_reminder: "a reminder to agree actions",
    M.plans_reminder: "a reminder to submit plans",
    M.extension_requested: "an extension request",
    M.extension_decided: "an extension decision",
    M.plans_requested: "a request for plans",
    M.sign_off_requested: "a sign-off request",
    M.sign_off_refused: "the gaps in the plans",
    M.signed_off: "a sign-off notice",
    M.cascade_task: "a request to confirm the learning reached your staff",
    M.cascade_reminder: "a reminder to confirm the cascade",
    M.cascade_overdue: "a notice that the cascade confirmation is overdue",
    M.measure_assigned: "a note of the impact measures you report",
    M.reading_due: "a request for a measure's reading",
    M.audit_due: "an audit reminder",
    M.re_audit_due: "a re-audit reminder",
    M.audit_failed: "an audit result",
    M.repeated_audit_failure: "an audit escalation",
    M.assured: "a closing notice",
    M.declined: "a closing notice",
    M.withdrawn: "a closing notice",
    M.owner_unreachable: "a note that an email could not be delivered",
    M.fresh_link: "a new link",
    M.board_digest: "the board's daily list of escalations",
    M.sign_in: "a sign-in link",
    M.board_pack: "the monthly board pack",
    M.review_clock_reminder: "a reminder of a review's deadline",
    M.review_clock_missed: "a notice that a review's deadline was missed",
    M.review_clock_escalated: "a review's escalation",
    M.return_requested: "a request for your agency's return",
    M.return_reminder: "a reminder of your agency's return",
    M.return_overdue: "a notice that your agency's return is overdue",
    M.return_board_escalation: "a return's escalation to its board",
    M.return_assurance_escalation: "a return's escalation to the Assurance Board",
    M.return_submitted: "a return to review",
    M.return_challenged: "a challenge to your agency's return",
    M.return_accepted: "a note that your agency's return is accepted",
    M.hand_over_summary: "a summary of what passed to you from someone who left",
    M.absence_uncovered: "a note that someone of your agency is away with no deputy",
}


def message_name(kind: str) -> str:
    """What a message of ``kind`` is, as in "an overdue notice"."""
    return MESSAGE_NAMES.get(kind, kind.replace("_", " "))


# --- escalation levels ----------------------------------------------------------------------

# Where an escalation has got to, as the event that took it there.
LEVEL_WORDS: dict[str, str] = {
    L.none: "Not escalated",
    L.owner: "Reminder sent to the owner",
    L.agency_lead: "The agency's safeguarding lead has been told",
    L.sponsoring_board: "Escalated to the sponsoring board",
    L.assurance_board: "Escalated to the Assurance Board",
}
# Who each rung reaches.
LEVEL_TARGETS: dict[str, str] = {
    L.owner: "the owner",
    L.agency_lead: "the agency's safeguarding lead",
    L.sponsoring_board: "the sponsoring board",
    L.assurance_board: "the Assurance Board",
}


def escalated_to(level: str) -> str:
    """Who a recommendation has been escalated to, for a list: ``The sponsoring board``."""
    target = LEVEL_TARGETS.get(level)
    return _capital(target) if target else LEVEL_WORDS.get(level, level.replace("_", " ").capitalize())


# --- timeline events ------------------------------------------------------------------------

# Every kind of timeline event, in words. ``stage:<stage>`` and ``escalation:<level>`` are worded
# from the stage and level tables; ``audit_<outcome>`` from the outcomes.
EVENT_WORDS: dict[str, str] = {
    E.received: "Recommendation received",
    E.action_assigned: "Action assigned",
    E.actions_agreed: "Actions agreed",
    E.actions_added: "Actions added",
    E.acknowledged: "Action taken on by its owner",
    E.progress_reported: "Progress reported",
    E.progress_requested: "Progress update asked for",
    E.due_reminder: "Reminder before the due date",
    E.extension_requested: "More time asked for",
    E.extension_approved: "More time agreed",
    E.extension_declined: "More time refused",
    E.action_completed: "Action reported complete",
    E.owner_reassigned: "Action given to a new owner",
    E.due_date_changed: "Due date changed by the board",
    E.plans_submitted: "Dissemination and audit plans submitted",
    E.signed_off: "Signed off by the Assurance Board",
    E.cascade_confirmed: "The learning reached an agency's staff",
    E.cascade_corrected: "An agency's cascade figures corrected",
    E.cascade_reminder: "Cascade leads reminded to confirm",
    E.measures_added: "Impact measures agreed",
    E.reading_recorded: "Reading of a measure recorded",
    E.reading_corrected: "Reading of a measure corrected",
    **{audit_event(outcome.value): f"Audit: the change is {OUTCOMES[outcome]}" for outcome in AuditOutcome},
    E.owner_reminded: "The board reminded the owner",
    E.board_decision: "The board's decision recorded",
    E.roles_changed: "Who holds the roles changed",
    E.policy_changed: "The board's escalation policy changed",
    E.handed_over: "Someone left: their part passed to a successor",
    E.mail_bounced: "An email could not be delivered",
    # Problems an operator must see (``activities.problems``).
    E.store_refused: "Assure could not save this recommendation's record: an operator is needed",
    E.mail_failed: "An email could not be sent: an operator is needed",
}
# What an escalation was about: the deadline's kind, or the message its cause sends.
ESCALATION_ABOUT: dict[str, str] = {
    D.acknowledge: "not confirmed by its owner",
    D.overdue: "not complete by its due date",
    D.plans: "the plans were not in on time",
    D.agree_actions: "the actions were not agreed on time",
    D.audit: "the audit was not recorded on time",
    D.re_audit: "the re-audit was not recorded on time",
    D.cascade: "agencies have not confirmed that the learning reached their staff",
    D.reading: "its reading did not come in on time",
    M.repeated_audit_failure: "audits found the change not embedded again",
    M.owner_unreachable: "an email to the owner could not be delivered",
}
# Kinds whose detail starts with an action id, worded as "Action A1 ...".
_ACTION_DETAIL = frozenset({
    E.acknowledged, E.progress_reported, E.progress_requested, E.due_reminder, E.extension_declined,
    E.action_completed, E.owner_reminded, E.owner_reassigned, E.due_date_changed, E.extension_approved,
    E.extension_requested, E.action_assigned,
})  # fmt: skip
_ESCALATION_DETAIL = re.compile(r"^(action|stage|measure):(\S+) \((\w+)\)$")
_READING_DETAIL = frozenset({E.reading_recorded, E.reading_corrected})
_BOUNCE_DETAIL = re.compile(r"^(\w+) to (\S+) \((\d+)\)$")
_STAGE_DETAIL = {"imported": "taken up from the imported action plan"}


def event_words(kind: str) -> str:
    """What a timeline event of ``kind`` was, in words: the one answer for every channel."""
    if kind.startswith("stage:"):
        return f"Now at: {STAGES.get(kind.removeprefix('stage:'), 'a new stage')}"
    if kind.startswith("escalation:"):
        return LEVEL_WORDS.get(kind.removeprefix("escalation:"), "Escalated")
    return EVENT_WORDS.get(kind, kind.replace("_", " ").replace(":", " ").capitalize())


def event_detail(kind: str, detail: str) -> str:
    """An event's detail in words: dates written out, action ids and internal names explained."""
    if kind == E.received:  # "from cspr": the source's kind
        source = detail.removeprefix("from ")
        return f"From {SOURCE_KINDS.get(source, source)}"
    if kind.startswith("escalation:") and (found := _ESCALATION_DETAIL.match(detail)):
        what, name, about = found.groups()
        subject = {"action": f"Action {name}", "measure": f"Measure {name}"}.get(what) or STAGES.get(name, "This stage")
        return f"{subject}: {ESCALATION_ABOUT.get(about, about.replace('_', ' '))}"
    if kind.startswith("stage:"):
        detail = _STAGE_DETAIL.get(detail, detail)
    elif kind == E.mail_bounced and (bounce := _BOUNCE_DETAIL.match(detail)):
        message, recipient, code = bounce.groups()
        return f"{_capital(MESSAGE_NAMES.get(message, 'an email'))} to {recipient} (refused, code {code})"
    elif kind == E.action_completed and detail.endswith(" (imported)"):
        return f"Action {detail.removesuffix(' (imported)')}, complete when the plan was imported"
    elif kind == E.plans_submitted:
        if detail == "credible":
            return "Complete enough to sign off"
        return detail.replace("1 gap(s)", "1 gap to fill").replace("gap(s)", "gaps to fill")
    elif kind == E.board_decision:
        return f"About action {detail}" if detail else "About the whole recommendation"
    elif kind in _ACTION_DETAIL:
        detail = f"Action {detail}" if detail else detail
    elif kind in (E.actions_agreed, E.actions_added):
        detail = detail.replace("1 action(s)", "1 action").replace("action(s)", "actions")
    elif kind == E.measures_added:
        detail = detail.replace("1 measure(s)", "1 measure").replace("measure(s)", "measures")
    elif kind in _READING_DETAIL:  # "M1: 64% on 2026-03-01", the measure's id first
        detail = f"Measure {detail}" if detail else detail
    return _capital(with_uk_dates(detail))


# --- deadlines ------------------------------------------------------------------------------

# What falls due, by the deadline's kind (``Deadline.kind``: a ladder's subject, or a reminder).
DEADLINE_WORDS: dict[str, str] = {
    D.acknowledge: "Action {action} to be confirmed by its owner",
    D.overdue: "Action {action} due",
    D.plans: "Dissemination and audit plans due",
    D.agree_actions: "Actions to be agreed by the board",
    D.audit: "Audit due",
    D.re_audit: "Re-audit due",
    D.cascade: "Every agency to confirm the learning reached its staff",
    D.cascade_reminder: "Reminder to the agencies still to confirm the cascade",
    D.cascade_ends: "Audit date: the audit goes ahead with any agency still unconfirmed",
    D.reading: "A reading of {measure} due",
    D.due_reminder: "Reminder that action {action} is nearly due",
    D.progress_request: "Progress update on action {action} asked for",
}
# The condition under which a ladder climbs, by its subject.
STILL_OPEN: dict[str, str] = {
    D.acknowledge: "If action {action} is still not confirmed",
    D.overdue: "If action {action} is still not complete",
    D.plans: "If the plans are still not in",
    D.agree_actions: "If actions are still not agreed",
    D.audit: "If the audit is still not recorded",
    D.re_audit: "If the re-audit is still not recorded",
    D.cascade: "If agencies have still not confirmed the cascade",
    D.reading: "If the reading of {measure} is still not in",
}


def deadline_words(deadline: Deadline) -> str:
    """A deadline in words: what falls due on which day, or, for a rung above the owner's, who
    hears of it if it is still open by then."""
    names = {
        "action": deadline.action_id or "",
        "measure": f"measure {deadline.measure_id}" if deadline.measure_id else "a measure",
    }
    if deadline.level is not None and deadline.level.rank > L.owner.rank:
        condition = STILL_OPEN.get(deadline.kind, "If nothing is done").format(**names)
        return f"{condition} by {uk_day(deadline.at)}, it goes to {LEVEL_TARGETS[deadline.level]}"
    return f"{DEADLINE_WORDS.get(deadline.kind, 'Next step').format(**names)}: {uk_day(deadline.at)}"


# --- impact measures ------------------------------------------------------------------------


def _counted(number: int, unit: str) -> str:
    return unit if number == 1 else f"{number} {unit}s"


def every_words(duration: str) -> str:
    """How often a measure's reading is owed, from its ISO-8601 duration: ``P3M`` is "every 3
    months", ``P1Y`` "every year", ``P2W`` "every 2 weeks" (the text itself if it is no duration)."""
    try:
        parsed = parse_duration(duration)
    except DurationError:
        return str(duration)
    months = parsed.years * 12 + parsed.months
    parts = []
    if months and (parsed.months or parsed.days):
        parts.append(_counted(months, "month"))
    elif months:
        parts.append(_counted(parsed.years, "year"))
    if parsed.days and parsed.days % 7 == 0 and not months:
        parts.append(_counted(parsed.days // 7, "week"))
    elif parsed.days:
        parts.append(_counted(parsed.days, "day"))
    return "every " + " and ".join(parts) if parts else str(duration)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


# What a registry change was (``RegistryChange.what``), as the person's page lists it.
REGISTRY_CHANGE_WORDS: dict[str, str] = {
    "absence": "Absence",
    "deputy": "Deputy",
    "left": "Left",
    "person": "Registry entry",
    "agency": "Agency",
    "board": "Board",
}
