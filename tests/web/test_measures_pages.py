"""Impact measures on the response pages, through FastAPI's client on the time-skipping server:
each measure's card (figures in words with units, where it stands, the chart and its table), a
reading recorded from the reporter's link and on their behalf, bad readings shown at their
fields, a sponsor adding a measure (with located refusals, the registry's among them), the
auditor's form asking why an off-track measure is embedded, and the plans form's measures."""

from __future__ import annotations

import re
from datetime import date, timedelta
from html import unescape

import httpx
import pytest
import pytest_asyncio

from gateway.workflows import recommendation_status
from models.payloads import SignOffInput, Stage, SubmitPlansInput
from store.api_tokens import issue_token
from store.db import session_scope
from store.read_model import upsert_registry
from store.tables import Agency, Board, Person
from tests import factories as f
from tests.helpers import decide, server_clock, today
from tests.web_client import Browser, date_fields, text_of, token_for
from web import wording
from web.app import create_app

REF = "CSPR-2023-01"
# A second reporter, of a second measure: registered, and named nowhere else.
OTHER_REPORTER = "data.lead@police.example"
EARLY = {"early_asked": "1", "early_confirmed": "yes", "early_reason": "Brought forward for the board"}


@pytest.fixture(autouse=True)
def registry(database_url) -> None:
    """The owners, the auditor, both reporters and the agencies, in the registry (no board: each
    workflow keeps the role holders the factories started it with)."""
    people = [Person(email=e, name=e.split("@")[0], roles="owner") for e in (f.OWNER, f.OWNER_2, f.NEW_OWNER)]
    people += [Person(email=f.AUDITOR, name="Ade Auditor", roles="auditor"),
               Person(email=f.REPORTER, name="Pat Performance", roles="owner", agency=f.ICB),
               Person(email=OTHER_REPORTER, name="Dana Data", roles="owner", agency=f.POLICE),
               Person(email=f.ICB_LEAD, roles="agency_lead", agency=f.ICB),
               Person(email=f.POLICE_LEAD, roles="agency_lead", agency=f.POLICE)]  # fmt: skip
    agencies = [Agency(name=f.ICB, safeguarding_lead_email=f.ICB_LEAD),
                Agency(name=f.POLICE, safeguarding_lead_email=f.POLICE_LEAD)]  # fmt: skip
    with session_scope(database_url) as session:
        upsert_registry(session=session, agencies=agencies, people=people, boards=[])


@pytest_asyncio.fixture
async def web(env, settings):
    """The app on the test server's clock: earlier tests move it on, and readings are dated by it."""
    app = create_app(settings, client=env.client, clock=await server_clock(env))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=settings.base_url) as client:
        yield client


@pytest.fixture
def person(web, settings):
    def make(who: str, role: str, *, action_id: str | None = None) -> Browser:
        return Browser(web, token_for(settings, who, REF, role, action_id))

    return make


async def with_measures(env, start, *, measures=None):
    """A recommendation with two actions under way and measure M1 (60% in March 2023 to 90% a
    year later), or ``measures``."""
    day = await today(env)
    payload = f.start(actions=f.two_actions(day + timedelta(days=40)), measures=measures)
    return await start(payload), day


def second_measure():
    """The police's measure, reported by someone else: days to a strategy meeting, to fall."""
    from models.payloads import Direction, MeasureSpec, MeasureUnit

    return MeasureSpec(
        measure_id="M2",
        name="Days from referral to strategy meeting",
        unit=MeasureUnit.days,
        direction=Direction.down,
        baseline=12,
        baseline_on=date(2023, 4, 1),
        target=5,
        target_by=date(2024, 4, 1),
        reporter=OTHER_REPORTER,
        every="P5Y",
    )


def reading(day: date, value: str = "72", measure_id: str = "M1", **more: str) -> dict[str, str]:
    return {"measure_id": measure_id, "value": value, **date_fields("on", day), **more}


def card_of(page: httpx.Response, measure_id: str) -> str:
    found = re.search(
        rf'(?s)<div class="govuk-summary-card" id="measure-\d+-{measure_id.lower()}">(.*?)</table>', page.text
    )
    assert found, f"no card for measure {measure_id}"
    return found.group(1)


def words_of(html: str) -> str:
    """The words of a piece of a page, as ``text_of`` reads a whole one."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def measure_fields(**changes: str) -> dict[str, str]:
    """The add-a-measure form filled in: initial sentence plans within 15 days, 55% to 85%."""
    fields = {
        "measure_id": "M3",
        "name": "Initial sentence plans within 15 days",
        "unit": "percent",
        "direction": "up",
        "baseline": "55",
        **date_fields("baseline_on", date(2023, 6, 1)),
        "target": "85",
        **date_fields("target_by", date(2024, 6, 1)),
        "reporter": OTHER_REPORTER,
        "every": "P3M",
    }
    return {**fields, **changes}


class TestTheMeasureCard:
    async def test_each_measure_shows_its_figures_in_words_its_chart_and_its_table(self, env, start, person):
        """The card names the measure, says its baseline and target with units and dates, that it
        has no data yet, who reports it and how often; the chart is an image with a title, and
        the table beside it holds the baseline and the target."""
        await with_measures(env, start)
        page = await person(f.SPONSOR, "sponsor").open()
        assert 200 == page.status_code
        card = card_of(page, "M1")
        words = words_of(card)
        assert "Measure M1: Qualifying cases with a professionals' meeting held" in words
        assert "A percentage. Higher is better" in words
        assert "60% on 14 March 2023" in words and "90% by 14 March 2024" in words
        assert wording.MEASURE_TRACK["no_data"] in words and "None yet" in words
        assert f.REPORTER in words and "Every year until the target date; none is owed now" in words
        svg = re.search(r'(?s)<svg[^>]*role="img"[^>]*>\s*<title id="measure-1-m1-chart-t">([^<]+)</title>', card)
        assert svg and "Qualifying cases" in svg.group(1)
        body = card.split('<tbody class="govuk-table__body">', 1)[1]
        rows = re.findall(r'(?s)<tr class="govuk-table__row">(.*?)</tr>', body)
        assert ["14 March 2023 Baseline 60% –", "14 March 2024 Target 90% –"] == [words_of(r) for r in rows]

    async def test_a_reading_on_or_behind_the_line_is_shown_on_or_off_track(self, env, start, person):
        """After a reading the card says where it stands against the line to the target (the
        target itself, past its date), in words and in the table, with who gave it."""
        handle, day = await with_measures(env, start)
        await decide(handle, "record_reading", {"by": f.REPORTER, "measure_id": "M1", "value": 70, "on": day})
        card = card_of(await person(f.SPONSOR, "sponsor").open(), "M1")
        words = words_of(card)
        assert wording.MEASURE_TRACK["off_track"] in words
        assert f"70% on {wording.uk_date(day)} (the line to the target expected 90%)" in words
        assert f"{wording.uk_date(day)} Reading By {f.REPORTER} 70% 90%" in words

    async def test_no_measures_no_section(self, env, start, person):
        await with_measures(env, start, measures=[])
        words = text_of(await person(f.SPONSOR, "sponsor").open())
        assert "Impact measures" not in words and "Record a reading" not in words


class TestRecordingAReading:
    async def test_the_reporter_records_a_reading_from_their_link(self, env, start, person):
        """The reporter's link offers the reading form for their measure only; the reading is
        taken, thanked for, and the card's chart and table show it."""
        await with_measures(env, start, measures=[f.measure(), second_measure()])
        day = await today(env)
        reporter = person(f.REPORTER, "reporter")
        page = await reporter.open()
        assert 200 == page.status_code
        assert "Record a reading" in text_of(page)
        options = re.findall(r'<option value="([^"]*)"', page.text)
        assert ["M1"] == options  # not the police's measure, which another person reports
        assert 'inputmode="decimal"' in page.text

        page = await reporter.act("record_reading", reading(day, "91.5", note="Sample of 40 cases"))
        words = text_of(page)
        assert wording.DECISION_DONE["record_reading"] in words
        card = words_of(card_of(page, "M1"))
        assert wording.MEASURE_TRACK["on_track"] in card
        assert f"{wording.uk_date(day)} Reading By {f.REPORTER} Note: Sample of 40 cases 91.5% 90%" in card
        assert re.search(r"<text[^>]*>91\.5%</text>", page.text)  # the chart's point carries its figure
        status = await recommendation_status(env.client, REF)
        assert [(91.5, day, f.REPORTER)] == [(r.value, r.on, r.by) for r in status.measures[0].readings]

    async def test_a_sponsor_records_a_reading_of_any_measure_on_the_reporters_behalf(self, env, start, person):
        await with_measures(env, start, measures=[f.measure(), second_measure()])
        day = await today(env)
        sponsor = person(f.SPONSOR, "sponsor")
        assert ["M1", "M2"] == sorted(re.findall(r'<option value="(M\d)"', (await sponsor.open()).text))
        page = await sponsor.act("record_reading", reading(day, "7", "M2"))
        assert "7 days" in words_of(card_of(page, "M2"))
        status = await recommendation_status(env.client, REF)
        [event] = [e for e in status.timeline if e.kind == "reading_recorded"]
        assert f"on behalf of {OTHER_REPORTER}" in event.detail

    async def test_a_reading_of_another_reporters_measure_is_refused_in_plain_words(self, env, start, person):
        """Not offered in the reporter's list, and refused by the workflow if posted all the same:
        the refusal at the form, in words, linked from the error summary."""
        await with_measures(env, start, measures=[f.measure(), second_measure()])
        response = await person(f.REPORTER, "reporter").post("record_reading", reading(await today(env), "7", "M2"))
        assert 409 == response.status_code
        assert 'href="#record_reading-refusal"' in response.text and 'id="record_reading-refusal"' in response.text
        assert f"{f.REPORTER} is not the reporter of measure M2 for {REF}" in text_of(response)
        assert [] == (await recommendation_status(env.client, REF)).measures[1].readings

    async def test_an_owner_who_reports_nothing_gets_no_reading_form(self, env, start, person):
        await with_measures(env, start)
        owner = person(f.OWNER, "owner", action_id="A1")
        page = await owner.open()
        assert "Impact measures" in text_of(page) and "Record a reading" not in text_of(page)
        refused = await owner.post("record_reading", reading(await today(env)))
        assert 403 == refused.status_code
        assert [] == (await recommendation_status(env.client, REF)).measures[0].readings

    @pytest.mark.parametrize(
        ("fields", "at", "message"),
        [
            ({"value": ""}, "value", "Enter the figure"),
            ({"value": "lots"}, "value", "The figure: 'lots' is not a number, like 72 or 72.5"),
            ({"value": "120"}, "value", "120 is more than 100, and a percentage is between 0 and 100"),
            ({"value": "-3"}, "value", "-3 is negative"),
            ({"on-day": "", "on-month": "", "on-year": ""}, "on", "Enter the date of the reading"),
            ({"future": "1"}, "on", "a future day"),
            ({"before": "1"}, "on", "before its baseline of 14 March 2023"),
            ({"measure_id": "M9"}, "measure_id", "There is no measure 'M9'"),
        ],
    )
    async def test_a_bad_reading_is_shown_at_its_field_with_what_was_typed(
        self, env, start, person, fields, at, message
    ):
        """Each mistake in a reading, the form's or the workflow's (a future day, a day before
        the baseline, a figure out of range for a percentage, no such measure), comes back with
        the message at its field, linked from the error summary, the typing kept; nothing taken."""
        await with_measures(env, start)
        day = await today(env)
        if fields.pop("future", None):
            fields.update(date_fields("on", day + timedelta(days=1)))
        if fields.pop("before", None):
            fields.update(date_fields("on", date(2023, 3, 1)))
        response = await person(f.REPORTER, "reporter").post(
            "record_reading", {**reading(day, note="Typed note"), **fields}
        )
        assert response.status_code in {409, 422}
        words = text_of(response)
        assert words.startswith("Error:") and message in words
        dom_id = f"record_reading-{at}" + ("-day" if at == "on" else "")
        assert f'href="#{dom_id}"' in response.text
        assert f'id="record_reading-{at}-error"' in response.text
        assert "Typed note" in response.text
        assert [] == (await recommendation_status(env.client, REF)).measures[0].readings


class TestAddingAMeasure:
    async def test_a_sponsor_adds_a_measure_and_its_reporter_is_told(self, env, start, person):
        await with_measures(env, start)
        sponsor = person(f.SPONSOR, "sponsor")
        page = await sponsor.open()
        assert "Add a measure to this recommendation" in text_of(page)
        assert re.search(r'<option value="P3M" selected>', page.text)  # a reading each quarter by default
        page = await sponsor.act("add_measures", measure_fields())
        assert wording.DECISION_DONE["add_measures"] in text_of(page)
        card = words_of(card_of(page, "M3"))
        assert "55% on 1 June 2023" in card and "85% by 1 June 2024" in card and "Every 3 months" in card
        status = await recommendation_status(env.client, REF)
        assert ["M1", "M3"] == [m.measure_id for m in status.measures]
        assert OTHER_REPORTER == status.measures[1].reporter

    async def test_an_empty_form_asks_for_every_field_at_once(self, env, start, person):
        await with_measures(env, start)
        response = await person(f.SPONSOR, "sponsor").post("add_measures", {"every": "P3M"})
        assert 422 == response.status_code
        summary = re.search(r'(?s)<div class="govuk-error-summary".*?</ul>', response.text)
        assert summary
        assert [
            "#add_measures-measure_id",
            "#add_measures-name",
            "#add_measures-unit",
            "#add_measures-direction",
            "#add_measures-reporter",
        ] == re.findall(r'<a href="(#[^"]+)"', summary.group(0))
        assert re.search(r'<details id="add_measures-details" class="govuk-details" open>', response.text)

    async def test_only_a_sponsor_is_offered_the_form(self, env, start, person):
        await with_measures(env, start)
        for who, role in ((f.REPORTER, "reporter"), (f.OWNER, "owner"), (f.ASSURANCE, "assurance_member")):
            assert "Add a measure" not in text_of(await person(who, role).open()), who

    @pytest.mark.parametrize(
        ("changes", "at", "message"),
        [
            ({"measure_id": "M 3"}, "measure_id", "must start with a letter or a number"),
            ({"measure_id": ""}, "measure_id", "Enter the measure's id"),
            ({"reporter": ""}, "reporter", "Enter the reporter's work email address"),
            ({"measure_id": "M1"}, "measure_id", "measure id 'M1' is already used"),
            ({"name": ""}, "name", "Enter the measure's name"),
            ({"unit": ""}, "unit", "Choose what kind of figure the measure is"),
            ({"direction": ""}, "direction", "Choose which way the measure should go"),
            ({"baseline_on-day": "", "baseline_on-month": "", "baseline_on-year": ""}, "baseline_on",
             "Enter the baseline and the date it was measured, or leave both empty"),
            ({"target": ""}, "target", "Enter the target and the date it is to be reached by, or leave both empty"),
            ({"target": "40"}, "target", "The target (40) must be above the baseline (55)"),
            ({"baseline": "155"}, "baseline", "155 is more than 100"),
            ({"baseline": "fifty"}, "baseline", "The baseline: 'fifty' is not a number"),
            (date_fields("target_by", date(2023, 1, 1)), "target_by", "The target date must be after"),
            ({"future": "1"}, "baseline_on", "The baseline cannot be dated"),
            ({"reporter": f.STRANGER}, "reporter", f"the measure reporter {f.STRANGER} is not in the registry"),
            ({"reporter": "nobody"}, "reporter", "is not an email address"),
        ],
    )  # fmt: skip
    async def test_a_bad_measure_is_shown_at_its_field(self, env, start, person, changes, at, message):
        """Each mistake in a new measure (the form's, the payload's rule about its figures
        together, the workflow's, the registry's) is shown at the field to put right."""
        await with_measures(env, start)
        if changes.pop("future", None):
            ahead = (await today(env)) + timedelta(days=3)
            changes = {**date_fields("baseline_on", ahead), **date_fields("target_by", ahead + timedelta(days=365))}
        response = await person(f.SPONSOR, "sponsor").post("add_measures", measure_fields(**changes))
        assert response.status_code in {409, 422}
        words = text_of(response)
        assert words.startswith("Error:") and message.lower() in words.lower()
        dom_id = f"add_measures-{at}" + ("-day" if at.endswith(("_on", "_by")) else "")
        assert f'href="#{dom_id}"' in response.text, re.findall(r'href="#add_measures[^"]*"', response.text)
        assert f'id="add_measures-{at}-error"' in response.text
        assert "Initial sentence plans within 15 days" in response.text or at == "name"
        assert ["M1"] == [m.measure_id for m in (await recommendation_status(env.client, REF)).measures]


async def at_audit(env, start):
    """Actions done, credible plans (their audit weighs M1) signed off: the audit may be recorded."""
    handle, day = await with_measures(env, start)
    for who, aid in ((f.OWNER, "A1"), (f.OWNER_2, "A2")):
        await decide(handle, "complete_action", {"by": who, "action_id": aid, "evidence": "Done"})
    dissemination, audit = f.credible_plans(day)
    await decide(handle, "submit_plans", SubmitPlansInput(by=f.OWNER, dissemination=dissemination, audit=audit))
    await decide(handle, "sign_off", SignOffInput(by=f.ASSURANCE))
    return handle, day


class TestTheAuditForm:
    async def test_the_auditor_sees_each_measure_against_its_target_and_is_asked_why_if_off_track(
        self, env, start, person
    ):
        """With M1 off track the audit form shows its latest reading against its target and asks
        why the change is embedded; without a reason the workflow's refusal is shown at that
        field; with one the audit is taken and keeps it."""
        handle, day = await at_audit(env, start)
        await decide(handle, "record_reading", {"by": f.REPORTER, "measure_id": "M1", "value": 70, "on": day})
        auditor = person(f.AUDITOR, "auditor")
        page = await auditor.open()
        table = re.search(r'(?s)<table[^>]*id="audit-measures">(.*?)</table>', page.text)
        assert table
        assert (
            f"M1: Qualifying cases with a professionals' meeting held 70% on {wording.uk_date(day)} "
            "(the line to the target expected 90%) 90% by 14 March 2024 Off track"
        ) in words_of(table.group(1))
        assert "Measure M1 is off track. To record the change as embedded, say why." in text_of(page)

        audit = {"outcome": "embedded", "findings": "Seen in 18 of 20 cases", "rows": "1", **EARLY}
        refused = await auditor.post("record_audit", audit)
        assert 409 == refused.status_code
        assert 'href="#record_audit-off_track_reason"' in refused.text
        assert 'id="record_audit-off_track_reason-error"' in refused.text
        assert "are off track: to record the change as embedded, say why in the reason" in text_of(refused)
        assert "Seen in 18 of 20 cases" in refused.text

        reason = "The sample pre-dates the new guidance; case files since March all show meetings"
        await auditor.act("record_audit", {**audit, "off_track_reason": reason})
        status = await recommendation_status(env.client, REF)
        assert Stage.assured is status.stage
        assert (["M1"], reason) == (status.audits[-1].off_track_measures, status.audits[-1].off_track_reason)

    async def test_no_reason_is_asked_for_when_every_measure_is_on_track(self, env, start, person):
        handle, day = await at_audit(env, start)
        await decide(handle, "record_reading", {"by": f.REPORTER, "measure_id": "M1", "value": 93, "on": day})
        words = text_of(await person(f.AUDITOR, "auditor").open())
        assert "On track" in words and "off track. To record" not in words


class TestThePlansForm:
    async def test_the_plans_form_ticks_the_measures_with_a_baseline_and_a_target(self, env, start, person):
        """The audit plan's measures are boxes, those that can be weighed ticked; plans that name
        none are kept, with the gap listed."""
        handle, _ = await with_measures(env, start)
        for who, aid in ((f.OWNER, "A1"), (f.OWNER_2, "A2")):
            await decide(handle, "complete_action", {"by": who, "action_id": aid, "evidence": "Done"})
        owner = person(f.OWNER, "owner", action_id="A1")
        page = await owner.open()
        assert re.search(r'name="measures" type="checkbox" value="M1" checked', page.text)
        assert "M1: Qualifying cases with a professionals' meeting held" in text_of(page)

        page = await owner.act("submit_plans", {"audiences": "GPs"})
        assert "name at least one impact measure with a baseline and a target" in text_of(page)
        assert [] == (await recommendation_status(env.client, REF)).audit_plan.measures


class TestTheApi:
    @pytest_asyncio.fixture
    async def api(self, env, settings, database_url):
        """The API, with tokens for the sponsor (through the board), the reporter and an owner."""
        with session_scope(database_url) as session:
            upsert_registry(
                session=session,
                agencies=[],
                people=[Person(email=f.SPONSOR, roles="board_sponsor:Review Board")],
                boards=[Board(name="Review Board", sponsor_email=f.SPONSOR)],
            )
        with session_scope(database_url) as session:
            tokens = {who: issue_token(session=session, email=who) for who in (f.SPONSOR, f.REPORTER, f.OWNER)}
        app = create_app(settings, client=env.client, clock=await server_clock(env))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=settings.base_url) as client:

            async def post(who: str, decision: str, body: dict) -> httpx.Response:
                headers = {"Authorization": f"Bearer {tokens[who]}"}
                return await client.post(f"/api/recommendations/{REF}/decisions/{decision}", json=body, headers=headers)

            async def get(who: str) -> httpx.Response:
                headers = {"Authorization": f"Bearer {tokens[who]}"}
                return await client.get(f"/api/recommendations/{REF}", headers=headers)

            client.post_as, client.get_as = post, get
            yield client

    async def test_the_reporter_records_a_reading_and_reads_it_back(self, env, start, api):
        """The reporter, an agency's system with their token, records a reading: the answer and
        the status carry it, with where the measure now stands."""
        _, day = await with_measures(env, start)
        answer = await api.post_as(f.REPORTER, "record_reading", {"measure_id": "m1", "value": 72.5, "on": str(day),
                                                                   "note": "Quarterly sample"})  # fmt: skip
        assert 200 == answer.status_code, answer.text
        status = (await api.get_as(f.REPORTER)).json()
        [m1] = status["measures"]
        assert [{"value": 72.5, "on": str(day), "by": f.REPORTER, "note": "Quarterly sample"}] == m1["readings"]
        assert ("off_track", 90.0) == (m1["on_track"], m1["expected"])
        assert answer.json()["measures"] == status["measures"]

    @pytest.mark.parametrize(
        ("body", "code", "kind", "words"),
        [
            ({"value": 120}, 409, "InvalidReading", "120 is more than 100, and a percentage is between 0 and 100"),
            ({"on": "2023-03-01"}, 409, "InvalidReading", "before its baseline of 2023-03-14"),
            ({"measure_id": "M9"}, 409, "UnknownMeasure", "there is no measure 'M9'"),
            ({"value": "lots"}, 422, "InvalidInput", "Input should be a valid number"),
            ({"by": f.SPONSOR}, 422, None, "leave out 'by'"),
        ],
    )
    async def test_a_bad_reading_is_refused_with_its_reason(self, env, start, api, body, code, kind, words):
        _, day = await with_measures(env, start)
        answer = await api.post_as(f.REPORTER, "record_reading", {"measure_id": "M1", "value": 70, "on": str(day),
                                                                   **body})  # fmt: skip
        assert code == answer.status_code, answer.text
        said = answer.json()
        assert kind == said.get("type") and words in (said.get("message") or said["detail"])
        assert [] == (await recommendation_status(env.client, REF)).measures[0].readings

    async def test_a_future_reading_and_another_persons_are_refused(self, env, start, api):
        _, day = await with_measures(env, start)
        ahead = await api.post_as(f.REPORTER, "record_reading",
                                  {"measure_id": "M1", "value": 70, "on": str(day + timedelta(days=1))})  # fmt: skip
        assert (409, "InvalidReading") == (ahead.status_code, ahead.json()["type"])
        assert "a future day" in ahead.json()["message"]
        owner = await api.post_as(f.OWNER, "record_reading", {"measure_id": "M1", "value": 70, "on": str(day)})
        assert (403, "WrongPerson") == (owner.status_code, owner.json()["type"])

    async def test_the_sponsor_adds_a_measure(self, env, start, api):
        await with_measures(env, start)
        spec = second_measure().model_dump(mode="json", exclude={"reporter"}) | {"reporter": f.REPORTER}
        answer = await api.post_as(f.SPONSOR, "add_measures", {"measures": [spec]})
        assert 200 == answer.status_code, answer.text
        assert ["M1", "M2"] == [m["measure_id"] for m in answer.json()["measures"]]
        again = await api.post_as(f.SPONSOR, "add_measures", {"measures": [spec]})
        assert (409, "InvalidMeasure") == (again.status_code, again.json()["type"])
        nobody = await api.post_as(f.SPONSOR, "add_measures", {"measures": [{**spec, "measure_id": "M3",
                                                                              "reporter": f.STRANGER}]})  # fmt: skip
        assert (409, "NotInRegistry") == (nobody.status_code, nobody.json()["type"])
        assert {"measure M3: reporter"} == set(nobody.json()["fields"])

    async def test_the_docs_list_each_measure_decision_once(self, api):
        schema = (await api.get("/openapi.json")).json()
        ids = [op["operationId"] for path in schema["paths"].values() for op in path.values()]
        for name in ("add_measures", "record_reading"):
            assert 1 == sum(1 for i in ids if i.startswith(f"decide_{name}")), name
            body = schema["paths"][f"/api/recommendations/{{ref}}/decisions/{name}"]["post"]["requestBody"]
            assert body["content"]["application/json"]["schema"]
