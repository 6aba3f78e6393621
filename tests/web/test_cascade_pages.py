"""The cascade on the pages, through FastAPI's client on the time-skipping server: a lead's
confirmation from their link (and its correction), refusals shown beside the form with what was
typed, a sponsor recording on a lead's behalf, the plans form's cascade rows with located
registry refusals, and the dashboard's cascade list and reach chart, limited to what each reader sees."""

from __future__ import annotations

import re
from datetime import date

import httpx
import pytest
import pytest_asyncio

from gateway.workflows import recommendation_status
from models.payloads import (
    CascadeStatus,
    CascadeStep,
    ConfirmCascadeInput,
    ImportedAction,
    ImportedProgress,
    SignOffInput,
    Stage,
)
from store.db import session_scope
from store.read_model import upsert_registry
from store.tables import Person
from tests import factories as f
from tests.helpers import days, decide, eventually, stored_row, today
from tests.web.test_dashboard import browser  # noqa: F401 (a fixture: signed-in dashboard browsers)
from tests.web_client import Browser, date_fields, text_of, token_for
from web.app import create_app

REF = "CASCADE-WEB"
ICB_FORM = "confirm_cascade-blmk-integrated-care-board"
POLICE_FORM = "confirm_cascade-thames-valley-police"


@pytest.fixture
def registry(database_url) -> None:
    """The example partnership's registry: the board, both agencies with their safeguarding leads,
    and the owners (the plans' cascade is checked against it)."""
    agencies, people, boards = f.registry_rows()
    named = {f.ASSURANCE: "Sam Scrutineer", f.SPONSOR: "Rita Sponsor", f.ICB_LEAD: "Ines Lead"}
    people = [Person(email=p.email, name=named.get(p.email, ""), roles=p.roles, agency=p.agency) for p in people]
    people.append(Person(email=f.STRANGER, name="Sid Stranger", roles=""))
    with session_scope(database_url) as session:
        upsert_registry(session=session, agencies=agencies, people=people, boards=boards)


@pytest_asyncio.fixture
async def web(env, settings, registry):
    app = create_app(settings, client=env.client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=settings.base_url) as client:
        yield client


@pytest.fixture
def link(web, settings):
    def make(who: str, role: str, ref: str = REF) -> Browser:
        return Browser(web, token_for(settings, who, ref, role))

    return make


async def signed_off(env, start, ref: str = REF, *, cascade: list[CascadeStep] | None = None):
    """A recommendation whose actions are done and whose credible plans the Assurance Board has
    signed off: its cascade is under way. Returns its handle and the server's today."""
    now = await today(env)
    dissemination, audit = f.credible_plans(now)
    if cascade is not None:
        dissemination = dissemination.model_copy(update={"cascade": cascade})
    done = ImportedAction(action_id="A1", status="complete", completed_on=now, evidence="Guidance v2 published")
    payload = f.start(ref, actions=[f.action("A1", now + days(30))]).model_copy(
        update={"imported": ImportedProgress(actions=[done], dissemination=dissemination, audit=audit)}
    )
    handle = await start(payload)
    status = await decide(handle, "sign_off", SignOffInput(by=f.ASSURANCE))
    assert Stage.cascade == status.stage
    return handle, now


def confirmation(day: date, reached: str = str(f.ICB_REACH), **more: str) -> dict[str, str]:
    return {"agency": f.ICB, "reached": reached, "channels": "7-minute briefing", **date_fields("done_on", day), **more}


class TestTheLeadsPage:
    async def test_a_lead_sees_their_agencys_task_and_confirms_it(self, env, start, link):
        """The lead's link shows their agency's card (the plan's staff group and reach, the plan's
        channels to tick) and not the other agency's; after confirming, the thanks, the figures
        and an offer to correct them; the whole cascade's table shows the agency confirmed."""
        _, now = await signed_off(env, start)
        lead = link(f.ICB_LEAD, "cascade_lead")
        page = await lead.open()
        words = text_of(page)
        assert 200 == page.status_code
        assert "Confirm the learning reached staff" in words
        assert f'id="{ICB_FORM}"' in page.text and f'id="{POLICE_FORM}"' not in page.text
        assert "120 staff: health visitors and school nurses" in words
        assert 'inputmode="numeric"' in page.text and 'name="done_on-day"' in page.text
        for channel in ("7-minute briefing", "team meetings", "partnership newsletter"):
            assert f'value="{channel}"' in page.text
        assert "on behalf of" not in words

        page = await lead.act(
            "confirm_cascade",
            {**confirmation(now), "channels_other": "Team huddles", "note": "All teams by the March huddle"},
        )
        words = text_of(page)
        assert "Thank you: the cascade confirmation is recorded." in words
        assert "120 of 120 staff (100%)" in words
        assert "7-minute briefing, Team huddles" in words
        assert "Correct these figures" in words
        row = re.search(
            r'<tr class="govuk-table__row" id="cascade-blmk-integrated-care-board">(.*?)</tr>', page.text, re.S
        )
        assert row and "Confirmed" in row.group(1) and "100%" in row.group(1)
        assert "Overall reach: 60% (120 of 200 staff planned)" in words
        status = await recommendation_status(env.client, REF)
        assert (120, ["7-minute briefing", "Team huddles"], None) == (
            status.cascade[0].reached,
            status.cascade[0].channels,
            status.cascade[0].on_behalf_of,
        )

    async def test_the_correction_form_starts_from_what_was_confirmed(self, env, start, link):
        """Once confirmed, the form is the same decision again, filled in with the figures given;
        sending it corrects them (the timeline says corrected)."""
        handle, now = await signed_off(env, start)
        lead = link(f.ICB_LEAD, "cascade_lead")
        await lead.act("confirm_cascade", confirmation(now, "118", note="Two on leave"))
        page = await lead.open()
        assert 'value="118"' in page.text
        assert re.search(r'value="7-minute briefing"\s+checked', page.text)
        page = await lead.act("confirm_cascade", confirmation(now, "120"))
        assert "120 of 120 staff (100%)" in text_of(page)
        status = await recommendation_status(env.client, REF)
        assert "cascade_corrected" == status.timeline[-1].kind

    async def test_typing_mistakes_are_shown_at_their_fields_with_the_input_kept(self, env, start, link):
        """A figure that is not a number, and a day left out, are refused before the workflow is
        asked, each message beside its field and in the summary."""
        await signed_off(env, start)
        lead = link(f.ICB_LEAD, "cascade_lead")
        answer = await lead.post("confirm_cascade", {"agency": f.ICB, "reached": "about a hundred", "note": "Most"})
        words = text_of(answer)
        assert 422 == answer.status_code
        assert "How many staff were reached must be a whole number, like 120" in words
        assert "Enter the day it was done" in words
        assert f'href="#{ICB_FORM}-reached"' in answer.text and f'href="#{ICB_FORM}-done_on-day"' in answer.text
        assert 'value="about a hundred"' in answer.text
        assert (await recommendation_status(env.client, REF)).cascade[0].status is CascadeStatus.waiting

    @pytest.mark.parametrize(
        ("reached", "note", "shift", "said"),
        [
            ("60", "", 0, "60 of the 120 staff planned were reached: say in the note why fewer"),
            ("1201", "", 0, "1201 is more than ten times the 120 staff"),
            ("120", "", 3, "a future date"),
        ],
        ids=["fewer-without-a-note", "absurd", "in-the-future"],
    )
    async def test_the_workflows_refusals_are_shown_beside_the_form(self, env, start, link, reached, note, shift, said):
        """The workflow's own checks: fewer than planned with no reason, more than ten times the
        plan, a day still to come; each refusal is shown at the form, what was typed kept."""
        _, now = await signed_off(env, start)
        lead = link(f.ICB_LEAD, "cascade_lead")
        answer = await lead.post("confirm_cascade", confirmation(now + days(shift), reached, note=note))
        words = text_of(answer)
        assert 409 == answer.status_code
        assert said in words
        assert f'id="{ICB_FORM}-refusal"' in answer.text and f'href="#{ICB_FORM}-refusal"' in answer.text
        assert f'value="{reached}"' in answer.text

    async def test_fewer_than_planned_with_a_reason_is_taken(self, env, start, link):
        _, now = await signed_off(env, start)
        page = await link(f.ICB_LEAD, "cascade_lead").act(
            "confirm_cascade", confirmation(now, "60", note="Night staff are briefed in May")
        )
        assert "60 of 120 staff (50%)" in text_of(page)

    async def test_a_person_leading_two_agencies_confirms_each(self, env, start, link):
        """One lead for both agencies: a card and a form for each, and each confirmed alone."""
        steps = [s.model_copy(update={"lead": f.ICB_LEAD}) for s in f.cascade_steps()]
        _, now = await signed_off(env, start, cascade=steps)
        lead = link(f.ICB_LEAD, "cascade_lead")
        page = await lead.open()
        assert f'id="{ICB_FORM}"' in page.text and f'id="{POLICE_FORM}"' in page.text
        await lead.act("confirm_cascade", confirmation(now, agency=f.POLICE, reached="80"))
        status = await recommendation_status(env.client, REF)
        assert [CascadeStatus.waiting, CascadeStatus.confirmed] == [c.status for c in status.cascade]

    async def test_another_agencys_lead_is_refused(self, env, start, link):
        """The police lead sends a confirmation for the ICB: not theirs, and the page says so."""
        _, now = await signed_off(env, start)
        answer = await link(f.POLICE_LEAD, "cascade_lead").post("confirm_cascade", confirmation(now))
        assert 409 == answer.status_code
        assert "the cascade lead of BLMK Integrated Care Board" in text_of(answer)
        assert f'id="{ICB_FORM}-refusal"' in answer.text  # beside the form it was sent from
        assert (await recommendation_status(env.client, REF)).cascade[0].status is CascadeStatus.waiting

    async def test_a_cascade_link_for_someone_who_leads_nothing_does_not_open(self, env, start, link):
        await signed_off(env, start)
        page = await link(f.STRANGER, "cascade_lead").open()
        assert 403 == page.status_code
        assert "You no longer lead the cascade" in text_of(page)


class TestAfterTheAudit:
    async def test_an_agency_that_never_confirmed_is_shown_as_not_confirmed(self, env, start, link):
        """The audit recorded, confirmations are closed: no form, and the silent agencies are
        "Not confirmed" rather than still waiting."""
        handle, now = await signed_off(env, start)
        early = {"outcome": "embedded", "findings": "18 of 20 cases", "early_reason": "Brought forward"}
        await decide(handle, "record_audit", {"by": f.AUDITOR, **early})
        page = await link(f.SPONSOR, "sponsor").open()
        words = text_of(page)
        assert 200 == page.status_code
        assert "Confirm the learning reached staff" not in words
        assert "Confirmations closed when the audit was recorded." in words
        assert 2 == len(re.findall(r"govuk-tag--grey\">\s*Not confirmed", page.text))


class TestOnBehalf:
    async def test_a_sponsor_records_a_leads_confirmation_on_their_behalf(self, env, start, link):
        """The sponsor sees every agency, is told it will be recorded on the lead's behalf, and the
        table then says who recorded it for whom."""
        _, now = await signed_off(env, start)
        sponsor = link(f.SPONSOR, "sponsor")
        page = await sponsor.open()
        words = text_of(page)
        assert f'id="{ICB_FORM}"' in page.text and f'id="{POLICE_FORM}"' in page.text
        assert f"You are recording this on behalf of {f.ICB_LEAD}, who leads {f.ICB}'s cascade" in words
        assert "Record it on the lead's behalf" in words

        page = await sponsor.act("confirm_cascade", confirmation(now))
        assert f"Recorded by {f.SPONSOR} on behalf of {f.ICB_LEAD}" in text_of(page)
        status = await recommendation_status(env.client, REF)
        assert (f.SPONSOR, f.ICB_LEAD) == (status.cascade[0].confirmed_by, status.cascade[0].on_behalf_of)


def plan_form(day: date, rows: list[tuple[str, str, str, str]], **more: str) -> dict[str, str]:
    """The plans form as an owner fills it, with one cascade row per (agency, lead, group, reach)."""
    fields = {
        "audiences": "health visitors\nschool nurses",
        "channels": "7-minute briefing\nteam meetings",
        "socialisation": "Supervisors test the guidance in monthly supervision for six months",
        "plan_owner": f.OWNER,
        **date_fields("starts", day + days(7)),
        **date_fields("ends", day + days(90)),
        "method": "Multi-agency case file audit of 20 cases",
        "auditor": f.AUDITOR,
        **date_fields("audit_on", day + days(180)),
        "success_measures": "professionals' meeting held in 90% of qualifying cases",
        "measures": f.MEASURE_ID,  # the box the form ticks: the audit weighs measure M1
        **date_fields("cascade_by", day + days(120)),
        "reach_threshold": "80",
        "cascade_rows": str(len(rows)),
    }
    for index, (agency, lead, group, reach) in enumerate(rows):
        prefix = f"cascade-{index}-"
        fields |= {prefix + "agency": agency, prefix + "lead": lead, prefix + "staff_group": group,
                   prefix + "expected_reach": reach}  # fmt: skip
    return fields | more


async def at_plans(env, start):
    """A recommendation whose one action is complete: its owner's page asks for the plans."""
    day = await today(env)
    handle = await start(f.start(REF, actions=[f.action("A1", day + days(40))]))
    await decide(handle, "complete_action", {"by": f.OWNER, "action_id": "A1", "evidence": "Done"})
    return handle, day


class TestThePlansForm:
    async def test_the_plans_form_offers_the_registrys_agencies_and_adds_a_row(self, env, start, settings, web):
        await at_plans(env, start)
        owner = Browser(web, token_for(settings, f.OWNER, REF, "owner", "A1"))
        page = await owner.open()
        assert '<option value="BLMK Integrated Care Board">' in page.text
        assert 'name="cascade-0-lead"' in page.text and 'name="cascade-1-agency"' not in page.text
        assert 'name="reach_threshold"' in page.text and 'value="80"' in page.text
        more = await owner.post("submit_plans", {"add_cascade_row": "1", "cascade_rows": "1"})
        assert 200 == more.status_code
        assert 'name="cascade-1-agency"' in more.text and 'name="cascade_rows" value="2"' in more.text

    async def test_plans_with_a_cascade_are_taken(self, env, start, settings, web):
        """Two agencies, one with its lead by default and one named: credible, so sign-off may follow."""
        _, day = await at_plans(env, start)
        owner = Browser(web, token_for(settings, f.OWNER, REF, "owner", "A1"))
        rows = [(f.ICB, "", "health visitors", "120"), (f.POLICE, f.POLICE_LEAD, "officers", "80")]
        page = await owner.act("submit_plans", plan_form(day, rows, reach_threshold="75"))
        words = text_of(page)
        assert "These plans are complete enough for the Assurance Board to sign off." in words
        assert "The planned cascade" in words and "The agency's safeguarding lead" in words
        status = await recommendation_status(env.client, REF)
        plan = status.dissemination
        assert [(f.ICB, None, 120), (f.POLICE, f.POLICE_LEAD, 80)] == [
            (s.agency, s.lead, s.expected_reach) for s in plan.cascade
        ]
        assert (day + days(120), 75) == (plan.cascade_by, plan.reach_threshold)

    async def test_plans_without_a_cascade_have_a_gap(self, env, start, settings, web):
        _, day = await at_plans(env, start)
        owner = Browser(web, token_for(settings, f.OWNER, REF, "owner", "A1"))
        page = await owner.act("submit_plans", plan_form(day, []))
        assert "cascade: name at least one agency whose staff the learning must reach" in text_of(page)

    async def test_an_unknown_agency_and_an_unregistered_lead_are_shown_at_their_row(self, env, start, settings, web):
        """The registry's refusal names each row's field: the message sits beside it."""
        _, day = await at_plans(env, start)
        owner = Browser(web, token_for(settings, f.OWNER, REF, "owner", "A1"))
        rows = [("Milton Keynes Fire", "", "crews", "40"), (f.POLICE, "nobody@police.example", "officers", "80")]
        answer = await owner.post("submit_plans", plan_form(day, rows))
        words = text_of(answer)
        assert 409 == answer.status_code  # in conflict with the registry
        assert "There is no agency called 'Milton Keynes Fire' in the registry" in words
        assert "The cascade lead nobody@police.example is not in the registry" in words
        assert 'href="#submit_plans-cascade-0-agency"' in answer.text
        assert 'href="#submit_plans-cascade-1-lead"' in answer.text
        assert '<option value="Milton Keynes Fire" selected>' in answer.text  # what was sent, kept
        assert (await recommendation_status(env.client, REF)).dissemination is None

    async def test_a_figure_that_is_not_a_number_is_refused_at_its_row(self, env, start, settings, web):
        _, day = await at_plans(env, start)
        owner = Browser(web, token_for(settings, f.OWNER, REF, "owner", "A1"))
        answer = await owner.post(
            "submit_plans", plan_form(day, [(f.ICB, "", "nurses", "lots")], reach_threshold="120")
        )
        words = text_of(answer)
        assert 422 == answer.status_code
        assert "The number of staff to reach must be a whole number, like 120" in words
        assert 'href="#submit_plans-cascade-0-expected_reach"' in answer.text


class TestDashboardCascade:
    async def test_the_cascade_list_and_the_reach_chart(self, env, start, browser, database_url):  # noqa: F811
        """The Assurance Board sees every agency still to confirm and, once one has, its reach as
        a chart with the same figures in a table; the police lead sees the recommendation their
        agency is in; someone with no part in it sees nothing."""
        handle, now = await signed_off(env, start)
        await decide(
            handle,
            "confirm_cascade",
            ConfirmCascadeInput(by=f.ICB_LEAD, agency=f.ICB, reached=90, done_on=now, note="Night staff in May"),
        )
        await eventually(lambda: (row := stored_row(database_url, REF)) is not None and row.reach_percent == 45)

        board = await browser(f.ASSURANCE)
        overview = await board.client.get("/dashboard")
        assert 'href="/dashboard/cascade"' in overview.text
        page = await board.client.get("/dashboard/cascade")
        words = text_of(page)
        assert 200 == page.status_code
        assert "Agencies still to confirm (1)" in words
        assert f.POLICE in words and "Waiting" in words
        assert f.POLICE_LEAD.replace("@", "<wbr>@") in page.text  # may break before its "@" on a phone
        assert 'role="img"' in page.text and "Staff reached by agency" in words
        reach = re.search(r'id="reach-table">(.*?)</table>', page.text, re.S)
        assert reach and f.ICB in reach.group(1) and "90" in reach.group(1) and "75%" in reach.group(1)
        # The police have not confirmed: counted as none of their 80 reached, as the status counts it.
        police_row = re.search(rf"{re.escape(f.POLICE)}</th>(.*?)</tr>", reach.group(1), re.S)
        assert police_row and re.findall(r">(\d+%?)</td>", police_row.group(1)) == ["0", "80", "0%"]

        recommendation = await board.client.get(f"/dashboard/r/{REF}")
        assert "The cascade to each agency" in text_of(recommendation)

        police = await browser(f.POLICE_LEAD)
        assert f.POLICE in text_of(await police.client.get("/dashboard/cascade"))
        assert 200 == (await police.client.get(f"/dashboard/r/{REF}")).status_code
        stranger = await browser(f.STRANGER)
        words = text_of(await stranger.client.get("/dashboard/cascade"))
        assert "Agencies still to confirm (0)" in words and "No recommendation you can see has a cascade yet." in words
