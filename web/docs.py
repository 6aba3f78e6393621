"""``GET /docs``: the JSON API in Swagger UI, served from the pinned ``swagger-ui-dist`` npm package.

FastAPI's own docs page loads Swagger UI from a CDN and starts it with an inline script, both of
which the Content-Security-Policy forbids. This page loads the same files from this server and
starts them from an external file of our own, ``web/static/swagger-init.js``.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

from web.context import PROJECT_ROOT

# Installed by the set-up commands from the version pinned in package-lock.json; never committed.
SWAGGER_UI_DIST = PROJECT_ROOT / "node_modules" / "swagger-ui-dist"
SWAGGER_UI_ASSETS = "/assets/swagger-ui"
DOCS_PATH = "/docs"

SWAGGER_UI_PAGE = f"""<!DOCTYPE html>
<html lang="en-GB">
<head>
  <meta charset="utf-8">
  <title>JSON API – Assure</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="robots" content="noindex, nofollow">
  <meta name="referrer" content="no-referrer">
  <link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="{SWAGGER_UI_ASSETS}/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{SWAGGER_UI_ASSETS}/swagger-ui-bundle.js"></script>
  <script src="/static/swagger-init.js"></script>
</body>
</html>
"""

# Without npm the API still works and describes itself; only the viewer is missing.
PLAIN_PAGE = """<!DOCTYPE html>
<html lang="en-GB">
<head>
  <meta charset="utf-8">
  <title>JSON API – Assure</title>
  <meta name="robots" content="noindex, nofollow">
  <link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
</head>
<body>
  <h1>Assure JSON API</h1>
  <p>The API description is at <a href="/openapi.json">/openapi.json</a>.</p>
</body>
</html>
"""


def add_docs(app: FastAPI) -> None:
    """Mount the Swagger UI files (when npm installed them) and add ``GET /docs``.

    Call it before anything is mounted at ``/assets`` itself: a mount takes every path under it,
    so a later ``/assets/swagger-ui`` would never be reached.
    """
    available = SWAGGER_UI_DIST.is_dir()
    if available:
        app.mount(SWAGGER_UI_ASSETS, StaticFiles(directory=SWAGGER_UI_DIST), name="swagger-ui")

    @app.get(DOCS_PATH, response_class=HTMLResponse, include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(SWAGGER_UI_PAGE if available else PLAIN_PAGE)
