"""What the GUI tests do as a user does: open a window, choose a menu item, press a key,
move or click the mouse, turn the wheel. The fixtures (a window on the synthetic MNIST,
dialogs answered automatically) are in tests/ui/conftest.py."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from vaedesk.core.session import Session
from vaedesk.ui.main_window import MainWindow


def make_window(qtbot, model, data_dir) -> MainWindow:
    session = Session(model, str(data_dir))
    w = MainWindow(session)
    qtbot.addWidget(w, before_close_func=close_without_asking)
    w.resize(1400, 850)
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
    qtbot.wait(20)  # let the layout settle before positions are mapped
    return w


def close_without_asking(window: MainWindow) -> None:
    """A test's window closes at its end as if the user discarded an unsaved model: the
    question would wait for an answer no one gives (tests that mean to see it ask it)."""
    window._unsaved_model_settled = lambda doing: True


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


def open_small_run(
    qtbot, window: MainWindow, epochs: int = 1, batch_size: int = 32, eval_k: int = 0, **fields
):
    """Model > Train with Ctrl+T, its fields set for a run of seconds: a small MLP on 400
    images (`fields` sets any other spin box, e.g. neighbours=0). Returns the panel."""
    key(window, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    p = window.training_panel
    qtbot.waitUntil(p.isVisible, timeout=2000)
    p.arch.setCurrentText("mlp")
    p.epochs.setValue(epochs)
    p.batch_size.setValue(batch_size)
    p.limit.setValue(400)
    p.eval_k.setValue(eval_k)
    for name, value in fields.items():
        getattr(p, name).setValue(value)
    return p
