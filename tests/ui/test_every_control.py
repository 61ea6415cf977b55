"""Every control a user can reach, pressed: each action of the declared table
(vaedesk.ui.actions) from the menu bar (submenus opened as a user opens them), and then
every visible, enabled button (each tab of the side panels opened in turn), with dialogs
answered automatically. Fails if any of them raises. An action or a button added tomorrow
is covered without a new test."""

from __future__ import annotations

from PySide6.QtWidgets import QPushButton

from tests.ui.helpers import click
from vaedesk.ui.actions import ACTIONS, MENUS


def test_every_declared_action_is_in_its_menu_with_its_shortcut(qtbot, window):
    tops = {top.text(): top.menu() for top in window.menuBar().actions()}
    assert list(tops) == list(MENUS)
    for a in ACTIONS:
        action = window.action(a.id)
        assert action in tops[a.menu].actions() and action.text() == a.title
        assert action.shortcut() == a.key()


def test_every_menu_action_and_button(qtbot, window, dialogs, tmp_path):
    dialogs.save_file = str(tmp_path / "out.png")  # exports write here; open dialogs cancel
    triggered, clicked = [], []
    for a in ACTIONS:
        action = window.action(a.id)
        if a.submenu:
            action.menu().aboutToShow.emit()  # as when the user opens it (fills Recent models)
            for item in action.menu().actions():
                if item.isEnabled():
                    item.trigger()
            continue
        if a.id == "file.quit" or not action.isEnabled():
            continue
        action.trigger()
        qtbot.wait(5)
        triggered.append(a.id)
    panel = window.training_panel  # shown by Model > Train above
    panel.arch.setCurrentText("mlp")
    panel.limit.setValue(400)
    panel.eval_k.setValue(1)
    tabs = window.side_tabs  # the panels beside the map, when they are tabs: each one opened
    for page in range(tabs.count()) if tabs.isVisible() else [None]:
        if page is not None:
            click(qtbot, tabs.tabBar(), tabs.tabBar().tabRect(page).center())
        for button in window.findChildren(QPushButton):
            if button.isVisible() and button.isEnabled() and button.text() not in clicked:
                click(qtbot, button)
                qtbot.wait(5)
                clicked.append(button.text())
    qtbot.waitUntil(lambda: not panel.is_running(), timeout=60000)
    assert len(triggered) >= 20 and {"model.train", "help.shortcuts"} <= set(triggered)
    assert {"Start", "Clear", "Undo stroke", "Next \u25b6"} <= set(clicked)
    assert window.isVisible()
