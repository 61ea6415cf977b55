"""The decoder at the cursor: the digit the model draws at a latent point, what the
digit classifier reads in it, the nearest real test digits, a field to type a point and
go there, and the morph animation when one plays."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QGroupBox, QLabel, QLineEdit, QVBoxLayout

from vaedesk.ui.widgets import DigitView, gray_qimage, reserve_lines

FRAME_MS = 40
NEIGHBOURS = 8  # nearest test digits shown under the decoded one
NEIGHBOURS_DELAY_MS = 40  # searched once the cursor has rested this long


class DecoderPanel(QGroupBox):
    shown = Signal()  # after a hovered point's digit is on screen
    go_requested = Signal(str)  # the text typed in the "go to" field

    def __init__(self, side: int = 280) -> None:
        super().__init__("Decoder at the cursor")
        layout = QVBoxLayout(self)
        self.view = DigitView(side)
        self.caption = QLabel("Move the mouse over the map.")
        self.caption.setWordWrap(True)
        self.caption.setFixedWidth(side)  # long captions wrap instead of widening the column
        reserve_lines(self.caption, 2)  # the prior samples' caption takes two
        self.reading = QLabel()  # what the classifier reads in the digit
        self.reading.setFixedWidth(side)
        self.neighbours = QLabel()  # the nearest real test digits, in a row
        self.neighbours.setFixedSize(side, side // NEIGHBOURS)
        self.neighbours.setToolTip(f"the {NEIGHBOURS} nearest test images in latent space, nearest first")
        self.go_to = QLineEdit()
        self.go_to.setPlaceholderText("go to z: type the coordinates, then Enter")
        self.go_to.setFixedWidth(side)
        # Focus only when clicked, and given back after Enter: the map's one-letter shortcuts
        # (C, F, G, S, P) must not end up typed into it.
        self.go_to.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.go_to.returnPressed.connect(self._go)
        for w in (self.view, self.caption, self.reading, self.neighbours, self.go_to):
            layout.addWidget(w)
        layout.addStretch(1)
        self.neighbour_images: np.ndarray | None = None
        self._frames: np.ndarray | None = None
        self._readings: tuple[str, ...] = ()
        self._frame = 0
        self._timer = QTimer(self, interval=FRAME_MS)
        self._timer.timeout.connect(self._next_frame)

    def _go(self) -> None:
        self.go_to.clearFocus()
        self.go_requested.emit(self.go_to.text())

    @property
    def image(self) -> np.ndarray | None:
        return self.view.image

    def show_digit(self, image: np.ndarray, caption: str, reading: str = "") -> None:
        """Show a decoded digit, unless an animation owns the view, with what the classifier
        reads in it."""
        if self.is_playing():
            return
        self.view.set_image(image)
        self.caption.setText(caption)
        self.reading.setText(reading)
        self.shown.emit()

    def show_neighbours(self, images: np.ndarray | None) -> None:
        self.neighbour_images = images
        if images is None or not len(images):
            self.neighbours.clear()
            return
        strip = np.concatenate(list(images), axis=1)  # (28, 28 K)
        self.neighbours.setPixmap(
            QPixmap.fromImage(gray_qimage(strip)).scaled(
                self.neighbours.size(),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )

    def play(self, frames: np.ndarray, readings: tuple[str, ...] = ()) -> None:
        """Animate the frames, each with what the classifier reads in it."""
        self._frames, self._readings, self._frame = frames, readings, 0
        self._timer.start()
        self._next_frame()

    def is_playing(self) -> bool:
        return self._timer.isActive()

    def stop(self) -> None:
        self._timer.stop()

    def _next_frame(self) -> None:
        frames = self._frames
        if frames is None or self._frame >= len(frames):
            self._timer.stop()
            self.caption.setText(
                f"morph: {0 if frames is None else len(frames)} frames (File \u203a Export morph strip)"
            )
            return
        self.view.set_image(frames[self._frame])
        self.caption.setText(f"morph frame {self._frame + 1} of {len(frames)}")
        self.reading.setText(self._readings[self._frame] if self._frame < len(self._readings) else "")
        self._frame += 1
