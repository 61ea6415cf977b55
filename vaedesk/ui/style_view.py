"""The Style view: a conditional model's map of the test set's styles, and the style under
the cursor, of a clicked test image or of the user's drawing, drawn as all ten digits.

It follows two evented models: its own `StyleSession` (the row of ten, its caption, the
drawing's style) and the window's `Session` (the drawing on the pad). Hovering is
coalesced by the map as in the main window: one batched decode of ten per turn of the
event loop, at the latest position.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from vaedesk.core import style_session
from vaedesk.core.api import Model, tile
from vaedesk.core.config import DIGITS
from vaedesk.core.session import Session
from vaedesk.core.style_session import StyleSession, read_digit
from vaedesk.core.weights import WeightsError
from vaedesk.ui import files
from vaedesk.ui.latent_map import LatentMap
from vaedesk.ui.widgets import DigitView

ROW_HEIGHT = 84  # pixels a digit: three times MNIST's 28
AS_READ = DIGITS  # the button id of "as the classifier reads it" (-1 would be "any id")
INTRO = (
    "A conditional VAE is told the digit, so its latent holds only the style: slant, width, "
    "thickness. Hover over the map of the test set's styles, click a test image, or draw on the "
    "pad: the row shows that style as every digit."
)


class RowView(DigitView):
    """The ten digits side by side, each ROW_HEIGHT pixels square."""

    def __init__(self) -> None:
        super().__init__(ROW_HEIGHT)
        self.setFixedSize(DIGITS * ROW_HEIGHT + 2, ROW_HEIGHT + 2)


class StyleView(QWidget):
    row_shown = Signal()  # the row shows the latest style

    def __init__(self, style: StyleSession, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle(f"vaedesk \u2014 Style view ({style.model.name})")
        self.style, self.session = style, session
        self._read = read_digit(session.classifier)
        self.map = LatentMap()
        self.map.set_plane(("style z\u2081", "style z\u2082"), style.model.prior)
        self.map.set_points(style.styles, style.labels)
        self.row_view, self.caption = RowView(), QLabel("Hover over the map")
        self.buttons, self.digit_buttons = QButtonGroup(self), QHBoxLayout()
        self._layout()
        self.map.hovered.connect(lambda x, y: self.style.hover(x, y))
        self.map.clicked.connect(self._on_click)
        self.buttons.idClicked.connect(lambda i: self.style.choose_digit(None if i == AS_READ else i))
        self.export_button.clicked.connect(lambda: self.export_row())
        self.style.events.row.connect(self._show_row)
        self.style.events.caption.connect(lambda text: self.caption.setText(text))
        self.style.events.drawn.connect(self._show_drawn)
        self.session.events.drawing.connect(self._on_drawing)
        self._on_drawing()
        self.map.fit()

    def _layout(self) -> None:
        layout = QVBoxLayout(self)
        intro = QLabel(INTRO)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        layout.addWidget(self.map, 1)
        layout.addWidget(self.row_view, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.caption)
        self.digit_buttons.addWidget(QLabel("Your drawing is a"))
        for i, text in [(AS_READ, "as read"), *[(d, str(d)) for d in range(DIGITS)]]:
            button = QPushButton(text)
            button.setCheckable(True)
            if i != AS_READ:
                button.setMaximumWidth(3 * button.fontMetrics().horizontalAdvance("00"))
            button.setObjectName(f"digit_{text.replace(' ', '_')}")
            button.setToolTip("the digit the classifier reads" if i == AS_READ else f"a {text}")
            self.buttons.addButton(button, i)
            self.digit_buttons.addWidget(button)
        self.buttons.button(AS_READ).setChecked(True)
        self.export_button = QPushButton("Export row as PNG\u2026")
        self.digit_buttons.addStretch(1)
        self.digit_buttons.addWidget(self.export_button)
        layout.addLayout(self.digit_buttons)

    def digit_button(self, digit: int | None) -> QPushButton:
        return self.buttons.button(AS_READ if digit is None else digit)

    def _show_row(self) -> None:
        if self.style.row is not None:
            self.row_view.set_image(tile(self.style.row, DIGITS))
            self.row_shown.emit()

    def _show_drawn(self) -> None:
        drawn = self.style.drawn
        if drawn is None:
            self.map.show_encoding(None, None, np.zeros((0, 2)))
        else:
            self.map.show_encoding(drawn[0], drawn[1], np.zeros((0, 2)))

    def _on_click(self, x: float, y: float, shift: bool) -> None:
        self.map.select(self.style.pick_test_image(x, y))

    def _on_drawing(self) -> None:
        drawing = self.session.drawing
        image = drawing.input if drawing is not None else None
        self.style.use_drawing(image, self._read(image) if image is not None else None)

    def export_row(self, path: str | None = None) -> None:
        png = self.style.row_png()
        if png is None:
            files.warn(self, "Nothing to export yet: hover over the map, click a test image or draw")
        elif path := path or files.ask_save(self, "Export the row of ten", "style-row.png"):
            files.write_or_warn(self, path, png)


def open_style_view(window: QMainWindow, to_front: bool = True) -> StyleView | None:
    """View > Style view: the bundled conditional model's view, built on first use and kept
    beside the window (it follows the window's drawing), shown and (`to_front`) brought in
    front. None, with a message, if the model or the test set is missing."""
    view = getattr(window, "style_view", None)
    if view is None:
        session = window.session
        if session.test is None:
            files.warn(window, "The Style view maps the MNIST test set: choose or download it first")
            return None
        try:
            model = Model.load(style_session.bundled_conditional())
            style = StyleSession(model, session.test.images, session.test.labels)
        except (WeightsError, ValueError) as e:
            files.warn(window, f"No conditional model for the Style view: {e}")
            return None
        view = window.style_view = StyleView(style, session, window)
        view.resize(900, 900)
    # in front of the main window (a platform without windows, offscreen, cannot)
    if to_front and view.isVisible() and QGuiApplication.platformName() != "offscreen":
        view.raise_()
    view.show()
    return view
