"""Test helpers for the web app: links as the worker mints them, and forms as a browser posts them."""

from __future__ import annotations

import re
from datetime import date
from html import unescape

import httpx

# Links and CSRF tokens live in devtools (the benchmarks use them too); the tests import them from here.
from devtools.web_forms import csrf_of as csrf_of
from devtools.web_forms import token_for as token_for


def date_fields(name: str, day: date) -> dict[str, str]:
    return {f"{name}-day": str(day.day), f"{name}-month": str(day.month), f"{name}-year": str(day.year)}


class Browser:
    """A person with one link: opens their page and posts its forms, CSRF token included."""

    def __init__(self, client: httpx.AsyncClient, token: str) -> None:
        self.client = client
        self.token = token
        self.path = f"/r/{token}"

    async def open(self) -> httpx.Response:
        return await self.client.get(self.path)

    async def post(self, decision: str, fields: dict[str, str], *, csrf: str | None = None) -> httpx.Response:
        if csrf is None:
            page = await self.open()
            csrf = csrf_of(page.text)
        return await self.client.post(f"{self.path}/{decision}", data={"csrf_token": csrf, **fields})

    async def act(self, decision: str, fields: dict[str, str]) -> httpx.Response:
        """Post and follow the redirect to the page, as a browser does after a decision."""
        response = await self.post(decision, fields)
        assert response.status_code == 303, f"{decision} was not taken: {response.status_code}\n{text_of(response)}"
        return await self.client.get(response.headers["location"])


def text_of(response: httpx.Response) -> str:
    """The page's visible words, one space apart: what assertions about wording read."""
    body = re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", response.text)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", body)).split())


SIGN_IN_LINK = re.compile(r"https?://\S+/sign-in/\S+")


class Dashboard:
    """One person's browser on the dashboard: its own cookie jar, and forms posted with their token."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def ask_for_link(self, email: str) -> httpx.Response:
        page = await self.client.get("/sign-in")
        return await self.client.post("/sign-in", data={"csrf_token": csrf_of(page.text), "email": email})

    async def use_link(self, link: str) -> httpx.Response:
        path = "/" + link.split("/", 3)[3]
        page = await self.client.get(path)
        assert page.status_code == 200, text_of(page)
        return await self.client.post(path, data={"csrf_token": csrf_of(page.text)})

    async def post(self, path: str, fields: dict[str, str]) -> httpx.Response:
        """Post a form of the page it is on: a recommendation's, or else the overview (sign-out)."""
        page = await self.client.get(path.rsplit("/", 1)[0] if path.startswith("/dashboard/r/") else "/dashboard")
        return await self.client.post(path, data={"csrf_token": csrf_of(page.text), **fields})
