"""The lifecycle driven at random as the workflow drives it: the clock moves and timers fire,
decisions of every kind arrive from anyone (registered people and strangers, on actions that
exist and ones that do not, with dates around today), each checked and applied only when the
check passes; registry changes, bounces and problems come in between. After every step the
rules the workflow relies on must hold.

Pure and fast: no Temporal server, no store. Deterministic (``derandomize``, no example database),
so a failure here fails the same way on every machine.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from models.lifecycle import DECISION_RULES, RULE_NAMED, DecisionRefused, DecisionRule, Lifecycle, rule_for
from models.payloads import (
    AcknowledgeInput,
    ActionSpec,
    AddActionsInput,
    AddMeasuresInput,
    AgreeActionsInput,
    AuditOutcome,
    AuditPlan,
    CascadeStatus,
    CascadeStep,
    ChangeDueDateInput,
    CompleteActionInput,
    ConfirmCascadeInput,
    DecideExtensionInput,
    Decision,
    DeclineInput,
    DisseminationPlan,
    EscalationPolicy,
    MailDelivery,
    MailDeliveryResult,
    MeasureSpec,
    Notification,
    Parties,
    ReassignOwnerInput,
    RecommendationInput,
    RecordAuditInput,
    RecordBoardDecisionInput,
    RecordReadingInput,
    RemindOwnerInput,
    ReportProgressInput,
    RequestExtensionInput,
    SignOffInput,
    Stage,
    SubmitPlansInput,
    UpdatePartiesInput,
    WithdrawInput,
)
from models.permissions import open_decisions
from models.rules import deadline_at
from tests import factories as f

START = datetime(2026, 3, 2, 9, tzinfo=UTC)
WORKFLOW_ID = "recommendation-CSPR-2023-01"
REGISTERED = (
    f.SPONSOR, f.CHAIR, f.ASSURANCE, f.AUDITOR, f.OWNER, f.OWNER_2, f.NEW_OWNER, f.ICB_LEAD, f.POLICE_LEAD, f.REPORTER
)  # fmt: skip
PEOPLE = (*REGISTERED, f.STRANGER)
# Ids new actions may take ("a1" is "A1" by case, which the rules treat as one id) and, for
# decisions, one no action ever has.
SPEC_IDS = ("A1", "A2", "A3", "R1", "R2", "a1")
DECISION_IDS = (*SPEC_IDS, "NOPE")
AGENCIES = (f.ICB, f.POLICE, "Milton Keynes City Council")
CLOSING = {"decline", "withdraw"}
# The decisions that take a recommendation from review to assured.
FORWARD = {
    "agree_actions", "acknowledge", "complete_action", "submit_plans", "sign_off", "confirm_cascade", "record_audit"
}  # fmt: skip

people = st.sampled_from(PEOPLE)
action_ids = st.sampled_from(DECISION_IDS)
texts = st.sampled_from(["Agreed at the board", "Staff sickness in the team; training moved"])
# Mostly close to today, where the rules' boundaries (today, tomorrow, yesterday) are.
day_offsets = st.one_of(st.integers(-3, 3), st.integers(-60, 400))


def days_from(today: date) -> st.SearchStrategy[date]:
    return day_offsets.map(lambda n: today + timedelta(days=n))


def specs(
    today: date, *, min_size: int, max_size: int = 3, dues: st.SearchStrategy[date] | None = None
) -> st.SearchStrategy[list[ActionSpec]]:
    spec = st.builds(
        f.action,
        st.sampled_from(SPEC_IDS),
        dues if dues is not None else days_from(today),
        owner=people,
        agency=st.sampled_from(AGENCIES),
    )
    return st.lists(spec, min_size=min_size, max_size=max_size, unique_by=lambda s: s.action_id.casefold())


def plans(today: date) -> st.SearchStrategy[tuple[DisseminationPlan, AuditPlan]]:
    """Mostly credible plans (from a drawn day), else plans with drawn gaps and dates: sign-off
    needs credible ones, and what comes after it is where the audits are."""
    credible = days_from(today).map(f.credible_plans)
    maybe_day = st.none() | days_from(today)
    dissemination = st.builds(
        DisseminationPlan,
        audiences=st.sampled_from([[], ["health visitors"]]),
        channels=st.sampled_from([[], ["7-minute briefing"]]),
        socialisation=st.sampled_from(["", "Checked in monthly case supervision"]),
        owner=st.sampled_from(["", f.OWNER]),
        starts=maybe_day,
        ends=maybe_day,
        # Agencies with a lead or without, reaches of none or some, and drawn confirmation days.
        cascade=st.lists(
            st.builds(
                CascadeStep,
                agency=st.sampled_from(AGENCIES),
                lead=st.none() | st.sampled_from(PEOPLE),
                expected_reach=st.sampled_from([0, 1, 40]),
            ),
            max_size=2,
            unique_by=lambda step: step.agency,
        ),
        cascade_by=maybe_day,
    )
    audit = st.builds(
        AuditPlan,
        method=st.sampled_from(["", "Case file audit of 20 cases"]),
        # A named auditor's address makes them one of the recommendation's auditors.
        auditor=st.sampled_from(["", "The audit team", f.AUDITOR, f.STRANGER, f.OWNER]),
        audit_on=maybe_day,
        success_measures=st.sampled_from([[], ["meeting held in 90% of cases"]]),
        measures=st.sampled_from([[], [f.MEASURE_ID], ["M2"], ["NOPE"]]),
    )
    gappy = st.tuples(dissemination, audit)
    return st.sampled_from([credible, credible, credible, gappy]).flatmap(lambda plan: plan)


def measure_specs(today: date) -> st.SearchStrategy[list[MeasureSpec]]:
    """New measures: ids the recommendation may already use, baselines around today (some in the
    future, which is refused), monthly readings so that their ladders run within a test."""
    spec = st.builds(
        lambda measure_id, baseline_on, reporter: f.measure(
            measure_id, baseline_on=baseline_on, target_by=baseline_on + timedelta(days=365), every="P1M",
            reporter=reporter,
        ),
        st.sampled_from(["M1", "M2", "m2", "M3"]),
        day_offsets.map(lambda n: today - timedelta(days=abs(n)) if n % 5 else today + timedelta(days=2)),
        st.sampled_from([f.REPORTER, f.OWNER, f.STRANGER]),
    )  # fmt: skip
    return st.lists(spec, min_size=1, max_size=2, unique_by=lambda s: s.measure_id.casefold())


@st.composite
def audits(draw: st.DrawFn, today: date, by: st.SearchStrategy[str]) -> RecordAuditInput:
    """An audit record: half the time one whose parts fit together (remedial actions due by a
    future re-audit date), so that audits are recorded and re-audits run, else drawn freely."""
    outcome = draw(st.sampled_from(AuditOutcome))
    early_reason = draw(st.sampled_from(["", "The board asked for an early look"]))
    if draw(st.booleans()):
        remedial, re_audit_on = draw(specs(today, min_size=0, max_size=2)), draw(st.none() | days_from(today))
    elif outcome is AuditOutcome.embedded:
        remedial, re_audit_on = [], None
    else:
        within = draw(st.integers(1, 200))
        re_audit_on = today + timedelta(days=within)
        dues = st.integers(0, within).map(lambda n: today + timedelta(days=n))
        remedial = draw(specs(today, min_size=1, max_size=2, dues=dues))
    return RecordAuditInput(
        by=draw(by),
        outcome=outcome,
        findings="Two of twenty cases lacked a meeting",
        remedial_actions=remedial,
        re_audit_on=re_audit_on,
        early_reason=early_reason,
        off_track_reason=draw(st.sampled_from(["", "The case audit shows the change, though the count lags"])),
    )


def decisions(today: date) -> dict[type[Decision], Callable[..., st.SearchStrategy[Decision]]]:
    """A strategy per decision type, given who decides and (for one action) on which."""
    return {
        AgreeActionsInput: lambda **k: st.builds(AgreeActionsInput, by=k["by"], actions=specs(today, min_size=1)),
        AcknowledgeInput: lambda **k: st.builds(AcknowledgeInput, **k),
        ReportProgressInput: lambda **k: st.builds(ReportProgressInput, note=texts, **k),
        RequestExtensionInput: lambda **k: st.builds(
            RequestExtensionInput, new_due=days_from(today), reason=texts, **k
        ),
        DecideExtensionInput: lambda **k: st.builds(DecideExtensionInput, approve=st.booleans(), note=texts, **k),
        CompleteActionInput: lambda **k: st.builds(CompleteActionInput, evidence=texts, **k),
        ReassignOwnerInput: lambda **k: st.builds(ReassignOwnerInput, new_owner=people, reason=texts, **k),
        AddActionsInput: lambda **k: st.builds(AddActionsInput, by=k["by"], actions=specs(today, min_size=1)),
        ChangeDueDateInput: lambda **k: st.builds(ChangeDueDateInput, new_due=days_from(today), reason=texts, **k),
        SubmitPlansInput: lambda **k: st.builds(
            lambda by, p: SubmitPlansInput(by=by, dissemination=p[0], audit=p[1]), k["by"], plans(today)
        ),
        SignOffInput: lambda **k: st.builds(SignOffInput, by=k["by"], note=texts),
        RecordAuditInput: lambda **k: audits(today, k["by"]),
        DeclineInput: lambda **k: st.builds(DeclineInput, by=k["by"], reason=texts),
        WithdrawInput: lambda **k: st.builds(WithdrawInput, by=k["by"], reason=texts),
        RemindOwnerInput: lambda **k: st.builds(RemindOwnerInput, note=texts, **k),
        ConfirmCascadeInput: lambda **k: st.builds(
            ConfirmCascadeInput,
            by=k["by"],
            # Mostly the plan's agencies, on days up to today, so that confirmations land.
            agency=st.sampled_from([f.ICB, f.POLICE, f.ICB, f.POLICE, "Milton Keynes City Council", "Nowhere Trust"]),
            reached=st.sampled_from([0, 60, 80, 120, 5000]),
            channels=st.sampled_from([[], ["7-minute briefing"]]),
            done_on=st.one_of(st.integers(-30, 0), st.integers(-3, 3)).map(lambda n: today + timedelta(days=n)),
            note=st.sampled_from(["", "Night staff are briefed next month"]),
        ),
        RecordBoardDecisionInput: lambda **k: st.builds(
            RecordBoardDecisionInput, by=k["by"], action_id=k["action_id"], decision=texts
        ),
        AddMeasuresInput: lambda **k: st.builds(AddMeasuresInput, by=k["by"], measures=measure_specs(today)),
        RecordReadingInput: lambda **k: st.builds(
            RecordReadingInput,
            by=k["by"],
            measure_id=st.sampled_from(["M1", "m1", "M2", "NOPE"]),
            # Percentages, with some out of range; days around today, with some in the future.
            value=st.sampled_from([0.0, 55.0, 75.5, 90.0, 100.0, 120.0, -1.0]),
            on=st.one_of(st.integers(-400, 0), st.integers(-3, 3)).map(lambda n: today + timedelta(days=n)),
            note=st.sampled_from(["", "Quarterly case audit"]),
        ),
    }


def decision_strategy(
    today: date, payload: type[Decision], *, by: str | None = None, action_id: str | None = None
) -> Any:
    """Any decision of type ``payload``: from anyone on any action id, or, for a decision a page
    offers, from ``by`` on ``action_id`` (None: on the recommendation as a whole)."""
    if by is None:
        who, which = people, action_ids
        if payload is RecordBoardDecisionInput:
            which = st.none() | action_ids
    else:
        who, which = st.just(by), st.just(action_id)
    return decisions(today)[payload](by=who, action_id=which)


def test_every_decision_has_a_strategy():
    """A new decision in the table is driven here too, or this fails."""
    assert {rule.payload for rule in DECISION_RULES} == set(decisions(START.date()))


def parties_strategy() -> st.SearchStrategy[Parties]:
    some = st.lists(st.sampled_from(PEOPLE), min_size=1, max_size=2, unique=True)
    return st.builds(
        Parties,
        board_sponsors=some,
        board_chair=st.none() | people,
        assurance_members=some,
        auditors=st.lists(st.sampled_from(PEOPLE), max_size=2, unique=True),
        agency_leads=st.dictionaries(st.sampled_from(AGENCIES), people, max_size=2),
    )


class LifecycleMachine(RuleBasedStateMachine):
    """One recommendation's lifecycle, with the workflow's loop played by the rules below."""

    life: Lifecycle

    def __init__(self) -> None:
        super().__init__()
        self.now = START
        self.keys: set[str] = set()
        self.sent: list[Notification] = []
        self.version = 0
        self.events = 0

    # --- the workflow's side of the loop -----------------------------------------------------

    def _drain(self) -> None:
        """Take the outbox as the workflow's store write does, keeping every key ever queued."""
        for notification in self.life.state.outbox:
            assert notification.key not in self.keys, f"notification key {notification.key} queued twice"
            self.keys.add(notification.key)
            self.sent.append(notification)
        del self.life.state.outbox[:]

    def _try(self, decision: Decision) -> bool:
        """Check ``decision`` as an Update validator does and apply it only if the check passed."""
        rule = rule_for(decision)
        action_id = getattr(decision, "action_id", None)
        offered = {(d.name, d.action_id) for d in open_decisions(self.life, decision.by, self.now)}
        before = self.life.state.model_dump()
        try:
            self.life.check(decision, self.now)
        except DecisionRefused:
            assert self.life.state.model_dump() == before, f"a refused {rule.name} changed the state"
            return False
        assert self.life.state.model_dump() == before, f"checking {rule.name} changed the state"
        # What the validator accepts, the page offered: both read the same ``may`` part.
        assert (rule.name, action_id) in offered, f"{rule.name} on {action_id} accepted but not offered"
        self.life.apply(decision, self.now)
        self._drain()
        return True

    @initialize(
        actions=st.none() | specs(START.date() + timedelta(days=1), min_size=1),
        working_days=st.booleans(),
        # The tests' five-yearly measure, or a monthly one whose readings fall due within a run.
        monthly=st.booleans(),
    )
    def begin(self, actions: list[ActionSpec] | None, working_days: bool, monthly: bool) -> None:
        baseline_on = START.date() - timedelta(days=40)
        monthly_measure = f.measure(every="P1M", baseline_on=baseline_on, target_by=baseline_on + timedelta(days=365))
        measure = monthly_measure if monthly else f.measure()
        policy = EscalationPolicy(working_days=working_days)
        start = f.start(actions=actions, policy=policy, measures=[measure])
        self.life = Lifecycle.begin(start, workflow_id=WORKFLOW_ID, now=self.now)
        self._drain()

    @rule(hours=st.integers(1, 24 * 21))
    def time_passes(self, hours: int) -> None:
        """Hours to three weeks go by; the workflow wakes and fires what is due."""
        self.now += timedelta(hours=hours)
        self._fire_due()

    @precondition(lambda self: self.life.next_deadline() is not None)
    @rule()
    def the_next_deadline_comes(self) -> None:
        """Wake exactly at the next deadline, as the workflow's timer does."""
        next_at = self.life.next_deadline()
        assert next_at is not None
        self.now = max(self.now, next_at)
        self._fire_due()

    def _fire_due(self) -> None:
        self.life.fire_due(self.now)
        self._drain()
        # Whatever was due has fired: the workflow's next timer is in the future, never a busy loop.
        next_at = self.life.next_deadline()
        assert next_at is None or next_at > self.now, f"after firing at {self.now} a deadline is still due: {next_at}"

    @rule(data=st.data(), rule_=st.sampled_from(DECISION_RULES))
    def anyone_decides_anything(self, data: st.DataObject, rule_: DecisionRule) -> None:
        """Any decision from anyone, on any action id, with any content: the only way here to
        decline or withdraw, which end the run, so that most runs go on to the later stages."""
        self._try(data.draw(decision_strategy(self.now.date(), rule_.payload)))

    @rule(data=st.data())
    def someone_takes_an_offered_decision(self, data: st.DataObject) -> None:
        """A decision some page shows now (other than closing), with drawn content."""
        self._take_offered(data, {rule.name for rule in DECISION_RULES} - CLOSING)

    @rule(data=st.data())
    def the_work_moves_forward(self, data: st.DataObject) -> None:
        """Steers towards the later stages: an offered decision that moves the lifecycle on."""
        self._take_offered(data, FORWARD)

    def _take_offered(self, data: st.DataObject, names: set[str]) -> None:
        offered = {
            (person, offer.name, offer.action_id)
            for person in PEOPLE
            for offer in open_decisions(self.life, person, self.now)
            if offer.name in names
        }
        if not offered:
            return
        # The decision first, then who and on what: a sponsor's many forms do not crowd out the rest.
        name = data.draw(st.sampled_from(sorted({n for _, n, _ in offered})))
        person, _, action_id = data.draw(st.sampled_from(sorted((o for o in offered if o[1] == name), key=str)))
        payload = RULE_NAMED[name].payload
        self._try(data.draw(decision_strategy(self.now.date(), payload, by=person, action_id=action_id)))

    @rule(parties=parties_strategy())
    def the_registry_changes(self, parties: Parties) -> None:
        """The registry sync's update: checked (refused when nothing changes), then applied."""
        change = UpdatePartiesInput(by="registry-sync", parties=parties, summary="registry edited")
        before = self.life.state.model_dump()
        try:
            self.life.check_update_parties(change, self.now)
        except DecisionRefused:
            assert self.life.state.model_dump() == before, "a refused registry change changed the state"
            return
        self.life.apply_update_parties(change, self.now)
        self._drain()

    @precondition(lambda self: bool(self.sent))
    @rule(data=st.data())
    def a_message_bounces(self, data: st.DataObject) -> None:
        """Any message ever queued bounces for one of its recipients, as a delivery reports it."""
        notification = data.draw(st.sampled_from(self.sent))
        recipient = data.draw(st.sampled_from(notification.recipients))
        delivery = MailDelivery(workflow_id=WORKFLOW_ID, notification=notification, recipient=recipient)
        result = MailDeliveryResult(status="bounced", message_id=f"<{notification.key}>", smtp_code=550)
        self.life.mail_bounced(delivery, result, self.now)
        self._drain()

    @rule()
    def the_run_continues_as_new(self) -> None:
        """The state crosses to a new run as JSON (Temporal's payloads), and the rules go on from it."""
        carried = f.start().model_copy(update={"state": self.life.state}).model_dump_json()
        before = (self.life.state.model_dump(), self.life.pending_deadlines())
        self.life = Lifecycle.begin(
            RecommendationInput.model_validate_json(carried), workflow_id=WORKFLOW_ID, now=self.now
        )
        assert (self.life.state.model_dump(), self.life.pending_deadlines()) == before

    @rule(kind=st.sampled_from(["mail_failed", "store_refused"]), subject=st.sampled_from([f.OWNER, "store"]))
    def an_effect_has_a_problem(self, kind: str, subject: str) -> None:
        """An effect reports a problem; a repeat only counts, with no new version."""
        version = self.life.state.version
        new = self.life.problem(kind, subject, "refused", self.now)
        assert new or self.life.state.version == version, "a repeated problem made a new version"
        self._drain()

    # --- invariants ------------------------------------------------------------------------

    @invariant()
    def the_timeline_only_grows_in_order(self) -> None:
        state = self.life.state
        seqs = [event.seq for event in state.timeline]
        assert seqs == sorted(set(seqs)), "timeline seqs are not strictly increasing"
        assert not seqs or seqs[-1] == state.seq
        times = [event.at for event in state.timeline]
        assert times == sorted(times) and (not times or times[-1] <= self.now)
        assert len(seqs) >= self.events, "timeline events were lost"
        assert state.version >= self.version, "the version went back"
        self.version, self.events = state.version, len(seqs)

    @invariant()
    def a_closed_recommendation_has_no_deadlines(self) -> None:
        if self.life.closed:
            assert self.life.next_deadline() is None

    @invariant()
    def the_status_answers_and_agrees_with_the_timer(self) -> None:
        status = self.life.status(self.now)
        assert (status.next_deadline.at if status.next_deadline else None) == self.life.next_deadline()

    @invariant()
    def the_cascade_stage_waits_only_for_agencies_still_silent(self) -> None:
        """In ``cascade`` the plans are signed off and some agency has yet to confirm; an agency
        is overdue only once the silence ladder has fired."""
        state = self.life.state
        if state.stage is Stage.cascade:
            assert state.sign_off is not None and self.life.unconfirmed_cascade()
        for view in self.life.cascade_views():
            assert (view.status is CascadeStatus.overdue) == (view.reached is None and bool(state.cascade_ladder))

    @invariant()
    def no_reading_is_owed_unasked(self) -> None:
        """A reading owed by now has been asked for (its ladder fired): none is overlooked."""
        if self.life.closed:
            return
        for measure in self.life.state.measures:
            if measure.reading_due_on is None:
                continue
            assert deadline_at(measure.reading_due_on) > self.now or measure.reading_ladder, (
                f"the reading of {measure.measure_id} owed on {measure.reading_due_on} was never asked for"
            )

    @invariant()
    def what_is_offered_may_be_taken_and_asking_changes_nothing(self) -> None:
        before = self.life.state.model_dump()
        for person in PEOPLE:
            for offer in open_decisions(self.life, person, self.now):
                self.life.may(RULE_NAMED[offer.name], person, offer.action_id, self.now)  # must not refuse
        assert self.life.state.model_dump() == before, "asking what is open changed the state"


LifecycleMachine.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=30,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
TestLifecycleMachine = LifecycleMachine.TestCase
