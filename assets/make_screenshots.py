"""Make the README's screenshots from a real window under Xvfb, driven with xdotool.

    apt-get install xvfb xdotool imagemagick libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1
    Xvfb :99 -screen 0 1600x1000x24 &
    DISPLAY=:99 VAEDESK_DATA=../shared/mnist python assets/make_screenshots.py [--training] [--sizes]
    DISPLAY=:99 python assets/make_screenshots.py --data ../shared/mnist --weights weights/report.safetensors

The mouse really moves (xdotool talks to the X server), so what is shown went through
the same event path as a user's hand. Screenshots are taken with ImageMagick's `import`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPoint, QTimer
from PySide6.QtWidgets import QApplication

HERE = Path(__file__).resolve().parent


def xdo(*args: object) -> None:
    subprocess.run(["xdotool", *map(str, args)], check=True)


def pump(ms: int) -> None:
    """Run the event loop for `ms`. A QEventLoop, not QTest.qWait: qWait keeps the GIL, and
    the training thread would starve."""
    from PySide6.QtCore import QEventLoop

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def global_point(widget, x: float, y: float) -> QPoint:
    return widget.mapToGlobal(QPoint(int(x), int(y)))


def draw(pad, points) -> None:
    p = global_point(pad, *points[0])
    xdo("mousemove", p.x(), p.y())
    pump(50)
    xdo("mousedown", 1)
    for x, y in points[1:]:
        p = global_point(pad, x, y)
        xdo("mousemove", p.x(), p.y())
        pump(15)
    xdo("mouseup", 1)
    pump(200)


def hover(window, x: float, y: float) -> None:
    from vaedesk.ui.selftest import map_to_viewport

    m = window.map
    pos = m.viewport().mapToGlobal(map_to_viewport(m, x, y))
    xdo("mousemove", pos.x(), pos.y())
    pump(300)


def shoot(name: str, window) -> None:
    g = window.frameGeometry()
    crop = f"{g.width()}x{g.height()}+{g.x()}+{g.y()}"
    subprocess.run(["import", "-window", "root", "-crop", crop, str(HERE / name)], check=True)
    print(f"wrote {HERE / name}")


def start_run(window, arch: str, epochs: int, limit: int, **fields):
    """Model > Train, its fields set (`fields`: any other spin box, e.g. neighbours=0),
    and a real click on Start through X. Returns the panel."""
    window.action("model.train").trigger()
    panel = window.training_panel
    panel.arch.setCurrentText(arch)
    panel.epochs.setValue(epochs)
    panel.limit.setValue(limit)
    panel.eval_k.setValue(0)
    for name, value in fields.items():
        getattr(panel, name).setValue(value)
    pump(300)
    start = panel.start_button
    p = start.mapToGlobal(start.rect().center())
    xdo("mousemove", p.x(), p.y())
    xdo("click", 1)
    return panel


def train_two_epochs(window, arch: str, limit: int, settle: int):
    """Model > Train, a 3-epoch run of `arch` on `limit` images started with a real click on
    Start, until two epochs are done (the map has moved and the curves have points)."""
    panel = start_run(window, arch=arch, epochs=3, limit=limit)
    epochs = []
    panel.epoch_finished.connect(epochs.append)
    while len(epochs) < 2:
        pump(200)
    pump(settle)
    return panel


def short_run(window, epochs: int = 2, limit: int = 400):
    """Model > Train, an `epochs`-epoch run of the MLP on `limit` images (no neighbour
    term) started with a real click on Start, until it has finished: the curves, the
    result and Keep / Save / Discard on show."""
    panel = start_run(window, arch="mlp", epochs=epochs, limit=limit, batch_size=32, neighbours=0)
    finished = []
    panel.run_finished.connect(finished.append)
    while not finished:
        pump(200)
    pump(800)
    return panel


def small_and_laptop(window, test, at) -> None:
    """screenshot-800x600.png and screenshot-1366x768-training.png: the window at 800 x 600
    and on a laptop screen, each with the training panel docked after a short run."""
    for (width, height), name in (((800, 600), "800x600"), ((1366, 768), "1366x768-training")):
        window.setGeometry(0, 0, width, height)
        pump(800)
        panel = short_run(window)
        points = window.session.points  # the run's map, not the model's before it
        if test is not None and points is not None:
            hover(window, *np.median(points[test.labels == 2], axis=0))
        shoot(f"screenshot-{name}.png", window)
        panel.discard_button.click() if panel.discard_button.isVisible() else None
        panel.close()
        pump(300)
    window.setGeometry(0, 0, 1600, 1000)
    pump(500)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--training", action="store_true", help="also a screenshot mid-training")
    parser.add_argument(
        "--sizes",
        action="store_true",
        help="also at 800 x 600, and at 1366 x 768 with a run in the training panel",
    )
    parser.add_argument("--data")
    parser.add_argument(
        "--weights", help="another model: screenshot-NAME.png and screenshot-NAME-regions.png, no training"
    )
    args = parser.parse_args()

    from vaedesk.core.api import Model
    from vaedesk.core.session import Session
    from vaedesk.ui.app import configure
    from vaedesk.ui.main_window import MainWindow
    from vaedesk.ui.selftest import stroke_seven

    configure()
    app = QApplication([sys.argv[0]])
    window = MainWindow(Session(Model.load(args.weights), args.data))
    prefix = f"screenshot-{Path(args.weights).stem}" if args.weights else "screenshot"
    window.setGeometry(0, 0, 1600, 1000)
    window.show()

    def script() -> None:
        pump(1000)
        window.activateWindow()
        pump(200)
        xdo("key", "c")  # View > Prior contours
        draw(window.drawing.pad, stroke_seven())
        draw(window.drawing.pad, [(120, 150), (200, 150)])  # the bar across a continental 7
        test, at = window.session.test, window.session.points  # map coordinates
        if test is not None:
            hover(window, *at[test.labels == 3][0])
            xdo("click", 1)
            if not window.session.plane.is_whole_space:
                xdo("key", "p")  # the plane through the selected 3: hovering varies it
            hover(window, *np.median(at[test.labels == 5], axis=0))
        else:
            hover(window, 0.6, -0.4)
        shoot(f"{prefix}.png", window)
        xdo("key", "g")  # the classifier's regions
        pump(1500)
        hover(window, *(np.median(at[test.labels == 0], axis=0) if test is not None else (-0.5, 0.5)))
        shoot(f"{prefix}-regions.png", window)
        xdo("key", "g")
        if args.sizes and not args.weights:
            small_and_laptop(window, test, at)
        if args.training and not args.weights:
            panel = train_two_epochs(window, "conv", 60000, settle=1500)
            hover(window, -1.0, 0.8)
            shoot("screenshot-training.png", window)
            panel.cancel_button.click()
            while panel.is_running():
                pump(100)
            panel.discard_button.click() if panel.discard_button.isVisible() else None  # or quitting asks
        window.close()
        app.quit()

    QTimer.singleShot(0, script)
    app.exec()
    return 0


if __name__ == "__main__":
    sys.exit(main())
