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
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from gateway.workflows import DecisionNotTaken, UnknownRecommendation, decide
from models.kinds import Role
from models.payloads import (
    CASCADE_OPEN_STAGES,
    DEFAULT_REACH_THRESHOLD,
    ActionView,
    CascadeStatus,
    CascadeView,
    EscalationLevel,
    RecommendationStatus,
)
from models.permissions import Reader
from models.rules import highest
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
        return f"{self.id}-{name}"


# The fields typed in three date boxes: a message about one links to its day box.
DATE_FIELDS = frozenset({"new_due", "starts", "ends", "audit_on", "re_audit_on", "cascade_by", "done_on"})


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
    its actions' owners and agencies, and its cascade's leads and agencies."""
    owners = {a.owner for a in status.actions} | {c.lead for c in status.cascade if c.lead}
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
        # The plans' reach threshold starts at the plan's default, as the payload would take it.
        preset = {"reach_threshold": str(DEFAULT_REACH_THRESHOLD)} if decision == "submit_plans" else {}
        return FormView(decision=decision, action_id=action_id, values=preset)

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
        "closed": status.stage.value in {"assured", "declined", "withdrawn"},
        "max_rows": MAX_ACTION_ROWS,
    }
    return ctx.page(request, template, context, status_code=status_code, error=bool(failed and failed.failed))


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
    return message[0].upper() + message[1:] if message else "This could not be done."


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
    parsed = parse_form(decision, fields, by=by)
    if parsed.errors:
        view.errors, view.status_code = parsed.errors, 422
        return view
    try:
        await decide(ctx.client, ref, decision, parsed.payload, database_url=ctx.settings.database_url)
    except DecisionNotTaken as refused:
        log.info("decision_refused", ref=ref, decision=decision, type=refused.type)
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
