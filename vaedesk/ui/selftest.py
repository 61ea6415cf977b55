"""`vaedesk --self-test`: drive the real window with real mouse events, check what it
shows, print a JSON report, exit 0 only if every check held.

The helpers that send mouse events are shared with the pytest-qt tests.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable, Iterable

import numpy as np
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QWidget

from vaedesk.core import preprocess


def map_to_viewport(latent_map, x: float, y: float) -> QPoint:
    """Latent coordinates -> pixel position in the map's viewport."""
    scene = latent_map.view.mapViewToScene(QPointF(x, y))
    return latent_map.mapFromScene(scene)


def viewport_to_latent(latent_map, pos: QPoint) -> tuple[float, float]:
    p = latent_map.view.mapSceneToView(latent_map.mapToScene(pos))
    return p.x(), p.y()


def send_mouse(
    widget: QWidget,
    kind: QEvent.Type,
    pos: QPointF,
    buttons: Qt.MouseButton,
    button: Qt.MouseButton = Qt.MouseButton.NoButton,
    modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier,
) -> None:
    global_pos = QPointF(widget.mapToGlobal(pos.toPoint()))
    event = QMouseEvent(kind, pos, global_pos, button, buttons, modifiers)
    QApplication.sendEvent(widget, event)


def drag(widget: QWidget, points: Iterable[tuple[float, float]]) -> None:
    """A left-button stroke through `points` (widget pixels), as a hand would draw it."""
    pts = [QPointF(x, y) for x, y in points]
    left = Qt.MouseButton.LeftButton
    send_mouse(widget, QEvent.Type.MouseButtonPress, pts[0], left, left)
    for p in pts[1:]:
        send_mouse(widget, QEvent.Type.MouseMove, p, left)
    send_mouse(widget, QEvent.Type.MouseButtonRelease, pts[-1], Qt.MouseButton.NoButton, left)


def stroke_seven(side: int = 280) -> list[tuple[float, float]]:
    s = side / 280
    top = [(70 + 14 * i, 60) for i in range(11)]
    down = [(210 - 7 * i, 60 + 17 * i) for i in range(1, 12)]
    return [(x * s, y * s) for x, y in top + down]


def marker_count(latent_map) -> int:
    x = latent_map.drawn.getData()[0]
    return 0 if x is None else len(x)


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    """Run the event loop until `condition` holds. A QEventLoop slice at a time, not
    QTest.qWait: qWait keeps the GIL, and a training thread would starve."""
    from PySide6.QtCore import QEventLoop, QTimer

    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            return False
        loop = QEventLoop()
        QTimer.singleShot(10, loop.quit)
        loop.exec()
    return True


class SelfTest:
    def __init__(self, window, training_batches: int = 6) -> None:
        self.window = window
        self.training_batches = training_batches
        self.checks: list[dict] = []
        self.exit_code = 1

    def start(self) -> None:
        from PySide6.QtCore import QTimer

        QTimer.singleShot(0, self.run)

    def check(self, name: str, fn: Callable[[], tuple[bool, dict]]) -> None:
        t = time.perf_counter()
        try:
            ok, detail = fn()
        except Exception:
            ok, detail = False, {"error": traceback.format_exc(limit=4)}
        self.checks.append(
            {"check": name, "ok": bool(ok), "seconds": round(time.perf_counter() - t, 3), **detail}
        )

    def run(self) -> None:
        w = self.window
        QTest.qWaitForWindowExposed(w, 5000)
        QApplication.processEvents()
        self.check("window shows the map", self.check_map)
        self.check("hover sweep decodes every point", self.check_hover)
        self.check("click selects the nearest test image", self.check_click)
        self.check("drawing is encoded where encode() puts it", self.check_drawing)
        self.check("viewing ran on ONNX Runtime, torch not imported", self.check_no_torch)
        self.check("Model > Train, Start pressed: a short run in the background", self.check_training)
        ok = all(c["ok"] for c in self.checks)
        report = {"ok": ok, "model": str(w.session.model.path), "checks": self.checks}
        print(json.dumps(report, indent=1), flush=True)
        self.exit_code = 0 if ok else 1
        w.close()
        QApplication.quit()

    def check_map(self) -> tuple[bool, dict]:
        w = self.window
        shown = w.map.has_points()
        return shown, {"points": int(len(w.map.mu)), "data": "found" if shown else "missing"}

    def check_hover(self) -> tuple[bool, dict]:
        """Real mouse moves across the map; each must end with the decoder view showing
        decode() of exactly the point under the cursor."""
        w = self.window
        m = w.map
        viewport = m.viewport()
        rect = viewport.rect()
        decoded: list[int] = []
        w.hover_decoded.connect(lambda: decoded.append(1))
        worst_pixel, worst_z, times = 0.0, 0.0, []
        n = 120
        for i in range(n):
            pos = QPoint(int(rect.width() * (0.1 + 0.8 * i / n)), int(rect.height() * (0.2 + 0.6 * i / n)))
            before = len(decoded)
            t = time.perf_counter()
            QTest.mouseMove(viewport, pos)
            deadline = t + 2.0
            while len(decoded) == before and time.perf_counter() < deadline:
                QApplication.processEvents()
            times.append(time.perf_counter() - t)
            if len(decoded) == before or w.decoder.image is None:
                return False, {"error": f"move {i} was not decoded within 2 s"}
            under_cursor = np.array(viewport_to_latent(m, pos), np.float32)
            worst_z = max(worst_z, float(np.abs(w.hover_z - under_cursor).max()))
            expected = w.session.model.decode(under_cursor)[0]
            worst_pixel = max(worst_pixel, float(np.abs(w.decoder.image - expected).max()))
        ok = worst_pixel < 2e-3 and worst_z < 1e-4
        return ok, {
            "moves": n,
            "max_pixel_difference": round(worst_pixel, 6),
            "max_z_difference": worst_z,
            "move_to_image_ms_median": round(1e3 * float(np.median(times)), 3),
            "move_to_image_ms_p99": round(1e3 * float(np.percentile(times, 99)), 3),
        }

    def check_click(self) -> tuple[bool, dict]:
        w = self.window
        if not w.map.has_points():
            return True, {"skipped": "no MNIST test set"}
        m = w.map
        rect = m.viewport().rect()
        pos = QPoint(rect.width() // 2 + 3, rect.height() // 2 - 2)
        QTest.mouseClick(m.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)
        QApplication.processEvents()
        # Brute force over every point shown, independently of the session's own search.
        z = np.array(viewport_to_latent(m, pos))
        expected = int(np.argmin(((m.mu.astype(np.float64) - z) ** 2).sum(axis=1)))
        selected = w.session.selected
        return selected == expected and w.selection.image.image is not None, {
            "clicked_index": selected,
            "nearest_index": expected,
            "label": int(m.labels[expected]),
        }

    def check_drawing(self) -> tuple[bool, dict]:
        w = self.window
        w.drawing.clear_button.click()
        wait_for(lambda: w.session.drawing is None, 2.0)
        t = time.perf_counter()
        drag(w.drawing.pad, stroke_seven(w.drawing.pad.side))
        shown = wait_for(lambda: marker_count(w.map) == 1, 2.0)
        elapsed = time.perf_counter() - t
        mu, _ = w.session.model.encode(preprocess.to_mnist(w.drawing.pad.ink()))
        x, y = w.map.drawn.getData()
        ok = shown and np.allclose([x[0], y[0]], mu[0, :2], atol=1e-5)
        return ok, {
            "mean": [round(float(v), 3) for v in mu[0]],
            "stroke_to_marker_ms": round(1e3 * elapsed, 1),
        }

    def check_no_torch(self) -> tuple[bool, dict]:
        import sys

        runtime = self.window.session.model.runtime
        imported = "torch" in sys.modules
        return runtime == "onnxruntime" and not imported, {"runtime": runtime, "torch_imported": imported}

    def check_training(self) -> tuple[bool, dict]:
        """The user's path: Model > Train, set the options, click Start, watch it run."""
        from vaedesk.core import data

        w = self.window
        if data.find_data_dir("train", w.session.data_dir) is None:
            return True, {"skipped": "no MNIST training set"}
        w.action("model.train").trigger()
        panel = w.training_panel
        panel.arch.setCurrentText("mlp")  # small, so that the evaluation after it is quick
        panel.epochs.setValue(1)
        panel.batch_size.setValue(64)
        panel.limit.setValue(int(64 * self.training_batches / 0.9) + 1)
        before = w.map.mu.copy()
        outcome: list[str] = []
        panel.run_finished.connect(outcome.append)
        t = time.perf_counter()
        QTest.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
        started = panel.is_running()
        wait_for(lambda: bool(outcome), 300.0)
        seconds = time.perf_counter() - t
        moved = len(before) == 0 or not np.allclose(before, w.map.mu)
        progressed = panel.progress.value() == panel.progress.maximum() > 0
        samples = panel.samples_per_second()
        QTest.mouseClick(panel.discard_button, Qt.MouseButton.LeftButton)
        reason = outcome[0] if outcome else "timed out"
        ok = started and reason == "completed" and moved and progressed and not panel.is_running()
        return ok, {
            "started_by_click": started,
            "stop_reason": reason,
            "progress_full": progressed,
            "map_moved": bool(moved),
            "seconds": round(seconds, 2),
            "samples_per_s": round(samples, 1),
        }
