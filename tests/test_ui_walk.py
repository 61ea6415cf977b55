"""Every control a user can reach, pressed: each action in the menu bar (and its
submenus) and then every visible, enabled button, with dialogs answered automatically.
Fails if any of them raises. A control added tomorrow is covered without a new test."""

from __future__ import annotations

from PySide6.QtWidgets import QMenu, QPushButton

from tests.ui_helpers import click, dialogs, model, window


def all_actions(menu: QMenu):
    for action in menu.actions():
        if action.menu() is not None:
            action.menu().aboutToShow.emit()  # as when the user opens it (fills Recent models)
            yield from all_actions(action.menu())
        elif not action.isSeparator():
            yield action


def test_every_menu_action_and_button(qtbot, window, dialogs, tmp_path):
    dialogs.save_file = str(tmp_path / "out.png")  # exports write here; open dialogs cancel
    triggered, clicked = [], []
    for top in window.menuBar().actions():
        for action in all_actions(top.menu()):
            if action.text() == "Quit" or not action.isEnabled():
                continue
            action.trigger()
            qtbot.wait(5)
            triggered.append(action.text())
    panel = window.training_panel  # shown by Model > Train above
    panel.arch.setCurrentText("mlp")
    panel.limit.setValue(400)
    panel.eval_k.setValue(1)
    for button in window.findChildren(QPushButton):
        if button.isVisible() and button.isEnabled():
            click(qtbot, button)
            qtbot.wait(5)
            clicked.append(button.text())
    qtbot.waitUntil(lambda: not panel.is_running(), timeout=60000)
    assert len(triggered) >= 20 and "Train\u2026" in triggered and "Keyboard shortcuts" in triggered
    assert {"Start", "Clear", "Undo stroke", "Next \u25b6"} <= set(clicked)
    assert window.isVisible()
