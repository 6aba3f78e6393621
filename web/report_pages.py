"""The annual report from the dashboard: the years the record reaches, each as Word or a web page.

The report covers every board, so only those who see every recommendation (the Assurance Board,
auditors, admins) have these pages; anyone else gets the not-found page, as for a page they may
not see. Fetching a report changes nothing, so these are plain GETs.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from models.measure_decisions import today_in_london
from reports.annual import render_annual
from reports.annual_data import ReportYear, annual_report_data, parse_year, report_years
from store.db import session_scope
from web.context import WebContext
from web.dashboard import _not_found, _shared
from web.sign_in import signed_in

router = APIRouter(include_in_schema=False)
FORMAT_WORDS = {"docx": "Word document", "html": "Web page (prints on A4)"}


@router.get("/dashboard/reports/annual", response_class=HTMLResponse)
async def annual_page(request: Request) -> Response:
    ctx: WebContext = request.app.state.ctx
    viewer = await signed_in(request)
    if viewer is None:
        return RedirectResponse("/sign-in", status_code=303)
    if not viewer.everything:
        return _not_found(ctx, request, viewer)
    years = await run_in_threadpool(_years, ctx)
    return ctx.page(
        request,
        "dashboard/annual_report.html",
        {**_shared(ctx, request, viewer), "nav": "annual",
         "years": years, "formats": FORMAT_WORDS, "partnership": ctx.settings.partnership_name},
    )  # fmt: skip


@router.get("/dashboard/reports/annual/file")
async def annual_file(request: Request, year: str = "", format: str = "docx") -> Response:
    ctx: WebContext = request.app.state.ctx
    viewer = await signed_in(request)
    if viewer is None:
        return RedirectResponse("/sign-in", status_code=303)
    if not viewer.everything:
        return _not_found(ctx, request, viewer)
    try:
        reporting_year = parse_year(year)
        if format not in FORMAT_WORDS:
            raise ValueError(f"{format!r} is not a form the report comes in: choose docx or html")
    except ValueError as problem:
        years = await run_in_threadpool(_years, ctx)
        return ctx.page(
            request,
            "dashboard/annual_report.html",
            {**_shared(ctx, request, viewer), "nav": "annual",
             "years": years, "formats": FORMAT_WORDS, "partnership": ctx.settings.partnership_name,
             "problem": str(problem)},
            status_code=400,
        )  # fmt: skip
    body, media_type, filename = await run_in_threadpool(_file, ctx, reporting_year, format)
    # The Word file is saved; the web page opens in the browser, to read or print.
    disposition = "attachment" if format == "docx" else "inline"
    return Response(
        body, media_type=media_type, headers={"Content-Disposition": f'{disposition}; filename="{filename}"'}
    )


def _years(ctx: WebContext) -> list[ReportYear]:
    with session_scope(ctx.settings.database_url) as session:
        return report_years(session=session, today=today_in_london(ctx.clock()))


def _file(ctx: WebContext, year: ReportYear, made: str) -> tuple[bytes, str, str]:
    with session_scope(ctx.settings.database_url) as session:
        report = annual_report_data(
            session=session, year=year, now=ctx.clock(), partnership=ctx.settings.partnership_name
        )
    return render_annual(report, made)
