"""The JSON API: bearer tokens, the caller's roles, every answer code, health checks; and the
`assure token` commands that make and revoke the tokens."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from gateway.workflows import recommendation_status
from store.api_tokens import issue_token, revoke_tokens
from store.db import session_scope
from store.read_model import upsert_registry
from store.tables import Agency, Board, Person
from tests import factories as f
from tests.helpers import eventually, server_clock, stored_row, today
from web.app import create_app

ASSURE = str(Path(sys.executable).parent / "assure")
PEOPLE = {
    f.ASSURANCE: "assurance_member",
    f.SPONSOR: "board_sponsor:Review Board",
    f.OWNER: "owner",
    f.OWNER_2: "owner",
    f.STRANGER: "",
    "other.sponsor@mk.example": "board_sponsor:Adults Board",
    "secretary@mk.example": "admin",
}


@pytest.fixture
def tokens(database_url) -> dict[str, str]:
    with session_scope(database_url) as session:
        upsert_registry(
            session=session,
            agencies=[Agency(name=f.ICB), Agency(name=f.POLICE)],
            people=[Person(email=email, roles=roles) for email, roles in PEOPLE.items()],
            boards=[Board(name="Review Board", sponsor_email=f.SPONSOR), Board(name="Adults Board")],
        )
    with session_scope(database_url) as session:
        return {email: issue_token(session=session, email=email) for email in PEOPLE}


@pytest.fixture
async def api(env, settings, tokens):
    app = create_app(settings, client=env.client, clock=await server_clock(env))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=settings.base_url) as client:

        def as_(email: str | None) -> dict[str, str]:
            return {"Authorization": f"Bearer {tokens[email]}"} if email else {}

        client.as_ = as_
        yield client


async def two_recommendations(env, start, database_url):
    day = await today(env)
    await start(f.start("API-1", actions=f.two_actions(day + timedelta(days=30))))
    await start(f.start("API-2", actions=[f.action("B1", day + timedelta(days=30), owner=f.OWNER_2, agency=f.POLICE)]))
    await eventually(lambda: stored_row(database_url, "API-1") and stored_row(database_url, "API-2"))


async def test_a_token_is_needed_and_must_be_live(api, database_url, tokens):
    assert (await api.get("/api/recommendations")).status_code == 401
    assert (await api.get("/api/recommendations", headers={"Authorization": "Bearer assure_nope"})).status_code == 401
    with session_scope(database_url) as session:
        assert revoke_tokens(session=session, email=f.OWNER) == 1
    revoked = await api.get("/api/recommendations", headers=api.as_(f.OWNER))
    assert revoked.status_code == 401 and revoked.json() == {"detail": "this token is not valid or has been revoked"}


async def test_each_caller_lists_what_their_roles_let_them_see(env, start, api, database_url):
    await two_recommendations(env, start, database_url)

    async def refs(email: str, query: str = "") -> list[str]:
        response = await api.get(f"/api/recommendations{query}", headers=api.as_(email))
        assert response.status_code == 200, response.text
        return [row["ref"] for row in response.json()]

    assert await refs(f.ASSURANCE) == ["API-1", "API-2"]
    assert await refs(f.SPONSOR) == ["API-1", "API-2"]  # both are the Review Board's
    assert await refs("other.sponsor@mk.example") == []
    assert await refs(f.OWNER) == ["API-1"]
    assert await refs(f.OWNER_2) == ["API-1", "API-2"]
    assert await refs(f.STRANGER) == []
    assert await refs(f.ASSURANCE, f"?agency={f.POLICE.replace(' ', '%20')}") == ["API-1", "API-2"]
    assert await refs(f.ASSURANCE, "?stage=review") == []
    bad = await api.get("/api/recommendations?stage=limbo", headers=api.as_(f.ASSURANCE))
    assert bad.status_code == 422


async def test_one_recommendation_is_its_status_query(env, start, api, database_url):
    await two_recommendations(env, start, database_url)
    response = await api.get("/api/recommendations/API-1", headers=api.as_(f.OWNER))
    assert response.status_code == 200
    live = await recommendation_status(env.client, "API-1")
    assert response.json() == live.model_dump(mode="json") | {"as_of": response.json()["as_of"]}
    assert (await api.get("/api/recommendations/API-2", headers=api.as_(f.OWNER))).status_code == 404
    assert (await api.get("/api/recommendations/NOPE", headers=api.as_(f.ASSURANCE))).status_code == 404


async def test_a_ref_the_caller_may_not_see_is_answered_as_one_that_does_not_exist(env, start, api, database_url):
    """Reading or deciding on another's recommendation answers 404 with the words an unknown ref gets."""
    await two_recommendations(env, start, database_url)
    owner = api.as_(f.OWNER)  # API-2 is OWNER_2's alone

    async def read(ref: str) -> httpx.Response:
        return await api.get(f"/api/recommendations/{ref}", headers=owner)

    async def acknowledge(ref: str) -> httpx.Response:
        return await api.post(
            f"/api/recommendations/{ref}/decisions/acknowledge", json={"action_id": "B1"}, headers=owner
        )

    for ask in (read, acknowledge):
        hidden, unknown = await ask("API-2"), await ask("NOPE")
        assert (404, 404) == (hidden.status_code, unknown.status_code), ask.__name__
        assert unknown.json()["detail"].replace("NOPE", "REF") == hidden.json()["detail"].replace("API-2", "REF")
    assert "assigned" == (await recommendation_status(env.client, "API-2")).actions[0].status.value


async def test_decisions_answer_200_409_403_404_and_422(env, start, api, database_url):
    await two_recommendations(env, start, database_url)
    url = "/api/recommendations/API-1/decisions"
    taken = await api.post(f"{url}/acknowledge", json={"action_id": "A1"}, headers=api.as_(f.OWNER))
    assert taken.status_code == 200 and taken.json()["actions"][0]["status"] == "acknowledged"

    again = await api.post(f"{url}/acknowledge", json={"action_id": "A1"}, headers=api.as_(f.OWNER))
    assert again.status_code == 409
    assert again.json()["type"] == "InvalidDecision" and "already acknowledged" in again.json()["message"]

    not_theirs = await api.post(f"{url}/acknowledge", json={"action_id": "A1"}, headers=api.as_(f.OWNER_2))
    assert not_theirs.status_code == 403 and not_theirs.json()["type"] == "WrongPerson"

    assert (await api.post(f"{url}/fly", json={}, headers=api.as_(f.OWNER))).status_code == 404
    assert (await api.post("/api/recommendations/NOPE/decisions/acknowledge", json={"action_id": "A1"},
                           headers=api.as_(f.OWNER))).status_code == 404  # fmt: skip
    malformed = await api.post(f"{url}/report_progress", json={"action_id": "A1"}, headers=api.as_(f.OWNER))
    assert malformed.status_code == 422 and "note" in malformed.json()["fields"]
    with_by = await api.post(f"{url}/acknowledge", json={"action_id": "A1", "by": f.OWNER}, headers=api.as_(f.OWNER))
    assert with_by.status_code == 422
    gaps = await api.post(f"{url}/sign_off", json={}, headers=api.as_(f.ASSURANCE))
    assert gaps.status_code == 409 and gaps.json()["type"] == "WrongStage"


async def test_a_decision_body_is_checked_field_by_field_as_the_workflow_checks_it(env, start, api, database_url):
    """The typed body answers as the payload's own check does: 422 with the fields at fault, and
    ``by`` refused because the token's person decides; a taken decision answers the new status."""
    await two_recommendations(env, start, database_url)
    url = "/api/recommendations/API-1/decisions"
    owner = api.as_(f.OWNER)
    extra = await api.post(f"{url}/acknowledge", json={"action_id": "A1", "colour": "red"}, headers=owner)
    assert 422 == extra.status_code
    assert {"type": "InvalidInput", "gaps": [], "fields": {"colour": "Extra inputs are not permitted"}} == {
        k: v for k, v in extra.json().items() if k != "message"
    }
    empty = await api.post(f"{url}/report_progress", headers=owner)  # no body at all
    assert 422 == empty.status_code and {"action_id", "note"} <= set(empty.json()["fields"])
    with_by = await api.post(f"{url}/acknowledge", json={"action_id": "A1", "by": f.OWNER_2}, headers=owner)
    assert {"detail": "leave out 'by': the decision is taken as the token's person"} == with_by.json()
    not_json = await api.post(f"{url}/acknowledge", content=b"{", headers={**owner, "content-type": "application/json"})
    assert 422 == not_json.status_code and isinstance(not_json.json()["detail"], list)
    assert 401 == (await api.post(f"{url}/fly", json={})).status_code  # a token first, whatever the name
    assert "assigned" == (await recommendation_status(env.client, "API-1")).actions[0].status.value

    taken = await api.post(f"{url}/report_progress", json={"action_id": "A1", "note": "Drafted"}, headers=owner)
    assert 200 == taken.status_code
    live = await recommendation_status(env.client, "API-1")
    assert live.model_dump(mode="json") | {"as_of": taken.json()["as_of"]} == taken.json()


async def test_health_and_readiness(api):
    assert (await api.get("/healthz")).json() == {"status": "ok"}
    ready = await api.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {
        "status": "ready",
        "temporal": "ok",
        "database": "ok",
        "problems": {},
    }
    schema = (await api.get("/openapi.json")).json()
    assert "/api/recommendations/{ref}/decisions/acknowledge" in schema["paths"]
    assert "/api/recommendations/{ref}/decisions/{decision}" not in schema["paths"]  # any other name: 404


def test_token_issue_prints_the_token_alone_on_its_last_line(tmp_path, database_url, tokens):
    environment = {**os.environ, "ASSURE_DATABASE_URL": database_url}
    issued = subprocess.run([ASSURE, "token", "issue", "--for", f.OWNER], env=environment, capture_output=True,
                            text=True, timeout=60)  # fmt: skip
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.splitlines()[-1]
    assert token.startswith("assure_") and " " not in token
    with session_scope(database_url) as session:
        from store.api_tokens import person_for_token

        assert person_for_token(session=session, token=token).email == f.OWNER
    unknown = subprocess.run([ASSURE, "token", "issue", "--for", "nobody@x.example"], env=environment,
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    assert unknown.returncode == 2 and "not in the registry" in unknown.stderr
    revoked = subprocess.run([ASSURE, "token", "revoke", token], env=environment, capture_output=True, text=True,
                             timeout=60)  # fmt: skip
    assert revoked.returncode == 0 and revoked.stdout.strip() == "1 token(s) revoked"


async def test_a_plan_is_imported_over_http_by_an_admin(env, api, worker, tmp_path):
    from devtools import plan_files as pf

    day = await today(env)
    rows = pf.plan(day, "HTTP")
    body = pf.write_yaml(rows, tmp_path / "plan.yaml").read_bytes()
    upload = {"file": ("plan.yaml", body, "application/yaml")}
    refused = await api.post("/api/plans", files=upload, headers=api.as_(f.ASSURANCE))
    assert refused.status_code == 403
    dry = await api.post("/api/plans?dry_run=1", files=upload, headers=api.as_("secretary@mk.example"))
    assert dry.status_code == 200 and dry.json()["dry_run"] and len(dry.json()["started"]) == 5
    assert (await api.get("/api/recommendations/IMPHTTP-1", headers=api.as_(f.ASSURANCE))).status_code == 404

    rows["Recommendations"][0]["board"] = "Nonexistent Board"
    bad = {"file": ("plan.yaml", pf.write_yaml(rows, tmp_path / "bad.yaml").read_bytes(), "application/yaml")}
    problems = await api.post("/api/plans", files=bad, headers=api.as_("secretary@mk.example"))
    assert problems.status_code == 400
    assert problems.json()["problems"] == [
        {"sheet": "Recommendations", "row": 1, "column": "board", "reason": "unknown board 'Nonexistent Board'"}
    ]
    not_a_plan = {"file": ("plan.pdf", b"%PDF-1.4", "application/pdf")}
    assert (await api.post("/api/plans", files=not_a_plan, headers=api.as_("secretary@mk.example"))).status_code == 400


async def test_the_list_comes_a_page_at_a_time_with_a_link_to_the_next(api, settings, database_url):
    from models.lifecycle import Lifecycle
    from store.read_model import apply_projection

    now = datetime(2026, 3, 2, 9, tzinfo=UTC)
    for n in range(5):
        life = Lifecycle.begin(
            f.start(f"PAGE-{n}", actions=[f.action("A1", now.date() + timedelta(days=30))]),
            workflow_id=f"recommendation-PAGE-{n}",
            now=now,
        )
        with session_scope(database_url) as session:
            apply_projection(session=session, data=f.projection_of(life, now))
    seen, path, pages = [], "/api/recommendations?limit=2&stage=action", 0
    while path:
        response = await api.get(path, headers=api.as_(f.ASSURANCE))
        assert response.status_code == 200, response.text
        assert response.headers["X-Total-Count"] == "5"
        seen += [row["ref"] for row in response.json()]
        pages += 1
        link = response.headers.get("Link")
        path = link.removeprefix("<").split(">")[0] if link else None
        if path:  # from the configured address, keeping the filters
            assert path.startswith(f"{settings.base_url}/api/recommendations?") and "stage=action" in path
            assert 'rel="next"' in link
    assert seen == [f"PAGE-{n}" for n in range(5)] and pages == 3
    assert (await api.get("/api/recommendations?limit=1001", headers=api.as_(f.ASSURANCE))).status_code == 422
    first = await api.get("/api/recommendations", headers=api.as_(f.ASSURANCE))
    assert len(first.json()) == 5 and "Link" not in first.headers  # a hundred to a page unless asked
