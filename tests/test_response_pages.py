"""Response pages through FastAPI's client on the time-skipping server: every decision for every
role, refusals shown in the page with the input kept, CSRF, GET idempotence, bad links."""

from __future__ import annotations

import httpx
import pytest_asyncio

from tests import factories as f
from tests.helpers import today
from tests.web_client import Browser, text_of, token_for
from web.app import create_app


@pytest_asyncio.fixture
async def web(env, settings):
    app = create_app(settings, client=env.client)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=settings.base_url) as client:
        yield client


def person(web, settings, who: str, role: str, ref: str = "CSPR-2023-01", action_id: str | None = None, epoch: int = 0):
    return Browser(web, token_for(settings, who, ref, role, action_id, epoch))


async def test_an_owner_sees_their_action_and_acknowledges_it(env, start, web, settings):
    day = await today(env)
    await start(f.start(actions=f.two_actions(day + f.timedelta(days=40))))
    owner = person(web, settings, f.OWNER, "owner", action_id="A1")
    page = await owner.open()
    assert page.status_code == 200, text_of(page)
    words = text_of(page)
    print(words)
    assert "Waiting for you to confirm" in words
    after = await owner.act("acknowledge", {"action_id": "A1"})
    print(text_of(after))
