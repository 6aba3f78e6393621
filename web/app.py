"""The FastAPI app: response pages now; the dashboard and JSON API join it later.

``create_app`` takes its Temporal client from the caller (tests pass the test server's) or
connects at start-up. Assets: the GOV.UK Frontend files from ``node_modules`` (installed from the
pinned ``package.json`` by the set-up commands) under ``/assets``, our own under ``/static``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.staticfiles import StaticFiles
from temporalio.client import Client

from links.signed import signer_from_settings, signing_key
from plans.sheets import MAX_FILE_BYTES
from settings import Settings, get_settings
from store.sessions import SessionCookies, SignInLinks
from web import (
    api,
    cycle_pages,
    dashboard,
    people_pages,
    registry_api,
    registry_pages,
    report_pages,
    response_pages,
    return_pages,
    review_pages,
    sign_in,
)
from web.context import GOVUK_DIST, PROJECT_ROOT, WebContext, utc_now
from web.docs import add_docs
from web.security import AccessLog, BodyLimit, CsrfTokens, RateLimits, SecurityHeaders
from web.sign_in import SIGN_IN_PER_ADDRESS
from web.templating import environment

STATIC_DIR = PROJECT_ROOT / "web" / "static"


def create_app(
    settings: Settings | None = None,
    *,
    client: Client | None = None,
    dev_pages: bool = False,
    clock: Callable[[], datetime] = utc_now,
) -> FastAPI:
    """The web app for ``settings``; with ``client`` None it connects to Temporal at start-up.
    ``dev_pages`` adds the caught-mail pages of ``assure dev``; ``clock`` (an aware UTC time) is
    every handler's "now"."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        from store.db import init_db

        # The store at the current schema before the first request; off the event loop, as all
        # database work in the web process is.
        await run_in_threadpool(init_db, settings.database_url)
        if app.state.ctx.client is None:
            from gateway.workflows import connect

            app.state.ctx.client = await connect(settings)
        yield

    app = FastAPI(
        title="Assure",
        lifespan=lifespan,
        # The OpenAPI document of the JSON API. FastAPI's own /docs page loads Swagger UI from a
        # CDN with an inline script, which the Content-Security-Policy (rightly) forbids; add_docs
        # below serves it from the pinned npm package instead.
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    signer = signer_from_settings(settings)
    key = signing_key(settings)
    app.state.ctx = WebContext(
        settings=settings,
        client=client,  # type: ignore[arg-type]  # set by the lifespan when None
        signer=signer,
        csrf=CsrfTokens(key),
        rate_limits=RateLimits(
            pages=settings.rate_limit_pages,
            decisions=settings.rate_limit_decisions,
            fresh_links=settings.rate_limit_fresh_links,
            sign_in=settings.rate_limit_sign_in,
            sign_in_address=SIGN_IN_PER_ADDRESS,
        ),
        env=environment(),
        sign_in_links=SignInLinks(key),
        cookies=SessionCookies(key),
        clock=clock,
    )
    app.include_router(response_pages.router)
    app.include_router(return_pages.router)
    app.include_router(api.router)
    app.include_router(registry_api.router)
    app.include_router(sign_in.router)
    app.include_router(dashboard.router)
    app.include_router(report_pages.router)
    app.include_router(review_pages.router)
    app.include_router(cycle_pages.router)
    app.include_router(people_pages.router)
    app.include_router(registry_pages.router)
    if dev_pages:
        from web import dev_pages as dev

        app.include_router(dev.router)
    add_docs(app)  # before the /assets mount, which would otherwise take /assets/swagger-ui
    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")
    if GOVUK_DIST.is_dir():
        app.mount("/assets", StaticFiles(directory=GOVUK_DIST), name="govuk")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def home(request: Request) -> Response:
        return app.state.ctx.page(request, "home.html", {})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        template = "not_found.html" if exc.status_code == 404 else "error.html"
        return app.state.ctx.page(request, template, {"status_code": exc.status_code}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": jsonable_encoder(exc.errors())}, status_code=422)
        return app.state.ctx.page(request, "error.html", {"status_code": 400}, status_code=400)

    # Outermost first: the log sees every request, then headers go on every response.
    # A plan upload may be as large as the importer accepts, with room for the form around it.
    app.add_middleware(BodyLimit, larger={"/api/plans": MAX_FILE_BYTES + 64 * 1024})
    app.add_middleware(SecurityHeaders, hsts=settings.base_url.startswith("https://"))
    app.add_middleware(AccessLog)
    return app


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/healthz", "/readyz"))
