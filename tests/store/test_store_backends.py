"""What the web app and the API read and write, on SQLite and PostgreSQL alike: the listing
(one query folding each recommendation's actions in), its refresh after a projection, dashboard
sessions and one-time sign-in links, API tokens, and times that come back in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from models.lifecycle import Lifecycle
from models.payloads import AcknowledgeInput
from store.api_tokens import issue_token, person_for_token, revoke_tokens
from store.db import session_scope
from store.listing import recommendation_summaries
from store.read_model import apply_projection, upsert_registry
from store.sessions import SessionCookies, SignInClaims, SignInRefused, use_sign_in_link
from store.tables import Person, WebSession
from tests import factories as f

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)
KEY = "k" * 48


def project(url: str, life: Lifecycle, now: datetime) -> None:
    data = f.projection_of(life, now)
    with session_scope(url) as session:
        apply_projection(session=session, data=data)


def begin(ref: str, *actions) -> Lifecycle:
    return Lifecycle.begin(f.start(ref, actions=list(actions)), workflow_id=f"recommendation-{ref}", now=NOW)


def test_the_listing_folds_in_each_recommendations_actions(store_url):
    soon = begin("LIST-1", f.action("A1", NOW.date() + timedelta(days=10)),
                 f.action("A2", NOW.date() + timedelta(days=60), owner=f.OWNER_2, agency=f.POLICE))  # fmt: skip
    later = begin("LIST-2", f.action("B1", NOW.date() + timedelta(days=90)))
    project(store_url, soon, NOW)
    project(store_url, later, NOW)
    with session_scope(store_url) as session:
        rows = {s.ref: s for s in recommendation_summaries(session=session, now=NOW)}
        police = recommendation_summaries(session=session, now=NOW, agency=f.POLICE)
        seen_by_owner_2 = recommendation_summaries(
            session=session, now=NOW, visible=lambda board, owners, agencies: f.OWNER_2 in owners
        )
    assert rows["LIST-1"].agencies == sorted([f.ICB, f.POLICE])
    assert rows["LIST-1"].next_open_due == NOW.date() + timedelta(days=10)
    assert (rows["LIST-1"].rag, rows["LIST-2"].rag) == ("amber", "green")  # due within 14 days
    assert rows["LIST-1"].stage_entered_at == NOW and rows["LIST-1"].stage_entered_at.tzinfo is not None
    assert [s.ref for s in police] == ["LIST-1"] and [s.ref for s in seen_by_owner_2] == ["LIST-1"]

    # A projection moves a recommendation on: the next listing shows it (the kept one is dropped).
    soon.apply(AcknowledgeInput(by=f.OWNER, action_id="A1"), NOW + timedelta(hours=1))
    soon.apply(AcknowledgeInput(by=f.OWNER_2, action_id="A2"), NOW + timedelta(hours=1))
    project(store_url, soon, NOW + timedelta(hours=1))
    with session_scope(store_url) as session:
        moved = recommendation_summaries(session=session, now=NOW, stage="in_progress")
    assert [s.ref for s in moved] == ["LIST-1"]


def test_sessions_and_one_time_links(store_url):
    with session_scope(store_url) as session:
        upsert_registry(session=session, agencies=[], people=[Person(email=f.ASSURANCE, roles="assurance_member")],
                        boards=[])  # fmt: skip
    cookies = SessionCookies(KEY)
    with session_scope(store_url) as session:
        cookie = cookies.start(session=session, email=f.ASSURANCE, now=NOW)
    with session_scope(store_url) as session:
        assert cookies.person(session=session, cookie=cookie, now=NOW + timedelta(hours=11)).email == f.ASSURANCE
        assert cookies.person(session=session, cookie=cookie, now=NOW + timedelta(hours=13)) is None  # expired
        assert cookies.person(session=session, cookie=cookie + "x", now=NOW) is None  # not ours
        stored = session.get(WebSession, next(iter(session.exec(WebSession.__table__.select()))).token_hash)
        assert stored.expires_at == NOW + timedelta(hours=12)
        assert cookie.split(".")[0] not in stored.token_hash  # only the hash is kept
    with session_scope(store_url) as session:
        cookies.end(session=session, cookie=cookie)
    with session_scope(store_url) as session:
        assert cookies.person(session=session, cookie=cookie, now=NOW) is None

    claims = SignInClaims(email=f.ASSURANCE, nonce="n-1")
    with session_scope(store_url) as session:
        use_sign_in_link(session=session, claims=claims, now=NOW)
    with session_scope(store_url) as session, pytest.raises(SignInRefused, match="used already"):
        use_sign_in_link(session=session, claims=claims, now=NOW)


def test_api_tokens(store_url):
    with session_scope(store_url) as session:
        upsert_registry(session=session, agencies=[], people=[Person(email=f.SPONSOR, roles="")], boards=[])
    with session_scope(store_url) as session:
        token = issue_token(session=session, email=f.SPONSOR.upper())
    with session_scope(store_url) as session:
        assert person_for_token(session=session, token=token).email == f.SPONSOR
        assert revoke_tokens(session=session, email=f.SPONSOR) == 1
    with session_scope(store_url) as session:
        assert person_for_token(session=session, token=token) is None


def test_a_time_in_another_zone_is_stored_as_the_same_instant(store_url):
    """Times go in with any zone and come back as the same instant in UTC."""
    paris = datetime(2026, 7, 1, 11, 30, tzinfo=timezone(timedelta(hours=2)))
    with session_scope(store_url) as session:
        upsert_registry(session=session, agencies=[], people=[Person(email=f.OWNER, roles="")], boards=[])
    with session_scope(store_url) as session:
        SessionCookies(KEY).start(session=session, email=f.OWNER, now=paris)
    with session_scope(store_url) as session:
        [row] = session.exec(WebSession.__table__.select()).all()
        assert row.created_at == paris and row.created_at.tzinfo == UTC
