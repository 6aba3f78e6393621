"""The response pages and the dashboard in a real browser, end to end: Debian's headless Chromium (driven by
Playwright, never a downloaded browser) opens the personal link from a caught email, served over
HTTP by uvicorn, on the real Temporal dev server with a worker and the mail catcher.

Every page visited is checked with axe-core (WCAG 2.0, 2.1 and 2.2, levels A and AA), and the main
pages are photographed at phone and desktop widths into ``$ASSURE_SCREENSHOTS`` (else the test's
temporary directory) for a person to look at.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from contextlib import asynccontextmanager, suppress
from datetime import UTC, date, datetime
from email import message_from_string
from email.policy import default as default_policy
from pathlib import Path

import pytest
import uvicorn
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page, async_playwright, expect
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.service import RPCError

from gateway.workflows import start_recommendation
from models.payloads import Stage, SubmitPlansInput, WithdrawInput
from store.db import session_scope
from store.read_model import caught_mail, upsert_registry
from store.tables import Agency, Board, Person
from tests import factories as f
from tests.helpers import days, decide, eventually, free_port, status, stored_row, worker_maker
from tests.web_client import token_for
from web.app import create_app

pytestmark = [pytest.mark.browser, pytest.mark.devserver]

CHROMIUM_MISSING = "Debian's chromium is not installed: apt-get install -y chromium"
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]},
    "resultTypes": ["violations"],
}
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="session")
def chromium() -> str:
    """The path of Debian's chromium; without it the browser tests skip, except in CI, where they fail."""
    path = shutil.which("chromium")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(CHROMIUM_MISSING)
        pytest.skip(CHROMIUM_MISSING)
    return path


@pytest.fixture
def screenshots(tmp_path) -> Path:
    directory = Path(os.environ.get("ASSURE_SCREENSHOTS") or tmp_path / "screenshots")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@asynccontextmanager
async def serving(app, port: int):
    """The app served over real HTTP by uvicorn, in this event loop, until the block ends."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, access_log=False, log_level="warning"))
    task = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: server.started or task.done(), timeout=10)
        assert server.started, f"uvicorn did not start: {task.exception() if task.done() else 'still starting'}"
        yield
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)


def links_in_mail(database_url: str, recipient: str, base_url: str, path: str = "/r/") -> list[str]:
    """The links under ``path`` (personal response links, or ``/sign-in/``) in the plain-text parts
    of the messages caught for ``recipient``, oldest first."""
    with session_scope(database_url) as session:
        raws = [row.raw for row in caught_mail(session=session, recipient=recipient)]
    links = []
    for raw in raws:
        text = message_from_string(raw, policy=default_policy).get_body(preferencelist=("plain",)).get_content()
        links += re.findall(re.escape(base_url + path) + r"[A-Za-z0-9_.\-]+", text)
    return links


def tampered(link: str) -> str:
    """The link with one character in the middle of its signature changed (every bit of a middle
    base64 character counts; the last one's low bits may not)."""
    head, signature = link.rsplit(".", 1)
    middle = len(signature) // 2
    changed = "A" if signature[middle] != "A" else "g"
    return f"{head}.{signature[:middle]}{changed}{signature[middle + 1 :]}"


def violations_report(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation.get('impact')}): {violation['help']} <{violation['helpUrl']}>")
        for node in violation["nodes"]:
            lines.append(f"    at {' '.join(map(str, node['target']))}: {node.get('failureSummary', '').strip()}")
            lines.append(f"       {node['html'][:200]}")
    return "\n".join(lines)


def watch_for_problems(page: Page) -> list[str]:
    """What goes wrong in the browser: script errors, CSP refusals, assets that fail to load.
    (A page's own status, 422 or 403, is asserted where it is expected, not counted here.)"""
    problems: list[str] = []

    def console(message) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            problems.append(f"console: {message.text}")

    def response(answer) -> None:
        if answer.request.resource_type != "document" and answer.status >= 400:
            problems.append(f"{answer.status} for {answer.url}")

    page.on("console", console)
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on("response", response)
    # A request the browser itself abandoned (a favicon still loading when the test moves on to
    # the next page) is no fault of the page; any other failure is.
    page.on(
        "requestfailed",
        lambda request: (
            None
            if request.failure == "net::ERR_ABORTED"
            else problems.append(f"failed: {request.url} {request.failure}")
        ),
    )
    return problems


class Visit:
    """Checks each page the browser shows: axe finds nothing, and the main pages are photographed."""

    def __init__(self, page: Page, directory: Path) -> None:
        self.page = page
        self.directory = directory
        self.axe = Axe()
        self.checked: list[str] = []

    async def accessible(self, name: str) -> None:
        results = await self.axe.run(self.page, options=AXE_OPTIONS)
        violations = results.response["violations"]
        assert not violations, f"axe found violations on {name} ({self.page.url}):\n{violations_report(violations)}"
        self.checked.append(name)

    async def fits(self, name: str) -> None:
        """Nothing on the page is wider than the viewport: no sideways scrolling of the whole page."""
        width, viewport = await self.page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        wide = await self.page.evaluate(WIDEST_ELEMENTS) if width > viewport else []
        assert width <= viewport, f"{name} is {width} px wide in a {viewport} px viewport; too wide: {wide}"

    async def check(self, name: str, *, photograph: bool = True) -> None:
        """axe at desktop width; for a main page also at phone width, with a full-page screenshot of each."""
        await self.accessible(f"{name} (desktop)")
        if not photograph:
            return
        await self.page.screenshot(path=self.directory / f"{name}-desktop.png", full_page=True)
        await self.page.set_viewport_size(PHONE)
        await self.accessible(f"{name} (phone)")
        await self.fits(f"{name} (phone)")
        await self.page.screenshot(path=self.directory / f"{name}-phone.png", full_page=True)
        await self.page.set_viewport_size(DESKTOP)


# The elements that reach past the viewport's right edge, for a message that says where to look.
WIDEST_ELEMENTS = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
  .slice(-5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"""


async def fill_date(page: Page, legend: str, day: date) -> None:
    """Fill the three boxes of the date fieldset named ``legend``."""
    group = page.get_by_role("group", name=legend, exact=True)
    await group.get_by_label("Day").fill(str(day.day))
    await group.get_by_label("Month").fill(str(day.month))
    await group.get_by_label("Year").fill(str(day.year))


@pytest.mark.timeout(60)
async def test_an_owner_takes_their_action_to_sign_off_in_chromium(
    chromium, dev_env, settings, executor, database_url, screenshots
):
    """From the emailed link, an owner acknowledges, is shown a missing-evidence error, completes with evidence and submits the plans, reaching sign-off; a tampered link gets the link-problem page, whose form emails a fresh link that works; axe finds nothing on any page at either width."""
    port = free_port()
    web_settings = settings.model_copy(update={"base_url": f"http://127.0.0.1:{port}"})
    today = datetime.now(UTC).date()  # the dev server runs on the real clock
    ref = "E2E-BROWSER"
    with session_scope(database_url) as session:  # the plans name the owner, the auditor and the agency: registered
        upsert_registry(
            session=session,
            agencies=[Agency(name=f.ICB, safeguarding_lead_email=f.ICB_LEAD)],
            people=[Person(email=f.OWNER, name="Nia Nurse", roles="owner"),
                    Person(email=f.AUDITOR, name="Ade Auditor", roles="auditor"),
                    Person(email=f.ICB_LEAD, name="Ines Lead", roles="agency_lead", agency=f.ICB)],
            boards=[],
        )  # fmt: skip
    app = create_app(web_settings, client=dev_env.client)
    make_worker = worker_maker(dev_env.client, settings=web_settings, executor=executor)

    async with make_worker(), serving(app, port), async_playwright() as playwright:
        handle = await start_recommendation(
            dev_env.client, f.start(ref, actions=[f.action("A1", today + days(60))]), task_queue=web_settings.task_queue
        )
        try:
            [link] = await eventually(lambda: links_in_mail(database_url, f.OWNER, web_settings.base_url))

            browser = await playwright.chromium.launch(executable_path=chromium, headless=True)
            try:
                context = await browser.new_context(viewport=DESKTOP, locale="en-GB")
                context.set_default_timeout(10_000)
                page = await context.new_page()
                problems = watch_for_problems(page)
                visit = Visit(page, screenshots)
                stage = page.locator(".assure-standing .govuk-tag")

                # The task, as the email's link opens it.
                response = await page.goto(link)
                assert response is not None and 200 == response.status
                await expect(page.get_by_role("heading", level=1)).to_have_text(f.recommendation(ref).title)
                await expect(page.locator("#action-A1 .govuk-tag")).to_have_text("Waiting for you to confirm")
                await visit.check("1-task")

                await page.get_by_role("button", name="Confirm I have taken this on").click()
                await expect(page.locator(".govuk-notification-banner--success")).to_contain_text(
                    "you have confirmed you have taken on the action"
                )
                await expect(stage).to_have_text("Actions in progress")
                await visit.check("2-acknowledged", photograph=False)

                # Report complete with no evidence: the error summary, the field's message, the form kept open.
                await page.get_by_text("Report it complete", exact=True).click()
                await page.get_by_role("button", name="Report complete").click()
                summary = page.locator(".govuk-error-summary")
                await expect(summary).to_contain_text("There is a problem")
                await expect(summary.get_by_role("link")).to_have_text("Enter the evidence")
                await expect(page).to_have_title(re.compile(r"^Error: "))
                await expect(summary).to_be_focused()  # GOV.UK Frontend's script ran under our CSP
                await expect(page.get_by_label("Evidence that it is done")).to_be_visible()
                await visit.check("3-error")

                await summary.get_by_role("link", name="Enter the evidence").click()
                evidence = page.get_by_label("Evidence that it is done")
                await expect(evidence).to_be_focused()
                await evidence.fill("Guidance v2 published on the partnership site; 14 of 15 teams briefed (register)")
                await page.get_by_role("button", name="Report complete").click()
                await expect(stage).to_have_text("Plans due")
                await expect(page.locator("#action-A1 .govuk-tag")).to_have_text(re.compile(r"^\s*Complete on "))
                await visit.check("4-plans")

                # The plans, then sign-off is what is waited for.
                plans, audit = f.credible_plans(today)
                await page.get_by_label("Who needs to know").fill("\n".join(plans.audiences))
                await page.get_by_label("How they will hear").fill("\n".join(plans.channels))
                await page.get_by_label("How the learning will be discussed and tested in teams").fill(
                    plans.socialisation
                )
                await page.get_by_label("Who owns the dissemination plan").fill(f.OWNER)
                await fill_date(page, "Dissemination starts", plans.starts)
                await fill_date(page, "Dissemination ends", plans.ends)
                # The cascade: one agency, confirmed by its safeguarding lead (the default), by a date.
                await page.get_by_label("Agency", exact=True).select_option(f.ICB)
                await page.get_by_label("Staff group").fill(plans.cascade[0].staff_group)
                await page.get_by_label("How many staff to reach").fill(str(f.ICB_REACH))
                await fill_date(page, "Every agency confirms by", plans.cascade_by)
                await page.get_by_label("Audit method").fill(audit.method)
                await page.get_by_label("Auditor", exact=True).fill(f.AUDITOR)
                await fill_date(page, "Audit date", audit.audit_on)
                await page.get_by_label("Success measures").fill("\n".join(audit.success_measures))
                await page.get_by_role("button", name="Submit the plans").click()
                await expect(page.locator(".govuk-notification-banner--success")).to_contain_text(
                    "The plans are recorded"
                )
                await expect(stage).to_have_text("Waiting for sign-off")
                await expect(page.locator(".govuk-inset-text")).to_contain_text("complete enough")
                await visit.check("5-sign-off")
                assert Stage.sign_off == (await status(handle)).stage

                # A link whose signature does not check out.
                response = await page.goto(tampered(link))
                assert response is not None and 403 == response.status
                await expect(page.get_by_role("heading", level=1)).to_have_text("This link cannot be used")
                await expect(page.get_by_label("Your work email address")).to_be_visible()
                await visit.check("6-bad-link")

                # Asking for a new link there: the same answer whoever asks, and the owner gets one by email.
                await page.get_by_label("Your work email address").fill(f.OWNER)
                await page.get_by_label("Recommendation reference").fill(ref)
                await page.get_by_role("button", name="Send me a new link").click()
                await expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
                await visit.check("7-fresh-link-sent", photograph=False)
                fresh = await eventually(lambda: links_in_mail(database_url, f.OWNER, web_settings.base_url)[1:])
                await page.goto(fresh[0])
                await expect(stage).to_have_text("Waiting for sign-off")
                await visit.check("8-fresh-link-opened", photograph=False)

                assert [] == problems, "the browser reported errors:\n" + "\n".join(problems)
                print(f"axe checked, no violations: {', '.join(visit.checked)}; screenshots in {screenshots}")
            finally:
                await browser.close()
        finally:
            with suppress(WorkflowUpdateFailedError):
                await decide(handle, "withdraw", WithdrawInput(by=f.SPONSOR, reason="browser test finished"))
            with suppress(WorkflowFailureError):
                await asyncio.wait_for(handle.result(), timeout=10)


@pytest.mark.timeout(60)
async def test_the_assurance_board_signs_in_signs_off_and_records_an_audit_in_chromium(
    chromium, dev_env, settings, executor, database_url, screenshots
):
    """A board member asks for a sign-in link, signs in from the email, finds the recommendation on
    the overview, is refused sign-off with the plans' gaps shown, signs off once credible plans are
    in, records the audit and signs out; axe finds nothing on any page."""
    port = free_port()
    web_settings = settings.model_copy(update={"base_url": f"http://127.0.0.1:{port}"})
    today = datetime.now(UTC).date()
    ref = "E2E-BOARD"
    with session_scope(database_url) as session:
        upsert_registry(
            session=session,
            # Each agency of the plans' cascade with the safeguarding lead who confirms it.
            agencies=[
                Agency(name=f.ICB, safeguarding_lead_email=f.ICB_LEAD),
                Agency(name=f.POLICE, safeguarding_lead_email=f.POLICE_LEAD),
            ],
            people=[
                Person(email=f.ASSURANCE, name="Sam Scrutineer", roles="assurance_member"),
                Person(email=f.OWNER, name="Nia Nurse", roles="owner"),
                Person(email=f.ICB_LEAD, name="Ines Lead", roles="agency_lead", agency=f.ICB),
                Person(email=f.POLICE_LEAD, name="Paul Lead", roles="agency_lead", agency=f.POLICE),
            ],
            boards=[Board(name="Review Board", sponsor_email=f.SPONSOR)],
        )
    app = create_app(web_settings, client=dev_env.client)
    make_worker = worker_maker(dev_env.client, settings=web_settings, executor=executor)

    async with make_worker(), serving(app, port), async_playwright() as playwright:
        handle = await start_recommendation(
            dev_env.client, f.start(ref, actions=[f.action("A1", today + days(60))]), task_queue=web_settings.task_queue
        )
        try:
            await decide(handle, "complete_action", {"by": f.OWNER, "action_id": "A1", "evidence": "Briefings held"})
            credible, audit = f.credible_plans(today)
            weak = credible.model_copy(update={"channels": [], "socialisation": ""})
            await decide(handle, "submit_plans", SubmitPlansInput(by=f.OWNER, dissemination=weak, audit=audit))
            await eventually(lambda: (row := stored_row(database_url, ref)) is not None and row.stage == "sign_off")

            browser = await playwright.chromium.launch(executable_path=chromium, headless=True)
            try:
                context = await browser.new_context(viewport=DESKTOP, locale="en-GB")
                context.set_default_timeout(10_000)
                page = await context.new_page()
                problems = watch_for_problems(page)
                visit = Visit(page, screenshots)
                base = web_settings.base_url

                # Signing in: the address, the email, the button.
                await page.goto(f"{base}/dashboard")
                await expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to Assure")
                await visit.check("d1-sign-in")
                await page.get_by_label("Your work email address").fill(f.ASSURANCE)
                await page.get_by_role("button", name="Email me a sign-in link").click()
                await expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
                await visit.check("d2-check-email", photograph=False)
                [link] = await eventually(lambda: links_in_mail(database_url, f.ASSURANCE, base, "/sign-in/"))
                await page.goto(link)
                await expect(page.get_by_text("You are signing in as")).to_contain_text(f.ASSURANCE)
                await visit.check("d3-confirm", photograph=False)
                await page.get_by_role("button", name="Sign in").click()

                # The overview, with the recommendation waiting for sign-off.
                await expect(page.get_by_role("heading", level=1)).to_have_text("Overview")
                waiting = page.locator("#awaiting-sign-off")
                await expect(waiting).to_contain_text(ref)
                await expect(page.locator("svg[role=img]")).to_have_count(4)
                await visit.check("d4-overview")

                # Its page: sign-off refused with the gaps, then taken once the plans are credible.
                await waiting.get_by_role("link", name=ref).click()
                await expect(page.get_by_role("heading", level=2, name="Timeline")).to_be_visible()
                await expect(page.locator("#timeline-table")).to_contain_text("Email sent")
                await page.get_by_role("button", name="Sign off").click()
                summary = page.locator(".govuk-error-summary")
                await expect(summary).to_contain_text("cannot sign off yet")
                await expect(page.locator(".assure-refusal")).to_contain_text("channel")
                await visit.check("d5-refused")
                assert Stage.sign_off == (await status(handle)).stage

                await decide(handle, "submit_plans", SubmitPlansInput(by=f.OWNER, dissemination=credible, audit=audit))
                await page.goto(f"{base}/dashboard/r/{ref}")
                await page.get_by_role("button", name="Sign off").click()
                await expect(page.locator(".govuk-notification-banner--success")).to_be_visible()
                await expect(page.get_by_role("heading", name="Record the audit")).to_be_visible()
                await visit.check("d6-signed-off", photograph=False)

                # The audit: embedded, with findings; the recommendation is assured and closed.
                await page.get_by_label("Embedded", exact=True).check()
                await page.get_by_label("Findings").fill("Professionals' meetings held in 18 of 20 cases audited")
                await page.get_by_label("I confirm this audit is early").check()  # the plans date it months ahead
                await page.get_by_label("Why it is recorded early").fill("Brought forward for the inspection")
                await page.get_by_role("button", name="Record the audit").click()
                await expect(page.locator(".govuk-notification-banner--success")).to_be_visible()
                await expect(page.locator(".assure-standing .govuk-tag")).to_have_text("Assured (closed)")
                await visit.check("d7-assured")
                assert Stage.assured == (await status(handle)).stage

                await page.get_by_role("button", name="Sign out").click()
                await expect(page.get_by_text("You have signed out.")).to_be_visible()
                await visit.check("d8-signed-out", photograph=False)
                await page.goto(f"{base}/dashboard")
                await expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to Assure")

                assert [] == problems, "the browser reported errors:\n" + "\n".join(problems)
                print(f"axe checked, no violations: {', '.join(visit.checked)}; screenshots in {screenshots}")
            finally:
                await browser.close()
        finally:
            # Already closed when the test passed; withdrawn if it stopped half-way.
            with suppress(WorkflowUpdateFailedError, RPCError):
                await decide(handle, "withdraw", WithdrawInput(by=f.SPONSOR, reason="browser test finished"))
            with suppress(WorkflowFailureError):
                await asyncio.wait_for(handle.result(), timeout=10)


async def sign_in(page: Page, base: str, database_url: str, who: str) -> None:
    """Sign in to the dashboard as ``who`` through the emailed one-time link."""
    await page.goto(f"{base}/sign-in")
    await page.get_by_label("Your work email address").fill(who)
    await page.get_by_role("button", name="Email me a sign-in link").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    [link] = await eventually(lambda: links_in_mail(database_url, who, base, "/sign-in/"))
    await page.goto(link)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Overview")


@pytest.mark.timeout(120)
async def test_caught_mail_the_sponsors_escalation_forms_gaps_an_early_audit_and_the_timeline_in_chromium(
    chromium, dev_env, settings, executor, database_url, screenshots
):
    """The caught-mail list and a message (its HTML part framed and sandboxed), a sponsor's page with the
    escalation forms and a refusal beside one, a refused sign-off listing every gap, the early-audit
    question and the timeline: axe finds nothing and no page is wider than a 390 px phone."""
    port = free_port()
    web_settings = settings.model_copy(update={"base_url": f"http://127.0.0.1:{port}"})
    base = web_settings.base_url
    today = datetime.now(UTC).date()
    with session_scope(database_url) as session:  # people only: each workflow keeps its factory holders
        upsert_registry(
            session=session,
            agencies=[],
            people=[
                Person(email=f.ASSURANCE, name="Sam Scrutineer", roles="assurance_member"),
                Person(email=f.OWNER, name="Nia Nurse", roles="owner"),
                Person(email=f.OWNER_2, name="Pat Officer", roles="owner"),
                Person(email=f.AUDITOR, name="Ade Auditor", roles="auditor"),
            ],
            boards=[],
        )
    app = create_app(web_settings, client=dev_env.client, dev_pages=True)
    make_worker = worker_maker(dev_env.client, settings=web_settings, executor=executor)
    late, weak, early = "E2E-LATE", "E2E-GAPS", "E2E-EARLY"

    async with make_worker(), serving(app, port), async_playwright() as playwright:
        handles = [
            await start_recommendation(
                dev_env.client,
                f.start(
                    late, actions=[f.action("A1", today - days(20)), f.action("A2", today + days(30), owner=f.OWNER_2)]
                ),
                task_queue=web_settings.task_queue,
            )
        ]
        try:
            credible, audit = f.credible_plans(today)
            for ref, plans in (
                (weak, credible.model_copy(update={"channels": [], "socialisation": ""})),
                (early, credible),
            ):
                handle = await start_recommendation(
                    dev_env.client,
                    f.start(ref, actions=[f.action("A1", today + days(60))]),
                    task_queue=web_settings.task_queue,
                )
                handles.append(handle)
                await decide(
                    handle, "complete_action", {"by": f.OWNER, "action_id": "A1", "evidence": "Briefings held"}
                )
                await decide(handle, "submit_plans", SubmitPlansInput(by=f.OWNER, dissemination=plans, audit=audit))
            await decide(handles[2], "sign_off", {"by": f.ASSURANCE})
            await eventually(lambda: links_in_mail(database_url, f.OWNER_2, base))

            browser = await playwright.chromium.launch(executable_path=chromium, headless=True)
            try:
                context = await browser.new_context(viewport=DESKTOP, locale="en-GB")
                context.set_default_timeout(10_000)
                page = await context.new_page()
                problems = watch_for_problems(page)
                visit = Visit(page, screenshots)

                # Caught mail: the list's links work; a message shows its text and its framed HTML part.
                await page.goto(f"{base}/dev/mail")
                await expect(page.get_by_role("heading", level=1)).to_have_text("Caught mail")
                await visit.check("m1-mail-list")
                await page.locator(".assure-mail-list a").first.click()
                await expect(page.get_by_role("heading", name="The text part")).to_be_visible()
                frame = page.locator("iframe.assure-mail-frame")
                await expect(frame).to_have_attribute("sandbox", "")
                await expect(page.frame_locator("iframe.assure-mail-frame").locator("body")).to_contain_text("Assure")
                await visit.check("m2-mail-message")

                # The sponsor's page: what a sponsor does with an escalation, and a refusal beside its form.
                sponsor_link = f"{base}/r/{token_for(web_settings, f.SPONSOR, late, 'sponsor')}"
                await page.goto(sponsor_link)
                for summary in ("Agree a new due date", "Send the owner a reminder now"):
                    await expect(page.locator("#action-A1").get_by_text(summary, exact=True)).to_be_visible()
                await expect(page.get_by_text("Add an action to this recommendation", exact=True)).to_be_visible()
                await expect(page.get_by_text("Record what the board decided", exact=True)).to_be_visible()
                await page.locator("#action-A2").get_by_text("Agree a new due date", exact=True).click()
                form = page.locator("#change_due_date-A2")
                await fill_date(form, "New due date", today + days(30))  # its date already: refused
                await form.get_by_label("Why the date changes").fill("Training moved")
                await form.get_by_role("button", name="Agree the new date").click()
                await expect(page.locator(".govuk-error-summary")).to_contain_text("already due on")
                await expect(page.locator("#change_due_date-A2").get_by_label("Why the date changes")).to_have_value(
                    "Training moved"
                )
                await page.get_by_text("Record what the board decided", exact=True).click()
                await visit.check("s1-sponsor-escalation")
                await (
                    page.locator("#record_board_decision")
                    .get_by_label("What the board decided")
                    .fill("The agency's director attends the next meeting with a recovery plan")
                )
                await page.locator("#record_board_decision").get_by_role("button", name="Record the decision").click()
                await expect(page.locator(".govuk-notification-banner--success")).to_contain_text(
                    "decision is recorded"
                )

                # A refused sign-off lists every gap at the top.
                await page.goto(f"{base}/r/{token_for(web_settings, f.ASSURANCE, weak, 'assurance_member')}")
                await page.get_by_role("button", name="Sign off").click()
                summary = page.locator(".govuk-error-summary")
                await expect(summary).to_contain_text("cannot sign off yet")
                assert await summary.get_by_role("link").count() >= 3  # the refusal and each gap
                await visit.check("g1-sign-off-gaps")

                # An audit before its date: the question, refused unconfirmed.
                await page.goto(f"{base}/r/{token_for(web_settings, f.AUDITOR, early, 'auditor')}")
                await expect(page.get_by_label("I confirm this audit is early")).to_be_visible()
                await page.get_by_label("Embedded", exact=True).check()
                await page.get_by_role("button", name="Record the audit").click()
                await expect(page.locator(".govuk-error-summary")).to_contain_text("Confirm that this audit is early")
                await visit.check("a1-early-audit")

                # The timeline of the late recommendation, in words and London time.
                await sign_in(page, base, database_url, f.ASSURANCE)
                await visit.check("t0-overview")
                await page.goto(f"{base}/dashboard/r/{late}")
                timeline = page.locator("#timeline-table")
                await expect(timeline).to_contain_text("The board's decision recorded")
                await expect(timeline).not_to_contain_text("stage:")
                await expect(timeline).to_contain_text(re.compile(r"\d{2}:\d{2} (GMT|BST)"))
                await page.locator("#timeline").scroll_into_view_if_needed()
                await visit.check("t1-timeline")
                await page.goto(f"{base}/dashboard/recommendations")
                await visit.check("t2-list")

                assert [] == problems, "the browser reported errors:\n" + "\n".join(problems)
                print(f"axe checked, no violations: {', '.join(visit.checked)}; screenshots in {screenshots}")
            finally:
                await browser.close()
        finally:
            for handle in handles:
                with suppress(WorkflowUpdateFailedError, RPCError):
                    await decide(handle, "withdraw", WithdrawInput(by=f.SPONSOR, reason="browser test finished"))
                with suppress(WorkflowFailureError):
                    await asyncio.wait_for(handle.result(), timeout=10)
