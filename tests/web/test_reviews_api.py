"""The reviews through the JSON API: ``GET /api/reviews`` and ``GET /api/reviews/{review_ref}``
answer each caller with the reviews their roles let them see, counting and listing only the
recommendations they may see; an unknown review and one they may not see get the same 404; each
route is one typed operation in /docs; and neither queries the store on the event loop."""

from __future__ import annotations

import threading
import traceback
from collections.abc import Iterator
from datetime import date, timedelta

import httpx
import pytest
from sqlalchemy import event

from models.reviews import Review
from store.api_tokens import issue_token
from store.db import get_engine, session_scope
from store.read_model import upsert_registry
from store.reviews import write_reviews
from store.tables import Agency, Board, Person
from tests import factories as f
from tests.helpers import eventually, server_clock, stored_row, today
from web.app import create_app
from web.context import PROJECT_ROOT

OTHER_SPONSOR = "other.sponsor@mk.example"
PEOPLE = {
    f.ASSURANCE: "assurance_member",
    f.SPONSOR: "board_sponsor:Review Board",
    f.OWNER: "owner",
    f.OWNER_2: "owner",
    f.STRANGER: "",
    OTHER_SPONSOR: "board_sponsor:Adults Board",
}
SAR, RAPID, DHR = "SAR-2023-MH", "RR-2023-01", "DHR-2022-02"


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
        client.as_ = lambda email: {"Authorization": f"Bearer {tokens[email]}"}
        yield client


async def reviewed(env, start, database_url) -> None:
    """Three reviews: the Review Board's SAR, with REV-1 (the ICB named nurse's) and REV-2 (the
    police's), and its rapid review with none yet; the Adults Board's DHR, with none."""
    now = await env.get_current_time()
    with session_scope(database_url) as session:
        write_reviews(
            session=session,
            reviews=[
                Review(review_ref=SAR, kind="SAR", title="Thematic SAR: mental health", board="Review Board",
                       concluded_on=date(2023, 3, 14), themes=["mental health"]),
                Review(review_ref=RAPID, kind="Rapid review", title="Rapid review: Child K", board="Review Board",
                       notified_on=date(2023, 5, 2)),
                Review(review_ref=DHR, kind="DHR", title="Domestic homicide review: Adult M", board="Adults Board"),
            ],
            now=now,
        )  # fmt: skip
    due = await today(env) + timedelta(days=30)
    for ref, action in (
        ("REV-1", f.action("A1", due)),
        ("REV-2", f.action("B1", due, owner=f.OWNER_2, agency=f.POLICE)),
    ):
        payload = f.start(ref, actions=[action])
        recommendation = payload.recommendation.model_copy(update={"review_ref": SAR})
        await start(payload.model_copy(update={"recommendation": recommendation}))
    await eventually(lambda: stored_row(database_url, "REV-1") and stored_row(database_url, "REV-2"))


async def test_each_caller_lists_the_reviews_their_roles_let_them_see(env, start, api, database_url):
    """By ref: the Assurance Board sees all three; a board's sponsor their board's, with or
    without recommendations; an owner the SAR alone, counting only their own recommendation."""
    await reviewed(env, start, database_url)

    async def listed(email: str) -> dict[str, int]:
        response = await api.get("/api/reviews", headers=api.as_(email))
        assert 200 == response.status_code, response.text
        return {r["review_ref"]: r["recommendations"] for r in response.json()}

    assert {DHR: 0, RAPID: 0, SAR: 2} == await listed(f.ASSURANCE)
    assert {RAPID: 0, SAR: 2} == await listed(f.SPONSOR)
    assert {DHR: 0} == await listed(OTHER_SPONSOR)
    assert {SAR: 1} == await listed(f.OWNER)
    assert {} == await listed(f.STRANGER)
    assert 401 == (await api.get("/api/reviews")).status_code
    sar = next(r for r in (await api.get("/api/reviews", headers=api.as_(f.SPONSOR))).json() if r["review_ref"] == SAR)
    assert {
        "review_ref": SAR, "kind": "sar", "title": "Thematic SAR: mental health", "board": "Review Board",
        "notified_on": None, "decided_on": None, "commissioned_on": None, "concluded_on": "2023-03-14",
        "published_on": None, "themes": ["mental health"],
        "recommendations": 2, "open": 2, "assured": 0, "declined": 0, "overdue": 0,
    } == sar  # fmt: skip


async def test_one_review_lists_the_recommendations_the_caller_may_see(env, start, api, database_url):
    """The sponsor sees both of the SAR's, the named nurse REV-1 alone, each as the recommendations' list shows it."""
    await reviewed(env, start, database_url)
    for email, refs in ((f.SPONSOR, ["REV-1", "REV-2"]), (f.OWNER, ["REV-1"])):
        response = await api.get(f"/api/reviews/{SAR}", headers=api.as_(email))
        assert 200 == response.status_code, response.text
        detail = response.json()
        assert refs == [r["ref"] for r in detail["recommendations"]]
        assert (SAR, len(refs), len(refs)) == (
            detail["review"]["review_ref"], detail["review"]["recommendations"], detail["review"]["open"]
        )  # fmt: skip
        listed = (await api.get("/api/recommendations", headers=api.as_(email))).json()
        assert listed == detail["recommendations"]
    empty = await api.get(f"/api/reviews/{RAPID}", headers=api.as_(f.SPONSOR))
    assert 200 == empty.status_code and [] == empty.json()["recommendations"]


async def test_a_review_the_caller_may_not_see_is_answered_as_one_that_does_not_exist(env, start, api, database_url):
    """The rapid review to the named nurse, the DHR to the Review Board's sponsor and the SAR to a
    stranger all get the 404 an unknown review gets, in the same words."""
    await reviewed(env, start, database_url)
    unknown = await api.get("/api/reviews/NO-SUCH-REVIEW", headers=api.as_(f.ASSURANCE))
    assert 404 == unknown.status_code
    wording = unknown.json()["detail"].replace("NO-SUCH-REVIEW", "REF")
    for email, review_ref in ((f.OWNER, RAPID), (f.SPONSOR, DHR), (f.STRANGER, SAR)):
        hidden = await api.get(f"/api/reviews/{review_ref}", headers=api.as_(email))
        assert 404 == hidden.status_code, (email, review_ref)
        assert wording == hidden.json()["detail"].replace(review_ref, "REF")
    assert 401 == (await api.get(f"/api/reviews/{SAR}")).status_code


async def test_docs_show_each_review_route_once_with_its_typed_answer(api):
    """Each route is one operation under the one tag ``reviews``, answering the store's own models."""
    schema = (await api.get("/openapi.json")).json()
    listing = schema["paths"]["/api/reviews"]
    one = schema["paths"]["/api/reviews/{review_ref}"]
    assert ["get"] == list(listing) and ["get"] == list(one)
    assert [["reviews"], ["reviews"]] == [listing["get"]["tags"], one["get"]["tags"]]
    answered = listing["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ("array", "#/components/schemas/ReviewSummary") == (answered["type"], answered["items"]["$ref"])
    detail = one["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert "#/components/schemas/ReviewDetail" == detail["$ref"]
    assert "404" in one["get"]["responses"]
    fields = schema["components"]["schemas"]["ReviewSummary"]["properties"]
    assert {"recommendations", "open", "assured", "declined", "overdue", "themes", "concluded_on"} <= set(fields)
    milestone = "/api/reviews/{review_ref}/record_review_milestone"
    assert ["/api/reviews", "/api/reviews/{review_ref}", milestone] == [p for p in schema["paths"] if "review" in p]
    posted = schema["paths"][milestone]
    assert ["post"] == list(posted) and ["reviews"] == posted["post"]["tags"]
    assert {"403", "404", "409", "422"} <= set(posted["post"]["responses"])
    ids = [operation["operationId"] for methods in schema["paths"].values() for operation in methods.values()]
    assert 1 == ids.count(listing["get"]["operationId"]) == ids.count(one["get"]["operationId"])


@pytest.fixture
def checkouts(database_url) -> Iterator[list[tuple[int, str]]]:
    """Each connection the web's code takes from this test's store: on which thread, asked by which function."""
    seen: list[tuple[int, str]] = []
    web = str(PROJECT_ROOT / "web")

    def taken(*_args) -> None:
        frames = [frame for frame in traceback.extract_stack() if frame.filename.startswith(web)]
        if frames:
            seen.append((threading.get_ident(), frames[-1].name))

    engine = get_engine(database_url)
    event.listen(engine, "checkout", taken)
    yield seen
    event.remove(engine, "checkout", taken)


async def test_the_review_routes_query_the_store_off_the_event_loop(env, start, api, database_url, checkouts):
    """Both routes' store work runs in the thread pool: a blocking query never stalls other requests."""
    await reviewed(env, start, database_url)
    loop_thread = threading.get_ident()
    checkouts.clear()
    assert 200 == (await api.get("/api/reviews", headers=api.as_(f.ASSURANCE))).status_code
    assert 200 == (await api.get(f"/api/reviews/{SAR}", headers=api.as_(f.ASSURANCE))).status_code
    assert {"caller", "list_reviews", "get_review"} <= {name for _, name in checkouts}
    assert [] == [name for thread, name in checkouts if thread == loop_thread]
