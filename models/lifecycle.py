"""The recommendation lifecycle as a plain state machine over ``RecommendationState``.

The Temporal workflow is a thin shell around this: it passes ``workflow.now()`` in, turns
``DecisionRefused`` into an ``ApplicationError`` in its update validators, sleeps until
``next_deadline()``, and flushes ``state.outbox`` and new timeline events to the store through an
activity. Keeping the rules here makes them deterministic by construction and testable without a
Temporal server.

Each decision has a ``check_<name>`` (read-only; raises ``DecisionRefused`` with the reason) and
an ``apply_<name>`` (mutates; only ever called after its check passed).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, NoReturn

from models.calendar import add_duration
from models.cover import acting_label, covered_by, route
from models.deadlines import ACK_LADDER, SYSTEM_ACTOR, Deadlines
from models.kinds import EventKind, MessageKind, Role, audit_event, declined_detail, stage_event
from models.mail_context import RecommendationMailFacts, mail_context, thread_of
from models.measure_decisions import MeasureDecisions, today_in_london
from models.payloads import (
    ACTION_STAGES,
    CASCADE_OPEN_STAGES,
    CLOSED_STAGES,
    AcknowledgeInput,
    ActionSpec,
    ActionState,
    ActionStatus,
    ActionView,
    AddActionsInput,
    AddMeasuresInput,
    AgreeActionsInput,
    AuditOutcome,
    AuditRecord,
    BoardDecision,
    CascadeConfirmation,
    CascadeStatus,
    CascadeStep,
    CascadeView,
    ChangeDueDateInput,
    CompleteActionInput,
    ConfirmCascadeInput,
    DecideExtensionInput,
    Decision,
    DeclineInput,
    EscalationLevel,
    EscalationPolicy,
    ExtensionRequest,
    HandOverInput,
    ImportedProgress,
    MailDelivery,
    MailDeliveryResult,
    Notification,
    Parties,
    Problem,
    ProgressNote,
    ReassignOwnerInput,
    RecommendationInput,
    RecommendationState,
    RecommendationStatus,
    RecordAuditInput,
    RecordBoardDecisionInput,
    RecordReadingInput,
    RemindOwnerInput,
    ReportProgressInput,
    RequestExtensionInput,
    SignOffInput,
    SignOffRecord,
    SourceView,
    Stage,
    SubmitPlansInput,
    TimelineEvent,
    UpdatePartiesInput,
    WithdrawInput,
)
from models.rules import cascade_lead, highest, ladder_dates, sign_off_gaps

L = EscalationLevel


class DecisionRefused(Exception):
    """A decision the rules do not allow; ``type`` is stable for callers, ``gaps`` lists reasons."""

    def __init__(self, message: str, *, type: str = "InvalidDecision", gaps: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.type = type
        self.gaps = list(gaps)


def _refuse_unless(condition: bool, message: str, type: str = "InvalidDecision") -> None:
    if not condition:
        raise DecisionRefused(message, type=type)


class Lifecycle(Deadlines, MeasureDecisions):
    """Rules and transitions for one recommendation; mutates the state it wraps."""

    def __init__(self, state: RecommendationState, *, workflow_id: str) -> None:
        self.state = state
        self.workflow_id = workflow_id
        # While a deputy's decision is applied: (deputy, the absent person it is taken for), so
        # the timeline names both (``_event``).
        self._acting: tuple[str, str] | None = None

    # --- construction ---------------------------------------------------------------------

    @classmethod
    def begin(cls, start: RecommendationInput, *, workflow_id: str, now: datetime) -> Lifecycle:
        """A new recommendation: in ``action`` when it arrives with actions, else in ``review``."""
        if start.state is not None:
            return cls(start.state, workflow_id=workflow_id)
        state = RecommendationState(
            recommendation=start.recommendation,
            policy=start.policy,
            parties=start.parties,
            stage=Stage.review,
            stage_entered_at=now,
            created_at=now,
        )
        life = cls(state, workflow_id=workflow_id)
        life._event(now, EventKind.received, SYSTEM_ACTOR, f"from {start.recommendation.source_kind.value}")
        life._add_measures(start.measures, now, SYSTEM_ACTOR, start.readings)
        if start.actions and start.imported is not None:
            life._begin_imported(start, now)
        elif start.actions:
            life._add_actions(start.actions, now, round_=0, actor=SYSTEM_ACTOR)
            life._enter(Stage.action, now, SYSTEM_ACTOR)
        else:
            life._notify(now, MessageKind.actions_needed, state.parties.board_sponsors, deadline=life._stage_deadline())
        return life

    def _begin_imported(self, start: RecommendationInput, now: datetime) -> None:
        """Take up an imported action log where it stands, with one message per person.

        A complete action sends nothing; an open one sends its task, unless it is already past
        due, when the overdue ladder's single notice (at the rung it has reached) says so instead.
        All complete, the plans are requested, or, when the log had them, go to sign-off.
        """
        assert start.imported is not None
        progress = {a.action_id: a for a in start.imported.actions}
        for spec in start.actions:
            action = ActionState(**spec.model_dump(), round=0, assigned_on=now.date())
            self.state.actions.append(action)
            self._event(
                now, EventKind.action_assigned, SYSTEM_ACTOR, f"{action.action_id} to {action.owner}, due {action.due}"
            )
            known = progress.get(action.action_id)
            if known is not None and known.status is not ActionStatus.assigned:
                action.status = ActionStatus.acknowledged
                action.acknowledged_at = now
            if known is not None and known.status is ActionStatus.complete:
                on = known.completed_on or now.date()
                action.status = ActionStatus.complete
                action.completed_at = datetime(on.year, on.month, on.day, 12, tzinfo=now.tzinfo)
                action.evidence = known.evidence
                self._event(now, EventKind.action_completed, SYSTEM_ACTOR, f"{action.action_id} (imported)")
            elif action.due >= now.date() and action.status is ActionStatus.acknowledged:
                # Under way already: the owner is told it is now followed here, not asked to acknowledge.
                self._notify(now, MessageKind.task_under_way, [action.owner], action=action)
            elif action.due >= now.date():
                self._notify_task(now, action)
        self._enter(Stage.action, now, SYSTEM_ACTOR, "imported")
        plans = start.imported
        if not self._open_actions() and plans.dissemination is not None and plans.audit is not None:
            self._enter(Stage.dissemination_plan, now, SYSTEM_ACTOR)
            submitted = SubmitPlansInput(by=self._lead_owner(), dissemination=plans.dissemination, audit=plans.audit)
            if plans.signed_off_on is not None and not self._plan_gaps_of(submitted):
                self._take_up_imported_sign_off(submitted, plans, now)
            else:
                self.apply_submit_plans(submitted, now)
        else:
            self._advance(now, SYSTEM_ACTOR)

    def _take_up_imported_sign_off(self, plans: SubmitPlansInput, imported: ImportedProgress, now: datetime) -> None:
        """Plans the board signed off before the import: the cascade runs from where the log left
        it. The leads still to confirm get their task, unless ``cascade_by`` has passed, when the
        silence ladder's single notice (at the rung reached) says so instead; nobody is told of
        the sign-off again."""
        assert imported.signed_off_on is not None and plans.dissemination.cascade_by is not None
        self.state.dissemination, self.state.audit_plan = plans.dissemination, plans.audit
        self.state.plans_submitted_by = plans.by
        signed = datetime(
            imported.signed_off_on.year, imported.signed_off_on.month, imported.signed_off_on.day, 12, tzinfo=now.tzinfo
        )
        self.state.sign_off = SignOffRecord(
            by=SYSTEM_ACTOR, at=signed, note="signed off before the import", dissemination=plans.dissemination,
            audit=plans.audit,
        )  # fmt: skip
        self._event(now, EventKind.signed_off, SYSTEM_ACTOR, f"on {imported.signed_off_on} (imported)")
        self._enter(Stage.cascade, now, SYSTEM_ACTOR, "imported")
        for done in imported.cascade:
            step = self._cascade_step(done.agency)
            if step is None:
                continue  # the importer refuses a confirmation for an agency outside the cascade
            self.state.cascade_confirmations.append(
                CascadeConfirmation(
                    agency=step.agency, by=SYSTEM_ACTOR, at=now, reached=done.reached, channels=list(done.channels),
                    done_on=done.done_on, note=done.note,
                )
            )  # fmt: skip
            self._event(
                now, EventKind.cascade_confirmed, SYSTEM_ACTOR,
                f"{step.agency}: {done.reached} of {step.expected_reach} staff reached (imported)",
            )  # fmt: skip
        if plans.dissemination.cascade_by >= now.date():
            self._ask_cascade_leads(now, self._waiting_leads())
        self._advance(now, SYSTEM_ACTOR)

    # --- small helpers --------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self.state.stage in CLOSED_STAGES

    def _event(self, now: datetime, kind: str, actor: str, detail: str = "") -> None:
        self.state.seq += 1
        self.state.version += 1
        if self._acting is not None and actor.lower() == self._acting[1]:
            actor = acting_label(*self._acting)
        self.state.timeline.append(TimelineEvent(seq=self.state.seq, at=now, kind=kind, actor=actor, detail=detail))

    def _notify(
        self,
        now: datetime,
        kind: MessageKind,
        recipients: Sequence[str],
        *,
        action: ActionState | None = None,
        level: EscalationLevel | None = None,
        roles: dict[str, Role] | None = None,
        part: str = "",
        **context: Any,
    ) -> None:
        """Queue one message; its key is unique per (workflow, event, kind, action, ``part``):
        ``part`` tells apart messages of one kind sent at one event to different people with
        different contents (each reporter told of their own measures). ``roles`` names why some
        recipients hear, where the recommendation's roles would not say it (a cascade lead asked
        to confirm)."""
        meant_for = sorted({r for r in recipients if r})
        if not meant_for:
            return
        action_id = action.action_id if action else None
        key = f"{self.thread_id}/{self.state.seq}/{kind}/{action_id or '-'}" + (f"/{part}" if part else "")
        given = roles or {}
        # Someone away: their deputy receives it in their place, told whom they act for and till
        # when, and with the absent person's role (a deputy who gets it in their own right as well
        # is told once, as themselves).
        unique, role_for, acting = route(
            self.state.parties.absences,
            meant_for,
            today_in_london(now),
            lambda person: given.get(person) or self._role_of(person, action),
        )
        if acting:
            context["acting_for"] = acting
        facts = RecommendationMailFacts.of_recommendation(
            self.state.recommendation,
            stage=self.state.stage,
            thread=self.thread_id,
            roles=role_for,
        )
        self.state.outbox.append(
            Notification(
                key=key,
                kind=kind,
                recipients=unique,
                action_id=action_id,
                level=level,
                context=mail_context(facts, action=action, owner_epoch=action.owner_epoch if action else 0, **context),
                created_at=now,
            )
        )

    @property
    def thread_id(self) -> str:
        """Names this recommendation's run of the lifecycle: the root of its email thread."""
        return thread_of(self.workflow_id, self.state.created_at)

    def _role_of(self, person: str, action: ActionState | None) -> Role:
        """Why ``person`` gets a message: the role the email explains to them."""
        parties = self.state.parties
        if action is not None and person == action.owner:
            return Role.owner
        if person in parties.board_sponsors:
            return Role.board_sponsor
        if person == parties.board_chair:
            return Role.board_chair
        if person in parties.assurance_members:
            return Role.assurance_member
        if person in self.auditors():
            return Role.auditor
        if self.cascade_open() and person in self.cascade_leads():
            return Role.cascade_lead
        if person in parties.agency_leads.values():
            return Role.agency_lead
        # About one action, only its current owner acts as owner: a former owner's link to it
        # would be dead on arrival, even if they own another action.
        if action is None and any(person == a.owner for a in self.state.actions):
            return Role.owner
        # Last: a measure's own emails name their reporter's role themselves (``roles=``).
        if person in self.reporters():
            return Role.reporter
        return Role.previous_owner

    def _enter(self, stage: Stage, now: datetime, actor: str, detail: str = "") -> None:
        self.state.stage = stage
        self.state.stage_entered_at = now
        self.state.stage_ladder = []
        self._event(now, stage_event(stage.value), actor, detail)

    def _sponsors(self) -> list[str]:
        parties = self.state.parties
        return [*parties.board_sponsors, *([parties.board_chair] if parties.board_chair else [])]

    def auditors(self) -> list[str]:
        """The board's auditors and the audit plan's named auditor, who may record audits."""
        named = self.state.audit_plan.auditor.lower() if self.state.audit_plan else ""
        return [*self.state.parties.auditors, *([named] if "@" in named else [])]

    def _lead_owner(self) -> str:
        return self.state.actions[0].owner if self.state.actions else self.state.parties.board_sponsors[0]

    def _open_actions(self) -> list[ActionState]:
        return [a for a in self.state.actions if a.is_open]

    def _add_actions(self, specs: Sequence[ActionSpec], now: datetime, *, round_: int, actor: str) -> None:
        for spec in specs:
            action = ActionState(**spec.model_dump(), round=round_, assigned_on=now.date())
            self.state.actions.append(action)
            self._event(
                now, EventKind.action_assigned, actor, f"{action.action_id} to {action.owner}, due {action.due}"
            )
            self._notify_task(now, action)

    def _notify_task(self, now: datetime, action: ActionState) -> None:
        """The task email, saying only the acknowledgement reminders that fall before the due date:
        from the due date on, the overdue ladder takes over and the rest never come."""
        policy = self.state.policy
        anchor = add_duration(action.assigned_on, policy.acknowledge_within, working_days=policy.working_days)
        rungs = [level.value for level, day in ladder_dates(policy, anchor, ACK_LADDER).items() if day < action.due]
        self._notify(now, MessageKind.task_assigned, [action.owner], action=action, ack_rungs=rungs)

    def _require_action(self, action_id: str | None) -> ActionState:
        action = self.state.action(action_id) if action_id is not None else None
        if action is None:
            raise DecisionRefused(
                f"there is no action {action_id!r} on {self.state.recommendation.ref}", type="UnknownAction"
            )
        return action

    def _refuse(self, message: str, type: str = "InvalidDecision") -> NoReturn:
        raise DecisionRefused(message, type=type)

    def _require_stage(self, allowed: Sequence[Stage], what: str) -> None:
        if self.state.stage not in allowed:
            names = ", ".join(s.value for s in allowed)
            raise DecisionRefused(
                f"cannot {what} while the recommendation is at stage '{self.state.stage.value}' (only at {names})",
                type="WrongStage",
            )

    def _require_person(self, by: str, allowed: Sequence[str], role: str) -> None:
        if by.lower() not in {p.lower() for p in allowed}:
            raise DecisionRefused(f"{by} is not {role} for {self.state.recommendation.ref}", type="WrongPerson")

    def _require_owner_of_open_action(self, by: str, action_id: str | None, what: str) -> ActionState:
        self._require_stage(sorted(ACTION_STAGES), what)
        action = self._require_action(action_id)
        self._require_person(by, [action.owner], f"the owner of action {action_id}")
        _refuse_unless(action.is_open, f"action {action_id} is already complete")
        return action

    # --- decisions: checks (read-only) and applications -----------------------------------

    # Each decision has three parts, tied together by DECISION_RULES at the end of this module:
    # ``may_<name>(by, action_id, now)``, who may take it now (stage, person, the action's
    # state: what a page asks before offering a form); ``check_<name>(decision, now)``, the
    # content (dates, ids, plans); ``apply_<name>(decision, now)``, the change, only ever called
    # after both passed.

    def may(self, rule: DecisionRule, by: str, action_id: str | None, now: datetime) -> None:
        """Refuse unless ``by`` may take ``rule``'s decision now (on ``action_id``, if it names one)."""
        self._taken_as(rule, by, action_id, now)

    def _taken_as(self, rule: DecisionRule, by: str, action_id: str | None, now: datetime) -> str:
        """Whose decision ``by`` takes: their own, or, when it is not theirs to take, that of
        someone away today whom they stand in for (``models.cover``)."""
        _refuse_unless(
            not self.closed, f"{self.state.recommendation.ref} is closed ({self.state.stage.value})", "WrongStage"
        )
        try:
            rule.may(self, by, action_id, now)
            return by
        except DecisionRefused as refused:
            if refused.type != "WrongPerson":
                raise
            for absent in covered_by(self.state.parties.absences, by, today_in_london(now)):
                try:
                    rule.may(self, absent, action_id, now)
                except DecisionRefused:
                    continue
                return absent
            raise

    def _as_taken(self, decision: Decision, now: datetime) -> Decision:
        rule = rule_for(decision)
        whom = self._taken_as(rule, decision.by, getattr(decision, "action_id", None), now)
        return decision if whom == decision.by else decision.model_copy(update={"by": whom})

    def check(self, decision: Decision, now: datetime) -> None:
        """Refuse ``decision`` with a reason, or return if it may be applied."""
        rule_for(decision).check(self, self._as_taken(decision, now), now)

    def apply(self, decision: Decision, now: datetime) -> None:
        """Apply a checked decision, then move the stage on if it is now complete. A deputy's
        decision for someone away is applied as theirs and recorded as "D, acting for X"."""
        taken = self._as_taken(decision, now)
        if taken.by != decision.by:
            self._acting = (decision.by.lower(), taken.by.lower())
        try:
            rule_for(decision).apply(self, taken, now)
            self._advance(now, taken.by)
        finally:
            self._acting = None

    def _require_sponsor(self, by: str) -> None:
        self._require_person(by, self._sponsors(), "a sponsor or the chair of the sponsoring board")

    def _require_open_action(self, action_id: str | None) -> ActionState:
        action = self._require_action(action_id)
        _refuse_unless(action.is_open, f"action {action.action_id} is already complete")
        return action

    def may_agree_actions(self, by: str, action_id: str | None, now: datetime) -> None:
        self._require_stage([Stage.review], "agree actions")
        self._require_sponsor(by)

    def check_agree_actions(self, d: AgreeActionsInput, now: datetime) -> None:
        _check_action_specs(d.actions, existing=self.state.actions, today=now.date())
        self._check_new_measures(d.measures, today_in_london(now))

    def apply_agree_actions(self, d: AgreeActionsInput, now: datetime) -> None:
        self._event(now, EventKind.actions_agreed, d.by, f"{len(d.actions)} action(s)")
        self._add_actions(d.actions, now, round_=0, actor=d.by)
        self._add_measures(d.measures, now, d.by)
        self._enter(Stage.action, now, d.by)

    def may_acknowledge(self, by: str, action_id: str | None, now: datetime) -> None:
        action = self._require_owner_of_open_action(by, action_id, "acknowledge")
        _refuse_unless(action.status is ActionStatus.assigned, f"action {action_id} is already acknowledged")

    def apply_acknowledge(self, d: AcknowledgeInput, now: datetime) -> None:
        self._acknowledge(self._require_action(d.action_id), now, d.by)

    def _acknowledge(self, action: ActionState, now: datetime, by: str) -> None:
        if action.status is ActionStatus.assigned:
            action.status = ActionStatus.acknowledged
            action.acknowledged_at = now
            self._event(now, EventKind.acknowledged, by, action.action_id)

    def may_report_progress(self, by: str, action_id: str | None, now: datetime) -> None:
        self._require_owner_of_open_action(by, action_id, "report progress")

    def apply_report_progress(self, d: ReportProgressInput, now: datetime) -> None:
        action = self._require_action(d.action_id)
        self._acknowledge(action, now, d.by)  # reporting progress shows the owner has the task
        action.progress.append(ProgressNote(at=now, by=d.by, note=d.note))
        self._event(now, EventKind.progress_reported, d.by, action.action_id)

    def may_request_extension(self, by: str, action_id: str | None, now: datetime) -> None:
        action = self._require_owner_of_open_action(by, action_id, "ask for an extension")
        _refuse_unless(action.extension is None, f"action {action_id} already has an extension request waiting")

    def check_request_extension(self, d: RequestExtensionInput, now: datetime) -> None:
        action = self._require_action(d.action_id)
        _refuse_unless(d.new_due > action.due, f"the new due date must be after the current one ({action.due})")
        _refuse_unless(d.new_due > now.date(), "the new due date must be in the future")

    def apply_request_extension(self, d: RequestExtensionInput, now: datetime) -> None:
        action = self._require_action(d.action_id)
        action.extension = ExtensionRequest(requested_at=now, by=d.by, new_due=d.new_due, reason=d.reason)
        self._event(now, EventKind.extension_requested, d.by, f"{action.action_id} to {d.new_due}")
        self._notify(
            now,
            MessageKind.extension_requested,
            self._sponsors(),
            action=action,
            new_due=d.new_due.isoformat(),
            reason=d.reason,
        )

    def may_decide_extension(self, by: str, action_id: str | None, now: datetime) -> None:
        self._require_stage(sorted(ACTION_STAGES), "decide an extension")
        self._require_sponsor(by)
        action = self._require_action(action_id)
        _refuse_unless(action.extension is not None, f"action {action_id} has no extension request waiting")

    def apply_decide_extension(self, d: DecideExtensionInput, now: datetime) -> None:
        action = self._require_action(d.action_id)
        request = action.extension
        assert request is not None  # checked
        action.extension = None
        if d.approve:
            old_due, action.due = action.due, request.new_due
            action.extensions_granted += 1
            # A new due date starts the ladder again: nothing has been missed yet.
            action.due_ladder = []
            action.due_reminder_sent = False
            self._event(now, EventKind.extension_approved, d.by, f"{action.action_id} from {old_due} to {action.due}")
        else:
            self._event(now, EventKind.extension_declined, d.by, action.action_id)
        self._notify(now, MessageKind.extension_decided, [action.owner], action=action, approved=d.approve, note=d.note)

    def may_complete_action(self, by: str, action_id: str | None, now: datetime) -> None:
        self._require_owner_of_open_action(by, action_id, "complete an action")

    def apply_complete_action(self, d: CompleteActionInput, now: datetime) -> None:
        action = self._require_action(d.action_id)
        self._acknowledge(action, now, d.by)
        action.status = ActionStatus.complete
        action.completed_at = now
        action.evidence = d.evidence
        action.extension = None
        self._event(now, EventKind.action_completed, d.by, action.action_id)

    def may_reassign_owner(self, by: str, action_id: str | None, now: datetime) -> None:
        self._require_stage(sorted(ACTION_STAGES), "reassign an owner")
        self._require_sponsor(by)
        self._require_open_action(action_id)

    def check_reassign_owner(self, d: ReassignOwnerInput, now: datetime) -> None:
        action = self._require_action(d.action_id)
        _refuse_unless(d.new_owner != action.owner, f"{d.new_owner} already owns action {d.action_id}")

    def apply_reassign_owner(self, d: ReassignOwnerInput, now: datetime) -> None:
        action = self._require_action(d.action_id)
        previous = action.owner
        action.owner = d.new_owner
        action.owner_epoch += 1
        action.status = ActionStatus.assigned
        action.acknowledged_at = None
        action.assigned_on = now.date()
        action.ack_ladder = []
        action.extension = None
        self._event(now, EventKind.owner_reassigned, d.by, f"{action.action_id} from {previous} to {d.new_owner}")
        self._notify(now, MessageKind.task_reassigned, [previous], action=action, reason=d.reason)
        self._notify_task(now, action)

    def may_add_actions(self, by: str, action_id: str | None, now: datetime) -> None:
        self._require_stage(sorted(ACTION_STAGES), "add actions")
        self._require_sponsor(by)

    def check_add_actions(self, d: AddActionsInput, now: datetime) -> None:
        _check_action_specs(d.actions, existing=self.state.actions, today=now.date())

    def apply_add_actions(self, d: AddActionsInput, now: datetime) -> None:
        round_ = len(self.state.audits) if self.state.stage is Stage.re_audit else 0
        self._event(now, EventKind.actions_added, d.by, f"{len(d.actions)} action(s)")
        self._add_actions(d.actions, now, round_=round_, actor=d.by)

    def may_change_due_date(self, by: str, action_id: str | None, now: datetime) -> None:
        self._require_stage(sorted(ACTION_STAGES), "change a due date")
        self._require_sponsor(by)
        self._require_open_action(action_id)

    def check_change_due_date(self, d: ChangeDueDateInput, now: datetime) -> None:
        action = self._require_action(d.action_id)
        _refuse_unless(d.new_due != action.due, f"action {d.action_id} is already due on {action.due}")
        _refuse_unless(d.new_due >= now.date(), "the new due date must not be in the past")

    def apply_change_due_date(self, d: ChangeDueDateInput, now: datetime) -> None:
        action = self._require_action(d.action_id)
        old_due, action.due = action.due, d.new_due
        # A new due date starts the ladder again, as an agreed extension does.
        action.due_ladder = []
        action.due_reminder_sent = False
        action.extension = None
        self._event(now, EventKind.due_date_changed, d.by, f"{action.action_id} from {old_due} to {action.due}")
        self._notify(now, MessageKind.extension_decided, [action.owner], action=action, approved=True, note=d.reason)

    def may_submit_plans(self, by: str, action_id: str | None, now: datetime) -> None:
        self._require_stage([Stage.dissemination_plan, Stage.sign_off], "submit plans")
        owners = [a.owner for a in self.state.actions]
        self._require_person(by, [*owners, *self._sponsors()], "an action owner or a board sponsor")

    def apply_submit_plans(self, d: SubmitPlansInput, now: datetime) -> None:
        self.state.dissemination = d.dissemination
        self.state.audit_plan = d.audit
        self.state.plans_submitted_by = d.by
        gaps = self.plan_gaps()
        self._event(now, EventKind.plans_submitted, d.by, f"{len(gaps)} gap(s)" if gaps else "credible")
        if self.state.stage is not Stage.sign_off:
            self._enter(Stage.sign_off, now, d.by)
        if gaps:
            # The Assurance Board would have to refuse: tell the submitter now, gap by gap.
            self._notify(now, MessageKind.sign_off_refused, [d.by], gaps=gaps)
        else:
            self._notify(now, MessageKind.sign_off_requested, self.state.parties.assurance_members)

    def plan_gaps(self) -> list[str]:
        """What the submitted plans lack before sign-off, by the registry as the workflow has it."""
        if self.state.sign_off is not None:
            return []
        return sign_off_gaps(
            self.state.dissemination, self.state.audit_plan, self.state.parties.agency_leads, self.state.measures
        )

    def _plan_gaps_of(self, plans: SubmitPlansInput) -> list[str]:
        return sign_off_gaps(plans.dissemination, plans.audit, self.state.parties.agency_leads, self.state.measures)

    def may_sign_off(self, by: str, action_id: str | None, now: datetime) -> None:
        self._require_stage([Stage.dissemination_plan, Stage.sign_off], "sign off")
        self._require_person(by, self.state.parties.assurance_members, "an Assurance Board member")

    def check_sign_off(self, d: SignOffInput, now: datetime) -> None:
        """The plans' gaps: refused, but a page still offers the form, to say which gaps stand."""
        gaps = self.plan_gaps()
        if gaps:
            raise DecisionRefused("sign-off refused: " + "; ".join(gaps), type="SignOffRefused", gaps=gaps)
        audit_on = self.state.audit_plan.audit_on if self.state.audit_plan else None
        _refuse_unless(
            audit_on is not None and audit_on > now.date(),
            f"sign-off refused: the audit date ({audit_on}) has passed; submit plans with a future audit date",
            "SignOffRefused",
        )
        cascade_by = self.state.dissemination.cascade_by if self.state.dissemination else None
        _refuse_unless(
            cascade_by is not None and cascade_by > now.date(),
            f"sign-off refused: the cascade was to be confirmed by {cascade_by}, which is not in the future; "
            "submit plans with a later cascade date",
            "SignOffRefused",
        )

    def apply_sign_off(self, d: SignOffInput, now: datetime) -> None:
        assert self.state.dissemination is not None and self.state.audit_plan is not None  # checked
        self.state.sign_off = SignOffRecord(
            by=d.by,
            at=now,
            note=d.note,
            dissemination=self.state.dissemination.model_copy(deep=True),
            audit=self.state.audit_plan.model_copy(deep=True),
        )
        self._event(now, EventKind.signed_off, d.by)
        plan = self.state.dissemination
        self._enter(
            Stage.cascade, now, d.by, f"confirmations by {plan.cascade_by}, audit on {self.state.audit_plan.audit_on}"
        )
        recipients = [*{a.owner for a in self.state.actions}, *self._sponsors(), *self.auditors()]
        self._notify(
            now,
            MessageKind.signed_off,
            recipients,
            audit_on=str(self.state.audit_plan.audit_on),
            cascade_by=str(plan.cascade_by),
        )
        self._ask_cascade_leads(now, self._waiting_leads())

    # --- the cascade ------------------------------------------------------------------------

    def cascade_steps(self) -> list[CascadeStep]:
        """The signed-off plan's cascade (none before sign-off)."""
        plan = self.state.dissemination
        return list(plan.cascade) if plan is not None and self.state.sign_off is not None else []

    def _cascade_step(self, agency: str) -> CascadeStep | None:
        wanted = agency.strip().casefold()
        return next((s for s in self.cascade_steps() if s.agency.casefold() == wanted), None)

    def lead_of(self, step: CascadeStep) -> str | None:
        return cascade_lead(step, self.state.parties.agency_leads)

    def _confirmation(self, agency: str) -> CascadeConfirmation | None:
        return next((c for c in self.state.cascade_confirmations if c.agency == agency), None)

    def unconfirmed_cascade(self) -> list[CascadeStep]:
        return [s for s in self.cascade_steps() if self._confirmation(s.agency) is None]

    def _waiting_leads(self) -> list[str]:
        """The leads still to confirm, each once (a person may lead for two agencies)."""
        return sorted({lead for s in self.unconfirmed_cascade() if (lead := self.lead_of(s))})

    def cascade_leads(self) -> list[str]:
        """Everyone who leads an agency's cascade now, confirmed or not."""
        return sorted({lead for s in self.cascade_steps() if (lead := self.lead_of(s))})

    def _cascade_context(self) -> dict[str, Any]:
        """What a cascade email says: each agency's part, who leads it and whether it is in."""
        plan = self.state.dissemination
        return {
            "cascade": [v.model_dump(mode="json") for v in self.cascade_views()],
            "cascade_by": str(plan.cascade_by) if plan else None,
            "audit_on": str(self.state.audit_plan.audit_on) if self.state.audit_plan else None,
            "reach_threshold": plan.reach_threshold if plan else None,
            "plan_channels": list(plan.channels) if plan else [],
        }

    def _ask_cascade_leads(self, now: datetime, leads: Sequence[str]) -> None:
        """Each lead's task: confirm that the learning reached their agency's staff."""
        self._notify(
            now,
            MessageKind.cascade_task,
            leads,
            roles={lead: Role.cascade_lead for lead in leads},
            **self._cascade_context(),
        )

    def cascade_open(self) -> bool:
        """Whether confirmations may still come in: after sign-off, until the audit."""
        return self.state.stage in CASCADE_OPEN_STAGES and not self.state.audits

    def cascade_views(self) -> list[CascadeView]:
        """Each agency's cascade: what the plan asks, what was confirmed, and where it stands."""
        views = []
        for step in self.cascade_steps():
            done = self._confirmation(step.agency)
            if done is not None:
                status = CascadeStatus.confirmed
            else:
                # Read from the silence ladder, as "overdue" is everywhere: its first rung falls on
                # ``cascade_by``.
                status = CascadeStatus.overdue if self.state.cascade_ladder else CascadeStatus.waiting
            views.append(
                CascadeView(
                    agency=step.agency,
                    lead=self.lead_of(step),
                    staff_group=step.staff_group,
                    expected_reach=step.expected_reach,
                    reached=done.reached if done else None,
                    channels=list(done.channels) if done else [],
                    done_on=done.done_on if done else None,
                    note=done.note if done else "",
                    status=status,
                    reach_percent=_percent(done.reached, step.expected_reach) if done else None,
                    confirmed_by=done.by if done else None,
                    on_behalf_of=done.on_behalf_of if done else None,
                )
            )
        return views

    def may_confirm_cascade(self, by: str, action_id: str | None, now: datetime) -> None:
        _refuse_unless(
            self.cascade_open() and bool(self.cascade_steps()),
            f"cannot confirm the cascade while the recommendation is at stage '{self.state.stage.value}' "
            "(only after sign-off, until the audit)",
            "WrongStage",
        )
        allowed = [*self.cascade_leads(), *self._sponsors(), *self.state.parties.assurance_members]
        self._require_person(by, allowed, "a cascade lead, a board sponsor or an Assurance Board member")

    def check_confirm_cascade(self, d: ConfirmCascadeInput, now: datetime) -> None:
        step = self._cascade_step(d.agency)
        if step is None:
            named = ", ".join(s.agency for s in self.cascade_steps())
            raise DecisionRefused(
                f"{d.agency} is not in the cascade of {self.state.recommendation.ref} (the cascade names {named})",
                type="UnknownAgency",
            )
        lead = self.lead_of(step)
        on_behalf = [*self._sponsors(), *self.state.parties.assurance_members]
        self._require_person(d.by, [*([lead] if lead else []), *on_behalf], f"the cascade lead of {step.agency}")
        _refuse_unless(
            d.reached <= ABSURD_REACH_FACTOR * step.expected_reach,
            f"{d.reached} is more than ten times the {step.expected_reach} staff {step.agency} planned to reach: "
            "check the figure",
        )
        _refuse_unless(
            d.reached >= step.expected_reach or bool(d.note.strip()),
            f"{d.reached} of the {step.expected_reach} staff planned were reached: say in the note why fewer",
        )
        _refuse_unless(
            d.done_on <= today_in_london(now), f"the cascade cannot have been done on {d.done_on}, a future date"
        )

    def apply_confirm_cascade(self, d: ConfirmCascadeInput, now: datetime) -> None:
        step = self._cascade_step(d.agency)
        assert step is not None  # checked
        lead = self.lead_of(step)
        on_behalf = None if lead is not None and d.by.lower() == lead.lower() else (lead or step.agency)
        earlier = self._confirmation(step.agency)
        record = CascadeConfirmation(
            agency=step.agency,
            by=d.by,
            at=now,
            reached=d.reached,
            channels=list(d.channels),
            done_on=d.done_on,
            note=d.note,
            on_behalf_of=on_behalf,
        )
        confirmations = [c for c in self.state.cascade_confirmations if c.agency != step.agency]
        self.state.cascade_confirmations = [*confirmations, record]
        detail = f"{step.agency}: {d.reached} of {step.expected_reach} staff reached"
        if on_behalf:
            detail += f", recorded on behalf of {on_behalf}"
        self._event(now, EventKind.cascade_corrected if earlier else EventKind.cascade_confirmed, d.by, detail)

    def may_record_audit(self, by: str, action_id: str | None, now: datetime) -> None:
        self._require_stage([Stage.cascade, Stage.audit, Stage.re_audit], "record an audit")
        # The Assurance Board tests embedding itself as well as through its auditors.
        recorders = [*self.auditors(), *self.state.parties.assurance_members]
        self._require_person(by, recorders, "an auditor or an Assurance Board member")

    def check_record_audit(self, d: RecordAuditInput, now: datetime) -> None:
        """The outcome's needs, and an early audit's reason: a page still offers the form early."""
        if d.outcome is AuditOutcome.embedded:
            _refuse_unless(not d.remedial_actions, "an embedded change needs no remedial actions")
            self._refuse_embedded_off_track(d)
            self._refuse_early_audit(d, now)
            return
        _refuse_unless(bool(d.remedial_actions), "a change that is not fully embedded needs remedial actions")
        _refuse_unless(d.re_audit_on is not None, "a change that is not fully embedded needs a re-audit date")
        assert d.re_audit_on is not None
        _refuse_unless(d.re_audit_on > now.date(), "the re-audit date must be in the future")
        _check_action_specs(d.remedial_actions, existing=self.state.actions, today=now.date())
        late = [a.action_id for a in d.remedial_actions if a.due > d.re_audit_on]
        _refuse_unless(not late, f"remedial action(s) {', '.join(late)} are due after the re-audit date")
        self._refuse_early_audit(d, now)

    def _refuse_embedded_off_track(self, d: RecordAuditInput) -> None:
        """ "Embedded" while a measure is off track is the auditor's judgement to explain."""
        behind = self.off_track()
        if behind and not d.off_track_reason.strip():
            named = ", ".join(f"{v.measure_id} ({v.name})" for v in behind)
            raise DecisionRefused(
                f"measure(s) {named} are off track: to record the change as embedded, say why in the reason",
                type="OffTrackMeasure",
            )

    def _refuse_early_audit(self, d: RecordAuditInput, now: datetime) -> None:
        """Before its planned date an audit is a deliberate choice: confirmed, with the reason."""
        planned = self.planned_audit_on()
        if planned is not None and now.date() < planned and not d.early_reason:
            raise DecisionRefused(
                f"the audit is planned for {planned.day} {planned:%B %Y}: "
                "to record it early, confirm and give the reason",
                type="EarlyAudit",
            )

    def planned_audit_on(self) -> date | None:
        """The date the audit now due was planned for: the plan's, or the last failed audit's re-audit date."""
        if self.state.stage is Stage.re_audit and self.state.audits:
            return self.state.audits[-1].re_audit_on
        if self.state.stage in (Stage.cascade, Stage.audit) and self.state.audit_plan:
            return self.state.audit_plan.audit_on
        return None

    def apply_record_audit(self, d: RecordAuditInput, now: datetime) -> None:
        round_ = len(self.state.audits) + 1
        # Before the record goes in: in re_audit the planned date is the previous audit's.
        planned = self.planned_audit_on()
        early = planned is not None and now.date() < planned
        behind = [v.measure_id for v in self.off_track()] if d.outcome is AuditOutcome.embedded else []
        self.state.audits.append(
            AuditRecord(
                by=d.by,
                at=now,
                outcome=d.outcome,
                findings=d.findings,
                remedial_action_ids=[a.action_id for a in d.remedial_actions],
                re_audit_on=d.re_audit_on,
                early_reason=d.early_reason if early else "",
                off_track_measures=behind,
                off_track_reason=d.off_track_reason if behind else "",
            )
        )
        said = f", early (planned for {planned}): {d.early_reason}" if early else ""
        if behind:
            said += f", with {', '.join(behind)} off track: {d.off_track_reason}"
        self._event(now, audit_event(d.outcome.value), d.by, f"audit {round_}{said}")
        if d.outcome is AuditOutcome.embedded:
            self.state.consecutive_failed_audits = 0
            self.state.closed_reason = "embedded and evidenced by audit"
            self._enter(Stage.assured, now, d.by)
            self._notify(now, MessageKind.assured, [*{a.owner for a in self.state.actions}, *self._sponsors()])
            return
        self.state.consecutive_failed_audits += 1
        self._enter(Stage.re_audit, now, d.by, f"re-audit on {d.re_audit_on}")
        self._add_actions(d.remedial_actions, now, round_=round_, actor=d.by)
        self._notify(
            now,
            MessageKind.audit_failed,
            [*self._sponsors(), *{a.owner for a in d.remedial_actions}],
            outcome=d.outcome.value,
            findings=d.findings,
            re_audit_on=str(d.re_audit_on),
            remedial_actions=[
                {"action_id": a.action_id, "description": a.description, "owner": a.owner, "due": a.due.isoformat()}
                for a in d.remedial_actions
            ],
        )
        if self.state.consecutive_failed_audits >= 2:
            recipients = self.state.parties.assurance_members
            self._record_escalation(
                now,
                L.assurance_board,
                recipients,
                stage_event(Stage.re_audit.value),
                MessageKind.repeated_audit_failure,
            )
            self._notify(
                now,
                MessageKind.repeated_audit_failure,
                recipients,
                level=L.assurance_board,
                failed_audits=self.state.consecutive_failed_audits,
            )

    def may_decline(self, by: str, action_id: str | None, now: datetime) -> None:
        self._require_stage(
            [Stage.review, Stage.action, Stage.in_progress, Stage.dissemination_plan], "decline the recommendation"
        )
        self._require_sponsor(by)

    def apply_decline(self, d: DeclineInput, now: datetime) -> None:
        self.state.closed_reason = d.reason
        self._enter(Stage.declined, now, d.by, declined_detail(d.reason))
        recipients = [*{a.owner for a in self._open_actions()}, *self.state.parties.assurance_members]
        self._notify(now, MessageKind.declined, recipients, reason=d.reason)

    def may_withdraw(self, by: str, action_id: str | None, now: datetime) -> None:
        allowed = [*self._sponsors(), *self.state.parties.assurance_members]
        self._require_person(by, allowed, "a board sponsor, the board chair or an Assurance Board member")

    def apply_withdraw(self, d: WithdrawInput, now: datetime) -> None:
        self.state.closed_reason = d.reason
        self._enter(Stage.withdrawn, now, d.by, "withdrawn")
        self._notify(
            now, MessageKind.withdrawn, [*{a.owner for a in self._open_actions()}, *self._sponsors()], reason=d.reason
        )

    def may_remind_owner(self, by: str, action_id: str | None, now: datetime) -> None:
        self._require_stage(sorted(ACTION_STAGES), "send a reminder")
        self._require_sponsor(by)
        action = self._require_open_action(action_id)
        _refuse_unless(
            action.sponsor_reminded_on != now.date(), f"the owner of action {action_id} was reminded today already"
        )

    def apply_remind_owner(self, d: RemindOwnerInput, now: datetime) -> None:
        action = self._require_action(d.action_id)
        action.sponsor_reminded_on = now.date()
        self._event(now, EventKind.owner_reminded, d.by, action.action_id)
        self._notify(now, MessageKind.sponsor_reminder, [action.owner], action=action, note=d.note, sponsor=d.by)

    def may_record_board_decision(self, by: str, action_id: str | None, now: datetime) -> None:
        self._require_sponsor(by)
        if action_id is not None:
            self._require_action(action_id)

    def apply_record_board_decision(self, d: RecordBoardDecisionInput, now: datetime) -> None:
        action = self.state.action(d.action_id) if d.action_id else None
        self._event(now, EventKind.board_decision, d.by, d.action_id or "")
        self.state.board_decisions.append(BoardDecision(at=now, by=d.by, action_id=d.action_id, decision=d.decision))
        owners = [action.owner] if action else [a.owner for a in self._open_actions()]
        self._notify(now, MessageKind.board_decision, owners, action=action, decision=d.decision, sponsor=d.by)

    # --- the registry ---------------------------------------------------------------------

    def check_update_parties(self, d: UpdatePartiesInput, now: datetime) -> None:
        """Refused when nothing would change, so that a registry sync costs no history where it has
        nothing to say."""
        new_policy = d.policy is not None and d.policy != self.state.policy
        _refuse_unless(
            new_policy or d.parties.model_dump() != self.state.parties.model_dump(),
            "the roles are unchanged",
            "Unchanged",
        )

    def apply_update_parties(self, d: UpdatePartiesInput, now: datetime) -> None:
        """Take the registry's role holders as they are now. Links and pages ask the workflow who
        holds which role, so a removed holder's links stop working from this event on, and new mail
        goes to the new holders."""
        if d.policy is not None and d.policy != self.state.policy:
            # Rungs already reached stay reached; each next deadline is counted by the new policy.
            changed = _policy_changes(self.state.policy, d.policy)
            self.state.policy = d.policy
            self._event(now, EventKind.policy_changed, d.by, f"{changed}; from each next deadline on")
        before, after = self.state.parties, d.parties
        if before.model_dump() == after.model_dump():
            return
        changes = _role_changes(before, after)
        waiting = set(self._waiting_leads()) if self.state.stage is Stage.cascade else set()
        self.state.parties = after
        self._event(now, EventKind.roles_changed, d.by, "; ".join(changes) or d.summary)
        if self.state.stage is Stage.cascade:
            # An agency's new safeguarding lead takes over its confirmation: asked, as the old was.
            self._ask_cascade_leads(now, sorted(set(self._waiting_leads()) - waiting))

    # --- a leaver ---------------------------------------------------------------------------

    def parts_held(self, person: str) -> list[str]:
        """What ``person`` holds on this recommendation by name (not through the registry's roles)."""
        who = person.lower()
        parts = [f"action {a.action_id}" for a in self.state.actions if a.is_open and a.owner.lower() == who]
        plan = self.state.dissemination
        if plan is not None and plan.owner.strip().lower() == who:
            parts.append("the dissemination plan")
        if plan is not None:
            parts += [f"the cascade to {s.agency}" for s in plan.cascade if (s.lead or "").lower() == who]
        if self.state.audit_plan is not None and self.state.audit_plan.auditor.strip().lower() == who:
            parts.append("the audit")
        parts += [f"measure {m.measure_id}" for m in self.state.measures if m.reporter.lower() == who]
        return parts

    def check_hand_over(self, d: HandOverInput, now: datetime) -> None:
        _refuse_unless(not self.closed, f"{self.state.recommendation.ref} is closed", "WrongStage")
        _refuse_unless(
            bool(self.parts_held(d.leaver)),
            f"{d.leaver} holds no part of {self.state.recommendation.ref} by name",
            "Unchanged",
        )

    def apply_hand_over(self, d: HandOverInput, now: datetime) -> list[str]:
        """Pass everything the leaver holds by name to the successor, quietly: the successor hears
        once for all of a leaver's recommendations (the hand-over's summary), not once for each.
        Work in hand stays as it stands; old links die with the owner's new epoch. Returns what
        passed."""
        who, successor = d.leaver.lower(), d.successor.lower()
        parts = self.parts_held(who)
        for action in self.state.actions:
            if action.is_open and action.owner.lower() == who:
                action.owner = successor
                action.owner_epoch += 1
        plan = self.state.dissemination
        if plan is not None:
            steps = [
                s.model_copy(update={"lead": successor}) if (s.lead or "").lower() == who else s for s in plan.cascade
            ]
            owner = successor if plan.owner.strip().lower() == who else plan.owner
            self.state.dissemination = plan.model_copy(update={"cascade": steps, "owner": owner})
        audit = self.state.audit_plan
        if audit is not None and audit.auditor.strip().lower() == who:
            self.state.audit_plan = audit.model_copy(update={"auditor": successor})
        for measure in self.state.measures:
            if measure.reporter.lower() == who:
                measure.reporter = successor
        self._event(now, EventKind.handed_over, d.by, f"{who} left: {', '.join(parts)} passed to {successor}")
        return parts

    def _advance(self, now: datetime, actor: str) -> None:
        """Move from ``action`` to ``in_progress`` to ``dissemination_plan`` as actions settle."""
        stage = self.state.stage
        if stage is Stage.cascade and not self.unconfirmed_cascade():
            self._enter(Stage.audit, now, actor, "every agency confirmed the cascade")
            return
        if stage not in (Stage.action, Stage.in_progress) or not self.state.actions:
            return
        if not self._open_actions():
            self._enter(Stage.dissemination_plan, now, actor)
            self._notify(now, MessageKind.plans_requested, [self._lead_owner()], deadline=self._stage_deadline())
        elif stage is Stage.action and all(a.status is not ActionStatus.assigned for a in self.state.actions):
            self._enter(Stage.in_progress, now, actor)

    # --- delivery outcomes ----------------------------------------------------------------

    def mail_bounced(self, delivery: MailDelivery, result: MailDeliveryResult, now: datetime) -> None:
        """A message was refused for good: record it, and tell the board when an owner is unreachable.

        Bounces of the board's own mail, or of an "owner unreachable" message, are recorded only:
        escalating those would send more mail to the same dead end.
        """
        notification, recipient = delivery.notification, delivery.recipient
        role = notification.context.get("roles", {}).get(recipient, "")
        self._event(
            now, EventKind.mail_bounced, SYSTEM_ACTOR, f"{notification.kind} to {recipient} ({result.smtp_code})"
        )
        if notification.kind is MessageKind.owner_unreachable or role in {Role.board_sponsor, Role.board_chair}:
            return
        action = self.state.action(notification.action_id) if notification.action_id else None
        sponsors = self._sponsors()
        subject = f"action:{action.action_id}" if action else f"stage:{self.state.stage.value}"
        self._record_escalation(now, L.sponsoring_board, sponsors, subject, MessageKind.owner_unreachable)
        self._notify(
            now,
            MessageKind.owner_unreachable,
            sponsors,
            action=action,
            level=L.sponsoring_board,
            unreachable=recipient,
            unreachable_role=role,
            bounced_kind=notification.kind,
            smtp_code=result.smtp_code,
        )

    def problem(self, kind: str, subject: str, detail: str, now: datetime) -> bool:
        """Record that an effect could not do something with this recommendation's data, for an
        operator (``state.problems``, and a timeline event the first time). A repeat only counts
        (no event, no new version): a store that refuses this data must not be sent a new
        version to refuse, for ever. Returns whether it was new."""
        for known in self.state.problems:
            if (known.kind, known.subject) == (kind, subject):
                known.count += 1
                known.last_at, known.detail = now, detail
                return False
        self.state.problems.append(Problem(kind=kind, subject=subject, detail=detail, first_at=now, last_at=now))
        self._event(now, kind, SYSTEM_ACTOR, detail)
        return True

    # --- the status query -----------------------------------------------------------------

    def action_level(self, action: ActionState) -> EscalationLevel:
        return highest([*action.ack_ladder, *action.due_ladder]) if action.is_open else L.none

    def status(self, now: datetime) -> RecommendationStatus:
        """The whole state as the Assurance Board sees it, with overdue and next deadline worked out.

        "Overdue" is read from the ladders, not from ``now``: an open action is overdue from its
        due date's 08:00 notice on, and a stage from its deadline's first reminder. A query sees
        the time of the workflow's last wake-up, so a flag derived from ``now`` would lag.
        """
        state = self.state
        open_stage = not self.closed
        views = [
            ActionView(
                action_id=a.action_id,
                description=a.description,
                agency=a.agency,
                owner=a.owner,
                due=a.due,
                success_measure=a.success_measure,
                status=a.status,
                round=a.round,
                acknowledged_at=a.acknowledged_at,
                completed_at=a.completed_at,
                evidence=a.evidence,
                overdue=open_stage and a.is_open and bool(a.due_ladder),
                escalation_level=self.action_level(a) if open_stage else L.none,
                extension_requested=a.extension,
                progress=a.progress,
                owner_epoch=a.owner_epoch,
            )
            for a in state.actions
        ]
        cascade = self.cascade_views()
        plan = state.dissemination
        live_cascade = open_stage and not state.audits
        cascade_overdue = live_cascade and any(c.status is CascadeStatus.overdue for c in cascade)
        threshold = plan.reach_threshold if plan else 0
        cascade_short = live_cascade and any(
            c.reach_percent is not None and c.reach_percent < threshold for c in cascade
        )
        cascade_levels = state.cascade_ladder if cascade_overdue else []
        stage_overdue = open_stage and bool(state.stage_ladder)
        measures = self.measure_views()
        # A reading is asked for on its day; only silence past the board's rung makes it overdue.
        reading_levels = [lvl for m in state.measures for lvl in m.reading_ladder if lvl.rank > L.owner.rank]
        level = (
            highest([*(v.escalation_level for v in views), *state.stage_ladder, *cascade_levels, *reading_levels])
            if open_stage
            else L.none
        )
        pending = self.pending_deadlines()
        rec = state.recommendation
        return RecommendationStatus(
            ref=rec.ref,
            title=rec.title,
            source=SourceView(
                kind=rec.source_kind,
                title=rec.source_title,
                date=rec.source_date,
                review_ref=rec.review_ref,
                themes=rec.themes,
            ),
            board=rec.board,
            priority=rec.priority,
            stage=state.stage,
            stage_entered_at=state.stage_entered_at,
            actions=views,
            next_deadline=pending[0] if pending else None,
            overdue=stage_overdue
            or cascade_overdue
            or any(v.overdue for v in views)
            or any(m.overdue for m in measures),
            escalation_level=level,
            escalations=state.escalations,
            dissemination=state.dissemination,
            audit_plan=state.audit_plan,
            sign_off=state.sign_off,
            audits=state.audits,
            timeline=state.timeline,
            closed_reason=state.closed_reason,
            version=state.version,
            as_of=now,
            problems=state.problems,
            thread=self.thread_id,
            # Only once plans are in: before, there is nothing yet to fill in.
            plan_gaps=self.plan_gaps() if state.dissemination is not None else [],
            cascade=cascade,
            reach_percent=_percent(sum(c.reached or 0 for c in cascade), sum(c.expected_reach for c in cascade))
            if cascade
            else None,
            cascade_short=cascade_short,
            cascade_overdue=cascade_overdue,
            measures=measures,
        )


# A reach more than this many times the plan's is a typing mistake, not a success.
ABSURD_REACH_FACTOR = 10


def _percent(part: int, whole: int) -> int:
    """``part`` as a whole per cent of ``whole``, rounded down (0 of nothing is 0)."""
    return part * 100 // whole if whole > 0 else 0


def _policy_changes(before: EscalationPolicy, after: EscalationPolicy) -> str:
    """Plain words for a board's new escalation policy, field by field (for the timeline)."""
    old, new = before.model_dump(), after.model_dump()
    return "; ".join(f"{name.replace('_', ' ')} {old[name]} → {new[name]}" for name in new if old[name] != new[name])


def _role_changes(before: Parties, after: Parties) -> list[str]:
    """Plain words for what a registry change did to the roles (for the timeline)."""
    words = []
    for field, label in (
        ("board_sponsors", "a board sponsor"),
        ("assurance_members", "an Assurance Board member"),
        ("auditors", "an auditor"),
    ):
        old, new = set(getattr(before, field)), set(getattr(after, field))
        words += [f"{p} is now {label}" for p in sorted(new - old)]
        words += [f"{p} is no longer {label}" for p in sorted(old - new)]
    if before.board_chair != after.board_chair:
        words.append(f"the board chair is now {after.board_chair or 'nobody'}")
    for agency in sorted({*before.agency_leads, *after.agency_leads}):
        if before.agency_leads.get(agency) != after.agency_leads.get(agency):
            words.append(f"the safeguarding lead of {agency} is now {after.agency_leads.get(agency) or 'nobody'}")
    return words


def _check_action_specs(specs: Sequence[ActionSpec], *, existing: Sequence[ActionState], today: date) -> None:
    """New action ids unused on the recommendation; due dates not in the past."""
    taken = {a.action_id.casefold() for a in existing}  # A1 and a1 are one id, as on import
    for spec in specs:
        _refuse_unless(
            spec.action_id.casefold() not in taken,
            f"action id {spec.action_id!r} is already used on this recommendation",
        )
        _refuse_unless(spec.due >= today, f"action {spec.action_id}: due date {spec.due} is in the past")


class Scope(StrEnum):
    """What a decision is about: one action, the recommendation as a whole, or either."""

    action = "action"
    recommendation = "recommendation"
    either = "either"


@dataclass(frozen=True)
class DecisionRule:
    """One decision: its name (the Update's, the page's and the API's), its payload type, what it
    is about, and the lifecycle's three parts for it (see ``Lifecycle.may``)."""

    name: str
    payload: type[Decision]
    scope: Scope
    may: Callable[[Lifecycle, str, str | None, datetime], None]
    check: Callable[[Lifecycle, Any, datetime], None]
    apply: Callable[[Lifecycle, Any, datetime], None]


def _no_content_rules(life: Lifecycle, decision: Decision, now: datetime) -> None:
    """For decisions whose payload holds nothing the state could refuse."""


L_ = Lifecycle
# The one decision table: the workflow's Updates, the reader query, the pages, the CLI and the
# API all read it (the reader query lists open decisions in this order).
DECISION_RULES: tuple[DecisionRule, ...] = (
    DecisionRule(
        "agree_actions",
        AgreeActionsInput,
        Scope.recommendation,
        L_.may_agree_actions,
        L_.check_agree_actions,
        L_.apply_agree_actions,
    ),
    DecisionRule(
        "acknowledge", AcknowledgeInput, Scope.action, L_.may_acknowledge, _no_content_rules, L_.apply_acknowledge
    ),
    DecisionRule(
        "report_progress",
        ReportProgressInput,
        Scope.action,
        L_.may_report_progress,
        _no_content_rules,
        L_.apply_report_progress,
    ),
    DecisionRule(
        "request_extension",
        RequestExtensionInput,
        Scope.action,
        L_.may_request_extension,
        L_.check_request_extension,
        L_.apply_request_extension,
    ),
    DecisionRule(
        "decide_extension",
        DecideExtensionInput,
        Scope.action,
        L_.may_decide_extension,
        _no_content_rules,
        L_.apply_decide_extension,
    ),
    DecisionRule(
        "complete_action",
        CompleteActionInput,
        Scope.action,
        L_.may_complete_action,
        _no_content_rules,
        L_.apply_complete_action,
    ),
    DecisionRule(
        "reassign_owner",
        ReassignOwnerInput,
        Scope.action,
        L_.may_reassign_owner,
        L_.check_reassign_owner,
        L_.apply_reassign_owner,
    ),
    DecisionRule(
        "add_actions",
        AddActionsInput,
        Scope.recommendation,
        L_.may_add_actions,
        L_.check_add_actions,
        L_.apply_add_actions,
    ),
    DecisionRule(
        "change_due_date",
        ChangeDueDateInput,
        Scope.action,
        L_.may_change_due_date,
        L_.check_change_due_date,
        L_.apply_change_due_date,
    ),
    DecisionRule(
        "submit_plans",
        SubmitPlansInput,
        Scope.recommendation,
        L_.may_submit_plans,
        _no_content_rules,
        L_.apply_submit_plans,
    ),
    DecisionRule("sign_off", SignOffInput, Scope.recommendation, L_.may_sign_off, L_.check_sign_off, L_.apply_sign_off),
    DecisionRule(
        "confirm_cascade",
        ConfirmCascadeInput,
        Scope.recommendation,
        L_.may_confirm_cascade,
        L_.check_confirm_cascade,
        L_.apply_confirm_cascade,
    ),
    DecisionRule(
        "add_measures",
        AddMeasuresInput,
        Scope.recommendation,
        L_.may_add_measures,
        L_.check_add_measures,
        L_.apply_add_measures,
    ),
    DecisionRule(
        "record_reading",
        RecordReadingInput,
        Scope.recommendation,
        L_.may_record_reading,
        L_.check_record_reading,
        L_.apply_record_reading,
    ),
    DecisionRule(
        "record_audit",
        RecordAuditInput,
        Scope.recommendation,
        L_.may_record_audit,
        L_.check_record_audit,
        L_.apply_record_audit,
    ),
    DecisionRule("decline", DeclineInput, Scope.recommendation, L_.may_decline, _no_content_rules, L_.apply_decline),
    DecisionRule(
        "withdraw", WithdrawInput, Scope.recommendation, L_.may_withdraw, _no_content_rules, L_.apply_withdraw
    ),
    DecisionRule(
        "remind_owner", RemindOwnerInput, Scope.action, L_.may_remind_owner, _no_content_rules, L_.apply_remind_owner
    ),
    DecisionRule(
        "record_board_decision",
        RecordBoardDecisionInput,
        Scope.either,
        L_.may_record_board_decision,
        _no_content_rules,
        L_.apply_record_board_decision,
    ),
)
RULE_FOR_TYPE: dict[type[Decision], DecisionRule] = {rule.payload: rule for rule in DECISION_RULES}
RULE_NAMED: dict[str, DecisionRule] = {rule.name: rule for rule in DECISION_RULES}
# Every decision by name, with its payload type: the contract the web, CLI and API share.
DECISION_INPUTS: dict[str, type[Decision]] = {rule.name: rule.payload for rule in DECISION_RULES}


def rule_for(decision: Decision) -> DecisionRule:
    """The rule of ``decision``, by its payload type."""
    rule = RULE_FOR_TYPE.get(type(decision))
    if rule is None:
        raise DecisionRefused(f"{type(decision).__name__} is not a decision", type="UnknownDecision")
    return rule
