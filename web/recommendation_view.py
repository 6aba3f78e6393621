"""One recommendation as a page, with the forms its reader may use now: shared by the response
pages (opened from an emailed link) and the dashboard (signed in).

Which forms appear is exactly what the workflow's ``reader`` query says this person may decide
now (the validators' own "who may decide" checks): the pages keep no table of their own. The way
in decides only whose page it is and, for an owner's link, that it shows their own actions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import structlog
from fastapi import Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from gateway.workflows import DecisionNotTaken, UnknownRecommendation, decide
from models.payloads import ActionView, EscalationLevel, RecommendationStatus
from models.permissions import Reader
from models.rules import highest, sign_off_gaps
from web import wording
from web.context import WebContext
from web.forms import MAX_ACTION_ROWS, WHOLE_DECISIONS, parse_form, row_count

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
    status_code: int = 200  # of the page that shows it again

    @property
    def id(self) -> str:
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
        if name in {"new_due", "starts", "ends", "audit_on", "re_audit_on"} or name.endswith("-due"):
            return f"{self.id}-{name}-day"
        if name == "actions":
            return f"{self.id}-actions-0-action_id"
        return f"{self.id}-{name}"


@dataclass
class PageParts:
    """Who is looking at which recommendation, and where its forms post."""

    status: RecommendationStatus
    reader: Reader
    person: str
    own_view: bool  # an owner's link: only their own actions
    post_base: str  # forms post to f"{post_base}/{decision}"
    csrf_token: str


def offered(reader: Reader, decision: str, action_id: str | None) -> bool:
    """Whether ``decision`` (on ``action_id``, when a form names one) is among what the workflow's
    ``reader`` query says this person may decide now: the edge's check, before the Update's own."""
    return any(d.name == decision and (action_id is None or d.action_id == action_id) for d in reader.decisions)


def recommendation_page(
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

    def form(decision: str, action_id: str | None = None) -> FormView | None:
        """The form for a decision, if this person may take it now; the refused one keeps its input."""
        if not any(d.name == decision and d.action_id == action_id for d in open_decisions):
            if not (failed and failed.decision == decision and failed.action_id == action_id):
                return None
        if failed and failed.decision == decision and failed.action_id == action_id:
            return failed
        return FormView(decision=decision, action_id=action_id)

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
        "plan_gaps": sign_off_gaps(status.dissemination, status.audit_plan) if status.dissemination else [],
        "forms": {name: form(name) for name in WHOLE_DECISIONS},
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
    if status.stage.value == "audit" and status.audit_plan is not None:
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


def plain_refusal(refused: DecisionNotTaken) -> str:
    message = refused.message
    if refused.type == "SignOffRefused" and refused.gaps:
        return "The Assurance Board cannot sign off yet, because the plans have gaps:"
    message = wording.with_uk_dates(message)  # "already due on 2026-12-31" as a reader writes it
    return message[0].upper() + message[1:] if message else "This could not be done."


async def submit_form(ctx: WebContext, ref: str, decision: str, form: FormData, *, by: str) -> FormView | None:
    """Take ``decision`` from a posted form as ``by``: None when the workflow took it, else the form
    to show again with what was typed and why not (its ``status_code`` says how it failed)."""
    fields = {key: str(value) for key, value in form.items() if key != "csrf_token"}
    # The board's decision is one form whose action is chosen in it: its id never names one.
    action_id = None if decision == "record_board_decision" else fields.get("action_id") or None
    view = FormView(decision=decision, action_id=action_id, values=fields)
    view.rows = row_count(fields)
    if "add_row" in fields:  # "Add another action": show one more row, take nothing yet
        view.rows = min(view.rows + 1, MAX_ACTION_ROWS)
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
        view.refusal, view.gaps, view.status_code = plain_refusal(refused), refused.gaps, 409
        return view
    except UnknownRecommendation:
        view.refusal, view.status_code = "This recommendation is not in Assure.", 404
        return view
    log.info("decision_taken", ref=ref, decision=decision)
    return None
