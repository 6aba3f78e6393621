"""The cascade through the JSON API: ``confirm_cascade`` is a typed decision route like every
other, taken by an agency's lead or on their behalf by a sponsor, refused to anyone else, its
body checked field by field; and a plan's cascade checked against the registry, field by field."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest

from gateway.workflows import recommendation_status
from models.payloads import CascadeStatus, ImportedAction, ImportedProgress, SignOffInput, Stage
from store.api_tokens import issue_token
from store.db import session_scope
from store.read_model import upsert_registry
from store.tables import Person
from tests import factories as f
from tests.helpers import days, decide, eventually, server_clock, stored_row, today
from web.app import create_app

REF = "CASCADE-API"
URL = f"/api/recommendations/{REF}/decisions"


@pytest.fixture
def tokens(database_url) -> dict[str, str]:
    """The example partnership's registry (its board, both agencies and their leads), someone with
    no part in anything, and a token for each person."""
    agencies, people, boards = f.registry_rows()
    people.append(Person(email=f.STRANGER, roles=""))
    with session_scope(database_url) as session:
        upsert_registry(session=session, agencies=agencies, people=people, boards=boards)
    with session_scope(database_url) as session:
        return {p.email: issue_token(session=session, email=p.email) for p in people}


@pytest.fixture
async def api(env, settings, tokens):
    app = create_app(settings, client=env.client, clock=await server_clock(env))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=settings.base_url) as client:
        client.as_ = lambda email: {"Authorization": f"Bearer {tokens[email]}"}
        yield client


async def signed_off(env, start) -> date:
    """A recommendation whose credible plans were signed off: its cascade is under way."""
    now = await today(env)
    dissemination, audit = f.credible_plans(now)
    done = ImportedAction(action_id="A1", status="complete", completed_on=now, evidence="Guidance v2 published")
    payload = f.start(REF, actions=[f.action("A1", now + days(30))]).model_copy(
        update={"imported": ImportedProgress(actions=[done], dissemination=dissemination, audit=audit)}
    )
    handle = await start(payload)
    assert Stage.cascade == (await decide(handle, "sign_off", SignOffInput(by=f.ASSURANCE))).stage
    return now


def body(day: date, **more: Any) -> dict[str, Any]:
    confirmation = {
        "agency": f.ICB,
        "reached": f.ICB_REACH,
        "channels": ["7-minute briefing"],
        "done_on": day.isoformat(),
    }
    return confirmation | more


async def test_the_route_is_in_the_schema_with_its_typed_body(api):
    schema = (await api.get("/openapi.json")).json()
    route = schema["paths"]["/api/recommendations/{ref}/decisions/confirm_cascade"]["post"]
    reference = route["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    fields = schema["components"]["schemas"][reference.rsplit("/", 1)[1]]["properties"]
    assert {"agency", "reached", "channels", "done_on", "note"} == set(fields)
    assert {"403", "404", "409", "422"} <= set(route["responses"])


async def test_the_lead_confirms_and_the_answer_is_the_new_status(env, start, api):
    now = await signed_off(env, start)
    answer = await api.post(f"{URL}/confirm_cascade", json=body(now), headers=api.as_(f.ICB_LEAD))
    assert 200 == answer.status_code, answer.text
    icb = answer.json()["cascade"][0]
    assert ("confirmed", 120, 100, f.ICB_LEAD, None) == (
        icb["status"], icb["reached"], icb["reach_percent"], icb["confirmed_by"], icb["on_behalf_of"]
    )  # fmt: skip
    live = await recommendation_status(env.client, REF)
    assert live.model_dump(mode="json") | {"as_of": answer.json()["as_of"]} == answer.json()


async def test_a_sponsor_confirms_on_the_leads_behalf(env, start, api):
    now = await signed_off(env, start)
    answer = await api.post(
        f"{URL}/confirm_cascade", json=body(now, agency=f.POLICE, reached=70, note="Nights in May"),
        headers=api.as_(f.SPONSOR),
    )  # fmt: skip
    assert 200 == answer.status_code, answer.text
    police = answer.json()["cascade"][1]
    assert (f.SPONSOR, f.POLICE_LEAD, 87) == (police["confirmed_by"], police["on_behalf_of"], police["reach_percent"])
    [event] = [e for e in answer.json()["timeline"] if e["kind"] == "cascade_confirmed"]
    assert f"recorded on behalf of {f.POLICE_LEAD}" in event["detail"]


async def test_anyone_else_is_refused(env, start, api, database_url):
    """Another agency's lead and the action's owner see the recommendation but may not confirm
    this agency (403, ``WrongPerson``); someone with no part in it is told there is nothing to see."""
    now = await signed_off(env, start)
    for who in (f.POLICE_LEAD, f.OWNER):
        answer = await api.post(f"{URL}/confirm_cascade", json=body(now), headers=api.as_(who))
        assert (403, "WrongPerson") == (answer.status_code, answer.json()["type"]), (who, answer.text)
    stranger = await api.post(f"{URL}/confirm_cascade", json=body(now), headers=api.as_(f.STRANGER))
    assert 404 == stranger.status_code
    unknown = await api.post(f"{URL}/confirm_cascade", json=body(now, agency="Fire"), headers=api.as_(f.ASSURANCE))
    assert (409, "UnknownAgency") == (unknown.status_code, unknown.json()["type"])
    assert CascadeStatus.waiting is (await recommendation_status(env.client, REF)).cascade[0].status


async def test_the_workflows_own_checks_answer_409(env, start, api):
    now = await signed_off(env, start)
    lead = api.as_(f.ICB_LEAD)
    for wrong, said in (
        (body(now, reached=60), "say in the note why fewer"),
        (body(now, reached=1201), "more than ten times"),
        (body(now, done_on=(now + days(2)).isoformat()), "a future date"),
    ):
        answer = await api.post(f"{URL}/confirm_cascade", json=wrong, headers=lead)
        assert 409 == answer.status_code and said in answer.json()["message"], answer.text


@pytest.mark.parametrize(
    ("change", "where", "message"),
    [
        ({"reached": -1}, "reached", "Input should be greater than or equal to 0"),
        ({"done_on": None}, "done_on", "Field required"),
        ({"colour": "red"}, "colour", "Extra inputs are not permitted"),
        ({"reached": "lots"}, "reached", "Input should be a valid integer"),
    ],
    ids=["negative", "no-day", "unknown-field", "not-a-number"],
)
async def test_a_bad_body_is_refused_with_located_messages(env, start, api, change, where, message):
    now = await signed_off(env, start)
    sent = {k: v for k, v in (body(now) | change).items() if v is not None}
    answer = await api.post(f"{URL}/confirm_cascade", json=sent, headers=api.as_(f.ICB_LEAD))
    assert 422 == answer.status_code
    assert "InvalidInput" == answer.json()["type"]
    assert answer.json()["fields"][where].startswith(message), answer.json()


async def test_a_plans_cascade_is_checked_against_the_registry(env, start, api, database_url):
    """An agency the registry does not have and a lead it does not know, each named where it sits."""
    now = await today(env)
    handle = await start(f.start(REF, actions=[f.action("A1", now + days(30))]))
    await decide(handle, "complete_action", {"by": f.OWNER, "action_id": "A1", "evidence": "Briefings held"})
    await eventually(lambda: (row := stored_row(database_url, REF)) is not None and row.stage == "dissemination_plan")
    dissemination, audit = f.credible_plans(now)
    plans = {"dissemination": dissemination.model_dump(mode="json"), "audit": audit.model_dump(mode="json")}
    plans["dissemination"]["cascade"] = [
        {"agency": "Milton Keynes Fire", "staff_group": "crews", "expected_reach": 40},
        {"agency": f.ICB, "lead": "nobody@icb.example", "expected_reach": 120},
        {"agency": f.POLICE, "lead": f.ICB_LEAD, "expected_reach": 80},
    ]
    answer = await api.post(f"{URL}/submit_plans", json=plans, headers=api.as_(f.OWNER))
    assert (409, "NotInRegistry") == (answer.status_code, answer.json()["type"]), answer.text
    fields = answer.json()["fields"]
    assert {"dissemination.cascade.0.agency", "dissemination.cascade.1.lead", "dissemination.cascade.2.lead"} == set(
        fields
    )
    assert "no agency called 'Milton Keynes Fire'" in fields["dissemination.cascade.0.agency"]
    assert f"registered with {f.ICB}, not {f.POLICE}" in fields["dissemination.cascade.2.lead"]
    assert (await recommendation_status(env.client, REF)).dissemination is None

    bad = dict(plans, dissemination=plans["dissemination"] | {"cascade": [{"agency": f.ICB, "expected_reach": -3}]})
    answer = await api.post(f"{URL}/submit_plans", json=bad, headers=api.as_(f.OWNER))
    assert 422 == answer.status_code and "dissemination.cascade.0.expected_reach" in answer.json()["fields"]


async def test_an_agency_only_in_the_cascade_sees_the_recommendation_in_the_list(env, start, api, database_url):
    """The police have no action here, only a part in the cascade: their lead finds it in the list,
    as on its page, by the one visibility rule; a stranger does not."""
    await signed_off(env, start)
    await eventually(lambda: (row := stored_row(database_url, REF)) is not None and row.stage == "cascade")
    listed = await api.get("/api/recommendations", headers=api.as_(f.POLICE_LEAD))
    assert 200 == listed.status_code
    assert REF in [r["ref"] for r in listed.json()]
    assert f.POLICE not in next(r for r in listed.json() if r["ref"] == REF)["agencies"]  # its actions' agencies
    stranger = await api.get("/api/recommendations", headers=api.as_(f.STRANGER))
    assert REF not in [r["ref"] for r in stranger.json()]


async def test_a_named_lead_who_left_their_agency_since_the_plans_stops_the_sign_off(env, start, api, database_url):
    """The plans name the police's lead for the police's cascade; before sign-off the registry moves
    them to another agency. Signing off is refused, naming them, and nothing is signed."""
    now = await today(env)
    dissemination, audit = f.credible_plans(now)
    named = [step.model_copy(update={"lead": f.POLICE_LEAD}) if step.agency == f.POLICE else step
             for step in dissemination.cascade]  # fmt: skip
    done = ImportedAction(action_id="A1", status="complete", completed_on=now, evidence="Guidance v2 published")
    plans = ImportedProgress(
        actions=[done], dissemination=dissemination.model_copy(update={"cascade": named}), audit=audit
    )
    await start(f.start(REF, actions=[f.action("A1", now + days(30))]).model_copy(update={"imported": plans}))
    with session_scope(database_url) as session:
        moved = Person(email=f.POLICE_LEAD, roles="agency_lead", agency=f.ICB)
        upsert_registry(session=session, agencies=[], people=[moved], boards=[])

    answer = await api.post(f"{URL}/sign_off", json={"note": "Credible"}, headers=api.as_(f.ASSURANCE))
    assert 409 == answer.status_code
    assert "NotInRegistry" == answer.json()["type"]
    message = answer.json()["message"]
    assert message.startswith("sign-off refused: ") and f"registered with {f.ICB}, not {f.POLICE}" in message
    assert Stage.sign_off == (await recommendation_status(env.client, REF)).stage
