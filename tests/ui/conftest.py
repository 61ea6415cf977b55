"""Fixtures of the GUI tests: a window on the synthetic MNIST, and dialogs answered
automatically (a modal dialog would block an offscreen test forever). pytest finds them
by name; the helpers that act as a user does are in tests/ui/helpers.py."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from tests.ui.helpers import make_window
from vaedesk import load_model
from vaedesk.ui.app import configure
from vaedesk.ui.main_window import MainWindow


@dataclass
class Dialogs:
    """What the dialogs said, and how the next ones answer."""

    messages: list[str] = field(default_factory=list)
    open_file: str = ""  # "" is Cancel
    save_file: str = ""
    folder: str = ""
    button_text: str | None = None  # the custom button a QMessageBox.exec() presses
    answers: list[str] = field(default_factory=list)  # the next questions' buttons, before button_text
    save_files: list[str] = field(default_factory=list)  # the next save dialogs' answers, before save_file


@pytest.fixture(autouse=True)
def _no_unanswered_question(monkeypatch):
    """A question box that a test did not expect (no `dialogs` fixture to answer it) fails
    the test at once, saying what it asked, instead of blocking it for ever offscreen."""

    def unexpected(box):
        raise AssertionError(f"a question nobody answers: {box.text()!r}")

    monkeypatch.setattr(QMessageBox, "exec", unexpected)


@pytest.fixture
def dialogs(monkeypatch) -> Dialogs:
    d = Dialogs()

    def message(*args, **kwargs):
        d.messages.append(str(args[2]) if len(args) > 2 else "")
        return QMessageBox.StandardButton.Ok

    for name in ("information", "warning", "critical", "question"):
        monkeypatch.setattr(QMessageBox, name, staticmethod(message))

    def exec_box(box):
        d.messages.append(box.text())
        wanted = d.answers.pop(0) if d.answers else d.button_text
        for button in box.buttons():
            if wanted is not None and button.text().replace("&", "") == wanted:
                button.click()
                return 0
        return int(QMessageBox.StandardButton.Cancel)

    monkeypatch.setattr(QMessageBox, "exec", exec_box)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (d.open_file, "")))
    monkeypatch.setattr(
        QFileDialog,
        "getSaveFileName",
        staticmethod(lambda *a, **k: (d.save_files.pop(0) if d.save_files else d.save_file, "")),
    )
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: d.folder))
    return d


@pytest.fixture(scope="session")
def model():
    configure()
    return load_model()  # the bundled weights


@pytest.fixture
def window(qtbot, model, mnist_dir, dialogs) -> MainWindow:
    return make_window(qtbot, model, mnist_dir)
