"""Reviews on the dashboard and through the API: the list shows each person the reviews their
roles let them see; a review's page gives its facts and milestones, its clocks from its running
workflow (or says they cannot be read), its themes with the earlier reviews that named them (only
those the reader may see), and its recommendations with where each stands; its board's sponsor
records a milestone from the page (CSRF required, bad input refused at its field, the workflow's
refusal shown), and the same decision is taken through
``POST /api/reviews/{review_ref}/record_review_milestone``."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta

import httpx
import pytest

from gateway.reviews import review_status, start_reviews
from models.payloads import SourceKind
from models.review_clocks import ReviewPolicy
from models.reviews import Review
from models.wording import uk_date
from store.api_tokens import issue_token
from store.db import session_scope
from store.reviews import review_summaries, write_reviews
from tests import factories as f
from tests.helpers import eventually, server_clock, stored_row, today
from tests.web.test_dashboard import browser, registry  # noqa: F401 (fixtures)
from tests.web_client import csrf_of, date_fields, text_of
from web.app import create_app

OTHER_SPONSOR = "other.sponsor@mk.example"


@pytest.fixture
async def reviews(env, settings, start, database_url, registry):  # noqa: F811
    """Three self-neglect SARs: one of the Adults Board two years ago, one of the Review Board a
    year ago (naming mental health too), and the Review Board's running one (its clocks started)
    with a recommendation whose own theme is mental health."""
    tag = uuid.uuid4().hex[:5].upper()
    day = await today(env)
    now = await env.get_current_time()
    refs = {name: f"SAR-{name}-{tag}" for name in ("ADULTS", "EARLIER", "NOW")}

    def sar(name: str, board: str, decided: date, *also: str) -> Review:
        return Review(review_ref=refs[name], kind=SourceKind.sar, title=f"The {name.lower()} SAR", board=board,
                      decided_on=decided, themes=["self-neglect", *also])  # fmt: skip

    running = sar("NOW", "Review Board", day - timedelta(days=10))
    with session_scope(database_url) as session:
        write_reviews(
            session=session,
            reviews=[sar("ADULTS", "Adults Board", day - timedelta(days=730)),
                     sar("EARLIER", "Review Board", day - timedelta(days=365), "mental health"), running],
            now=now,
        )  # fmt: skip
    started = await start_reviews(
        env.client, database_url, [running], policy=ReviewPolicy(), task_queue=settings.task_queue
    )
    assert started.started == [refs["NOW"]], started
    payload = f.start(f"REV-{tag}", actions=[f.action("A1", day + timedelta(days=30))])
    recommendation = payload.recommendation.model_copy(update={"review_ref": refs["NOW"], "themes": ["mental health"]})
    await start(payload.model_copy(update={"recommendation": recommendation}))
    await eventually(lambda: stored_row(database_url, f"REV-{tag}"))
    return refs, f"REV-{tag}", day


class TestTheReviewPages:
    """``/dashboard/reviews`` and ``/dashboard/reviews/{review_ref}``."""

    async def test_the_list_shows_each_reader_only_the_reviews_their_roles_allow(self, env, browser, reviews):  # noqa: F811
        """The Assurance Board sees every review, a sponsor their board's, an owner the one their
        recommendation comes from; each row gives the kind in words, the milestones and the counts."""
        refs, _, day = reviews
        clock = await server_clock(env)

        async def listed(who: str) -> set[str]:
            page = await (await browser(who, clock=clock)).client.get("/dashboard/reviews")
            assert page.status_code == 200 and "no-store" in page.headers["cache-control"]
            return set(re.findall(r'href="/dashboard/reviews/(SAR-[A-Z]+-\w+)"', page.text))

        assert set(refs.values()) == await listed(f.ASSURANCE)
        assert {refs["EARLIER"], refs["NOW"]} == await listed(f.SPONSOR)
        assert {refs["ADULTS"]} == await listed(OTHER_SPONSOR)
        assert {refs["NOW"]} == await listed(f.OWNER)  # through the recommendation they own

        sponsor = await browser(f.SPONSOR, clock=clock)
        page = await sponsor.client.get("/dashboard/reviews")
        words = text_of(page)
        assert 'href="/dashboard/reviews"' in (await sponsor.client.get("/dashboard")).text  # in the navigation
        assert "Safeguarding Adult Review" in words and "SourceKind" not in words
        assert f"Decided {uk_date(day - timedelta(days=10))}" in words
        assert "1: 1 open, 0 assured" in words and "self-neglect" in words

    async def test_a_review_page_shows_its_clocks_repeats_and_recommendations(self, env, browser, reviews):  # noqa: F811
        """The running review's page: its clock's due day and that it runs, its theme's repeat line
        linking the earlier review the reader may see (and not the hidden one), and its
        recommendation with its stage in words; an owner reads it without the form."""
        refs, rec, day = reviews
        clock = await server_clock(env)
        status = await review_status(env.client, refs["NOW"])
        [running] = [v for v in status.clocks if v.started_on is not None]
        sponsor = await browser(f.SPONSOR, clock=clock)
        page = await sponsor.client.get(f"/dashboard/reviews/{refs['NOW']}")
        words = text_of(page)
        assert page.status_code == 200 and "no-store" in page.headers["cache-control"]
        assert f"Running since {uk_date(day - timedelta(days=10))}" in words
        assert running.due_on is not None and uk_date(running.due_on) in words
        since = (day - timedelta(days=365)).year
        assert f"Self-neglect has come up in 1 earlier review since {since}" in words
        assert f'href="/dashboard/reviews/{refs["EARLIER"]}"' in page.text and refs["ADULTS"] not in page.text
        assert f'href="/dashboard/r/{rec}"' in page.text and "Actions assigned" in words
        assert "Record a milestone" in words and 'name="csrf_token"' in page.text

        member = await (await browser(f.ASSURANCE, clock=clock)).client.get(f"/dashboard/reviews/{refs['NOW']}")
        assert "Self-neglect has come up in 2 earlier reviews" in text_of(member)
        assert "Record a milestone" not in text_of(member)  # the Assurance Board sees; the board records
        owner_page = await (await browser(f.OWNER, clock=clock)).client.get(f"/dashboard/reviews/{refs['NOW']}")
        assert owner_page.status_code == 200 and "Record a milestone" not in text_of(owner_page)

        # The recommendation's own page names its review, its own theme and the repeats of both, linking them.
        own = await sponsor.client.get(f"/dashboard/r/{rec}")
        assert f'href="/dashboard/reviews/{refs["NOW"]}"' in own.text
        own_words = text_of(own)
        assert "whose themes are self-neglect. Its own theme is mental health." in own_words
        assert f"Mental health has come up in 1 earlier review since {since}" in own_words
        assert f"Self-neglect has come up in 1 earlier review since {since}" in own_words
        assert f'href="/dashboard/reviews/{refs["EARLIER"]}"' in own.text and refs["ADULTS"] not in own.text

    async def test_a_review_without_a_workflow_says_so_rather_than_failing(self, env, browser, reviews):  # noqa: F811
        """The earlier review has no clocks running: its page says they cannot be read, and shows
        the rest from the record, without the form."""
        refs, _, _ = reviews
        sponsor = await browser(f.SPONSOR, clock=await server_clock(env))
        page = await sponsor.client.get(f"/dashboard/reviews/{refs['EARLIER']}")
        words = text_of(page)
        assert page.status_code == 200
        assert "This review's clocks are not running" in words and "The earlier SAR" in words
        assert "Record a milestone" not in words

    async def test_what_the_reader_may_not_see_is_not_found(self, env, browser, reviews):  # noqa: F811
        """Another board's review answers as a review that does not exist does; signed out, the
        pages send the reader to sign in."""
        refs, _, _ = reviews
        clock = await server_clock(env)
        sponsor = await browser(f.SPONSOR, clock=clock)
        hidden = await sponsor.client.get(f"/dashboard/reviews/{refs['ADULTS']}")
        missing = await sponsor.client.get("/dashboard/reviews/NO-SUCH-REVIEW")
        assert 404 == hidden.status_code == missing.status_code and text_of(hidden) == text_of(missing)
        stranger = await browser(None, clock=clock)
        for path in ("/dashboard/reviews", f"/dashboard/reviews/{refs['NOW']}"):
            answer = await stranger.client.get(path)
            assert (303, "/sign-in") == (answer.status_code, answer.headers["location"])


class TestTheMilestoneForm:
    """``POST /dashboard/reviews/{review_ref}/milestone``."""

    async def test_the_sponsor_records_a_milestone_from_the_page(self, env, browser, reviews, database_url):  # noqa: F811
        """Without the session's token nothing is taken; a day that is not a day is refused at its
        field with what was typed kept; a day in the future is the workflow's refusal, shown in the
        error summary; a good one redirects to the page, which shows it recorded and the clock met."""
        refs, _, day = reviews
        clock = await server_clock(env)
        path = f"/dashboard/reviews/{refs['NOW']}"
        sponsor = await browser(f.SPONSOR, clock=clock)
        csrf = csrf_of((await sponsor.client.get(path)).text)

        no_token = await sponsor.client.post(
            f"{path}/milestone", data={"milestone": "concluded", **date_fields("reached_on", day)}
        )
        assert no_token.status_code == 403
        bad_day = await sponsor.client.post(
            f"{path}/milestone", data={"csrf_token": csrf, "milestone": "concluded", "reached_on-day": "31",
                                       "reached_on-month": "2", "reached_on-year": str(day.year), "note": "kept"},
        )  # fmt: skip
        words = text_of(bad_day)
        assert bad_day.status_code == 422 and "There is a problem" in words
        assert (
            "The day it was reached must be a real date" in words and 'href="#milestone-reached_on-day"' in bad_day.text
        )
        assert ">kept</textarea>" in bad_day.text
        unchosen = await sponsor.client.post(
            f"{path}/milestone", data={"csrf_token": csrf, "milestone": "", **date_fields("reached_on", day)}
        )
        assert unchosen.status_code == 422 and "Choose the milestone reached" in text_of(unchosen)
        future = await sponsor.client.post(
            f"{path}/milestone",
            data={"csrf_token": csrf, "milestone": "concluded", **date_fields("reached_on", day + timedelta(days=3))},
        )
        assert future.status_code == 409 and "There is a problem" in text_of(future)
        assert "is in the future" in text_of(future)
        assert (await review_status(env.client, refs["NOW"])).review.concluded_on is None  # nothing applied

        done = await sponsor.client.post(
            f"{path}/milestone",
            data={"csrf_token": csrf, "milestone": "concluded", **date_fields("reached_on", day), "note": "Report in"},
        )
        assert done.status_code == 303 and done.headers["location"] == f"{path}?done=milestone"
        after = text_of(await sponsor.client.get(done.headers["location"]))
        assert "The milestone is recorded" in after and f"Met on {uk_date(day)}" in after
        assert f"Concluded {uk_date(day)}" in after
        assert (await review_status(env.client, refs["NOW"])).review.concluded_on == day

        def stored_concluded():
            with session_scope(database_url) as session:
                rows = review_summaries(session=session, now=clock(), visible=None)
            return next(r.concluded_on for r in rows if r.review_ref == refs["NOW"])

        assert day == await eventually(stored_concluded)  # the record catches up: the list shows it
        listed = text_of(await sponsor.client.get("/dashboard/reviews"))
        assert f"Concluded {uk_date(day)}" in listed

    async def test_someone_not_its_sponsor_or_chair_has_no_form_and_is_refused(self, env, browser, reviews):  # noqa: F811
        """An owner who reads the review gets no form, and their post is the workflow's refusal;
        another board's sponsor, who may not see it, is answered as for a review that is not there."""
        refs, _, day = reviews
        clock = await server_clock(env)
        path = f"/dashboard/reviews/{refs['NOW']}"
        owner = await browser(f.OWNER, clock=clock)
        page = await owner.client.get(path)
        assert f'action="{path}/milestone"' not in page.text
        refused = await owner.client.post(
            f"{path}/milestone",
            data={"csrf_token": csrf_of(page.text), "milestone": "concluded", **date_fields("reached_on", day)},
        )
        assert refused.status_code == 409 and "only Review Board's sponsors and chair" in text_of(refused)

        other = await browser(OTHER_SPONSOR, clock=clock)
        other_csrf = csrf_of((await other.client.get("/dashboard/reviews")).text)
        hidden = await other.client.post(
            f"{path}/milestone",
            data={"csrf_token": other_csrf, "milestone": "concluded", **date_fields("reached_on", day)},
        )
        assert hidden.status_code == 404
        assert (await review_status(env.client, refs["NOW"])).review.concluded_on is None


class TestTheMilestoneApi:
    """``POST /api/reviews/{review_ref}/record_review_milestone``."""

    async def test_the_api_records_a_milestone_as_the_tokens_person(self, env, settings, reviews, registry):  # noqa: F811
        """The token's person is ``by``: another board's sponsor gets 404, an owner 403
        (``WrongPerson``), a future day 409 with the reason, a body that does not fit 422 with its
        fields (``by`` among them); the sponsor's is taken and answered with the review's status."""
        refs, _, day = reviews
        with session_scope(settings.database_url) as session:
            tokens = {who: issue_token(session=session, email=who) for who in (f.SPONSOR, f.OWNER, OTHER_SPONSOR)}
        app = create_app(settings, client=env.client, clock=await server_clock(env))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=settings.base_url) as api:

            def post(who: str, body: dict, ref: str = refs["NOW"]):
                return api.post(f"/api/reviews/{ref}/record_review_milestone", json=body,
                                headers={"Authorization": f"Bearer {tokens[who]}"})  # fmt: skip

            stranger = await post(OTHER_SPONSOR, {"milestone": "concluded", "on": day.isoformat()})
            assert stranger.status_code == 404  # a review they may not see
            assert (
                await post(f.SPONSOR, {"milestone": "concluded", "on": day.isoformat()}, "NO-SUCH")
            ).status_code == 404
            owner = await post(f.OWNER, {"milestone": "concluded", "on": day.isoformat()})
            assert owner.status_code == 403 and owner.json()["type"] == "WrongPerson"
            assert "only Review Board's sponsors and chair" in owner.json()["message"]
            future = await post(f.SPONSOR, {"milestone": "concluded", "on": (day + timedelta(days=1)).isoformat()})
            assert future.status_code == 409 and "in the future" in future.json()["message"]
            malformed = await post(f.SPONSOR, {"milestone": "finished", "on": "31/02"})
            assert malformed.status_code == 422 and malformed.json()["type"] == "InvalidInput"
            assert {"milestone", "on"} == set(malformed.json()["fields"])
            assert malformed.json()["message"].startswith("record_review_milestone: ")
            with_by = await post(f.SPONSOR, {"milestone": "concluded", "on": day.isoformat(), "by": f.SPONSOR})
            assert with_by.status_code == 422 and "leave out 'by'" in with_by.json()["detail"]
            assert (await review_status(env.client, refs["NOW"])).review.concluded_on is None  # nothing applied

            taken = await post(f.SPONSOR, {"milestone": "concluded", "on": day.isoformat(), "note": "Report received"})
            assert taken.status_code == 200, taken.text
            assert taken.json()["review"]["concluded_on"] == day.isoformat()
            recorded = [e for e in taken.json()["timeline"] if e["kind"] == "milestone_recorded"]
            assert [(f.SPONSOR, f"concluded on {day.isoformat()}: Report received")] == [
                (e["actor"], e["detail"]) for e in recorded
            ]
            again = await post(f.SPONSOR, {"milestone": "concluded", "on": day.isoformat()})
            assert again.status_code == 409 and "already recorded" in again.json()["message"]
            unauthorised = await api.post(f"/api/reviews/{refs['NOW']}/record_review_milestone", json={})
            assert unauthorised.status_code == 401
