"""The annual report's learning-from-reviews section as a file: HTML with print styles, or Word.

Partnerships edit and publish the Word file, so it uses Word's own heading and table styles (a
reader's contents page and accessibility checker find them); the HTML is one self-contained page
that prints on A4. Both draw the same blocks (``reports.annual_document``).
"""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

from docx import Document
from docx.enum.text import WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from jinja2 import Environment, FileSystemLoader, select_autoescape

from reports.annual_data import AnnualReport, ReportYear, annual_report_data
from reports.annual_document import Block, Bullets, Heading, Paragraph, Table, annual_blocks

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "reports"
FORMATS = {".docx": "docx", ".html": "html"}
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def report_title(report: AnnualReport) -> str:
    return f"{report.partnership}: learning from reviews, {report.year.label}"


def render_annual_html(report: AnnualReport) -> str:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True))
    blocks = [(type(block).__name__.lower(), block) for block in annual_blocks(report)]
    return env.get_template("annual.html").render(title=report_title(report), blocks=blocks)


def render_annual_docx(report: AnnualReport) -> bytes:
    document = Document()
    properties = document.core_properties
    properties.title = report_title(report)
    properties.author = report.partnership
    properties.language = "en-GB"
    for block in annual_blocks(report):
        _add(document, block)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _add(document, block: Block) -> None:
    if isinstance(block, Heading):
        if block.level == 2 and block.anchor == "appendix":
            document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        document.add_heading(block.text, level=block.level if block.level > 1 else 0)
    elif isinstance(block, Paragraph):
        document.add_paragraph(block.text)
    elif isinstance(block, Bullets):
        for item in block.items:
            document.add_paragraph(item, style="List Bullet")
    elif isinstance(block, Table):
        document.add_paragraph(block.caption, style="Caption")
        table = document.add_table(rows=1, cols=len(block.columns))
        table.style = "Table Grid"
        for cell, column in zip(table.rows[0].cells, block.columns, strict=True):
            cell.text = ""
            cell.paragraphs[0].add_run(column).bold = True
        _repeat_header(table.rows[0])
        for row in block.rows:
            cells = table.add_row().cells
            for cell, value in zip(cells, row, strict=True):
                cell.text = value.text
                if value.figure:
                    key = cell.paragraphs[0].add_run(f" ({value.figure})")
                    key.font.superscript = True


def _repeat_header(row) -> None:
    """Word repeats the header row on each page, and screen readers announce it as the header."""
    properties = row._tr.get_or_add_trPr()
    header = OxmlElement("w:tblHeader")
    header.set(qn("w:val"), "true")
    properties.append(header)


def render_annual(report: AnnualReport, made: str) -> tuple[bytes, str, str]:
    """The report as ``made`` ("docx" or "html"): its bytes, media type and a file name to save it as."""
    name = f"annual-report-{report.year.label}"
    if made == "docx":
        return render_annual_docx(report), DOCX_TYPE, f"{name}.docx"
    return render_annual_html(report).encode(), "text/html; charset=utf-8", f"{name}.html"


def annual_file(
    *, database_url: str, year: ReportYear, made: str, now: datetime, partnership: str
) -> tuple[bytes, str, str]:
    """The year's report from the store as ``made``: what the API's and the dashboard's
    report is (its bytes, media type and file name)."""
    from store.db import session_scope

    with session_scope(database_url) as session:
        report = annual_report_data(session=session, year=year, now=now, partnership=partnership)
    return render_annual(report, made)
