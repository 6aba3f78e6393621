"""One recommendation as a page, with the forms its reader may use now: shared by the response
pages (opened from an emailed link) and the dashboard (signed in).

Which forms appear is exactly what the workflow's ``reader`` query says this person may decide
now (the validators' own "who may decide" checks): the pages keep no table of their own. The way
in decides only whose page it is and, for an owner's link, that it shows their own actions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import structlog
from fastapi import Request
from fastapi.responses import Response
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from gateway.workflows import DecisionNotTaken, UnknownRecommendation, decide, recommendation_status
from models.kinds import Role
from models.measures import UNIT_SUFFIX, dated_figure, with_unit
from models.payloads import (
    CASCADE_OPEN_STAGES,
    CLOSED_STAGES,
    DEFAULT_REACH_THRESHOLD,
    DEFAULT_READING_EVERY,
    ActionView,
    CascadeStatus,
    CascadeView,
    EscalationLevel,
    MeasureTrack,
    MeasureView,
    RecommendationStatus,
    unit_value_problem,
)
from models.permissions import Reader
from models.rules import highest
from reports.measure_chart import measure_chart_svg, measure_rows
from store.cascade import agency_names
from store.db import session_scope
from web import wording
from web.context import WebContext
from web.forms import (
    MAX_ACTION_ROWS,
    MAX_CASCADE_ROWS,
    WHOLE_DECISIONS,
    cascade_row_count,
    form_field_of,
    friendly,
    parse_form,
    row_count,
)

log = structlog.get_logger(__name__)

# Decisions taken on one action, whose forms sit with that action.
ACTION_DECISIONS = ("acknowledge", "report_progress", "request_extension", "complete_action", "decide_extension",
                    "reassign_owner", "change_due_date", "remind_owner")  # fmt: skip


@dataclass
class FormView:
    """One form on the page: where it posts, and, if it was just posted and refused, what was typed
    and what was wrong, so that the page shows it again beside the form."""

    decision: str
    action_id: str | None = None
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    refusal: str | None = None
    gaps: list[str] = field(default_factory=list)
    rows: int = 1
    cascade_rows: int = 1  # the plans form's rows of cascade agencies
    agency: str | None = None  # the agency a cascade confirmation is for: one form per agency
    status_code: int = 200  # of the page that shows it again
    posted: bool = False  # shown again after a post ("add another row" too): a closed form opens

    @property
    def id(self) -> str:
        if self.agency:
            return f"{self.decision}-{agency_slug(self.agency)}"
        return f"{self.decision}-{self.action_id}" if self.action_id else self.decision

    @property
    def failed(self) -> bool:
        return bool(self.errors or self.refusal)

    def value(self, name: str) -> str:
        return self.values.get(name, "")

    def error(self, name: str) -> dict[str, str] | None:
        message = self.errors.get(name)
        return {"text": message} if message else None

    def dom_id(self, name: str) -> str:
        """The element a message about ``name`` links to from the error summary."""
        if name in DATE_FIELDS or name.endswith("-due"):
            return f"{self.id}-{name}-day"
        if name == "actions":
            return f"{self.id}-actions-0-action_id"
        if name == "cascade":
            return f"{self.id}-cascade-0-agency"
        if name in FIRST_BOX:
            return f"{self.id}-{FIRST_BOX[name]}"  # GOV.UK gives the first box the group's own id
        return f"{self.id}-{name}"


# The fields typed in three date boxes: a message about one links to its day box.
DATE_FIELDS = frozenset({"new_due", "starts", "ends", "audit_on", "re_audit_on", "cascade_by", "done_on", "on",
                         "baseline_on", "target_by"})  # fmt: skip
# Boxes to tick and radios: a message about one links to its first box.
FIRST_BOX = {"measures": "measures", "unit": "unit", "direction": "direction"}


def agency_slug(agency: str) -> str:
    """An agency's name as a piece of an element id: ``BLMK Integrated Care Board`` ->
    ``blmk-integrated-care-board``."""
    return re.sub(r"[^a-z0-9]+", "-", agency.lower()).strip("-") or "agency"


@dataclass
class PageParts:
    """Who is looking at which recommendation, and where its forms post."""

    status: RecommendationStatus
    reader: Reader
    person: str
    own_view: bool  # an owner's link: only their own actions
    post_base: str  # forms post to f"{post_base}/{decision}"
    csrf_token: str


def involved(status: RecommendationStatus) -> tuple[set[str], set[str]]:
    """The people and agencies through whom someone may see a recommendation (``store.access``):
    its actions' owners and agencies, its cascade's leads and agencies, and its measures' reporters."""
    owners = {a.owner for a in status.actions} | {c.lead for c in status.cascade if c.lead}
    owners |= {m.reporter for m in status.measures}
    agencies = {a.agency for a in status.actions} | {c.agency for c in status.cascade}
    return owners, agencies


def offered(reader: Reader, decision: str, action_id: str | None) -> bool:
    """Whether ``decision`` (on ``action_id``, when a form names one) is among what the workflow's
    ``reader`` query says this person may decide now: the edge's check, before the Update's own."""
    return any(d.name == decision and (action_id is None or d.action_id == action_id) for d in reader.decisions)


async def recommendation_page(
    ctx: WebContext,
    request: Request,
    template: str,
    parts: PageParts,
    extra: dict[str, Any],
    *,
    done: str | None = None,
    failed: FormView | None = None,
    status_code: int = 200,
) -> Response:
    status = parts.status
    open_decisions = parts.reader.decisions
    plans_offered = offered(parts.reader, "submit_plans", None) or bool(failed and failed.decision == "submit_plans")
    # The registry's agencies for the plans' cascade rows: asked only when the form is shown.
    agencies = await run_in_threadpool(_agency_names, ctx.settings.database_url) if plans_offered else []

    def form(decision: str, action_id: str | None = None) -> FormView | None:
        """The form for a decision, if this person may take it now; the refused one keeps its input."""
        if not any(d.name == decision and d.action_id == action_id for d in open_decisions):
            if not (failed and failed.decision == decision and failed.action_id == action_id):
                return None
        if failed and failed.decision == decision and failed.action_id == action_id:
            return failed
        return FormView(decision=decision, action_id=action_id, values=_preset(decision, status, parts))

    person = parts.person.lower()
    mine = [a for a in status.actions if a.owner.lower() == person]
    shown = mine if parts.own_view else status.actions
    today = status.as_of.date()
    actions = [_action_context(a, form, reader_is_owner=a.owner.lower() == person, today=today) for a in shown]
    level = highest([a.escalation_level for a in mine]) if parts.own_view else status.escalation_level
    context: dict[str, Any] = {
        **extra,
        "status": status,
        "post_base": parts.post_base,
        "csrf_token": parts.csrf_token,
        "actions": actions,
        "own_view": parts.own_view,
        "done_message": wording.DECISION_DONE.get(done or ""),
        "failed": failed,
        "error_list": _error_list(failed),
        "stage_label": wording.STAGES[status.stage.value],
        "stage_meaning": wording.STAGE_MEANING[status.stage],
        # An owner hears about their own actions: another owner's lateness is not theirs.
        "level_words": wording.LEVEL_WORDS[level],
        "escalated": level is not EscalationLevel.none,
        "deadline_phrase": wording.deadline_phrase(status, mine if parts.own_view else None),
        "source_phrase": wording.source_phrase(status),
        "plan_gaps": status.plan_gaps,
        "forms": {name: form(name) for name in WHOLE_DECISIONS},
        "cascade_forms": cascade_forms(status, parts.reader, failed),
        "cascade": cascade_table(status),
        "registry_agencies": agencies,
        "plan_channels": plan_channels(status),
        "max_cascade_rows": MAX_CASCADE_ROWS,
        # One form for the board's decision, about the whole recommendation or one of its actions.
        "board_decision": _board_decision_form(open_decisions, failed),
        "early_audit_planned": _early_audit_planned(status),
        "measures": measure_cards(status, person),
        "off_track": [v for v in status.measures if v.on_track is MeasureTrack.off_track],
        "reading_choices": reading_choices(status, parts.reader),
        "plan_measures": [(v.measure_id, f"{v.measure_id}: {v.name}") for v in status.measures],
        "unit_choices": UNIT_CHOICES,
        "every_choices": EVERY_CHOICES,
        "closed": status.stage.value in {"assured", "declined", "withdrawn"},
        "max_rows": MAX_ACTION_ROWS,
    }
    return ctx.page(request, template, context, status_code=status_code, error=bool(failed and failed.failed))


def _preset(decision: str, status: RecommendationStatus, parts: PageParts) -> dict[str, str]:
    """What a fresh form starts with: the plans' reach threshold at the plan's default and the
    audit's measures ticked (those already planned, else every one with a baseline and a target);
    a reading for the measure whose reading is owed first; a new measure read each quarter."""
    if decision == "submit_plans":
        planned = status.audit_plan.measures if status.audit_plan and status.audit_plan.measures else None
        weighable = [v.measure_id for v in status.measures if v.baseline is not None and v.target is not None]
        ticked = planned if planned is not None else weighable
        return {"reach_threshold": str(DEFAULT_REACH_THRESHOLD), "measures": "\n".join(ticked)}
    if decision == "record_reading":
        choices = reading_choices(status, parts.reader)
        return {"measure_id": choices[0].measure_id} if choices else {}
    if decision == "add_measures":
        return {"every": DEFAULT_READING_EVERY}
    return {}


def _error_list(failed: FormView | None) -> list[dict[str, str]]:
    """The error summary's items: each field's message, or the refusal and each gap it names."""
    if failed is None or not failed.failed:
        return []
    if failed.errors:
        return [{"text": message, "href": "#" + failed.dom_id(name)} for name, message in failed.errors.items()]
    target = f"#{failed.id}-refusal"
    return [
        {"text": failed.refusal or "", "href": target},
        *({"text": gap[:1].upper() + gap[1:], "href": target} for gap in failed.gaps),
    ]


@dataclass
class BoardDecisionForm:
    """The board's decision form: which actions it may be about, and whether the whole recommendation."""

    view: FormView
    action_ids: list[str]
    whole: bool


def _board_decision_form(open_decisions: list[Any], failed: FormView | None) -> BoardDecisionForm | None:
    offered = [d.action_id for d in open_decisions if d.name == "record_board_decision"]
    again = failed if failed and failed.decision == "record_board_decision" else None
    if not offered and again is None:
        return None
    view = again or FormView(decision="record_board_decision")
    return BoardDecisionForm(view=view, action_ids=[a for a in offered if a], whole=None in offered)


def _early_audit_planned(status: RecommendationStatus) -> date | None:
    """The audit's planned date while it is still ahead: the audit form then asks to confirm it is early."""
    planned = None
    # The audit may be recorded from sign-off on, while the cascade is still coming in.
    if status.stage.value in {"cascade", "audit"} and status.audit_plan is not None:
        planned = status.audit_plan.audit_on
    elif status.stage.value == "re_audit" and status.audits:
        planned = status.audits[-1].re_audit_on
    return planned if planned is not None and status.as_of.date() < planned else None


def _action_context(
    action: ActionView, form: Callable[[str, str | None], FormView | None], *, reader_is_owner: bool, today: date
) -> dict[str, Any]:
    label, colour = wording.action_state(action, reader_is_owner=reader_is_owner, today=today)
    return {
        "view": action,
        "state_label": label,
        "state_colour": colour,
        "level_words": wording.LEVEL_WORDS[action.escalation_level],
        "reader_is_owner": reader_is_owner,
        "forms": {name: form(name, action.action_id) for name in ACTION_DECISIONS},
        "latest_progress": action.progress[-1] if action.progress else None,
    }


def form_fields(form: FormData) -> dict[str, str]:
    """The posted fields, one string each; a field sent more than once (ticked checkboxes) is its
    values one per line, as a list field is typed."""
    return {key: "\n".join(str(v) for v in form.getlist(key)) for key in form if key != "csrf_token"}


def plain_refusal(refused: DecisionNotTaken) -> str:
    message = refused.message
    if refused.type == "SignOffRefused" and refused.gaps:
        return "The Assurance Board cannot sign off yet, because the plans have gaps:"
    message = wording.with_uk_dates(message)  # "already due on 2026-12-31" as a reader writes it
    if not message:
        return "This could not be done."
    # Capitalised, unless it starts with an email address (``WrongPerson`` names who asked).
    return message if "@" in message.split(" ", 1)[0] else message[0].upper() + message[1:]


async def submit_form(ctx: WebContext, ref: str, decision: str, form: FormData, *, by: str) -> FormView | None:
    """Take ``decision`` from a posted form as ``by``: None when the workflow took it, else the form
    to show again with what was typed and why not (its ``status_code`` says how it failed)."""
    fields = form_fields(form)
    # The board's decision is one form whose action is chosen in it: its id never names one.
    action_id = None if decision == "record_board_decision" else fields.get("action_id") or None
    view = FormView(decision=decision, action_id=action_id, values=fields, posted=True)
    view.rows = row_count(fields)
    view.cascade_rows = cascade_row_count(fields)
    if decision == "confirm_cascade":
        view.agency = fields.get("agency", "").strip()[:100] or None
    if "add_row" in fields:  # "Add another action": show one more row, take nothing yet
        view.rows = min(view.rows + 1, MAX_ACTION_ROWS)
        view.status_code = 200
        return view
    if "add_cascade_row" in fields:  # "Add another agency", the same way
        view.cascade_rows = min(view.cascade_rows + 1, MAX_CASCADE_ROWS)
        view.status_code = 200
        return view
    parsed = parse_form(decision, fields, by=by, today=ctx.london_today())
    if parsed.errors:
        view.errors, view.status_code = parsed.errors, 422
        return view
    try:
        await decide(ctx.client, ref, decision, parsed.payload, database_url=ctx.settings.database_url)
    except DecisionNotTaken as refused:
        log.info("decision_refused", ref=ref, decision=decision, type=refused.type)
        at, said = await _refused_field(ctx, ref, refused, parsed.payload)
        if at is not None:
            # A refusal about one thing typed (the figure, the day, the reason): beside that field.
            view.errors[at], view.status_code = said or plain_refusal(refused), 409
            return view
        if refused.fields:
            # Located (a person or an agency the registry does not have): beside the field.
            for where, message in refused.fields.items():
                name = form_field_of(where)
                view.errors.setdefault(name, friendly(message, name))
            # Well-formed, but in conflict with the registry: 409, as the API answers it.
            view.status_code = 409
            return view
        view.refusal, view.gaps, view.status_code = plain_refusal(refused), refused.gaps, 409
        return view
    except UnknownRecommendation:
        view.refusal, view.status_code = "This recommendation is not in Assure.", 404
        return view
    log.info("decision_taken", ref=ref, decision=decision)
    return None


# Refusals about one field of a form, by the workflow's refusal type: shown at that field.
REFUSED_AT = {"OffTrackMeasure": "off_track_reason", "UnknownMeasure": "measure_id"}


async def _refused_field(
    ctx: WebContext, ref: str, refused: DecisionNotTaken, payload: dict[str, Any]
) -> tuple[str | None, str | None]:
    """The form field a refusal is about (None for one about the decision as a whole), and, when
    the field says it better than the refusal, its words. A reading refused is about its figure
    when the figure does not fit the measure's unit (the payload's one range rule, whose words
    need not name the measure beside its own box), else about its day; a new measure refused is
    about its id, or its baseline's day."""
    if refused.type == "InvalidReading":
        status = await recommendation_status(ctx.client, ref)
        wanted = str(payload.get("measure_id", "")).casefold()
        measure = next((v for v in status.measures if v.measure_id.casefold() == wanted), None)
        misfit = unit_value_problem(measure.unit, float(payload["value"])) if measure is not None else None
        return ("value", misfit[:1].upper() + misfit[1:]) if misfit else ("on", None)
    if refused.type == "InvalidMeasure":
        return ("baseline_on" if "baseline" in refused.message else "measure_id"), None
    return REFUSED_AT.get(refused.type), None


# --- impact measures --------------------------------------------------------------------------

UNIT_CHOICES = [("percent", "A percentage", "Of cases, of staff, of children: between 0 and 100"),
                ("count", "A count", "A whole number of things: incidents, meetings, referrals"),
                ("days", "A number of days", "How long something takes, such as days to an initial plan"),
                ("rate", "A rate", "Per 1,000 children, per 100 incidents: say per what in the name")]  # fmt: skip
EVERY_CHOICES = [("P1M", "Every month"), ("P3M", "Every 3 months"), ("P6M", "Every 6 months"), ("P1Y", "Every year")]


@dataclass
class MeasureCard:
    """One measure as its card shows it: the figures in words, where it stands, its chart and the
    same figures as a table."""

    view: MeasureView
    slug: str  # for element ids
    track_label: str
    track_colour: str
    facts: list[tuple[str, str]]  # the summary list's rows: (what, in words)
    target_words: str  # "90% by 14 March 2024"
    latest_words: str  # the latest reading, against the line's figure on its day
    chart: Markup
    rows: list[dict[str, str]]


def measure_cards(status: RecommendationStatus, person: str) -> list[MeasureCard]:
    closed = status.stage in CLOSED_STAGES
    return [_measure_card(view, person, closed=closed, number=n) for n, view in enumerate(status.measures, 1)]


def _measure_card(view: MeasureView, person: str, *, closed: bool, number: int) -> MeasureCard:
    label, colour = wording.MEASURE_STATES[view.on_track]
    # The measure's place as well as its id: ids M.1 and M-1 would otherwise make one slug.
    slug = f"{number}-{agency_slug(view.measure_id)}"
    return MeasureCard(
        view=view,
        slug=slug,
        track_label=label,
        track_colour=colour,
        facts=measure_facts(view, person, closed=closed),
        target_words=target_words(view),
        latest_words=latest_reading_words(view),
        # The chart escapes every text it draws (``reports.measure_chart``): safe to place as it is.
        chart=Markup(measure_chart_svg(view, title_id=f"measure-{slug}-chart")),
        rows=measure_rows(view),
    )


def measure_facts(view: MeasureView, person: str, *, closed: bool) -> list[tuple[str, str]]:
    """A measure's figures in words, with their units: the baseline, the target, the latest
    reading against what the line to the target expected on its day, who reports it and when."""
    unit = view.unit.value
    baseline = dated_figure(view.baseline, unit, "on", view.baseline_on) or "Not measured yet"
    facts = [
        ("What is counted", f"{wording.UNIT_WORDS[unit]}. {wording.DIRECTION_WORDS[view.direction]}"),
        ("Baseline", baseline),
        ("Target", target_words(view)),
        ("Latest reading", latest_reading_words(view)),
        ("Reported by", "You" if view.reporter.lower() == person.lower() else view.reporter),
    ]
    when = wording.every_words(view.every).capitalize()
    if view.reading_due_on is not None:
        owed = "overdue since" if view.overdue else "next due"
        when += f"; {owed} {wording.uk_day(view.reading_due_on)}"
    elif not closed:
        # Readings are owed up to the one that says whether the target was reached (``models.measures``).
        when += " until the target date; none is owed now"
    facts.append(("Readings", when))
    return facts


def target_words(view: MeasureView) -> str:
    return dated_figure(view.target, view.unit.value, "by", view.target_by) or "Not set yet"


def latest_reading_words(view: MeasureView) -> str:
    """The latest reading and what the line from baseline to target expected on its day."""
    if not view.readings:
        return "None yet"
    unit = view.unit.value
    latest = view.readings[-1]
    said = dated_figure(latest.value, unit, "on", latest.on)
    if view.expected is not None:
        said += f" (the line to the target expected {with_unit(round(view.expected, 1), unit)})"
    return said


@dataclass
class ReadingChoice:
    """A measure this reader may record a reading of, as the form's list offers it."""

    measure_id: str
    text: str
    suffix: str  # the unit after the figure's box: "%", "days", or nothing


def reading_choices(status: RecommendationStatus, reader: Reader) -> list[ReadingChoice]:
    """The measures this reader may record a reading of now: their own, or every measure for a
    sponsor or an Assurance Board member, who records it on the reporter's behalf (the decision
    rule's own list, as for the cascade). The one whose reading is owed first comes first."""
    if not offered(reader, "record_reading", None):
        return []
    for_everyone = bool(ON_BEHALF_ROLES & set(reader.roles))
    person = reader.person.lower()
    theirs = [v for v in status.measures if for_everyone or v.reporter.lower() == person]
    theirs.sort(key=lambda v: (v.reading_due_on is None, v.reading_due_on or date.max))
    return [ReadingChoice(v.measure_id, f"{v.measure_id}: {v.name}", UNIT_SUFFIX[v.unit.value].strip()) for v in theirs]


# --- the cascade ----------------------------------------------------------------------------

# Who may record an agency's cascade for it (the decision rule's own list: models.lifecycle).
ON_BEHALF_ROLES = frozenset({Role.board_sponsor, Role.board_chair, Role.assurance_member})


@dataclass
class CascadeForm:
    """One agency's confirmation form: the plan's part for it, what was confirmed, and for whom."""

    view: CascadeView
    form: FormView
    on_behalf_of: str | None  # the lead (or the agency) a sponsor or board member records it for
    status_label: str
    status_colour: str


def cascade_forms(status: RecommendationStatus, reader: Reader, failed: FormView | None) -> list[CascadeForm]:
    """A form for each agency this person may confirm now: those they lead, or every agency for a
    sponsor or Assurance Board member, who records it on the lead's behalf."""
    if not offered(reader, "confirm_cascade", None) and not (failed and failed.decision == "confirm_cascade"):
        return []
    person = reader.person.lower()
    for_everyone = bool(ON_BEHALF_ROLES & set(reader.roles))
    channels = plan_channels(status)
    forms = []
    for view in status.cascade:
        own = view.lead is not None and view.lead.lower() == person
        again = failed if failed and failed.decision == "confirm_cascade" and failed.agency == view.agency else None
        # A refused post for another's agency is shown at its form, so the refusal has a place.
        if not (own or for_everyone or again):
            continue
        values = _confirmed_values(view, channels)
        form = again or FormView(decision="confirm_cascade", agency=view.agency, values=values)
        label, colour = wording.CASCADE_STATES[view.status]
        forms.append(CascadeForm(view, form, None if own else (view.lead or view.agency), label, colour))
    return forms


def plan_channels(status: RecommendationStatus) -> list[str]:
    """The plan's channels, offered as boxes to tick on a confirmation (each at most once)."""
    plan = status.dissemination
    return list(dict.fromkeys(plan.channels)) if plan else []


def _confirmed_values(view: CascadeView, offered_channels: list[str]) -> dict[str, str]:
    """A confirmation already made, as its form's fields: correcting it starts from what was said.
    Channels the plan names are ticked; others go in the "other" box (all of them there when the
    plan names none, and the form has that box alone)."""
    if view.reached is None or view.done_on is None:
        return {}
    ticked = [c for c in view.channels if c in offered_channels]
    other = [c for c in view.channels if c not in offered_channels]
    return {
        "reached": str(view.reached),
        "channels": "\n".join(ticked if offered_channels else other),
        "channels_other": "\n".join(other) if offered_channels else "",
        "done_on-day": str(view.done_on.day),
        "done_on-month": str(view.done_on.month),
        "done_on-year": str(view.done_on.year),
        "note": view.note,
    }


@dataclass
class CascadeTable:
    """The recommendation's cascade as its table shows it, with the reach over every agency."""

    rows: list[dict[str, Any]]
    confirmed: int  # how many agencies have confirmed
    reached: int
    expected: int
    reach_percent: int | None
    threshold: int | None
    cascade_by: date | None
    open: bool  # confirmations may still come in (until the audit is recorded)


def cascade_table(status: RecommendationStatus) -> CascadeTable | None:
    """Each agency's row (None before sign-off, when the plan's own cascade is shown instead)."""
    if not status.cascade:
        return None
    plan = status.dissemination
    still_open = status.stage in CASCADE_OPEN_STAGES and not status.audits
    rows = []
    for view in status.cascade:
        label, colour = wording.CASCADE_STATES[view.status]
        if not still_open and view.status is not CascadeStatus.confirmed:
            label, colour = wording.CASCADE_NEVER_CONFIRMED
        rows.append({"view": view, "status_label": label, "status_colour": colour, "slug": agency_slug(view.agency)})
    return CascadeTable(
        rows=rows,
        confirmed=sum(1 for v in status.cascade if v.reached is not None),
        reached=sum(v.reached or 0 for v in status.cascade),
        expected=sum(v.expected_reach for v in status.cascade),
        reach_percent=status.reach_percent,
        threshold=plan.reach_threshold if plan else None,
        cascade_by=plan.cascade_by if plan else None,
        open=still_open,
    )


def _agency_names(database_url: str) -> list[str]:
    with session_scope(database_url) as session:
        return agency_names(session=session)
