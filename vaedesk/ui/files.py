"""Files and the clipboard, for every panel: open and save dialogs, atomic writes that
report failure in a message box, weights that load whole or not at all."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QBuffer, QByteArray, QIODevice
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from vaedesk.core import paths, preprocess, weights
from vaedesk.core.api import Model
from vaedesk.core.atomic import atomic_write

PICTURES = "Pictures (*.png *.jpg *.jpeg *.bmp *.gif)"
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


def warn(parent: QWidget | None, message: str) -> None:
    QMessageBox.warning(parent, "vaedesk", message)


def ask(
    parent: QWidget,
    text: str,
    choices: dict[str, QMessageBox.ButtonRole],
    icon: QMessageBox.Icon = QMessageBox.Icon.Question,
) -> str | None:
    """A question with a button for each of `choices` (its text: its role), the first the
    default, and Cancel: the text of the button pressed, None for Cancel (or Esc)."""
    box = QMessageBox(icon, "vaedesk", text, parent=parent)
    buttons = {box.addButton(label, role): label for label, role in choices.items()}
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(next(iter(buttons)))
    box.exec()
    return buttons.get(box.clickedButton())


def ask_open(parent: QWidget, title: str, filters: str) -> str | None:
    name, _ = QFileDialog.getOpenFileName(parent, title, "", filters)
    return name or None


def ask_save(parent: QWidget, title: str, default: str, filters: str = "PNG images (*.png)") -> str | None:
    name, _ = QFileDialog.getSaveFileName(parent, title, default, filters)
    return name or None


def ask_folder(parent: QWidget, title: str) -> str | None:
    return QFileDialog.getExistingDirectory(parent, title) or None


def write_or_warn(parent: QWidget, path: str | Path, data: bytes) -> bool:
    """Write atomically; say so in a message box (naming the file) if it fails."""
    try:
        atomic_write(path, data)
    except OSError as e:
        warn(parent, f"Could not write {path}: {e.strerror or e}")
        return False
    return True


def digit_png(image: np.ndarray) -> bytes:
    return preprocess.to_png_bytes(image, size=10 * max(image.shape))


def widget_png(widget: QWidget) -> bytes:
    buf = QByteArray()
    device = QBuffer(buf)
    device.open(QIODevice.OpenModeFlag.WriteOnly)
    widget.grab().save(device, "PNG")
    device.close()
    return bytes(buf.data())


def copy_image(image: QImage) -> None:
    QGuiApplication.clipboard().setImage(image)


def load_model_or_warn(parent: QWidget, path: str | Path) -> Model | None:
    """The model in `path`, or None after a message that names the file: the current
    model then stays in place."""
    try:
        return Model.load(path)
    except weights.WeightsError as e:
        warn(parent, f"{e}\n\nThe current model is unchanged.")
        return None


def save_model_or_warn(parent: QWidget, model: Model, path: str | None = None) -> Path | None:
    """Save `model` and its card (asking where, unless `path`); never over the bundled
    weights. Returns where it went, or None."""
    if path is None:
        path = ask_save(parent, "Save model", str(_unused_model_name()), "Weights (*.safetensors)")
        if path is None:
            return None
    target = Path(path)
    if target.suffix != ".safetensors":
        target = target.with_name(target.name + ".safetensors")
    try:
        weights.save(target, model.vae, model.card)
    except OSError as e:
        warn(parent, f"Could not save {target}: {e.strerror or e}")
        return None
    model.path = target
    return target


def _unused_model_name() -> Path:
    """The name the save dialog proposes: one no file has yet. Two models saved in turn
    (quitting with a run's result and a kept model) each get their own by pressing Enter."""
    folder = paths.user_data_dir() / "models"
    name, n = folder / "vaedesk-trained.safetensors", 1
    while name.exists() or name.is_symlink():
        n += 1
        name = folder / f"vaedesk-trained-{n}.safetensors"
    return name
