"""`vaedesk --trace FILE`: what the window shows, as JSON lines, for scripted end-to-end
tests (tests/e2e/test_window_in_x_server.py) that drive it with real X input and need to know
where the panels are and what each action changed."""

from __future__ import annotations

import errno
import json
import os
import time
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QWidget

from vaedesk.core import paths


def geometry(widget: QWidget) -> list[int]:
    """The widget's rectangle on the screen: x, y, width, height."""
    top_left = widget.mapToGlobal(widget.rect().topLeft())
    return [top_left.x(), top_left.y(), widget.width(), widget.height()]


class Trace:
    def __init__(self, path: str | None = None) -> None:
        """OSError (one line, naming the file) for a file vaedesk ships, a folder (it
        fails to open) or anything else that is not a regular file: a FIFO would block
        the start until a reader came, /dev/full fail at the first event."""
        self._file = None
        if path:
            paths.refuse_shipped(path)
            if os.path.exists(path) and not (os.path.isfile(path) or os.path.isdir(path)):
                raise OSError(errno.EINVAL, "not a regular file", path)
            self._file = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115
        self._start = time.perf_counter()

    def __bool__(self) -> bool:
        return self._file is not None

    def __call__(self, event: str, **data: Any) -> None:
        if self._file is not None:
            record = {"t": round(time.perf_counter() - self._start, 3), "event": event, **data}
            self._file.write(json.dumps(record, default=float) + "\n")

    def watch_window(self, window) -> None:
        """Report where the map and the pad are once the map is on screen."""
        if self:
            window.map.first_painted.connect(
                lambda: self(
                    "ready",
                    map=geometry(window.map.viewport()),
                    pad=geometry(window.drawing.pad),
                    points=len(window.session.points),
                )
            )

    def watch_training(self, panel) -> None:
        """Report a run's events, and where the panel's controls are whenever it shows
        or a run ends (the Keep button appears then)."""
        if not self:
            return
        later = lambda: QTimer.singleShot(300, lambda: self._panel(panel))  # after the layout settles
        panel.visibilityChanged.connect(lambda shown: shown and later())
        panel.run_started.connect(lambda: self("run_started"))
        panel.epoch_finished.connect(lambda e: self("epoch", epoch=e, progress=panel.progress.value()))
        panel.cancel_button.clicked.connect(lambda: self("cancel_clicked"))
        panel.evaluating.connect(lambda best: self("evaluating", best_epoch=best))
        panel.run_finished.connect(lambda reason: (self("run_finished", reason=reason), later()))

    def _panel(self, panel) -> None:
        names = ("arch", "epochs", "limit", "eval_k", "start_button", "cancel_button", "keep_button")
        self("training_panel", **{name: geometry(getattr(panel, name)) for name in names})
