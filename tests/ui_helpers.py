"""Fixtures and helpers for the GUI tests: a window on the synthetic MNIST, and dialogs
answered automatically (a modal dialog would block an offscreen test forever)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from vaedesk import load_model
from vaedesk.core.session import Session
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
        for button in box.buttons():
            if d.button_text is not None and button.text() == d.button_text:
                button.click()
                return 0
        return int(QMessageBox.StandardButton.Cancel)

    monkeypatch.setattr(QMessageBox, "exec", exec_box)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (d.open_file, "")))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (d.save_file, "")))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: d.folder))
    return d


@pytest.fixture(scope="session")
def model():
    configure()
    return load_model()  # the bundled weights


def make_window(qtbot, model, data_dir) -> MainWindow:
    session = Session(model, str(data_dir))
    w = MainWindow(session)
    qtbot.addWidget(w)
    w.resize(1400, 850)
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
    qtbot.wait(20)  # let the layout settle before positions are mapped
    return w


@pytest.fixture
def window(qtbot, model, mnist_dir, dialogs) -> MainWindow:
    return make_window(qtbot, model, mnist_dir)


def press(window: MainWindow, action_id: str) -> None:
    """Choose the menu item declared with this id in vaedesk.ui.actions, as a user would
    (a disabled item does nothing)."""
    window.action(action_id).trigger()


def key(window: MainWindow, k, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    QTest.keyClick(window, k, modifiers)


def hover(qtbot, w: MainWindow, pos: QPoint) -> None:
    with qtbot.waitSignal(w.hover_decoded, timeout=2000):
        QTest.mouseMove(w.map.viewport(), pos)


def click(qtbot, widget, pos: QPoint | None = None, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    pos = pos if pos is not None else widget.rect().center()
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton, modifiers, pos)


def wheel(widget, pos: QPoint, degrees: int = 30) -> None:
    """A mouse-wheel turn away from the user (zoom in), at `pos`."""
    event = QWheelEvent(
        QPointF(pos),
        QPointF(widget.mapToGlobal(pos)),
        QPoint(0, 0),
        QPoint(0, 8 * degrees),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)
