"""Hostile plan files ("file bombs"), each small on disk and costly to read naively; built by the
file-bomb tests and by ``bench/file_bombs.py``. Each builder writes the file and returns its path."""

from __future__ import annotations

import re
import zipfile
from datetime import date
from pathlib import Path

from devtools import plan_files as pf
from plans.sheets import SHEETS

# openpyxl writes the sheets in the format's order.
ACTIONS_PART = f"xl/worksheets/sheet{list(SHEETS).index('Actions') + 1}.xml"


def _plan_xlsx(path: Path) -> Path:
    return pf.write_xlsx(pf.plan(date(2024, 1, 8), "BOMB"), path)


def _rewrite(source: Path, path: Path, part: str, edit) -> Path:
    """A copy of the workbook ``source`` with one part's XML passed through ``edit``."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            data = old.read(info.filename)
            new.writestr(info.filename, edit(data.decode()) if info.filename == part else data)
    return path


def _stream_part(source: Path, path: Path, part: str, head: str, body, tail: str) -> Path:
    """A copy of ``source`` whose ``part`` is ``head``, then each chunk ``body`` yields, then ``tail``,
    written as it is packed (a part of hundreds of megabytes never sits in memory)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            if info.filename != part:
                new.writestr(info.filename, old.read(info.filename))
        with new.open(part, "w", force_zip64=True) as out:
            out.write(head.encode())
            for chunk in body:
                out.write(chunk.encode())
            out.write(tail.encode())
    return path


def huge_dimension(path: Path) -> Path:
    """A valid plan whose Actions sheet declares A1:XFD1048576 (about 24 KB on disk)."""
    source = _plan_xlsx(path.with_suffix(".source.xlsx"))
    declare = lambda xml: re.sub(r'<dimension ref="[^"]*"\s*/>', '<dimension ref="A1:XFD1048576"/>', xml)  # noqa: E731
    return _rewrite(source, path, ACTIONS_PART, declare)


def _sheet(rows) -> tuple[str, object, str]:
    head = '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    return head, rows, "</sheetData></worksheet>"


def huge_cell(path: Path, megabytes: int = 256) -> Path:
    """A plan whose Actions sheet holds one cell of ``megabytes`` of text (about 250 KB on disk)."""
    source = _plan_xlsx(path.with_suffix(".source.xlsx"))
    chunk = "A" * (1024 * 1024)

    def rows():
        yield '<row r="1"><c r="A1" t="inlineStr"><is><t>recommendation_ref</t></is></c></row>'
        yield '<row r="2"><c r="A2" t="inlineStr"><is><t>'
        for _ in range(megabytes):
            yield chunk
        yield "</t></is></c></row>"

    return _stream_part(source, path, ACTIONS_PART, *_sheet(rows()))


def many_rows(path: Path, count: int = 300_000, declared: bool = False) -> Path:
    """A plan whose Actions sheet has ``count`` rows of one cell, declaring its size or not."""
    source = _plan_xlsx(path.with_suffix(".source.xlsx"))

    def rows():
        yield '<row r="1"><c r="A1" t="inlineStr"><is><t>recommendation_ref</t></is></c></row>'
        for n in range(2, count + 1, 1000):
            yield "".join(f'<row r="{i}"><c r="A{i}"><v>{i}</v></c></row>' for i in range(n, min(n + 1000, count + 1)))

    head, body, tail = _sheet(rows())
    if declared:
        head = head.replace("<sheetData>", f'<dimension ref="A1:A{count}"/><sheetData>')
    return _stream_part(source, path, ACTIONS_PART, head, body, tail)


def _scattered(count: int):
    """``count`` digits in no order a packer can use (a fixed linear congruential
    sequence: the same file every time)."""
    value = 1
    for _ in range(count):
        value = (value * 1_103_515_245 + 12_345) % 2**31
        yield value % 9 + 1


def wide_rows(path: Path, count: int = 16_000, width: int = 250) -> Path:
    """A plan whose Actions sheet declares an allowed size but holds ``width`` numbers in each of
    ``count`` rows, past its two headed columns: within every declared limit (its size, its parts'
    sizes and how far they pack), and slow to parse: four million cells, several times the time
    limit on the machines the tests run on (one CI machine read 1.75 million within it)."""
    source = _plan_xlsx(path.with_suffix(".source.xlsx"))
    from openpyxl.utils.cell import get_column_letter

    # Rows and cells without their reference ("r"), as the format allows, cycling through distinct
    # rows spanning more than deflate's 32 KB window, so that the sheet packs as real data does
    # while it is built in a moment.
    numbers = _scattered(16 * width)
    distinct = ["<row>" + "".join(f"<c><v>{next(numbers)}</v></c>" for _ in range(width)) + "</row>"
                for _ in range(16)]  # fmt: skip

    def rows():
        yield '<row r="1"><c r="A1" t="inlineStr"><is><t>recommendation_ref</t></is></c>'
        yield '<c r="B1" t="inlineStr"><is><t>action_id</t></is></c></row>'
        for n in range(count - 1):
            yield distinct[n % len(distinct)]

    head, body, tail = _sheet(rows())
    head = head.replace("<sheetData>", f'<dimension ref="A1:{get_column_letter(width)}{count}"/><sheetData>')
    return _stream_part(source, path, ACTIONS_PART, head, body, tail)


def huge_entry(path: Path, megabytes: int = 512) -> Path:
    """A valid plan with one more part, an "image" that unpacks to ``megabytes`` of zeros."""
    source = _plan_xlsx(path.with_suffix(".source.xlsx"))
    zeros = "\0" * (1024 * 1024)
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            new.writestr(info.filename, old.read(info.filename))
        with new.open("xl/media/image1.png", "w", force_zip64=True) as out:
            for _ in range(megabytes):
                out.write(zeros.encode())
    return path


def yaml_aliases(path: Path, levels: int = 9) -> Path:
    """The "billion laughs": nine lines of aliases that expand to a billion values."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for n in range(1, levels + 1):
        lines.append(f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]")
    lines.append(f"Agencies: *a{levels}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def yaml_recursive(path: Path) -> Path:
    """A YAML value that contains itself."""
    path.write_text("Agencies: &loop [*loop]\n", encoding="utf-8")
    return path


def yaml_many_values(path: Path) -> Path:
    """3.9 MB of empty lists: no alias, but over a million values, each costing memory to build."""
    path.write_text("Agencies: [" + "[]," * 1_300_000 + "]\n", encoding="utf-8")
    return path


def csv_huge_field(path: Path) -> Path:
    """A CSV plan whose second row's title is 3 MB long."""
    header = ",".join(("ref", "title"))
    path.write_text(f'{header}\nR-1,"{"x" * 3_000_000}"\n', encoding="utf-8")
    return path


def csv_many_lines(path: Path) -> Path:
    """A CSV of a header and four million lines of one comma."""
    path.write_text("ref,title\n" + ",\n" * 1_900_000, encoding="utf-8")
    return path


def csv_wide(path: Path) -> Path:
    """A CSV whose header has two million columns."""
    path.write_text("," * 2_000_000 + "\n", encoding="utf-8")
    return path
