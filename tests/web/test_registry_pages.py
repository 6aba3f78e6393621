"""The registry's dashboard pages, through FastAPI's client on the time-skipping server: only an
admin opens the list and the forms (anyone else gets the not-found page, for every page and every
post); the forms need the page's CSRF token; an accepted board policy edit redirects with a banner
saying what changed, writes the board and a registry change, and reaches a running recommendation
of that board as a ``policy_changed`` event; a refused edit is shown at its field, 400, with what
was typed kept and nothing written; an agency is added; someone who has left is shown as gone and
not edited; a change Temporal did not hear of says when it will."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from html.parser import HTMLParser

import pytest
from sqlmodel import select

from gateway.workflows import recommendation_status
from models.payloads import AcknowledgeInput, EscalationPolicy
from store.db import session_scope
from store.read_model import upsert_registry
from store.tables import Agency, Board, Person, RegistryChange
from tests import factories as f
from tests.helpers import decide, eventually, eventually_async, seed_registry, server_clock, stored_row
from tests.web.test_dashboard import browser  # noqa: F401 (a fixture, using this module's registry)
from tests.web_client import Dashboard, csrf_of, text_of

ADMIN = "registry.admin@mk.example"
LIST = "/dashboard/registry"
BOARD_PAGE = "/dashboard/registry/boards/Review%20Board"
OWNER_PAGE = f"/dashboard/registry/people/{f.OWNER}"
ASSURANCE_PAGE = f"/dashboard/registry/people/{f.ASSURANCE}"
AGENCY_PAGE = "/dashboard/registry/agencies/Thames%20Valley%20Police"
NEW_AGENCY = "/dashboard/registry/agencies/new"
PAGES = (LIST, BOARD_PAGE, OWNER_PAGE, AGENCY_PAGE, NEW_AGENCY, "/dashboard/registry/boards/new")


@pytest.fixture
def registry(database_url) -> None:
    seed_with_admin(database_url)


def seed_with_admin(database_url: str) -> None:
    """The factories' registry, with an admin (named, as the change lists show who made a change)."""
    seed_registry(database_url)
    with session_scope(database_url) as session:
        upsert_registry(
            session=session, agencies=[], boards=[], people=[Person(email=ADMIN, name="Ada Admin", roles="admin")]
        )


class _Form(HTMLParser):
    """The fields the page's registry form sends as it stands: its text inputs and checked radios."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = False
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.inside = found.get("id") == "registry-form"
        elif tag == "input" and self.inside and found.get("name"):
            if found.get("type") == "radio" and "checked" not in found:
                return
            self.fields[found["name"]] = found.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False


def form_of(html: str) -> dict[str, str]:
    parser = _Form()
    parser.feed(html)
    assert parser.fields, "the page has no registry form"
    return parser.fields


async def submit(person: Dashboard, page: str, changes: dict[str, str]):
    """Send ``page``'s form as a browser does: every field as shown, with ``changes`` typed in."""
    shown = await person.client.get(page)
    assert shown.status_code == 200, text_of(shown)
    return await person.client.post(page, data={**form_of(shown.text), **changes})


def error_links(html: str) -> list[str]:
    summary = re.search(r'(?s)<div class="govuk-error-summary".*?</ul>', html)
    assert summary, "the page has no error summary"
    return re.findall(r'href="(#[^"]+)"', summary.group(0))


def field_error(html: str, field_id: str) -> str:
    """The error message shown at the field ``field_id``, in words."""
    found = re.search(rf'(?s)<p id="{re.escape(field_id)}-error" class="govuk-error-message">(.*?)</p>', html)
    assert found, f"no error message at {field_id}"
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", found.group(1))).split())


def changes(database_url: str) -> list[tuple[str, str, str, str]]:
    with session_scope(database_url) as session:
        return [(c.by, c.subject, c.what, c.detail) for c in session.exec(select(RegistryChange))]


def registry_now(database_url: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]], list[tuple[str, str]]]:
    with session_scope(database_url) as session:
        return (
            sorted((p.email, p.roles) for p in session.exec(select(Person))),
            sorted((a.name, a.short_name) for a in session.exec(select(Agency))),
            sorted((b.name, b.board_after) for b in session.exec(select(Board))),
        )


class TestWhoMaySee:
    async def test_only_an_admin_opens_the_registry_and_anyone_else_gets_not_found(
        self,
        env,
        browser,  # noqa: F811
        database_url,
    ):
        """The admin has the list (not cached) from the navigation; a sponsor, an agency's lead and an
        owner get the not-found page on every page, and their posts (with a real token) change nothing."""
        clock = await server_clock(env)
        admin = await browser(ADMIN, clock=clock)
        overview = await admin.client.get("/dashboard")
        assert f'href="{LIST}"' in overview.text
        listed = await admin.client.get(LIST)
        assert listed.status_code == 200 and "no-store" in listed.headers["cache-control"]
        words = text_of(listed)
        for expected in ("Add a person", "Add an agency", "Add a board", "Edit Review Board", f"Edit {f.OWNER}",
                         f"Edit {f.POLICE}", "Sponsor of Review Board", "Agency lead P7D, board P14D"):  # fmt: skip
            assert expected in words, expected
        assert f'href="{BOARD_PAGE}"' in listed.text and f'href="{OWNER_PAGE}"' in listed.text
        for page in PAGES:
            assert 200 == (await admin.client.get(page)).status_code, page
        for page in ("/dashboard/registry/boards/Nowhere%20Board", "/dashboard/registry/people/x@y.example",
                     "/dashboard/registry/teams/new"):  # fmt: skip
            assert 404 == (await admin.client.get(page)).status_code, page

        before = registry_now(database_url)
        for who in (f.SPONSOR, f.ICB_LEAD, f.OWNER):
            stranger = await browser(who, clock=clock)
            home = await stranger.client.get("/dashboard")
            assert f'href="{LIST}"' not in home.text, who
            for page in PAGES:
                answer = await stranger.client.get(page)
                assert answer.status_code == 404 and "Page not found" in text_of(answer), (who, page)
            csrf = csrf_of(home.text)
            for page, fields in ((BOARD_PAGE, {"board_after": "P10D"}), (OWNER_PAGE, {"roles": "admin"}),
                                 (NEW_AGENCY, {"name": "Sneaky Agency"})):  # fmt: skip
                posted = await stranger.client.post(page, data={"csrf_token": csrf, **fields})
                assert posted.status_code == 404, (who, page)
        assert before == registry_now(database_url) and [] == changes(database_url)

        nobody = await browser(None, clock=clock)
        for page in (LIST, BOARD_PAGE):
            answer = await nobody.client.get(page)
            assert answer.status_code == 303 and answer.headers["location"] == "/sign-in", page

    async def test_someone_who_has_left_is_shown_as_gone_and_is_not_edited(
        self,
        env,
        browser,  # noqa: F811
        database_url,
    ):
        clock = await server_clock(env)
        with session_scope(database_url) as session:
            gone = session.exec(select(Person).where(Person.email == f.OWNER_2)).one()
            gone.left_on, gone.successor, gone.roles = clock().date(), f.NEW_OWNER, ""
        admin = await browser(ADMIN, clock=clock)
        listed = await admin.client.get(LIST)
        assert "See their page" in text_of(listed) and "Left on" in text_of(listed)
        assert f'href="/dashboard/people/{f.OWNER_2}"' in listed.text
        assert f'href="/dashboard/registry/people/{f.OWNER_2}"' not in listed.text
        page = await admin.client.get(f"/dashboard/registry/people/{f.OWNER_2}")
        assert page.status_code == 200 and 'id="registry-form"' not in page.text
        assert "is not edited here" in text_of(page)
        posted = await admin.client.post(
            f"/dashboard/registry/people/{f.OWNER_2}", data={"csrf_token": csrf_of(page.text), "roles": "owner"}
        )
        assert posted.status_code == 400 and ["#left"] == error_links(posted.text)
        assert "edit their successor instead" in text_of(posted)
        with session_scope(database_url) as session:
            assert "" == session.exec(select(Person).where(Person.email == f.OWNER_2)).one().roles
        assert [] == changes(database_url)


class TestTheForms:
    async def test_a_post_without_the_page_s_token_is_refused_and_changes_nothing(
        self,
        env,
        browser,  # noqa: F811
        database_url,
    ):
        clock = await server_clock(env)
        admin = await browser(ADMIN, clock=clock)
        before = registry_now(database_url)
        for token in ("", "forged-token"):
            posted = await admin.client.post(BOARD_PAGE, data={"csrf_token": token, "board_after": "P10D"})
            assert posted.status_code == 403
            posted = await admin.client.post(NEW_AGENCY, data={"csrf_token": token, "name": "Forged Agency"})
            assert posted.status_code == 403
        assert before == registry_now(database_url) and [] == changes(database_url)

    async def test_the_forms_are_filled_from_the_stored_rows(self, env, browser):  # noqa: F811
        clock = await server_clock(env)
        admin = await browser(ADMIN, clock=clock)
        board = form_of((await admin.client.get(BOARD_PAGE)).text)
        assert {"sponsor_email": f.SPONSOR, "chair_email": f.CHAIR, "board_after": "P14D",
                "assurance_after": "P42D", "working_days": "no"}.items() <= board.items()  # fmt: skip
        assert "name" not in board  # a row's name is its key, not a field to change
        page = await admin.client.get(OWNER_PAGE)
        person = form_of(page.text)
        assert "owner" == person["roles"] and "email" not in person
        assert "board_sponsor:Adults Board" in text_of(page)  # the hint gives the role syntax
        assert f'href="/dashboard/people/{f.OWNER}"' in page.text
        new = form_of((await admin.client.get("/dashboard/registry/boards/new")).text)
        assert {"name": "", "board_after": "P14D", "working_days": "no"}.items() <= new.items()

    async def test_a_board_s_new_policy_is_saved_and_reaches_its_running_recommendation(
        self,
        env,
        start,
        browser,  # noqa: F811
        database_url,
    ):
        """The redirect's banner says what changed; the board and a registry change are written; the
        running recommendation's timeline says its policy changed; the page lists the change."""
        clock = await server_clock(env)
        day = clock().date()
        ref = "PAGES-POLICY"
        handle = await start(f.start(ref, actions=[f.action("A1", day + timedelta(days=5))], policy=EscalationPolicy()))
        await eventually(lambda: stored_row(database_url, ref))
        admin = await browser(ADMIN, clock=clock)

        saved = await submit(admin, BOARD_PAGE, {"board_after": "P10D"})
        assert saved.status_code == 303, text_of(saved)
        assert saved.headers["location"] == f"{BOARD_PAGE}?done=saved"
        page = await admin.client.get(saved.headers["location"])
        words = text_of(page)
        assert "Board saved: board_after P14D → P10D." in words
        assert "take the new policy from each next deadline" in words
        assert "could not tell the running recommendations" not in words
        assert 'value="P10D"' in page.text
        assert "Ada Admin" in re.search(r'(?s)id="change-list".*?</table>', page.text).group(0)
        with session_scope(database_url) as session:
            assert "P10D" == session.exec(select(Board)).one().board_after
        assert [(ADMIN, "Review Board", "board", "board_after P14D → P10D")] == changes(database_url)

        async def told() -> str:
            status = await recommendation_status(env.client, ref)
            return next((e.detail for e in status.timeline if e.kind == "policy_changed"), "")

        assert "board after P14D → P10D" in await eventually_async(told)

        unchanged = await submit(admin, BOARD_PAGE, {})
        assert unchanged.headers["location"] == f"{BOARD_PAGE}?done=nothing"
        assert "Nothing changed" in text_of(await admin.client.get(unchanged.headers["location"]))
        assert 1 == len(changes(database_url))
        await decide(handle, "acknowledge", AcknowledgeInput(by=f.OWNER, action_id="A1"))

    @pytest.mark.parametrize(
        ("page", "typed", "target", "reason"),
        [
            (OWNER_PAGE, {"roles": "owner, board_sponsor:Nowhere Board"}, "person-roles",
             "Unknown board 'Nowhere Board'"),
            (ASSURANCE_PAGE, {"roles": "owner"}, "person-roles", "Nobody has the role assurance_member"),
            (BOARD_PAGE, {"board_after": "P60D"}, "board-board_after", "The board_after must be shorter than assurance_after"),
            (BOARD_PAGE, {"acknowledge_within": "a fortnight"}, "board-acknowledge_within", "'a fortnight' is not an ISO-8601 duration"),
            (AGENCY_PAGE, {"safeguarding_lead_email": "not an address"}, "agency-safeguarding_lead_email", "address"),
        ],
    )  # fmt: skip
    async def test_a_refused_edit_is_shown_at_its_field_and_writes_nothing(
        self,
        env,
        browser,  # noqa: F811
        database_url,
        page,
        typed,
        target,
        reason,
    ):
        clock = await server_clock(env)
        admin = await browser(ADMIN, clock=clock)
        before = registry_now(database_url)
        refused = await submit(admin, page, typed)
        assert refused.status_code == 400
        assert "<title>Error: " in refused.text
        assert [f"#{target}"] == error_links(refused.text)
        assert reason in field_error(refused.text, target)
        [(name, value)] = typed.items()
        assert value == form_of(refused.text)[name]  # what was typed is kept
        assert before == registry_now(database_url) and [] == changes(database_url)

    async def test_an_admin_adds_an_agency_and_the_same_name_again_is_refused(
        self,
        env,
        browser,  # noqa: F811
        database_url,
    ):
        clock = await server_clock(env)
        admin = await browser(ADMIN, clock=clock)
        added = await submit(admin, NEW_AGENCY, {"name": "Milton Keynes Council", "short_name": "MKC"})
        assert added.status_code == 303, text_of(added)
        assert added.headers["location"] == "/dashboard/registry/agencies/Milton%20Keynes%20Council?done=added"
        words = text_of(await admin.client.get(added.headers["location"]))
        assert "Agency added: short_name (none) → MKC." in words
        with session_scope(database_url) as session:
            agency = session.exec(select(Agency).where(Agency.name == "Milton Keynes Council")).one()
            assert "MKC" == agency.short_name
        assert [(ADMIN, "Milton Keynes Council", "agency", "short_name (none) → MKC")] == changes(database_url)
        assert "Milton Keynes Council" in text_of(await admin.client.get(LIST))

        again = await submit(admin, NEW_AGENCY, {"name": "milton keynes council", "short_name": "MK"})
        assert again.status_code == 400 and ["#agency-name"] == error_links(again.text)
        assert "registered already" in field_error(again.text, "agency-name")
        unnamed = await submit(admin, NEW_AGENCY, {"name": "", "short_name": "X"})
        assert unnamed.status_code == 400 and ["#agency-name"] == error_links(unnamed.text)
        assert 1 == len(changes(database_url))

    async def test_a_change_temporal_did_not_hear_of_stands_and_the_banner_says_when_it_arrives(
        self,
        env,
        browser,  # noqa: F811
        database_url,
        monkeypatch,
    ):
        async def unreachable(*args, **kwargs):
            raise RuntimeError("Temporal is out of reach")

        monkeypatch.setattr("web.people_pages.registry_changed", unreachable)
        clock = await server_clock(env)
        admin = await browser(ADMIN, clock=clock)
        saved = await submit(admin, AGENCY_PAGE, {"short_name": "TVP"})
        assert saved.status_code == 303 and saved.headers["location"] == f"{AGENCY_PAGE}?done=saved&late=1"
        words = text_of(await admin.client.get(saved.headers["location"]))
        assert "Agency saved: short_name (none) → TVP." in words
        assert "they will learn of it with the next change to the registry" in words
        assert [(ADMIN, f.POLICE, "agency", "short_name (none) → TVP")] == changes(database_url)
