"""The project carries its own design document, and the README points inside the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_readme_points_to_the_design_document_in_the_repository():
    """Every document the README names exists inside the repository; none is outside it (``../``)."""
    readme = (ROOT / "README.md").read_text()
    named = set(re.findall(r"[`(]([\w./-]+\.md)[`)]", readme))
    assert "docs/DESIGN.md" in named
    outside = [name for name in named if name.startswith("..") or not (ROOT / name).resolve().is_relative_to(ROOT)]
    assert [] == outside
    assert [] == [name for name in named if not (ROOT / name).is_file()]


def test_the_design_documents_layout_names_files_that_exist():
    """Each file or folder the design's layout lists is in the repository: the document matches the code."""
    design = (ROOT / "docs" / "DESIGN.md").read_text()
    layout = design.split("## Layout", 1)[1].split("```")[1]
    names = {line.split()[0].rstrip(",") for line in layout.splitlines() if line and not line.startswith(" ")}
    names |= {"logs.py", "web/dev_pages.py", "models/lifecycle.py"}
    missing = [name for name in sorted(names) if not (ROOT / name).exists()]
    assert [] == missing
