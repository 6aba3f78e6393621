"""People on the dashboard, through FastAPI's client on the time-skipping server: a person's absence
page (they, their agency's lead and an admin see and change it; anyone else gets the not-found
page), its forms (CSRF required, every refusal located at its field with what was typed kept, an
accepted deputy or absence reaching a running recommendation, an absence nobody covers told to the
agency's lead, a cancelled one taken back), and the leaver page, which records the leaving, starts
the hand-over and shows its progress to the end (and resumes it when recorded again)."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from gateway.people import hand_over_id, hand_over_progress
from gateway.workflows import reader_status, recommendation_status
from models.wording import LONDON, uk_date
from store.db import session_scope
from store.people import person_record
from store.read_model import board_context, caught_mail, upsert_registry
from store.tables import Agency, Board, Person
from tests import factories as f
from tests.helpers import eventually, server_clock, stored_row
from tests.web.test_dashboard import browser  # noqa: F401 (a fixture, using this module's registry)
from tests.web_client import Dashboard, csrf_of, date_fields, text_of

ADMIN = "registry.admin@mk.example"
NOBODY = "nobody@nowhere.example.org"
OWNER_PAGE = f"/dashboard/people/{f.OWNER}"
POLICE_PAGE = f"/dashboard/people/{f.OWNER_2}"


@pytest.fixture
def registry(database_url) -> None:
    seed_people(database_url)


def seed_people(database_url: str) -> None:
    """The factories' partnership, with agencies: the named nurse, their colleague (the deputy) and
    the performance lead at the ICB; the DI at the police; each agency's lead; an admin."""
    with session_scope(database_url) as session:
        upsert_registry(
            session=session,
            agencies=[
                Agency(name=f.ICB, safeguarding_lead_email=f.ICB_LEAD),
                Agency(name=f.POLICE, safeguarding_lead_email=f.POLICE_LEAD),
            ],
            people=[
                Person(email=f.SPONSOR, name="Rita Sponsor", roles="board_sponsor:Review Board"),
                Person(email=f.CHAIR, name="Cal Chair", roles="board_chair:Review Board"),
                Person(email=f.ASSURANCE, name="Sam Scrutineer", roles="assurance_member"),
                Person(email=f.AUDITOR, name="Ade Auditor", roles="auditor"),
                Person(email=f.OWNER, name="Nia Nurse", roles="owner", agency=f.ICB),
                Person(email=f.NEW_OWNER, name="Dee Deputy", roles="owner", agency=f.ICB),
                Person(email=f.REPORTER, name="Pip Reporter", roles="owner", agency=f.ICB),
                Person(email=f.OWNER_2, name="Pat Officer", roles="owner", agency=f.POLICE),
                Person(email=f.ICB_LEAD, name="Ines Lead", roles="agency_lead", agency=f.ICB),
                Person(email=f.POLICE_LEAD, name="Paul Lead", roles="agency_lead", agency=f.POLICE),
                Person(email=ADMIN, name="Ada Admin", roles="admin"),
            ],
            boards=[Board(name="Review Board", sponsor_email=f.SPONSOR, chair_email=f.CHAIR)],
        )


async def post(person: Dashboard, page: str, action: str, fields: dict[str, str]):
    """Post one of ``page``'s forms, with the CSRF token the page gave."""
    shown = await person.client.get(page)
    assert shown.status_code == 200, text_of(shown)
    return await person.client.post(f"{page}{action}", data={"csrf_token": csrf_of(shown.text), **fields})


def absence_fields(first: date, last: date, deputy: str = "") -> dict[str, str]:
    return {**date_fields("first_day", first), **date_fields("last_day", last), "deputy": deputy}


def error_links(html: str) -> list[str]:
    """Where each link of the error summary points."""
    summary = re.search(r'(?s)<div class="govuk-error-summary".*?</ul>', html)
    assert summary, "the page has no error summary"
    return re.findall(r'href="(#[^"]+)"', summary.group(0))


def absences_of(database_url: str, person: str, day: date) -> list[tuple[date, date, str]]:
    with session_scope(database_url) as session:
        return [(a.first_day, a.last_day, a.deputy) for a in person_record(session, person, day).absences]


class TestWhoMaySee:
    async def test_the_person_their_agency_lead_and_an_admin_see_the_absence_page_and_no_one_else(
        self,
        env,
        browser,  # noqa: F811
        database_url,
    ):
        """Three may read it (not cached); another agency's lead, a colleague, a board sponsor and an
        unknown address get the not-found page, and their posts change nothing."""
        clock = await server_clock(env)
        for who in (f.OWNER, f.ICB_LEAD, ADMIN):
            page = await (await browser(who, clock=clock)).client.get(OWNER_PAGE)
            assert page.status_code == 200, who
            assert "no-store" in page.headers["cache-control"]
            words = text_of(page)
            assert f.ICB in words and "Action owner" in words and "Record an absence" in words
        own = text_of(await (await browser(f.OWNER, clock=clock)).client.get(OWNER_PAGE))
        assert "Your absences and deputy" in own and "Your deputy" in own
        lead = text_of(await (await browser(f.ICB_LEAD, clock=clock)).client.get(OWNER_PAGE))
        assert "Nia Nurse: absences and deputy" in lead and "Record that Nia Nurse has left" in lead

        for who in (f.POLICE_LEAD, f.NEW_OWNER, f.SPONSOR):
            stranger = await browser(who, clock=clock)
            page = await stranger.client.get(OWNER_PAGE)
            assert page.status_code == 404 and "Page not found" in text_of(page), who
            csrf = csrf_of((await stranger.client.get("/dashboard")).text)
            posted = await stranger.client.post(f"{OWNER_PAGE}/deputy", data={"csrf_token": csrf, "deputy": who})
            assert posted.status_code == 404, who
        admin = await browser(ADMIN, clock=clock)
        assert 404 == (await admin.client.get(f"/dashboard/people/{NOBODY}")).status_code
        with session_scope(database_url) as session:
            assert "" == person_record(session, f.OWNER, clock().date()).deputy

    async def test_your_absences_is_in_the_navigation_and_leads_to_your_own_page(self, env, browser):  # noqa: F811
        clock = await server_clock(env)
        nurse = await browser(f.OWNER, clock=clock)
        overview = await nurse.client.get("/dashboard")
        assert 'href="/dashboard/me"' in overview.text and "Your absences and deputy" in text_of(overview)
        mine = await nurse.client.get("/dashboard/me")
        assert mine.status_code == 303 and mine.headers["location"] == OWNER_PAGE
        nobody = await browser(None, clock=clock)
        for path in ("/dashboard/me", OWNER_PAGE, f"{OWNER_PAGE}/leaving", f"/dashboard/hand-overs/{f.OWNER}"):
            answer = await nobody.client.get(path)
            assert answer.status_code == 303 and answer.headers["location"] == "/sign-in", path

    async def test_only_the_agency_lead_and_an_admin_open_the_leaver_page(self, env, browser):  # noqa: F811
        """The person themselves, a colleague and another agency's lead get the not-found page there,
        and on the hand-over's page; the lead and an admin get the form."""
        clock = await server_clock(env)
        for who in (f.ICB_LEAD, ADMIN):
            page = await (await browser(who, clock=clock)).client.get(f"{OWNER_PAGE}/leaving")
            assert page.status_code == 200 and "I understand their links stop working" in text_of(page), who
        for who in (f.OWNER, f.NEW_OWNER, f.POLICE_LEAD):
            person = await browser(who, clock=clock)
            assert 404 == (await person.client.get(f"{OWNER_PAGE}/leaving")).status_code, who
            assert 404 == (await person.client.get(f"/dashboard/hand-overs/{f.OWNER}")).status_code, who
            csrf = csrf_of((await person.client.get("/dashboard")).text)
            posted = await person.client.post(
                f"{OWNER_PAGE}/leaving", data={"csrf_token": csrf, "successor": f.NEW_OWNER, "confirmed": "yes"}
            )
            assert 404 == posted.status_code, who
        nurse = await browser(f.OWNER, clock=clock)
        assert "Record that" not in text_of(await nurse.client.get(OWNER_PAGE))  # her own page: no such link
        # No hand-over was ever started for them: the lead gets the not-found page too.
        lead = await browser(f.ICB_LEAD, clock=clock)
        assert 404 == (await lead.client.get(f"/dashboard/hand-overs/{f.OWNER}")).status_code


class TestTheForms:
    async def test_a_post_without_the_page_s_token_is_refused_and_changes_nothing(
        self,
        env,
        browser,  # noqa: F811
        database_url,
    ):
        clock = await server_clock(env)
        nurse = await browser(f.OWNER, clock=clock)
        for token in ("", "forged-token"):
            posted = await nurse.client.post(f"{OWNER_PAGE}/deputy", data={"csrf_token": token, "deputy": f.NEW_OWNER})
            assert posted.status_code == 403
        day = clock().astimezone(LONDON).date()
        posted = await nurse.client.post(f"{OWNER_PAGE}/absences", data=absence_fields(day, day + timedelta(days=3)))
        assert posted.status_code == 403
        with session_scope(database_url) as session:
            record = person_record(session, f.OWNER, day)
        assert "" == record.deputy and [] == record.absences and [] == record.changes

    async def test_refusals_are_shown_at_their_fields_with_what_was_typed_kept(
        self,
        env,
        browser,  # noqa: F811
        database_url,
    ):
        """Days in the wrong order, a deputy of another agency, a day missing: each 400, with the error
        summary linking to the field, the field's own message, and the boxes filled as they were sent."""
        clock = await server_clock(env)
        day = clock().astimezone(LONDON).date()
        nurse = await browser(f.OWNER, clock=clock)

        refused = await post(
            nurse, OWNER_PAGE, "/absences", absence_fields(day + timedelta(days=9), day + timedelta(days=2))
        )
        assert refused.status_code == 400
        assert "<title>Error: " in refused.text
        assert ["#absence-last_day-day"] == error_links(refused.text)
        words = text_of(refused)
        assert f"The last day, {uk_date(day + timedelta(days=2))}, is before the first day" in words
        assert f'value="{(day + timedelta(days=9)).day}"' in refused.text  # the first day's boxes kept
        assert f'value="{(day + timedelta(days=2)).year}"' in refused.text

        refused = await post(nurse, OWNER_PAGE, "/absences", absence_fields(day, day + timedelta(days=2), f.OWNER_2))
        assert refused.status_code == 400 and ["#absence-deputy"] == error_links(refused.text)
        assert f"registered with {f.POLICE}, not {f.ICB}" in text_of(refused)

        missing = absence_fields(day, day)
        missing["last_day-month"] = ""
        refused = await post(nurse, OWNER_PAGE, "/absences", missing)
        assert refused.status_code == 400 and ["#absence-last_day-day"] == error_links(refused.text)
        assert "The last day away must include a month" in text_of(refused)

        refused = await post(nurse, OWNER_PAGE, "/deputy", {"deputy": f.OWNER_2})
        assert refused.status_code == 400 and ["#deputy-deputy"] == error_links(refused.text)
        assert "a deputy is someone of the same agency" in text_of(refused)
        refused = await post(nurse, OWNER_PAGE, "/absences/999999/cancel", {})
        assert refused.status_code == 400 and ["#absences"] == error_links(refused.text)
        assert [] == absences_of(database_url, f.OWNER, day)

    async def test_a_deputy_and_an_absence_reach_the_running_recommendation_and_a_cancel_takes_it_back(
        self,
        env,
        start,
        browser,  # noqa: F811
        database_url,
    ):
        """The nurse names her colleague as standing deputy and records a week away from today: the
        banner says who covers it, the board's parties hold the absence, and the running
        recommendation lets the deputy act as owner; cancelled, the deputy no longer may."""
        clock = await server_clock(env)
        day = clock().astimezone(LONDON).date()
        ref = "PEOPLE-AWAY"
        await start(f.start(ref, actions=[f.action("A1", day + timedelta(days=40))]))
        await eventually(lambda: stored_row(database_url, ref))
        nurse = await browser(f.OWNER, clock=clock)

        named = await post(nurse, OWNER_PAGE, "/deputy", {"deputy": f.NEW_OWNER})
        assert named.status_code == 303 and named.headers["location"] == f"{OWNER_PAGE}?done=deputy"
        page = await nurse.client.get(named.headers["location"])
        assert f"Standing deputy saved: Dee Deputy ({f.NEW_OWNER}) covers your absences." in text_of(page)

        recorded = await post(nurse, OWNER_PAGE, "/absences", absence_fields(day, day + timedelta(days=7)))
        assert recorded.status_code == 303, text_of(recorded)
        page = await nurse.client.get(recorded.headers["location"])
        words = text_of(page)
        assert (
            f"Absence recorded: away from {uk_date(day)} to {uk_date(day + timedelta(days=7))}, "
            f"covered by your standing deputy, Dee Deputy ({f.NEW_OWNER})."
        ) in words
        assert "Away now" in words and "Cancel the absence from" in words
        with session_scope(database_url) as session:
            _, parties = board_context(session=session, board_name="Review Board")
        assert [(f.OWNER, f.NEW_OWNER, "deputy")] == [(a.person, a.deputy, a.cover) for a in parties.absences]
        status = await recommendation_status(env.client, ref)
        assert f.OWNER == status.actions[0].owner
        assert "owner" in (await reader_status(env.client, ref, f.NEW_OWNER)).roles  # acting for the nurse

        [absence_id] = re.findall(r'action="/dashboard/people/[^"]+/absences/(\d+)/cancel"', page.text)
        lead = await browser(f.ICB_LEAD, clock=clock)  # her lead cancels it for her
        cancelled = await post(lead, OWNER_PAGE, f"/absences/{absence_id}/cancel", {})
        assert cancelled.status_code == 303
        page = await lead.client.get(cancelled.headers["location"])
        assert "Absence cancelled: their mail comes to them again on those days." in text_of(page)
        assert "No absence is recorded" in text_of(page)
        assert [] == absences_of(database_url, f.OWNER, day)
        assert "owner" not in (await reader_status(env.client, ref, f.NEW_OWNER)).roles
        changes = text_of(page)
        assert "Cancelled: away from" in changes and f"Standing deputy {f.NEW_OWNER}" in changes

    async def test_an_absence_nobody_covers_tells_the_agency_lead(self, env, browser, database_url):  # noqa: F811
        """The DI has no deputy: the banner says their agency's lead covers, and the lead is told once."""
        clock = await server_clock(env)
        day = clock().astimezone(LONDON).date()
        officer = await browser(f.OWNER_2, clock=clock)
        recorded = await post(
            officer, POLICE_PAGE, "/absences", absence_fields(day + timedelta(days=3), day + timedelta(days=5))
        )
        assert recorded.status_code == 303, text_of(recorded)
        words = text_of(await officer.client.get(recorded.headers["location"]))
        assert f"covered by your agency's safeguarding lead, Paul Lead ({f.POLICE_LEAD})." in words
        assert "To come" in words

        def told() -> list:
            with session_scope(database_url) as session:
                return [m for m in caught_mail(session=session, recipient=f.POLICE_LEAD) if "no deputy" in m.raw]

        assert 1 == len(await eventually(told))


class TestTheLeaverPage:
    async def test_the_lead_records_a_leaver_and_follows_the_hand_over_to_its_end(
        self,
        env,
        start,
        browser,  # noqa: F811
        database_url,
    ):
        """The form lists the nurse's colleagues first and wants the box ticked; then the hand-over
        runs, and its page shows every part that moved and that the successor was emailed once.
        Recorded again with the same successor it resumes; with another it is refused."""
        clock = await server_clock(env)
        day = clock().astimezone(LONDON).date()
        ref = "PEOPLE-LEFT"
        await start(f.start(ref, actions=f.two_actions(day + timedelta(days=30))))
        await eventually(lambda: stored_row(database_url, ref))
        lead = await browser(f.ICB_LEAD, clock=clock)
        page = await lead.client.get(f"{OWNER_PAGE}/leaving")
        options = re.findall(r'<option value="([^"]*)"', page.text)
        assert "" == options[0] and f.OWNER not in options
        assert options.index(f.NEW_OWNER) < options.index(f.OWNER_2)  # their agency's people first

        refused = await post(lead, OWNER_PAGE, "/leaving", {"successor": f.NEW_OWNER})
        assert refused.status_code == 400 and ["#leaving-confirmed"] == error_links(refused.text)
        assert "Confirm that you understand their links stop working" in text_of(refused)
        assert f'<option value="{f.NEW_OWNER}" selected>' in refused.text  # the choice kept
        refused = await post(lead, OWNER_PAGE, "/leaving", {"successor": NOBODY, "confirmed": "yes"})
        assert refused.status_code == 400 and ["#leaving-successor"] == error_links(refused.text)
        assert f"No one with the address {NOBODY} is in the registry" in text_of(refused)

        recorded = await post(lead, OWNER_PAGE, "/leaving", {"successor": f.NEW_OWNER, "confirmed": "yes"})
        assert recorded.status_code == 303 and recorded.headers["location"] == f"/dashboard/hand-overs/{f.OWNER}"
        finished = await hand_over_progress(env.client, hand_over_id(f.OWNER), wait=True)
        assert finished.finished and [ref] == [m.ref for m in finished.moved]
        page = await lead.client.get(recorded.headers["location"])
        words = text_of(page)
        assert page.status_code == 200 and "no-store" in page.headers["cache-control"]
        assert "Hand-over finished" in words and "1 recommendation passed to Dee Deputy" in words
        assert "Running recommendations asked 1 of 1" in words
        assert f'href="/dashboard/r/{ref}"' in page.text and "Action A1" in words
        assert f"Dee Deputy ({f.NEW_OWNER}) was emailed once" in words
        status = await recommendation_status(env.client, ref)
        assert f.NEW_OWNER == next(a for a in status.actions if a.action_id == "A1").owner
        assert f.OWNER_2 == next(a for a in status.actions if a.action_id == "A2").owner

        person = text_of(await lead.client.get(OWNER_PAGE))
        assert f"Nia Nurse left on {uk_date(day)}, handing over to Dee Deputy" in person
        assert "Record an absence" not in person

        again = await post(lead, OWNER_PAGE, "/leaving", {"successor": f.NEW_OWNER, "confirmed": "yes"})
        assert again.status_code == 303 and again.headers["location"] == f"/dashboard/hand-overs/{f.OWNER}"
        resumed = await hand_over_progress(env.client, hand_over_id(f.OWNER), wait=True)
        assert resumed.finished and [] == resumed.moved
        assert "No running recommendation had a part" in text_of(await lead.client.get(again.headers["location"]))
        other = await post(lead, OWNER_PAGE, "/leaving", {"successor": f.REPORTER, "confirmed": "yes"})
        assert other.status_code == 400 and ["#leaving-successor"] == error_links(other.text)
        assert "successor cannot be changed here" in text_of(other)

        def summaries() -> list:
            with session_scope(database_url) as session:
                return [m for m in caught_mail(session=session, recipient=f.NEW_OWNER) if "has left" in m.raw]

        assert 1 == len(await eventually(summaries))
