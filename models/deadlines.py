"""Deadlines of the lifecycle: the ladders, reminders and progress requests, and firing them.

``Deadlines`` is a mixin of ``Lifecycle``: it reads the state and queues notifications and
escalations through the lifecycle's own helpers (``_notify``, ``_event``, ``_sponsors``, ...).
Everything is a pure function of the state and the ``now`` passed in, so the workflow can sleep
exactly until ``next_deadline()`` and replay gives the same answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from models.calendar import add_duration, subtract_duration
from models.kinds import DeadlineKind, EventKind, MessageKind, Role, escalation_event
from models.payloads import (
    ACTION_STAGES,
    ActionState,
    ActionStatus,
    Deadline,
    Escalation,
    EscalationLevel,
    MeasureState,
    RecommendationState,
    Stage,
)
from models.rules import LADDER, deadline_at, level_reached, next_ladder_step

L = EscalationLevel
# The acknowledgement ladder stops at the sponsoring board: by then the due-date ladder runs.
ACK_LADDER = (L.owner, L.agency_lead, L.sponsoring_board)
# Stage deadlines without an agency skip the agency-lead rung.
BOARD_LADDER = (L.owner, L.sponsoring_board, L.assurance_board)

# The notification kind for a rung above ``owner``, whatever the ladder is about.
ESCALATION_KIND = {
    L.agency_lead: MessageKind.agency_lead_copy,
    L.sponsoring_board: MessageKind.board_escalation,
    L.assurance_board: MessageKind.assurance_escalation,
}
# The notification kind for the ``owner`` rung of each ladder.
OWNER_RUNG_KIND = {
    DeadlineKind.acknowledge: MessageKind.acknowledge_reminder,
    DeadlineKind.overdue: MessageKind.overdue_notice,
    DeadlineKind.agree_actions: MessageKind.agree_actions_reminder,
    DeadlineKind.plans: MessageKind.plans_reminder,
    DeadlineKind.audit: MessageKind.audit_due,
    DeadlineKind.re_audit: MessageKind.re_audit_due,
    DeadlineKind.cascade: MessageKind.cascade_overdue,
    DeadlineKind.reading: MessageKind.reading_due,
}
STAGE_DEADLINE_KIND = {
    Stage.review: DeadlineKind.agree_actions,
    Stage.dissemination_plan: DeadlineKind.plans,
    Stage.audit: DeadlineKind.audit,
    Stage.re_audit: DeadlineKind.re_audit,
}
SYSTEM_ACTOR = "assure"


@dataclass(frozen=True)
class _Ladder:
    """One running ladder: what it is about, its anchor day, its rungs and the rungs fired."""

    subject: DeadlineKind  # acknowledge, overdue, or a stage deadline kind
    anchor: date
    levels: Sequence[EscalationLevel]
    fired: list[EscalationLevel]
    action: ActionState | None
    measure: MeasureState | None = None


class Deadlines:
    """Timers of one recommendation (mixed into ``Lifecycle``)."""

    if TYPE_CHECKING:  # what the mixin uses of ``Lifecycle``
        state: RecommendationState

        @property
        def closed(self) -> bool: ...
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
        ) -> None: ...
        def _event(self, now: datetime, kind: str, actor: str, detail: str = "") -> None: ...
        def _open_actions(self) -> list[ActionState]: ...
        def _lead_owner(self) -> str: ...
        def _sponsors(self) -> list[str]: ...
        def auditors(self) -> list[str]: ...
        def unconfirmed_cascade(self) -> list[Any]: ...
        def cascade_steps(self) -> list[Any]: ...
        def _waiting_leads(self) -> list[str]: ...
        def lead_of(self, step: Any) -> str | None: ...
        def _cascade_context(self) -> dict[str, Any]: ...
        def _enter(self, stage: Stage, now: datetime, actor: str, detail: str = "") -> None: ...
        def measure_context(self, measure: MeasureState) -> dict[str, Any]: ...
        def measures_context(self) -> dict[str, Any]: ...

    def _ladders(self) -> list[_Ladder]:
        """Every ladder running now: per open action, and for the stage's own deadline."""
        state, policy = self.state, self.state.policy
        ladders: list[_Ladder] = []
        if state.stage in ACTION_STAGES:
            for a in self._open_actions():
                if a.status is ActionStatus.assigned and not a.due_ladder:
                    anchor = add_duration(a.assigned_on, policy.acknowledge_within, working_days=policy.working_days)
                    ladders.append(_Ladder(DeadlineKind.acknowledge, anchor, ACK_LADDER, a.ack_ladder, a))
                ladders.append(_Ladder(DeadlineKind.overdue, a.due, LADDER, a.due_ladder, a))
        stage_anchor = self._stage_anchor()
        if stage_anchor is not None:
            subject = STAGE_DEADLINE_KIND[state.stage]
            levels = LADDER if state.stage is Stage.dissemination_plan else BOARD_LADDER
            ladders.append(_Ladder(subject, stage_anchor, levels, state.stage_ladder, None))
        cascade_by = self._cascade_by()
        if cascade_by is not None and self.unconfirmed_cascade():
            # Silence from an agency: its lead is told on the day, then the board, then the Assurance Board.
            ladders.append(_Ladder(DeadlineKind.cascade, cascade_by, BOARD_LADDER, state.cascade_ladder, None))
        for m in state.measures:
            # A reading owed: its reporter asked on the day, then the board, then the Assurance Board.
            if m.reading_due_on is not None:
                ladders.append(_Ladder(DeadlineKind.reading, m.reading_due_on, BOARD_LADDER, m.reading_ladder, None, m))
        return ladders

    def _cascade_by(self) -> date | None:
        """The day every agency is to have confirmed its cascade, while the cascade stage lasts."""
        plan = self.state.dissemination
        return plan.cascade_by if self.state.stage is Stage.cascade and plan is not None else None

    def _cascade_deadlines(self) -> list[Deadline]:
        """The reminder before ``cascade_by``, and the audit date that ends the cascade stage."""
        state, policy = self.state, self.state.policy
        cascade_by = self._cascade_by()
        if cascade_by is None or state.audit_plan is None or state.audit_plan.audit_on is None:
            return []
        out = [Deadline(at=deadline_at(state.audit_plan.audit_on), kind=DeadlineKind.cascade_ends)]
        if not state.cascade_reminder_sent and self.unconfirmed_cascade():
            day = subtract_duration(cascade_by, policy.remind_before_due, working_days=policy.working_days)
            if day > state.stage_entered_at.date():
                out.append(Deadline(at=deadline_at(day), kind=DeadlineKind.cascade_reminder))
        return out

    def _stage_deadline(self) -> str | None:
        """The current stage's deadline as an ISO date, for the email that asks for it."""
        anchor = self._stage_anchor()
        return anchor.isoformat() if anchor else None

    def _stage_anchor(self) -> date | None:
        state, policy = self.state, self.state.policy
        entered = state.stage_entered_at.date()
        if state.stage is Stage.review:
            return add_duration(entered, policy.agree_within, working_days=policy.working_days)
        if state.stage is Stage.dissemination_plan:
            return add_duration(entered, policy.plans_within, working_days=policy.working_days)
        if state.stage is Stage.audit and state.audit_plan and state.audit_plan.audit_on:
            return state.audit_plan.audit_on
        if state.stage is Stage.re_audit and state.audits and state.audits[-1].re_audit_on:
            return state.audits[-1].re_audit_on
        return None

    def _reminders(self) -> list[tuple[date, DeadlineKind, ActionState]]:
        """Reminders before a due date and monthly progress requests for open actions."""
        policy = self.state.policy
        out: list[tuple[date, DeadlineKind, ActionState]] = []
        if self.state.stage not in ACTION_STAGES:
            return out
        for a in self._open_actions():
            if not a.due_reminder_sent:
                day = subtract_duration(a.due, policy.remind_before_due, working_days=policy.working_days)
                if day > a.assigned_on:
                    out.append((day, DeadlineKind.due_reminder, a))
            if a.status is ActionStatus.acknowledged and a.acknowledged_at is not None:
                last = max(
                    [a.acknowledged_at.date(), *(p.at.date() for p in a.progress)]
                    + ([a.last_progress_request_on] if a.last_progress_request_on else [])
                )
                day = add_duration(last, policy.progress_every, working_days=policy.working_days)
                if day < a.due:
                    out.append((day, DeadlineKind.progress_request, a))
        return out

    def pending_deadlines(self) -> list[Deadline]:
        """Everything still to fire, soonest first; empty once the recommendation is closed."""
        if self.closed:
            return []
        deadlines = []
        for ladder in self._ladders():
            step = next_ladder_step(self.state.policy, ladder.anchor, ladder.fired, ladder.levels)
            if step is not None:
                level, day = step
                action_id = ladder.action.action_id if ladder.action else None
                measure_id = ladder.measure.measure_id if ladder.measure else None
                at = deadline_at(day)
                deadlines.append(
                    Deadline(at=at, kind=ladder.subject, action_id=action_id, level=level, measure_id=measure_id)
                )
        for day, kind, action in self._reminders():
            deadlines.append(Deadline(at=deadline_at(day), kind=kind, action_id=action.action_id))
        deadlines += self._cascade_deadlines()
        return sorted(deadlines, key=lambda d: (d.at, d.kind, d.action_id or "", d.measure_id or ""))

    def next_deadline(self) -> datetime | None:
        """When the workflow must next wake up by itself."""
        pending = self.pending_deadlines()
        return pending[0].at if pending else None

    def fire_due(self, now: datetime) -> int:
        """Send every reminder and escalation whose time has come; returns how many fired.

        A ladder that has passed several rungs at once (a worker that was down, an import of an
        overdue action) fires once, at the highest rung reached, with everyone up to it told.
        """
        fired = 0
        for _ in range(1000):  # each pass fires at least one deadline; the bound guards the loop
            due = [d for d in self.pending_deadlines() if d.at <= now]
            if not due:
                break
            for deadline in due:
                self._fire(deadline, now)
                fired += 1
        return fired

    def _fire(self, deadline: Deadline, now: datetime) -> None:
        action = self.state.action(deadline.action_id) if deadline.action_id else None
        if deadline.kind is DeadlineKind.due_reminder and action is not None:
            action.due_reminder_sent = True
            self._event(now, EventKind.due_reminder, SYSTEM_ACTOR, action.action_id)
            self._notify(now, MessageKind.due_reminder, [action.owner], action=action)
            return
        if deadline.kind is DeadlineKind.progress_request and action is not None:
            action.last_progress_request_on = now.date()
            self._event(now, EventKind.progress_requested, SYSTEM_ACTOR, action.action_id)
            self._notify(now, MessageKind.progress_request, [action.owner], action=action)
            return
        if deadline.kind is DeadlineKind.cascade_reminder:
            self.state.cascade_reminder_sent = True
            self._remind_cascade_leads(now)
            return
        if deadline.kind is DeadlineKind.cascade_ends:
            self._end_cascade(now)
            return
        ladder = next(
            (
                lad
                for lad in self._ladders()
                if lad.subject == deadline.kind
                and lad.action is action
                and (lad.measure.measure_id if lad.measure else None) == deadline.measure_id
            ),
            None,
        )
        if ladder is None:
            return
        measure = ladder.measure
        reached = level_reached(self.state.policy, ladder.anchor, now.date(), ladder.levels)
        passed = [lvl for lvl in ladder.levels if lvl.rank <= reached.rank and lvl not in ladder.fired]
        ladder.fired.extend(passed)
        recipients: list[str] = []
        for level in passed:
            recipients += self._ladder_recipients(level, action, measure)
        if measure is not None:
            subject = f"measure:{measure.measure_id}"
        else:
            subject = f"action:{action.action_id}" if action else f"stage:{self.state.stage.value}"
        self._record_escalation(now, reached, recipients, subject, deadline.kind)
        kind = OWNER_RUNG_KIND[deadline.kind] if reached is L.owner else ESCALATION_KIND[reached]
        # When the next rung falls, so the email can say what happens if nothing is done.
        following = next_ladder_step(self.state.policy, ladder.anchor, ladder.fired, ladder.levels)
        cascade = deadline.kind is DeadlineKind.cascade
        # The auditor's task lists the cascade, with any agency that never confirmed, and the measures.
        auditing = deadline.kind in (DeadlineKind.audit, DeadlineKind.re_audit)
        tell_cascade = cascade or (deadline.kind is DeadlineKind.audit and bool(self.cascade_steps()))
        roles: dict[str, Role] | None = None
        if cascade:
            roles = {lead: Role.cascade_lead for lead in self._waiting_leads()}
        elif measure is not None:
            roles = {measure.reporter: Role.reporter}
        context: dict[str, Any] = {
            **(self._cascade_context() if tell_cascade else {}),
            **(self.measures_context() if auditing and self.state.measures else {}),
            **({"measure": self.measure_context(measure)} if measure is not None else {}),
        }
        self._notify(
            now,
            kind,
            recipients,
            action=action,
            level=reached,
            roles=roles,
            **context,
            about=deadline.kind,
            skipped_levels=[lvl.value for lvl in passed[:-1]],
            deadline=ladder.anchor.isoformat(),
            next_step_on=following[1].isoformat() if following else None,
            next_level=following[0].value if following else None,
        )

    def _ladder_recipients(
        self, level: EscalationLevel, action: ActionState | None, measure: MeasureState | None = None
    ) -> list[str]:
        parties = self.state.parties
        if level is L.owner:
            if measure is not None:
                return [measure.reporter]
            if action is not None:
                return [action.owner]
            if self.state.stage is Stage.review:
                return list(parties.board_sponsors)
            if self.state.stage in (Stage.audit, Stage.re_audit):
                return self.auditors() or list(parties.board_sponsors)
            if self.state.stage is Stage.cascade:
                return self._cascade_askees()
            return [self._lead_owner()]
        if level is L.agency_lead:
            owner = action.owner if action else self._lead_owner()
            agency = action.agency if action else self.state.actions[0].agency if self.state.actions else ""
            lead = parties.agency_leads.get(agency)
            # With no agency lead on record the sponsor hears instead, so nobody is skipped silently.
            return [owner, lead] if lead else [owner, *parties.board_sponsors]
        if level is L.sponsoring_board:
            return self._sponsors()
        return list(parties.assurance_members)

    def _cascade_askees(self) -> list[str]:
        """Who is asked for the confirmations still missing: each silent agency's lead, and the
        board's sponsors as well when a silent agency has no lead (the registry lost it), so that
        no agency goes unasked until the board's own rung."""
        leaderless = any(self.lead_of(step) is None for step in self.unconfirmed_cascade())
        return [*self._waiting_leads(), *(self.state.parties.board_sponsors if leaderless else [])]

    def _remind_cascade_leads(self, now: datetime) -> None:
        """The reminder before ``cascade_by`` to every lead still to confirm, recorded with who was told."""
        leads = self._cascade_askees()
        agencies = ", ".join(s.agency for s in self.unconfirmed_cascade())
        self._event(now, EventKind.cascade_reminder, SYSTEM_ACTOR, f"to {', '.join(leads) or 'nobody'} for {agencies}")
        self._notify(
            now,
            MessageKind.cascade_reminder,
            leads,
            roles={lead: Role.cascade_lead for lead in self._waiting_leads()},
            **self._cascade_context(),
        )

    def _end_cascade(self, now: datetime) -> None:
        """The audit date has come with agencies unconfirmed: the audit goes ahead, told which."""
        silent = ", ".join(s.agency for s in self.unconfirmed_cascade())
        self._enter(Stage.audit, now, SYSTEM_ACTOR, f"the audit date came with no confirmation from {silent}")

    def _record_escalation(
        self, now: datetime, level: EscalationLevel, recipients: Sequence[str], subject: str, kind: str
    ) -> None:
        unique = sorted(set(recipients))
        self.state.escalations.append(Escalation(level=level, at=now, recipients=unique, subject=subject, kind=kind))
        self._event(now, escalation_event(level.value), SYSTEM_ACTOR, f"{subject} ({kind})")
