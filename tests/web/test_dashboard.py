"""The dashboard through FastAPI's client on the time-skipping server: sign-in by an emailed
one-time link, the session cookie, who sees what, the overview's lists and charts, and a
recommendation's page with its timeline and forms (sign-off refused, then taken; audits)."""

from __future__ import annotations

import email
import io
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from email.policy import default as default_policy

import httpx
import itsdangerous.timed
import pytest
import pytest_asyncio
from fastapi import FastAPI

from gateway.workflows import recommendation_status
from models.payloads import ImportedReading, RecommendationInput, Stage, SubmitPlansInput
from store.db import session_scope
from store.overview import end_of_month
from store.read_model import caught_mail, upsert_registry
from store.sessions import COOKIE_NAME, SignInLinks
from store.tables import Agency, Board, Person
from tests import factories as f
from tests.helpers import TEST_SECRET_KEY, decide, eventually, server_clock, stored_row, today
from tests.web_client import SIGN_IN_LINK, Dashboard, csrf_of, date_fields, text_of
from web.app import create_app
from web.context import utc_now

PEOPLE = {
    f.ASSURANCE: ("Sam Scrutineer", "assurance_member"),
    f.SPONSOR: ("Rita Sponsor", "board_sponsor:Review Board"),
    f.OWNER: ("Nia Nurse", "owner"),
    f.OWNER_2: ("Pat Officer", "owner"),
    f.AUDITOR: ("Ade Auditor", "auditor"),
    "other.sponsor@mk.example": ("Olu Other", "board_sponsor:Adults Board"),
}


# What the audit form sends when its audit is recorded before the planned date (every audit in
# these tests is: the plans date it months ahead).
EARLY = {"early_asked": "1", "early_confirmed": "yes", "early_reason": "Brought forward for the board"}


@pytest.fixture
def registry(database_url) -> None:
    with session_scope(database_url) as session:
        upsert_registry(
            session=session,
            # Each with the safeguarding lead who confirms its cascade after sign-off.
            agencies=[
                Agency(name=f.ICB, safeguarding_lead_email=f.ICB_LEAD),
                Agency(name=f.POLICE, safeguarding_lead_email=f.POLICE_LEAD),
            ],
            people=[
                *(Person(email=e, name=name, roles=roles) for e, (name, roles) in PEOPLE.items()),
                Person(email=f.ICB_LEAD, name="Ines Lead", roles="agency_lead", agency=f.ICB),
                Person(email=f.POLICE_LEAD, name="Paul Lead", roles="agency_lead", agency=f.POLICE),
            ],
            boards=[Board(name="Review Board", sponsor_email=f.SPONSOR), Board(name="Adults Board")],
        )


@pytest_asyncio.fixture
async def browser(env, settings, registry, worker):
    """``await browser(email)``: a new browser signed in as ``email`` through the emailed link."""
    # Every browser here comes from one address; the per-client limit has its own test.
    quiet = settings.model_copy(update={"rate_limit_sign_in": "1000/hour"})
    apps: dict[Callable[[], datetime], FastAPI] = {}
    clients: list[httpx.AsyncClient] = []

    def fresh(clock: Callable[[], datetime]) -> Dashboard:
        app = apps.setdefault(clock, create_app(quiet, client=env.client, clock=clock))
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=settings.base_url)
        clients.append(client)
        return Dashboard(client)

    async def signed_in_as(who: str | None, *, clock: Callable[[], datetime] = utc_now) -> Dashboard:
        """Signed in on an app whose clock is ``clock`` (by default the wall clock)."""
        person = fresh(clock)
        if who is not None:
            link = await emailed_link(env, settings.database_url, person, who)
            response = await person.use_link(link)
            assert response.status_code == 303 and response.headers["location"] == "/dashboard", text_of(response)
        return person

    yield signed_in_as
    for client in clients:
        await client.aclose()


def sign_in_mail(database_url: str, recipient: str) -> list[email.message.EmailMessage]:
    with session_scope(database_url) as session:
        raws = [row.raw for row in caught_mail(session=session, recipient=recipient)]
    messages = [email.message_from_string(raw, policy=default_policy) for raw in raws]
    return [m for m in messages if "sign in to Assure" in str(m["Subject"])]


async def emailed_link(env, database_url: str, person: Dashboard, who: str) -> str:
    before = len(sign_in_mail(database_url, who))
    sent = await person.ask_for_link(who)
    assert sent.status_code == 200 and "Check your email" in text_of(sent)
    messages = await eventually(lambda: (m := sign_in_mail(database_url, who)) and len(m) > before and m)
    text = messages[-1].get_body(preferencelist=("plain",)).get_content()
    found = SIGN_IN_LINK.search(text)
    assert found, text
    link = found.group(0)
    # The mail is caught a moment before its workflow ends: wait for the end, so that no sign-in
    # workflow outlives this test's worker and holds the shared time-skipping clock.
    nonce = SignInLinks(TEST_SECRET_KEY).read(link.rsplit("/", 1)[1]).nonce
    await env.client.get_workflow_handle(f"sign-in-{nonce}").result()
    return link


async def at_sign_off(env, start, ref: str, *, credible: bool, owner: str = f.OWNER):
    day = await today(env)
    handle = await start(f.start(ref, actions=[f.action("A1", day + timedelta(days=30), owner=owner)]))
    await decide(handle, "complete_action", {"by": owner, "action_id": "A1", "evidence": "Briefings held"})
    dissemination, audit = f.credible_plans(day)
    if not credible:
        dissemination = dissemination.model_copy(update={"channels": []})
    await decide(handle, "submit_plans", SubmitPlansInput(by=owner, dissemination=dissemination, audit=audit))
    return handle


# --- signing in -----------------------------------------------------------------------------


async def test_a_registered_person_signs_in_once_with_the_emailed_link(env, browser, database_url):
    person = await browser(None)
    link = await emailed_link(env, database_url, person, f.ASSURANCE.upper())  # typed in capitals: still them
    path = "/" + link.split("/", 3)[3]

    # Opening the link (as a mail scanner would) signs nobody in and uses nothing.
    for _ in range(2):
        opened = await person.client.get(path)
        assert opened.status_code == 200 and "You are signing in as scrutineer@mk.example" in text_of(opened)
        assert COOKIE_NAME not in person.client.cookies
    signed = await person.use_link(link)
    assert signed.status_code == 303
    cookie = signed.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=")
    assert all(flag in cookie.lower() for flag in ("httponly", "samesite=lax", "secure", "path=/"))
    overview = await person.client.get("/dashboard")
    assert overview.status_code == 200 and "Signed in as Sam Scrutineer" in text_of(overview)

    # The link works once, for anyone.
    again = await (await browser(None)).use_link(link)
    assert again.status_code == 403 and "has been used already" in text_of(again)


async def test_an_unknown_address_gets_the_same_answer_and_no_email(browser, database_url):
    person = await browser(None)
    answer = await person.ask_for_link(f.STRANGER)
    assert answer.status_code == 200 and "Check your email" in text_of(answer)
    with session_scope(database_url) as session:
        assert caught_mail(session=session, recipient=f.STRANGER) == []


async def test_a_bad_address_is_shown_again_with_the_reason(browser):
    person = await browser(None)
    page = await person.client.get("/sign-in")
    answer = await person.client.post("/sign-in", data={"csrf_token": csrf_of(page.text), "email": "not an address"})
    assert answer.status_code == 422
    words = text_of(answer)
    assert "There is a problem" in words and "Enter an email address like name@agency.org.uk" in words
    assert 'value="not an address"' in answer.text


async def test_forged_expired_and_cross_site_sign_ins_are_refused(browser, monkeypatch):
    person = await browser(None)
    forged = await person.client.get("/sign-in/not-a-real-token")
    assert forged.status_code == 403 and "not complete or has been changed" in text_of(forged)

    half_an_hour_ago = int(itsdangerous.timed.time.time()) - 31 * 60
    with monkeypatch.context() as patched:
        patched.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", lambda self: half_an_hour_ago)
        stale = SignInLinks(TEST_SECRET_KEY).sign(f.ASSURANCE, "nonce-1")
    expired = await person.client.get(f"/sign-in/{stale}")
    assert expired.status_code == 410 and "has expired" in text_of(expired)

    token = SignInLinks(TEST_SECRET_KEY).sign(f.ASSURANCE, "nonce-2")
    page = await person.client.get(f"/sign-in/{token}")
    cross_site = await person.client.post(
        f"/sign-in/{token}", data={"csrf_token": csrf_of(page.text)}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert cross_site.status_code == 403 and COOKIE_NAME not in person.client.cookies
    no_token = await person.client.post(f"/sign-in/{token}", data={})
    assert no_token.status_code == 403 and COOKIE_NAME not in person.client.cookies


async def test_no_session_forged_cookie_and_signed_out_session_all_go_to_sign_in(browser):
    nobody = await browser(None)
    for path in ("/dashboard", "/dashboard/recommendations", "/dashboard/r/ANY"):
        response = await nobody.client.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/sign-in", path
    nobody.client.cookies.set(COOKIE_NAME, "forged.value", domain="assure.mktogether.example")
    assert (await nobody.client.get("/dashboard")).status_code == 303

    member = await browser(f.ASSURANCE)
    cookie = member.client.cookies[COOKIE_NAME]
    out = await member.post("/sign-out", {})
    assert out.status_code == 303 and out.headers["location"] == "/sign-in?signed_out=1"
    # The old cookie, replayed, is dead: the session was ended in the store, not just forgotten.
    replay = await browser(None)
    replay.client.cookies.set(COOKIE_NAME, cookie, domain="assure.mktogether.example")
    assert (await replay.client.get("/dashboard")).status_code == 303


# --- who sees what --------------------------------------------------------------------------


async def test_each_person_sees_what_their_roles_allow(env, start, browser, database_url):
    day = await today(env)
    await start(f.start("DASH-1", actions=f.two_actions(day + timedelta(days=30))))
    await start(f.start("DASH-2", actions=[f.action("B1", day + timedelta(days=30), owner=f.OWNER_2, agency=f.POLICE)]))
    await eventually(lambda: stored_row(database_url, "DASH-1") and stored_row(database_url, "DASH-2"))

    async def listed(who: str) -> set[str]:
        page = await (await browser(who)).client.get("/dashboard/recommendations")
        assert page.status_code == 200
        return set(re.findall(r'href="/dashboard/r/(DASH-\d)"', page.text))

    assert await listed(f.ASSURANCE) == {"DASH-1", "DASH-2"}
    assert await listed(f.SPONSOR) == {"DASH-1", "DASH-2"}  # both are the Review Board's
    assert await listed("other.sponsor@mk.example") == set()
    assert await listed(f.OWNER) == {"DASH-1"}

    other = await browser("other.sponsor@mk.example")
    hidden = await other.client.get("/dashboard/r/DASH-1")
    assert hidden.status_code == 404  # the same answer as for a ref that does not exist
    assert (await other.client.get("/dashboard/r/NO-SUCH-REF")).status_code == 404
    posted = await other.client.post("/dashboard/r/DASH-1/withdraw", data={"reason": "x"})
    assert posted.status_code == 403  # no CSRF token: refused before anything else
    owner_view = await (await browser(f.OWNER)).client.get("/dashboard/r/DASH-1")
    assert owner_view.status_code == 200 and "Your actions" in text_of(owner_view)


async def test_an_owner_cannot_sign_off_and_the_refusal_is_shown(env, start, browser):
    await at_sign_off(env, start, "DASH-OWN", credible=True)
    owner = await browser(f.OWNER)
    page = await owner.client.get("/dashboard/r/DASH-OWN")
    assert 'action="/dashboard/r/DASH-OWN/sign_off"' not in page.text  # no form offered
    refused = await owner.post("/dashboard/r/DASH-OWN/sign_off", {"note": ""})
    assert refused.status_code == 409
    assert "is not an Assurance Board member" in text_of(refused)
    assert (await recommendation_status(env.client, "DASH-OWN")).stage is Stage.sign_off


# --- the overview ---------------------------------------------------------------------------


async def test_the_overview_lists_what_needs_the_board_and_draws_the_counts(env, start, browser, database_url):
    day = await today(env)
    await at_sign_off(env, start, "DASH-SIGN", credible=True)
    await start(f.start("DASH-LATE", actions=[f.action("A1", day - timedelta(days=20))]))
    audited = await at_sign_off(env, start, "DASH-AUDIT", credible=True)
    await decide(audited, "sign_off", {"by": f.ASSURANCE})
    failed = await at_sign_off(env, start, "DASH-FAIL", credible=True)
    await decide(failed, "sign_off", {"by": f.ASSURANCE})
    await decide(
        failed,
        "record_audit",
        {
            "by": f.AUDITOR,
            "outcome": "not_embedded",
            "findings": "Meetings held in 4 of 20 cases",
            "early_reason": "Brought forward for the board",
            "re_audit_on": (day + timedelta(days=5)).isoformat(),
            "remedial_actions": [f.action("R1", day + timedelta(days=4)).model_dump(mode="json")],
        },
    )
    await eventually(
        lambda: (
            all(
                (row := stored_row(database_url, ref)) is not None and row.stage == stage
                for ref, stage in (("DASH-SIGN", "sign_off"), ("DASH-AUDIT", "cascade"), ("DASH-FAIL", "re_audit"))
            )
            and stored_row(database_url, "DASH-LATE").overdue
        )
    )

    page = await (await browser(f.ASSURANCE)).client.get("/dashboard")
    assert page.status_code == 200

    def section(list_id: str) -> set[str]:
        """The refs a list links to; an empty list is a heading with nothing under it."""
        found = re.search(rf'(?s)<table class="govuk-table[^"]*" id="{list_id}">(.*?)</table>', page.text)
        if found is None:
            assert f'<h3 class="govuk-heading-m" id="{list_id}">' in page.text, list_id
            return set()
        return set(re.findall(r'href="/dashboard/r/([A-Z-]+)"', found.group(1)))

    assert section("awaiting-sign-off") == {"DASH-SIGN"}
    assert section("overdue-escalated") == {"DASH-LATE"}
    assert section("failed-audits") == {"DASH-FAIL"}
    # DASH-AUDIT's audit is 180 days away; DASH-FAIL's re-audit is within five days.
    assert "DASH-AUDIT" not in section("audits-due")
    # The page lists what is due by the end of the web app's month (the wall clock), while the
    # re-audit was dated on the test server's clock, which earlier tests may have moved on.
    if day + timedelta(days=5) <= end_of_month(datetime.now(UTC).date()):
        assert "DASH-FAIL" in section("audits-due")
    words = text_of(page)
    assert "Not embedded (audit 1" in words
    svgs = re.findall(r"<svg\b[^>]*>", page.text)
    assert len(svgs) == 4 and all('role="img"' in svg for svg in svgs)
    assert "Review Board: " in page.text  # each chart describes itself for screen readers
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page.text)  # no inline script


async def test_the_overview_and_the_list_read_the_injected_clock(env, start, browser, database_url):
    """What is "due by the end of this month" is the app's clock's month: an audit planned six
    months ahead is listed as due on an app whose clock reads that month, and not two months before."""
    audited = await at_sign_off(env, start, "DASH-CLOCK", credible=True)
    await decide(audited, "sign_off", {"by": f.ASSURANCE})
    await eventually(lambda: (row := stored_row(database_url, "DASH-CLOCK")) is not None and row.stage == "cascade")
    audit_on = (await recommendation_status(env.client, "DASH-CLOCK")).audit_plan.audit_on
    that_month = datetime.combine(audit_on.replace(day=1), time(12), tzinfo=UTC)
    earlier = that_month - timedelta(days=62)

    async def due_on(moment: datetime) -> tuple[bool, bool]:
        member = await browser(f.ASSURANCE, clock=lambda: moment)
        overview = (await member.client.get("/dashboard")).text
        listed = re.search(r'(?s)<table class="govuk-table[^"]*" id="audits-due">(.*?)</table>', overview)
        month_list = (await member.client.get("/dashboard/recommendations?audit_due=month")).text
        return bool(listed and "DASH-CLOCK" in listed.group(1)), 'href="/dashboard/r/DASH-CLOCK"' in month_list

    assert (True, True) == await due_on(that_month)
    assert (False, False) == await due_on(earlier)


async def test_the_overview_lists_the_measures_off_track_the_reader_may_see(env, start, browser, database_url):
    """Past M1's target date (90%), 70% and a reading of 64.5% recorded later are off track, 95% is
    not: the Assurance Board sees both off track, furthest behind first, with units; an owner only
    their own; another board's sponsor none; the list links to the recommendations they are on."""
    day = await today(env)
    past_target = date(2024, 6, 1)

    def measured(ref: str, value: float | None, **options) -> RecommendationInput:
        begun = f.start(ref, actions=[f.action("A1", day + timedelta(days=30), **options)])
        readings = [ImportedReading(measure_id="M1", value=value, on=past_target)] if value is not None else []
        return begun.model_copy(update={"readings": readings})

    await start(measured("MEAS-OFF", 70))
    await start(measured("MEAS-ON", 95))
    later = await start(measured("MEAS-LATER", None, owner=f.OWNER_2, agency=f.POLICE))
    await eventually(lambda: stored_row(database_url, "MEAS-LATER") is not None)
    reading = {"by": f.REPORTER, "measure_id": "M1", "value": 64.5, "on": str(past_target), "note": "Q2"}
    await decide(later, "record_reading", reading)
    await eventually(
        lambda: all(
            (row := stored_row(database_url, ref)) is not None and row.measures_off_track == count
            for ref, count in (("MEAS-OFF", 1), ("MEAS-ON", 0), ("MEAS-LATER", 1))
        )
    )

    async def off_track(who: str) -> tuple[list[str], str]:
        page = (await (await browser(who)).client.get("/dashboard")).text
        found = re.search(r'(?s)<table class="govuk-table[^"]*" id="measures-off-track">(.*?)</table>', page)
        if found is None:
            assert '<h3 class="govuk-heading-m" id="measures-off-track">Impact measures off track (0)</h3>' in page
            return [], page
        return re.findall(r'href="/dashboard/r/([A-Z-]+)"', found.group(1)), found.group(1)

    refs, table = await off_track(f.ASSURANCE)
    assert ["MEAS-LATER", "MEAS-OFF"] == refs
    later_row, off_row = (" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in table.split("<tr ")[2:])
    assert "Qualifying cases with a professionals&#39; meeting held" in later_row
    assert "64.5% on 1 June 2024 90% 90% by 14 March 2024 performance.lead@icb.example" in later_row
    assert "70% on 1 June 2024 90% 90% by 14 March 2024" in off_row
    assert (["MEAS-OFF"], ["MEAS-LATER"]) == ((await off_track(f.OWNER))[0], (await off_track(f.OWNER_2))[0])
    nothing, page = await off_track("other.sponsor@mk.example")
    assert [] == nothing and "No impact measure is off track." in page

    listed = await (await browser(f.ASSURANCE)).client.get("/dashboard/recommendations?measures=off_track")
    assert {"MEAS-OFF", "MEAS-LATER"} == set(re.findall(r'href="/dashboard/r/(MEAS-[A-Z]+)"', listed.text))
    assert "2 recommendations (an impact measure off track)." in text_of(listed)


# --- a recommendation's page ----------------------------------------------------------------


async def test_sign_off_is_refused_with_the_gaps_then_taken_and_the_audit_recorded(env, start, browser):
    handle = await at_sign_off(env, start, "DASH-GO", credible=False)
    member = await browser(f.ASSURANCE)
    page = await member.client.get("/dashboard/r/DASH-GO")
    words = text_of(page)
    assert page.status_code == 200 and "Assurance Board sign-off" in words
    assert "Timeline" in words and "Email sent: a new task" in words and "to named.nurse@icb.example" in words
    assert "Action reported complete" in words and "Nia" not in words  # names come from the workflow's record

    refused = await member.post("/dashboard/r/DASH-GO/sign_off", {"note": "Looks right"})
    assert refused.status_code == 409
    words = text_of(refused)
    assert "cannot sign off yet, because the plans have gaps" in words and "channel" in words
    assert "Looks right" in refused.text  # what was typed is kept

    day = await today(env)
    dissemination, audit = f.credible_plans(day)
    await decide(handle, "submit_plans", SubmitPlansInput(by=f.OWNER, dissemination=dissemination, audit=audit))
    signed = await member.post("/dashboard/r/DASH-GO/sign_off", {"note": "Credible plans"})
    assert signed.status_code == 303 and signed.headers["location"] == "/dashboard/r/DASH-GO?done=sign_off"
    after = text_of(await member.client.get(signed.headers["location"]))
    assert "Signed off by the Assurance Board" in after and "Record the audit" in after

    # Not embedded needs remedial actions and a re-audit date: refused without them, field by field.
    bare = await member.post("/dashboard/r/DASH-GO/record_audit", {"outcome": "not_embedded", "findings": "4 of 20"})
    assert bare.status_code in (409, 422) and "There is a problem" in text_of(bare)
    audited = await member.post(
        "/dashboard/r/DASH-GO/record_audit", {"outcome": "embedded", "findings": "18 of 20 cases", "rows": "1", **EARLY}
    )
    assert audited.status_code == 303, text_of(audited)
    status = await recommendation_status(env.client, "DASH-GO")
    assert status.stage is Stage.assured and status.audits[-1].by == f.ASSURANCE


async def test_an_auditor_records_a_failed_audit_with_remedial_actions_from_the_page(env, start, browser):
    handle = await at_sign_off(env, start, "DASH-RE", credible=True)
    await decide(handle, "sign_off", {"by": f.ASSURANCE})
    day = await today(env)
    auditor = await browser(f.AUDITOR)
    fields = {
        "outcome": "partially_embedded",
        "findings": "Held in 11 of 20 cases",
        **EARLY,
        **date_fields("re_audit_on", day + timedelta(days=90)),
        "rows": "1",
        "actions-0-action_id": "R1",
        "actions-0-description": "Re-brief the health visiting teams",
        "actions-0-agency": f.ICB,
        "actions-0-owner": f.OWNER,
        "actions-0-success_measure": "Every team re-briefed",
        **date_fields("actions-0-due", day + timedelta(days=60)),
    }
    response = await auditor.post("/dashboard/r/DASH-RE/record_audit", fields)
    assert response.status_code == 303, text_of(response)
    status = await recommendation_status(env.client, "DASH-RE")
    assert status.stage is Stage.re_audit and [a.action_id for a in status.actions][-1] == "R1"


async def test_the_timeline_speaks_plain_words_in_london_time(env, start, browser):
    """The timeline says what happened in words (no ``stage:``, ``action:A1 (overdue)`` or ``imported``)
    and each time in London time, with GMT or BST; its table stacks on a phone rather than cutting off."""
    day = await today(env)
    await start(f.start("DASH-WORDS", actions=[f.action("A1", day - timedelta(days=20))]))
    member = await browser(f.ASSURANCE)
    page = await member.client.get("/dashboard/r/DASH-WORDS")
    assert page.status_code == 200
    table = re.search(r'(?s)<table class="[^"]*assure-stacked[^"]*" id="timeline-table">(.*?)</table>', page.text)
    assert table, "no stacked timeline table"
    rows = re.findall(r"(?s)<tbody.*?</tbody>", table.group(1))[0]
    words = " ".join(re.sub(r"<[^>]+>", " ", rows).split())
    assert "Escalated" in words or "Reminder sent to the owner" in words, words
    for internal in ("stage:", "action:", "(overdue)", "imported", "UTC", "escalation:", "_"):
        assert internal not in words.replace("named.nurse@icb.example", ""), (internal, words)
    assert re.search(r"\d{1,2} [A-Z][a-z]+ \d{4} \d{2}:\d{2} (GMT|BST)", words), words
    assert "Times are London time" in text_of(page)


# --- the annual report --------------------------------------------------------------------


async def test_the_annual_report_is_the_assurance_boards_to_download(env, browser, database_url):
    """The Assurance Board's member finds the annual report in the navigation, a year per row back
    to the record's first, and downloads it as Word; a sponsor has neither link nor page; a
    tampered year is refused on the page with the reason."""
    from docx import Document

    from models.payloads import SourceKind
    from models.reviews import Review
    from store.reviews import write_reviews

    now = await env.get_current_time()
    day = now.date()
    older = date(day.year - 2, 6, 1)
    with session_scope(database_url) as session:
        review = Review(review_ref="SAR-OLD", kind=SourceKind.sar, title="An older SAR", board="Review Board",
                        decided_on=older)  # fmt: skip
        write_reviews(session=session, reviews=[review], now=now)
    clock = await server_clock(env)  # the years run to the server's today, however far on it is
    member = await browser(f.ASSURANCE, clock=clock)
    overview = await member.client.get("/dashboard")
    assert 'href="/dashboard/reports/annual"' in overview.text
    page = await member.client.get("/dashboard/reports/annual")
    assert page.status_code == 200 and "no-store" in page.headers["cache-control"]
    labels = re.findall(r"annual/file\?year=(\d{4}-\d{2})&amp;format=docx", page.text)
    first = older.year if older.month >= 4 else older.year - 1
    assert labels[-1] == f"{first}-{(first + 1) % 100:02d}" and labels == sorted(labels, reverse=True)
    made = await member.client.get("/dashboard/reports/annual/file", params={"year": labels[-1], "format": "docx"})
    assert made.status_code == 200 and "attachment" in made.headers["content-disposition"]
    document = Document(io.BytesIO(made.content))
    assert any("Safeguarding adults reviews ongoing at" in p.text for p in document.paragraphs)
    assert any("SAR-OLD: An older SAR" == p.text for p in document.paragraphs)
    page_form = await member.client.get("/dashboard/reports/annual/file", params={"year": labels[0], "format": "html"})
    assert page_form.headers["content-disposition"].startswith("inline") and "<style>" in page_form.text
    assert "style-src 'unsafe-inline'" in page_form.headers["content-security-policy"]
    assert "script-src" not in page_form.headers["content-security-policy"]
    tampered = await member.client.get("/dashboard/reports/annual/file", params={"year": "2023/24"})
    assert tampered.status_code == 400 and "write it as 2023-24" in text_of(tampered)

    sponsor = await browser(f.SPONSOR, clock=clock)
    assert 'href="/dashboard/reports/annual"' not in (await sponsor.client.get("/dashboard")).text
    assert (await sponsor.client.get("/dashboard/reports/annual")).status_code == 404
    refused = await sponsor.client.get("/dashboard/reports/annual/file", params={"year": labels[0]})
    assert refused.status_code == 404 and "attachment" not in refused.headers.get("content-disposition", "")


async def test_the_list_shows_a_hundred_to_a_page_keeping_its_filters(browser, database_url):
    from models.lifecycle import Lifecycle
    from store.read_model import apply_projection

    now = datetime(2026, 3, 2, 9, tzinfo=UTC)
    with session_scope(database_url) as session:
        for n in range(230):
            life = Lifecycle.begin(
                f.start(f"LONG-{n:03d}", actions=[f.action("A1", now.date() + timedelta(days=30))]),
                workflow_id=f"recommendation-LONG-{n:03d}",
                now=now,
            )
            apply_projection(session=session, data=f.projection_of(life, now))
    member = await browser(f.ASSURANCE)

    async def page(query: str) -> tuple[list[str], str]:
        response = await member.client.get(f"/dashboard/recommendations?{query}")
        assert response.status_code == 200
        return re.findall(r'href="/dashboard/r/(LONG-\d+)"', response.text), text_of(response)

    first, words = await page("stage=action")
    assert first == [f"LONG-{n:03d}" for n in range(100)]
    assert "230 recommendations, 1 to 100 shown" in words
    third, words = await page("stage=action&page=3")
    assert third == [f"LONG-{n:03d}" for n in range(200, 230)] and "201 to 230 shown" in words
    html = (await member.client.get("/dashboard/recommendations?stage=action&page=2")).text
    assert 'href="/dashboard/recommendations?stage=action&amp;page=3" rel="next"' in html
    assert 'href="/dashboard/recommendations?stage=action&amp;page=1" rel="prev"' in html
    assert (await page("stage=action&page=99"))[0] == third[0:30]  # past the end: the last page
    assert (await page("page=nonsense"))[0] == first  # not a number: the first
