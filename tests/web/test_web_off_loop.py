"""No route runs a database query on the event loop: every page, form, API call and health check
of the web app is requested against a real SQLite store (all but the problems page, whose
examination lists workflows, which the time-skipping server cannot), and each connection taken from the
engine's pool is checked for the thread it was taken on.

A blocking query on the loop stalls every other request (and /healthz) while it runs; in the
thread pool it stalls only itself. Connections the worker, the mail catcher or the test itself
take are not the web's: only those whose call stack passes through ``web/`` count.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import event

from devtools import plan_files as pf
from store.api_tokens import issue_token
from store.db import get_engine, session_scope
from store.read_model import caught_mail, upsert_registry
from store.sessions import SignInLinks, new_nonce
from store.tables import Agency, Board, Person
from tests import factories as f
from tests.helpers import TEST_SECRET_KEY, eventually, server_clock, stored_row, today
from tests.web_client import Browser, csrf_of, text_of, token_for
from web.app import create_app
from web.context import PROJECT_ROOT

WEB_DIR = str(PROJECT_ROOT / "web")
ADMIN = "secretary@mk.example"
PEOPLE = {
    f.ASSURANCE: "assurance_member",
    f.SPONSOR: "board_sponsor:Review Board",
    f.OWNER: "owner",
    f.OWNER_2: "owner",
    ADMIN: "admin",
}


@dataclass(frozen=True)
class Checkout:
    """One connection taken from the pool: on which thread, and the innermost web function asking."""

    thread: int
    web_function: str | None


@pytest.fixture
def checkouts(database_url) -> Iterator[list[Checkout]]:
    """Every connection taken from this test's store while the test runs."""
    seen: list[Checkout] = []

    def taken(*_args) -> None:
        frames = [frame for frame in traceback.extract_stack() if frame.filename.startswith(WEB_DIR)]
        where = f"{frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].name}" if frames else None
        seen.append(Checkout(thread=threading.get_ident(), web_function=where))

    engine = get_engine(database_url)
    event.listen(engine, "checkout", taken)
    yield seen
    event.remove(engine, "checkout", taken)


@pytest.fixture
def registry(database_url) -> dict[str, str]:
    """The people, board and agencies, and an API token for each person."""
    with session_scope(database_url) as session:
        upsert_registry(
            session=session,
            agencies=[Agency(name=f.ICB), Agency(name=f.POLICE)],
            people=[Person(email=email, name=email.split("@")[0], roles=roles) for email, roles in PEOPLE.items()],
            boards=[Board(name="Review Board", sponsor_email=f.SPONSOR)],
        )
    with session_scope(database_url) as session:
        return {email: issue_token(session=session, email=email) for email in PEOPLE}


async def test_no_route_queries_the_store_on_the_event_loop(
    env, start, settings, registry, checkouts, database_url, tmp_path
):
    """Each route's store work runs in the thread pool: no connection is taken on the loop's thread."""
    loop_thread = threading.get_ident()
    day = await today(env)
    await start(f.start(actions=f.two_actions(day + timedelta(days=30))))
    ref = "CSPR-2023-01"
    await eventually(lambda: stored_row(database_url, ref))
    await eventually(lambda: _caught_ids(database_url))  # the owners' task emails
    app = create_app(settings, client=env.client, dev_pages=True, clock=await server_clock(env))

    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=settings.base_url) as web,
    ):
        requests: list[httpx.Response] = []

        async def ask(method: str, path: str, **options) -> httpx.Response:
            response = await web.request(method, path, **options)
            requests.append(response)
            assert response.status_code < 500, (method, path, text_of(response))
            return response

        def bearer(email: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {registry[email]}"}

        # Health, the API (token, list, one, a decision, a plan checked but not imported).
        await ask("GET", "/healthz")
        assert 200 == (await ask("GET", "/readyz")).status_code
        await ask("GET", "/api/recommendations", headers=bearer(f.ASSURANCE))
        await ask("GET", f"/api/recommendations/{ref}", headers=bearer(f.OWNER))
        await ask("GET", "/api/reviews", headers=bearer(f.ASSURANCE))
        await ask("GET", "/api/reviews/NOPE", headers=bearer(f.ASSURANCE))  # a 404 still runs the query
        acknowledged = await ask(
            "POST",
            f"/api/recommendations/{ref}/decisions/acknowledge",
            json={"action_id": "A1"},
            headers=bearer(f.OWNER),
        )
        assert 200 == acknowledged.status_code, acknowledged.text
        body = pf.write_yaml(pf.plan(day, "LOOP"), tmp_path / "plan.yaml").read_bytes()
        checked = await ask(
            "POST",
            "/api/plans?dry_run=1",
            files={"file": ("plan.yaml", body, "application/yaml")},
            headers=bearer(ADMIN),
        )
        assert 200 == checked.status_code, checked.text

        # Signing in: the form, a link asked for an unknown address, then a link as the worker mints it.
        page = await ask("GET", "/sign-in")
        await ask("POST", "/sign-in", data={"csrf_token": csrf_of(page.text), "email": f.STRANGER})
        for who in (f.ASSURANCE, ADMIN):
            web.cookies.clear()
            path = f"/sign-in/{SignInLinks(TEST_SECRET_KEY).sign(who, new_nonce())}"
            confirm = await ask("GET", path)
            assert 303 == (await ask("POST", path, data={"csrf_token": csrf_of(confirm.text)})).status_code
            await ask("GET", "/sign-in")  # signed in: sent on to the dashboard
            await ask("GET", "/dashboard")
            await ask("GET", "/dashboard/recommendations?audit_due=month")
            await ask("GET", "/dashboard/cascade")
            recommendation = await ask("GET", f"/dashboard/r/{ref}")
            assert 200 == recommendation.status_code
        taken = await ask(
            "POST", f"/dashboard/r/{ref}/withdraw", data={"csrf_token": csrf_of(recommendation.text), "reason": "x"}
        )
        assert taken.status_code in (303, 403, 409), text_of(taken)
        await ask("POST", "/sign-out", data={"csrf_token": csrf_of((await ask("GET", "/dashboard")).text)})

        # A response page, a decision from it, and a fresh link asked from a damaged one.
        web.cookies.clear()
        owner = Browser(web, token_for(settings, f.OWNER_2, ref, "owner", "A2"))
        requests.append(await owner.open())
        requests.append(await owner.post("report_progress", {"action_id": "A2", "note": "Booked the briefing"}))
        damaged = await ask("GET", "/r/damaged")
        await ask("POST", "/r/damaged/fresh-link", data={"csrf_token": csrf_of(damaged.text)})

        # The development pages: caught mail, one message and its framed HTML.
        await ask("GET", "/dev/mail")
        message = _caught_ids(database_url)[0]
        await ask("GET", f"/dev/mail/{message}")
        await ask("GET", f"/dev/mail/{message}/html")

    on_loop = sorted({c.web_function for c in checkouts if c.thread == loop_thread and c.web_function})
    assert [] == on_loop, "store queries on the event loop"
    # The check saw the web's queries, in the thread pool: it is not passing for want of looking.
    off_loop = {c.web_function for c in checkouts if c.thread != loop_thread and c.web_function}
    expected = {
        "api.py:caller",
        "api.py:list_recommendations",
        "api.py:list_reviews",
        "api.py:get_review",
        "api.py:_database_answers",
        "api.py:_checked_upload",
        "sign_in.py:_start_session",
        "sign_in.py:_session_viewer",
        "sign_in.py:_end_session",
        "dashboard.py:_overview",
        "dashboard.py:_summaries",
        "dashboard.py:_timeline",
        "dashboard.py:_cascade_entries",
        "dev_pages.py:mail_list",
        "dev_pages.py:_caught",
    }
    assert expected <= off_loop, sorted(expected - off_loop)
    assert all(r.status_code < 500 for r in requests)


def _caught_ids(database_url: str) -> list[int]:
    with session_scope(database_url) as session:
        return [row.id for row in caught_mail(session=session)]
