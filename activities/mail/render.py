"""Render one notification for one reader: a header-safe subject, a plain-text part and an HTML part.

The words live in ``templates/email/`` (``<kind>.html`` and ``<kind>.txt`` for every kind, on a
shared base and macros); this module holds what both parts share: the headline that also makes
the subject, the button label, why the reader is getting the message (their role), what is late
and what happens next if nothing is done. Everything shown comes from the notification's context:
no state is read and nothing personal is added.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, select_autoescape
from markupsafe import Markup, escape

from activities.mail.message import header_safe as _one_header_line
from models.deadlines import ACK_LADDER, BOARD_LADDER, ESCALATION_KIND, OWNER_RUNG_KIND
from models.measures import with_unit
from models.payloads import Direction, EscalationLevel, MeasureTrack
from models.plain_text import shown_harmlessly
from models.rules import LADDER
from models.wording import (
    DIRECTION_WORDS,
    MEASURE_TRACK,
    MESSAGE_NAMES,
    OUTCOMES,
    SOURCE_KINDS,
    STAGES,
    event_words,
    every_words,
    uk_date,
    uk_day,
)
from models.wording import as_date as _as_date

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates" / "email"
SUBJECT_LIMIT = 150

L = EscalationLevel


@dataclass(frozen=True)
class RenderedEmail:
    """One reader's message: the subject line and the two alternative bodies."""

    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class _Kind:
    headline: str  # a jinja expression over the context; the subject is "[REF] headline — title"
    tag: str  # a key of TAGS: how urgent the message looks
    button: str  # the label of the link button
    button_for: Mapping[str, str] | None = None  # a different label for some roles
    tag_for: Mapping[str, str] | None = None  # a different tag for some roles


TAGS = {
    "action": "Action needed",
    "reminder": "Reminder",
    "overdue": "Overdue",
    "escalated": "Escalated",
    "decision": "Decision needed",
    "info": "For information",
    "closed": "Closed",
}
_RESPOND = {"owner": "Respond now", "auditor": "Respond now", "cascade_lead": "Respond now", "reporter": "Respond now"}
OPEN = "Open the recommendation"
CONFIRM_CASCADE = "Confirm the cascade"
# A board member told in an absent lead's place records the confirmation from the recommendation.
_CASCADE_BUTTONS = {"board_sponsor": OPEN, "board_chair": OPEN, "assurance_member": OPEN}

KINDS: dict[str, _Kind] = {
    "actions_needed": _Kind("Agree actions for a new recommendation", "action", "Agree the actions"),
    "task_assigned": _Kind(
        "New task for you: action {{ action.action_id }}, due {{ due|ukdate }}", "action", "Acknowledge the task"
    ),
    "task_under_way": _Kind(
        "Action {{ action.action_id }} is now followed in Assure, due {{ due|ukdate }}",
        "info",
        "Report progress or completion",
    ),
    "sponsor_reminder": _Kind(
        "Reminder from {{ the_board }}: action {{ action.action_id }}, due {{ due|ukdate }}",
        "reminder",
        "Report progress or completion",
    ),
    "board_decision": _Kind("{{ The_board }} has decided on an escalation", "info", OPEN),
    "task_reassigned": _Kind("Action {{ action.action_id }} has been passed to someone else", "info", OPEN),
    "acknowledge_reminder": _Kind(
        "Please acknowledge action {{ action.action_id }}", "reminder", "Acknowledge the task"
    ),
    "due_reminder": _Kind(
        "Action {{ action.action_id }} is due on {{ due|ukdate }}", "reminder", "Report progress or completion"
    ),
    "progress_request": _Kind(
        "Progress update needed on action {{ action.action_id }}", "action", "Give a progress update"
    ),
    "overdue_notice": _Kind(
        "Action {{ action.action_id }} is overdue", "overdue", "Report completion or ask for more time"
    ),
    "agency_lead_copy": _Kind("{{ late }}: safeguarding lead copied in", "escalated", OPEN, _RESPOND),
    "board_escalation": _Kind(
        "{{ late }}: escalated to {{ the_board }}", "escalated", "Decide what happens next", _RESPOND
    ),
    "assurance_escalation": _Kind("{{ late }}: escalated to the Assurance Board", "escalated", OPEN, _RESPOND),
    "agree_actions_reminder": _Kind("Please agree actions for this recommendation", "reminder", "Agree the actions"),
    "plans_reminder": _Kind("The dissemination and audit plans are due", "reminder", "Submit the plans"),
    # Headlines that report a timeline event use its words (models.wording), as pages and the pack do.
    "extension_requested": _Kind(
        "{{ 'extension_requested'|event_words }}: action {{ action.action_id }}, new date {{ new_due|ukdate }}",
        "decision",
        "Decide on the extension",
    ),
    "extension_decided": _Kind(
        "{{ ('extension_approved' if approved else 'extension_declined')|event_words }}"
        " for action {{ action.action_id }}",
        "info",
        "Open your action",
    ),
    "plans_requested": _Kind("All actions complete: please submit the plans", "action", "Submit the plans"),
    "sign_off_requested": _Kind("Plans ready for Assurance Board sign-off", "decision", "Review the plans"),
    "sign_off_refused": _Kind(
        "Plans not ready to sign off: {{ gaps|length }} {{ 'thing' if gaps|length == 1 else 'things' }} to fix",
        "action",
        "Fix and resubmit the plans",
    ),
    "signed_off": _Kind("Signed off by the Assurance Board: audit on {{ audit_on|ukdate }}", "info", OPEN),
    "cascade_task": _Kind(
        "Please confirm the learning reached your staff by {{ cascade_by|ukdate }}",
        "action",
        CONFIRM_CASCADE,
        _CASCADE_BUTTONS,
    ),
    "cascade_reminder": _Kind(
        "Reminder: confirm the learning reached your staff by {{ cascade_by|ukdate }}",
        "reminder",
        CONFIRM_CASCADE,
        _CASCADE_BUTTONS,
    ),
    "cascade_overdue": _Kind("Your cascade confirmation is overdue", "overdue", CONFIRM_CASCADE, _CASCADE_BUTTONS),
    "measure_assigned": _Kind(
        "Please report {{ 'measure' if measure_ids|length == 1 else 'measures' }} {{ measure_ids|andlist }}"
        "{{ (': first reading due ' ~ first_reading_due|ukdate) if first_reading_due }}",
        "action",
        "Record a reading",
    ),
    "reading_due": _Kind(
        "Please record the reading of measure {{ measure_ids|andlist }}, due {{ deadline|ukdate }}",
        "action",
        "Record the reading",
    ),
    "audit_due": _Kind("The audit is due", "action", "Record the audit"),
    "re_audit_due": _Kind("The re-audit is due", "action", "Record the re-audit"),
    "audit_failed": _Kind(
        "Audit found the change {{ outcome_label }}: remedial actions set",
        "escalated",
        OPEN,
        tag_for={"owner": "action"},
    ),
    "repeated_audit_failure": _Kind("{{ failed_audits|words|capitalize }} failed audits in a row", "escalated", OPEN),
    "assured": _Kind("Recommendation assured and closed", "closed", OPEN),
    "declined": _Kind("Recommendation declined by {{ the_board }}", "closed", OPEN),
    "withdrawn": _Kind("Recommendation withdrawn", "closed", OPEN),
    "owner_unreachable": _Kind(
        "{{ ('Email about action ' ~ action.action_id) if action is defined else 'An email' }} could not be delivered",
        "action",
        OPEN,
    ),
    "fresh_link": _Kind("Your new link", "info", "Open the recommendation", _RESPOND),
    "board_digest": _Kind(
        "{{ items|length }} {{ 'escalation' if items|length == 1 else 'escalations' }} for {{ the_board }}"
        " on {{ day|ukdate }}",
        "escalated",
        "Open the board's escalation list",
    ),
}

# The ladders, as the lifecycle climbs them, by what they are about.
_LADDERS: dict[str, Sequence[EscalationLevel]] = {
    "acknowledge": ACK_LADDER,
    "overdue": LADDER,
    "plans": LADDER,
    "agree_actions": BOARD_LADDER,
    "audit": BOARD_LADDER,
    "re_audit": BOARD_LADDER,
    "cascade": BOARD_LADDER,
    "reading": BOARD_LADDER,
}
_ABOUT_OF_OWNER_RUNG: dict[str, str] = {kind: about for about, kind in OWNER_RUNG_KIND.items()}
_LEVEL_OF_KIND: dict[str, EscalationLevel] = {
    **{kind: L.owner for kind in OWNER_RUNG_KIND.values()},
    **{kind: level for level, kind in ESCALATION_KIND.items()},
}
# Kinds that set a ladder going: what it is about (its first rung is still to come).
_LADDER_STARTS = {
    "actions_needed": "agree_actions",
    "task_assigned": "acknowledge",
    "due_reminder": "overdue",
    "task_under_way": "overdue",
    "sponsor_reminder": "overdue",
    "plans_requested": "plans",
    "extension_decided": "overdue",
    "cascade_task": "cascade",
    "cascade_reminder": "cascade",
    "measure_assigned": "reading",
}
_STILL_NOT = {
    "acknowledge": "If the task is still not acknowledged",
    "overdue": "If the action is still not reported complete",
    "agree_actions": "If actions are still not agreed",
    "plans": "If the plans are still not submitted",
    "audit": "If the audit is still not recorded",
    "re_audit": "If the re-audit is still not recorded",
    "cascade": "If the cascade is still not confirmed",
    "reading": "If the reading is still not recorded",
}
STAYS_ON_AGENDA = "It stays on the Assurance Board's agenda, and in its monthly board pack, until it is resolved."

_LINK = re.compile(r"^https?://[^\s<>\"'`\\]+$")


# --- filters and small helpers ------------------------------------------------------------


_NUMBERS = "no one two three four five six seven eight nine ten".split()


def words(value: Any) -> str:
    """A small count in words, as in "two failed audits"; larger numbers as digits."""
    return _NUMBERS[value] if isinstance(value, int) and 0 <= value < len(_NUMBERS) else str(value)


def header_safe(value: str, limit: int = SUBJECT_LIMIT) -> str:
    """One line for a header, capped at the renderer's subject length (the builder guards too)."""
    return _one_header_line(value, limit)


def multiline(value: Any) -> Markup:
    """Escaped text whose line breaks survive in HTML."""
    lines = str(value).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return Markup("<br>\n").join(escape(line) for line in lines)


def _the(board: str) -> str:
    return board if board.lower().startswith("the ") else f"the {board}"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def and_list(items: Sequence[Any]) -> str:
    """Names joined as a reader writes them: "A", "A and B", "A, B and C"."""
    names = [str(item) for item in items]
    if len(names) < 2:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


# --- the cascade: each agency's part, from the context's ``cascade`` list -----------------


def _cascade(context: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [entry for entry in context.get("cascade") or () if isinstance(entry, Mapping)]


def _confirmed(entry: Mapping[str, Any]) -> bool:
    return entry.get("status") == "confirmed"


def _led_by(entry: Mapping[str, Any], recipient: str) -> bool:
    return str(entry.get("lead") or "").casefold() == recipient.casefold()


def _count(value: Any) -> int:
    return value if isinstance(value, int) else 0


def staff_to_reach(entry: Mapping[str, Any]) -> str:
    """How many staff of which group an agency plans to reach: "120 staff (health visitors)"."""
    group = str(entry.get("staff_group") or "")
    staff = f"{_count(entry.get('expected_reach'))} staff"
    return f"{staff} ({group})" if group else staff


def reach_target(expected: int, threshold: Any) -> int:
    """The fewest staff that meet the plan's reach threshold (a per cent), rounded up."""
    return math.ceil(expected * _count(threshold) / 100)


def _lead_words(entry: Mapping[str, Any]) -> str:
    return f"lead {entry['lead']}" if entry.get("lead") else "no lead on record"


def waiting_line(entry: Mapping[str, Any]) -> str:
    """An agency still to confirm, for a board: who leads it and whom it is to reach."""
    return f"{entry.get('agency')}: {staff_to_reach(entry)}, {_lead_words(entry)}"


def reach_row(entry: Mapping[str, Any], threshold: Any) -> dict[str, Any]:
    """An agency's part of the overall picture: what it confirmed (or that it never did), the
    when and how, and its lead's note."""
    if not _confirmed(entry):
        lead = f"Lead: {entry['lead']}" if entry.get("lead") else "No lead on record"
        detail = f"Planned: {staff_to_reach(entry)}. {lead}"
        return {"agency": entry.get("agency"), "reach": "Never confirmed", "detail": detail, "note": ""}
    expected, percent = _count(entry.get("expected_reach")), entry.get("reach_percent")
    reach = f"{_count(entry.get('reached'))} of {expected} staff reached"
    if isinstance(percent, int):
        reach += f" ({percent}%)"
        if percent < _count(threshold):
            reach += f", below the plan's {threshold}%"
    how = []
    if entry.get("done_on"):
        how.append(f"on {uk_date(entry['done_on'])}")
    if entry.get("channels"):
        how.append(f"through {and_list(entry['channels'])}")
    parts = [", ".join(how)] if how else []
    if entry.get("on_behalf_of"):
        parts.append(f"recorded on the agency's behalf by {entry.get('confirmed_by')}")
    detail = _capital("; ".join(parts))
    return {
        "agency": entry.get("agency"),
        "reach": reach,
        "detail": detail,
        "note": str(entry.get("note") or "").strip(),
    }


def reach_line(row: Mapping[str, Any]) -> str:
    """A ``reach_row`` as one line of text."""
    reach = str(row["reach"])
    line = f"{row['agency']}: {reach[:1].lower()}{reach[1:]}."
    if row["detail"]:
        line += f" {row['detail']}."
    if row["note"]:
        line += f" Note: {row['note']}"
    return line


def cascade_facts(context: Mapping[str, Any], recipient: str) -> dict[str, Any]:
    """What the cascade emails say, worked out for this reader.

    ``cascade_asked`` is the agencies this reader is asked to confirm: those they lead that have
    not confirmed, or (for a board member told because nobody leads them) every agency still to.
    """
    entries = _cascade(context)
    threshold = context.get("reach_threshold")
    mine = [e for e in entries if _led_by(e, recipient)]
    waiting = [e for e in entries if not _confirmed(e)]
    asked = [e for e in mine if not _confirmed(e)] or ([] if mine else waiting)
    expected = sum(_count(e.get("expected_reach")) for e in entries)
    reached = sum(_count(e.get("reached")) for e in entries if _confirmed(e))
    return {
        "cascade_asked": [
            {
                "agency": e.get("agency"),
                "staff": staff_to_reach(e),
                "expected_reach": _count(e.get("expected_reach")),
                "staff_group": str(e.get("staff_group") or ""),
                "target": reach_target(_count(e.get("expected_reach")), threshold),
            }
            for e in asked
        ],
        "cascade_for_others": bool(asked) and not mine,
        "cascade_thanked": [e.get("agency") for e in mine if _confirmed(e)],
        "cascade_waiting": [waiting_line(e) for e in waiting],
        "cascade_picture": [reach_row(e, threshold) for e in entries],
        "cascade_never": [e.get("agency") for e in waiting],
        "cascade_total": len(entries),
        "cascade_reached": reached,
        "cascade_expected": expected,
        "cascade_percent": reached * 100 // expected if expected else None,
    }


# --- impact measures: the context's measure facts (``measure``, ``measures``) in words ------


def _measures(context: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The measures a context is about: the one a reading is owed for, or a list of them."""
    one = context.get("measure")
    listed = [m for m in context.get("measures") or () if isinstance(m, Mapping)]
    return [one, *listed] if isinstance(one, Mapping) else listed


def _reports(measure: Mapping[str, Any], recipient: str) -> bool:
    return str(measure.get("reporter") or "").casefold() == recipient.casefold()


def _figure(measure: Mapping[str, Any], value: Any) -> str:
    """A figure of the measure with its unit ("64%", "15 days"), or "" for none."""
    return with_unit(value, str(measure.get("unit", ""))) if isinstance(value, int | float) else ""


def _dated(figure: str, word: str, day: Any) -> str:
    return f"{figure} {word} {uk_date(day)}" if figure and day else figure


def _latest_text(measure: Mapping[str, Any]) -> str:
    latest = measure.get("latest")
    return _dated(_figure(measure, latest.get("value")), "on", latest.get("on")) if isinstance(latest, Mapping) else ""


def _expected_text(measure: Mapping[str, Any]) -> str:
    """What the line to the target expected on the latest reading's day, to one decimal place
    as the chart's table gives it."""
    expected = measure.get("expected")
    return _figure(measure, round(expected, 1)) if isinstance(expected, int | float) else ""


def standing(measure: Mapping[str, Any]) -> str:
    """Where a measure stands, as the end of a sentence starting with its track words: the
    latest reading against what was expected by then, or why there is nothing to say."""
    track, latest, expected = measure.get("on_track"), _latest_text(measure), _expected_text(measure)
    up = measure.get("direction") != Direction.down
    if not latest:
        unset = measure.get("baseline") is None and measure.get("target") is None
        return "no reading has been recorded" + (", and it has no baseline or target yet" if unset else "")
    if track in (MeasureTrack.on_track, MeasureTrack.off_track) and expected:
        if track == MeasureTrack.on_track:
            relation = "at or above" if up else "at or below"
        else:
            relation = "below" if up else "above"
        return f"the latest reading, {latest}, is {relation} the {expected} expected by then"
    return f"the latest reading is {latest}, but with no baseline and target it cannot be called on or off track"


def measure_row(measure: Mapping[str, Any]) -> dict[str, str]:
    """One measure's figures in words, for a card or a list in any of the emails that name it."""
    track = MEASURE_TRACK.get(str(measure.get("on_track")), str(measure.get("on_track") or ""))
    direction = str(measure.get("direction"))
    target = _dated(_figure(measure, measure.get("target")), "by", measure.get("target_by"))
    latest = measure.get("latest")
    return {
        "id": str(measure.get("measure_id", "")),
        "name": str(measure.get("name", "")),
        "label": f"{measure.get('measure_id')} ({measure.get('name')})",
        "reporter": str(measure.get("reporter") or ""),
        "track": track,
        "off_track": "yes" if measure.get("on_track") == MeasureTrack.off_track else "",
        "standing": standing(measure),
        "summary": f"{track}: {standing(measure)}." + (f" Target: {target}." if target else ""),
        "baseline": _dated(_figure(measure, measure.get("baseline")), "on", measure.get("baseline_on"))
        or "Not set yet",
        "target": target or "Not set yet",
        "aim": f"{target} ({DIRECTION_WORDS[direction].lower()})" if target and direction in DIRECTION_WORDS else "",
        "every": every_words(str(measure.get("every") or "")),
        "due": uk_day(measure["reading_due_on"]) if measure.get("reading_due_on") else "",
        "latest": _latest_text(measure),
        "note": str(latest.get("note") or "").strip() if isinstance(latest, Mapping) else "",
    }


def measure_facts(context: Mapping[str, Any], recipient: str) -> dict[str, Any]:
    """What the measure emails say, worked out for this reader: every measure's row, the ids
    (the reader's own first, for the headline), the first reading owed and those off track."""
    measures = _measures(context)
    mine = [m for m in measures if _reports(m, recipient)] or measures
    dues = sorted(str(m["reading_due_on"]) for m in mine if m.get("reading_due_on"))
    rows = [measure_row(m) for m in measures]
    return {
        "measure_rows": rows,
        "measure_ids": [str(m.get("measure_id", "")) for m in mine],
        "first_reading_due": dues[0] if dues else "",
        "measures_off_track": [row["id"] for row in rows if row["off_track"]],
    }


def _reading_situation(context: Mapping[str, Any], today: date | None) -> str:
    """Whose reading of which measure has not come in, since when, and where the measure stands."""
    measure = next(iter(_measures(context)), {})
    row = measure_row(measure)
    ago = since(context.get("deadline"), today) if today else ""
    due = uk_date(context.get("deadline")) + (f" ({ago})" if ago else "")
    who = f" from {row['reporter']}, who reports it" if row["reporter"] else ""
    return f"No reading of measure {row['label']} has come in{who}. It was due on {due}. {row['summary']}"


# --- what each part needs to know ---------------------------------------------------------


def role_of(context: Mapping[str, Any], recipient: str) -> str | None:
    """The reader's role, from the context's ``roles`` (or, for a digest, its items')."""
    sources = [context, *context.get("items", ())]
    for source in sources:
        roles = source.get("roles") or {}
        role = roles.get(recipient) or roles.get(recipient.lower())
        if role:
            return role
    return None


def why(
    role: str | None,
    context: Mapping[str, Any],
    recipient: str,
    *,
    digest: bool = False,
    remedial: Sequence[str] = (),
    acting: Mapping[str, str] | None = None,
) -> str:
    """Why this reader gets this message, as one sentence; ``acting``: they stand in for
    ``recipient``, who is away (``models.cover``)."""
    action = context.get("action") if not digest else None
    the_board = _the(str(context.get("board", "sponsoring board")))
    these = "these recommendations" if digest else "this recommendation"
    if role == "owner":
        if remedial:
            phrase = f"you own remedial action{'s' if len(remedial) > 1 else ''} {', '.join(remedial)}"
        elif action and str(action.get("owner", "")).lower() == recipient.lower():
            phrase = f"you own action {action['action_id']} for {action['agency']}"
        else:
            phrase = "you own an action on this recommendation"
    elif role == "previous_owner":
        if action:
            phrase = f"you owned action {action['action_id']} for {action['agency']} until it was reassigned"
        else:
            phrase = "you owned an action on this recommendation until it was reassigned"
    elif role == "agency_lead":
        if action:
            phrase = f"you are the safeguarding lead for {action['agency']}, whose action this is"
        else:
            phrase = "you are the safeguarding lead for an agency with an action on this recommendation"
    elif role == "board_sponsor":
        phrase = f"you sponsor {these} for {the_board}"
    elif role == "board_chair":
        phrase = f"you chair {the_board}, which sponsors {these}"
    elif role == "assurance_member":
        phrase = "you are a member of the Assurance Board, which oversees every recommendation"
    elif role == "auditor":
        phrase = "you are the auditor for this recommendation"
    elif role == "cascade_lead":
        agencies = [str(e.get("agency")) for e in _cascade(context) if _led_by(e, recipient)]
        if len(agencies) == 1:
            phrase = f"you lead the cascade of this learning to {agencies[0]}'s staff"
        elif agencies:
            phrase = f"you lead the cascade of this learning to the staff of {and_list(agencies)}"
        else:
            phrase = "you lead the cascade of this learning to an agency's staff"
    elif role == "reporter":
        phrase = _reporter_phrase(context, recipient)
    else:
        phrase = f"you are named on {these} in Assure"
    if acting:
        because = {
            "deputy": "you are their deputy",
            "agency_lead": "they named no deputy and you are their agency's safeguarding lead",
            "board_sponsor": "they named no deputy and you sponsor the board",
        }.get(str(acting.get("cover")), "you stand in for them")
        until = uk_date(acting.get("until"))
        their = re.sub(r"^you ", "they ", phrase)
        return (
            f"You are getting this in place of {recipient}, who is away until {until}, because {because}. "
            f"It was meant for them because {their}. What you decide is recorded as acting for them."
        )
    return f"You are getting this because {phrase}."


def acting_for(context: Mapping[str, Any], recipient: str) -> dict[str, str] | None:
    """Whom ``recipient`` receives this message for, if they stand in for someone away."""
    entry = (context.get("acting_for") or {}).get(recipient.lower())
    return dict(entry) if isinstance(entry, Mapping) and entry.get("person") else None


def _reporter_phrase(context: Mapping[str, Any], recipient: str) -> str:
    """Which measures the reader reports: "you report measure M1 (name) for this recommendation"."""
    mine = [m for m in _measures(context) if _reports(m, recipient)]
    if len(mine) == 1:
        return f"you report measure {mine[0].get('measure_id')} ({mine[0].get('name')}) for this recommendation"
    if mine:
        return f"you report measures {and_list([m.get('measure_id') for m in mine])} for this recommendation"
    return "you report an impact measure for this recommendation"


def _about(kind: str, context: Mapping[str, Any]) -> str | None:
    return context.get("about") or _ABOUT_OF_OWNER_RUNG.get(kind) or _LADDER_STARTS.get(kind)


def late(about: str | None, context: Mapping[str, Any]) -> str:
    """What is late, in a few words, for a headline."""
    action_id = (context.get("action") or {}).get("action_id", "")
    measure_id = next(iter(_measures(context)), {}).get("measure_id", "")
    return {
        "acknowledge": f"Action {action_id} not acknowledged",
        "overdue": f"Action {action_id} overdue",
        "agree_actions": "Actions not yet agreed",
        "plans": "Plans not yet submitted",
        "audit": "Audit not yet recorded",
        "re_audit": "Re-audit not yet recorded",
        "cascade": "Cascade to staff not yet confirmed",
        "reading": f"Reading of measure {measure_id} not recorded",
    }.get(about or "", "Recommendation needs attention")


def situation(about: str | None, context: Mapping[str, Any], today: date | None = None) -> str:
    """What is late, in one plain sentence, for an escalation."""
    action = context.get("action") or {}
    ago = since(action.get("due"), today) if today else ""
    due = f"{uk_date(action.get('due'))} ({ago})" if ago else uk_date(action.get("due"))
    who = f"Action {action.get('action_id')} ({action.get('agency')}, owned by {action.get('owner')})"
    board = _capital(_the(str(context.get("board"))))
    if about == "cascade":
        return _cascade_situation(context, today)
    if about == "reading":
        return _reading_situation(context, today)
    return {
        "acknowledge": f"{who} has not been acknowledged.",
        "overdue": f"{who} was due on {due} and has not been reported complete.",
        "agree_actions": f"{board} has not yet agreed actions for this recommendation.",
        "plans": "Every action is complete, but the dissemination and audit plans have not been submitted.",
        "audit": "The audit date has arrived, but the audit has not been recorded.",
        "re_audit": "The re-audit date has arrived, but the re-audit has not been recorded.",
    }.get(about or "", "This recommendation needs attention.")


def _cascade_situation(context: Mapping[str, Any], today: date | None) -> str:
    """Which agencies have not confirmed the cascade, and since when it was due."""
    entries = _cascade(context)
    silent = [str(e.get("agency")) for e in entries if not _confirmed(e)]
    ago = since(context.get("cascade_by"), today) if today else ""
    due = uk_date(context.get("cascade_by")) + (f" ({ago})" if ago else "")
    if not silent:
        return f"Confirmations that the learning reached each agency's staff were due on {due}."
    one = len(silent) == 1
    sentence = (
        f"{and_list(silent)} {'has' if one else 'have'} not confirmed that the learning reached "
        f"{'its' if one else 'their'} staff. {'Its confirmation was' if one else 'Their confirmations were'} "
        f"due on {due}."
    )
    done = len(entries) - len(silent)
    if done:
        have = "has" if done == 1 else "have"
        sentence += f" {_capital(words(done))} of the {words(len(entries))} agencies {have} confirmed."
    return sentence


def next_steps(kind: str, context: Mapping[str, Any]) -> tuple[str, list[str]]:
    """What happens if nothing is done: a lead-in and the rest of the ladder's rungs, in order.

    With no rungs left the lead-in is a whole sentence; with no ladder at all it is empty.
    """
    about = _about(kind, context)
    if about not in _LADDERS:
        return "", []
    ladder = _LADDERS[about]
    if about == "acknowledge" and "ack_rungs" in context:
        # Only the reminders that fall before the due date: the overdue ladder takes over then.
        ladder = [rung for rung in ladder if rung.value in context["ack_rungs"]]
    level = _LEVEL_OF_KIND.get(kind)
    done = ladder.index(level) + 1 if level in ladder else 0
    action = context.get("action")
    steps = []
    for rung in ladder[done:]:
        if rung is L.owner:
            told = about in ("overdue", "cascade")
            steps.append("it becomes overdue and you'll be told" if told else "you'll get a reminder")
        elif rung is L.agency_lead:
            agency = action["agency"] if action else "the lead owner's agency"
            steps.append(f"the safeguarding lead for {agency} will be copied in")
        elif rung is L.sponsoring_board:
            steps.append(f"it will go on {_the(str(context['board']))}'s escalation list, and its chair will be told")
        else:
            steps.append("it will be escalated to the Assurance Board")
    if not steps:
        if about == "acknowledge" and context.get("due"):
            return f"From the due date, {uk_date(context['due'])}, the steps for an overdue action take over.", []
        return STAYS_ON_AGENDA, []
    if kind in ("due_reminder", "extension_decided", "task_under_way", "sponsor_reminder"):
        condition = f"If it is not reported complete by {uk_date(context['due'])}"
    elif kind in ("cascade_task", "cascade_reminder"):
        condition = f"If it is not confirmed by {uk_date(context['cascade_by'])}"
    elif kind == "measure_assigned":
        dues = [m.get("reading_due_on") for m in _measures(context)]
        if len(dues) == 1 and dues[0]:
            condition = f"If the first reading is not in by {uk_date(dues[0])}"
        else:  # several measures, each owed on its own day
            condition = "If a reading is not in by the day it is due"
    else:
        condition = _STILL_NOT[about]
        if context.get("next_step_on"):
            condition += f" by {uk_date(context['next_step_on'])}"
    if about == "acknowledge" and len(ladder) < len(_LADDERS[about]) and context.get("due"):
        # The rest of the acknowledgement ladder would fall after the due date, so it never comes.
        steps.append(f"from the due date, {uk_date(context['due'])}, the steps for an overdue action take over")
    if len(steps) == 1:
        return f"{condition}, {steps[0]}.", []
    return f"{condition}:", [steps[0], *(f"then {step}" for step in steps[1:-1]), f"later, {steps[-1]}"]


def next_step(kind: str, context: Mapping[str, Any]) -> str:
    """What happens if nothing is done, as one sentence ("" if nothing follows)."""
    lead, steps = next_steps(kind, context)
    if not steps:
        return lead
    return f"{lead[:-1]}, {', '.join(steps)}."


def do_now(about: str | None) -> str:
    """What the person on the ladder's first rung should do now."""
    return {
        "acknowledge": "Please acknowledge the task now, so the board knows you have it.",
        "overdue": "Please report completion with your evidence now, or ask for an extension, giving a new date "
        "and the reason.",
        "agree_actions": "Please agree the actions now, or decline the recommendation, giving the reasons.",
        "plans": "Please submit both plans now.",
        "audit": "Please carry out the audit and record its outcome now.",
        "re_audit": "Please carry out the re-audit and record its outcome now.",
        "cascade": "Please confirm now how many staff the learning reached, through which channels and on what day.",
        "reading": "Please record the reading now: the figure, and the day it was measured.",
    }.get(about or "", "")


def board_options(about: str | None, context: Mapping[str, Any]) -> list[str]:
    """What a board sponsor or chair can do about something late."""
    owner = (context.get("action") or {}).get("owner", "the owner")
    reported_by = next(iter(_measures(context)), {}).get("reporter")
    reporter = f"the reporter, {reported_by}," if reported_by else "the measure's reporter"
    several = len([e for e in _cascade(context) if not _confirmed(e)]) > 1
    lead, agency = ("each agency's lead", "an agency") if several else ("the agency's lead", "the agency")
    if about in ("acknowledge", "overdue"):
        return [
            f"contact the owner, {owner}, to find out what is in the way, or send them a reminder now",
            "agree a new due date if more time is reasonable, giving the reason",
            "add an action, or reassign this one to someone who can do it",
            "record the board's decision, so the owner and the Assurance Board see it",
        ]
    return {
        "agree_actions": ["agree the SMART actions for this recommendation", "or decline it, giving the reasons"],
        "plans": ["contact the lead owner to find out what is in the way", "or submit the plans yourself"],
        "audit": ["contact the auditor to find out when it will be done", "if they cannot do it, arrange another"],
        "re_audit": ["contact the auditor to find out when it will be done", "if they cannot do it, arrange another"],
        "cascade": [
            f"contact {lead}, named above, to find out what is in the way",
            f"if {agency} has given you its figures, record the confirmation on its behalf from the "
            "recommendation page",
            f"record the board's decision, so {'the leads' if several else 'the lead'} and the Assurance Board see it",
        ],
        "reading": [
            f"contact {reporter} to find out what is in the way",
            "if you have the figure, record the reading on their behalf from the recommendation page",
            "record the board's decision, so the reporter and the Assurance Board see it",
        ],
    }.get(about or "", [])


def ladder_note(context: Mapping[str, Any]) -> str:
    """Said when one notice went out for several rungs at once (a backlog, an overdue import)."""
    if not context.get("skipped_levels"):
        return ""
    return (
        "Several deadlines passed at once, so this one notice goes to everyone up to this step together, "
        "including the people who would have been told earlier."
    )


def source_label(context: Mapping[str, Any]) -> str:
    """Where the recommendation comes from, without saying the kind twice."""
    title = str(context.get("source_title") or "")
    kind = SOURCE_KINDS.get(str(context.get("source_kind")), str(context.get("source_kind") or ""))
    if not title:
        return kind
    return title if not kind or kind.lower() in title.lower() else f"{title} ({kind})"


_GAP_GROUPS = {
    "dissemination plan": "Dissemination, communication and socialisation plan",
    "cascade": "Cascade to each agency's staff",
    "audit plan": "Review and audit plan",
}
_ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
# A field's internal name after its words, as in "... confirms (cascade_by)": for the API, not a reader.
_FIELD_NAME = re.compile(r"\s*\(\w+_\w+\)")


def gap_groups(gaps: Sequence[str]) -> list[tuple[str, list[str]]]:
    """Sign-off gaps grouped by plan, each written as an instruction with UK dates."""
    groups: dict[str, list[str]] = {}
    for gap in gaps:
        prefix, sep, rest = str(gap).partition(": ")
        heading = _GAP_GROUPS.get(prefix.strip().lower()) if sep else None
        if heading is None:
            lowered = str(gap).lower()
            heading = next((h for key, h in _GAP_GROUPS.items() if key.split()[0] in lowered), "Both plans")
            rest = str(gap)
        words_only = _FIELD_NAME.sub("", rest)
        groups.setdefault(heading, []).append(_capital(_ISO_DATE.sub(lambda m: uk_date(m.group()), words_only)))
    return list(groups.items())


def since(day: Any, today: date) -> str:
    """How long ago ``day`` was, in days ("" unless it has passed)."""
    then = _as_date(day)
    if then is None or then >= today:
        return ""
    days = (today - then).days
    return "yesterday" if days == 1 else f"{days} days ago"


def _digest_items(context: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each escalation in a board digest, with its headline and what is late worked out."""
    items = []
    for item in context["items"]:
        item_kind = str(item.get("kind", ""))
        about = _about(item_kind, item)
        spec = KINDS.get(item_kind)
        facts = {"late": late(about, item), "the_board": _the(str(item.get("board", ""))), **_labels(item)}
        headline = _template(spec.headline).render({**item, **facts}) if spec else late(about, item)
        items.append(
            {
                **item,
                "headline": header_safe(headline, 300),
                "situation": situation(about, item, _as_date(context.get("day"))) if about else "",
                "waiting": [waiting_line(e) for e in _cascade(item) if not _confirmed(e)] if about == "cascade" else [],
                "item_link": _checked_link(item.get("link")),
            }
        )
    return items


def _labels(context: Mapping[str, Any]) -> dict[str, str]:
    return {
        "outcome_label": OUTCOMES.get(str(context.get("outcome", "")), str(context.get("outcome", ""))),
        "stage_label": STAGES.get(str(context.get("stage", "")), str(context.get("stage", ""))),
        "source_label": source_label(context),
    }


def _bounced_label(kind: Any) -> str:
    name = MESSAGE_NAMES.get(str(kind))
    return f"our email ({name})" if name else "our email"


def _unreachable(context: Mapping[str, Any]) -> tuple[str, bool]:
    """Who the bounced address belongs to (", the owner of action A1 (agency)"), and whether an owner."""
    role = context.get("unreachable_role") or ("owner" if context.get("action") else "")
    action = context.get("action")
    if role == "owner" and action:
        return f", the owner of action {action['action_id']} ({action['agency']})", True
    if role == "owner":
        return ", an action owner", True
    return {
        "previous_owner": ", a previous owner of an action on this recommendation",
        "agency_lead": f", the safeguarding lead for {action['agency']}" if action else ", an agency safeguarding lead",
        "auditor": ", the auditor for this recommendation",
        "assurance_member": ", a member of the Assurance Board",
    }.get(role, ""), False


def _checked_link(link: Any) -> str | None:
    if link is None:
        return None
    if not isinstance(link, str) or not _LINK.match(link):
        raise ValueError("a response link must be one http(s) URL without spaces or quotes")
    return link


# --- the environment ----------------------------------------------------------------------


@functools.cache
def environment() -> Environment:
    """The one jinja environment: HTML autoescaped, a missing key an error, tidy whitespace."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=shown_harmlessly,
    )
    env.filters.update(
        ukdate=uk_date,
        ukday=uk_day,
        multiline=multiline,
        words=words,
        event_words=event_words,
        andlist=and_list,
        reachline=reach_line,
    )
    return env


@functools.cache
def _template(source: str) -> Template:
    return environment().from_string(source)


def _tidy(text: str) -> str:
    """One kind of line break, no trailing spaces, at most one blank line in a row."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def render(kind: str, context: Mapping[str, Any], *, recipient: str, link: str | None, sent_on: date) -> RenderedEmail:
    """Render notification ``kind`` with its ``context`` for ``recipient``, with their personal ``link``.

    Raises ``KeyError`` naming an unknown kind, ``ValueError`` for a link that is not one http(s)
    URL, and jinja's ``UndefinedError`` when the context lacks a key the kind's templates need.
    """
    spec = KINDS.get(kind)
    if spec is None:
        raise KeyError(f"no email templates for notification kind {kind!r}")
    link = _checked_link(link)
    who_bounced, owner_bounced = _unreachable(context) if kind == "owner_unreachable" else ("", False)
    digest = kind == "board_digest"
    role = role_of(context, recipient)
    # A deputy standing in for someone away reads what was meant for them: the content is the
    # absent person's (their actions, measures, cascade), the link and the greeting the deputy's.
    acting = acting_for(context, recipient)
    reader = acting["person"] if acting else recipient
    my_remedial = [
        str(a["action_id"])
        for a in context.get("remedial_actions") or ()
        if str(a.get("owner", "")).lower() == reader.lower()
    ]
    if my_remedial and role not in ("board_sponsor", "board_chair"):
        # The audit names the new owners before their remedial actions exist: they are owners.
        role = "owner"
    about = _about(kind, context)
    facts: dict[str, Any] = {
        "the_board": _the(str(context.get("board", ""))),
        "late": late(about, context),
        **_labels(context),
        **measure_facts(context, reader),
    }
    if digest:
        # One digest a day gathers every board the reader sits on: name them all.
        boards = [_the(b) for b in sorted({str(i.get("board", "")) for i in context.get("items", ())}) if b]
        if len(boards) > 1:
            facts["the_board"] = ", ".join(boards[:-1]) + " and " + boards[-1]
    facts["The_board"] = _capital(facts["the_board"])
    variables: dict[str, Any] = {**context, **facts}
    headline = header_safe(_template(spec.headline).render(variables), 300)
    if acting:
        headline = header_safe(f"For {reader}: {headline}", 300)
    if digest:
        items = _digest_items(context)
        refs = list(dict.fromkeys(str(item["ref"]) for item in items))
        subject = f"[{', '.join(refs)}] {headline}"
    else:
        items, refs = [], [str(context["ref"])]
        subject = f"[{context['ref']}] {headline} — {context['title']}"
    tag = (spec.tag_for or {}).get(role or "", spec.tag)
    since_due = since(context.get("due"), sent_on)
    variables.update(
        kind=kind,
        recipient=recipient,
        role=role,
        link=link,
        sent_on=sent_on,
        headline=headline,
        subject=header_safe(subject),
        tag=tag,
        tag_label=TAGS[tag],
        button=(spec.button_for or {}).get(role or "", spec.button),
        why=why(role, context, reader, digest=digest, remedial=my_remedial, acting=acting),
        my_remedial=my_remedial,
        bounced_label=_bounced_label(context.get("bounced_kind")),
        unreachable_who=who_bounced,
        unreachable_owner=owner_bounced,
        about=about,
        situation=situation(about, context, sent_on),
        do_now=do_now(about),
        board_options=board_options(about, context),
        next_step=next_step(kind, context),
        next_steps=next_steps(kind, context),
        ladder_note=ladder_note(context),
        since_due=since_due,
        since_cascade_by=since(context.get("cascade_by"), sent_on),
        since_deadline=since(context.get("deadline"), sent_on),
        gap_groups=gap_groups(context.get("gaps") or ()),
        my_remedial_due=min(
            (str(a["due"]) for a in context.get("remedial_actions") or () if str(a["action_id"]) in my_remedial),
            default="",
        ),
        due_passed=bool(since_due),
        deadline_text=uk_day(context["deadline"]) if context.get("deadline") else "",
        digest_items=items,
        refs=refs,
        **cascade_facts(context, reader),
    )
    env = environment()
    text = env.get_template(f"{kind}.txt").render(variables)
    html = env.get_template(f"{kind}.html").render(variables)
    return RenderedEmail(subject=variables["subject"], text=_tidy(text), html=_tidy(html))


def render_sign_in(*, recipient: str, link: str, minutes: int) -> RenderedEmail:
    """The dashboard's one-time sign-in email: not about any recommendation, so it has no ref."""
    checked = _checked_link(link)
    subject = "Your link to sign in to Assure"
    variables: dict[str, Any] = {
        "kind": "sign_in", "recipient": recipient, "link": checked, "minutes": minutes,
        "subject": subject, "headline": subject, "tag": "info", "tag_label": TAGS["info"],
        "button": "Sign in to Assure",
        "why": f"Someone asked on the Assure sign-in page for a link for {recipient}.",
        "deadline_text": "", "ladder_note": "", "next_steps": ("", []), "digest_items": [], "refs": [],
    }  # fmt: skip
    env = environment()
    text = env.get_template("sign_in.txt").render(variables)
    html = env.get_template("sign_in.html").render(variables)
    return RenderedEmail(subject=subject, text=_tidy(text), html=_tidy(html))


def render_standalone(
    kind: str, context: Mapping[str, Any], *, recipient: str, role: str, link: str, sent_on: date, headline: str,
    subject: str, tag: str, button: str, why: str, sentences: Callable[[Mapping[str, Any]], Mapping[str, Any]],
    **extra: Any,
) -> RenderedEmail:  # fmt: skip
    """A message that is not about a recommendation (a review's clock, an agency's return) in both
    parts, on the shared base with its recommendation-only parts left empty; ``sentences`` makes
    what it asks and says will happen from the variables, the same in both parts."""
    variables: dict[str, Any] = {
        **context, "kind": kind, "recipient": recipient, "role": role, "link": _checked_link(link),
        "sent_on": sent_on, "headline": headline, "subject": subject, "tag": tag, "tag_label": TAGS[tag],
        "button": button, "why": why, "deadline_text": "", "ladder_note": "", "next_steps": ("", []),
        "digest_items": [], **extra,
    }  # fmt: skip
    variables.update(sentences(variables))
    env = environment()
    text = env.get_template(f"{kind}.txt").render(variables)
    html = env.get_template(f"{kind}.html").render(variables)
    return RenderedEmail(subject=subject, text=_tidy(text), html=_tidy(html))
