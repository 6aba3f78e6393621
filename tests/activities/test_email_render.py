"""Email rendering: every notification kind, for every reader, against contexts the lifecycle really makes."""

from __future__ import annotations

import copy
import functools
import hashlib
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from jinja2 import UndefinedError
from markupsafe import escape

from activities.mail.people_render import PEOPLE_KINDS
from activities.mail.render import (
    KINDS,
    TEMPLATES_DIR,
    RenderedEmail,
    gap_groups,
    header_safe,
    render,
    render_sign_in,
    uk_date,
    why,
)
from activities.mail.return_render import RETURN_KINDS
from activities.mail.review_render import REVIEW_KINDS
from models import deadlines as deadlines_module
from models import lifecycle as lifecycle_module
from models import measure_decisions as measure_decisions_module
from models.deadlines import ESCALATION_KIND, OWNER_RUNG_KIND
from models.lifecycle import Lifecycle
from models.payloads import (
    SIGN_IN_KIND,
    AcknowledgeInput,
    ActionSpec,
    AgreeActionsInput,
    AuditPlan,
    CascadeStep,
    CompleteActionInput,
    ConfirmCascadeInput,
    DecideExtensionInput,
    DeclineInput,
    Direction,
    DisseminationPlan,
    ImportedAction,
    ImportedProgress,
    ImportedReading,
    MailDelivery,
    MailDeliveryResult,
    MeasureSpec,
    MeasureUnit,
    Notification,
    ReassignOwnerInput,
    RecordAuditInput,
    RecordBoardDecisionInput,
    RecordReadingInput,
    RemindOwnerInput,
    RequestExtensionInput,
    SignOffInput,
    SubmitPlansInput,
    WithdrawInput,
)
from tests import factories as f

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)
SENT_ON = date(2026, 3, 2)
COUNCIL = "Milton Keynes City Council children's services"  # an agency with no safeguarding lead on record
REMEDIAL_OWNER = "practice.lead@council.example"
HOSTILE = "<script>alert(1)</script> \"quoted\" & 'single'"
INJECTION = "Ordinary title\r\nBcc: evil@example.com"
NON_ASCII = "Siân Ó Briain — Łódź naïve café"
# One person leads the cascade for two of the council's services.
ADULTS = "Milton Keynes City Council adult social care"
COUNCIL_LEAD = "safeguarding.lead@council.example"
SHORT_NOTE = "Two locality teams were on a training freeze in March."
# The measures' recommendation: a second reporter, for the measure nobody has counted yet.
MEASURES_REF = "CSPR-2025-06"
REPORTER_2 = "performance.analyst@police.example"
# Kinds made outside the lifecycle: the board digest, and the fresh link the web app asks for.
DELIVERY_KINDS = {"board_digest", "fresh_link"}


def link_for(recipient: str, key: str = "") -> str:
    """A stand-in for the signed personal link the delivery code makes."""
    token = hashlib.sha256(f"{recipient}|{key}".encode()).hexdigest()[:16]
    return f"https://assure.example.org/r/tok{token}"


# --- driving the lifecycle ----------------------------------------------------------------


def _run(life: Lifecycle, start: datetime, end: datetime) -> None:
    """Wake the lifecycle every morning from ``start`` to ``end``, as the workflow's timers would."""
    day = start
    while day <= end:
        life.fire_due(day)
        day += timedelta(days=1)


def _days(n: int) -> timedelta:
    return timedelta(days=n)


def _main_life() -> Lifecycle:
    """One recommendation from review to assured: every reminder, escalation and decision on the way."""
    life = Lifecycle.begin(f.start("CSPR-2023-01"), workflow_id="recommendation-CSPR-2023-01", now=NOW)
    _run(life, NOW, NOW + _days(75))  # actions not agreed: reminder, sponsoring board, Assurance Board
    t1 = NOW + _days(76)
    actions = [
        f.action("A1", t1.date() + _days(100), owner=f.OWNER, agency=f.ICB),
        f.action("A2", t1.date() + _days(45), owner=f.OWNER_2, agency=f.POLICE),
    ]
    life.apply(AgreeActionsInput(by=f.SPONSOR, actions=actions), t1)
    life.apply(AcknowledgeInput(by=f.OWNER_2, action_id="A2"), t1 + _days(1))
    _run(life, t1, t1 + _days(19))  # A1 never acknowledged: reminder, agency lead, sponsoring board
    new_due = t1.date() + _days(120)
    reason = "The guidance needs sign-off from the LSCP business group, which next meets in July."
    life.apply(
        RequestExtensionInput(by=f.OWNER, action_id="A1", new_due=new_due, reason=reason),
        t1 + _days(20),
    )
    life.apply(
        DecideExtensionInput(by=f.SPONSOR, action_id="A1", approve=True, note="Agreed; no further extension."),
        t1 + _days(21),
    )
    life.apply(
        ReassignOwnerInput(by=f.SPONSOR, action_id="A1", new_owner=f.NEW_OWNER, reason="Named nurse on leave."),
        t1 + _days(25),
    )
    _run(life, t1 + _days(20), t1 + _days(59))  # A2: progress request, due reminder, overdue, agency lead
    life.apply(
        RequestExtensionInput(
            by=f.OWNER_2, action_id="A2", new_due=t1.date() + _days(130), reason="Training slots are full."
        ),
        t1 + _days(60),
    )
    life.apply(
        DecideExtensionInput(by=f.CHAIR, action_id="A2", approve=False, note="Run an extra session instead."),
        t1 + _days(61),
    )
    _run(life, t1 + _days(60), t1 + _days(90))  # A2 reaches the Assurance Board
    life.apply(
        RemindOwnerInput(by=f.SPONSOR, action_id="A2", note="Please send the training dates by Friday."),
        t1 + _days(90),
    )
    life.apply(
        RecordBoardDecisionInput(
            by=f.CHAIR, action_id="A2", decision="Extra training sessions funded; report monthly."
        ),
        t1 + _days(90),
    )
    t2 = t1 + _days(91)
    for action_id, owner in (("A1", f.NEW_OWNER), ("A2", f.OWNER_2)):
        evidence = "Guidance published; 14 of 15 teams briefed."
        life.apply(CompleteActionInput(by=owner, action_id=action_id, evidence=evidence), t2)
    _run(life, t2, t2 + _days(75))  # plans not submitted: reminder, agency lead, boards
    t3 = t2 + _days(76)
    thin = SubmitPlansInput(
        by=f.NEW_OWNER, dissemination=DisseminationPlan(audiences=["health visitors"]), audit=AuditPlan()
    )
    life.apply(thin, t3)
    dissemination, audit = f.credible_plans(t3.date())
    life.apply(SubmitPlansInput(by=f.NEW_OWNER, dissemination=dissemination, audit=audit), t3)
    life.apply(SignOffInput(by=f.ASSURANCE, note="Credible plans."), t3 + _days(1))
    assert audit.audit_on is not None
    audit_on = datetime.combine(audit.audit_on, NOW.time(), tzinfo=UTC)
    _run(life, t3 + _days(1), audit_on + _days(15))  # the audit is late: reminder, sponsoring board
    t4 = audit_on + _days(16)
    remedial = ActionSpec(
        action_id="R1",
        description="Add professionals' meetings to the supervision checklist",
        agency=COUNCIL,
        owner=REMEDIAL_OWNER,
        due=t4.date() + _days(30),
        success_measure="Checklist in use in every team",
    )
    findings = "Meetings were held in 11 of 20 cases.\nPractitioners knew the guidance but not the threshold."
    life.apply(
        RecordAuditInput(
            by=f.AUDITOR,
            outcome="not_embedded",
            findings=findings,
            remedial_actions=[remedial],
            re_audit_on=t4.date() + _days(60),
        ),
        t4,
    )
    _run(life, t4, t4 + _days(61))
    t5 = t4 + _days(62)
    second = remedial.model_copy(update={"action_id": "R2", "owner": f.OWNER_2, "agency": f.POLICE})
    life.apply(
        RecordAuditInput(
            by=f.AUDITOR,
            outcome="partially_embedded",
            findings="Better, but not yet in every team.",
            remedial_actions=[second],
            re_audit_on=t5.date() + _days(40),
        ),
        t5,
    )
    _run(life, t5, t5 + _days(40))
    life.apply(RecordAuditInput(by=f.AUDITOR, outcome="embedded"), t5 + _days(41))
    return life


def _declined_life() -> Lifecycle:
    """A recommendation the sponsoring board declines while its action is open."""
    start = f.start("SAR-2022-03", actions=[f.action("B1", NOW.date() + _days(60))])
    life = Lifecycle.begin(start, workflow_id="recommendation-SAR-2022-03", now=NOW)
    life.apply(DeclineInput(by=f.SPONSOR, reason="Superseded by the national review."), NOW + _days(1))
    return life


def _withdrawn_life() -> Lifecycle:
    """Actions imported late (one already overdue), one at an agency with no lead; two bounces; withdrawn."""
    actions = [
        f.action("X1", NOW.date() + _days(3), owner=f.OWNER_2, agency=COUNCIL),
        f.action("X2", NOW.date() - _days(30), owner=f.OWNER, agency=f.ICB),
    ]
    life = Lifecycle.begin(f.start("DHR-2021-07", actions=actions), workflow_id="recommendation-DHR-2021-07", now=NOW)
    _run(life, NOW, NOW + _days(12))
    # Two messages bounce for good: an owner's new task, and an agency lead's copy of an escalation.
    outbox = life.state.outbox
    task = next(n for n in outbox if n.kind == "task_assigned" and n.action_id == "X1")
    copied = next(n for n in outbox if f.ICB_LEAD in n.recipients)
    for notification, recipient in ((task, f.OWNER_2), (copied, f.ICB_LEAD)):
        delivery = MailDelivery(workflow_id=life.workflow_id, notification=notification, recipient=recipient)
        result = MailDeliveryResult(status="bounced", message_id="<m@x>", smtp_code=550, detail="no such user")
        life.mail_bounced(delivery, result, NOW + _days(12))
    life.apply(WithdrawInput(by=f.ASSURANCE, reason="Merged into CSPR-2023-01."), NOW + _days(13))
    return life


def _imported_life() -> Lifecycle:
    """An action log imported with one action already under way: its owner is not asked to acknowledge."""
    start = f.start("LR-2022-11", actions=[f.action("C1", NOW.date() + _days(60))])
    progress = ImportedProgress(actions=[ImportedAction(action_id="C1", status="acknowledged")])
    start = start.model_copy(update={"imported": progress})
    return Lifecycle.begin(start, workflow_id="recommendation-LR-2022-11", now=NOW)


def _cascade_life() -> Lifecycle:
    """A cascade to three agencies, two of them led by one person: the ICB confirms below the
    threshold, the council's children's services confirm, its adult social care never does."""
    start = f.start("CSPR-2024-02", actions=[f.action("C1", NOW.date() + _days(30))])
    agency_leads = {**start.parties.agency_leads, COUNCIL: COUNCIL_LEAD, ADULTS: COUNCIL_LEAD}
    start = start.model_copy(update={"parties": start.parties.model_copy(update={"agency_leads": agency_leads})})
    life = Lifecycle.begin(start, workflow_id="recommendation-CSPR-2024-02", now=NOW)
    t1 = NOW + _days(10)
    dissemination, audit = f.credible_plans(t1.date())
    steps = [
        *f.cascade_steps()[:1],
        CascadeStep(agency=COUNCIL, staff_group="children's social workers", expected_reach=50),
        CascadeStep(agency=ADULTS, staff_group="adult social workers", expected_reach=40),
    ]
    decisions = [
        (NOW + _days(1), AcknowledgeInput(by=f.OWNER, action_id="C1")),
        (NOW + _days(5), CompleteActionInput(by=f.OWNER, action_id="C1", evidence="Guidance published.")),
        (
            t1,
            SubmitPlansInput(
                by=f.OWNER, dissemination=dissemination.model_copy(update={"cascade": steps}), audit=audit
            ),
        ),
        (t1 + _days(1), SignOffInput(by=f.ASSURANCE)),
        (
            t1 + _days(20),
            ConfirmCascadeInput(
                by=f.ICB_LEAD,
                agency=f.ICB,
                reached=70,
                channels=["7-minute briefing"],
                done_on=t1.date() + _days(19),
                note=SHORT_NOTE,
            ),
        ),
        (
            t1 + _days(25),
            ConfirmCascadeInput(
                by=COUNCIL_LEAD, agency=COUNCIL, reached=52, channels=["team meetings"], done_on=t1.date() + _days(24)
            ),
        ),
    ]
    for at, decision in decisions:
        life.check(decision, at)
        life.apply(decision, at)
    assert audit.audit_on is not None
    _run(life, t1 + _days(25), datetime.combine(audit.audit_on, NOW.time(), tzinfo=UTC))
    return life


def measure_specs() -> list[MeasureSpec]:
    """Three measures read every quarter or half-year: M1 rising to a target, M2 (days) falling to
    one, and M3 with no baseline or target yet, reported by someone else."""
    baseline_on, target_by = date(2025, 12, 1), date(2026, 12, 1)
    return [
        f.measure(every="P3M", baseline_on=baseline_on, target_by=target_by),
        MeasureSpec(
            measure_id="M2",
            name="Days to complete an initial sentence plan",
            unit=MeasureUnit.days,
            direction=Direction.down,
            baseline=22,
            baseline_on=baseline_on,
            target=15,
            target_by=target_by,
            reporter=f.REPORTER,
            every="P3M",
        ),
        MeasureSpec(
            measure_id="M3",
            name="Health visiting records with the voice of the child",
            unit=MeasureUnit.count_,
            direction=Direction.up,
            reporter=REPORTER_2,
            every="P6M",
        ),
    ]


def _measures_life() -> Lifecycle:
    """A recommendation with measures, to its audit: M1 was off track when imported and stays so,
    its June reading comes in late (escalated to both boards); M2 is on track and on time; M3's
    first reading never comes."""
    start = f.start(MEASURES_REF, actions=[f.action("C1", NOW.date() + _days(30))], measures=measure_specs())
    start = start.model_copy(
        update={"readings": [ImportedReading(measure_id="M1", value=62, on=date(2026, 1, 15), note="December audit")]}
    )
    life = Lifecycle.begin(start, workflow_id=f"recommendation-{MEASURES_REF}", now=NOW)
    t1 = NOW + _days(10)
    dissemination, audit = f.credible_plans(t1.date())
    decisions = [
        (NOW + _days(1), RecordReadingInput(by=f.REPORTER, measure_id="M2", value=19, on=date(2026, 3, 1))),
        (NOW + _days(1), AcknowledgeInput(by=f.OWNER, action_id="C1")),
        (NOW + _days(5), CompleteActionInput(by=f.OWNER, action_id="C1", evidence="Guidance published.")),
        (t1, SubmitPlansInput(by=f.OWNER, dissemination=dissemination, audit=audit)),
        (t1 + _days(1), SignOffInput(by=f.ASSURANCE)),
        *(
            (
                t1 + _days(20),
                ConfirmCascadeInput(by=lead, agency=agency, reached=reach, done_on=t1.date() + _days(19)),
            )
            for lead, agency, reach in ((f.ICB_LEAD, f.ICB, f.ICB_REACH), (f.POLICE_LEAD, f.POLICE, f.POLICE_REACH))
        ),
    ]
    for at, decision in decisions:
        life.check(decision, at)
        life.apply(decision, at)
    _run(life, t1 + _days(20), datetime(2026, 6, 3, 9, tzinfo=UTC))
    on_time = RecordReadingInput(by=f.REPORTER, measure_id="M2", value=17, on=date(2026, 6, 2), note="42 plans")
    late_reading = RecordReadingInput(by=f.REPORTER, measure_id="M1", value=70, on=date(2026, 7, 20))
    for at, decision in ((datetime(2026, 6, 3, 10, tzinfo=UTC), on_time), (None, late_reading)):
        if at is None:
            _run(life, datetime(2026, 6, 4, 9, tzinfo=UTC), datetime(2026, 7, 20, 9, tzinfo=UTC))
            at = datetime(2026, 7, 20, 10, tzinfo=UTC)
        life.check(decision, at)
        life.apply(decision, at)
    assert audit.audit_on is not None
    _run(life, datetime(2026, 7, 21, 9, tzinfo=UTC), datetime.combine(audit.audit_on, NOW.time(), tzinfo=UTC))
    return life


@functools.cache
def measures_life() -> Lifecycle:
    return _measures_life()


@functools.cache
def lifecycle_notifications() -> tuple[Notification, ...]:
    """Every notification a few lifecycles emit between them: each kind the lifecycle knows, many readers."""
    lives = (_main_life(), _declined_life(), _withdrawn_life(), _imported_life(), _cascade_life(), measures_life())
    return tuple(n for life in lives for n in life.state.outbox)


def _hand_built() -> list[Notification]:
    """The board digest, which the delivery code emits, with its context shaped as it builds it,
    and fresh links as the web app makes them: for an action's owner and for a board sponsor."""
    escalations = _by_kind(lifecycle_notifications())["board_escalation"][:3]
    items = [{**copy.deepcopy(n.context), "kind": n.kind, "link": link_for(f.SPONSOR, n.key)} for n in escalations]
    digest = {"board": "Review Board", "day": "2026-06-05", "items": items}
    return [
        Notification(
            key="k/digest", kind="board_digest", recipients=[f.SPONSOR, f.CHAIR], context=digest, created_at=NOW
        ),
        *_fresh_links(),
    ]


def _fresh_links() -> list[Notification]:
    from web.fresh_links import fresh_link_notification

    status = _main_life().status(NOW)
    action = status.actions[0]
    return [
        fresh_link_notification(status, action.owner, "owner", action.action_id, now=NOW),
        fresh_link_notification(status, f.SPONSOR, "sponsor", None, now=NOW),
        fresh_link_notification(measures_life().status(NOW), f.REPORTER, "reporter", None, now=NOW),
    ]


def _by_kind(notifications: tuple[Notification, ...] | list[Notification]) -> dict[str, list[Notification]]:
    grouped: dict[str, list[Notification]] = {}
    for n in notifications:
        grouped.setdefault(n.kind, []).append(n)
    return grouped


@functools.cache
def all_notifications() -> dict[str, list[Notification]]:
    return _by_kind([*lifecycle_notifications(), *_hand_built()])


def readings(kind: str) -> list[tuple[Notification, str]]:
    """Every (notification, recipient) pair of one kind."""
    return [(n, r) for n in all_notifications()[kind] for r in n.recipients]


def sample(kind: str) -> tuple[dict[str, Any], str]:
    """One context of ``kind`` (a deep copy, free to spoil) and its first reader."""
    n = all_notifications()[kind][0]
    return copy.deepcopy(n.context), n.recipients[0]


def rendered(
    kind: str, context: dict[str, Any], recipient: str, link: str | None = "default", sent_on: date = SENT_ON
) -> RenderedEmail:
    return render(
        kind,
        context,
        recipient=recipient,
        link=link_for(recipient, kind) if link == "default" else link,
        sent_on=sent_on,
    )


ALL_KINDS = sorted(KINDS)
URL = re.compile(r"https?://[^\s\"'<>]+")


def _lifecycle_kinds() -> set[str]:
    """Every kind the lifecycle can emit, read from its sources and its ladder tables."""
    modules = (lifecycle_module, deadlines_module, measure_decisions_module)
    source = "".join(Path(module.__file__).read_text() for module in modules)
    named = set(re.findall(r"_notify\(\s*now,\s*MessageKind\.(\w+)", source))
    return named | set(OWNER_RUNG_KIND.values()) | set(ESCALATION_KIND.values())


def _spoil(value: Any, text: str, *, keep: Callable[[str], bool]) -> Any:
    """Every free-text string in a context replaced by ``text``; ids, emails, dates and codes kept."""
    if isinstance(value, dict):
        return {k: v if keep(k) else _spoil(v, text, keep=keep) for k, v in value.items()}
    if isinstance(value, list):
        return [_spoil(v, text, keep=keep) for v in value]
    return text if isinstance(value, str) else value


_KEPT_KEYS = {
    "ref", "roles", "thread", "stage", "priority", "source_kind", "action_id", "owner", "due", "new_due", "about",
    "skipped_levels", "audit_on", "re_audit_on", "outcome", "unreachable", "bounced_kind", "kind", "link", "day",
    "lead", "status", "cascade_by", "done_on", "confirmed_by", "on_behalf_of",
    "measure_id", "unit", "direction", "on_track", "every", "reporter", "baseline_on", "target_by", "reading_due_on",
    "on", "by", "deadline", "next_step_on", "next_level",
}  # fmt: skip
# What a reader should never see: an internal name (snake_case), a raw ISO date, a UTC time.
INTERNAL = re.compile(r"\b[a-z]+_[a-z_]+\b|\d{4}-\d{2}-\d{2}|UTC")


def _keep(key: str) -> bool:
    return key in _KEPT_KEYS


# --- tests --------------------------------------------------------------------------------


class TestKinds:
    def test_the_templates_on_disk_are_exactly_one_html_and_one_text_per_kind(self):
        """Every kind (and the dashboard's sign-in email, a review's clock emails, a return's and people's) has
        <kind>.html and <kind>.txt, and no template exists for a kind that is not known."""
        pages = [p for p in TEMPLATES_DIR.iterdir() if not p.name.startswith(("_", "base."))]
        kinds = [*KINDS, SIGN_IN_KIND, *REVIEW_KINDS, *RETURN_KINDS, *PEOPLE_KINDS]
        assert sorted(f"{k}.{ext}" for k in kinds for ext in ("html", "txt")) == sorted(p.name for p in pages)

    def test_the_sign_in_email_carries_its_link_and_names_no_recommendation(self):
        link = "https://assure.example/sign-in/abc.def"
        rendered = render_sign_in(recipient="chair@mk.example", link=link, minutes=30)
        assert rendered.subject == "Your link to sign in to Assure"
        assert link in rendered.text and f'href="{link}"' in rendered.html
        assert "works once, only for you, for the next 30 minutes" in rendered.text
        assert "Recommendation" not in rendered.text and "THE RECOMMENDATION" not in rendered.text
        with pytest.raises(ValueError):
            render_sign_in(recipient="chair@mk.example", link='https://x/"><script>', minutes=30)

    def test_every_kind_the_lifecycle_can_emit_has_templates(self):
        """The kinds the lifecycle names, plus the delivery code's two, are exactly the known kinds."""
        assert sorted(KINDS) == sorted(_lifecycle_kinds() | DELIVERY_KINDS)

    def test_the_driven_lifecycles_emit_every_lifecycle_kind(self):
        """The test lifecycles reach every kind, so every template is tested against a real context."""
        assert sorted(_lifecycle_kinds()) == sorted({n.kind for n in lifecycle_notifications()})

    def test_an_unknown_kind_is_named_in_the_error(self):
        """Rendering a kind without templates raises KeyError naming the kind."""
        context, recipient = sample("task_assigned")
        with pytest.raises(KeyError, match="'carrier_pigeon'"):
            render("carrier_pigeon", context, recipient=recipient, link=None, sent_on=SENT_ON)

    def test_a_missing_context_key_fails_loudly(self):
        """A context without a key its templates use raises instead of rendering a blank."""
        context, recipient = sample("task_assigned")
        del context["due"]
        with pytest.raises(UndefinedError):
            rendered("task_assigned", context, recipient)

    def test_a_link_that_is_not_one_web_address_is_refused(self):
        """Only an http(s) URL without spaces or quotes may become the button's target."""
        context, recipient = sample("task_assigned")
        for bad in ("javascript:alert(1)", 'https://x.example/"onmouseover="alert(1)', "https://x.example/a b"):
            with pytest.raises(ValueError, match="link"):
                rendered("task_assigned", context, recipient, link=bad)


@pytest.mark.parametrize("kind", ALL_KINDS)
class TestEveryKindForEveryReader:
    def test_it_renders_with_the_ref_first_in_the_subject(self, kind):
        """Subject, text and HTML are non-empty and the subject starts with the recommendation's ref."""
        for n, recipient in readings(kind):
            email = rendered(kind, n.context, recipient)
            refs = [i["ref"] for i in n.context["items"]] if kind == "board_digest" else [n.context["ref"]]
            assert all((email.subject, email.text.strip(), email.html.strip()))
            assert email.subject.startswith(f"[{refs[0]}")
            assert all(ref in email.subject for ref in refs)

    def test_the_link_is_in_both_parts_when_given(self, kind):
        """The reader's personal link is the button in HTML and is written out in both parts."""
        for n, recipient in readings(kind):
            link = link_for(recipient, n.key)
            email = rendered(kind, n.context, recipient, link=link)
            assert link in email.text
            assert 2 == email.html.count(f'href="{link}"')

    def test_no_link_means_no_button(self, kind):
        """A reader without a link (an agency lead copied in) gets no button and no address."""
        for n, recipient in readings(kind):
            email = rendered(kind, n.context, recipient, link=None)
            item_links = [i["link"] for i in n.context.get("items", [])]
            assert [] == [url for url in URL.findall(email.html) if url not in item_links]
            assert [] == [url for url in URL.findall(email.text) if url not in item_links]
            assert "use your link" not in email.text

    def test_it_says_why_the_reader_gets_it(self, kind):
        """The role phrase for the reader is in both parts."""
        for n, recipient in readings(kind):
            email = rendered(kind, n.context, recipient)
            assert "You are getting this because" in email.text
            assert "You are getting this because" in email.html

    def test_the_footer_names_the_recommendation(self, kind):
        """The footer says what the message is about and that replies are not read."""
        context, recipient = sample(kind)
        email = rendered(kind, context, recipient)
        refs = [i["ref"] for i in context["items"]] if kind == "board_digest" else [context["ref"]]
        for part in (email.text, email.html):
            assert "Replies are not read" in part
            assert all(ref in part.rsplit("This message is about", 1)[1] for ref in refs)

    def test_the_html_loads_nothing_from_outside(self, kind):
        """No scripts, stylesheets, images, frames or URLs other than the given links: inline CSS only."""
        for n, recipient in readings(kind):
            link = link_for(recipient, n.key)
            html = rendered(kind, n.context, recipient, link=link).html
            allowed = {link, *(i["link"] for i in n.context.get("items", []))}
            assert set() == set(URL.findall(html)) - allowed
            for banned in ("<script", "<link", "<img", "<style", "<iframe", "@import", "url(", "@font-face"):
                assert banned not in html.lower()

    def test_no_internal_name_reaches_the_reader(self, kind):
        """Neither part shows a snake_case name, an ISO date or UTC: only words (links and addresses aside)."""
        for n, recipient in readings(kind):
            email = rendered(kind, n.context, recipient, link=None)
            for part in (email.subject, email.text):
                words_only = re.sub(r"\S+@\S+|https?://\S+", "", part)
                assert [] == INTERNAL.findall(words_only), (kind, recipient)

    def test_the_html_is_one_phone_width_column(self, kind):
        """Each HTML part is a whole document with a viewport and a single column at most 600px wide."""
        context, recipient = sample(kind)
        html = rendered(kind, context, recipient).html
        assert html.startswith("<!DOCTYPE html>")
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
        assert "max-width:600px" in html

    def test_hostile_text_is_escaped_in_html_and_kept_in_text(self, kind):
        """A title with a script and quotes shows as text in HTML, and as itself in the plain text."""
        context, recipient = sample(kind)
        for target in context.get("items", [context]):
            target["title"] = HOSTILE
        email = rendered(kind, context, recipient)
        assert "<script" not in email.html
        assert str(escape(HOSTILE)) in email.html
        assert HOSTILE in email.text

    def test_every_free_text_field_is_escaped(self, kind):
        """Board, agency, descriptions, notes, reasons, gaps and findings full of markup never reach HTML raw."""
        context, recipient = sample(kind)
        spoiled = _spoil(context, HOSTILE, keep=_keep)
        email = rendered(kind, spoiled, recipient)
        assert "<script" not in email.html
        assert "'single'" not in email.html and '"quoted"' not in email.html
        assert HOSTILE in email.text

    def test_a_title_with_a_line_break_cannot_add_a_header(self, kind):
        """CR/LF in the title (and every other field) collapse to spaces in the subject."""
        context, recipient = sample(kind)
        spoiled = _spoil(context, INJECTION, keep=_keep)
        subject = rendered(kind, spoiled, recipient).subject
        assert not re.search(r"[\r\n\x00-\x1f\x7f]", subject)

    def test_very_long_text_renders_and_the_subject_is_capped(self, kind):
        """Ten thousand characters in every free-text field render, and the subject stops at 150 with an ellipsis."""
        context, recipient = sample(kind)
        long_text = ("Lorem ipsum dolor sit amet " * 400)[:10_000]
        spoiled = _spoil(context, long_text, keep=_keep)
        email = rendered(kind, spoiled, recipient)
        assert len(email.subject) <= 150
        assert email.subject.endswith("…")
        assert long_text in email.text

    def test_non_ascii_names_render_intact(self, kind):
        """Accents, Welsh and Polish letters and dashes come through unchanged in subject, text and HTML."""
        context, recipient = sample(kind)
        spoiled = _spoil(context, NON_ASCII, keep=_keep)
        email = rendered(kind, spoiled, recipient)
        assert NON_ASCII in email.text
        assert NON_ASCII in email.html
        assert NON_ASCII in email.subject


class TestWhatTheReaderIsTold:
    def _email(self, kind: str, recipient: str, **match: Any) -> RenderedEmail:
        for n in all_notifications()[kind]:
            if recipient in n.recipients and all(n.context.get(k) == v for k, v in match.items()):
                return rendered(kind, n.context, recipient, sent_on=n.created_at.date())
        raise AssertionError(f"no {kind} notification to {recipient} with {match}")

    def test_an_owner_is_told_what_by_when_and_why(self):
        """A new task names the action, its due date in UK style, the owner's role and the next step if ignored."""
        email = self._email("task_assigned", f.OWNER_2)
        assert "Action A2 for Thames Valley Police" in email.text
        assert "ACTION DUE: Wednesday 1 July 2026" in email.text
        assert "You are getting this because you own action A2 for Thames Valley Police." in email.text
        assert (
            "IF NOTHING IS DONE\nIf the task is still not acknowledged:\n- you'll get a reminder\n"
            "- then the safeguarding lead for Thames Valley Police will be copied in\n"
            "- later, it will go on the Review Board's escalation list, and its chair will be told\n"
        ) in email.text
        assert not re.search(r"\d{4}-\d{2}-\d{2}", email.text)

    def test_a_sponsor_is_told_they_sponsor_it(self):
        """The board sponsor's role phrase names the sponsoring board."""
        email = self._email("actions_needed", f.SPONSOR)
        assert "You are getting this because you sponsor this recommendation for the Review Board." in email.text

    def test_an_overdue_notice_names_the_next_rungs(self):
        """The owner of an overdue action hears who is told next, in order, up to the Assurance Board."""
        email = self._email("overdue_notice", f.OWNER_2)
        assert "If the action is still not reported complete by " in email.text  # the next rung's date
        assert (
            ":\n"
            "- the safeguarding lead for Thames Valley Police will be copied in\n"
            "- then it will go on the Review Board's escalation list, and its chair will be told\n"
            "- later, it will be escalated to the Assurance Board\n"
        ) in email.text
        assert '<li style="margin:0 0 10px 0;padding:0;">later, it will be escalated to the Assurance Board</li>' in (
            email.html
        )

    def test_a_deadline_for_the_next_step_is_given_when_the_context_has_one(self):
        """With ``next_step_on`` in the context the consequence says by when."""
        context, recipient = sample("acknowledge_reminder")
        context["next_step_on"] = "2026-05-09"
        email = rendered("acknowledge_reminder", context, recipient)
        assert "If the task is still not acknowledged by 9 May 2026:" in email.text

    def test_the_agency_lead_is_asked_to_check_in_and_gets_no_button(self):
        """An agency lead copied in is told why and what to do, with no link to act on."""
        n = next(n for n in all_notifications()["agency_lead_copy"] if f.POLICE_LEAD in n.recipients)
        email = rendered("agency_lead_copy", n.context, f.POLICE_LEAD, link=None)
        assert "You are getting this because you are the safeguarding lead for Thames Valley Police" in email.text
        assert "Please check in with di.lead@police.example" in email.text
        assert "Decide what happens next" not in email.html

    def test_a_sponsor_is_told_when_no_agency_lead_is_on_record(self):
        """When the agency has no safeguarding lead, the sponsor copied instead is told why."""
        n = next(
            n for n in all_notifications()["agency_lead_copy"] if n.context.get("action", {}).get("agency") == COUNCIL
        )
        email = rendered("agency_lead_copy", n.context, f.SPONSOR)
        assert f"We have no safeguarding lead on record for {COUNCIL}, so you are told at this step instead." in (
            email.text
        )

    def test_an_escalation_to_the_board_offers_the_sponsor_the_choices(self):
        """The sponsoring board's escalation lists what the sponsor can do about an overdue action."""
        n = next(n for n in all_notifications()["board_escalation"] if n.context["about"] == "overdue")
        email = rendered("board_escalation", n.context, f.CHAIR)
        assert "It is now on the Review Board's escalation list" in email.text
        for choice in (
            "send them a reminder now",
            "agree a new due date if more time is reasonable, giving the reason",
            "add an action, or reassign this one to someone who can do it",
            "record the board's decision",
        ):
            assert choice in email.text
        assert "You are getting this because you chair the Review Board, which sponsors" in email.text

    def test_skipped_rungs_are_explained(self):
        """One notice for several rungs at once says so, so nobody wonders why they were not told earlier."""
        n = next(n for n in all_notifications()["board_escalation"] if n.context["skipped_levels"])
        email = rendered("board_escalation", n.context, n.recipients[0])
        assert "Several deadlines passed at once" in email.text

    def test_sign_off_refused_lists_every_gap_under_its_plan(self):
        """The submitter sees each gap the rules found, grouped by plan, as a list in both parts."""
        context, recipient = sample("sign_off_refused")
        email = rendered("sign_off_refused", context, recipient)
        assert len(context["gaps"]) > 3
        assert (
            "Dissemination, communication and socialisation plan:\n- Name the channels the learning goes out through\n"
        ) in email.text
        assert "Review and audit plan:\n- Say how the audit will test application and impact (method)\n" in email.text
        for gap in context["gaps"]:
            instruction = gap.split(": ", 1)[1]
            assert f"- {instruction[0].upper()}{instruction[1:]}\n" in email.text
            assert str(escape(instruction[1:])) in email.html

    def test_dates_inside_gaps_read_the_british_way(self):
        """A gap quoting ISO dates shows them as UK dates."""
        context, recipient = sample("sign_off_refused")
        context["gaps"] = ["audit plan: the audit date (2026-05-01) must be after dissemination ends (2026-06-30)"]
        email = rendered("sign_off_refused", context, recipient)
        assert "- The audit date (1 May 2026) must be after dissemination ends (30 June 2026)\n" in email.text

    def test_a_new_remedial_owner_is_told_they_own_it(self):
        """Someone who owns only a remedial action hears that, even before the action exists."""
        email = self._email("audit_failed", REMEDIAL_OWNER)
        assert "You are getting this because you own remedial action R1." in email.text
        assert "You own remedial action R1. It also comes to you as its own task email" in email.text
        assert "The audit found the change not embedded in everyday practice. It will be audited again on" in email.text
        assert "YOUR REMEDIAL ACTION IS DUE: Monday 14 June 2027" in email.text

    def test_the_extension_decision_says_the_date_that_now_stands(self):
        """Approved, the owner hears the new date; declined, that the old date stands."""
        approved = self._email("extension_decided", f.OWNER, approved=True)
        declined = self._email("extension_decided", f.OWNER_2, approved=False)
        assert "has agreed your extension. Action A1 is now due on 14 September 2026." in approved.text
        assert "has not agreed your extension. Action A2 is still due on 1 July 2026." in declined.text
        assert "Run an extra session instead." in declined.text

    def test_a_bounce_names_the_address_and_the_action(self):
        """The sponsor told of an owner's bounce sees which address failed, for which action, and what to do."""
        email = self._email("owner_unreachable", f.SPONSOR, unreachable=f.OWNER_2)
        assert (
            f"We could not deliver our email (a new task) to {f.OWNER_2}, the owner of action X1 ({COUNCIL})."
        ) in email.text
        assert "reassign the action to someone who can" in email.text

    def test_a_bounce_of_an_agency_lead_asks_for_the_address_to_be_fixed(self):
        """A lead's bounced copy names the lead's agency and asks for the address to be corrected, not a reassignment."""
        email = self._email("owner_unreachable", f.SPONSOR, unreachable=f.ICB_LEAD)
        assert f"to {f.ICB_LEAD}, the safeguarding lead for {f.ICB}." in email.text
        assert "reassign" not in email.text

    def test_a_digest_lists_each_escalation_with_its_own_link(self):
        """A board digest has one entry per escalation, each with its own response link."""
        context, recipient = sample("board_digest")
        email = rendered("board_digest", context, recipient, link=None)
        assert email.subject.startswith("[CSPR-2023-01] 3 escalations for the Review Board on 5 June 2026")
        for item in context["items"]:
            assert item["link"] in email.text
            assert f'href="{item["link"]}"' in email.html
        assert "You are getting this because you sponsor these recommendations for the Review Board." in email.text


class TestTheCascade:
    """The cascade's emails: each lead asked for their own agencies, the boards told who is silent."""

    def _email(self, kind: str, recipient: str, ref: str = "CSPR-2024-02", about: str | None = None) -> RenderedEmail:
        for n in all_notifications()[kind]:
            if n.context["ref"] == ref and recipient in n.recipients and about in (None, n.context.get("about")):
                return rendered(kind, n.context, recipient, sent_on=n.created_at.date())
        raise AssertionError(f"no {kind} about {about} to {recipient} on {ref}")

    def test_a_lead_of_two_agencies_is_asked_for_both(self):
        """One person leading two agencies' cascades gets one task naming both, each with its staff and target."""
        email = self._email("cascade_task", COUNCIL_LEAD)
        assert (
            "[CSPR-2024-02] Please confirm the learning reached your staff by 10 July 2026 — "
            "Professionals' meetings are held whenever concerns escalate"
        ) == email.subject
        assert f"and you lead that for {COUNCIL} and {ADULTS}." in email.text
        assert (
            "The learning to pass on:\n"
            "    Professionals' meetings are held whenever concerns escalate\n"
            "    From Child Safeguarding Practice Review: Child T\n"
        ) in email.text
        assert (
            "Who it must reach:\n"
            f"- {COUNCIL}: 50 staff (children's social workers). The plan's target: at least 40 of them (80%).\n"
            f"- {ADULTS}: 40 staff (adult social workers). The plan's target: at least 32 of them (80%).\n"
        ) in email.text
        assert "CONFIRM BY: Friday 10 July 2026" in email.text
        assert (
            f"You are getting this because you lead the cascade of this learning to the staff of {COUNCIL} and {ADULTS}."
        ) in email.text
        for html_part in (str(escape(COUNCIL)), str(escape(ADULTS)), ">Confirm the cascade</a>", "at least 32 of them"):
            assert html_part in email.html
        assert f.ICB not in email.text

    def test_a_lead_is_asked_only_for_their_own_agency(self):
        """The ICB's lead reads about the ICB's staff, not the council's, though the context lists every agency."""
        email = self._email("cascade_task", f.ICB_LEAD)
        assert f"you lead that for {f.ICB}." in email.text
        assert f"You are getting this because you lead the cascade of this learning to {f.ICB}'s staff." in email.text
        assert COUNCIL not in email.text and ADULTS not in email.text and COUNCIL_LEAD not in email.text

    def test_the_task_says_how_to_confirm_and_the_reach_threshold(self):
        """The lead hears what the confirmation asks for (number, channels, day, a note if fewer) and the threshold."""
        email = self._email("cascade_task", COUNCIL_LEAD)
        assert (
            "When you confirm, for each agency in turn, you'll be asked:\n"
            "- how many staff the learning reached\n"
            "- through which channels (the plan names 7-minute briefing, team meetings and partnership newsletter)\n"
            "- on what day it was done\n"
            "- if fewer staff were reached than planned, a short note saying why\n"
        ) in email.text
        assert "If fewer than 80% of the planned staff were reached, the boards see it flagged" in email.text

    def test_the_task_says_what_follows_silence(self):
        """Before ``cascade_by`` the lead hears the whole ladder: told on the day, then the boards."""
        email = self._email("cascade_task", COUNCIL_LEAD)
        assert (
            "IF NOTHING IS DONE\nIf it is not confirmed by 10 July 2026:\n"
            "- it becomes overdue and you'll be told\n"
            "- then it will go on the Review Board's escalation list, and its chair will be told\n"
            "- later, it will be escalated to the Assurance Board\n"
        ) in email.text

    def test_the_reminder_thanks_for_one_agency_and_asks_for_the_other(self):
        """A lead who confirmed one of their agencies is reminded only of the other, and thanked."""
        email = self._email("cascade_reminder", COUNCIL_LEAD)
        assert email.subject.startswith("[CSPR-2024-02] Reminder: confirm the learning reached your staff by 10 July")
        assert f"reached the staff of {ADULTS}. It is due on 10 July 2026." in email.text
        assert f"Thank you for confirming for {COUNCIL}." in email.text
        assert f"- {ADULTS}: 40 staff" in email.text and f"- {COUNCIL}:" not in email.text

    def test_the_overdue_notice_names_the_next_rung(self):
        """On ``cascade_by`` the silent lead is told it is overdue, and that the sponsoring board comes next."""
        email = self._email("cascade_overdue", COUNCIL_LEAD)
        assert email.subject.startswith("[CSPR-2024-02] Your cascade confirmation is overdue — ")
        assert email.text.startswith("OVERDUE: Your cascade confirmation is overdue\n")
        assert f"reached the staff of {ADULTS}. It was due on 10 July 2026." in email.text
        assert "WAS DUE: Friday 10 July 2026" in email.text
        assert (
            "IF NOTHING IS DONE\nIf the cascade is still not confirmed by 24 July 2026:\n"
            "- it will go on the Review Board's escalation list, and its chair will be told\n"
            "- later, it will be escalated to the Assurance Board\n"
        ) in email.text

    def test_a_board_escalation_lists_the_unconfirmed_agencies(self):
        """The sponsoring board reads which agencies are silent, their leads and reach, and what it can do."""
        email = self._email("board_escalation", f.SPONSOR, about="cascade")
        assert email.subject.startswith(
            "[CSPR-2024-02] Cascade to staff not yet confirmed: escalated to the Review Board"
        )
        assert (
            f"{ADULTS} has not confirmed that the learning reached its staff. Its confirmation was due on "
            "10 July 2026 (14 days ago). Two of the three agencies have confirmed.\n\n"
            "Still to confirm:\n"
            f"- {ADULTS}: 40 staff (adult social workers), lead {COUNCIL_LEAD}\n"
        ) in email.text
        for choice in (
            "contact the agency's lead, named above, to find out what is in the way",
            "if the agency has given you its figures, record the confirmation on its behalf from the recommendation "
            "page",
            "record the board's decision, so the lead and the Assurance Board see it",
        ):
            assert f"- {choice}\n" in email.text
        assert "WAS DUE: Friday 10 July 2026" in email.text
        assert f"lead {COUNCIL_LEAD}</li>" in email.html

    def test_with_no_agency_confirmed_the_escalation_lists_each(self):
        """With no agency confirmed, the board's escalation lists each one with its lead."""
        email = self._email("board_escalation", f.CHAIR, ref="CSPR-2023-01", about="cascade")
        assert (
            f"- {f.ICB}: 120 staff (health visitors and school nurses), lead {f.ICB_LEAD}\n"
            f"- {f.POLICE}: 80 staff (child abuse investigation officers), lead {f.POLICE_LEAD}\n"
        ) in email.text
        assert "contact each agency's lead, named above" in email.text

    def test_the_assurance_board_hears_who_is_silent_and_what_it_can_do(self):
        """The Assurance Board's escalation lists the silent agency and says a member may record for it."""
        email = self._email("assurance_escalation", f.ASSURANCE, about="cascade")
        assert f"Still to confirm:\n- {ADULTS}: 40 staff (adult social workers), lead {COUNCIL_LEAD}\n" in email.text
        assert "a member can record the confirmation on its behalf from the recommendation page" in email.text

    def test_a_digest_item_about_the_cascade_lists_the_silent_agencies(self):
        """In the board's daily digest, a cascade escalation says who has not confirmed, agency by agency."""
        escalations = [n for n in all_notifications()["board_escalation"] if n.context["about"] == "cascade"]
        items = [{**copy.deepcopy(n.context), "kind": n.kind, "link": link_for(f.SPONSOR, n.key)} for n in escalations]
        context = {"board": "Review Board", "day": "2027-03-15", "items": items}
        email = rendered("board_digest", context, f.SPONSOR, link=None)
        assert (
            "   Still to confirm:\n"
            f"   - {f.ICB}: 120 staff (health visitors and school nurses), lead {f.ICB_LEAD}\n"
            f"   - {f.POLICE}: 80 staff (child abuse investigation officers), lead {f.POLICE_LEAD}\n"
        ) in email.text
        assert f"   - {ADULTS}: 40 staff (adult social workers), lead {COUNCIL_LEAD}\n" in email.text
        assert "Their confirmations were due on 28 February 2027 (15 days ago)." in email.text

    def test_the_audit_task_lists_the_agencies_that_never_confirmed_and_the_reach(self):
        """The auditor reads which agency never confirmed, each agency's reach with its note, and the overall reach."""
        email = self._email("audit_due", f.AUDITOR)
        assert (
            f"One of the three agencies in the cascade never confirmed that the learning reached its staff: {ADULTS}."
        ) in email.text
        assert (
            f"- {f.ICB}: 70 of 120 staff reached (58%), below the plan's 80%. On 31 March 2026, through "
            f"7-minute briefing. Note: {SHORT_NOTE}\n"
            f"- {COUNCIL}: 52 of 50 staff reached (104%). On 5 April 2026, through team meetings.\n"
            f"- {ADULTS}: never confirmed. Planned: 40 staff (adult social workers). Lead: {COUNCIL_LEAD}.\n"
        ) in email.text
        assert "Overall, 122 of the 210 staff planned are confirmed as reached (58%)." in email.text
        assert ">Never confirmed</p>" in email.html

    def test_the_audit_task_when_nobody_confirmed(self):
        """With every agency silent, the auditor is told none confirmed, and no overall figure is given."""
        email = self._email("audit_due", f.AUDITOR, ref="CSPR-2023-01")
        assert (
            f"None of the agencies in the cascade confirmed that the learning reached their staff: {f.ICB} and "
            f"{f.POLICE}."
        ) in email.text
        assert "Overall" not in email.text

    def test_the_sign_off_notice_says_each_lead_is_asked_by_when(self):
        """Everyone told of the sign-off hears each agency's lead must confirm by ``cascade_by``; the board hears
        that silence then comes to it."""
        sponsor, auditor = self._email("signed_off", f.SPONSOR), self._email("signed_off", f.AUDITOR)
        asked = (
            "Each agency's lead named in the cascade has been asked to confirm, by 10 July 2026, that the learning "
            "reached their staff."
        )
        assert asked in sponsor.text and asked in auditor.text
        follows = "If an agency has not confirmed by then, its lead is told, and then the Review Board."
        assert follows in sponsor.text and follows not in auditor.text

    def test_a_board_member_is_asked_when_no_lead_is_on_record(self):
        """When nobody leads the silent agencies, the sponsor told in their place is asked to record it for them."""
        n = next(n for n in all_notifications()["cascade_overdue"] if n.context["ref"] == "CSPR-2023-01")
        context = copy.deepcopy(n.context)
        context["roles"] = {f.SPONSOR: "board_sponsor"}
        for entry in context["cascade"]:
            entry["lead"] = None
        email = rendered("cascade_overdue", context, f.SPONSOR)
        assert (
            f"We have not had a confirmation that the learning from this recommendation reached the staff of {f.ICB} "
            f"and {f.POLICE}."
        ) in email.text
        assert "Nobody is on record to confirm for these agencies, so this comes to you." in email.text
        assert "record the confirmation on its behalf from the recommendation page" in email.text
        assert "Open the recommendation:\n" in email.text and "tell the Review Board's sponsor" not in email.text


class TestHelpers:
    def test_header_safe_flattens_every_control_character(self):
        """CR, LF, NUL, tab, NEL and the Unicode line and paragraph separators all become single spaces."""
        assert "a b c d e f g" == header_safe("a\r\nb\x00c\td\x85e\u2028f\u2029g")

    def test_header_safe_caps_with_an_ellipsis(self):
        """A long subject is cut to the limit, ending in an ellipsis."""
        assert "abcd…" == header_safe("abcdefgh", limit=5)

    def test_dates_are_written_the_british_way(self):
        """ISO dates and date objects read as '3 May 2023'; anything else is left alone."""
        assert ["3 May 2023", "25 December 2026", "soon"] == [
            uk_date("2023-05-03"),
            uk_date(date(2026, 12, 25)),
            uk_date("soon"),
        ]

    def test_a_cascade_lead_is_told_which_agencies_they_lead(self):
        """The cascade lead's reason names their agency, matching the address in any case."""
        context = {"cascade": [{"agency": f.ICB, "lead": f.ICB_LEAD}, {"agency": f.POLICE, "lead": f.POLICE_LEAD}]}
        assert f"You are getting this because you lead the cascade of this learning to {f.ICB}'s staff." == why(
            "cascade_lead", context, f.ICB_LEAD.upper()
        )
        assert "You are getting this because you lead the cascade of this learning to an agency's staff." == why(
            "cascade_lead", {}, f.ICB_LEAD
        )

    def test_cascade_gaps_have_their_own_heading_without_field_names(self):
        """Gaps in the plan's cascade are grouped under their own heading, with UK dates and no field names."""
        gaps = [
            "dissemination plan: name the channels the learning goes out through",
            f"cascade: say how many of {f.POLICE}'s staff the learning must reach",
            "cascade: give the date by which every agency is to confirm",
            "cascade: confirmations are due (2027-05-01) after the audit date (2027-04-01)",
        ]
        assert [
            (
                "Dissemination, communication and socialisation plan",
                ["Name the channels the learning goes out through"],
            ),
            (
                "Cascade to each agency's staff",
                [
                    f"Say how many of {f.POLICE}'s staff the learning must reach",
                    "Give the date by which every agency is to confirm",
                    "Confirmations are due (1 May 2027) after the audit date (1 April 2027)",
                ],
            ),
        ] == gap_groups(gaps)

    def test_an_unknown_role_still_gets_a_reason(self):
        """A reader missing from the roles map is told plainly they are named on the recommendation."""
        assert "You are getting this because you are named on this recommendation in Assure." == why(
            None, {"board": "Review Board"}, "x@example.org"
        )
