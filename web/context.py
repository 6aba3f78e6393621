"""What every request handler needs, made once per process: settings, the Temporal client, the
link signer, CSRF tokens, rate limits, the page renderer, the dashboard's sign-in links and
session cookies, and the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment
from starlette.datastructures import FormData
from temporalio.client import Client

from links.signed import LinkSigner
from models.wording import LONDON
from settings import Settings
from store.sessions import SessionCookies, SignInLinks
from web.security import MAX_FORM_FIELDS, CsrfTokens, RateLimits, client_address, same_origin

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Built by the set-up commands from the pinned npm packages; never committed.
GOVUK_DIST = PROJECT_ROOT / "node_modules" / "govuk-frontend" / "dist" / "govuk"
BUILT_CSS = PROJECT_ROOT / "web" / "static" / "build" / "assure.css"


def utc_now() -> datetime:
    """The wall clock, as an aware UTC time: the web's clock unless ``create_app`` is given another."""
    return datetime.now(UTC)


@dataclass
class WebContext:
    settings: Settings
    client: Client
    signer: LinkSigner
    csrf: CsrfTokens
    rate_limits: RateLimits
    env: Environment
    sign_in_links: SignInLinks
    cookies: SessionCookies
    # The one source of "now" for every handler (sessions, lists, the import's "today"), so that a
    # test can show the pages as they stand on any day.
    clock: Callable[[], datetime] = utc_now
    # Without the npm assets the pages still work, unstyled: the links to them are left out.
    styled: bool = field(default_factory=BUILT_CSS.is_file)
    scripted: bool = field(default_factory=lambda: (GOVUK_DIST / "govuk-frontend.min.js").is_file())

    def london_today(self) -> date:
        """Today's date on London's clock, where the partnership works and writes its dates."""
        return self.clock().astimezone(LONDON).date()

    def page(
        self, request: Request, template: str, context: dict[str, Any], *, status_code: int = 200, error: bool = False
    ) -> HTMLResponse:
        """Render one of ``templates/web/`` as a full page."""
        html = self.env.get_template(template).render(
            {**context, "styled": self.styled, "scripted": self.scripted, "has_error": error}
        )
        return HTMLResponse(html, status_code=status_code)

    def limited(self, request: Request, bucket: str, *, subject: str | None = None) -> Response | None:
        """The "too many requests" page if ``subject`` (by default this client's address) is over
        ``bucket``'s limit, else None."""
        wait = self.rate_limits.hit(bucket, subject if subject is not None else client_address(request))
        if wait is None:
            return None
        response = self.page(request, "too_many.html", {"wait_minutes": max(1, round(wait / 60))}, status_code=429)
        response.headers["Retry-After"] = str(wait)
        return response

    async def guarded_form(
        self, request: Request, *, binding: str, bucket: str, subject: str | None = None
    ) -> FormData | Response:
        """The posted form, or the page that refuses it: the origin and a CSRF token bound to
        ``binding`` (the page's link token, or the session cookie) first, then the rate limit,
        counted against ``subject`` (a signed link's person) or else the client's address.

        Counting only what passed the cheap checks means junk posts (which fail them) never use
        up a real person's allowance, however many share the address they come from."""
        form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
        csrf = form.get("csrf_token")
        if not (
            same_origin(request, self.settings.base_url)
            and self.csrf.valid(csrf if isinstance(csrf, str) else None, binding)
        ):
            return self.page(request, "csrf_refused.html", {}, status_code=403)
        if limited := self.limited(request, bucket, subject=subject):
            return limited
        return form
