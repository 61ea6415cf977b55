"""Start the window: check for a display, set up Qt, load the model (no torch)."""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import gc
import os
import signal
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vaedesk.core.api import Model
    from vaedesk.core.session import Session
    from vaedesk.ui.settings import Settings

START = time.perf_counter()


def has_display() -> bool:
    if os.environ.get("QT_QPA_PLATFORM"):
        return True  # the user chose a platform (offscreen, xcb, wayland, ...)
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def configure(dark: bool = False) -> None:
    """Process-wide settings the window relies on; the tests call this too."""
    import pyqtgraph as pg

    from vaedesk.core.memory import one_heap

    one_heap()  # before any thread of the window's allocates: runs give their memory back

    # One intra-op thread for torch too, when a training run or an older model file brings
    # it in: a training run in the background then leaves the other core to the interface.
    # (The viewer itself runs on ONNX Runtime, one thread, and never imports torch.)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    # Qt 6 splits image scaling and large blits across a thread pool. Our images are a map
    # and a 280-pixel digit: handing each frame's pieces to other threads and waiting for
    # them cost more than the drawing (hover 4.8 ms with the pool, 3.2 ms without, measured
    # while a training run held the other core). Read by Qt when it first draws.
    os.environ.setdefault("QT_NO_GUI_THREADPOOL", "1")
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
    pg.setConfigOptions(
        antialias=False,
        background="#202124" if dark else "w",
        foreground="#e8e8e8" if dark else "k",
        imageAxisOrder="row-major",
    )


def prefers_dark(app) -> bool:
    """Whether the desktop asks for a dark colour scheme (Qt 6.5+ reads it from the system)."""
    from PySide6.QtCore import Qt

    return app.styleHints().colorScheme() == Qt.ColorScheme.Dark


def install_excepthook() -> None:
    """A bug in a slot must not vanish into a terminal nobody watches: show it, keep going."""
    import traceback

    from PySide6.QtWidgets import QMessageBox

    def hook(kind, value, tb) -> None:
        text = "".join(traceback.format_exception(kind, value, tb))
        print(text, file=sys.stderr)
        if os.environ.get("QT_QPA_PLATFORM") != "offscreen":
            QMessageBox.critical(
                None,
                "vaedesk: unexpected error",
                f"{kind.__name__}: {value}\n\nThe window stays open; details are on stderr.",
            )

    sys.excepthook = hook


ICON_SIZES = (16, 24, 32, 48, 64, 128, 256)  # the PNGs of vaedesk/resources/icons/hicolor


def set_icon(app) -> None:
    """The window's icon, from the shipped PNGs (no SVG plugin needed), and the desktop
    entry's name, by which Wayland compositors find the same icon."""
    from PySide6.QtCore import QSize
    from PySide6.QtGui import QIcon

    from vaedesk.core import paths

    icon = QIcon()
    hicolor = paths.resource("icons", "hicolor")
    for side in ICON_SIZES:  # sizes given, so that no file is read before Qt needs it
        icon.addFile(str(hicolor / f"{side}x{side}" / "apps" / "vaedesk.png"), QSize(side, side))
    app.setWindowIcon(icon)
    app.setDesktopFileName("vaedesk")


def _import_the_core() -> None:
    """The core's modules, before Qt's. Once PySide6 is imported, its import hook reads the
    source file of every module imported after it (looking for its __feature__ switches):
    numpy, ONNX Runtime, psygnal, protobuf and the core are 160 modules, 0.05-0.15 s of
    the start. `vaedesk.core` never imports Qt, so none of them brings it in early."""
    import vaedesk.core.session  # numpy, ONNX Runtime, psygnal, the model, the data
    import vaedesk.core.typicality  # noqa: F401 - the drawing panel's readout
    from vaedesk.core.onnx_runtime import onnx_proto

    onnx_proto()  # protobuf and ONNX's classes: loading the model and the classifier vets their graphs


def _load_test_set(session: Session) -> None:
    """The test set, before the window is built: the window then opens on the map with the
    decoder's placeholder (it shows a digit from the first hover on)."""
    from vaedesk.core import data

    with contextlib.suppress(data.DataError):  # the window looks again, and says what is wrong
        session.load_test_set()


def _collect_from_now_on() -> None:
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def dump_stacks_on_request() -> None:
    """`kill -USR1 PID` prints every thread's Python stack to stderr and the program goes
    on: what a window that stopped answering is doing, without a debugger (POSIX only)."""
    if not hasattr(signal, "SIGUSR1") or sys.stderr is None:
        return
    with contextlib.suppress(ValueError, OSError):  # a stderr with no file descriptor
        faulthandler.register(signal.SIGUSR1, all_threads=True)


def start_model(args: argparse.Namespace, settings: Settings) -> Model | None:
    """The model the window opens with: --weights, else the last run's, else the bundled
    one; None (after saying why) if the bundled one cannot be loaded. A last model that
    cannot be read is said once and forgotten, or every start would say it again."""
    from PySide6.QtWidgets import QMessageBox

    from vaedesk.core.api import Model
    from vaedesk.core.weights import WeightsError

    weights_file = args.weights or (None if args.self_test else settings.last_model)
    try:
        return Model.load(weights_file)
    except WeightsError as e:
        if weights_file is None:
            QMessageBox.critical(None, "vaedesk", f"The bundled model cannot be loaded:\n{e}")
            print(f"vaedesk: {e}", file=sys.stderr)
            return None
        QMessageBox.warning(None, "vaedesk", f"{e}\n\nOpening the bundled model instead.")
        if not args.weights:
            settings.last_model = None
        return Model.load(None)


def run_app(args: argparse.Namespace) -> int:
    if not has_display():
        print(
            "vaedesk: no display found (DISPLAY and WAYLAND_DISPLAY are not set). Run it in a desktop "
            "session, or use the command line: vaedesk --help. For a headless check: "
            "QT_QPA_PLATFORM=offscreen vaedesk --self-test",
            file=sys.stderr,
        )
        return 2
    dump_stacks_on_request()

    # No garbage collection until the window is on screen: importing Qt and pyqtgraph makes
    # hundreds of thousands of objects and nothing to collect, and the collector's passes
    # over them were a quarter of the start-up. The survivors are then frozen (left out of
    # later passes), which also keeps those passes short while the user hovers.
    gc.disable()

    # Everything before the first paint runs on this thread. The MNIST test set used to be
    # read in a thread while Qt imported; read from its unpacked copy (vaedesk.core.data)
    # it takes 5-15 ms, and a thread costs more than that when the machine is busy: each
    # handing over of the interpreter's lock waits for the scheduler (docs/startup.md).
    # One BLAS thread, set before numpy loads OpenBLAS: it starts a thread per core and wakes
    # it for every matrix product, where it spins. The window's products are small (10,000
    # points by 2 to 20 dimensions); the other core is a training run's (torch has its own
    # threads) or the machine's. Measured: the first paint 85 ms sooner (median of 21 paired
    # runs, load ~5).
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    _import_the_core()
    from vaedesk.core.memory import one_heap

    one_heap()  # before Qt starts its threads (configure sets it too, for the tests)
    from vaedesk.ui.trace import Trace

    try:
        trace = Trace(getattr(args, "trace", None))
    except OSError as e:
        print(f"vaedesk: --trace {args.trace}: cannot write ({e.strerror or e})", file=sys.stderr)
        return 2

    from vaedesk.ui.settings import Settings

    app = _application()
    # The self-test is the same on every machine: it ignores what a user's runs remembered,
    # and leaves it as it was (it saved its window's size over the user's at its end).
    settings = Settings.scratch() if args.self_test else Settings()
    data_dir = args.data or (None if args.self_test else settings.data_dir)

    from vaedesk.core.session import Session
    from vaedesk.ui.main_window import MainWindow

    configure(dark=prefers_dark(app))
    model = start_model(args, settings)
    if model is None:
        return 1
    install_excepthook()
    session = Session(model, data_dir)
    _load_test_set(session)
    window = MainWindow(session, settings, trace)
    if args.self_test or not settings.restore_window(window):
        window.resize(1560, 900)
    _on_first_paint(app, window, args)
    window.show()
    return _exec(app, window, args.self_test)


def _application():
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("vaedesk")
    app.setOrganizationName("vaedesk")
    app.setDesktopFileName("vaedesk")  # before the window shows: Wayland finds the icon by it
    return app


def _exec(app, window, self_test: bool) -> int:
    """Run the event loop until the window closes; with --self-test, run the self-test
    in it and return its exit code."""
    if self_test:
        from vaedesk.ui.selftest import SelfTest

        test = SelfTest(window)
        test.start()
        app.exec()
        return test.exit_code
    return app.exec()


def _on_first_paint(app, window, args: argparse.Namespace) -> None:
    """What waits for the map's first paint: the garbage collector, the icon, and with
    --exit-after-first-paint the start-up figures and the exit."""
    from PySide6.QtCore import QTimer

    window.map.first_painted.connect(_collect_from_now_on)
    # The icon's first use loads Qt's icon machinery (70-160 ms here): after the first paint.
    window.map.first_painted.connect(lambda: set_icon(app))
    # in case no paint comes (a modal error); tied to the window, so it dies with it
    QTimer.singleShot(5000, window, _collect_from_now_on)
    if getattr(args, "exit_after_first_paint", False):

        def on_first_paint() -> None:
            from vaedesk.core.timing import peak_mb

            print(
                f"first-paint {time.perf_counter() - START:.3f} s, peak {peak_mb():.0f} MB, "
                f"torch {'imported' if 'torch' in sys.modules else 'not imported'}",
                flush=True,
            )
            app.quit()

        window.map.first_painted.connect(on_first_paint)
