"""The selected test image beside its reconstruction, with previous / next and an index."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGridLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton, QSpinBox

from vaedesk.core.session import Selection
from vaedesk.ui.widgets import digit_pair, numbers, reserve_lines


class SelectionPanel(QGroupBox):
    step_requested = Signal(int)  # -1 or +1
    index_requested = Signal(int)

    def __init__(self, side: int = 130) -> None:
        super().__init__("Test image")
        grid = QGridLayout(self)
        self.image, self.recon = digit_pair(grid, "original", side)
        self.info = QLabel("Click the map to pick the nearest test image.")
        self.info.setWordWrap(True)
        reserve_lines(self.info, 2)  # "test image 18: digit 3, z = (+0.08, -0.27, ... 20 dimensions)"
        grid.addWidget(self.info, 2, 0, 1, 2)
        nav = QHBoxLayout()
        self.prev_button = QPushButton("\u25c0 Previous")
        self.next_button = QPushButton("Next \u25b6")
        self.index_box = QSpinBox()
        self.index_box.setRange(0, 0)
        self.index_box.setPrefix("index ")
        self.index_box.setKeyboardTracking(False)
        for w in (self.prev_button, self.index_box, self.next_button):
            nav.addWidget(w)
        grid.addLayout(nav, 3, 0, 1, 2)
        self.prev_button.clicked.connect(lambda: self.step_requested.emit(-1))
        self.next_button.clicked.connect(lambda: self.step_requested.emit(1))
        self.index_box.valueChanged.connect(self.index_requested)
        self.set_count(0)

    def set_count(self, n: int) -> None:
        """How many test images there are to pick from (0: none loaded)."""
        self.index_box.setRange(0, max(0, n - 1))
        for w in (self.prev_button, self.next_button, self.index_box):
            w.setEnabled(n > 0)

    def show_selection(self, s: Selection | None) -> None:
        if s is None:
            self.image.clear_image()
            self.recon.clear_image()
            self.info.setText("Click the map to pick the nearest test image.")
            return
        self.image.set_image(s.image)
        self.recon.set_image(s.recon)
        self.info.setText(f"test image {s.index}: digit {s.label}, z = {numbers(s.mu)}")
        self.index_box.blockSignals(True)
        self.index_box.setValue(s.index)
        self.index_box.blockSignals(False)
