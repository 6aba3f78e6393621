"""The lifecycle's typed vocabularies: what a timeline event, a deadline, a message and a role can
be. String enums, so that stored rows, payloads and templates keep the same plain values, while
code that names one is checked (a misspelt kind is an error, not a silent new kind)."""

from __future__ import annotations

from enum import StrEnum


class EventKind(StrEnum):
    """A timeline event. Three families are written with a suffix: ``stage:<stage>`` (the stage
    entered), ``escalation:<level>`` (a rung of a ladder reached) and ``audit_<outcome>``."""

    received = "received"
    action_assigned = "action_assigned"
    actions_agreed = "actions_agreed"
    actions_added = "actions_added"
    acknowledged = "acknowledged"
    progress_reported = "progress_reported"
    progress_requested = "progress_requested"
    due_reminder = "due_reminder"
    extension_requested = "extension_requested"
    extension_approved = "extension_approved"
    extension_declined = "extension_declined"
    due_date_changed = "due_date_changed"
    action_completed = "action_completed"
    owner_reassigned = "owner_reassigned"
    owner_reminded = "owner_reminded"
    board_decision = "board_decision"
    plans_submitted = "plans_submitted"
    signed_off = "signed_off"
    cascade_confirmed = "cascade_confirmed"
    cascade_corrected = "cascade_corrected"
    cascade_reminder = "cascade_reminder"
    measures_added = "measures_added"
    reading_recorded = "reading_recorded"
    reading_corrected = "reading_corrected"
    roles_changed = "roles_changed"
    policy_changed = "policy_changed"
    handed_over = "handed_over"
    mail_bounced = "mail_bounced"
    # What an effect could not do with the recommendation's data (``Lifecycle.problem``).
    store_refused = "store_refused"
    mail_failed = "mail_failed"


def stage_event(stage: str) -> str:
    return f"stage:{stage}"


# A decline's stage event carries the board's reason: the annual report lists every decision not
# to implement with its reasons (Care Act 2014, Schedule 2, paragraph 4) from the timeline.
DECLINED_BY_BOARD = "declined by the sponsoring board"


def declined_detail(reason: str) -> str:
    return f"{DECLINED_BY_BOARD}: {reason}"


def decline_reason(detail: str) -> str:
    """The reason in a decline's stage event ("" for one recorded before the reason was kept)."""
    return detail.removeprefix(f"{DECLINED_BY_BOARD}:").strip() if detail.startswith(DECLINED_BY_BOARD) else ""


def escalation_event(level: str) -> str:
    return f"escalation:{level}"


def audit_event(outcome: str) -> str:
    return f"audit_{outcome}"


class DeadlineKind(StrEnum):
    """What a deadline is about: a ladder's subject, or a reminder."""

    acknowledge = "acknowledge"
    overdue = "overdue"
    agree_actions = "agree_actions"
    plans = "plans"
    audit = "audit"
    re_audit = "re_audit"
    # The cascade's silence ladder (from ``cascade_by``), its reminder before, and the audit date
    # ending the cascade stage with agencies still unconfirmed.
    cascade = "cascade"
    cascade_reminder = "cascade_reminder"
    cascade_ends = "cascade_ends"
    # A measure's reading owed: its reporter asked on the day, then the board's ladder on silence.
    reading = "reading"
    due_reminder = "due_reminder"
    progress_request = "progress_request"


class MessageKind(StrEnum):
    """A notification: each has an HTML and a text template in ``templates/email/``, except the
    board pack, which is rendered from ``templates/reports/``."""

    actions_needed = "actions_needed"
    task_assigned = "task_assigned"
    task_under_way = "task_under_way"
    task_reassigned = "task_reassigned"
    acknowledge_reminder = "acknowledge_reminder"
    due_reminder = "due_reminder"
    progress_request = "progress_request"
    overdue_notice = "overdue_notice"
    agency_lead_copy = "agency_lead_copy"
    board_escalation = "board_escalation"
    assurance_escalation = "assurance_escalation"
    agree_actions_reminder = "agree_actions_reminder"
    plans_requested = "plans_requested"
    plans_reminder = "plans_reminder"
    extension_requested = "extension_requested"
    extension_decided = "extension_decided"
    sign_off_refused = "sign_off_refused"
    sign_off_requested = "sign_off_requested"
    signed_off = "signed_off"
    cascade_task = "cascade_task"
    cascade_reminder = "cascade_reminder"
    cascade_overdue = "cascade_overdue"
    measure_assigned = "measure_assigned"
    reading_due = "reading_due"
    audit_due = "audit_due"
    re_audit_due = "re_audit_due"
    audit_failed = "audit_failed"
    repeated_audit_failure = "repeated_audit_failure"
    assured = "assured"
    declined = "declined"
    withdrawn = "withdrawn"
    owner_unreachable = "owner_unreachable"
    sponsor_reminder = "sponsor_reminder"
    board_decision = "board_decision"
    board_digest = "board_digest"
    fresh_link = "fresh_link"
    sign_in = "sign_in"
    board_pack = "board_pack"
    # A review's clocks (``workflows.review``): due soon, missed (its board), then the Assurance Board.
    review_clock_reminder = "review_clock_reminder"
    review_clock_missed = "review_clock_missed"
    review_clock_escalated = "review_clock_escalated"
    # An agency's return to a cycle of assurance (``workflows.cycle_return``).
    return_requested = "return_requested"
    return_reminder = "return_reminder"
    return_overdue = "return_overdue"
    return_board_escalation = "return_board_escalation"
    return_assurance_escalation = "return_assurance_escalation"
    return_submitted = "return_submitted"
    return_challenged = "return_challenged"
    return_accepted = "return_accepted"
    # People change (``gateway.people``): a successor's one summary; an agency lead told that
    # someone is away with no deputy, so their mail comes to the lead.
    hand_over_summary = "hand_over_summary"
    absence_uncovered = "absence_uncovered"


class Role(StrEnum):
    """Why a person hears about a recommendation, and what they may be asked to do."""

    owner = "owner"
    board_sponsor = "board_sponsor"
    board_chair = "board_chair"
    assurance_member = "assurance_member"
    auditor = "auditor"
    agency_lead = "agency_lead"
    cascade_lead = "cascade_lead"  # confirms that the learning reached an agency's staff
    reporter = "reporter"  # gives an impact measure's readings
    previous_owner = "previous_owner"
