"""The sizes a plan file may have, checked before anything is parsed.

A workbook is a zip of XML parts, so a small file can unpack to gigabytes or declare a sheet of
a million rows by sixteen thousand columns; a YAML file can repeat one value through aliases
until it has billions. Each check here looks only at what the file declares (the zip's directory,
a sheet's declared dimension, YAML's node graph) and names the sheet or part and the limit.
Python's zipfile never unpacks more than an entry's declared size, so checking declared sizes
bounds what the parser can be given.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import yaml

# The format has at most eleven columns a sheet; people add a few of their own for notes.
MAX_COLUMNS = 256
# Excel's own limit for one cell: longer text cannot have come from a spreadsheet.
MAX_CELL_CHARS = 32_767
# An .xlsx has about a dozen parts plus one a sheet; thousands means something else.
MAX_PARTS = 500
# A plan at the 4 MB file limit unpacks to well under these (XML packs about 15 to 1).
MAX_PART_BYTES = 64 * 1024 * 1024
MAX_UNPACKED_BYTES = 128 * 1024 * 1024
# Spreadsheet XML packs 5-30 to 1; a part packed 200 to 1 or tighter is filler, not a plan.
MAX_PACKING_RATIO = 200
RATIO_CHECKED_FROM_BYTES = 1024 * 1024
# A YAML plan at the file limit has under two million values; aliases may not make more.
MAX_YAML_VALUES = 2_000_000

_METADATA_PARTS = ("[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/_rels/workbook.xml.rels")


def megabytes(size: int) -> str:
    """A size as people read it: 1.5 GB, 64 MB, 12 KB."""
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} bytes"


def archive_problems(archive: zipfile.ZipFile, titles: dict[str, str]) -> Iterator[tuple[str, str]]:
    """(where, why) for each part of the workbook bigger or more tightly packed than a plan's
    parts can be; ``where`` is the sheet's title for a worksheet, else the part's name."""
    infos = archive.infolist()
    if len(infos) > MAX_PARTS:
        yield "", f"the workbook has {len(infos):,} parts; a plan has a few dozen (the limit is {MAX_PARTS})"
        return
    total = 0
    for info in infos:
        total += info.file_size
        where = titles.get(info.filename, "")
        part = "the sheet" if where else info.filename
        if info.file_size > MAX_PART_BYTES:
            yield where, (f"{part} unpacks to {megabytes(info.file_size)}; "
                          f"the limit for one part of a workbook is {megabytes(MAX_PART_BYTES)}")  # fmt: skip
        elif info.file_size >= RATIO_CHECKED_FROM_BYTES and info.file_size > MAX_PACKING_RATIO * max(
            info.compress_size, 1
        ):
            ratio = info.file_size // max(info.compress_size, 1)
            yield where, (f"{part} unpacks to {ratio:,} times its packed size ({megabytes(info.file_size)}); "
                          f"a spreadsheet packs less than {MAX_PACKING_RATIO} to 1")  # fmt: skip
    if total > MAX_UNPACKED_BYTES:
        yield "", f"the workbook unpacks to {megabytes(total)}; the limit is {megabytes(MAX_UNPACKED_BYTES)}"


def sheet_parts(archive: zipfile.ZipFile, data: bytes) -> dict[str, str]:
    """Each worksheet's part name to its title, read from the workbook's small metadata parts
    only (never the sheets or the shared text); empty if those parts are themselves too big."""
    from openpyxl.reader.excel import ExcelReader

    try:
        if any(archive.getinfo(name).file_size > RATIO_CHECKED_FROM_BYTES for name in _METADATA_PARTS):
            return {}
    except KeyError:
        return {}
    try:
        reader = ExcelReader(io.BytesIO(data), read_only=True)
        reader.read_manifest()
        reader.read_workbook()
        return {rel.target.lstrip("/"): sheet.name for sheet, rel in reader.parser.find_sheets()}
    except Exception:  # a damaged workbook: openpyxl says so in its own words when it loads
        return {}


def dimension_problem(archive: zipfile.ZipFile, part: str, max_rows: int) -> str | None:
    """Why the sheet's declared size (its ``<dimension ref>``) is beyond a plan's, or None.
    Only the start of the part is parsed: the dimension comes before the cells, and parsing
    stops where the cells begin."""
    from xml.etree.ElementTree import ParseError, iterparse

    from openpyxl.utils.cell import get_column_letter, range_boundaries

    ref = None
    with archive.open(part) as source:
        try:
            for _event, element in iterparse(source, events=("start",)):
                tag = element.tag.rsplit("}", 1)[-1]
                if tag == "dimension":
                    ref = element.get("ref")
                    break
                if tag == "sheetData":
                    break
        except ParseError:  # the full read reports damaged XML in openpyxl's words
            return None
    try:
        min_col, min_row, max_col, max_row = range_boundaries(ref) if ref else (None, None, None, None)
    except ValueError:
        return None
    if max_row is None or max_col is None or (max_row <= max_rows and max_col <= MAX_COLUMNS):
        return None
    declared = f"{get_column_letter(min_col or 1)}{min_row or 1}:{get_column_letter(max_col)}{max_row}"
    return (f"the sheet declares its size as {declared} ({max_row:,} rows by {max_col:,} columns); "
            f"the limit is {max_rows:,} rows by {MAX_COLUMNS} columns: delete the unused rows and "
            "columns, or copy the plan's cells into a new workbook")  # fmt: skip


def yaml_document(text: str):
    """The YAML document, built only if its aliases do not repeat values past the limit
    (a "billion laughs" file is a few lines that expand to billions of values)."""
    import yaml

    loader = yaml.CSafeLoader(text) if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node)
        _keys_as_written(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _keys_as_written(root: yaml.Node) -> None:
    """Mapping keys (a plan's column names) read as the text written: YAML 1.1 reads an unquoted
    ``on`` (the Readings sheet's column), ``yes`` or ``off`` as a boolean. Values keep their
    meaning (``working_days: yes``)."""
    import yaml

    seen: set[int] = set()
    stack: list[yaml.Node] = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.tag == _BOOL_TAG and not key.style:  # plain, not quoted
                    key.tag = _STR_TAG
                stack += [key, value]
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value


_BOOL_TAG = "tag:yaml.org,2002:bool"
_STR_TAG = "tag:yaml.org,2002:str"


class YamlTooLarge(Exception):
    """The YAML's aliases expand past the limit, or a value contains itself."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


def _check_expansion(root: yaml.Node) -> None:
    # Counted without recursion (a deeply nested file must not exhaust the stack) and with each
    # shared node counted once per use, as construction would repeat it.
    import yaml

    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if isinstance(node, yaml.ScalarNode):
            sizes[key] = 1
            continue
        pairs = node.value
        children = [c for pair in pairs for c in pair] if isinstance(node, yaml.MappingNode) else list(pairs)
        if children_done:
            open_nodes.discard(key)
            sizes[key] = 1 + sum(sizes[id(c)] for c in children)
            if sizes[key] > MAX_YAML_VALUES:
                line = node.start_mark.line + 1
                raise YamlTooLarge(line, f"the values repeated through aliases (*) expand to more than "
                                         f"{MAX_YAML_VALUES:,}: write each row out instead")  # fmt: skip
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise YamlTooLarge(node.start_mark.line + 1, "a value contains itself through an alias (*)")
        open_nodes.add(key)
        stack.append((node, True))
        for child in children:
            if id(child) in open_nodes:
                raise YamlTooLarge(child.start_mark.line + 1, "a value contains itself through an alias (*)")
            if id(child) not in sizes:
                stack.append((child, False))
