"""The pages' assets: GOV.UK Frontend from the pinned npm package, styled without GDS Transport,
and pages that still work when npm never ran."""

from __future__ import annotations

import json

import httpx
import pytest

from web.app import create_app
from web.context import BUILT_CSS, PROJECT_ROOT

built = pytest.mark.skipif(
    not BUILT_CSS.is_file(), reason="the npm assets are not built (npm missing): `make` builds them"
)


@pytest.fixture
async def web(settings):
    app = create_app(settings)  # no Temporal needed for these pages
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=settings.base_url) as client:
        client.app = app
        yield client


def test_govuk_frontend_is_pinned_to_the_version_the_macros_match():
    package = json.loads((PROJECT_ROOT / "package.json").read_text())
    lock = json.loads((PROJECT_ROOT / "package-lock.json").read_text())
    assert package["devDependencies"]["govuk-frontend"] == "6.3.0"  # govuk-frontend-jinja 4.1
    assert lock["packages"]["node_modules/govuk-frontend"]["version"] == "6.3.0"


@built
async def test_styles_and_scripts_are_served_from_this_server(web):
    page = await web.get("/")
    assert '<link rel="stylesheet" href="/static/build/assure.css">' in page.text
    assert '<script type="module" src="/static/app.mjs"></script>' in page.text
    css = await web.get("/static/build/assure.css")
    assert css.status_code == 200 and ".govuk-button" in css.text
    # Not a GOV.UK service: Arial, not the GDS Transport typeface, and no font files at all.
    assert "GDS Transport" not in css.text and "@font-face" not in css.text
    script = await web.get("/assets/govuk-frontend.min.js")
    assert script.status_code == 200 and "initAll" in script.text
    assert "://" not in page.text  # nothing loaded from anywhere else


async def test_pages_work_unstyled_without_the_npm_assets(web):
    ctx = web.app.state.ctx
    ctx.styled = ctx.scripted = False
    page = await web.get("/")
    assert page.status_code == 200
    assert "stylesheet" not in page.text and "<script" not in page.text
    assert "open the personal link in the email" in page.text


def test_no_crown_or_govuk_logo_in_any_template():
    for template in (PROJECT_ROOT / "templates" / "web").glob("*.html"):
        text = template.read_text()
        # GOV.UK's header and footer macros draw the crown and the GOV.UK logotype.
        assert "govukHeader(" not in text and "govukFooter(" not in text, template
        assert "govuk-crest" not in text and "govuk-logo" not in text, template
