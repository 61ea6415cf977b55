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
        if hasattr(w, "training_self_test"):
            self.check(
                "short training run in the background", lambda: w.training_self_test(self.training_batches)
            )
        ok = all(c["ok"] for c in self.checks)
        report = {"ok": ok, "model": str(w.model.path), "checks": self.checks}
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
            if len(decoded) == before or w.decoder_view.image is None:
                return False, {"error": f"move {i} was not decoded within 2 s"}
            under_cursor = np.array(viewport_to_latent(m, pos), np.float32)
            worst_z = max(worst_z, float(np.abs(w.hover_z - under_cursor).max()))
            expected = w.model.decode(under_cursor)[0]
            worst_pixel = max(worst_pixel, float(np.abs(w.decoder_view.image - expected).max()))
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
        (x0, x1), (y0, y1) = m.view.viewRange()
        target = w.map.nearest_point((x0 + x1) / 2, (y0 + y1) / 2)
        pos = map_to_viewport(m, *m.mu[target])
        QTest.mouseClick(m.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)
        QApplication.processEvents()
        expected = m.nearest_point(*viewport_to_latent(m, pos))
        return w.selected == expected and w.sel_image.image is not None, {
            "clicked_index": w.selected,
            "nearest_index": expected,
            "label": int(w.test.labels[expected]) if expected is not None else None,
        }

    def check_drawing(self) -> tuple[bool, dict]:
        w = self.window
        w.clear_drawing()
        t = time.perf_counter()
        drag(w.pad, stroke_seven(w.pad.side))
        QTest.qWait(120)  # the throttle timer
        w.encode_drawing()
        elapsed = time.perf_counter() - t
        mu, _ = w.model.encode(preprocess.to_mnist(w.pad.ink()))
        x, y = w.map.drawn.getData()
        ok = len(x) == 1 and np.allclose([x[0], y[0]], mu[0], atol=1e-5)
        return ok, {
            "mean": [round(float(v), 3) for v in mu[0]],
            "trail_points": len(w.trail),
            "stroke_to_marker_ms": round(1e3 * elapsed, 1),
        }
