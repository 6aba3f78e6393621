"""The cascade lead's page in a real browser, on a phone: Debian's headless Chromium opens the link
from the caught "confirm the cascade" email, served by uvicorn on the real Temporal dev server
with a worker and the mail catcher. The lead is first refused (fewer staff than planned and no
reason), then confirms; axe-core finds no WCAG 2.2 A/AA violation before, during or after, and
the pages are photographed into ``$ASSURE_SCREENSHOTS`` (else the test's temporary directory)."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from datetime import UTC, datetime

import pytest
from playwright.async_api import async_playwright, expect
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.service import RPCError

from gateway.workflows import start_recommendation
from models.payloads import CascadeStatus, ImportedAction, ImportedProgress, SignOffInput, Stage, WithdrawInput
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
    sign_in,
    watch_for_problems,
)
from web.app import create_app

pytestmark = [pytest.mark.browser, pytest.mark.devserver]


@pytest.mark.timeout(120)
async def test_a_cascade_lead_confirms_from_the_emailed_link_on_a_phone(
    chromium,  # noqa: F811
    dev_env,
    settings,
    executor,
    database_url,
    screenshots,  # noqa: F811
):
    """Signed off, the ICB's safeguarding lead gets the task by email; on a 390 px phone the link
    opens their agency's card; fewer staff than planned with no note is refused beside the form
    with the figures kept; with a reason it is taken, and the page thanks them, shows what they
    confirmed and offers to correct it; on the Assurance Board's dashboard the cascade list names
    the agency still to confirm and charts the reach; axe finds nothing on any page, and nothing
    is wider than the phone."""
    port = free_port()
    web_settings = settings.model_copy(update={"base_url": f"http://127.0.0.1:{port}"})
    today = datetime.now(UTC).date()  # the dev server runs on the real clock
    ref = "E2E-CASCADE"
    agencies, people, boards = f.registry_rows()
    names = {f.ICB_LEAD: "Ines Lead", f.ASSURANCE: "Sam Scrutineer"}
    people = [Person(email=p.email, name=names.get(p.email, ""), roles=p.roles, agency=p.agency) for p in people]
    with session_scope(database_url) as session:
        upsert_registry(session=session, agencies=agencies, people=people, boards=boards)
    app = create_app(web_settings, client=dev_env.client)
    make_worker = worker_maker(dev_env.client, settings=web_settings, executor=executor)
    dissemination, audit = f.credible_plans(today)
    done = ImportedAction(action_id="A1", status="complete", completed_on=today, evidence="Guidance v2 published")
    payload = f.start(ref, actions=[f.action("A1", today + days(30))]).model_copy(
        update={"imported": ImportedProgress(actions=[done], dissemination=dissemination, audit=audit)}
    )

    async with make_worker(), serving(app, port), async_playwright() as playwright:
        handle = await start_recommendation(dev_env.client, payload, task_queue=web_settings.task_queue)
        try:
            assert Stage.cascade == (await decide(handle, "sign_off", SignOffInput(by=f.ASSURANCE))).stage
            [link] = await eventually(lambda: links_in_mail(database_url, f.ICB_LEAD, web_settings.base_url))

            browser = await playwright.chromium.launch(executable_path=chromium, headless=True)
            try:
                context = await browser.new_context(viewport=PHONE, locale="en-GB", is_mobile=True, has_touch=True)
                context.set_default_timeout(10_000)
                page = await context.new_page()
                problems = watch_for_problems(page)
                visit = Visit(page, screenshots)
                card = page.locator("#card-confirm_cascade-blmk-integrated-care-board")
                form = page.locator("#confirm_cascade-blmk-integrated-care-board")

                # The task, as the email's link opens it on a phone.
                response = await page.goto(link)
                assert response is not None and 200 == response.status
                await expect(
                    page.get_by_role("heading", level=2, name="Confirm the learning reached staff")
                ).to_be_visible()
                await expect(card.get_by_role("heading", level=3)).to_have_text(f.ICB)
                await expect(card).to_contain_text("120 staff: health visitors and school nurses")
                await expect(page.locator("#card-confirm_cascade-thames-valley-police")).to_have_count(0)
                reached = form.get_by_label("How many staff the learning reached")
                await expect(reached).to_have_attribute("inputmode", "numeric")
                await phone_check(visit, "c1-cascade-task")

                # Fewer than planned and no reason: the workflow's refusal, beside the form.
                await reached.fill("96")
                await form.get_by_label("7-minute briefing").check()
                await form.get_by_label("team meetings").check()
                await fill_date(form, "When the cascade was done", today)
                await form.get_by_role("button", name="Confirm the cascade").click()
                summary = page.locator(".govuk-error-summary")
                await expect(summary).to_contain_text("96 of the 120 staff planned were reached")
                await expect(summary).to_be_focused()
                await expect(page.locator("#confirm_cascade-blmk-integrated-care-board-refusal")).to_be_visible()
                await expect(form.get_by_label("How many staff the learning reached")).to_have_value("96")
                await expect(form.get_by_label("team meetings")).to_be_checked()
                await phone_check(visit, "c2-cascade-refused")

                await form.get_by_label("Note").fill("Night staff are briefed at the May away day")
                await form.get_by_role("button", name="Confirm the cascade").click()
                await expect(page.locator(".govuk-notification-banner--success")).to_contain_text(
                    "Thank you: the cascade confirmation is recorded."
                )
                await expect(card.locator(".govuk-tag")).to_have_text("Confirmed")
                await expect(card).to_contain_text("96 of 120 staff (80%)")
                await expect(card).to_contain_text("7-minute briefing, team meetings")
                await expect(card.get_by_text("Correct these figures", exact=True)).to_be_visible()
                await expect(page.locator("#cascade-blmk-integrated-care-board")).to_contain_text("Confirmed")
                await phone_check(visit, "c3-cascade-confirmed")
                await card.get_by_text("Correct these figures", exact=True).click()
                await expect(form.get_by_label("How many staff the learning reached")).to_have_value("96")
                await page.locator("#cascade").scroll_into_view_if_needed()
                await phone_check(visit, "c4-cascade-correct")

                # The Assurance Board's dashboard: the police still to confirm, the ICB's reach charted.
                await page.set_viewport_size(DESKTOP)
                base = web_settings.base_url
                await sign_in(page, base, database_url, f.ASSURANCE)
                await page.get_by_role("link", name="Cascade", exact=True).click()
                await expect(page.get_by_role("heading", level=1)).to_have_text("Cascade")
                await expect(page.locator("#cascade-waiting")).to_contain_text(f.POLICE)
                await expect(page.locator("#cascade-waiting")).not_to_contain_text(f.ICB)
                await expect(page.locator("svg[role=img]")).to_have_count(1)
                await expect(page.locator("#reach-table")).to_contain_text("80%")
                await visit.check("c5-dashboard-cascade")
                await page.locator("#cascade-waiting").get_by_role("link", name=ref).click()
                await expect(page.locator("#cascade-table")).to_contain_text("96 (80%)")
                await page.locator("#cascade").scroll_into_view_if_needed()
                await visit.check("c6-dashboard-recommendation")

                live = await status(handle)
                assert (CascadeStatus.confirmed, 96, ["7-minute briefing", "team meetings"]) == (
                    live.cascade[0].status,
                    live.cascade[0].reached,
                    live.cascade[0].channels,
                )
                assert [] == problems, "the browser reported errors:\n" + "\n".join(problems)
                print(f"axe checked, no violations: {', '.join(visit.checked)}; screenshots in {screenshots}")
            finally:
                await browser.close()
        finally:
            with suppress(WorkflowUpdateFailedError, RPCError):
                await decide(handle, "withdraw", WithdrawInput(by=f.SPONSOR, reason="browser test finished"))
            with suppress(WorkflowFailureError):
                await asyncio.wait_for(handle.result(), timeout=10)


async def phone_check(visit: Visit, name: str) -> None:
    """axe on the phone-sized page, nothing wider than the phone, and a full-page screenshot."""
    await visit.accessible(f"{name} (phone)")
    await visit.fits(f"{name} (phone)")
    await visit.page.screenshot(path=visit.directory / f"{name}-phone.png", full_page=True)
