"""The caught-mail pages of ``assure dev``: working links, both parts of a message, and the HTML
part sandboxed under a policy of its own so that mail HTML never runs as the app's page."""

from __future__ import annotations

import re
from email.message import EmailMessage

import aiosmtplib
import httpx
import pytest_asyncio

from tests.web_client import text_of
from web.app import create_app

LINK = "https://assure.mktogether.example/r/abc.def"


@pytest_asyncio.fixture
async def dev_web(settings):
    """The app as ``assure dev`` serves it (with the caught-mail pages); no workflow is asked."""
    app = create_app(settings, client=None, dev_pages=True)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=settings.base_url) as client:
        yield client


async def send(port: int, *, subject: str = "[CSPR-1] New task for you: action A1") -> None:
    message = EmailMessage()
    message["From"] = "Assure <assure@mk.example>"
    message["To"] = "named.nurse@icb.example"
    message["Subject"] = subject
    message.set_content(f"Acknowledge the task:\n{LINK}\n")
    message.add_alternative(
        f'<p style="color:#d4351c">Hostile <b>HTML</b></p><script>document.title="ran"</script><a href="{LINK}">Go</a>',
        subtype="html",
    )
    await aiosmtplib.send(message, hostname="127.0.0.1", port=port)


class TestCaughtMail:
    async def test_the_list_links_to_each_message(self, dev_web, mail_port):
        """Each message in the list is a working link to its page, its subject escaped as text."""
        await send(mail_port, subject="<b>[CSPR-1]</b> New task")
        page = await dev_web.get("/dev/mail")
        assert 200 == page.status_code
        [(href, label)] = re.findall(r'<a class="govuk-link[^"]*" href="(/dev/mail/\d+)">([^<]*)</a>', page.text)
        assert "&lt;b&gt;[CSPR-1]&lt;/b&gt; New task" == label
        assert 200 == (await dev_web.get(href)).status_code
        assert "London time" in text_of(page)

    async def test_a_message_shows_its_text_part_and_frames_its_html_part_sandboxed(self, dev_web, mail_port):
        """A message's page has its link, its text part preformatted, and its HTML part only in a
        sandboxed frame (no scripts allowed), never in the page itself."""
        await send(mail_port)
        page = await dev_web.get("/dev/mail/1")
        assert 200 == page.status_code
        assert f'href="{LINK}"' in page.text
        assert re.search(r'<pre [^>]*id="text-part">Acknowledge the task:\s+' + re.escape(LINK), page.text)
        [frame] = re.findall(r"<iframe [^>]*>", page.text)
        assert 'src="/dev/mail/1/html"' in frame and re.search(r"\bsandbox(\s|>)", frame), frame
        assert "allow-scripts" not in frame and "allow-same-origin" not in frame
        assert "<script>document.title" not in page.text and "Hostile" not in page.text
        assert "frame-src 'self'" in page.headers["content-security-policy"]

    async def test_the_html_part_is_served_under_a_sandboxing_policy_of_its_own(self, dev_web, mail_port):
        """The HTML part's own address carries a policy that sandboxes it, allows no script and lets
        only this origin frame it; the app's other pages still may not be framed at all."""
        await send(mail_port)
        part = await dev_web.get("/dev/mail/1/html")
        assert 200 == part.status_code and "Hostile <b>HTML</b>" in part.text
        policy = [d.strip() for d in part.headers["content-security-policy"].split(";")]
        assert "sandbox" in policy and "frame-ancestors 'self'" in policy and "default-src 'none'" in policy
        assert not [d for d in policy if d.startswith("script-src")]
        assert "SAMEORIGIN" == part.headers["x-frame-options"]
        listing = await dev_web.get("/dev/mail")
        assert "frame-ancestors 'none'" in listing.headers["content-security-policy"]
        assert "DENY" == listing.headers["x-frame-options"]

    async def test_an_unknown_message_is_not_found(self, dev_web, mail_port):
        """A message number nothing was caught under is a plain 404, page and part alike."""
        assert 404 == (await dev_web.get("/dev/mail/99")).status_code
        assert 404 == (await dev_web.get("/dev/mail/99/html")).status_code
