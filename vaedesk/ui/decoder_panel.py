"""The decoder at the cursor: the digit the model draws at a latent point, and the
morph animation when one plays."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QGroupBox, QLabel, QVBoxLayout

from vaedesk.ui.widgets import DigitView

FRAME_MS = 40


class DecoderPanel(QGroupBox):
    shown = Signal()  # after a hovered point's digit is on screen

    def __init__(self, side: int = 280) -> None:
        super().__init__("Decoder at the cursor")
        layout = QVBoxLayout(self)
        self.view = DigitView(side)
        self.caption = QLabel("Move the mouse over the map.")
        self.caption.setWordWrap(True)
        self.caption.setFixedWidth(side)  # long captions wrap instead of widening the column
        layout.addWidget(self.view)
        layout.addWidget(self.caption)
        layout.addStretch(1)
        self._frames: np.ndarray | None = None
        self._frame = 0
        self._timer = QTimer(self, interval=FRAME_MS)
        self._timer.timeout.connect(self._next_frame)

    @property
    def image(self) -> np.ndarray | None:
        return self.view.image

    def show_digit(self, image: np.ndarray, caption: str) -> None:
        """Show a decoded digit, unless an animation owns the view."""
        if self.is_playing():
            return
        self.view.set_image(image)
        self.caption.setText(caption)
        self.shown.emit()

    def play(self, frames: np.ndarray) -> None:
        self._frames, self._frame = frames, 0
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
        self._frame += 1
