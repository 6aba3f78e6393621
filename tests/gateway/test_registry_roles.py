"""Only the right people: the registry as it is now decides who holds a recommendation's roles, in
the running workflows as at every edge, and a decision may name only registered people."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
import pytest_asyncio

from gateway.registry_sync import sync_registry
from gateway.workflows import reader_status, recommendation_status
from models.payloads import SubmitPlansInput
from store.api_tokens import issue_token
from store.db import session_scope
from store.read_model import caught_mail, upsert_registry
from store.tables import Person
from tests import factories as f
from tests.helpers import decide, eventually, seed_registry, sent, stored_row, today
from tests.web_client import Browser, csrf_of, text_of, token_for
from web.app import create_app

NEW_MEMBER = "new.member@mk.example"
NOBODY = "nobody@nowhere.example.org"


@pytest.fixture(autouse=True)
def registry(database_url) -> None:
    seed_registry(database_url)


@pytest_asyncio.fixture
async def web(env, settings):
    app = create_app(settings, client=env.client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=settings.base_url) as client:
        yield client


def set_roles(database_url: str, roles_by_email: dict[str, str]) -> None:
    """Edit people's roles in the registry (a re-import or a registry edit does the same)."""
    people = [Person(email=email, roles=roles) for email, roles in roles_by_email.items()]
    with session_scope(database_url) as session:
        upsert_registry(session=session, agencies=[], people=people, boards=[])


async def at_sign_off(env, start, database_url, ref: str):
    day = await today(env)
    handle = await start(f.start(ref, actions=[f.action("A1", day + timedelta(days=30))]))
    await decide(handle, "complete_action", {"by": f.OWNER, "action_id": "A1", "evidence": "Done"})
    dissemination, audit = f.credible_plans(day)
    await decide(handle, "submit_plans", SubmitPlansInput(by=f.OWNER, dissemination=dissemination, audit=audit))
    await eventually(lambda: (row := stored_row(database_url, ref)) is not None and row.stage == "sign_off")
    return handle, dissemination, audit


class TestRegistryChangesReachRunningWorkflows:
    async def test_a_removed_member_loses_sign_off_and_the_new_member_gets_the_mail(
        self, env, start, settings, database_url, web
    ):
        """After the registry drops an Assurance Board member, their emailed link no longer offers or takes a
        sign-off, the timeline says what changed, and the next sign-off request goes to the new member."""
        ref = "ROLES-1"
        handle, dissemination, audit = await at_sign_off(env, start, database_url, ref)
        member = Browser(web, token_for(settings, f.ASSURANCE, ref, "assurance_member"))
        page = await member.open()
        assert page.status_code == 200 and "Sign off" in text_of(page)
        csrf = csrf_of(page.text)

        set_roles(database_url, {f.ASSURANCE: "owner", NEW_MEMBER: "assurance_member"})
        assert [ref] == await sync_registry(env.client, database_url)
        assert [] == await sync_registry(env.client, database_url)  # nothing left to change: no new history

        page = await member.open()
        assert page.status_code == 403
        assert "You are no longer in the role this link was sent for." in text_of(page)
        posted = await member.post("sign_off", {"note": "Signing anyway"}, csrf=csrf)
        assert posted.status_code != 303
        status = await recommendation_status(env.client, ref)
        assert "sign_off" == status.stage.value
        [change] = [e for e in status.timeline if e.kind == "roles_changed"]
        assert f"{f.ASSURANCE} is no longer an Assurance Board member" in change.detail
        assert f"{NEW_MEMBER} is now an Assurance Board member" in change.detail
        assert "assurance_member" in (await reader_status(env.client, ref, NEW_MEMBER)).roles

        await decide(handle, "submit_plans", SubmitPlansInput(by=f.OWNER, dissemination=dissemination, audit=audit))
        requests = await eventually(lambda: [r for r in sent(database_url, ref) if r.kind == "sign_off_requested"][1:])
        assert [[NEW_MEMBER]] == [r.recipients for r in requests]

    async def test_every_edge_judges_by_the_registry_even_before_a_sync(self, env, start, settings, database_url, web):
        """A member removed from the registry a moment ago cannot sign off through the API, with no sync run."""
        ref = "ROLES-2"
        await at_sign_off(env, start, database_url, ref)
        with session_scope(database_url) as session:
            token = issue_token(session=session, email=f.ASSURANCE)
        set_roles(database_url, {f.ASSURANCE: "owner"})
        answer = await web.post(
            f"/api/recommendations/{ref}/decisions/sign_off", json={}, headers={"Authorization": f"Bearer {token}"}
        )
        assert answer.status_code in (403, 404)
        assert "sign_off" == (await recommendation_status(env.client, ref)).stage.value


class TestDecisionsNameOnlyRegisteredPeople:
    async def test_a_reassignment_to_an_unregistered_address_is_refused_and_nothing_is_sent(
        self, env, start, settings, database_url, web
    ):
        """Reassigning an action to an address nobody registered answers 409 naming it, changes nothing and emails nobody."""
        day = await today(env)
        ref = "NAMED-1"
        await start(f.start(ref, actions=[f.action("A1", day + timedelta(days=30))]))
        with session_scope(database_url) as session:
            token = issue_token(session=session, email=f.SPONSOR)
        body = {"action_id": "A1", "new_owner": NOBODY, "reason": "Named nurse on leave"}
        answer = await web.post(
            f"/api/recommendations/{ref}/decisions/reassign_owner",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        )
        assert 409 == answer.status_code
        assert "NotInRegistry" == answer.json()["type"] and NOBODY in answer.json()["message"]
        assert f.OWNER == (await recommendation_status(env.client, ref)).actions[0].owner
        with session_scope(database_url) as session:
            assert [] == caught_mail(session=session, recipient=NOBODY)

        sponsor = Browser(web, token_for(settings, f.SPONSOR, ref, "sponsor"))
        refused = await sponsor.post("reassign_owner", body)
        assert 409 == refused.status_code and NOBODY in text_of(refused)

    async def test_a_registered_person_without_a_fitting_role_is_refused_as_auditor(
        self, env, start, settings, database_url
    ):
        """Plans naming as auditor someone registered only as an owner are refused, saying which role is missing."""
        day = await today(env)
        ref = "NAMED-2"
        handle = await start(f.start(ref, actions=[f.action("A1", day + timedelta(days=30))]))
        await decide(handle, "complete_action", {"by": f.OWNER, "action_id": "A1", "evidence": "Done"})
        dissemination, audit = f.credible_plans(day)
        from gateway.workflows import DecisionNotTaken
        from gateway.workflows import decide as decide_at_edge

        plans = SubmitPlansInput(
            by=f.OWNER, dissemination=dissemination, audit=audit.model_copy(update={"auditor": f.OWNER_2})
        )
        with pytest.raises(DecisionNotTaken) as refusal:
            await decide_at_edge(env.client, ref, "submit_plans", plans, database_url=database_url)
        assert "NotInRegistry" == refusal.value.type
        assert f"the auditor {f.OWNER_2} is in the registry, but without the role" in refusal.value.message
        assert {"audit.auditor"} == set(refusal.value.fields)
        assert None is (await recommendation_status(env.client, ref)).audit_plan

    async def test_a_measure_reporter_must_be_registered_wherever_measures_are_agreed(
        self, env, start, settings, database_url
    ):
        """A measure whose reporter nobody registered is refused at the edge, whether added later
        or agreed with the actions, naming where; the workflow never sees it and nobody is
        emailed. A registered reporter (of any role) is taken."""
        from gateway.workflows import DecisionNotTaken
        from gateway.workflows import decide as decide_at_edge

        day = await today(env)
        ref = "NAMED-3"
        await start(f.start(ref, measures=[]))
        stranger = f.measure("M2", reporter=NOBODY)
        action = f.action("A1", day + timedelta(days=30))
        for name, payload in (
            ("add_measures", {"by": f.SPONSOR, "measures": [stranger]}),
            ("agree_actions", {"by": f.SPONSOR, "actions": [action], "measures": [stranger]}),
        ):
            with pytest.raises(DecisionNotTaken) as refusal:
                await decide_at_edge(env.client, ref, name, payload, database_url=database_url)
            assert "NotInRegistry" == refusal.value.type, name
            assert {"measure M2: reporter": f"the measure reporter {NOBODY} is not in the registry: "
                    "name a registered person"} == refusal.value.fields  # fmt: skip
        status = await recommendation_status(env.client, ref)
        assert ([], "review") == (status.measures, status.stage.value)
        with session_scope(database_url) as session:
            assert [] == caught_mail(session=session, recipient=NOBODY)

        # The ICB's lead holds no owner's or auditor's role; reporting a measure needs none.
        await decide_at_edge(
            env.client, ref, "add_measures", {"by": f.SPONSOR, "measures": [f.measure("M2", reporter=f.ICB_LEAD)]},
            database_url=database_url,
        )  # fmt: skip
        assert ["M2"] == [m.measure_id for m in (await recommendation_status(env.client, ref)).measures]
