"""The window's benchmarks: start-up to the first painted map, hover latency, memory under
many hovers, and responsiveness while a training run shares the machine."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np

from vaedesk.core.timing import ms, percentile


def _time_until(cmd: list[str], marker: str, env: dict[str, str]) -> float:
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(marker):
            elapsed = time.perf_counter() - t
            break
    else:
        elapsed = float("nan")
    proc.wait(timeout=60)
    return elapsed


def bench_startup(args: argparse.Namespace, runs: int) -> None:
    env = {**os.environ}
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    options = ["--exit-after-first-paint"]
    if args.data:
        options += ["--data", args.data]
    if args.weights:
        options += ["--weights", args.weights]
    commands = {
        "bare import of torch + Qt + pyqtgraph": (
            [sys.executable, "-c", "import torch, PySide6.QtWidgets, pyqtgraph; print('ready', flush=True)"],
            "ready",
        ),
        "vaedesk from source": ([sys.executable, "-m", "vaedesk", *options], "first-paint"),
    }
    if getattr(args, "packaged", None):
        commands["vaedesk packaged"] = ([args.packaged, *options], "first-paint")
    for cmd, marker in commands.values():  # fill the latent cache and the OS file cache
        _time_until(cmd, marker, env)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):  # interleaved, so load on the machine hits all alike
        for name, (cmd, marker) in commands.items():
            times[name].append(_time_until(cmd, marker, env))
    medians = {name: statistics.median(t) for name, t in times.items()}
    base = medians["bare import of torch + Qt + pyqtgraph"]
    source = medians["vaedesk from source"]
    print(f"launch to first painted map, median of {runs} interleaved runs:")
    for name, m in medians.items():
        print(f"  {name:40s} {m:.2f} s  ({m / base:.2f}x the bare import, {m / source:.2f}x source)")


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def make_window(args: argparse.Namespace):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from vaedesk.core.api import Model
    from vaedesk.core.session import Session
    from vaedesk.ui.app import configure
    from vaedesk.ui.main_window import MainWindow

    configure()
    app = QApplication.instance() or QApplication([sys.argv[0]])
    window = MainWindow(Session(Model.load(args.weights), args.data))
    window.resize(1500, 880)
    window.show()
    QTest.qWaitForWindowExposed(window)
    app.processEvents()
    return app, window


def hover_latencies(app, window, points: np.ndarray, repaint: bool = False) -> list[float]:
    """Time from a hover event to the decoded image being set (or to the repaint done)."""
    out = []
    done = []
    window.hover_decoded.connect(lambda: done.append(1))
    for x, y in points:
        n = len(done)
        t = time.perf_counter()
        window.map.hover_at(float(x), float(y))
        while len(done) == n:
            app.processEvents()
        if repaint:
            window.map.viewport().repaint()
        out.append(time.perf_counter() - t)
        # Let the frame finish outside the timed section, as it does between real moves
        # (8-16 ms apart); otherwise the previous move's repaint is billed to this one.
        gap = time.perf_counter() + 0.012
        while time.perf_counter() < gap:
            app.processEvents()
    return out


def bench_hover(app, window, moves: int) -> None:
    rng = np.random.default_rng(0)
    points = rng.uniform(-3, 3, size=(moves, 2))
    hover_latencies(app, window, points[:50])
    lat = hover_latencies(app, window, points)
    print(f"hover event to image updated ({moves} moves): {ms(lat)}")
    lat = hover_latencies(app, window, points[: moves // 4], repaint=True)
    print(f"  ... including the map's repaint ({moves // 4} moves): {ms(lat)}")


def bench_hover_memory(app, window, events: int) -> None:
    rng = np.random.default_rng(1)
    points = rng.uniform(-3, 3, size=(events, 2))
    hover_latencies(app, window, points[:2000])  # warm up allocators and caches
    before = _rss_mb()
    t = time.perf_counter()
    for i in range(0, events, 1000):
        for x, y in points[i : i + 1000]:
            window.map.hover_at(float(x), float(y))
            app.sendPostedEvents(window.map)  # decode each one, no coalescing
        app.processEvents()
    after = _rss_mb()
    print(
        f"memory over {events:,} hover events: {before:.1f} MB -> {after:.1f} MB "
        f"({after - before:+.1f} MB) in {time.perf_counter() - t:.0f} s"
    )


def bench_during_training(app, window, seconds: float) -> None:
    """Event-loop stalls and hover latency while the window trains the default model."""
    from PySide6.QtCore import QElapsedTimer, QTimer

    from vaedesk.core import data

    try:
        window.session.training_set()
    except data.DataError as e:
        print(f"during training: skipped ({e})")
        return
    panel = window.training_panel
    panel.arch.setCurrentText("conv")
    panel.epochs.setValue(1)
    panel.limit.setValue(60000)
    panel.eval_k.setValue(0)
    panel.start_button.click()
    while panel.last_progress is None and panel.is_running():  # wait for training to be under way
        app.processEvents()
        time.sleep(0.005)

    gaps: list[float] = []
    hovers: list[float] = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.nsecsElapsed()]

    def tick() -> None:
        now = clock.nsecsElapsed()
        gaps.append((now - last[0]) / 1e9)
        last[0] = now

    ticker = QTimer(interval=5)
    ticker.timeout.connect(tick)
    ticker.start()
    rng = np.random.default_rng(2)
    end = time.perf_counter() + seconds
    while time.perf_counter() < end and panel.is_running():
        x, y = rng.uniform(-3, 3, 2)
        t = time.perf_counter()
        window.map.hover_at(float(x), float(y))
        app.processEvents()  # the coalescing timer fires here, and the repaint happens
        hovers.append(time.perf_counter() - t)
        deadline = time.perf_counter() + 0.016  # about one move per frame, as a hand makes
        while time.perf_counter() < deadline:
            app.processEvents()
            time.sleep(0.001)
    ticker.stop()
    window_rate = panel.samples_per_second()
    panel.cancel()
    while panel.is_running():
        app.processEvents()
    stalls = [max(0.0, g - 0.005) for g in gaps]
    print(f"during training ({seconds:.0f} s, window trains on 1 thread at {window_rate:,.0f} samples/s):")
    print(
        f"  event-loop stall: median {1e3 * statistics.median(stalls):.1f} ms, "
        f"p99 {1e3 * percentile(stalls, 99):.1f} ms, max {1e3 * max(stalls):.1f} ms"
    )
    print(f"  hover event to image updated and repainted: {ms(hovers)}")


def run_ui_bench(args: argparse.Namespace, quick: bool = False) -> None:
    bench_startup(args, runs=2 if quick else 5)
    app, window = make_window(args)
    bench_hover(app, window, moves=200 if quick else 1000)
    bench_hover_memory(app, window, events=10_000 if quick else 100_000)
    bench_during_training(app, window, seconds=8 if quick else 30)
    window.close()
