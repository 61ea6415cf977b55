"""Every command of the window, declared once (the idea of napari's app-model): its id,
title, menu and place in it, shortcut, callback and the rule that says when it can be
used. The menu bar, the shortcuts, Help › Keyboard shortcuts, the help text and the test
that presses every control all read `ACTIONS`; adding a command is one `Action` here
(plus the window's method it calls).

A callback takes the window (and, for an on / off item, whether it is now on). An
`enabled` rule takes the session and is evaluated again whenever the session announces a
change; a `checked` rule likewise keeps an on / off item true to the session.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMessageBox

from vaedesk.core.cards import describe_bundled

if TYPE_CHECKING:
    from vaedesk.core.session import Session

K = QKeySequence.StandardKey
MENUS = ("&File", "&Edit", "&View", "&Explore", "&Model", "&Help")  # the menu bar, left to right


@dataclass(frozen=True)
class Action:
    id: str  # "menu.what": stable, for tests, settings and the help text
    title: str
    menu: str  # one of MENUS
    callback: Callable[..., Any]  # (window) or (window, checked) for an on / off item
    shortcut: QKeySequence.StandardKey | str | None = None
    group: int = 0  # a menu's groups are separated by a line, in this order
    checkable: bool = False
    enabled: Callable[[Session], bool] | None = None  # None: always
    submenu: bool = False  # a submenu that `callback(window, menu)` fills each time it opens
    help: str = ""  # the tooltip and the status-bar tip

    def key(self) -> QKeySequence:
        return QKeySequence(self.shortcut) if self.shortcut is not None else QKeySequence()


# fmt: off
ACTIONS: tuple[Action, ...] = (
    Action("file.open_image", "Open image of a digit\u2026", "&File", lambda w: w.open_image(), K.Open),
    Action("file.choose_mnist", "Choose MNIST folder\u2026", "&File", lambda w: w.choose_data_folder()),
    Action("file.download_mnist", "Download MNIST", "&File", lambda w: w.download_data()),
    Action("file.export_digit", "Export decoded digit as PNG\u2026", "&File", lambda w: w.export_digit(),
           "Ctrl+E", group=1),
    Action("file.export_map", "Export map as PNG\u2026", "&File", lambda w: w.export_map(), "Ctrl+Shift+E",
           group=1),
    Action("file.export_morph_strip", "Export morph strip as PNG\u2026", "&File",
           lambda w: w.export_morph_strip(), group=1, enabled=lambda s: s.morph is not None,
           help="Shift-click two points on the map first"),
    Action("file.export_morph_gif", "Export morph as animated GIF\u2026", "&File", lambda w: _morph_gif(w),
           group=1, enabled=lambda s: s.morph is not None, help="Shift-click two points on the map first"),
    Action("file.export_style_row", "Export style row as PNG\u2026", "&File", lambda w: _style_row(w),
           group=1, help="The Style view's row of ten digits"),
    Action("file.quit", "Quit", "&File", lambda w: w.close(), K.Quit, group=2),

    Action("edit.copy_digit", "Copy decoded digit", "&Edit", lambda w: w.copy_digit(), K.Copy),
    Action("edit.copy_map", "Copy map", "&Edit", lambda w: w.copy_map(), "Ctrl+Shift+C"),

    Action("view.fit", "Fit map to the points", "&View", lambda w: w.map.fit(), "Ctrl+0"),
    Action("view.field", "Decoded-digit field", "&View", lambda w, on: w.map.set_field_visible(on), "F",
           checkable=True),
    Action("view.regions", "Classifier regions", "&View", lambda w, on: w.map.set_regions_visible(on), "G",
           checkable=True),
    Action("view.contours", "Prior contours (1, 2, 3 \u03c3)", "&View",
           lambda w, on: w.map.set_circles_visible(on), "C", checkable=True),
    Action("view.next_image", "Next test image", "&View", lambda w: w.next_image(), "Right", group=1,
           enabled=lambda s: s.test is not None),
    Action("view.previous_image", "Previous test image", "&View", lambda w: w.previous_image(), "Left",
           group=1, enabled=lambda s: s.test is not None),

    Action("view.style", "Style view: your handwriting as every digit\u2026", "&View",
           lambda w: _style_view(w), "Ctrl+Shift+Y", group=2,
           help="A conditional VAE's map of styles; the row shows one style as 0-9"),

    Action("explore.sample", "Sample 16 points from the prior", "&Explore", lambda w: w.sample_prior(), "S"),
    # read when a morph starts
    Action("explore.follow_prior", "Morph through the prior\u2019s mass", "&Explore", lambda w, on: None,
           checkable=True),
    Action("explore.plane", "Plane through the selected image", "&Explore", lambda w, on: w.move_plane(on),
           "P", checkable=True, enabled=lambda s: not s.plane.is_whole_space,
           help="For models of more than 2 latent dimensions"),
    Action("explore.clear", "Clear morph and samples", "&Explore", lambda w: w.clear_overlays(), "Escape"),

    Action("model.train", "Train\u2026", "&Model", lambda w: w.show_training(), "Ctrl+T"),
    Action("model.open", "Open weights\u2026", "&Model", lambda w: w.open_weights(), "Ctrl+Shift+O", group=1),
    Action("model.recent", "Recent models", "&Model", lambda w, menu: w.fill_recent(menu), group=1,
           submenu=True),
    Action("model.save", "Save current model\u2026", "&Model", lambda w: w.save_model(), K.Save, group=1),
    Action("model.reset", "Reset to the bundled model", "&Model", lambda w: w.reset_model(), group=1),

    Action("help.how_to", "How to use vaedesk", "&Help", lambda w: w.show_help(), K.HelpContents),
    Action("help.shortcuts", "Keyboard shortcuts", "&Help", lambda w: w.show_shortcuts()),
    Action("help.bundled_models", "About the bundled models", "&Help",
           lambda w: QMessageBox.information(w, "The bundled models", describe_bundled()), group=1),
    Action("help.about", "About vaedesk", "&Help", lambda w: _about(w), group=1,
           help="The version, the licence and the credits"),
)
# fmt: on

BY_ID = {a.id: a for a in ACTIONS}


def _about(window: QMainWindow) -> None:
    from vaedesk.ui.about import show_about  # imported when asked for, not at start-up

    show_about(window)


def _style_view(window: QMainWindow) -> None:
    from vaedesk.ui.style_view import open_style_view

    open_style_view(window)


def _style_row(window: QMainWindow) -> None:
    from vaedesk.ui.style_view import open_style_view

    view = open_style_view(window, to_front=False)
    if view is not None:
        view.export_row()


def _morph_gif(window: QMainWindow) -> None:
    from vaedesk.ui.gif_export import export_morph_gif

    export_morph_gif(window)


def build(window: QMainWindow) -> dict[str, QAction]:
    """Fill the window's menu bar from ACTIONS; returns each QAction by its id (a
    submenu's is the action that opens it)."""
    menus = {title: window.menuBar().addMenu(title) for title in MENUS}
    last_group: dict[str, int] = {}
    built: dict[str, QAction] = {}
    for a in ACTIONS:
        menu = menus[a.menu]
        if a.menu in last_group and last_group[a.menu] != a.group:
            menu.addSeparator()
        last_group[a.menu] = a.group
        if a.submenu:
            sub = menu.addMenu(a.title)
            sub.aboutToShow.connect(lambda a=a, sub=sub: a.callback(window, sub))
            action = sub.menuAction()
        else:
            action = QAction(a.title, window)
            action.setShortcut(a.key())
            if a.checkable:
                action.setCheckable(True)
                action.toggled.connect(lambda on, a=a: a.callback(window, on))
            else:
                action.triggered.connect(lambda checked=False, a=a: a.callback(window))
            menu.addAction(action)
        action.setObjectName(a.id)
        if a.help:
            action.setToolTip(a.help)
            action.setStatusTip(a.help)
        built[a.id] = action
    return built


def update_enabled(built: dict[str, QAction], session: Session) -> None:
    """Apply every `enabled` rule to the session as it is now."""
    for a in ACTIONS:
        if a.enabled is not None:
            on = bool(a.enabled(session))
            if built[a.id].isEnabled() != on:
                built[a.id].setEnabled(on)


def shortcut_text(a: Action) -> str:
    return a.key().toString(QKeySequence.SequenceFormat.NativeText)


def shortcuts() -> str:
    """Every action that has a shortcut, one per line: "Title: Ctrl+X"."""
    return "\n".join(f"{a.title}: {shortcut_text(a)}" for a in ACTIONS if a.shortcut is not None)


def keys_for(*ids: str) -> str:
    """The shortcuts of these actions for a sentence: "S", "Ctrl+E"."""
    return ", ".join(shortcut_text(BY_ID[i]) for i in ids)
