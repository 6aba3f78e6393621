"""An agency's safeguarding lead in a real browser (Debian's headless Chromium, uvicorn, the real
Temporal dev server with a worker): a period of the Section 11 audit starts, the lead opens the
link in their emailed request, gives a return with a gap but no action and is refused with every
problem, then gives it whole; the board's chair challenges it and the lead answers from the link in
the challenge's email. axe-core finds no WCAG 2.2 A/AA violation on any page, at desktop and phone
widths, and each is photographed into ``$ASSURE_SCREENSHOTS``."""

from __future__ import annotations

from contextlib import suppress
from datetime import UTC, datetime

import pytest
from playwright.async_api import async_playwright, expect
from temporalio.service import RPCError

from gateway.cycles import decide_return, return_status, run_cycle
from models.cycle_returns import ReturnStage
from models.cycles import agency_key, return_workflow_id
from store.cycles import write_cycles
from store.db import session_scope
from tests import factories as f
from tests.helpers import days, eventually, free_port, seed_registry, worker_maker
from tests.models.test_cycles import section_11
from tests.web.test_browser import (
    DESKTOP,
    Visit,
    chromium,  # noqa: F401 (a fixture)
    links_in_mail,
    screenshots,  # noqa: F401 (a fixture)
    serving,
    watch_for_problems,
)
from web.app import create_app

pytestmark = [pytest.mark.browser, pytest.mark.devserver]
PERIOD = "2050-51"


@pytest.mark.timeout(120)
async def test_a_lead_gives_a_return_from_the_emailed_link_in_chromium(
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
    seed_registry(database_url)
    with session_scope(database_url) as session:
        write_cycles(session=session, cycles=[section_11(cycle_id="S11-E2E", board="Review Board")],
                     now=datetime.now(UTC))  # fmt: skip
    app = create_app(web_settings, client=dev_env.client)
    make_worker = worker_maker(dev_env.client, settings=web_settings, executor=executor)
    ids = [return_workflow_id("S11-E2E", PERIOD, agency_key(a)) for a in (f.ICB, f.POLICE)]
    icb = ids[0]

    async with make_worker(), serving(app, port), async_playwright() as playwright:
        started = await run_cycle(dev_env.client, database_url, web_settings.task_queue, "S11-E2E", PERIOD)
        assert sorted(started.started) == sorted(ids)
        try:
            [link] = await eventually(lambda: links_in_mail(database_url, f.ICB_LEAD, base, "/c/"), timeout=30)
            browser = await playwright.chromium.launch(executable_path=chromium, headless=True)
            try:
                context = await browser.new_context(viewport=DESKTOP, locale="en-GB")
                context.set_default_timeout(10_000)
                page = await context.new_page()
                problems = watch_for_problems(page)
                visit = Visit(page, screenshots)

                await page.goto(link)
                await expect(page.get_by_role("heading", level=1)).to_have_text(f"{f.ICB}'s return")
                await visit.check("c1-return-form")

                first = page.get_by_role("group", name="1. Senior leadership for safeguarding")
                await first.get_by_label("Met", exact=True).check()
                await first.get_by_label("Evidence").fill("The board's minutes of March name the executive lead")
                second = page.get_by_role("group", name="2. Staff trained to their role")
                await second.get_by_label("Not met", exact=True).check()
                await second.get_by_label("Evidence").fill("61% of ward staff trained")
                await page.get_by_role("button", name="Submit the return").click()
                await expect(page.locator(".govuk-error-summary")).to_contain_text(
                    "not met: say what the agency will do about it, who owns it and by when"
                )
                await visit.check("c2-return-refused", photograph=False)

                second = page.get_by_role("group", name="2. Staff trained to their role")
                await expect(second.get_by_label("Evidence")).to_have_value("61% of ward staff trained")  # kept
                # Rated not met, the action's fields are open now, without a click.
                await second.get_by_label("What your agency will do").fill("Train every ward manager by March")
                await second.get_by_label("Who owns it (their work email)").fill(f.OWNER)
                await second.get_by_label("By when").fill((datetime.now(UTC).date() + days(120)).isoformat())
                await page.get_by_role("button", name="Submit the return").click()
                await expect(page.locator(".govuk-notification-banner--success")).to_contain_text("return is submitted")
                await expect(page.get_by_text("Action: Train every ward manager by March")).to_be_visible()
                await visit.check("c3-return-submitted")
                assert (await return_status(dev_env.client, icb)).state.stage is ReturnStage.submitted

                challenge = {"by": f.CHAIR, "challenge": "61% is not every ward: which wards are left, and when?"}
                await decide_return(dev_env.client, database_url, icb, "challenge_return", challenge)
                links = await eventually(
                    lambda: len(found := links_in_mail(database_url, f.ICB_LEAD, base, "/c/")) >= 2 and found,
                    timeout=30,
                )
                await page.goto(links[-1])
                await expect(page.get_by_text("which wards are left, and when?")).to_be_visible()
                await page.get_by_label("Your answer to the challenge").fill("Wards 3 and 7 train in May")
                await page.get_by_role("button", name="Submit the return").click()
                await expect(page.locator(".govuk-notification-banner--success")).to_be_visible()
                await visit.check("c4-challenge-answered")
                state = (await return_status(dev_env.client, icb)).state
                assert (state.stage, state.challenges[-1].response) == (
                    ReturnStage.submitted,
                    "Wards 3 and 7 train in May",
                )
                assert [] == problems, "the browser reported errors:\n" + "\n".join(problems)
                print(f"axe checked, no violations: {', '.join(visit.checked)}; screenshots in {screenshots}")
            finally:
                await browser.close()
        finally:
            for workflow_id in ids:
                with suppress(RPCError):
                    await dev_env.client.get_workflow_handle(workflow_id).terminate(reason="the test is over")
