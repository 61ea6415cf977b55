"""File > Export morph as animated GIF: the frame count and the duration asked for in a
small dialog, then the morph on the map decoded at that many points and written by Pillow."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QMainWindow, QSpinBox, QWidget

from vaedesk.core import gif
from vaedesk.ui import files

DEFAULT_FRAMES, DEFAULT_DURATION = 24, 80


class GifOptions(QDialog):
    """How many frames, and how long each is shown."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export morph as animated GIF")
        form = QFormLayout(self)
        self.frames = QSpinBox(minimum=gif.MIN_FRAMES, maximum=gif.MAX_FRAMES, value=DEFAULT_FRAMES)
        self.duration = QSpinBox(
            minimum=gif.MIN_DURATION, maximum=gif.MAX_DURATION, value=DEFAULT_DURATION, suffix=" ms"
        )
        self.frames.setObjectName("frames")
        self.duration.setObjectName("duration")
        form.addRow("Frames", self.frames)
        form.addRow("Each frame shown for", self.duration)
        ok, cancel = QDialogButtonBox.StandardButton.Ok, QDialogButtonBox.StandardButton.Cancel
        buttons = QDialogButtonBox(ok | cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)


def export_morph_gif(window: QMainWindow) -> None:
    """Ask for the options and a file name, then write the GIF (a failure is one message)."""
    morph = window.session.morph
    if morph is None:
        window.statusBar().showMessage("Shift-click two points on the map first", 4000)
        return
    options = GifOptions(window)
    if options.exec() != QDialog.DialogCode.Accepted:
        return
    frames, duration = options.frames.value(), options.duration.value()
    path = files.ask_save(window, "Export morph as animated GIF", "morph.gif", "GIF images (*.gif)")
    if not path:
        return
    images = window.session.model.decode(gif.resample(morph.path, frames))
    if files.write_or_warn(window, path, gif.gif_bytes(images, duration)):
        window.statusBar().showMessage(f"Saved {path}: {frames} frames of {duration} ms", 4000)
