"""The core never imports Qt: a headless user can train and evaluate without a display."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_import_linter_contract_holds():
    # Through this interpreter, so it is the test environment's import-linter, PATH or not.
    code = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports())"
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def test_every_core_module_loads_without_qt():
    code = (
        "import pkgutil, sys, importlib, vaedesk.core\n"
        "names = [m.name for m in pkgutil.iter_modules(vaedesk.core.__path__, 'vaedesk.core.')]\n"
        "assert len(names) >= 10, names\n"
        "[importlib.import_module(n) for n in names]\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6')))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stdout + r.stderr


def test_ruff_finds_nothing():
    r = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "vaedesk", "tests"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_core_never_imports_the_package_above_it():
    """The core gets what it needs from the package (its version, for example) passed
    down, so that it can be read, tested and reused on its own."""
    import ast

    upward = []
    for path in sorted((REPO / "vaedesk" / "core").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "vaedesk":
                upward.append(f"{path.name}:{node.lineno}")
            if isinstance(node, ast.Import) and any(a.name == "vaedesk" for a in node.names):
                upward.append(f"{path.name}:{node.lineno}")
    assert upward == []


def test_the_benchmarks_run_from_the_repository_root_outside_the_package():
    r = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0 and "usage: python -m tests.benchmarks" in r.stdout, r.stderr
    assert not list((REPO / "vaedesk").rglob("*bench*.py"))
