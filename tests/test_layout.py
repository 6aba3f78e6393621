"""The import graph: the pure domain stays pure, and no layer reaches around another.

Read from the source (every import statement, including those inside functions), so a lazy
import cannot hide an arrow.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
# What the pure domain may use besides itself and the standard library: pydantic, and the
# calendar libraries its working-day arithmetic needs.
DOMAIN_MAY_USE = {"pydantic", "pydantic_core", "annotated_types", "holidays", "isodate", "dateutil"}


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports absolutely, by its full dotted name (``from tests import x``
    counts as ``tests.x`` and ``tests``)."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


def files_of(package: str) -> list[Path]:
    root = PROJECT / package
    return sorted(root.rglob("*.py")) if root.is_dir() else [PROJECT / f"{package}.py"]


def top(module: str) -> str:
    return module.split(".")[0]


@pytest.mark.parametrize("path", files_of("models"), ids=lambda p: p.name)
def test_the_domain_imports_only_the_standard_library_pydantic_and_the_calendar(path):
    """``models/`` is the pure, typed domain: no SQL, settings, files, Temporal or templates."""
    foreign = {
        module
        for module in imported_modules(path)
        if top(module) not in sys.stdlib_module_names and top(module) not in DOMAIN_MAY_USE | {"models"}
    }
    assert set() == foreign


def test_the_domain_reads_no_files_and_no_settings():
    """No module of the domain imports the file system or the environment, or calls ``open``."""
    for path in files_of("models"):
        assert set() == imported_modules(path) & {"os", "pathlib", "io", "shutil", "settings"}, path.name
        calls = [n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Call)]
        assert not any(isinstance(c.func, ast.Name) and c.func.id == "open" for c in calls), path.name


@pytest.mark.parametrize(
    ("package", "never"),
    [
        # The web pages and the CLI reach workflows only through gateway/, never their effects.
        ("web", {"activities", "workflows.recommendation", "worker"}),
        ("cli", {"activities", "worker.py"}),
        ("plans", {"activities", "web", "cli"}),
        ("gateway", {"activities", "web", "cli"}),
        ("store", {"activities", "web", "cli", "gateway", "workflows"}),
        ("reports", {"activities", "web", "cli"}),
        # Workflows: deterministic code, no screen, no store, no effects.
        ("workflows", {"web", "cli", "store", "activities", "reports", "plans", "gateway", "jinja2", "sqlmodel"}),
        ("activities", {"web", "cli"}),
    ],
)
def test_no_layer_reaches_around_another(package, never):
    """The forbidden arrows of DESIGN.md's layout are absent."""
    arrows = {
        (path.relative_to(PROJECT).as_posix(), module)
        for path in files_of(package)
        for module in imported_modules(path)
        if any(module == banned or module.startswith(f"{banned}.") for banned in never)
    }
    assert set() == arrows


def test_the_sandbox_passes_through_only_the_domain():
    """The workflow sandbox passes through the pure domain and its libraries, nothing of the SQL side."""
    from worker import WORKFLOW_PASSTHROUGH

    assert "models" in WORKFLOW_PASSTHROUGH
    assert set(WORKFLOW_PASSTHROUGH) <= DOMAIN_MAY_USE | {"models"}
