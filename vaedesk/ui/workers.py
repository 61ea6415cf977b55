"""Run long work (training, downloads) off the GUI thread.

The wiring is superqt's ``new_worker_qthread``: a QObject runner moved to a QThread,
``thread.started -> runner.run``, ``runner.done -> thread.quit``, ``deleteLater`` on
both. Two differences. The runner moves back to the GUI thread at its end and is deleted
there, never in the worker thread (a deadlock, see `_Runner.run`). And no Python object
crosses threads inside a queued signal: the runner puts what it has to say on a queue
(under the GIL) and emits a signal with no arguments; the `Worker`, which lives in the
GUI thread, drains the queue there and emits `progress`, `succeeded` and `failed` with
their values. Queued `Signal(object)` payloads from a worker thread corrupted the
interpreter's GC lists now and then (a segfault in the GUI thread after a run
finished), which this design rules out.
"""

from __future__ import annotations

import queue
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

# fn(emit_progress, should_stop) -> result
Job = Callable[[Callable[[Any], None], Callable[[], bool]], Any]


class _Runner(QObject):
    ready = Signal()  # something is on the queue
    done = Signal()

    def __init__(self, job: Job, expected: tuple[type[BaseException], ...], out: queue.SimpleQueue) -> None:
        super().__init__()
        self._job, self._expected, self._out = job, expected, out
        self.stop_requested = False
        self._home = QThread.currentThread()  # the GUI thread, where it is destroyed

    def _emit(self, value: Any) -> None:
        self._out.put(("progress", value))
        self.ready.emit()

    @Slot()
    def run(self) -> None:
        try:
            result = self._job(self._emit, lambda: self.stop_requested)
        except self._expected as e:
            self._out.put(("failed", (type(e).__name__, str(e))))
        except Exception as e:  # an unexpected bug: keep the window alive and show what happened
            self._out.put(
                ("failed", (type(e).__name__, "unexpected error:\n" + traceback.format_exc(limit=6)))
            )
        else:
            self._out.put(("succeeded", result))
        finally:
            # The job's closure holds whatever it was given (a training run's images, its
            # starting weights): let it go now, not when this object is collected.
            self._job = None
            # Back to the GUI thread before the end, so that it is never destroyed in the
            # worker thread: ~QObject there holds Qt's signal-slot locks while PySide waits
            # for the GIL, and a GUI thread holding the GIL while it connects or disconnects
            # anything (pyqtgraph does, setting an axis label) deadlocked on them (seen in
            # test_a_diverging_run_keeps_the_previous_model, both threads' stacks dumped).
            self.moveToThread(self._home)
            self.ready.emit()
            self.done.emit()


class Worker(QObject):
    """The GUI thread's side of a job: its signals are emitted in the GUI thread."""

    progress = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str, str)  # the error's class name, its message
    finished = Signal()  # always last, after succeeded or failed

    def __init__(self, job: Job, expected_errors: tuple[type[BaseException], ...] = ()) -> None:
        super().__init__()
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self.runner = _Runner(job, expected_errors, self._queue)
        self.runner.ready.connect(self.drain, Qt.ConnectionType.QueuedConnection)

    def request_stop(self) -> None:
        """The job sees it at its next check (one batch, one block)."""
        self.runner.stop_requested = True

    @Slot()
    def drain(self) -> None:
        while True:
            try:
                kind, value = self._queue.get_nowait()
            except queue.Empty:
                return
            if kind == "progress":
                self.progress.emit(value)
            elif kind == "succeeded":
                self.succeeded.emit(value)
            else:
                self.failed.emit(*value)


class Task(QObject):
    """A worker and its thread, started together and cleaned up together. A QObject in
    the GUI thread, so that its slot for the thread's end runs there too."""

    def __init__(self, worker: Worker, parent: QObject) -> None:
        super().__init__(parent)
        self.worker = worker
        worker.setParent(parent)  # lives in the GUI thread, as long as its owner
        self.thread = QThread(parent)
        runner = worker.runner
        runner.moveToThread(self.thread)
        self.thread.started.connect(runner.run)
        # Direct: QThread.quit is thread-safe, and a queued call would never run while the
        # GUI thread is blocked in stop_and_wait() (closing the window mid-run).
        runner.done.connect(self.thread.quit, Qt.ConnectionType.DirectConnection)
        self.thread.finished.connect(self.thread.deleteLater)
        self._running = True
        self.thread.finished.connect(self._on_thread_finished)

    def start(self) -> None:
        self.thread.start()

    @Slot()
    def _on_thread_finished(self) -> None:
        self._running = False
        self.worker.drain()  # whatever is left, in order, then
        self.worker.finished.emit()
        self.worker.runner.deleteLater()  # in this, the GUI thread (see _Runner.run)

    def is_running(self) -> bool:
        return self._running

    def stop_and_wait(self, timeout_ms: int = 30000) -> bool:
        """Ask the job to stop and wait for its thread: used when the window closes."""
        if not self._running:
            return True
        self.worker.request_stop()
        return self.thread.wait(timeout_ms)
