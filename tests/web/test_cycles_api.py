"""Assurance cycles through the JSON API: ``GET /api/cycles`` and ``GET /api/cycles/{cycle_id}``
answer each caller with the cycles and returns their roles let them see; ``GET
/api/returns/{workflow_id}`` is the return's status; the decisions ``submit_return``,
``challenge_return`` and ``accept_return`` are taken as the token's person (a ``by`` in the body
refused), each refused from the wrong person (403) or in the wrong stage (409), a body that does
not fit 422, a return the caller may not see 404; ``raise`` starts a recommendation for an
Assurance Board member alone."""

from __future__ import annotations

import httpx
import pytest

from gateway.workflows import recommendation_status
from models.cycle_returns import Rating
from store.api_tokens import issue_token
from store.db import session_scope
from tests import factories as f
from tests.helpers import server_clock
from tests.web.cycle_fixtures import EARLIER, PERIOD, Returns, answers, returns  # noqa: F401
from web.app import create_app

CALLERS = (f.SPONSOR, f.CHAIR, f.ASSURANCE, f.ICB_LEAD, f.POLICE_LEAD, f.OWNER)


@pytest.fixture
async def api(env, settings, returns):  # noqa: F811
    with session_scope(settings.database_url) as session:
        tokens = {email: issue_token(session=session, email=email) for email in CALLERS}
    app = create_app(settings, client=env.client, clock=await server_clock(env))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=settings.base_url) as client:
        client.as_ = lambda email: {"Authorization": f"Bearer {tokens[email]}"}
        yield client


class TestReading:
    async def test_the_cycles_and_the_matrix_as_each_caller_may_see_them(self, api, returns):  # noqa: F811
        """The sponsor reads the cycle whole, with last period beside this one's ratings and who has
        not returned; the police's lead reads only the police's return; an owner with no part in it
        reads nothing of it; without a token, 401."""
        assert (await api.get("/api/cycles")).status_code == 401
        listed = (await api.get("/api/cycles", headers=api.as_(f.SPONSOR))).json()
        [cycle] = [c for c in listed if c["cycle_id"] == returns.cycle_id]
        assert (cycle["period"], cycle["previous"], cycle["returned"], cycle["asked"]) == (PERIOD, EARLIER, 1, 2)
        assert cycle["not_returned"] == [f.POLICE] and cycle["cadence"] == "yearly on 1 April"
        assert {c["standard_id"]: (c["now"], c["before"]) for c in cycle["counts"]}["2"] == (
            {"met": 0, "partly_met": 0, "not_met": 1},
            {"met": 1, "partly_met": 1, "not_met": 0},
        )
        assert returns.cycle_id not in {
            c["cycle_id"] for c in (await api.get("/api/cycles", headers=api.as_(f.OWNER))).json()
        }

        matrix = (await api.get(f"/api/cycles/{returns.cycle_id}", headers=api.as_(f.SPONSOR))).json()
        assert (matrix["period"], matrix["previous"], matrix["not_returned"]) == (PERIOD, EARLIER, [f.POLICE])
        icb = next(r for r in matrix["returns"] if r["agency"] == f.ICB)
        assert (icb["stage"], icb["ratings"], icb["previous_ratings"]) == (
            "submitted", {"1": "met", "2": "not_met"}, {"1": "met", "2": "partly_met"},
        )  # fmt: skip
        assert icb["return_id"] == returns.workflow_id(f.ICB)
        earlier = (await api.get(f"/api/cycles/{returns.cycle_id}?period={EARLIER}", headers=api.as_(f.SPONSOR))).json()
        assert earlier["not_returned"] == [] and {r["stage"] for r in earlier["returns"]} == {"accepted"}
        bad = await api.get(f"/api/cycles/{returns.cycle_id}?period=someday", headers=api.as_(f.SPONSOR))
        assert bad.status_code == 400 and "is no period" in bad.json()["detail"]

        lead = (await api.get(f"/api/cycles/{returns.cycle_id}", headers=api.as_(f.POLICE_LEAD))).json()
        assert [r["agency"] for r in lead["returns"]] == [f.POLICE]
        assert (await api.get(f"/api/cycles/{returns.cycle_id}", headers=api.as_(f.OWNER))).status_code == 404
        assert (await api.get("/api/cycles/NO-SUCH", headers=api.as_(f.SPONSOR))).status_code == 404

    async def test_a_returns_status_is_its_workflows(self, api, returns):  # noqa: F811
        """The ICB's lead and the board read the ICB's return; the police's lead and an owner get
        the same 404 as for a return that does not exist."""
        path = f"/api/returns/{returns.workflow_id(f.ICB)}"
        status = (await api.get(path, headers=api.as_(f.ICB_LEAD))).json()
        assert (status["state"]["stage"], status["agency"], status["closed"]) == ("submitted", f.ICB, False)
        assert (await api.get(path, headers=api.as_(f.CHAIR))).status_code == 200
        for stranger in (f.POLICE_LEAD, f.OWNER):
            assert (await api.get(path, headers=api.as_(stranger))).status_code == 404
        assert (await api.get("/api/returns/cycle-none", headers=api.as_(f.SPONSOR))).status_code == 404


class TestTheDecisions:
    async def test_challenge_answer_and_accept_each_refused_from_the_wrong_person_or_stage(self, api, returns):  # noqa: F811
        """The lead may not accept (403), nor the chair submit (403); ``by`` in the body and an
        empty challenge are refused (422); the chair's challenge is taken, after which an
        acceptance is refused for the stage (409); the lead answers and the sponsor accepts; then
        nothing is left to decide (409), and a name that is no decision is 404."""
        base = f"/api/returns/{returns.workflow_id(f.ICB)}"
        wrong = await api.post(f"{base}/accept_return", json={}, headers=api.as_(f.ICB_LEAD))
        assert wrong.status_code == 403 and wrong.json() == {
            "type": "WrongPerson", "message": "only the board's sponsor or chair may accept or challenge a return",
            "gaps": [], "fields": {},
        }  # fmt: skip
        given = [a.model_dump(mode="json") for a in answers(due=returns.action_due)]
        submit = await api.post(f"{base}/submit_return", json={"answers": given}, headers=api.as_(f.CHAIR))
        assert submit.status_code == 403 and "safeguarding lead may submit" in submit.json()["message"]
        named = await api.post(f"{base}/challenge_return", json={"by": f.CHAIR, "challenge": "Why?"},
                               headers=api.as_(f.CHAIR))  # fmt: skip
        assert named.status_code == 422 and "leave out 'by'" in named.json()["detail"]
        empty = await api.post(f"{base}/challenge_return", json={"challenge": ""}, headers=api.as_(f.CHAIR))
        assert (
            empty.status_code == 422
            and empty.json()["type"] == "InvalidInput"
            and "challenge" in empty.json()["fields"]
        )

        taken = await api.post(f"{base}/challenge_return", json={"challenge": "Which wards are left?"},
                               headers=api.as_(f.CHAIR))  # fmt: skip
        assert taken.status_code == 200 and taken.json()["state"]["stage"] == "challenged"
        early = await api.post(f"{base}/accept_return", json={}, headers=api.as_(f.SPONSOR))
        assert early.status_code == 409 and early.json()["type"] == "InvalidDecision"
        assert "the return is challenged" in early.json()["message"]
        unanswered = await api.post(f"{base}/submit_return", json={"answers": given}, headers=api.as_(f.ICB_LEAD))
        assert unanswered.status_code == 409 and "answer the challenge" in unanswered.json()["message"]

        partly = [a.model_dump(mode="json") for a in answers(due=returns.action_due, second=Rating.partly_met)]
        answered = await api.post(f"{base}/submit_return", json={"answers": partly, "response": "Wards 3 and 7 in May"},
                                  headers=api.as_(f.ICB_LEAD))  # fmt: skip
        assert (
            answered.status_code == 200
            and answered.json()["state"]["challenges"][0]["response"] == "Wards 3 and 7 in May"
        )
        accepted = await api.post(f"{base}/accept_return", json={"note": "Assured"}, headers=api.as_(f.SPONSOR))
        assert accepted.status_code == 200 and accepted.json()["state"]["accepted_by"] == f.SPONSOR
        again = await api.post(f"{base}/accept_return", json={}, headers=api.as_(f.SPONSOR))
        assert again.status_code == 409 and "nothing left to decide" in again.json()["message"]
        assert (await api.post(f"{base}/reopen", json={}, headers=api.as_(f.SPONSOR))).status_code == 404

    async def test_the_police_lead_cannot_reach_the_icbs_return(self, api, returns):  # noqa: F811
        """A return the caller may not see answers 404 to a decision, as to a read."""
        given = [a.model_dump(mode="json") for a in answers(due=returns.action_due)]
        response = await api.post(f"/api/returns/{returns.workflow_id(f.ICB)}/submit_return", json={"answers": given},
                                  headers=api.as_(f.POLICE_LEAD))  # fmt: skip
        assert response.status_code == 404


class TestRaising:
    async def test_only_an_assurance_member_raises_and_a_second_raise_finds_the_first(self, env, api, returns):  # noqa: F811
        """The sponsor is refused (403); a standard met is refused (409); standard 2 raises a
        recommendation running the normal lifecycle (its action assigned to its owner), the same
        one when asked for twice."""
        base = f"/api/returns/{returns.workflow_id(f.ICB)}/raise"
        sponsor = await api.post(base, json={"standard_id": "2"}, headers=api.as_(f.SPONSOR))
        assert sponsor.status_code == 403 and sponsor.json()["type"] == "WrongPerson"
        met = await api.post(base, json={"standard_id": "1"}, headers=api.as_(f.ASSURANCE))
        assert met.status_code == 409 and "is not rated not met" in met.json()["message"]
        raised = await api.post(base, json={"standard_id": "2"}, headers=api.as_(f.ASSURANCE))
        assert raised.status_code == 200, raised.text
        ref = raised.json()["ref"]
        returns.raised.append(ref)
        assert raised.json() == {"standard_id": "2", "ref": ref, "path": f"/dashboard/r/{ref}"}
        assert (await recommendation_status(env.client, ref)).stage.value == "action"  # its action assigned
        again = await api.post(base, json={"standard_id": "2"}, headers=api.as_(f.ASSURANCE))
        assert again.status_code == 200 and again.json()["ref"] == ref
        matrix = (await api.get(f"/api/cycles/{returns.cycle_id}", headers=api.as_(f.ASSURANCE))).json()
        assert next(r for r in matrix["returns"] if r["agency"] == f.ICB)["raised"] == {"2": ref}
