"""The agency lead's return page from their emailed link, through FastAPI's client on the
time-skipping server: the form while owed, a submission taken and one refused with every problem
shown and the input kept, the challenge and its answer, CSRF, a GET that changes nothing, and
links that no longer fit (another lead named, the return accepted, forged, expired)."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest_asyncio
from temporalio.client import WorkflowHandle

from links.return_links import ReturnLinkClaims, return_signer
from models.cycle_lifecycle import AcceptReturnInput, ChallengeReturnInput, ReturnInput
from models.cycle_returns import ReturnParties, ReturnStage
from models.cycles import agency_key, return_workflow_id
from models.payloads import EscalationPolicy
from store.db import session_scope
from store.read_model import upsert_registry
from store.tables import Agency, Person
from tests import factories as f
from tests.helpers import end_when_idle, seed_registry, today
from tests.models.test_cycles import section_11
from tests.web_client import csrf_of, text_of
from web.app import create_app
from workflows.cycle_return import CycleReturnWorkflow

PARTIES = ReturnParties(lead=f.ICB_LEAD, reviewers=[f.SPONSOR, f.CHAIR], assurance_members=[f.ASSURANCE])


@pytest_asyncio.fixture
async def web(env, settings, database_url):
    seed_registry(database_url)
    app = create_app(settings, client=env.client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=settings.base_url) as client:
        yield client


@pytest_asyncio.fixture
async def a_return(env, task_queue, worker):
    """One return of the ICB's, on this test's queue; ended at the end once nothing is in flight."""
    handles: list[WorkflowHandle] = []

    async def start(period: str) -> WorkflowHandle:
        now = await today(env)
        start = ReturnInput(cycle=section_11(board="Review Board"), period=period, starts_on=now,
                            due_on=now + timedelta(days=30), agency=f.ICB, policy=EscalationPolicy(),
                            parties=PARTIES)  # fmt: skip
        workflow_id = return_workflow_id("S11", period, agency_key(f.ICB))
        handle = await env.client.start_workflow(CycleReturnWorkflow.run, start, id=workflow_id, task_queue=task_queue)
        handles.append(handle)
        return handle

    yield start
    for handle in handles:
        await end_when_idle(handle)


def link(settings, workflow_id: str, person: str = f.ICB_LEAD) -> str:
    return "/c/" + return_signer(settings).sign(ReturnLinkClaims(person=person, return_id=workflow_id))


def filled(csrf: str, *, second: str = "not_met", owner: str = f.OWNER, due: str = "2099-03-31", **more: str):
    return {
        "csrf_token": csrf, "rating-1": "met", "evidence-1": "Board minutes, March",
        "rating-2": second, "evidence-2": "61% trained", "description-2": "Train every ward manager",
        "owner-2": owner, "due-2": due, **more,
    }  # fmt: skip


async def status_of(handle):
    return await handle.query(CycleReturnWorkflow.status)


class TestTheLeadsPage:
    async def test_the_form_then_a_submission_then_the_answers(self, web, a_return, settings):
        handle = await a_return("2031-32")
        url = link(settings, handle.id)  # one link, as in the email: the CSRF token is bound to it
        page = await web.get(url)
        assert page.status_code == 200
        words = text_of(page)
        assert "BLMK Integrated Care Board's return" in words and "Senior leadership for safeguarding" in words
        assert "Training records, by role" in words  # a standard's guidance
        assert page.headers["cache-control"].startswith("no-store")
        assert ReturnStage.awaiting == (await status_of(handle)).state.stage  # a GET changes nothing

        posted = await web.post(url, data=filled(csrf_of(page.text)))
        assert posted.status_code == 303
        after = await web.get(posted.headers["location"])
        assert "Your return is submitted" in text_of(after)
        assert "Action: Train every ward manager" in text_of(after) and "<form" not in after.text
        state = (await status_of(handle)).state
        assert (ReturnStage.submitted, ["met", "not_met"]) == (state.stage, [a.rating.value for a in state.answers])

    async def test_a_refused_submission_shows_every_problem_and_keeps_the_input(self, web, a_return, settings):
        handle = await a_return("2032-33")
        url = link(settings, handle.id)  # one link, as in the email: the CSRF token is bound to it
        page = await web.get(url)
        fields = filled(csrf_of(page.text))
        del fields["description-2"], fields["owner-2"], fields["due-2"]
        fields["rating-1"] = ""
        refused = await web.post(url, data=fields)
        assert refused.status_code == 400
        words = text_of(refused)
        assert "There is a problem" in words
        assert "answers.0.rating: Input should be 'met', 'partly_met' or 'not_met'" in words
        assert "61% trained" in refused.text  # what was typed is kept
        assert ReturnStage.awaiting == (await status_of(handle)).state.stage

        page = await web.get(url)
        past = await web.post(url, data=filled(csrf_of(page.text), due="2001-01-01"))
        assert past.status_code == 400 and "2: the action's date 2001-01-01 is before today" in text_of(past)

    async def test_a_challenge_is_shown_and_answered(self, web, a_return, settings):
        handle = await a_return("2033-34")
        url = link(settings, handle.id)  # one link, as in the email: the CSRF token is bound to it
        page = await web.get(url)
        assert (await web.post(url, data=filled(csrf_of(page.text)))).status_code == 303
        await handle.execute_update(
            CycleReturnWorkflow.challenge_return, ChallengeReturnInput(by=f.CHAIR, challenge="Which wards are left?")
        )
        page = await web.get(url)
        assert "The board's challenge Which wards are left?" in text_of(page)
        unanswered = await web.post(url, data=filled(csrf_of(page.text)))
        assert "answer the challenge: say what changed in the return, and why" in text_of(unanswered)
        page = await web.get(url)
        answered = filled(csrf_of(page.text), second="partly_met", response="Wards 3 and 7 train in May")
        assert (await web.post(url, data=answered)).status_code == 303
        state = (await status_of(handle)).state
        assert (ReturnStage.submitted, "Wards 3 and 7 train in May") == (state.stage, state.challenges[-1].response)


class TestLinksThatNoLongerFit:
    async def test_a_post_without_its_csrf_token_is_refused(self, web, a_return, settings):
        handle = await a_return("2034-35")
        url = link(settings, handle.id)  # one link, as in the email: the CSRF token is bound to it
        fields = filled("not-a-token")
        assert (await web.post(url, data=fields)).status_code == 403
        assert ReturnStage.awaiting == (await status_of(handle)).state.stage

    async def test_another_lead_in_the_registry_ends_the_old_leads_link(self, web, a_return, settings, database_url):
        handle = await a_return("2035-36")
        url = link(settings, handle.id)  # one link, as in the email: the CSRF token is bound to it
        page = await web.get(url)
        csrf = csrf_of(page.text)
        new_lead = "new.lead@icb.example"
        with session_scope(database_url) as session:
            upsert_registry(session=session, agencies=[Agency(name=f.ICB, safeguarding_lead_email=new_lead)],
                            people=[Person(email=new_lead, roles="agency_lead", agency=f.ICB)], boards=[])  # fmt: skip
        refused = await web.post(url, data=filled(csrf))
        assert refused.status_code == 403
        assert "You are no longer your agency's safeguarding lead for this return." in text_of(refused)
        assert ReturnStage.awaiting == (await status_of(handle)).state.stage
        assert new_lead == (await status_of(handle)).state.parties.lead  # the registry, as it is now

    async def test_an_accepted_return_is_shown_but_not_changed(self, web, a_return, settings):
        handle = await a_return("2036-37")
        url = link(settings, handle.id)  # one link, as in the email: the CSRF token is bound to it
        page = await web.get(url)
        csrf = csrf_of(page.text)
        await web.post(url, data=filled(csrf))
        await handle.execute_update(CycleReturnWorkflow.accept_return, AcceptReturnInput(by=f.SPONSOR))
        await WorkflowHandle.result(handle)
        page = await web.get(url)
        assert page.status_code == 200 and "Accepted" in text_of(page) and "<form" not in page.text
        refused = await web.post(url, data=filled(csrf))  # an old tab's form, posted again
        assert refused.status_code == 403
        assert "This return has been accepted, so it can no longer be changed." in text_of(refused)

    async def test_forged_and_foreign_links_are_refused(self, web, a_return, settings):
        handle = await a_return("2037-38")
        url = link(settings, handle.id)  # one link, as in the email: the CSRF token is bound to it
        good = url
        assert (await web.get(good[:-3] + "abc")).status_code == 403
        # A recommendation's link is not a return's: the salts differ.
        from links.signed import LinkClaims, signer_from_settings

        foreign = signer_from_settings(settings).sign(LinkClaims(person=f.ICB_LEAD, ref="CSPR-2023-01", role="owner"))
        assert (await web.get(f"/c/{foreign}")).status_code == 403
        other = await web.get(link(settings, "cycle-S11-2037-38-nobody-000000"))
        assert other.status_code == 403 and "not in Assure" in text_of(other)
