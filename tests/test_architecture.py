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


def test_core_modules_load_without_qt():
    code = (
        "import sys\n"
        "import vaedesk.api, vaedesk.data, vaedesk.model, vaedesk.train, vaedesk.evaluate, "
        "vaedesk.weights, vaedesk.preprocess, vaedesk.digits, vaedesk.paths\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6')))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.stdout.strip() == "[]", r.stderr


def test_ruff_finds_nothing():
    r = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "vaedesk", "tests"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
