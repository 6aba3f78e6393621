"""Response pages through FastAPI's client on the time-skipping server: every decision for every
role, refusals shown in the page with the input kept, CSRF, GET idempotence, bad links, fresh
links, security headers and limits."""

from __future__ import annotations

import email
import re
from datetime import date, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from html import unescape

import httpx
import itsdangerous.timed
import pytest
import pytest_asyncio
from structlog.testing import capture_logs

from gateway.workflows import recommendation_status
from links.signed import signer_from_settings
from models.payloads import SignOffInput, Stage, SubmitPlansInput
from models.rules import sign_off_gaps
from store.db import session_scope
from store.read_model import caught_mail, upsert_registry
from store.tables import Agency, Person
from tests import factories as f
from tests.helpers import TEST_SECRET_KEY, decide, eventually, stored_row, today
from tests.web_client import Browser, csrf_of, date_fields, text_of, token_for
from web import wording
from web.app import create_app
from web.security import CsrfTokens, redact_path

REF = "CSPR-2023-01"
# What the audit form sends when its audit is recorded before the planned date (every audit in
# these tests is: the plans date it months ahead).
EARLY = {"early_asked": "1", "early_confirmed": "yes", "early_reason": "Brought forward for the board"}


@pytest.fixture(autouse=True)
def registered_people(database_url) -> None:
    """The people these tests name as owners and auditors, and the agencies of the plans' cascade,
    in the registry (with no board there, each workflow keeps the role holders the factories
    started it with)."""
    owners = (f.OWNER, f.OWNER_2, f.NEW_OWNER)
    people = [Person(email=e, name=e.split("@")[0], roles="owner") for e in owners]
    people.append(Person(email=f.AUDITOR, name="Ade Auditor", roles="auditor"))
    # The agencies the plans' cascade names, with the leads who confirm it.
    agencies = [Agency(name=f.ICB, safeguarding_lead_email=f.ICB_LEAD),
                Agency(name=f.POLICE, safeguarding_lead_email=f.POLICE_LEAD)]  # fmt: skip
    people += [Person(email=f.ICB_LEAD, roles="agency_lead", agency=f.ICB),
               Person(email=f.POLICE_LEAD, roles="agency_lead", agency=f.POLICE)]  # fmt: skip
    with session_scope(database_url) as session:
        upsert_registry(session=session, agencies=agencies, people=people, boards=[])


@pytest_asyncio.fixture
async def web(env, settings):
    """FastAPI's (async) client on the app, which talks to the test's Temporal server."""
    app = create_app(settings, client=env.client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=settings.base_url) as client:
        yield client


@pytest.fixture
def person(web, settings):
    def make(who: str, role: str, *, action_id: str | None = None, epoch: int = 0, ref: str = REF) -> Browser:
        return Browser(web, token_for(settings, who, ref, role, action_id, epoch))

    return make


async def current(env, ref: str = REF):
    return await recommendation_status(env.client, ref)


async def with_actions(env, start, *, due_in: int = 40):
    day = await today(env)
    handle = await start(f.start(actions=f.two_actions(day + timedelta(days=due_in))))
    return handle, day


def plan_fields(day: date) -> dict[str, str]:
    return {
        "audiences": "GPs\nhealth visitors\nschool nurses",
        "channels": "7-minute briefing\nteam meetings",
        "socialisation": "Supervisors test the guidance in monthly supervision for six months",
        "plan_owner": f.OWNER,
        **date_fields("starts", day + timedelta(days=7)),
        **date_fields("ends", day + timedelta(days=90)),
        "method": "Multi-agency case file audit of 20 cases",
        "auditor": f.AUDITOR,
        **date_fields("audit_on", day + timedelta(days=180)),
        "success_measures": "professionals' meeting held in 90% of qualifying cases",
        "measures": f.MEASURE_ID,  # the box the form ticks: the audit weighs measure M1
        # Each agency's lead confirms the learning reached its staff, by the cascade date.
        "cascade_rows": "2",
        "cascade-0-agency": f.ICB,
        "cascade-0-staff_group": "health visitors and school nurses",
        "cascade-0-expected_reach": str(f.ICB_REACH),
        "cascade-1-agency": f.POLICE,
        "cascade-1-staff_group": "child abuse investigation officers",
        "cascade-1-expected_reach": str(f.POLICE_REACH),
        **date_fields("cascade_by", day + timedelta(days=120)),
    }


def row_fields(index: int, action_id: str, owner: str, due: date) -> dict[str, str]:
    prefix = f"actions-{index}-"
    return {
        prefix + "action_id": action_id,
        prefix + "description": "Brief every team on the revised escalation protocol",
        prefix + "agency": f.ICB,
        prefix + "owner": owner,
        prefix + "success_measure": "Every team briefed, shown by the attendance register",
        **date_fields(prefix + "due", due),
    }


def mail_to(database_url: str, recipient: str, kind_subject: str) -> list[EmailMessage]:
    with session_scope(database_url) as session:
        raws = [row.raw for row in caught_mail(session=session, recipient=recipient)]
    messages = [email.message_from_string(raw, policy=default_policy) for raw in raws]
    return [m for m in messages if kind_subject in str(m["Subject"])]


def link_in(message: EmailMessage) -> str:
    text = message.get_body(preferencelist=("plain",)).get_content()
    found = re.search(r"https?://\S+/r/\S+", text)
    assert found, "the email carries no personal link"
    return found.group(0)


# --- owners ---------------------------------------------------------------------------------


async def test_an_owner_sees_only_their_own_action_and_where_it_stands(env, start, person):
    await with_actions(env, start)
    page = await person(f.OWNER, "owner", action_id="A1").open()
    words = text_of(page)
    assert page.status_code == 200
    assert "Your actions" in words and "Action A1" in words and "Action A2" not in words
    assert "Waiting for you to confirm" in words
    assert "Action A1 to be confirmed by its owner" in words  # the next deadline, in words
    assert "Confirm I have taken this on" in words
    # Only the forms this stage allows this person: no board decisions, no plans yet.
    assert (
        "Sign off" not in words and "Submit the plans" not in words and "Give this action to someone else" not in words
    )


async def test_an_owner_acknowledges_reports_progress_asks_for_time_and_completes(env, start, person):
    _, day = await with_actions(env, start)
    owner = person(f.OWNER, "owner", action_id="A1")

    page = await owner.act("acknowledge", {"action_id": "A1"})
    assert "you have confirmed you have taken on the action" in text_of(page)
    assert "Confirm I have taken this on" not in text_of(page)

    page = await owner.act("report_progress", {"action_id": "A1", "note": "Guidance drafted; briefing booked"})
    assert "Guidance drafted; briefing booked" in text_of(page)

    new_due = day + timedelta(days=60)
    page = await owner.act(
        "request_extension", {"action_id": "A1", "reason": "Briefing moved", **date_fields("new_due", new_due)}
    )
    assert "More time asked for" in text_of(page)
    assert "Ask for more time" not in text_of(page)  # one request at a time

    page = await owner.act("complete_action", {"action_id": "A1", "evidence": "Briefing delivered to 14 teams"})
    words = text_of(page)
    assert "the action is recorded as complete" in words and "Complete on" in words
    status = await current(env)
    assert status.actions[0].evidence == "Briefing delivered to 14 teams"
    assert status.stage is Stage.action  # A2 is not yet acknowledged


async def test_the_last_completion_asks_for_plans_and_the_owner_submits_them(env, start, person):
    _, day = await with_actions(env, start)
    await person(f.OWNER_2, "owner", action_id="A2").act("complete_action", {"action_id": "A2", "evidence": "Done"})
    owner = person(f.OWNER, "owner", action_id="A1")
    page = await owner.act("complete_action", {"action_id": "A1", "evidence": "Done too"})
    words = text_of(page)
    assert "Plans due" in words and "Submit the plans" in words

    page = await owner.act("submit_plans", plan_fields(day))
    words = text_of(page)
    assert "Waiting for sign-off" in words
    assert "These plans are complete enough for the Assurance Board to sign off." in words
    status = await current(env)
    assert status.stage is Stage.sign_off
    assert status.dissemination.audiences == ["GPs", "health visitors", "school nurses"]
    assert status.audit_plan.audit_on == day + timedelta(days=180)


async def test_plans_with_gaps_are_kept_and_the_gaps_listed(env, start, person):
    await with_actions(env, start)
    for who, aid in ((f.OWNER, "A1"), (f.OWNER_2, "A2")):
        await person(who, "owner", action_id=aid).act("complete_action", {"action_id": aid, "evidence": "Done"})
    page = await person(f.OWNER, "owner", action_id="A1").act("submit_plans", {"audiences": "GPs"})
    words = text_of(page)
    assert "The Assurance Board cannot sign off until these gaps are filled" in words
    assert "Change the plans" in words


# --- sponsors and the chair -----------------------------------------------------------------


async def test_a_sponsor_agrees_actions_for_a_new_recommendation_adding_a_row_first(env, start, person, database_url):
    day = await today(env)
    await start(f.start())
    sponsor = person(f.SPONSOR, "sponsor")
    page = await sponsor.open()
    assert "Agree the actions" in text_of(page)

    due = day + timedelta(days=30)
    first = row_fields(0, "A1", f.OWNER, due)
    grown = await sponsor.post("agree_actions", {"rows": "1", "add_row": "1", **first})
    assert grown.status_code == 200
    assert 'name="actions-1-action_id"' in grown.text  # a second, empty row
    assert "Brief every team" in grown.text  # the first row kept
    assert (await current(env)).stage is Stage.review  # adding a row takes no decision

    page = await sponsor.act("agree_actions", {"rows": "2", **first, **row_fields(1, "A2", f.OWNER_2, due)})
    assert "The actions are agreed" in text_of(page)
    status = await current(env)
    assert status.stage is Stage.action and [a.owner for a in status.actions] == [f.OWNER, f.OWNER_2]


async def test_a_sponsor_decides_extensions_both_ways(env, start, person):
    _, day = await with_actions(env, start)
    for who, aid in ((f.OWNER, "A1"), (f.OWNER_2, "A2")):
        fields = {"action_id": aid, "reason": "Training moved", **date_fields("new_due", day + timedelta(days=70))}
        await person(who, "owner", action_id=aid).act("request_extension", fields)

    sponsor = person(f.SPONSOR, "sponsor")
    assert "Agree the new due date of" in text_of(await sponsor.open())
    await sponsor.act("decide_extension", {"action_id": "A1", "approve": "yes", "note": "Agreed"})
    # The chair acts from a sponsor's link too.
    await person(f.CHAIR, "sponsor").act("decide_extension", {"action_id": "A2", "approve": "no"})
    status = await current(env)
    assert status.actions[0].due == day + timedelta(days=70)
    assert status.actions[1].due == day + timedelta(days=40)
    assert all(a.extension_requested is None for a in status.actions)


async def test_a_sponsor_reassigns_an_owner_and_the_old_link_stops_working(env, start, person):
    await with_actions(env, start)
    old_owner = person(f.OWNER, "owner", action_id="A1")
    assert (await old_owner.open()).status_code == 200
    await person(f.SPONSOR, "sponsor").act(
        "reassign_owner", {"action_id": "A1", "new_owner": f.NEW_OWNER, "reason": "Named nurse on leave"}
    )
    status = await current(env)
    assert status.actions[0].owner == f.NEW_OWNER and status.actions[0].owner_epoch == 1

    page = await old_owner.open()
    assert page.status_code == 403
    words = text_of(page)
    assert "This action has been passed to someone else" in words
    assert f.NEW_OWNER not in words  # never says who has it now
    assert "Send me a new link" in words
    # The new owner's link (epoch 1) works.
    new_owner = person(f.NEW_OWNER, "owner", action_id="A1", epoch=1)
    assert "Waiting for you to confirm" in text_of(await new_owner.open())


@pytest.mark.parametrize("decision", ["decline", "withdraw"])
async def test_a_sponsor_closes_a_recommendation(env, start, person, decision):
    await with_actions(env, start)
    page = await person(f.SPONSOR, "sponsor").act(decision, {"reason": "Superseded by the 2024 review"})
    assert page.status_code == 200
    words = text_of(page)
    assert ("declined" if decision == "decline" else "withdrawn") in words.lower()
    assert "Confirm I have taken this on" not in words and "Reason" not in words  # closed: no forms
    assert (await current(env)).stage is (Stage.declined if decision == "decline" else Stage.withdrawn)


async def test_a_sponsor_can_submit_plans_for_the_owners(env, start, person):
    _, day = await with_actions(env, start)
    for who, aid in ((f.OWNER, "A1"), (f.OWNER_2, "A2")):
        await person(who, "owner", action_id=aid).act("complete_action", {"action_id": aid, "evidence": "Done"})
    await person(f.SPONSOR, "sponsor").act("submit_plans", plan_fields(day))
    assert (await current(env)).stage is Stage.sign_off


# --- the Assurance Board and auditors -------------------------------------------------------


async def _at_sign_off(env, start, person, *, credible: bool = True):
    handle, day = await with_actions(env, start)
    for who, aid in ((f.OWNER, "A1"), (f.OWNER_2, "A2")):
        await decide(handle, "complete_action", {"by": who, "action_id": aid, "evidence": "Done"})
    dissemination, audit = f.credible_plans(day)
    if not credible:
        dissemination = dissemination.model_copy(update={"channels": []})
    await decide(handle, "submit_plans", SubmitPlansInput(by=f.OWNER, dissemination=dissemination, audit=audit))
    return handle, day


async def test_an_assurance_board_member_signs_off(env, start, person):
    await _at_sign_off(env, start, person)
    member = person(f.ASSURANCE, "assurance_member")
    page = await member.act("sign_off", {"note": "Plans are credible"})
    assert "Signed off. Each agency's lead has been asked to confirm the learning reached their staff." in text_of(page)
    assert (await current(env)).stage is Stage.cascade


async def test_sign_off_refused_for_gaps_is_shown_beside_the_form_with_the_note_kept(env, start, person):
    await _at_sign_off(env, start, person, credible=False)
    member = person(f.ASSURANCE, "assurance_member")
    response = await member.post("sign_off", {"note": "Looks fine to me"})
    assert response.status_code == 409
    words = text_of(response)
    assert words.startswith("Error:")
    assert "There is a problem" in words
    assert "The Assurance Board cannot sign off yet, because the plans have gaps" in words
    assert "channel" in words  # the gap itself
    assert "Looks fine to me" in response.text  # the input kept
    assert (await current(env)).stage is Stage.sign_off


async def test_an_assurance_board_member_withdraws(env, start, person):
    await with_actions(env, start)
    await person(f.ASSURANCE, "assurance_member").act("withdraw", {"reason": "Duplicate of CSPR-2022-04"})
    assert (await current(env)).stage is Stage.withdrawn


async def test_an_auditor_records_an_embedded_audit(env, start, person):
    handle, _ = await _at_sign_off(env, start, person)
    await decide(handle, "sign_off", SignOffInput(by=f.ASSURANCE))
    auditor = person(f.AUDITOR, "auditor")
    assert "Is the change embedded in practice?" in text_of(await auditor.open())
    page = await auditor.act(
        "record_audit", {"outcome": "embedded", "findings": "Seen in 18 of 20 cases", "rows": "1", **EARLY}
    )
    assert "Assured" in text_of(page)
    assert (await current(env)).stage is Stage.assured


async def test_an_auditor_records_a_failed_audit_with_a_remedial_action(env, start, person):
    handle, day = await _at_sign_off(env, start, person)
    await decide(handle, "sign_off", SignOffInput(by=f.ASSURANCE))
    fields = {
        "outcome": "not_embedded",
        "findings": "Only 9 of 20 cases",
        **EARLY,
        "rows": "1",
        **date_fields("re_audit_on", day + timedelta(days=120)),
        **row_fields(0, "R1", f.OWNER, day + timedelta(days=60)),
    }
    await person(f.AUDITOR, "auditor").act("record_audit", fields)
    status = await current(env)
    assert status.stage is Stage.re_audit
    assert [a.action_id for a in status.actions if a.round == 1] == ["R1"]
    # The remedial action's owner sees it on their page.
    assert "Action R1" in text_of(await person(f.OWNER, "owner", action_id="R1").open())


async def test_an_audit_without_an_outcome_is_asked_for_again(env, start, person):
    handle, _ = await _at_sign_off(env, start, person)
    await decide(handle, "sign_off", SignOffInput(by=f.ASSURANCE))
    response = await person(f.AUDITOR, "auditor").post("record_audit", {"findings": "Partial", "rows": "1"})
    assert response.status_code == 422
    assert "Choose the audit's outcome" in text_of(response)
    assert "Partial" in response.text


# --- refusals and bad input -----------------------------------------------------------------


async def test_a_validator_refusal_is_shown_next_to_the_form_with_the_input_kept(env, start, person):
    _, day = await with_actions(env, start)
    owner = person(f.OWNER, "owner", action_id="A1")
    too_early = day + timedelta(days=10)  # before the current due date
    response = await owner.post(
        "request_extension", {"action_id": "A1", "reason": "Staff shortage", **date_fields("new_due", too_early)}
    )
    assert response.status_code == 409
    words = text_of(response)
    assert "the new due date must be after the current one" in words.lower()
    assert 'id="request_extension-A1-refusal"' in response.text
    assert 'href="#request_extension-A1-refusal"' in response.text  # the error summary links to it
    assert "Staff shortage" in response.text and f'value="{too_early.day}"' in response.text
    assert re.search(r'<details id="request_extension-A1-details" class="govuk-details" open>', response.text)
    assert (await current(env)).actions[0].extension_requested is None


async def test_a_decision_already_taken_elsewhere_is_refused_and_changes_nothing(env, start, person):
    """A second tab's acknowledgement is no longer among what the owner may decide: refused at the
    edge, and the action is acknowledged once."""
    await with_actions(env, start)
    owner = person(f.OWNER, "owner", action_id="A1")
    page = await owner.open()
    csrf = csrf_of(page.text)
    assert (await owner.post("acknowledge", {"action_id": "A1"}, csrf=csrf)).status_code == 303
    again = await owner.post("acknowledge", {"action_id": "A1"}, csrf=csrf)  # e.g. a second tab
    assert again.status_code == 403
    assert "Nothing has been changed" in text_of(again)
    events = [e for e in (await current(env)).timeline if e.kind == "acknowledged"]
    assert 1 == len(events)


async def test_completion_without_usable_evidence_is_refused_field_by_field(env, start, person):
    await with_actions(env, start)
    owner = person(f.OWNER, "owner", action_id="A1")
    for evidence, message in (
        ("", "Enter the evidence"),
        ("x" * 20001, "The evidence must be 20000 characters or fewer"),
    ):
        response = await owner.post("complete_action", {"action_id": "A1", "evidence": evidence})
        assert response.status_code == 422
        words = text_of(response)
        assert words.startswith("Error:") and message in words
        assert 'href="#complete_action-A1-evidence"' in response.text
        assert 'id="complete_action-A1-evidence-error"' in response.text
    assert (await current(env)).actions[0].status.value == "assigned"


SILLY_DATES = [
    (("31", "2", "2027"), "must be a real date"),
    (("1", "", "2027"), "must include a month"),
    (("1", "2", "1999"), "year between 2000 and 2100"),
    (("first", "2", "2027"), "written in numbers"),
    (("", "", ""), "Enter the new due date"),
]


async def test_dates_must_be_sane(env, start, person):
    await with_actions(env, start)
    owner = person(f.OWNER, "owner", action_id="A1")
    for (d, m, y), message in SILLY_DATES:
        fields = {"action_id": "A1", "reason": "More time", "new_due-day": d, "new_due-month": m, "new_due-year": y}
        response = await owner.post("request_extension", fields)
        assert response.status_code == 422, (d, m, y)
        assert message in text_of(response)
        assert 'href="#request_extension-A1-new_due-day"' in response.text


async def test_a_bad_email_address_for_a_new_owner_is_refused(env, start, person):
    await with_actions(env, start)
    fields = {"action_id": "A1", "new_owner": "not an address", "reason": "Leave"}
    response = await person(f.SPONSOR, "sponsor").post("reassign_owner", fields)
    assert response.status_code == 422
    assert "is not an email address" in text_of(response)


async def test_an_assurance_board_member_records_an_audit_from_their_emailed_link(
    env, start, person, web, settings, database_url
):
    """The Assurance Board tests embedding itself: a member who is no auditor opens the link the
    sign-off email gave them, once the audit is due, and the audit form is there and is taken."""
    handle, _ = await _at_sign_off(env, start, person)
    links = await eventually(lambda: [link_in(m) for m in mail_to(database_url, f.ASSURANCE, "")])
    member = Browser(web, links[-1].rsplit("/", 1)[-1])
    assert "assurance_member" == signer_from_settings(settings).read(member.token).role
    await decide(handle, "sign_off", SignOffInput(by=f.ASSURANCE))
    assert f.ASSURANCE not in (await current(env)).audit_plan.auditor

    page = await member.open()
    assert "Is the change embedded in practice?" in text_of(page)
    assert 'action="/r/' + member.token + '/record_audit"' in page.text
    page = await member.act(
        "record_audit", {"outcome": "embedded", "findings": "Tested 10 cases", "rows": "1", **EARLY}
    )
    assert "Assured" in text_of(page)
    status = await current(env)
    assert status.stage is Stage.assured
    assert [(f.ASSURANCE, "embedded")] == [(a.by, a.outcome.value) for a in status.audits]


async def test_a_link_offers_and_takes_only_what_its_person_may_decide_now(env, start, person):
    """An owner's link never takes a sponsor's decision, unless its person is the sponsor too; and
    a form naming an action that is not theirs is refused at the edge."""
    await start(f.start(actions=[f.action("A1", (await today(env)) + timedelta(days=40), owner=f.SPONSOR),
                                 f.action("A2", (await today(env)) + timedelta(days=40), owner=f.OWNER_2)]))  # fmt: skip
    owner = person(f.OWNER_2, "owner", action_id="A2")
    refused = await owner.post("withdraw", {"reason": "Not mine to withdraw"})
    assert 403 == refused.status_code and "This cannot be done now" in text_of(refused)
    not_theirs = await owner.post("acknowledge", {"action_id": "A1"})
    assert 403 == not_theirs.status_code
    assert "assigned" == (await current(env)).actions[0].status.value

    sponsor_owner = person(f.SPONSOR, "owner", action_id="A1")
    words = text_of(await sponsor_owner.open())
    assert "Confirm I have taken this on" in words and f.OWNER_2 not in words  # their own actions only
    assert "Withdraw it" in words  # and, as the sponsor, the sponsor's forms
    page = await sponsor_owner.act("withdraw", {"reason": "Superseded"})
    assert 200 == page.status_code and (await current(env)).stage is Stage.withdrawn


async def test_a_link_role_never_takes_another_roles_decision(env, start, person):
    await _at_sign_off(env, start, person)
    # The owner is not an Assurance Board member: refused at the edge, before the workflow.
    response = await person(f.OWNER, "owner", action_id="A1").post("sign_off", {"note": ""})
    assert response.status_code == 403
    assert "This cannot be done now" in text_of(response)
    assert (await current(env)).stage is Stage.sign_off


async def test_the_workflow_refuses_a_person_the_role_does_not_fit(env, start, person):
    await with_actions(env, start)
    # A genuine sponsor-role link for someone who is not the board's sponsor: the link is refused.
    response = await person(f.STRANGER, "sponsor").post("withdraw", {"reason": "Because"})
    assert response.status_code == 403
    assert "You are no longer in the role this link was sent for." in text_of(response)
    assert (await current(env)).stage is Stage.action


async def test_an_unknown_decision_is_not_found_for_the_role(env, start, person):
    await with_actions(env, start)
    response = await person(f.OWNER, "owner", action_id="A1").post("launch_missiles", {})
    assert response.status_code == 403


# --- CSRF and idempotent GET ----------------------------------------------------------------


async def test_a_post_without_the_pages_csrf_token_is_refused(env, start, person):
    await with_actions(env, start)
    owner = person(f.OWNER, "owner", action_id="A1")
    # A genuine token, but from another person's page, is as useless as a made-up one.
    other_page = csrf_of((await person(f.OWNER_2, "owner", action_id="A2").open()).text)
    for csrf in ("", "forged-token", other_page):
        response = await owner.post("acknowledge", {"action_id": "A1"}, csrf=csrf)
        assert response.status_code == 403
        assert "Your form could not be sent" in text_of(response)
    assert (await current(env)).actions[0].status.value == "assigned"


async def test_a_post_with_no_csrf_field_at_all_is_refused(env, start, person, web):
    await with_actions(env, start)
    owner = person(f.OWNER, "owner", action_id="A1")
    response = await web.post(f"{owner.path}/acknowledge", data={"action_id": "A1"})
    assert response.status_code == 403
    assert (await current(env)).actions[0].status.value == "assigned"


async def test_a_cross_site_post_is_refused_even_with_a_token(env, start, person, web):
    await with_actions(env, start)
    owner = person(f.OWNER, "owner", action_id="A1")
    csrf = csrf_of((await owner.open()).text)
    refused = (
        {"Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "null", "Sec-Fetch-Site": "cross-site"},  # a sandboxed frame on another site
    )
    for headers in refused:
        response = await web.post(
            f"{owner.path}/acknowledge", data={"csrf_token": csrf, "action_id": "A1"}, headers=headers
        )
        assert response.status_code == 403, headers
    # What Chromium sends from our own page under Referrer-Policy: no-referrer.
    same = await web.post(
        f"{owner.path}/acknowledge",
        data={"csrf_token": csrf, "action_id": "A1"},
        headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"},
    )
    assert same.status_code == 303
    explicit = await web.post(
        f"{owner.path}/report_progress",
        data={"csrf_token": csrf, "action_id": "A1", "note": "Started"},
        headers={"Origin": "https://assure.mktogether.example", "Sec-Fetch-Site": "same-origin"},
    )
    assert explicit.status_code == 303


async def test_opening_a_page_changes_nothing(env, start, person, web):
    await with_actions(env, start)
    before = await current(env)
    owner = person(f.OWNER, "owner", action_id="A1")
    for _ in range(3):
        assert (await owner.open()).status_code == 200
    # Mail scanners also try HEAD and GET on decision URLs: neither acts.
    assert (await web.get(f"{owner.path}/acknowledge")).status_code == 405
    assert (await web.head(owner.path)).status_code in {200, 405}
    after = await current(env)
    assert after.version == before.version and len(after.timeline) == len(before.timeline)
    assert after.actions[0].status.value == "assigned"


# --- bad links and fresh links --------------------------------------------------------------


async def test_a_tampered_link_is_refused_plainly(env, start, person, web):
    await with_actions(env, start)
    token = person(f.OWNER, "owner", action_id="A1").token
    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "not-a-token", "x" * 3000):
        page = await web.get(f"/r/{bad}")
        assert page.status_code == 403
        words = text_of(page)
        assert "This link is not valid." in words
        assert "Your work email address" in words  # unknown claims: ask who they are


async def test_an_expired_link_offers_a_fresh_one_sent_only_to_the_registered_address(
    env, start, person, web, settings, database_url, monkeypatch
):
    await with_actions(env, start)
    long_ago = int(itsdangerous.timed.time.time()) - (settings.link_valid_days + 1) * 86400
    with monkeypatch.context() as patched:
        patched.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", lambda self: long_ago)
        old = person(f.OWNER, "owner", action_id="A1")
    page = await old.open()
    assert page.status_code == 410
    words = text_of(page)
    assert "This link has expired" in words and "Your work email address" not in words
    sent = await web.post(f"{old.path}/fresh-link", data={"csrf_token": csrf_of(page.text)})
    assert sent.status_code == 200 and "Check your email" in text_of(sent)

    fresh = await eventually(lambda: mail_to(database_url, f.OWNER, "Your new link"))
    assert len(fresh) == 1
    new_link = link_in(fresh[0])
    assert "Waiting for you to confirm" in text_of(await web.get(new_link.split(settings.base_url, 1)[1]))


async def test_a_fresh_link_for_a_reassigned_action_goes_to_its_new_owner(
    env, start, person, web, settings, database_url
):
    await with_actions(env, start)
    old = person(f.OWNER, "owner", action_id="A1")
    await person(f.SPONSOR, "sponsor").act(
        "reassign_owner", {"action_id": "A1", "new_owner": f.NEW_OWNER, "reason": "Leave"}
    )
    page = await old.open()
    await web.post(f"{old.path}/fresh-link", data={"csrf_token": csrf_of(page.text)})
    fresh = await eventually(lambda: mail_to(database_url, f.NEW_OWNER, "Your new link"))
    assert len(fresh) == 1
    assert mail_to(database_url, f.OWNER, "Your new link") == []


async def test_a_fresh_link_from_a_damaged_link_needs_a_registered_address(env, start, person, web, database_url):
    await with_actions(env, start)
    page = await web.get("/r/damaged")
    csrf = csrf_of(page.text)
    unknown = await web.post("/r/damaged/fresh-link", data={"csrf_token": csrf, "email": f.STRANGER, "ref": REF})
    known = await web.post("/r/damaged/fresh-link", data={"csrf_token": csrf, "email": f.OWNER_2, "ref": REF})
    # The same answer either way: nobody learns which addresses are known.
    assert text_of(unknown) == text_of(known) and unknown.status_code == known.status_code == 200
    assert len(await eventually(lambda: mail_to(database_url, f.OWNER_2, "Your new link"))) == 1
    assert mail_to(database_url, f.STRANGER, "Your new link") == []


async def test_a_closed_recommendation_shows_read_only_and_refuses_decisions(env, start, person):
    handle, _ = await with_actions(env, start)
    await decide(handle, "withdraw", {"by": f.SPONSOR, "reason": "Merged"})
    owner = person(f.OWNER, "owner", action_id="A1")
    page = await owner.open()
    assert page.status_code == 200
    words = text_of(page)
    assert "Withdrawn (closed)" in words and "Confirm I have taken this on" not in words
    assert "csrf_token" not in page.text  # no forms at all
    response = await owner.post("acknowledge", {"action_id": "A1"}, csrf=CsrfTokens(TEST_SECRET_KEY).issue(owner.token))
    assert response.status_code == 403
    assert "This recommendation is closed." in text_of(response)


# --- headers, limits, logs ------------------------------------------------------------------


async def test_pages_carry_the_security_headers(env, start, person, web):
    await with_actions(env, start)
    response = await person(f.OWNER, "owner", action_id="A1").open()
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-frame-options"] == "DENY"
    assert "<script>" not in response.text  # no inline script anywhere
    home = await web.get("/")
    assert home.headers["content-security-policy"] == csp and home.headers["cache-control"] == "no-store"
    # Only the static assets, the same for everyone, may be cached (tests/web/test_security_edges.py).
    assert "cache-control" not in (await web.get("/static/favicon.svg")).headers


async def test_text_from_the_workflow_is_escaped(env, start, person):
    _, day = await with_actions(env, start)
    owner = person(f.OWNER, "owner", action_id="A1")
    await owner.act("report_progress", {"action_id": "A1", "note": "<script>alert(1)</script>"})
    page = await owner.open()
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


async def test_too_many_requests_from_one_client_are_slowed(env, start, settings):
    await start(f.start())
    limited = settings.model_copy(update={"rate_limit_pages": "3/minute"})
    app = create_app(limited, client=env.client)
    token = token_for(limited, f.SPONSOR, REF, "sponsor")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=settings.base_url) as client:
        codes = [(await client.get(f"/r/{token}")).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        last = await client.get(f"/r/{token}")
        assert int(last.headers["retry-after"]) >= 1
        assert "Too many requests" in text_of(last)


async def test_an_oversized_form_is_refused_before_it_is_read(env, start, person, web):
    await with_actions(env, start)
    owner = person(f.OWNER, "owner", action_id="A1")
    response = await web.post(f"{owner.path}/complete_action", data={"evidence": "x" * 70_000, "action_id": "A1"})
    assert response.status_code == 413
    assert (await current(env)).actions[0].status.value == "assigned"


async def test_the_access_log_never_holds_a_token(env, start, person):
    await with_actions(env, start)
    owner = person(f.OWNER, "owner", action_id="A1")
    with capture_logs() as logs:
        await owner.act("acknowledge", {"action_id": "A1"})
    assert logs, "nothing was logged"
    assert all(owner.token not in repr(entry) for entry in logs)
    assert {"path": "/r/<token>/acknowledge"}.items() <= next(e for e in logs if e.get("method") == "POST").items()
    assert redact_path(f"/r/{owner.token}/fresh-link") == "/r/<token>/fresh-link"


async def test_an_unknown_page_is_a_plain_not_found(web):
    response = await web.get("/nowhere")
    assert response.status_code == 404
    assert "Page not found" in text_of(response)


async def test_an_owner_hears_about_their_own_actions_not_anothers_lateness(env, start, person, database_url):
    day = await today(env)
    actions = [f.action("A1", day - timedelta(days=10)), f.action("A2", day + timedelta(days=40), owner=f.OWNER_2)]
    await start(f.start(actions=actions))
    await eventually(lambda: (row := stored_row(database_url, REF)) is not None and row.overdue)
    on_time = text_of(await person(f.OWNER_2, "owner", action_id="A2").open())
    assert "Not escalated" in on_time and f"Action A2 due: {wording.uk_day(day + timedelta(days=40))}" in on_time
    assert "A1" not in on_time
    late = text_of(await person(f.OWNER, "owner", action_id="A1").open())
    assert "The agency's safeguarding lead has been told" in late and "If action A1 is still not complete" in late
    board = text_of(await person(f.SPONSOR, "sponsor").open())
    assert "The agency's safeguarding lead has been told" in board


# --- what a sponsor does with an escalation (issue 14, D15) ----------------------------------

SPONSOR_FORMS = ("Agree a new due date", "Add an action to this recommendation", "Send the owner a reminder now",
                 "Record what the board decided")  # fmt: skip


async def test_a_sponsor_page_offers_what_a_sponsor_does_with_an_escalation_and_an_owner_page_does_not(
    env, start, person
):
    """A sponsor's link shows the new-due-date, add-an-action, reminder and board-decision forms; an owner's shows none."""
    await with_actions(env, start)
    words = text_of(await person(f.SPONSOR, "sponsor").open())
    assert all(form in words for form in SPONSOR_FORMS), words
    owner_words = text_of(await person(f.OWNER, "owner", action_id="A1").open())
    assert not any(form in owner_words for form in SPONSOR_FORMS)


async def test_a_sponsor_agrees_a_new_due_date_reminds_the_owner_adds_an_action_and_records_the_decision(
    env, start, person, database_url
):
    """Each of the sponsor's four escalation decisions is taken from the page and reaches the workflow and the owner."""
    _, day = await with_actions(env, start)
    sponsor = person(f.SPONSOR, "sponsor")
    new_due = day + timedelta(days=75)
    page = await sponsor.act(
        "change_due_date", {"action_id": "A1", "reason": "Training moved to spring", **date_fields("new_due", new_due)}
    )
    assert wording.DECISION_DONE["change_due_date"] in text_of(page)
    assert (await current(env)).actions[0].due == new_due

    page = await sponsor.act("remind_owner", {"action_id": "A2", "note": "The board meets on Friday"})
    assert wording.DECISION_DONE["remind_owner"] in text_of(page)
    [reminder] = await eventually(lambda: mail_to(database_url, f.OWNER_2, "Reminder from"))
    assert "The board meets on Friday" in reminder.get_body(preferencelist=("plain",)).get_content()

    page = await sponsor.act("add_actions", {"rows": "1", **row_fields(0, "A3", f.OWNER, day + timedelta(days=50))})
    assert wording.DECISION_DONE["add_actions"] in text_of(page)
    assert "A3" in [a.action_id for a in (await current(env)).actions]

    page = await sponsor.act("record_board_decision", {"action_id": "A2", "decision": "Director to attend in May"})
    assert wording.DECISION_DONE["record_board_decision"] in text_of(page)
    kinds = [(e.kind, e.detail) for e in (await current(env)).timeline]
    assert ("board_decision", "A2") in kinds and ("owner_reminded", "A2") in kinds


async def test_a_refused_new_due_date_is_shown_beside_its_form_with_the_typed_values_kept(env, start, person):
    """A new due date the workflow refuses comes back 409 with its reason in the error summary and the reason typed kept."""
    _, day = await with_actions(env, start)
    fields = {"action_id": "A1", "reason": "Same date by mistake", **date_fields("new_due", day + timedelta(days=40))}
    response = await person(f.SPONSOR, "sponsor").post("change_due_date", fields)
    assert response.status_code == 409
    summary = re.search(r'(?s)<div class="govuk-error-summary".*?</div>\s*</div>', response.text)
    assert summary and "already due on" in summary.group(0)
    assert re.search(r"already due on \d{1,2} [A-Z][a-z]+ \d{4}", summary.group(0))  # a date as people write it
    assert 'id="change_due_date-A1-refusal"' in response.text and "Same date by mistake" in response.text
    blank = await person(f.SPONSOR, "sponsor").post("record_board_decision", {"action_id": "", "decision": ""})
    assert blank.status_code == 422 and "Enter what the board decided" in text_of(blank)


# --- every gap at the top; an early audit confirmed (issue 14, D17) --------------------------


async def test_a_refused_sign_off_lists_every_gap_in_the_error_summary(env, start, person):
    """The error summary at the top of a refused sign-off names each gap in the plans, not only that there are some."""
    handle, day = await with_actions(env, start)
    for who, aid in ((f.OWNER, "A1"), (f.OWNER_2, "A2")):
        await decide(handle, "complete_action", {"by": who, "action_id": aid, "evidence": "Done"})
    dissemination, audit = f.credible_plans(day)
    weak = dissemination.model_copy(update={"channels": [], "socialisation": ""})
    await decide(handle, "submit_plans", SubmitPlansInput(by=f.OWNER, dissemination=weak, audit=audit))
    gaps = sign_off_gaps(weak, audit, f.parties().agency_leads, [f.measure()])
    assert len(gaps) >= 2
    response = await person(f.ASSURANCE, "assurance_member").post("sign_off", {"note": ""})
    assert response.status_code == 409
    summary = re.search(r'(?s)<div class="govuk-error-summary".*?</ul>', response.text)
    assert summary, "no error summary"
    listed = [unescape(item) for item in re.findall(r'<a href="#sign_off-refusal">([^<]+)</a>', summary.group(0))]
    assert [plain_refusal_words(), *(gap[:1].upper() + gap[1:] for gap in gaps)] == [
        " ".join(item.split()) for item in listed
    ]


def plain_refusal_words() -> str:
    return "The Assurance Board cannot sign off yet, because the plans have gaps:"


async def test_an_early_audit_asks_to_confirm_with_a_reason_kept_in_the_timeline(env, start, person):
    """Before the planned date the audit form asks to confirm it is early, refuses without the box or the reason,
    and takes it with both, keeping the reason in the timeline."""
    handle, _ = await _at_sign_off(env, start, person)
    await decide(handle, "sign_off", SignOffInput(by=f.ASSURANCE))
    auditor = person(f.AUDITOR, "auditor")
    words = text_of(await auditor.open())
    assert "I confirm this audit is early" in words and "Why it is recorded early" in words
    audit = {"outcome": "embedded", "findings": "Seen in 18 of 20 cases", "rows": "1", "early_asked": "1"}

    unconfirmed = await auditor.post("record_audit", {**audit, "early_reason": "Inspection next month"})
    assert unconfirmed.status_code == 422 and "Confirm that this audit is early" in text_of(unconfirmed)
    assert (
        'href="#record_audit-early_confirmed"' in unconfirmed.text
        and 'id="record_audit-early_confirmed"' in unconfirmed.text
    )
    assert "Inspection next month" in unconfirmed.text
    no_reason = await auditor.post("record_audit", {**audit, "early_confirmed": "yes"})
    assert no_reason.status_code == 422 and "Enter why the audit is recorded before its date" in text_of(no_reason)
    # A form from before the question was asked: the workflow's own refusal, shown like the others.
    unasked = await auditor.post("record_audit", {k: v for k, v in audit.items() if k != "early_asked"})
    assert unasked.status_code == 409 and "to record it early, confirm and give the reason" in text_of(unasked)
    assert (await current(env)).stage is Stage.cascade  # signed off: the audit may come before the cascade ends

    await auditor.act("record_audit", {**audit, "early_confirmed": "yes", "early_reason": "Inspection next month"})
    status = await current(env)
    assert status.stage is Stage.assured
    [event] = [e for e in status.timeline if e.kind == "audit_embedded"]
    assert "early" in event.detail and "Inspection next month" in event.detail
