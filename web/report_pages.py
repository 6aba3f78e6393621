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
from reports.annual import annual_file
from reports.annual_data import ReportYear, parse_year, report_years
from store.access import Viewer
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
    return await _years_page(ctx, request, viewer)


@router.get("/dashboard/reports/annual/file")
async def annual_report_file(request: Request, year: str = "", format: str = "docx") -> Response:
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
        return await _years_page(ctx, request, viewer, problem=str(problem), status_code=400)
    body, media_type, filename = await run_in_threadpool(
        lambda: annual_file(database_url=ctx.settings.database_url, year=reporting_year, made=format, now=ctx.clock(),
                            partnership=ctx.settings.partnership_name)
    )  # fmt: skip
    # The Word file is saved; the web page opens in the browser, to read or print.
    disposition = "attachment" if format == "docx" else "inline"
    return Response(
        body, media_type=media_type, headers={"Content-Disposition": f'{disposition}; filename="{filename}"'}
    )


async def _years_page(
    ctx: WebContext, request: Request, viewer: Viewer, *, problem: str | None = None, status_code: int = 200
) -> Response:
    """The years the record reaches, each as Word or a web page; with ``problem`` above them."""
    years = await run_in_threadpool(_years, ctx)
    context = {**_shared(ctx, request, viewer), "nav": "annual", "years": years, "formats": FORMAT_WORDS,
               "partnership": ctx.settings.partnership_name, "problem": problem}  # fmt: skip
    return ctx.page(request, "dashboard/annual_report.html", context, status_code=status_code)


def _years(ctx: WebContext) -> list[ReportYear]:
    with session_scope(ctx.settings.database_url) as session:
        return report_years(session=session, today=today_in_london(ctx.clock()))
