"""The API's people and registry routes: a person's absence and deputy by them, their agency's
lead or an admin; a leaving and its hand-over's progress; people, agencies and boards edited by an
admin under the import's own rules, refused with each field's reason and nothing written, and
delivered to the running workflows."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
import pytest_asyncio
from sqlmodel import select

from gateway.people import hand_over_id, hand_over_progress
from gateway.workflows import recommendation_status
from models.payloads import AcknowledgeInput, EscalationPolicy
from store.api_tokens import issue_token
from store.db import session_scope
from store.read_model import upsert_registry
from store.tables import AbsenceRow, Board, Person, RegistryChange
from tests import factories as f
from tests.helpers import decide, eventually, seed_registry, stored_row, today
from web.app import create_app

ADMIN = "registry.admin@mk.example"


@pytest.fixture(autouse=True)
def registry(database_url) -> None:
    seed_registry(database_url)
    with session_scope(database_url) as session:
        upsert_registry(session=session, agencies=[], boards=[], people=[Person(email=ADMIN, roles="admin")])
        for email in (f.OWNER, f.NEW_OWNER):
            session.exec(select(Person).where(Person.email == email)).one().agency = f.ICB


@pytest_asyncio.fixture
async def api(env, settings):
    app = create_app(settings, client=env.client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=settings.base_url) as client:
        yield client


def bearer(database_url: str, email: str) -> dict[str, str]:
    with session_scope(database_url) as session:
        return {"Authorization": f"Bearer {issue_token(session=session, email=email)}"}


def changes(database_url: str) -> list[tuple[str, str, str]]:
    with session_scope(database_url) as session:
        return [(c.by, c.subject, c.what) for c in session.exec(select(RegistryChange))]


class TestAbsencesAndDeputies:
    async def test_a_person_records_their_own_absence_and_a_stranger_may_not(self, env, api, database_url):
        day = await today(env)
        body = {"first_day": str(day + timedelta(days=1)), "last_day": str(day + timedelta(days=10)),
                "deputy": f.NEW_OWNER}  # fmt: skip
        answer = await api.post(f"/api/people/{f.OWNER}/absences", json=body, headers=bearer(database_url, f.OWNER))
        assert 201 == answer.status_code, answer.text
        assert answer.json()["agency_lead_told"] is False
        stranger = await api.post(f"/api/people/{f.OWNER}/absences", json=body, headers=bearer(database_url, f.OWNER_2))
        assert 404 == stranger.status_code
        record = await api.get(f"/api/people/{f.OWNER}", headers=bearer(database_url, f.ICB_LEAD))
        assert 200 == record.status_code and [f.NEW_OWNER] == [a["deputy"] for a in record.json()["absences"]]
        assert (f.OWNER, f.OWNER, "absence") in changes(database_url)

    async def test_a_refused_absence_names_its_field_and_writes_nothing(self, env, api, database_url):
        day = await today(env)
        body = {"first_day": str(day + timedelta(days=10)), "last_day": str(day + timedelta(days=1)),
                "deputy": f.POLICE_LEAD}  # fmt: skip
        answer = await api.post(f"/api/people/{f.OWNER}/absences", json=body, headers=bearer(database_url, ADMIN))
        assert 400 == answer.status_code
        fields = answer.json()["fields"]
        assert "before the first day" in fields["last_day"] and "deputy" in fields
        with session_scope(database_url) as session:
            assert [] == list(session.exec(select(AbsenceRow)))
        assert [] == changes(database_url)

    async def test_a_running_recommendation_learns_the_absence(self, env, api, start, database_url):
        day = await today(env)
        handle = await start(f.start("API-AWAY", actions=[f.action("A1", day + timedelta(days=40))]))
        await eventually(lambda: stored_row(database_url, "API-AWAY"))
        body = {"first_day": str(day), "last_day": str(day + timedelta(days=10)), "deputy": f.NEW_OWNER}
        answer = await api.post(f"/api/people/{f.OWNER}/absences", json=body, headers=bearer(database_url, f.OWNER))
        assert 201 == answer.status_code and answer.json()["delivered_to"] >= 1
        await decide(handle, "acknowledge", AcknowledgeInput(by=f.NEW_OWNER, action_id="A1"))
        status = await recommendation_status(env.client, "API-AWAY")
        assert f"{f.NEW_OWNER}, acting for {f.OWNER}" in {e.actor for e in status.timeline}


class TestLeaving:
    async def test_the_agency_lead_records_a_leaver_and_follows_the_hand_over(self, env, api, start, database_url):
        day = await today(env)
        await start(f.start("API-LEAVE", actions=[f.action("A1", day + timedelta(days=40))]))
        await eventually(lambda: stored_row(database_url, "API-LEAVE"))
        owner = await api.post(
            f"/api/people/{f.OWNER}/leaving", json={"successor": f.NEW_OWNER}, headers=bearer(database_url, f.OWNER)
        )
        assert 404 == owner.status_code  # not for someone to record of themselves
        answer = await api.post(
            f"/api/people/{f.OWNER}/leaving", json={"successor": f.NEW_OWNER}, headers=bearer(database_url, f.ICB_LEAD)
        )
        assert 202 == answer.status_code, answer.text
        await hand_over_progress(env.client, hand_over_id(f.OWNER), wait=True)
        progress = await api.get(f"/api/hand-overs/{f.OWNER}", headers=bearer(database_url, f.ICB_LEAD))
        assert progress.json()["finished"] and ["API-LEAVE"] == [m["ref"] for m in progress.json()["moved"]]
        assert f.NEW_OWNER == (await recommendation_status(env.client, "API-LEAVE")).actions[0].owner
        # The leaver's own token ends with their leaving.
        with session_scope(database_url) as session:
            assert session.exec(select(Person).where(Person.email == f.OWNER)).one().left_on is not None


class TestRegistryEdits:
    async def test_an_admin_changes_a_board_s_policy_and_running_recommendations_take_it(
        self, env, api, start, database_url
    ):
        day = await today(env)
        handle = await start(f.start("API-POLICY", actions=[f.action("A1", day + timedelta(days=5))],
                                     policy=EscalationPolicy()))  # fmt: skip
        await eventually(lambda: stored_row(database_url, "API-POLICY"))
        answer = await api.put(
            "/api/registry/boards/Review Board", json={"board_after": "P10D"}, headers=bearer(database_url, ADMIN)
        )
        assert 200 == answer.status_code, answer.text
        assert "board_after P14D → P10D" == answer.json()["changed"]
        with session_scope(database_url) as session:
            assert "P10D" == session.exec(select(Board)).one().board_after
        assert (ADMIN, "Review Board", "board") in changes(database_url)
        status = await recommendation_status(env.client, "API-POLICY")
        changed = next(e for e in status.timeline if e.kind == "policy_changed")
        assert "board after P14D → P10D" in changed.detail
        await decide(handle, "acknowledge", AcknowledgeInput(by=f.OWNER, action_id="A1"))

    @pytest.mark.parametrize(
        ("path", "fields", "field", "reason"),
        [
            ("/api/registry/people/new.person@mk.example", {"roles": "board_sponsor:Nowhere Board"}, "roles",
             "unknown board 'Nowhere Board'"),
            (f"/api/registry/people/{f.ASSURANCE}", {"roles": "owner"}, "registry",
             "nobody has the role assurance_member"),
            ("/api/registry/boards/Review Board", {"board_after": "P60D"}, "row",
             "board_after must be shorter than assurance_after"),
            ("/api/registry/agencies/Thames Valley Police", {"safeguarding_lead_email": "not an address"},
             "safeguarding_lead_email", "address"),
            ("/api/registry/people/new.person@mk.example", {"colour": "blue"}, "colour", "is not a field"),
        ],
    )  # fmt: skip
    async def test_a_bad_edit_is_refused_at_its_field_and_nothing_is_written(
        self, api, database_url, path, fields, field, reason
    ):
        with session_scope(database_url) as session:
            before = [(p.email, p.roles) for p in session.exec(select(Person))], session.exec(select(Board)).one()
            board_after = before[1].board_after
        answer = await api.put(path, json=fields, headers=bearer(database_url, ADMIN))
        assert 400 == answer.status_code, answer.text
        assert reason in answer.json()["fields"][field]
        with session_scope(database_url) as session:
            assert before[0] == [(p.email, p.roles) for p in session.exec(select(Person))]
            assert board_after == session.exec(select(Board)).one().board_after
        assert [] == changes(database_url)

    async def test_only_an_admin_edits_the_registry(self, api, database_url):
        answer = await api.put(
            "/api/registry/boards/Review Board", json={"board_after": "P10D"}, headers=bearer(database_url, f.SPONSOR)
        )
        assert 403 == answer.status_code
