"""The benchmarks stand on the application and ``devtools/``, never on the tests.

Read from the source (every import statement, including those inside functions), so a lazy
import cannot hide one. What the benchmarks and the tests share lives in ``devtools/``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_layout import imported_modules

BENCH = Path(__file__).resolve().parent.parent / "bench"


def test_there_are_benchmarks_to_check():
    """The check below reads real files: an empty or moved ``bench/`` would pass it silently."""
    assert len(list(BENCH.glob("*.py"))) > 1


@pytest.mark.parametrize("path", sorted(BENCH.glob("*.py")), ids=lambda p: p.name)
def test_a_benchmark_imports_nothing_from_the_tests(path):
    """No benchmark imports ``tests`` or any module under it."""
    from_tests = {m for m in imported_modules(path) if m == "tests" or m.startswith("tests.")}
    assert set() == from_tests


def test_the_check_sees_every_form_of_import(tmp_path):
    """Plain, from-package and lazy (inside a function) imports of the tests are all seen."""
    source = tmp_path / "sample.py"
    source.write_text("import tests.helpers\nfrom tests import factories\ndef run():\n    from tests.x import y\n")
    seen = imported_modules(source)
    assert {"tests.helpers", "tests", "tests.factories", "tests.x"} <= seen
