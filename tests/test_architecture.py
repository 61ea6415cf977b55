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


def test_mypy_finds_nothing_in_the_core_and_the_command_line():
    # The files and the strictness are in pyproject.toml's [tool.mypy]: `mypy` alone checks them.
    r = subprocess.run([sys.executable, "-m", "mypy"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr


def test_every_module_and_method_the_architecture_page_names_exists():
    """docs/architecture.md is the newcomer's map: every file, module and Class.method it
    names must be there."""
    import re

    text = (REPO / "docs" / "architecture.md").read_text()
    files = set(re.findall(r"\b((?:vaedesk|tests|docs)/[\w./]*\w)", text))
    missing = sorted(f for f in files if not (REPO / f).exists())
    modules = set(re.findall(r"\bvaedesk(?:\.\w+)+", text))
    for dotted in modules:
        parts = dotted.split(".")
        for n in range(len(parts), 0, -1):  # the longest prefix that is a module, then a name in it
            base = REPO.joinpath(*parts[:n])
            source = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
            if source.is_file():
                rest = parts[n:]
                if rest and not re.search(rf"^(def |class |)\s*{rest[0]}\b", source.read_text(), re.M):
                    missing.append(dotted)
                break
        else:
            missing.append(dotted)
    for cls, method in set(re.findall(r"`([A-Z]\w+)\.(\w+)", text)):
        sources = [p.read_text() for p in (REPO / "vaedesk").rglob("*.py")]
        if not any(f"class {cls}" in s and re.search(rf"def {method}\b", s) for s in sources):
            missing.append(f"{cls}.{method}")
    assert len(files) >= 30 and not missing, missing
