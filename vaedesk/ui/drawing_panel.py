"""The drawing pad and what the model makes of the drawing: the 28 x 28 input, its
reconstruction, mean and sigma. Pictures can be opened or dropped onto it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QGridLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout

from vaedesk.core.session import DrawingEncoding
from vaedesk.ui.files import PICTURE_SUFFIXES
from vaedesk.ui.widgets import DrawingPad, digit_pair, numbers, reserve_lines

HINT = "Draw a digit: it is encoded as you draw. Or drop a picture here."


def dropped_picture(mime) -> str | None:
    """The local picture file a drag carries, if it carries one."""
    for url in mime.urls() if mime.hasUrls() else []:
        if url.isLocalFile() and Path(url.toLocalFile()).suffix.lower() in PICTURE_SUFFIXES:
            return url.toLocalFile()
    return None


class PictureDrops:
    """Accepts local picture files dragged onto a widget (a mixin before the Qt class);
    calls `picture_dropped_here(path)`."""

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if dropped_picture(event.mimeData()):
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:  # noqa: N802
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:  # noqa: N802
        if name := dropped_picture(event.mimeData()):
            event.acceptProposedAction()
            self.picture_dropped_here(name)

    def picture_dropped_here(self, path: str) -> None:
        raise NotImplementedError


class DrawingPanel(PictureDrops, QGroupBox):
    # The pad's ink (None when empty) and whether a stroke just ended. Bursts of moves
    # are coalesced: only the latest ink is sent, once per turn of the event loop.
    ink_changed = Signal(object, bool)
    open_requested = Signal()
    picture_dropped = Signal(str)

    def __init__(self) -> None:
        super().__init__("Drawing pad")
        layout = QVBoxLayout(self)
        self.pad = DrawingPad()
        layout.addWidget(self.pad)
        buttons = QHBoxLayout()
        self.clear_button = QPushButton("Clear")
        self.undo_button = QPushButton("Undo stroke")
        self.open_button = QPushButton("Open image\u2026")
        for b in (self.clear_button, self.undo_button, self.open_button):
            buttons.addWidget(b)
        layout.addLayout(buttons)
        grid = QGridLayout()
        self.input_view, self.recon_view = digit_pair(grid, "as the model sees it (28 \u00d7 28)", 112)
        layout.addLayout(grid)
        self.info = QLabel(HINT)
        self.info.setWordWrap(True)
        self.info.setFixedWidth(self.pad.side)
        reserve_lines(self.info, 3)  # mean and sigma of a 20-D model take two, the reading one
        layout.addWidget(self.info)
        layout.addStretch(1)
        self.setAcceptDrops(True)

        self._stroke_done = False
        self._flush = QTimer(self, singleShot=True, interval=0)
        self._flush.timeout.connect(self._send)
        self.pad.changed.connect(self._on_pad_changed)
        self.clear_button.clicked.connect(self.pad.clear)
        self.undo_button.clicked.connect(self.pad.undo)
        self.open_button.clicked.connect(self.open_requested)

    def _on_pad_changed(self, stroke_done: bool) -> None:
        self._stroke_done = self._stroke_done or stroke_done
        if not self._flush.isActive():
            self._flush.start()

    def _send(self) -> None:
        done, self._stroke_done = self._stroke_done, False
        self.ink_changed.emit(None if self.pad.is_empty() else self.pad.ink(), done)

    def set_picture(self, ink: np.ndarray) -> None:
        self.pad.set_picture(ink)

    def show_encoding(self, enc: DrawingEncoding | None) -> None:
        if enc is None:
            self.input_view.clear_image()
            self.recon_view.clear_image()
            self.info.setText(HINT)
            return
        self.input_view.set_image(enc.input)
        self.recon_view.set_image(enc.recon)
        if enc.reading:  # the classifier's reading, else the nearest test images' vote
            guess = f"\n{enc.reading}"
        else:
            guess = f", looks like a {enc.guess}" if enc.guess is not None else ""
        self.info.setText(f"mean {numbers(enc.mu)}, \u03c3 {numbers(enc.sigma, '.3f')}{guess}")

    def picture_dropped_here(self, path: str) -> None:
        self.picture_dropped.emit(path)
