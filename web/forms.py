"""Turn a posted response-page form into a decision payload, or into messages per form field.

The payload types in ``models.payloads`` stay the only validation of content: this module only
reshapes form fields (a date in three boxes, a list one item per line, repeated action rows) into
the payload's shape, and maps the payload's errors back onto the fields the person typed in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from gateway.reviews import parse_milestone
from gateway.workflows import DecisionNotTaken, parse_decision
from models.days import EARLIEST_DAY, LATEST_DAY
from models.figures import FigureError, parse_figure
from models.lifecycle import RULE_NAMED, Scope
from models.measure_decisions import measure_spec_problem
from models.payloads import MeasureSpec
from models.wording import with_uk_dates

# Dates before this or after that are typing mistakes, whatever the rules say about the future:
# the one date rule (models.days), said here in the words of a form.
EARLIEST_YEAR = EARLIEST_DAY.year
LATEST_YEAR = LATEST_DAY.year
MAX_ACTION_ROWS = 20
ACTION_ROW_FIELDS = ("action_id", "description", "agency", "owner", "due", "success_measure")
# The plans' cascade: one row per agency (a partnership has a dozen or two).
MAX_CASCADE_ROWS = 30
CASCADE_ROW_FIELDS = ("agency", "lead", "staff_group", "expected_reach")
# Fields of the plans form, and where each sits in the submit_plans payload.
DISSEMINATION_FIELDS = {"audiences": "audiences", "channels": "channels", "socialisation": "socialisation",
                        "plan_owner": "owner", "starts": "starts", "ends": "ends"}  # fmt: skip
AUDIT_FIELDS = {
    "method": "method",
    "auditor": "auditor",
    "audit_on": "audit_on",
    "success_measures": "success_measures",
    "measures": "measures",  # the impact measures the audit weighs: boxes ticked, one id per line
}
LIST_FIELDS = {"audiences", "channels", "success_measures", "measures"}
# The add_measures form: one measure per submission, its fields named as the payload's.
MEASURE_FIELDS = ("measure_id", "name", "unit", "direction", "baseline", "baseline_on", "target", "target_by",
                  "reporter", "every")  # fmt: skip
MEASURE_DATE_FIELDS = ("baseline_on", "target_by")
MEASURE_FIGURE_FIELDS = ("baseline", "target")
PLAIN_FIELDS = {
    "acknowledge": (),
    "report_progress": ("note",),
    "request_extension": ("reason",),
    "decide_extension": ("note",),
    "complete_action": ("evidence",),
    "reassign_owner": ("new_owner", "reason"),
    "sign_off": ("note",),
    "record_audit": ("outcome", "findings", "off_track_reason"),
    "decline": ("reason",),
    "withdraw": ("reason",),
    "change_due_date": ("reason",),
    "remind_owner": ("note",),
    "record_board_decision": ("decision",),
    "confirm_cascade": ("agency", "note"),
    "record_reading": ("measure_id", "note"),
}
# The decisions about the whole recommendation rather than one action, in the order pages show them.
WHOLE_DECISIONS = ("agree_actions", "add_actions", "add_measures", "record_reading", "submit_plans", "sign_off",
                   "record_audit", "decline", "withdraw")  # fmt: skip
# Friendlier words for pydantic's messages about empty or over-long text.
_MESSAGES = [
    (re.compile(r"^String should have at least 1 character"), "Enter {label}"),
    (re.compile(r"^Field required"), "Enter {label}"),
    (re.compile(r"^String should have at most (\d+) characters?"), "{Label} must be {0} characters or fewer"),
    (re.compile(r"^List should have at most (\d+) items?"), "{Label} can have at most {0} entries"),
    (re.compile(r"^Input should be 'embedded', 'partially_embedded' or 'not_embedded'"), "Choose the audit's outcome"),
    (re.compile(r"^Input should be greater than or equal to (\d+)"), "{Label} must be {0} or more"),
    (re.compile(r"^Input should be less than or equal to (\d+)"), "{Label} must be {0} or less"),
    (
        re.compile(r"^String should match pattern"),
        "{Label} must start with a letter or a number, then use only letters, numbers, dots or dashes",
    ),
    (re.compile(r"^Input should be 'percent'"), "Choose what kind of figure the measure is"),
    (re.compile(r"^Input should be 'up' or 'down'"), "Choose which way the measure should go"),
    (re.compile(r"^Input should be 'notified', 'decided'"), "Choose the milestone reached"),
    (re.compile(r"^Value error, (.*)$"), "{0}"),
]
LABELS = {
    "note": "a note",
    "reason": "the reason",
    "evidence": "the evidence",
    "new_owner": "the new owner's email address",
    "new_due": "the new due date",
    "approve": "your decision",
    "findings": "the findings",
    "outcome": "the audit's outcome",
    "re_audit_on": "the re-audit date",
    "audiences": "the audiences",
    "channels": "the channels",
    "socialisation": "how the learning will be socialised",
    "plan_owner": "who owns the dissemination plan",
    "starts": "the start date",
    "ends": "the end date",
    "method": "the audit method",
    "auditor": "the auditor",
    "audit_on": "the audit date",
    "success_measures": "the success measures",
    "action_id": "an action id",
    "description": "a description",
    "agency": "the agency",
    "owner": "the owner's email address",
    "due": "the due date",
    "success_measure": "a success measure",
    "actions": "at least one action",
    "decision": "what the board decided",
    "early_reason": "why the audit is recorded early",
    "early_confirmed": "that this audit is early",
    "lead": "the lead's work email address",
    "staff_group": "the staff group",
    "expected_reach": "the number of staff to reach",
    "cascade": "the agencies of the cascade",
    "cascade_by": "the date every agency confirms by",
    "reach_threshold": "the reach threshold",
    "reached": "how many staff were reached",
    "done_on": "the day it was done",
    "measures": "the impact measures",
    "measure_id": "the measure's id",
    "name": "the measure's name",
    "unit": "what kind of figure it is",
    "direction": "which way it should go",
    "baseline": "the baseline",
    "baseline_on": "the date of the baseline",
    "target": "the target",
    "target_by": "the target date",
    "reporter": "the reporter's work email address",
    "every": "how often it is read",
    "value": "the figure",
    "on": "the date of the reading",
    "off_track_reason": "why the change is embedded although a measure is off track",
    "milestone": "the milestone reached",
    "reached_on": "the day it was reached",
}
# The milestone form's fields by the payload's (``RecordReviewMilestoneInput``): its day is
# ``reached_on``, as ``on`` is a reading's.
MILESTONE_FIELDS = {"milestone": "milestone", "on": "reached_on", "note": "note"}


@dataclass
class ParsedForm:
    """The payload to send, or the problems found, keyed by form field name (in page order)."""

    payload: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def read_date(form: Mapping[str, str], name: str, *, required: bool) -> tuple[date | None, str | None]:
    """A date from the three boxes ``<name>-day``, ``-month``, ``-year``: (date, None) or (None, problem)."""
    parts = {part: (form.get(f"{name}-{part}") or "").strip() for part in ("day", "month", "year")}
    label = LABELS.get(name, "the date")
    if not any(parts.values()):
        return None, (f"Enter {label}" if required else None)
    missing = [part for part, value in parts.items() if not value]
    if missing:
        return None, f"{label.capitalize()} must include a {' and a '.join(missing)}"
    if not all(value.isascii() and value.isdigit() and len(value) <= 4 for value in parts.values()):
        return None, f"{label.capitalize()} must be written in numbers, like 27 3 2027"
    day, month, year = (int(parts[p]) for p in ("day", "month", "year"))
    if not EARLIEST_YEAR <= year <= LATEST_YEAR:
        return None, f"{label.capitalize()} must have a year between {EARLIEST_YEAR} and {LATEST_YEAR}, like 2027"
    try:
        return date(year, month, day), None
    except ValueError:
        return None, f"{label.capitalize()} must be a real date"


def _lines(value: str | None) -> list[str]:
    return [line.strip() for line in (value or "").splitlines() if line.strip()]


def row_count(form: Mapping[str, str], name: str = "rows", most: int = MAX_ACTION_ROWS) -> int:
    """How many repeated rows the form showed (at least one, at most ``most``): action rows by
    default, or the cascade's (``cascade_rows``)."""
    raw = (form.get(name) or "1").strip()
    return min(max(int(raw), 1), most) if raw.isascii() and raw.isdigit() and len(raw) <= 3 else 1


def cascade_row_count(form: Mapping[str, str]) -> int:
    return row_count(form, "cascade_rows", MAX_CASCADE_ROWS)


def read_count(form: Mapping[str, str], name: str, *, required: bool) -> tuple[int | None, str | None]:
    """A whole number typed in box ``name``: (number, None), (None, None) when left empty and
    not required, or (None, problem). Its range is the payload's to check."""
    raw = (form.get(name) or "").strip().replace(",", "")
    label = LABELS.get(name.rsplit("-", 1)[-1], "the number")
    if not raw:
        return None, (f"Enter {label}" if required else None)
    digits = raw.removeprefix("-")
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 9:
        return None, f"{label[0].upper()}{label[1:]} must be a whole number, like 120"
    return int(raw), None


def read_figure(form: Mapping[str, str], name: str, *, required: bool) -> tuple[float | None, str | None]:
    """A figure typed in box ``name`` (a measure's baseline, target or reading: 72, 72.5, 1,200):
    (figure, None), (None, None) when left empty and not required, or (None, problem). Whether it
    fits its unit is the payload's and the workflow's to say (``models.payloads.unit_value_problem``)."""
    raw = (form.get(name) or "").strip()
    label = LABELS.get(name, "the figure")
    if not raw:
        return None, (f"Enter {label}" if required else None)
    try:
        # The page does not know the unit until the measure is chosen: a % sign is let through,
        # and the figure's range is the unit's rule, in the workflow.
        return parse_figure(raw, percent_sign=True), None
    except FigureError as exc:
        return None, f"{label[0].upper()}{label[1:]}: {exc}"


def _action_rows(form: Mapping[str, str], parsed: ParsedForm) -> list[dict[str, Any]]:
    rows = []
    for index in range(row_count(form)):
        prefix = f"actions-{index}"
        values = {name: (form.get(f"{prefix}-{name}") or "").strip() for name in ACTION_ROW_FIELDS if name != "due"}
        date_typed = any((form.get(f"{prefix}-due-{part}") or "").strip() for part in ("day", "month", "year"))
        if not any(values.values()) and not date_typed:
            continue  # a blank spare row
        due, problem = read_date(form, f"{prefix}-due", required=True)
        if problem:
            parsed.errors[f"{prefix}-due"] = problem.replace(f"{prefix}-due", "the due date")
        rows.append({**values, "due": due})
    return rows


def parse_form(name: str, form: Mapping[str, str], *, by: str, today: date | None = None) -> ParsedForm:
    """Reshape ``form`` for decision ``name`` and validate it with the decision's payload type
    (and a new measure with ``models.measure_decisions``' rule for ``today``, when given)."""
    parsed = ParsedForm()
    payload: dict[str, Any] = {"by": by}
    # Whether the decision names an action is the decision table's to say.
    rule = RULE_NAMED.get(name)
    if rule is not None and rule.scope is Scope.either:
        payload["action_id"] = (form.get("action_id") or "").strip() or None
    elif rule is None or rule.scope is Scope.action:
        payload["action_id"] = (form.get("action_id") or "").strip()
    for plain in PLAIN_FIELDS.get(name, ()):
        payload[plain] = (form.get(plain) or "").strip()
    if name in {"request_extension", "change_due_date"}:
        payload["new_due"], problem = read_date(form, "new_due", required=True)
        if problem:
            parsed.errors["new_due"] = problem
    elif name == "decide_extension":
        choice = form.get("approve")
        if choice not in {"yes", "no"}:
            parsed.errors["approve"] = "Choose whether to agree the new date"
        payload["approve"] = choice == "yes"
    elif name == "submit_plans":
        dissemination: dict[str, Any] = {}
        audit: dict[str, Any] = {}
        for fields, target in ((DISSEMINATION_FIELDS, dissemination), (AUDIT_FIELDS, audit)):
            for form_name, key in fields.items():
                if form_name in {"starts", "ends", "audit_on"}:
                    target[key], problem = read_date(form, form_name, required=False)
                    if problem:
                        parsed.errors[form_name] = problem
                elif form_name in LIST_FIELDS:
                    target[key] = _lines(form.get(form_name))
                else:
                    target[key] = (form.get(form_name) or "").strip()
        _cascade_plan(form, dissemination, parsed)
        payload["dissemination"], payload["audit"] = dissemination, audit
    elif name == "confirm_cascade":
        payload["reached"], problem = read_count(form, "reached", required=True)
        if problem:
            parsed.errors["reached"] = problem
        payload["channels"] = _lines(form.get("channels")) + _lines(form.get("channels_other"))
        payload["done_on"], problem = read_date(form, "done_on", required=True)
        if problem:
            parsed.errors["done_on"] = problem
    elif name in {"agree_actions", "add_actions"}:
        payload["actions"] = _action_rows(form, parsed)
    elif name == "record_audit":
        payload["remedial_actions"] = _action_rows(form, parsed)
        payload["re_audit_on"], problem = read_date(form, "re_audit_on", required=False)
        if problem:
            parsed.errors["re_audit_on"] = problem
        if not payload["outcome"]:
            parsed.errors["outcome"] = "Choose the audit's outcome"
        _early_audit(form, payload, parsed)
    elif name == "record_reading":
        _reading(form, payload, parsed)
    elif name == "add_measures":
        payload["measures"] = [_measure(form, parsed)]
    if parsed.errors:
        return parsed
    try:
        decision = parse_decision(name, payload)
    except DecisionNotTaken as exc:
        for where, message in exc.fields.items():
            form_name, message = _measure_problem(message, payload) if where == "measures.0" else (where, message)
            form_name = form_field_of(form_name)
            parsed.errors.setdefault(form_name, friendly(message, form_name))
        if name == "add_measures":
            _ask_for_empty(parsed, payload["measures"][0])
        return parsed
    if name == "add_measures" and today is not None:
        # The one rule for a measure agreed today (a baseline not yet measured), at its field.
        [spec] = payload["measures"]
        problem = measure_spec_problem(MeasureSpec.model_validate(spec), today)
        if problem:
            parsed.errors["baseline_on"] = _form_words(problem.split(": ", 1)[-1])
            return parsed
    parsed.payload = decision.model_dump(mode="json")
    return parsed


def parse_milestone_form(form: Mapping[str, str], *, by: str) -> ParsedForm:
    """A review's milestone form as the ``record_review_milestone`` payload, checked by the one
    rule the API's is (``gateway.reviews.parse_milestone``), or its problems at their fields."""
    parsed = ParsedForm()
    payload: dict[str, Any] = {"by": by, "milestone": (form.get("milestone") or "").strip()}
    payload["on"], problem = read_date(form, "reached_on", required=True)
    if problem:
        parsed.errors["reached_on"] = problem
    payload["note"] = (form.get("note") or "").strip()
    try:
        decision = parse_milestone(payload)
    except DecisionNotTaken as exc:
        for where, message in exc.fields.items():
            name = MILESTONE_FIELDS.get(where.split(".")[0], where)
            if name == "reached_on" and name in parsed.errors:
                continue  # the boxes' own problem says it better than "on: ... None"
            parsed.errors.setdefault(name, friendly(message, name))
    else:
        if not parsed.errors:
            parsed.payload = decision.model_dump(mode="json")
    # In the form's order, as the error summary lists them.
    order = [*MILESTONE_FIELDS.values(), *parsed.errors]
    parsed.errors = {name: parsed.errors[name] for name in dict.fromkeys(order) if name in parsed.errors}
    return parsed


def _reading(form: Mapping[str, str], payload: dict[str, Any], parsed: ParsedForm) -> None:
    """A reading: which measure (chosen from those offered), the figure and its day."""
    if not payload["measure_id"]:
        parsed.errors["measure_id"] = "Choose the measure the reading is for"
    payload["value"], problem = read_figure(form, "value", required=True)
    if problem:
        parsed.errors["value"] = problem
    payload["on"], problem = read_date(form, "on", required=True)
    if problem:
        parsed.errors["on"] = problem


def _measure(form: Mapping[str, str], parsed: ParsedForm) -> dict[str, Any]:
    """One new measure from its fields; a baseline or target left empty is one not known yet."""
    spec: dict[str, Any] = {}
    for field_name in MEASURE_FIELDS:
        if field_name in MEASURE_DATE_FIELDS:
            spec[field_name], problem = read_date(form, field_name, required=False)
        elif field_name in MEASURE_FIGURE_FIELDS:
            spec[field_name], problem = read_figure(form, field_name, required=False)
        else:
            spec[field_name], problem = (form.get(field_name) or "").strip(), None
        if problem:
            parsed.errors[field_name] = problem
    if not spec["every"]:
        del spec["every"]  # the payload's default: a reading each quarter
    return spec


def _ask_for_empty(parsed: ParsedForm, spec: dict[str, Any]) -> None:
    """A field of a new measure left empty is asked for, rather than called mistyped."""
    for field_name in ("measure_id", "reporter"):
        if field_name in parsed.errors and not spec[field_name]:
            parsed.errors[field_name] = f"Enter {LABELS[field_name]}"


def _measure_problem(message: str, payload: dict[str, Any]) -> tuple[str, str]:
    """Where a new measure's own rule (``MeasureSpec``, which judges its fields together) puts its
    problem on the form, and the problem in the form's words."""
    text = message.removeprefix("Value error, ")
    [spec] = payload["measures"]
    if text.startswith("give the baseline"):
        where = "baseline_on" if spec.get("baseline") is not None else "baseline"
        return where, "Enter the baseline and the date it was measured, or leave both empty"
    if text.startswith("give the target"):
        where = "target_by" if spec.get("target") is not None else "target"
        return where, "Enter the target and the date it is to be reached by, or leave both empty"
    if text.startswith("target_by"):
        return "target_by", "The target date must be after the date of the baseline"
    if text.startswith("every"):
        return "every", "Choose how often the measure is read"
    for where in ("baseline", "target"):
        if text.startswith((f"{where}:", f"the {where}")):
            return where, _form_words(text.removeprefix(f"{where}: "))
    return "measure_id", _form_words(text)


def _form_words(text: str) -> str:
    """A rule's message as a form says it: capitalised, its dates written the British way."""
    text = with_uk_dates(text)
    return text[:1].upper() + text[1:]


def _cascade_plan(form: Mapping[str, str], dissemination: dict[str, Any], parsed: ParsedForm) -> None:
    """The plan's cascade from its rows (a blank row is a spare), its date and its threshold."""
    steps = []
    for index in range(cascade_row_count(form)):
        prefix = f"cascade-{index}"
        values = {name: (form.get(f"{prefix}-{name}") or "").strip() for name in CASCADE_ROW_FIELDS}
        if not any(values.values()):
            continue
        reach, problem = read_count(form, f"{prefix}-expected_reach", required=False)
        if problem:
            parsed.errors[f"{prefix}-expected_reach"] = problem
        # No lead named: the agency's safeguarding lead, as the registry has them when asked.
        steps.append({**values, "lead": values["lead"] or None, "expected_reach": reach or 0})
    dissemination["cascade"] = steps
    dissemination["cascade_by"], problem = read_date(form, "cascade_by", required=False)
    if problem:
        parsed.errors["cascade_by"] = problem
    threshold, problem = read_count(form, "reach_threshold", required=False)
    if problem:
        parsed.errors["reach_threshold"] = problem
    elif threshold is not None:
        dissemination["reach_threshold"] = threshold


def _early_audit(form: Mapping[str, str], payload: dict[str, Any], parsed: ParsedForm) -> None:
    """An audit before its planned date: the page asked (``early_asked``), so the box must be
    ticked and the reason given; the reason goes in the payload, for the timeline."""
    if not form.get("early_asked"):
        return
    reason = (form.get("early_reason") or "").strip()
    if form.get("early_confirmed") != "yes":
        parsed.errors["early_confirmed"] = "Confirm that this audit is early, or record it on or after its date"
    elif not reason:
        parsed.errors["early_reason"] = "Enter why the audit is recorded before its date"
    payload["early_reason"] = reason


def form_field_of(location: str) -> str:
    """The form field for a payload error location such as ``actions.0.due`` or ``audit.method``."""
    parts = location.split(".")
    if parts[0] in {"actions", "remedial_actions"}:
        if len(parts) >= 3 and parts[1].isdigit():
            return f"actions-{parts[1]}-{parts[2]}"
        return "actions"
    if parts[:2] == ["dissemination", "cascade"]:
        if len(parts) >= 4 and parts[2].isdigit():
            return f"cascade-{parts[2]}-{parts[3]}"
        return "cascade"
    if parts[0] == "dissemination" and len(parts) > 1:
        return {key: name for name, key in DISSEMINATION_FIELDS.items()}.get(parts[1], parts[1])
    if parts[0] == "audit" and len(parts) > 1:
        return parts[1]
    if parts[0] == "measures":
        # One measure per form: its fields are the form's own.
        return parts[2] if len(parts) >= 3 and parts[1].isdigit() else "measure_id"
    if location.startswith("measure ") and location.endswith(": reporter"):
        return "reporter"  # the registry's refusal of a reporter (``models.people``)
    return parts[0]


def friendly(message: str, form_name: str) -> str:
    """Pydantic's message in the words of a form, naming the field."""
    label = LABELS.get(form_name.rsplit("-", 1)[-1], "this")
    for pattern, template in _MESSAGES:
        match = pattern.match(message)
        if match:
            text = template.format(*match.groups(), label=label, Label=label[0].upper() + label[1:])
            return text[0].upper() + text[1:]
    return message[0].upper() + message[1:] if message else message
