"""Sample data: a recommendation of the example partnership, its board's policy, parties and
registry. The tests use it (as ``tests.factories``) and so do the benchmarks, which must not import
the tests."""

from __future__ import annotations

from datetime import date, timedelta

from models.payloads import (
    ActionSpec,
    AuditPlan,
    CascadeStep,
    Direction,
    DisseminationPlan,
    EscalationPolicy,
    MeasureSpec,
    MeasureUnit,
    Parties,
    Priority,
    Recommendation,
    RecommendationInput,
    SourceKind,
)
from store.tables import Agency, Board, Person

SPONSOR = "review.sponsor@mk.example"
CHAIR = "review.chair@mk.example"
ASSURANCE = "scrutineer@mk.example"
AUDITOR = "audit.lead@mk.example"
OWNER = "named.nurse@icb.example"
OWNER_2 = "di.lead@police.example"
NEW_OWNER = "deputy.nurse@icb.example"
ICB_LEAD = "safeguarding.lead@icb.example"
POLICE_LEAD = "safeguarding.lead@police.example"
STRANGER = "someone@elsewhere.example"
# Reports the impact measure; named nowhere else, so the tests' counts of others' mail hold.
REPORTER = "performance.lead@icb.example"

ICB = "BLMK Integrated Care Board"
POLICE = "Thames Valley Police"


def parties() -> Parties:
    return Parties(
        board_sponsors=[SPONSOR],
        board_chair=CHAIR,
        assurance_members=[ASSURANCE],
        auditors=[AUDITOR],
        agency_leads={ICB: ICB_LEAD, POLICE: POLICE_LEAD},
    )


def registry_rows() -> tuple[list[Agency], list[Person], list[Board]]:
    """The registry that ``parties()`` and the owners here come from, for tests whose decisions the
    edges check against the store."""
    agencies = [
        Agency(name=ICB, safeguarding_lead_email=ICB_LEAD),
        Agency(name=POLICE, safeguarding_lead_email=POLICE_LEAD),
    ]
    people = [
        Person(email=SPONSOR, roles="board_sponsor:Review Board"),
        Person(email=CHAIR, roles="board_chair:Review Board"),
        Person(email=ASSURANCE, roles="assurance_member"),
        Person(email=AUDITOR, roles="auditor"),
        *(Person(email=e, roles="owner") for e in (OWNER, OWNER_2, NEW_OWNER)),
        Person(email=REPORTER, roles="owner", agency=ICB),
        Person(email=ICB_LEAD, roles="agency_lead", agency=ICB),
        Person(email=POLICE_LEAD, roles="agency_lead", agency=POLICE),
    ]
    boards = [Board(name="Review Board", sponsor_email=SPONSOR, chair_email=CHAIR)]
    return agencies, people, boards


def action(action_id: str, due: date, *, owner: str = OWNER, agency: str = ICB) -> ActionSpec:
    return ActionSpec(
        action_id=action_id,
        description="Refresh the professionals' meeting guidance and brief every team",
        agency=agency,
        owner=owner,
        due=due,
        success_measure="90% of sampled cases show a professionals' meeting where thresholds were met",
    )


def two_actions(due: date, second_due: date | None = None) -> list[ActionSpec]:
    """A1 for the ICB's named nurse and A2 for the police, the pair most tests use."""
    return [action("A1", due), action("A2", second_due or due, owner=OWNER_2, agency=POLICE)]


def recommendation(ref: str = "CSPR-2023-01") -> Recommendation:
    return Recommendation(
        ref=ref,
        title="Professionals' meetings are held whenever concerns escalate",
        source_kind=SourceKind.cspr,
        source_title="Child Safeguarding Practice Review: Child T",
        source_date=date(2023, 3, 14),
        board="Review Board",
        priority=Priority.high,
    )


MEASURE_ID = "M1"


def measure(
    measure_id: str = MEASURE_ID,
    *,
    baseline_on: date = date(2023, 3, 14),
    target_by: date = date(2024, 3, 14),
    every: str = "P1Y",
    direction: Direction = Direction.up,
    baseline: float = 60,
    target: float = 90,
    reporter: str = REPORTER,
    unit: MeasureUnit = MeasureUnit.percent,
) -> MeasureSpec:
    """Professionals' meetings held in qualifying cases, from 60% to 90%. By default its target
    date (and so its last reading owed) has passed, so that most tests' ladders stay the actions'
    own whatever the test server's clock says; the measures' tests set their own dates."""
    return MeasureSpec(
        measure_id=measure_id,
        name="Qualifying cases with a professionals' meeting held",
        unit=unit,
        direction=direction,
        baseline=baseline,
        baseline_on=baseline_on,
        target=target,
        target_by=target_by,
        reporter=reporter,
        every=every,
    )


def start(
    ref: str = "CSPR-2023-01",
    *,
    actions: list[ActionSpec] | None = None,
    policy: EscalationPolicy | None = None,
    continue_as_new_after: int = 10_000,
    measures: list[MeasureSpec] | None = None,
) -> RecommendationInput:
    """A recommendation as most tests start it; with the measure ``M1`` unless told otherwise (the
    audit plan of ``credible_plans`` names it)."""
    return RecommendationInput(
        recommendation=recommendation(ref),
        policy=policy or EscalationPolicy(),
        parties=parties(),
        actions=actions or [],
        measures=[measure()] if measures is None else measures,
        continue_as_new_after=continue_as_new_after,
    )


ICB_REACH = 120
POLICE_REACH = 80


def cascade_steps() -> list[CascadeStep]:
    """The learning to the ICB's health visitors and the police's safeguarding teams, each
    confirmed by the agency's safeguarding lead."""
    return [
        CascadeStep(agency=ICB, staff_group="health visitors and school nurses", expected_reach=ICB_REACH),
        CascadeStep(agency=POLICE, staff_group="child abuse investigation officers", expected_reach=POLICE_REACH),
    ]


def credible_plans(today: date) -> tuple[DisseminationPlan, AuditPlan]:
    dissemination = DisseminationPlan(
        audiences=["health visitors", "school nurses", "police safeguarding teams"],
        channels=["7-minute briefing", "team meetings", "partnership newsletter"],
        socialisation="Supervisors check the guidance in monthly case supervision for six months",
        owner=OWNER,
        starts=today + timedelta(days=7),
        ends=today + timedelta(days=90),
        cascade=cascade_steps(),
        cascade_by=today + timedelta(days=120),
    )
    audit = AuditPlan(
        method="Multi-agency case file audit of 20 cases, with practitioner interviews",
        auditor=AUDITOR,
        audit_on=today + timedelta(days=180),
        success_measures=["professionals' meeting held in 90% of qualifying cases"],
        measures=[MEASURE_ID],
    )
    return dissemination, audit
