"""People change in a real browser (Debian's headless Chromium, uvicorn, the real Temporal dev server
with a worker): the named nurse opens her absences from the navigation, names her deputy, has an
absence refused for days in the wrong order and then records it; her agency's lead records that she
left, is asked to tick the box first, and follows the hand-over to its end. axe-core finds no WCAG
2.2 A/AA violation on any page, at desktop and phone widths, and each is photographed into
``$ASSURE_SCREENSHOTS`` (else the test's temporary directory)."""

from __future__ import annotations

from contextlib import suppress
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import async_playwright, expect
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from gateway.people import hand_over_id, hand_over_progress
from gateway.workflows import recommendation_status, start_recommendation
from models.payloads import WithdrawInput
from models.wording import LONDON, uk_date
from tests import factories as f
from tests.helpers import decide, eventually, free_port, stored_row, worker_maker
from tests.web.test_browser import (
    DESKTOP,
    Visit,
    chromium,  # noqa: F401 (a fixture)
    fill_date,
    screenshots,  # noqa: F401 (a fixture)
    serving,
    sign_in,
    watch_for_problems,
)
from tests.web.test_people_pages import seed_people
from web.app import create_app

pytestmark = [pytest.mark.browser, pytest.mark.devserver]


@pytest.mark.timeout(120)
async def test_a_nurse_records_her_absence_and_her_lead_records_her_leaving_in_chromium(
    chromium,  # noqa: F811
    dev_env,
    settings,
    executor,
    database_url,
    screenshots,  # noqa: F811
):
    port = free_port()
    web_settings = settings.model_copy(update={"base_url": f"http://127.0.0.1:{port}"})
    base = web_settings.base_url
    today = datetime.now(UTC).astimezone(LONDON).date()  # the dev server runs on the real clock
    ref = "E2E-PEOPLE"
    seed_people(database_url)
    app = create_app(web_settings, client=dev_env.client)
    make_worker = worker_maker(dev_env.client, settings=web_settings, executor=executor)

    async with make_worker(), serving(app, port), async_playwright() as playwright:
        handle = await start_recommendation(
            dev_env.client, f.start(ref, actions=f.two_actions(today + timedelta(days=30))),
            task_queue=web_settings.task_queue,
        )  # fmt: skip
        try:
            await eventually(lambda: stored_row(database_url, ref))
            browser = await playwright.chromium.launch(executable_path=chromium, headless=True)
            try:
                context = await browser.new_context(viewport=DESKTOP, locale="en-GB")
                context.set_default_timeout(10_000)
                page = await context.new_page()
                problems = watch_for_problems(page)
                visit = Visit(page, screenshots)
                banner = page.locator(".govuk-notification-banner--success")

                # The nurse: her page from the navigation, her deputy, an absence refused then recorded.
                await sign_in(page, base, database_url, f.OWNER)
                await page.get_by_role("link", name="Your absences and deputy").click()
                await expect(page.get_by_role("heading", level=1)).to_have_text("Your absences and deputy")
                await visit.check("p1-absence-page")

                await page.get_by_label("Standing deputy").select_option(f.NEW_OWNER)
                await page.get_by_role("button", name="Save the deputy").click()
                await expect(banner).to_contain_text("Standing deputy saved: Dee Deputy")
                await expect(page.locator("#standing-deputy")).to_contain_text(f.NEW_OWNER)

                form = page.locator("#absence-form")
                await fill_date(form, "First day away", today + timedelta(days=9))
                await fill_date(form, "Last day away", today + timedelta(days=2))
                await form.get_by_role("button", name="Record the absence").click()
                summary = page.locator(".govuk-error-summary")
                await expect(summary).to_contain_text("is before the first day")
                await expect(summary).to_be_focused()
                await expect(page.locator("#absence-first_day-day")).to_have_value(str((today + timedelta(days=9)).day))
                await visit.check("p2-absence-refused")
                await summary.get_by_role("link").click()
                await expect(page.locator("#absence-last_day-day")).to_be_focused()

                form = page.locator("#absence-form")
                await fill_date(form, "First day away", today + timedelta(days=2))
                await fill_date(form, "Last day away", today + timedelta(days=9))
                await form.get_by_role("button", name="Record the absence").click()
                await expect(banner).to_contain_text(
                    f"Absence recorded: away from {uk_date(today + timedelta(days=2))} to "
                    f"{uk_date(today + timedelta(days=9))}, covered by your standing deputy, Dee Deputy"
                )
                await expect(page.locator("#absence-list")).to_contain_text("To come")
                await expect(page.locator("#change-list")).to_contain_text("Absence")
                await visit.check("p3-absence-recorded")

                # Her lead: the leaver page, refused without the box ticked, then the hand-over.
                await page.context.clear_cookies()
                await sign_in(page, base, database_url, f.ICB_LEAD)
                await page.goto(f"{base}/dashboard/people/{f.OWNER}")
                await expect(page.get_by_role("heading", level=1)).to_have_text("Nia Nurse: absences and deputy")
                await page.get_by_role("link", name="Record that Nia Nurse has left").click()
                await expect(page.get_by_role("heading", level=1)).to_have_text("Record that Nia Nurse has left")
                await visit.check("p4-leaver-page")

                await page.get_by_label("Who takes over their work").select_option(f.NEW_OWNER)
                await page.get_by_role("button", name="Record that they have left").click()
                await expect(summary).to_contain_text("Confirm that you understand their links stop working")
                await visit.check("p5-leaver-refused", photograph=False)
                await page.get_by_label("I understand their links stop working").check()
                await page.get_by_role("button", name="Record that they have left").click()
                await expect(page.get_by_role("heading", level=1)).to_have_text("Hand-over of Nia Nurse's work")
                finished = await hand_over_progress(dev_env.client, hand_over_id(f.OWNER), wait=True)
                assert finished.finished and [ref] == [m.ref for m in finished.moved]
                await page.reload()
                await expect(page.locator(".govuk-panel")).to_contain_text("Hand-over finished")
                await expect(page.locator("#moved-list")).to_contain_text("Action A1")
                await expect(page.locator("#summary-sent")).to_contain_text("was emailed once")
                await visit.check("p6-hand-over-finished")
                status = await recommendation_status(dev_env.client, ref)
                assert f.NEW_OWNER == next(a for a in status.actions if a.action_id == "A1").owner

                assert [] == problems, "the browser reported errors:\n" + "\n".join(problems)
                print(f"axe checked, no violations: {', '.join(visit.checked)}; screenshots in {screenshots}")
            finally:
                await browser.close()
        finally:
            with suppress(WorkflowUpdateFailedError, RPCError):
                await decide(handle, "withdraw", WithdrawInput(by=f.SPONSOR, reason="browser test finished"))
