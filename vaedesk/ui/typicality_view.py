"""How typical the drawing is, under the drawing pad: its log-likelihood under the window's
model (the IWAE bound, k = 64) as a percentile of the test set's, with a warning outside
the 1st to 99th percentile. Measured in a worker thread as the drawing changes: one
measurement at a time, and at its end one more if the drawing changed meanwhile (only the
latest drawing is ever measured). The test set's values are measured once per model
(`vaedesk.core.typicality.cached_scale`)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QObject, Signal
from PySide6.QtWidgets import QLabel, QMainWindow

from vaedesk.core import typicality
from vaedesk.core.api import Model
from vaedesk.core.session import Session
from vaedesk.ui.workers import Task, Worker

WAITING = "How typical is your drawing? Measuring\u2026"


class _Stopped(Exception):
    pass


class TypicalityReadout(QLabel):
    measured = Signal()  # the text describes the latest drawing

    def __init__(self, session: Session, window: QMainWindow, width: int) -> None:
        super().__init__()
        self.session = session
        self.setWordWrap(True)
        self.setFixedWidth(width)
        self.setObjectName("typicality")
        self.result: typicality.Typicality | None = None  # for the drawing shown
        self._scale: tuple[Model, typicality.Scale] | None = None
        self._task: Task | None = None
        self._stale = False
        session.events.drawing.connect(self._on_drawing)
        window.installEventFilter(self)  # its close waits for a measurement under way

    def _on_drawing(self) -> None:
        drawing = self.session.drawing
        if drawing is None:
            self.result = None
            self.setText("")
            return
        if self._task is not None and self._task.is_running():
            self._stale = True
            return
        self._measure(self.session.model, drawing.input)

    def _measure(self, model: Model, image: np.ndarray) -> None:
        self._stale = False
        if model.conditional or self.session.test is None:
            self.setText("")
            return
        scale = self._scale[1] if self._scale is not None and self._scale[0] is model else None
        test_images = self.session.test.images

        def job(emit, should_stop) -> tuple[typicality.Scale, typicality.Typicality]:
            def progress(done: int, total: int) -> None:
                if should_stop():  # the window is closing
                    raise _Stopped
                emit(done / total)

            measured = scale or typicality.cached_scale(model, test_images, progress=progress)
            return measured, typicality.typicality(model, image, measured)

        if self._task is not None:  # finished: free it, as a drawing makes many
            self._task.worker.deleteLater()
            self._task.deleteLater()
        worker = Worker(job, expected_errors=(_Stopped,))
        once = "Measuring the test set once for this model:"
        worker.progress.connect(lambda f: self.setText(f"{once} {f:.0%}"))
        worker.succeeded.connect(lambda out: self._show(model, image, *out))
        worker.failed.connect(lambda kind, message: self.setText(f"Typicality failed: {kind}: {message}"))
        worker.finished.connect(self._next)
        self._task = Task(worker, self)
        if scale is None:
            self.setText(WAITING)
        self._task.start()

    def _show(
        self, model: Model, image: np.ndarray, scale: typicality.Scale, t: typicality.Typicality
    ) -> None:
        self._scale = (model, scale)
        drawing = self.session.drawing
        if model is self.session.model and drawing is not None and drawing.input is image:
            self.result = t
            self.setText(t.describe())
            self.measured.emit()
        else:
            self._stale = True

    def _next(self) -> None:
        if self._stale and self.session.drawing is not None:
            self._measure(self.session.model, self.session.drawing.input)

    def stop_and_wait(self) -> None:
        self._stale = False
        if self._task is not None:
            self._task.stop_and_wait()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Close:
            self.stop_and_wait()
        return False
