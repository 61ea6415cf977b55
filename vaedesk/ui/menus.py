"""The menu bar, as a table: what each item says, which of the window's methods it
calls, and its shortcut. Help > Keyboard shortcuts is written from the same table."""

from __future__ import annotations

from functools import reduce

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu

K = QKeySequence.StandardKey
CHECK = "checkable"
SEPARATOR = None

# (text, the window's method (a dotted path), shortcut, CHECK for on / off items)
# fmt: off
MENUS: list[tuple[str, list]] = [
    ("&File", [
        ("Open image of a digit\u2026", "open_image", K.Open),
        ("Choose MNIST folder\u2026", "choose_data_folder", None),
        ("Download MNIST", "download_data", None),
        SEPARATOR,
        ("Export decoded digit as PNG\u2026", "export_digit", "Ctrl+E"),
        ("Export map as PNG\u2026", "export_map", "Ctrl+Shift+E"),
        ("Export morph strip as PNG\u2026", "export_morph_strip", None),
        SEPARATOR,
        ("Quit", "close", K.Quit),
    ]),
    ("&Edit", [
        ("Copy decoded digit", "copy_digit", K.Copy),
        ("Copy map", "copy_map", "Ctrl+Shift+C"),
    ]),
    ("&View", [
        ("Fit map to the points", "map.fit", "Ctrl+0"),
        ("Decoded-digit field", "map.set_field_visible", "F", CHECK),
        ("Classifier regions", "map.set_regions_visible", "G", CHECK),
        ("Prior contours (1, 2, 3 \u03c3)", "map.set_circles_visible", "C", CHECK),
        SEPARATOR,
        ("Next test image", "next_image", Qt.Key.Key_Right),
        ("Previous test image", "previous_image", Qt.Key.Key_Left),
    ]),
    ("&Explore", [
        ("Sample 16 points from the prior", "sample_prior", "S"),
        ("Morph through the prior\u2019s mass", None, None, CHECK),  # read when a morph starts
        ("Plane through the selected image", "move_plane", "P", CHECK),  # models of more than 2-D
        ("Clear morph and samples", "clear_overlays", "Escape"),
    ]),
    ("&Model", [
        ("Train\u2026", "show_training", "Ctrl+T"),
        SEPARATOR,
        ("Open weights\u2026", "open_weights", "Ctrl+Shift+O"),
        ("Recent models", "fill_recent", QMenu),
        ("Save current model\u2026", "save_model", K.Save),
        ("Reset to the bundled model", "reset_model", None),
    ]),
    ("&Help", [
        ("How to use vaedesk", "show_help", K.HelpContents),
        ("Keyboard shortcuts", "show_shortcuts", None),
    ]),
]
# fmt: on


def build(window: QMainWindow) -> dict[str, QAction | QMenu]:
    """Fill the window's menu bar from MENUS; returns every item by its text."""
    items: dict[str, QAction | QMenu] = {}
    for title, entries in MENUS:
        menu = window.menuBar().addMenu(title)
        for entry in entries:
            if entry is SEPARATOR:
                menu.addSeparator()
                continue
            text, method, shortcut, *flags = entry
            slot = reduce(getattr, method.split("."), window) if method else None
            if shortcut is QMenu:  # a submenu, filled by `slot` each time it opens
                sub = items[text] = menu.addMenu(text)
                sub.aboutToShow.connect(slot)
                continue
            action = items[text] = QAction(text, window)
            if shortcut is not None:
                action.setShortcut(QKeySequence(shortcut))
            if CHECK in flags:
                action.setCheckable(True)
                if slot is not None:
                    action.toggled.connect(slot)
            else:
                action.triggered.connect(lambda checked=False, slot=slot: slot())
            menu.addAction(action)
    return items


def shortcuts(window: QMainWindow) -> str:
    """Every menu item that has a shortcut, one per line: "Text: Ctrl+X"."""
    native = QKeySequence.SequenceFormat.NativeText
    rows = []
    for top in window.menuBar().actions():
        for action in top.menu().actions():
            if not action.shortcut().isEmpty():
                rows.append(f"{action.text()}: {action.shortcut().toString(native)}")
    return "\n".join(rows)
