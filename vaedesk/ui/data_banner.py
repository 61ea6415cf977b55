"""The banner over the map when the MNIST test set is missing: download it (in a
background thread, with progress and cancel) or choose a folder; and the same question
asked when Train is started without the MNIST training set."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMessageBox, QProgressBar, QPushButton, QWidget

from vaedesk.core import data, download
from vaedesk.ui import files
from vaedesk.ui.workers import Task, Worker

DOWNLOAD, CHOOSE = "Download (11 MB)", "Choose folder\u2026"


def ask_for_training_set(parent: QWidget, reason: str) -> str | None:
    """Ask whether to download the MNIST training set or choose its folder: "download",
    "choose", or None when cancelled."""
    answer = files.ask(
        parent,
        f"Training needs the MNIST training set.\n\n{reason}",
        {DOWNLOAD: QMessageBox.ButtonRole.AcceptRole, CHOOSE: QMessageBox.ButtonRole.ActionRole},
    )
    return {DOWNLOAD: "download", CHOOSE: "choose"}.get(answer or "")


class DataBanner(QWidget):
    downloaded = Signal(str)  # the folder that now holds MNIST
    choose_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("DataBanner")
        self.setStyleSheet(
            "#DataBanner { background: palette(alternate-base); border: 1px solid palette(mid); }"
        )
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)
        layout = QHBoxLayout(self)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.download = QPushButton("Download MNIST (11 MB)")
        self.choose = QPushButton("Choose folder\u2026")
        self.progress = QProgressBar()
        self.cancel = QPushButton("Cancel")
        layout.addWidget(self.message, 1)
        for w in (self.progress, self.cancel, self.download, self.choose):
            layout.addWidget(w)
        self.task: Task | None = None
        self.target: Path | None = None
        self.download.clicked.connect(lambda: self.start_download())
        self.choose.clicked.connect(self.choose_requested)
        self.cancel.clicked.connect(self.cancel_download)
        self._set_busy(False)
        self.setVisible(False)

    def show_missing(self, reason: str, target: Path) -> None:
        """Say what is missing; a download goes into `target`."""
        self.target = target
        self.message.setText(
            f"<b>The map needs the MNIST test set.</b> {reason.split(';')[0]}. "
            "Hovering and drawing work without it."
        )
        self.setVisible(True)

    def is_downloading(self) -> bool:
        return self.cancel.isVisibleTo(self)  # busy from the click until it ends

    def start_download(self, target: Path | None = None) -> None:
        if self.is_downloading():
            return
        target = target or self.target
        if target is None:
            return
        self.target = target

        def job(emit, should_stop):
            return download.download(
                target,
                mirrors=data.MIRRORS,
                should_stop=should_stop,
                progress=lambda name, done, total: emit((name, done, total)),
            )

        worker = Worker(job, expected_errors=(data.DataError,))
        worker.progress.connect(self._on_progress)
        worker.succeeded.connect(lambda folder: self._on_done(str(folder)))
        worker.failed.connect(self._on_failed)
        self.setVisible(True)
        self._set_busy(True)
        self.message.setText("Downloading MNIST\u2026")
        self.task = Task(worker, self)
        self.task.start()

    def cancel_download(self) -> None:
        if self.task is not None:
            self.task.worker.request_stop()

    def stop_and_wait(self) -> None:
        if self.task is not None:
            self.task.stop_and_wait()

    def _set_busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.cancel.setVisible(busy)
        self.download.setEnabled(not busy)
        self.choose.setEnabled(not busy)

    def _on_progress(self, info) -> None:
        name, done, total = info
        self.progress.setMaximum(total or 0)
        self.progress.setValue(done if total else 0)
        self.message.setText(f"Downloading {name}\u2026")

    def _on_done(self, folder: str) -> None:
        self._set_busy(False)
        self.setVisible(False)
        self.downloaded.emit(folder)

    def _on_failed(self, kind: str, message: str) -> None:
        self._set_busy(False)
        if kind == download.DownloadCancelled.__name__:
            self.message.setText("<b>Download cancelled.</b> Nothing half-written was kept.")
        else:
            self.message.setText(f"<b>Download failed.</b> {message}")
