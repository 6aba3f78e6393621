"""What every request handler needs, made once per process: settings, the Temporal client, the
link signer, CSRF tokens, rate limits and the page renderer."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment
from temporalio.client import Client

from models.links import LinkSigner
from settings import Settings
from web.security import CsrfTokens, RateLimits

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Built by the set-up commands from the pinned npm packages; never committed.
GOVUK_DIST = PROJECT_ROOT / "node_modules" / "govuk-frontend" / "dist" / "govuk"
BUILT_CSS = PROJECT_ROOT / "web" / "static" / "build" / "assure.css"


@dataclass
class WebContext:
    settings: Settings
    client: Client
    signer: LinkSigner
    csrf: CsrfTokens
    rate_limits: RateLimits
    env: Environment
    # Without the npm assets the pages still work, unstyled: the links to them are left out.
    styled: bool = field(default_factory=BUILT_CSS.is_file)
    scripted: bool = field(default_factory=lambda: (GOVUK_DIST / "govuk-frontend.min.js").is_file())

    def page(
        self, request: Request, template: str, context: dict[str, Any], *, status_code: int = 200, error: bool = False
    ) -> HTMLResponse:
        """Render one of ``templates/web/`` as a full page."""
        html = self.env.get_template(template).render(
            {**context, "styled": self.styled, "scripted": self.scripted, "has_error": error}
        )
        return HTMLResponse(html, status_code=status_code)
