"""What `vaedesk` shows at its first paint, started in this process the way the console
script starts it. Making the start-up faster (#35) must not change it: the whole map of
the test set, coloured by digit, its legend, and the decoder's placeholder until the
first hover."""

from __future__ import annotations

import sys

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtGui import QImage

from vaedesk.cli import parse
from vaedesk.core import data
from vaedesk.ui.app import run_app
from vaedesk.ui.main_window import MainWindow
from vaedesk.ui.map_items import PALETTE


def _start_until_first_paint(qapp, monkeypatch, capsys) -> MainWindow:
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # run_app installs its own
    before = set(qapp.topLevelWidgets())
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
