"""The window's memory over three training runs in a row (issue #34, item 10).

Opens the real main window on the bundled model, opens Model > Train with its shortcut,
and presses the panel's real Start button three times; each run ends, its model is kept
with the real Keep button, and the event loop settles before the next. Prints, for each
run, the process's resident memory before it, its peak during it and after it, against
the goals: peak <= 900 MB, after <= 600 MB, no growth from run to run.

The peak is the larger of a thread's samples of VmRSS (every 10 ms) and the kernel's
VmHWM, which is reset to the current RSS before each run (writing 5 to
/proc/self/clear_refs); both from /proc, so Linux only.

    QT_QPA_PLATFORM=offscreen OMP_NUM_THREADS=1 \\
        .venv/bin/python tests/benchmarks/training_memory.py --data /work/shared/mnist

Everything but --epochs is the panel's default unless given (--limit: its "training
images" field). Needs the real MNIST training set.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time

PEAK_GOAL_MB = 900
AFTER_GOAL_MB = 600
GROWTH_SLACK_MB = 25  # run-to-run noise of "after" still counted as no growth
SETTLE_S = 3.0  # event loop left running after a run is kept, before "after" is read


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def rss_mb() -> float:
    return _status_mb("VmRSS")


def reset_hwm() -> bool:
    """Reset the kernel's peak-RSS mark to the current RSS (Linux 4.0+)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class PeakSampler:
    """Samples VmRSS in a thread; `take()` returns the peak since the last `take()`."""

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self._peak = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            now = rss_mb()
            with self._lock:
                self._peak = max(self._peak, now)

    def take(self) -> float:
        with self._lock:
            peak, self._peak = self._peak, rss_mb()
        return peak

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def phase_of(status: str) -> str:
    """The run's phase, from the panel's status line."""
    if status.startswith("Finding each image's"):
        return "neighbours"
    if status.startswith("epoch "):
        return "training"
    if status.startswith("Evaluating the best epoch"):
        return "evaluation: " + status.split(": ", 1)[1].split(",", 1)[0]
    if status.startswith("Stopped ("):
        return "evaluation starts"
    return status.split(" ", 1)[0] or "?"


def phase_peaks(app, panel, sampler: PeakSampler, finished: list[str]) -> list[tuple[str, float]]:
    """Run the event loop until the run ends; the peak RSS of each phase the status line
    shows, in order (the kernel's VmHWM is reset at each change)."""
    peaks: list[tuple[str, float]] = []
    phase = phase_of(panel.status.text())
    while not finished:
        app.processEvents()
        time.sleep(0.005)
        now = phase_of(panel.status.text()) if not finished else phase
        if now != phase:
            peaks.append((phase, max(sampler.take(), _status_mb("VmHWM"))))
            reset_hwm()
            phase = now
    peaks.append((phase, max(sampler.take(), _status_mb("VmHWM"))))
    return peaks


def in_use() -> str:
    """What is allocated and alive, in MB: C's malloc (glibc's mallinfo2: its heaps' chunks
    in use and its own mappings) and Python's object arenas (1 MiB each; freed only when
    empty, so a few live objects keep one resident)."""
    import ctypes
    import tempfile

    class Mallinfo2(ctypes.Structure):
        _fields_ = [
            (name, ctypes.c_size_t)
            for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks")
            + ("uordblks", "fordblks", "keepcost")
        ]

    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = Mallinfo2
    m = libc.mallinfo2()
    with tempfile.TemporaryFile("w+") as stats:  # it writes to the C stderr, file descriptor 2
        saved = os.dup(2)
        try:
            sys.stderr.flush()
            os.dup2(stats.fileno(), 2)
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        stats.seek(0)
        lines = stats.read().splitlines()
    current = [line for line in lines if line.startswith("# arenas allocated current")]
    arenas = int(current[0].split("=")[-1].replace(",", "")) if current else -1
    return (
        f"malloc in use {(m.uordblks + m.hblkhd) / 2**20:.0f} (heaps {m.arena / 2**20:.0f}, free in them"
        f" {m.fordblks / 2**20:.0f}), python arenas {arenas}"
    )


def _after_a_collection() -> str:
    """What a full garbage collection and a heap trim would still give back, measured
    after "after" was read (what the window holds only until Python's collector runs)."""
    import gc

    from vaedesk.core.memory import trim_heap

    started = time.perf_counter()
    gc.collect()
    took = time.perf_counter() - started
    trim_heap()
    return f"; after a collection ({1000 * took:.0f} ms) and a trim {rss_mb():.0f} MB"


def answer(app, label: str) -> None:
    """Click the button `label` of the question box that is up, if there is one."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QMessageBox

    box = app.activeModalWidget()
    if isinstance(box, QMessageBox):
        for button in box.buttons():
            if button.text() == label:
                QTest.mouseClick(button, Qt.MouseButton.LeftButton)


def settle(app, seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.01)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.environ.get("VAEDESK_TEST_MNIST", "/work/shared/mnist"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=1, help="per run (the panel's default is 3)")
    parser.add_argument("--limit", type=int, default=None, help="training images (default: the panel's)")
    parser.add_argument("--eval-k", type=int, default=None, help="IWAE samples (default: the panel's)")
    parser.add_argument("--phases", action="store_true", help="also print each phase's peak")
    parser.add_argument("--smaps", action="store_true", help="also print what malloc and Python hold")
    parser.add_argument(
        "--collect", action="store_true", help="also print RSS after a full garbage collection and a trim"
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from vaedesk.core.api import Model
    from vaedesk.core.session import Session
    from vaedesk.ui.app import configure
    from vaedesk.ui.main_window import MainWindow

    configure()
    app = QApplication.instance() or QApplication([sys.argv[0]])
    window = MainWindow(Session(Model.load(), args.data))
    window.resize(1500, 900)
    window.show()
    QTest.qWaitForWindowExposed(window)
    settle(app, 0.5)
    launched = rss_mb()
    QTest.keyClick(window, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)  # Model > Train
    panel = window.training_panel
    while not panel.isVisible():
        app.processEvents()
    from vaedesk.ui.training import engine_loaded

    while not engine_loaded() or panel.loading is not None:  # torch, imported as the panel opens
        app.processEvents()
        time.sleep(0.01)
    panel.epochs.setValue(args.epochs)
    if args.limit is not None:
        panel.limit.setValue(args.limit)
    if args.eval_k is not None:
        panel.eval_k.setValue(args.eval_k)
    settle(app, 1.0)
    opened = rss_mb()
    print(
        f"window on the bundled model: {launched:.0f} MB; training panel open, torch loaded: {opened:.0f} MB",
        flush=True,
    )
    print(
        f"{args.runs} runs, each kept: {panel.limit.value():,} training images, {args.epochs} epochs,"
        f" {panel.arch.currentText()}, neighbours {panel.neighbours.value():g},"
        f" IWAE samples {panel.eval_k.value()}; torch threads 1 (the panel's)",
        flush=True,
    )
    if args.smaps:
        print(f"before the first run: {in_use()}", flush=True)
    sampler = PeakSampler()
    hwm_works = reset_hwm()
    rows = []
    for i in range(1, args.runs + 1):
        before = rss_mb()
        sampler.take()
        reset_hwm()
        finished: list[str] = []
        panel.run_finished.connect(finished.append)
        started = time.perf_counter()
        QTest.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
        phases_peak = 0.0
        if args.phases:
            phases = phase_peaks(app, panel, sampler, finished)
            phases_peak = max(mb for _, mb in phases)
            print("  " + "; ".join(f"{name} {mb:.0f}" for name, mb in phases), flush=True)
        while not finished:
            app.processEvents()
            time.sleep(0.005)
        seconds = time.perf_counter() - started
        panel.run_finished.disconnect(finished.append)
        if panel.keep_button.isVisible():
            # from the second run on, Keep asks about the model kept before, in no file:
            # Discard is clicked in that question once its box is up
            QTimer.singleShot(0, lambda: answer(app, "&Discard"))
            QTest.mouseClick(panel.keep_button, Qt.MouseButton.LeftButton)
        settle(app, SETTLE_S)
        peak = max(phases_peak, sampler.take(), _status_mb("VmHWM") if hwm_works else 0.0)
        after = rss_mb()
        rows.append((before, peak, after))
        anonymous, file_backed = _status_mb("RssAnon"), _status_mb("RssFile")
        collected = _after_a_collection() if args.collect else ""
        collected += f"; {in_use()}" if args.smaps else ""
        print(
            f"run {i}: {finished[0]} in {seconds:.0f} s; RSS before {before:.0f} MB,"
            f" peak {peak:.0f} MB, after {after:.0f} MB"
            f" ({anonymous:.0f} anonymous, {file_backed:.0f} file-backed){collected}",
            flush=True,
        )
    sampler.stop()
    peaks = [r[1] for r in rows]
    afters = [r[2] for r in rows]
    growth = afters[-1] - afters[0]
    print(
        f"goals: peak <= {PEAK_GOAL_MB} MB: {'met' if max(peaks) <= PEAK_GOAL_MB else 'MISSED'}"
        f" (max {max(peaks):.0f}); after <= {AFTER_GOAL_MB} MB:"
        f" {'met' if max(afters) <= AFTER_GOAL_MB else 'MISSED'} (max {max(afters):.0f});"
        f" growth from run 1 to run {len(rows)}: {growth:+.0f} MB"
        f" ({'none' if growth <= GROWTH_SLACK_MB else 'GROWS'}, slack {GROWTH_SLACK_MB} MB)"
    )
    window._unsaved_model_settled = lambda doing: True  # quit as if the kept model were discarded
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
