"""The Style view's hover (one batched decode of ten per move) beside the bare scatter's
crosshair move in the same run, and the typicality estimate per stroke (`python -m
tests.benchmarks --style`)."""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from tests.benchmarks.timing import ms, timings
from tests.benchmarks.window import bare_scatter, make_window, paint_counter, painted


def _settle(app, seconds: float = 0.012) -> None:
    """Let the frame finish outside the timed section, as between real moves (8-16 ms)."""
    gap = time.perf_counter() + seconds
    while time.perf_counter() < gap:
        app.processEvents()


def style_hover_latencies(app, view, points: np.ndarray) -> list[float]:
    """A hover on the Style view's map to the row of ten decoded, shown and painted."""
    done: list[int] = []
    on_shown = lambda: done.append(1)  # noqa: E731
    view.row_shown.connect(on_shown)
    map_paints, row_paints = paint_counter(view.map.viewport()), paint_counter(view.row_view)
    out = []
    for x, y in points:
        n, frames = len(done), (map_paints(), row_paints())
        t = time.perf_counter()
        view.map.hover_at(float(x), float(y))
        while len(done) == n:
            app.processEvents()
        painted(app, map_paints, frames[0], row_paints, frames[1])
        out.append(time.perf_counter() - t)
        _settle(app)
    view.row_shown.disconnect(on_shown)
    map_paints.remove()
    row_paints.remove()
    return out


def bench_style_hover(app, view, moves: int) -> None:
    (x0, x1), (y0, y1) = view.map.view.viewRange()  # inside the view: every move repaints
    points = np.random.default_rng(0).uniform((x0, y0), (x1, y1), size=(moves, 2))
    style_hover_latencies(app, view, points[:20])  # warm-up
    plot, move = bare_scatter(view)
    plot_paints = paint_counter(plot.viewport())
    ours: list[float] = []
    bare: list[float] = []
    for block in range(0, moves, 50):  # interleaved, so that load from others hits both alike
        ours += style_hover_latencies(app, view, points[block : block + 50])
        for x, y in points[block : block + 50]:
            before, t = plot_paints(), time.perf_counter()
            move(float(x), float(y))
            painted(app, plot_paints, before)
            bare.append(time.perf_counter() - t)
            _settle(app)
    plot_paints.remove()
    plot.close()
    print(f"Style view: mouse move to the row of ten decoded and painted ({moves} moves): {ms(ours)}")
    print(f"  bare single-item scatter, crosshair moved and painted: {ms(bare)}")
    print(f"  ratio of medians {statistics.median(ours) / statistics.median(bare):.2f}x")
    z = np.zeros(2, np.float32)
    print(f"  the decode of ten alone: {ms(timings(lambda: view.style.draw_all(z), 200))}")
    one = lambda: view.style.model.decode(z[None], np.zeros(1, np.int64))  # noqa: E731
    print(f"  one conditional decode, for comparison: {ms(timings(one, 200))}")


def bench_typicality(app, window, strokes: int) -> None:
    """log p(x) of a drawing (IWAE, k = 64) against the test set's scale: the estimate
    alone, and in the window from a stroke's end to the readout, with the GUI thread's
    longest stall meanwhile (the estimate runs in a worker thread)."""
    from vaedesk.core import typicality
    from vaedesk.ui.selftest import drag, stroke_seven

    model, images = window.session.model, window.session.test.images
    t = time.perf_counter()
    scale = typicality.cached_scale(model, images)
    print(f"typicality: the test set's scale ({len(images)} images, k = 64): {time.perf_counter() - t:.1f} s")
    window.typicality._scale = (model, scale)  # measured above: the window need not again
    drag(window.drawing.pad, stroke_seven())
    while window.session.drawing is None:
        app.processEvents()
    seen = window.session.drawing.input
    alone = timings(lambda: typicality.typicality(model, seen, scale), 50, 5)
    print(f"  the estimate per drawing: {ms(alone)}")
    readout, stalls, done = [], [], []
    window.typicality.measured.connect(lambda: done.append(1))
    for i in range(strokes):
        done.clear()
        t = last = time.perf_counter()
        worst = 0.0
        drag(window.drawing.pad, [(60 + i % 7 * 20, 120 + i % 5 * 25), (200, 220 - i % 5 * 25)])
        while not done:
            app.processEvents()
            now = time.perf_counter()
            worst, last = max(worst, now - last), now
        readout.append(time.perf_counter() - t)
        stalls.append(worst)
        window.drawing.pad.undo()  # measured too: wait for it, so that it is not the next one's
        _settle(app, 0.05)
        while window.typicality._task.is_running():
            app.processEvents()
    print(f"  stroke's end to the readout shown ({strokes} strokes): {ms(readout)}")
    print(f"  the GUI thread's longest stall meanwhile: {ms(stalls)}")


def run_style_bench(args: argparse.Namespace) -> int:
    from vaedesk.ui.style_view import open_style_view

    app, window = make_window(args)
    view = open_style_view(window)
    if view is None:
        print("no Style view: the bundled conditional model or the test set is missing")
        return 1
    view.resize(1100, 900)
    app.processEvents()
    bench_style_hover(app, view, 100 if args.quick else 400)
    bench_typicality(app, window, 10 if args.quick else 30)
    return 0
