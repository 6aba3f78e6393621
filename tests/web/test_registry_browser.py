"""The registry's pages in a real browser (Debian's headless Chromium, uvicorn, the real Temporal dev
server with a worker): an admin opens the registry from the navigation, edits a board's policy,
has it refused at its field (the error summary focused, its link moving to the field), then saves
it and reads the banner and the change; then adds an agency. axe-core finds no WCAG 2.2 A/AA
violation on any page, at desktop and phone widths, and each is photographed into
``$ASSURE_SCREENSHOTS`` (else the test's temporary directory)."""

from __future__ import annotations

import pytest
from playwright.async_api import async_playwright, expect
from sqlmodel import select

from store.db import session_scope
from store.tables import Board
from tests.helpers import free_port, worker_maker
from tests.web.test_browser import (
    DESKTOP,
    Visit,
    chromium,  # noqa: F401 (a fixture)
    screenshots,  # noqa: F401 (a fixture)
    serving,
    sign_in,
    watch_for_problems,
)
from tests.web.test_registry_pages import ADMIN, seed_with_admin
from web.app import create_app

pytestmark = [pytest.mark.browser, pytest.mark.devserver]


@pytest.mark.timeout(120)
async def test_an_admin_edits_a_board_s_policy_and_adds_an_agency_in_chromium(
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
    seed_with_admin(database_url)
    app = create_app(web_settings, client=dev_env.client)
    make_worker = worker_maker(dev_env.client, settings=web_settings, executor=executor)

    async with make_worker(), serving(app, port), async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, headless=True)
        try:
            context = await browser.new_context(viewport=DESKTOP, locale="en-GB")
            context.set_default_timeout(10_000)
            page = await context.new_page()
            problems = watch_for_problems(page)
            visit = Visit(page, screenshots)
            banner = page.locator(".govuk-notification-banner--success")
            summary = page.locator(".govuk-error-summary")

            await sign_in(page, base, database_url, ADMIN)
            await page.get_by_role("link", name="Registry", exact=True).click()
            await expect(page.get_by_role("heading", level=1)).to_have_text("Registry")
            await expect(page.locator("#board-list")).to_contain_text("Review Board")
            await visit.check("g1-registry-list")

            # A board's policy: refused out of order, at its field, then saved.
            await page.get_by_role("link", name="Edit Review Board").click()
            await expect(page.get_by_role("heading", level=1)).to_have_text("Review Board")
            board_after = page.get_by_label("Escalate to the board this long after the due date")
            await expect(board_after).to_have_value("P14D")
            await board_after.fill("P60D")
            await page.get_by_role("button", name="Save the changes").click()
            await expect(summary).to_contain_text("The board_after must be shorter than assurance_after")
            await expect(summary).to_be_focused()
            await expect(page.locator("#board-board_after")).to_have_value("P60D")
            await visit.check("g2-board-refused")
            await summary.get_by_role("link").click()
            await expect(page.locator("#board-board_after")).to_be_focused()

            await page.locator("#board-board_after").fill("P10D")
            await page.get_by_role("button", name="Save the changes").click()
            await expect(banner).to_contain_text("Board saved: board_after P14D → P10D.")
            await expect(page.locator("#change-list")).to_contain_text("Ada Admin")
            await visit.check("g3-board-saved")
            with session_scope(database_url) as session:
                assert "P10D" == session.exec(select(Board)).one().board_after

            # An agency added from the list.
            await page.get_by_role("link", name="Back to the registry").click()
            await page.get_by_role("link", name="Add an agency").click()
            await expect(page.get_by_role("heading", level=1)).to_have_text("Add an agency")
            await page.get_by_label("Name", exact=True).fill("Milton Keynes Council")
            await page.get_by_label("Short name").fill("MKC")
            await page.get_by_role("button", name="Add the agency").click()
            await expect(banner).to_contain_text("Agency added: short_name (none) → MKC.")
            await expect(page.get_by_role("heading", level=1)).to_have_text("Milton Keynes Council")
            await visit.check("g4-agency-added", photograph=False)

            assert [] == problems, "the browser reported errors:\n" + "\n".join(problems)
            print(f"axe checked, no violations: {', '.join(visit.checked)}; screenshots in {screenshots}")
        finally:
            await browser.close()
