"""The web app's edges against a hostile caller (issue 14, A4–A7): no token in the log and nothing
personal in a cache; the same answer, in the same time, whether an address is registered; rate
limits that count the right client and only what passed the cheap checks; an Origin compared
with ASSURE_BASE_URL alone; no SQL parameter in an error's text."""

from __future__ import annotations

import email
import re
import traceback
from datetime import timedelta
from email.policy import default as default_policy
from urllib.parse import urlencode

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.exc import IntegrityError
from structlog.testing import capture_logs
from temporalio.api.failure.v1 import Failure
from temporalio.converter import DataConverter

from cli.running import _uvicorn_config
from store.db import session_scope
from store.read_model import caught_mail, upsert_registry
from store.sessions import SignInLinks
from store.tables import Agency, Board, Person
from tests import factories as f
from tests.helpers import TEST_SECRET_KEY, eventually, today
from tests.web_client import SIGN_IN_LINK, Browser, csrf_of, text_of, token_for
from web.app import create_app
from web.security import TOKEN_PREFIXES, CsrfTokens, redact_path
from web.sign_in import _REQUEST_FORM

REF = "CSPR-2023-01"
HOST = "assure.mktogether.example"


@pytest.fixture
def registry(database_url) -> None:
    with session_scope(database_url) as session:
        upsert_registry(
            session=session,
            agencies=[Agency(name=f.ICB), Agency(name=f.POLICE)],
            people=[Person(email=f.ASSURANCE, name="Sam Scrutineer", roles="assurance_member")],
            boards=[Board(name="Review Board", sponsor_email=f.SPONSOR)],
        )


@pytest_asyncio.fixture
async def web(env, settings):
    app = create_app(settings, client=env.client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=settings.base_url) as client:
        yield client


def sign_in_request_form(email_address: str) -> dict[str, str]:
    """The sign-in form as the page posts it, with a CSRF token the page would have carried."""
    return {"csrf_token": CsrfTokens(TEST_SECRET_KEY).issue(_REQUEST_FORM), "email": email_address}


async def post_and_watch(app, path: str, fields: dict[str, str]) -> tuple[int, bytes, list[dict], int]:
    """POST a form straight through ASGI, as a server would: (status, body, log entries, how many
    entries were logged before the answer was complete). What comes after that is background work."""
    body = urlencode(fields).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", HOST.encode()),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("192.0.2.10", 50000),
        "server": (HOST, 443),
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    status, chunks, answered_after = 0, [], -1

    async def receive() -> dict:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    with capture_logs() as logs:

        async def send(message: dict) -> None:
            nonlocal status, answered_after
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    answered_after = len(logs)

        await app(scope, receive, send)
    return status, b"".join(chunks), logs, answered_after


def events(logs: list[dict]) -> list[str]:
    return [entry["event"] for entry in logs]


def sign_in_mail(database_url: str, recipient: str) -> list[email.message.EmailMessage]:
    with session_scope(database_url) as session:
        raws = [row.raw for row in caught_mail(session=session, recipient=recipient)]
    messages = [email.message_from_string(raw, policy=default_policy) for raw in raws]
    return [m for m in messages if "sign in to Assure" in str(m["Subject"])]


def fresh_link_mail(database_url: str, recipient: str) -> list[str]:
    with session_scope(database_url) as session:
        return [row.raw for row in caught_mail(session=session, recipient=recipient) if "Your new link" in row.raw]


def route_paths(routes) -> list[str]:
    """Every route's path, through included routers (which FastAPI keeps as routers of their own;
    Assure's routers have no prefix)."""
    paths = []
    for route in routes:
        included = getattr(route, "original_router", None)
        paths += route_paths(included.routes) if included is not None else [getattr(route, "path", "")]
    return paths


# --- A4: tokens out of the log, personal pages out of caches ----------------------------------


class TestTokensAndCaches:
    async def test_the_access_log_never_holds_a_sign_in_token(self, web):
        """Opening and using a sign-in link logs its path as /sign-in/<token>, never the token."""
        token = SignInLinks(TEST_SECRET_KEY).sign(f.ASSURANCE, "nonce-log-test")
        with capture_logs() as logs:
            opened = await web.get(f"/sign-in/{token}")
            await web.post(f"/sign-in/{token}", data={"csrf_token": csrf_of(opened.text)})
        requests = [entry for entry in logs if entry["event"] == "http_request"]
        assert ["/sign-in/<token>", "/sign-in/<token>"] == [entry["path"] for entry in requests]
        assert all(token not in repr(entry) for entry in logs)

    def test_every_route_that_takes_a_token_is_redacted_by_the_one_rule(self, settings):
        """Each route with ``{token}`` in its path starts with one of the redacted prefixes, and its
        token never survives redaction, so a new kind of link cannot be forgotten."""
        app = create_app(settings)
        paths = [path for path in route_paths(app.routes) if "{token}" in path]
        assert {"/r/{token}", "/sign-in/{token}"} <= set(paths)
        for path in paths:
            concrete = path.replace("{token}", "SECRET.token-value").replace("{decision}", "acknowledge")
            assert path.startswith(TOKEN_PREFIXES), path
            assert "SECRET" not in redact_path(concrete), path

    def test_every_route_about_one_person_keeps_their_address_out_of_the_log(self, settings):
        """Each route naming a person in its path (their absence page, a hand-over, the API's people
        and registry routes) logs ``<person>`` in place of the address, by the one rule."""
        app = create_app(settings)
        paths = [p for p in route_paths(app.routes) if "{email}" in p or "/registry/people/" in p or "{kind}" in p]
        assert {"/dashboard/people/{email}", "/api/people/{email}", "/dashboard/registry/{kind}/{key:path}"} <= set(
            paths
        )
        for path in paths:
            concrete = re.sub(r"\{(email|key)(:path)?\}", "named.nurse@icb.example", path.replace("{kind}", "people"))
            concrete = re.sub(r"\{\w+\}", "1", concrete)
            assert "named.nurse" not in redact_path(concrete), path

    async def test_every_response_but_the_static_assets_is_never_stored(self, web):
        """Pages, sign-in, the dashboard's redirect, the API, errors and health answers all say
        ``Cache-Control: no-store``; static assets, the same for everyone, may be cached."""
        token = SignInLinks(TEST_SECRET_KEY).sign(f.ASSURANCE, "nonce-cache-test")
        for path in ("/", "/sign-in", f"/sign-in/{token}", "/dashboard", "/api/recommendations", "/healthz", "/nope"):
            response = await web.get(path)
            assert "no-store" == response.headers.get("cache-control"), path
        asset = await web.get("/static/favicon.svg")
        assert 200 == asset.status_code and "cache-control" not in asset.headers


# --- A5: the same answer in the same time ---------------------------------------------------


class TestNoExistenceLeaks:
    async def test_sign_in_answers_alike_and_looks_the_address_up_after_answering(
        self, env, settings, registry, worker, database_url
    ):
        """A registered and an unknown address get the same status and page, and the registry
        lookup and the sign-in workflow happen only once the answer has been sent."""
        app = create_app(settings, client=env.client)
        unknown = await post_and_watch(app, "/sign-in", sign_in_request_form(f.STRANGER))
        known = await post_and_watch(app, "/sign-in", sign_in_request_form(f.ASSURANCE))

        assert (200, 200) == (unknown[0], known[0])
        assert unknown[1] == known[1]
        for (_, _, logs, answered_after), work in (
            (unknown, "sign_in_unknown_address"),
            (known, "sign_in_link_requested"),
        ):
            assert work in events(logs)
            assert events(logs).index(work) >= answered_after, events(logs)

        # Let the sign-in workflow finish before this test's worker stops (the shared clock).
        message = (await eventually(lambda: sign_in_mail(database_url, f.ASSURANCE)))[-1]
        link = SIGN_IN_LINK.search(message.get_body(preferencelist=("plain",)).get_content()).group(0)
        nonce = SignInLinks(TEST_SECRET_KEY).read(link.rsplit("/", 1)[1]).nonce
        await env.client.get_workflow_handle(f"sign-in-{nonce}").result()

    async def test_a_fresh_link_is_looked_up_and_sent_after_the_answer(self, env, settings, start, database_url):
        """Asking for a fresh link answers first; finding the role holder and starting the email
        come after, so the answer takes no longer for a registered address."""
        day = await today(env)
        await start(f.start(REF, actions=f.two_actions(day + timedelta(days=30))))
        app = create_app(settings, client=env.client)
        form = {"csrf_token": CsrfTokens(TEST_SECRET_KEY).issue("damaged"), "email": f.OWNER_2, "ref": REF}
        status, body, logs, answered_after = await post_and_watch(app, "/r/damaged/fresh-link", form)
        assert 200 == status and b"Check your email" in body
        assert "fresh_link_requested" in events(logs)
        assert events(logs).index("fresh_link_requested") >= answered_after, events(logs)
        await eventually(lambda: fresh_link_mail(database_url, f.OWNER_2))


# --- A6: rate limits count the right client -------------------------------------------------


class TestRateLimits:
    async def test_junk_posts_never_use_up_a_persons_decisions(self, env, start, settings):
        """Posts refused by the CSRF check are not counted, so a flood of them from the address a
        person shares does not stop that person's real decision."""
        day = await today(env)
        await start(f.start(REF, actions=f.two_actions(day + timedelta(days=30))))
        limited = settings.model_copy(update={"rate_limit_decisions": "2/minute"})
        app = create_app(limited, client=env.client)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=settings.base_url) as client:
            owner = Browser(client, token_for(limited, f.OWNER, REF, "owner", "A1"))
            for _ in range(5):
                junk = await client.post(f"{owner.path}/acknowledge", data={"action_id": "A1"})
                assert 403 == junk.status_code
            taken = await owner.post("acknowledge", {"action_id": "A1"})
            assert 303 == taken.status_code, text_of(taken)

    async def test_decisions_count_against_the_links_person_not_the_shared_address(self, env, start, settings):
        """Two people behind one address each have their own allowance of decisions."""
        day = await today(env)
        await start(f.start(REF, actions=f.two_actions(day + timedelta(days=30))))
        limited = settings.model_copy(update={"rate_limit_decisions": "1/minute"})
        app = create_app(limited, client=env.client)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=settings.base_url) as client:
            first = Browser(client, token_for(limited, f.OWNER, REF, "owner", "A1"))
            second = Browser(client, token_for(limited, f.OWNER_2, REF, "owner", "A2"))
            assert 303 == (await first.post("acknowledge", {"action_id": "A1"})).status_code
            assert 303 == (await second.post("acknowledge", {"action_id": "A2"})).status_code
            again = await first.post("report_progress", {"action_id": "A1", "note": "Started"})
            assert 429 == again.status_code

    @pytest.mark.parametrize(
        ("trusted", "peer", "forwarded", "codes"),
        [
            # No proxy configured: a new X-Forwarded-For from 127.0.0.1 buys nothing.
            ([], "127.0.0.1", ["198.51.100.1", "198.51.100.2", "198.51.100.3"], [422, 422, 429]),
            # The trusted proxy names each client: three people, three allowances.
            (["10.0.0.0/8"], "10.1.2.3", ["198.51.100.1", "198.51.100.2", "198.51.100.3"], [422, 422, 422]),
            # ... and one person is one person, whatever the proxy.
            (["10.0.0.0/8"], "10.1.2.3", ["198.51.100.1"] * 3, [422, 422, 429]),
            # Someone who is not the proxy cannot name themselves.
            (["10.0.0.0/8"], "192.0.2.7", ["198.51.100.1", "198.51.100.2", "198.51.100.3"], [422, 422, 429]),
        ],
    )
    async def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy(
        self, settings, trusted, peer, forwarded, codes
    ):
        """`assure web` takes the client from X-Forwarded-For only when the connection comes from
        ASSURE_TRUSTED_PROXIES; the rate limits then count that client."""
        configured = settings.model_copy(update={"trusted_proxies": trusted, "rate_limit_sign_in": "2/hour"})
        config = _uvicorn_config(configured, None, None)
        config.load()
        transport = httpx.ASGITransport(app=config.loaded_app, client=(peer, 40000))
        async with httpx.AsyncClient(transport=transport, base_url=settings.base_url) as client:
            answers = [
                await client.post(
                    "/sign-in", data=sign_in_request_form("not an address"), headers={"X-Forwarded-For": ip}
                )
                for ip in forwarded
            ]
        assert codes == [answer.status_code for answer in answers]


# --- A7: the Origin check, and no parameters in errors -------------------------------------


class TestOriginAndErrors:
    async def test_an_origin_made_to_match_the_host_header_is_refused(self, settings):
        """A post whose Origin matches a forged Host header, not ASSURE_BASE_URL, is refused."""
        app = create_app(settings)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=settings.base_url) as client:
            forged = await client.post(
                "/sign-in",
                data=sign_in_request_form("not an address"),
                headers={"Host": "evil.example", "Origin": "https://evil.example"},
            )
            ours = await client.post(
                "/sign-in", data=sign_in_request_form("not an address"), headers={"Origin": f"https://{HOST}"}
            )
        assert 403 == forged.status_code and "Your form could not be sent" in text_of(forged)
        assert 422 == ours.status_code

    def test_a_failed_write_reports_no_parameter_value(self, store_url):
        """A write the store refuses raises an error whose text, as an activity reports it to
        Temporal (message, stack trace and causes), holds none of the row's values."""
        address, name = "mary.secret@agency.example", "Mary Secret-Name"
        with session_scope(store_url) as session:
            session.add(Person(email=address, name=name))
        with pytest.raises(IntegrityError) as refused:
            with session_scope(store_url) as session:
                session.add(Person(email=address, name=name, roles="owner"))
        failure = Failure()
        converter = DataConverter.default
        converter.failure_converter.to_failure(refused.value, converter.payload_converter, failure)
        reported = str(failure) + "".join(traceback.format_exception(refused.value))
        assert "IntegrityError" in reported  # still says what went wrong
        for value in (address, "mary.secret", name):
            assert value not in reported
