"""A board sponsor in a real browser (Debian's headless Chromium, uvicorn, the real Temporal dev
server with a worker): the reviews list, a review's page with its clocks, repeats and
recommendations, a milestone refused for a day in the future and then recorded; then an
Assurance Board member's annual report page. axe-core finds no WCAG 2.2 A/AA violation on any of
them, at desktop and phone widths, and each is photographed into ``$ASSURE_SCREENSHOTS``."""

from __future__ import annotations

from contextlib import suppress
from datetime import UTC, datetime

import pytest
from playwright.async_api import async_playwright, expect
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from gateway.reviews import review_status, start_reviews
from gateway.workflows import start_recommendation
from models.payloads import SourceKind, WithdrawInput
from models.review_clocks import ReviewPolicy
from models.review_lifecycle import review_workflow_id
from models.reviews import Review
from store.db import session_scope
from store.read_model import upsert_registry
from store.reviews import write_reviews
from store.tables import Agency, Board, Person
from tests import factories as f
from tests.helpers import days, decide, eventually, free_port, stored_row, worker_maker
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
from web.app import create_app

pytestmark = [pytest.mark.browser, pytest.mark.devserver]


@pytest.mark.timeout(120)
async def test_a_sponsor_reads_a_review_and_records_its_milestone_in_chromium(
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
    today = datetime.now(UTC).date()  # the dev server runs on the real clock
    with session_scope(database_url) as session:
        upsert_registry(
            session=session,
            agencies=[Agency(name=f.ICB, safeguarding_lead_email=f.ICB_LEAD)],
            people=[
                Person(email=f.ASSURANCE, name="Sam Scrutineer", roles="assurance_member"),
                Person(email=f.SPONSOR, name="Rita Sponsor", roles="board_sponsor:Review Board"),
                Person(email=f.OWNER, name="Nia Nurse", roles="owner"),
                Person(email=f.ICB_LEAD, name="Ines Lead", roles="agency_lead", agency=f.ICB),
            ],
            boards=[Board(name="Review Board", sponsor_email=f.SPONSOR)],
        )
        earlier = Review(review_ref="SAR-E2E-FIRST", kind=SourceKind.sar, title="Self-neglect and hoarding",
                         board="Review Board", decided_on=today - days(400), concluded_on=today - days(200),
                         themes=["self-neglect"])  # fmt: skip
        running = Review(review_ref="SAR-E2E-NOW", kind=SourceKind.sar, title="Self-neglect and fire risk",
                         board="Review Board", decided_on=today - days(20), themes=["self-neglect", "mental health"])  # fmt: skip
        write_reviews(session=session, reviews=[earlier, running], now=datetime.now(UTC))
    app = create_app(web_settings, client=dev_env.client)
    make_worker = worker_maker(dev_env.client, settings=web_settings, executor=executor)

    async with make_worker(), serving(app, port), async_playwright() as playwright:
        await start_reviews(
            dev_env.client, database_url, [running], policy=ReviewPolicy(), task_queue=web_settings.task_queue
        )
        payload = f.start("E2E-REVIEW", actions=[f.action("A1", today + days(30))])
        recommendation = payload.recommendation.model_copy(update={"review_ref": "SAR-E2E-NOW"})
        handle = await start_recommendation(
            dev_env.client,
            payload.model_copy(update={"recommendation": recommendation}),
            task_queue=web_settings.task_queue,
        )
        try:
            await eventually(lambda: stored_row(database_url, "E2E-REVIEW"))
            browser = await playwright.chromium.launch(executable_path=chromium, headless=True)
            try:
                context = await browser.new_context(viewport=DESKTOP, locale="en-GB")
                context.set_default_timeout(10_000)
                page = await context.new_page()
                problems = watch_for_problems(page)
                visit = Visit(page, screenshots)

                await sign_in(page, base, database_url, f.SPONSOR)
                await page.get_by_role("link", name="Reviews").click()
                await expect(page.get_by_role("heading", level=1)).to_have_text("Reviews")
                await visit.check("r1-reviews")
                await page.get_by_role("link", name="SAR-E2E-NOW").click()
                await expect(page.get_by_role("heading", level=1)).to_have_text("Self-neglect and fire risk")
                await expect(page.locator("#clocks")).to_contain_text("Running since")
                await expect(page.get_by_text("Self-neglect has come up in 1 earlier review")).to_be_visible()
                await expect(page.locator("#recommendations")).to_contain_text("E2E-REVIEW")
                await visit.check("r2-review")

                form = page.locator("#milestone")
                await form.get_by_label("Milestone").select_option("concluded")
                await fill_date(form, "The day it was reached", today + days(2))
                await form.get_by_role("button", name="Record the milestone").click()
                await expect(page.locator(".govuk-error-summary")).to_contain_text("in the future")
                await visit.check("r3-milestone-refused", photograph=False)
                form = page.locator("#milestone")
                await form.get_by_label("Milestone").select_option("concluded")
                await fill_date(form, "The day it was reached", today)
                await form.get_by_role("button", name="Record the milestone").click()
                await expect(page.locator(".govuk-notification-banner--success")).to_contain_text(
                    "milestone is recorded"
                )
                await expect(page.locator("#clocks")).to_contain_text("Met on")
                assert (await review_status(dev_env.client, "SAR-E2E-NOW")).review.concluded_on == today

                await page.context.clear_cookies()
                await sign_in(page, base, database_url, f.ASSURANCE)
                await page.get_by_role("link", name="Annual report").click()
                await expect(page.get_by_role("heading", level=1)).to_contain_text("Annual report")
                await visit.check("r4-annual-report")

                assert [] == problems, "the browser reported errors:\n" + "\n".join(problems)
                print(f"axe checked, no violations: {', '.join(visit.checked)}; screenshots in {screenshots}")
            finally:
                await browser.close()
        finally:
            with suppress(WorkflowUpdateFailedError, RPCError):
                await decide(handle, "withdraw", WithdrawInput(by=f.SPONSOR, reason="browser test finished"))
            with suppress(RPCError):
                await dev_env.client.get_workflow_handle(review_workflow_id("SAR-E2E-NOW")).terminate("test over")
