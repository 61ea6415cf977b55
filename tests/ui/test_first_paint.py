"""What `vaedesk` shows at its first paint, started in this process the way the console
script starts it. Making the start-up faster (#35) must not change it: the whole map of
the test set, coloured by digit, its legend, and the decoder's placeholder until the
first hover."""

from __future__ import annotations

import contextlib
import faulthandler
import gc
import os
import signal
import sys

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QCoreApplication, QEvent
from PySide6.QtGui import QImage

from tests.servers import Server
from tests.ui.helpers import click, make_window
from vaedesk.cli import parse
from vaedesk.core import data
from vaedesk.ui.app import run_app
from vaedesk.ui.main_window import MainWindow
from vaedesk.ui.map_items import PALETTE


@contextlib.contextmanager
def _process_put_back(qapp):
    """Put back what run_app changes for the whole process: it expects the process to end
    when it returns, and here the tests after it would inherit the changes."""
    names = (qapp.applicationName(), qapp.organizationName(), qapp.desktopFileName())
    icon, pg_options, collecting = qapp.windowIcon(), dict(pg.CONFIG_OPTIONS), gc.isenabled()
    environ = dict(os.environ)  # run_app sets OMP_/OPENBLAS_NUM_THREADS and Qt's thread pool
    try:
        yield
    finally:
        # app.quit() closed the window, and the last window's closing posted a second Quit
        # that outlives app.exec(). Delivered by the next processEvents() (pytest-qt's, after
        # the test), it set Qt's "quit now" flag with no event loop running, and every event
        # loop opened after it (qtbot.wait, waitUntil, a dialog's exec) returned at once
        # until the next app.exec(): a later test's download never showed its progress.
        QCoreApplication.removePostedEvents(qapp, QEvent.Type.Quit)
        faulthandler.unregister(signal.SIGUSR1)  # run_app's `kill -USR1` stack dump
        qapp.setApplicationName(names[0])
        qapp.setOrganizationName(names[1])
        qapp.setDesktopFileName(names[2])
        qapp.setWindowIcon(icon)
        pg.setConfigOptions(**pg_options)
        for name in set(os.environ) - set(environ):
            del os.environ[name]
        os.environ.update(environ)
        gc.unfreeze()  # run_app froze every object alive at its first paint
        if collecting:
            gc.enable()
        else:
            gc.disable()


def _start_until_first_paint(qapp, monkeypatch, capsys) -> MainWindow:
    """`vaedesk --exit-after-first-paint` in this process; the window it leaves (closed)."""
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # run_app installs its own
    before = set(qapp.topLevelWidgets())
    with _process_put_back(qapp):
        assert run_app(parse(["--exit-after-first-paint"])) == 0
    assert capsys.readouterr().out.startswith("first-paint")
    (window,) = [w for w in qapp.topLevelWidgets() if isinstance(w, MainWindow) and w not in before]
    return window


def _pixels_of(widget, colour: str) -> int:
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    pixels = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    rgb = pixels[:, : 3 * image.width()].reshape(image.height(), image.width(), 3)
    return int((rgb == pg.mkColor(colour).getRgb()[:3]).all(axis=2).sum())


# The offscreen platform says this when the program's own start (not a test's qtbot)
# paints a window before its platform window is made; every `vaedesk` start says it.
@pytest.mark.qt_log_ignore("QBackingStore::flush")
def test_the_first_paint_shows_the_whole_map_its_legend_and_the_decoders_placeholder(
    qapp, monkeypatch, capsys
):
    window = _start_until_first_paint(qapp, monkeypatch, capsys)
    try:
        images, labels = data.load("test")  # what the window found: the shipped test set
        m = window.map
        assert len(m.mu) == len(labels) == 10000 and m.points_shown().all()
        assert np.array_equal(np.sort(m.labels), np.sort(labels))
        assert [label.text for _, label in m.legend.items] == [str(d) for d in range(10)]
        assert all(_pixels_of(m, PALETTE[d]) > 0 for d in range(10))  # every digit's colour drawn
        assert window.decoder.caption.text() == "Move the mouse over the map."
        assert not window.banner.isVisible()
    finally:
        window.close()


# What the test runner does between two tests (pytest-qt processes pending events after
# each); with the program's start in the same process, what it left behind runs then.
@pytest.mark.qt_log_ignore("QBackingStore::flush")
def test_a_window_opened_after_the_program_quit_at_its_first_paint_still_shows_a_downloads_progress(
    qapp, qtbot, model, tmp_path, monkeypatch, capsys, mnist_dir, dialogs
):
    _start_until_first_paint(qapp, monkeypatch, capsys).close()
    qapp.processEvents()  # as pytest-qt does after each test: the next test starts here
    server = Server("stall", mnist_dir)  # half a file, then nothing: the bar must show that half
    monkeypatch.setattr(data, "MIRRORS", (server.url,))
    try:
        w = make_window(qtbot, model, tmp_path / "mnist")
        click(qtbot, w.banner.download)
        qtbot.waitUntil(lambda: w.banner.progress.value() > 0, timeout=10000)
        click(qtbot, w.banner.cancel)
        qtbot.waitUntil(lambda: not w.banner.is_downloading(), timeout=10000)
        assert "Download cancelled" in w.banner.message.text()
    finally:
        server.close()
