"""Run long work (training, downloads) off the GUI thread.

The wiring is superqt's ``new_worker_qthread``: a QObject worker moved to a QThread,
``thread.started -> worker.run``, ``worker.finished -> thread.quit``, ``deleteLater`` on
both. The worker only emits plain Python values; it never touches a widget.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

# fn(emit_progress, should_stop) -> result
Job = Callable[[Callable[[Any], None], Callable[[], bool]], Any]


class Worker(QObject):
    progress = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str, str)  # the error's class name, its message
    finished = Signal()  # always last, after succeeded or failed

    def __init__(self, job: Job, expected_errors: tuple[type[BaseException], ...] = ()) -> None:
        super().__init__()
        self._job = job
        self._expected = expected_errors
        self._stop_requested = False

    def request_stop(self) -> None:
        """Called from the GUI thread; the job sees it at its next check (one batch, one block)."""
        self._stop_requested = True

    def stop_requested(self) -> bool:
        return self._stop_requested

    @Slot()
    def run(self) -> None:
        try:
            result = self._job(self.progress.emit, self.stop_requested)
        except self._expected as e:
            self.failed.emit(type(e).__name__, str(e))
        except Exception as e:  # an unexpected bug: keep the window alive and show what happened
            self.failed.emit(type(e).__name__, "unexpected error:\n" + traceback.format_exc(limit=6))
        else:
            self.succeeded.emit(result)
        finally:
            self.finished.emit()


class Task:
    """A worker and its thread, started together and cleaned up together."""

    def __init__(self, worker: Worker, parent: QObject) -> None:
        self.worker = worker
        self.thread = QThread(parent)
        worker.moveToThread(self.thread)
        self.thread.started.connect(worker.run)
        # Direct: QThread.quit is thread-safe, and a queued call would never run while the
        # GUI thread is blocked in stop_and_wait() (closing the window mid-run).
        worker.finished.connect(self.thread.quit, Qt.ConnectionType.DirectConnection)
        worker.finished.connect(worker.deleteLater)
        self.thread.finished.connect(self.thread.deleteLater)
        self._running = True
        self.thread.finished.connect(self._on_thread_finished)

    def start(self) -> None:
        self.thread.start()

    def _on_thread_finished(self) -> None:
        self._running = False

    def is_running(self) -> bool:
        return self._running

    def stop_and_wait(self, timeout_ms: int = 30000) -> bool:
        """Ask the job to stop and wait for its thread: used when the window closes."""
        if not self._running:
            return True
        self.worker.request_stop()
        return self.thread.wait(timeout_ms)
