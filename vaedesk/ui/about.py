"""Help › About vaedesk: the version, the licence, and the credits that the README gives
too (MNIST's authors and licence first: CC BY-SA 3.0 asks for the attribution)."""

from __future__ import annotations

import html
from importlib import metadata

from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QMessageBox, QWidget

from vaedesk import __version__

MNIST_CREDIT = (
    "The MNIST database of handwritten digits is by Yann LeCun, Corinna Cortes and "
    "Christopher J.C. Burges, under the Creative Commons Attribution-Share Alike 3.0 licence "
    "(CC BY-SA 3.0). vaedesk ships its test set unmodified and downloads its training set "
    "when you train."
)
METHOD_CREDIT = (
    "The model follows Kingma &amp; Welling, <i>Auto-Encoding Variational Bayes</i> (2014); "
    "the mixture prior and the VampPrior Tomczak &amp; Welling (2018); the IWAE bound Burda, "
    "Grosse &amp; Salakhutdinov (2016); the neighbour-embedding term VAE-SNE (Graving &amp; "
    "Couzin 2020)."
)
LIBRARIES = ("torch", "onnxruntime", "numpy", "PySide6-Essentials", "pyqtgraph", "safetensors", "pillow")


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None  # the packaged program keeps no metadata for some; say nothing then


def about_text() -> str:
    used = [f"{name} {v}" for name in LIBRARIES if (v := _version(name)) is not None]
    libraries = ", ".join(used) if used else "PyTorch, ONNX Runtime, numpy, Qt for Python, pyqtgraph"
    return (
        f"<h3>vaedesk {html.escape(__version__)}</h3>"
        "<p>Explore a variational autoencoder of handwritten digits.</p>"
        "<p>Licence: MIT.</p>"
        f"<p>{MNIST_CREDIT}</p>"
        f"<p>{METHOD_CREDIT}</p>"
        f"<p>Built on {html.escape(libraries)}, and Qt {html.escape(qVersion())}.</p>"
    )


def show_about(parent: QWidget) -> None:
    box = QMessageBox(parent)
    box.setWindowTitle("About vaedesk")
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setText(about_text())
    icon = QIcon(parent.windowIcon()) if not parent.windowIcon().isNull() else None
    if icon is not None:
        box.setIconPixmap(icon.pixmap(64, 64))
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    box.exec()
