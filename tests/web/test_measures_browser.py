"""A measure's reporter in a real browser: Debian's headless Chromium opens the link from the caught
"please report this measure" email (``measure_assigned``), served by uvicorn on the real Temporal
dev server with a worker and the mail catcher. A figure out of range for a percentage is refused
at its field; the reading is then taken, and the measure's chart (an image with a title) and its
table show it. axe-core finds no WCAG 2.2 A/AA violation on any page, at desktop and phone
widths, and the pages are photographed into ``$ASSURE_SCREENSHOTS`` (else the test's temporary
directory)."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from datetime import UTC, datetime

import pytest
from playwright.async_api import async_playwright, expect
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.service import RPCError

from gateway.workflows import start_recommendation
from links.signed import signer_from_settings
from models.payloads import MeasureTrack, WithdrawInput
from models.wording import MEASURE_TRACK
from store.db import session_scope
from store.read_model import upsert_registry
from store.tables import Person
from tests import factories as f
from tests.helpers import days, decide, eventually, free_port, status, worker_maker
from tests.web.test_browser import (
    DESKTOP,
    PHONE,
    Visit,
    chromium,  # noqa: F401 (a fixture)
    fill_date,
    links_in_mail,
    screenshots,  # noqa: F401 (a fixture)
    serving,
    watch_for_problems,
)
from web.app import create_app
from web.wording import DECISION_DONE

pytestmark = [pytest.mark.browser, pytest.mark.devserver]


@pytest.mark.timeout(120)
async def test_a_reporter_records_a_reading_from_the_emailed_link_and_sees_it_charted(
    chromium,  # noqa: F811
    dev_env,
    settings,
    executor,
    database_url,
    screenshots,  # noqa: F811
):
    """The performance lead is emailed the measure they report; its link opens the measure's card
    (no readings yet) and the reading form; 120 for a percentage is refused beside the figure
    with what was typed kept; 72 is taken, the page thanks them, and the chart draws the reading
    with its figure while the table beside it lists it with what the line expected; axe finds
    nothing on any page at either width, and nothing is wider than the phone."""
    port = free_port()
    web_settings = settings.model_copy(update={"base_url": f"http://127.0.0.1:{port}"})
    today = datetime.now(UTC).date()  # the dev server runs on the real clock
    ref = "E2E-MEASURES"
    agencies, people, boards = f.registry_rows()
    names = {f.REPORTER: "Pat Performance"}
    people = [Person(email=p.email, name=names.get(p.email, ""), roles=p.roles, agency=p.agency) for p in people]
    with session_scope(database_url) as session:
        upsert_registry(session=session, agencies=agencies, people=people, boards=boards)
    app = create_app(web_settings, client=dev_env.client)
    make_worker = worker_maker(dev_env.client, settings=web_settings, executor=executor)

    async with make_worker(), serving(app, port), async_playwright() as playwright:
        payload = f.start(ref, actions=[f.action("A1", today + days(60))])
        handle = await start_recommendation(dev_env.client, payload, task_queue=web_settings.task_queue)
        try:
            [link] = await eventually(lambda: links_in_mail(database_url, f.REPORTER, web_settings.base_url))
            token = link.rsplit("/", 1)[-1]
            assert "reporter" == signer_from_settings(web_settings).read(token).role

            browser = await playwright.chromium.launch(executable_path=chromium, headless=True)
            try:
                context = await browser.new_context(viewport=DESKTOP, locale="en-GB")
                context.set_default_timeout(10_000)
                page = await context.new_page()
                problems = watch_for_problems(page)
                visit = Visit(page, screenshots)
                card = page.locator("#measure-1-m1")
                form = page.locator("form#record_reading")
                figures = page.locator("#measure-1-m1-figures")

                # The measure, as the email's link opens it: no readings yet.
                response = await page.goto(link)
                assert response is not None and 200 == response.status
                await expect(card.get_by_role("heading", level=3)).to_contain_text("Measure M1")
                await expect(card.locator(".govuk-tag")).to_have_text(MEASURE_TRACK[MeasureTrack.no_data])
                await expect(card).to_contain_text("60% on 14 March 2023")
                await expect(card).to_contain_text("90% by 14 March 2024")
                await expect(page.get_by_role("heading", level=2, name="Record a reading")).to_be_visible()
                await expect(form.get_by_label("Figure")).to_have_attribute("inputmode", "decimal")
                await visit.check("m1-measure")

                # A percentage over 100: the workflow's reason, at the figure, the typing kept.
                await form.get_by_label("Figure").fill("120")
                await fill_date(page, "The day it was measured", today)
                await form.get_by_label("Note (optional)").fill("Sample of 40 qualifying cases")
                await form.get_by_role("button", name="Record the reading").click()
                summary = page.locator(".govuk-error-summary")
                await expect(summary).to_contain_text("120 is more than 100")
                await expect(summary).to_be_focused()
                await expect(page.locator("#record_reading-value-error")).to_contain_text("120 is more than 100")
                await expect(form.get_by_label("Note (optional)")).to_have_value("Sample of 40 qualifying cases")
                await visit.check("m2-reading-refused")
                await page.set_viewport_size(PHONE)
                await form.screenshot(path=screenshots / "m2-reading-form-phone.png")
                await page.set_viewport_size(DESKTOP)

                await summary.get_by_role("link").click()
                await expect(form.get_by_label("Figure")).to_be_focused()
                await form.get_by_label("Figure").fill("72")
                await form.get_by_role("button", name="Record the reading").click()
                await expect(page.locator(".govuk-notification-banner--success")).to_contain_text(
                    DECISION_DONE["record_reading"]
                )
                await expect(card.locator(".govuk-tag")).to_have_text(MEASURE_TRACK[MeasureTrack.off_track])
                chart = card.locator("svg[role=img]")
                await expect(chart).to_have_count(1)
                await expect(chart.locator("title")).to_contain_text("Qualifying cases with a professionals' meeting")
                await expect(chart.locator("text", has_text="72%")).to_have_count(1)
                assert "measure-1-m1-chart-t" in (await chart.get_attribute("aria-labelledby") or "")
                reading_row = figures.locator("tbody tr", has_text="Reading")
                await expect(reading_row).to_contain_text("72%")
                await expect(reading_row).to_contain_text("90%")  # the line's figure on the day: the target
                await expect(reading_row).to_contain_text("Sample of 40 qualifying cases")
                await visit.check("m3-reading-recorded")
                # The card alone, at each width, to look at the chart and its table closely.
                await card.screenshot(path=screenshots / "m4-measure-card-desktop.png")
                await page.set_viewport_size(PHONE)
                await card.screenshot(path=screenshots / "m4-measure-card-phone.png")

                live = await status(handle)
                assert [(72, today, f.REPORTER)] == [(r.value, r.on, r.by) for r in live.measures[0].readings]
                assert [] == problems, "the browser reported errors:\n" + "\n".join(problems)
                print(f"axe checked, no violations: {', '.join(visit.checked)}; screenshots in {screenshots}")
            finally:
                await browser.close()
        finally:
            with suppress(WorkflowUpdateFailedError, RPCError):
                await decide(handle, "withdraw", WithdrawInput(by=f.SPONSOR, reason="browser test finished"))
            with suppress(WorkflowFailureError):
                await asyncio.wait_for(handle.result(), timeout=10)
