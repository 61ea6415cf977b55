"""The map's 10,000 points are placed in pyqtgraph's symbol atlas once per colour, not once
per point (vaedesk.ui.map_items.PaletteScatter, for the start-up): what is drawn must be
exactly what pyqtgraph's own point-by-point placing draws."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QImage

from tests.ui.helpers import click
from vaedesk.ui.map_items import PALETTE


def _drawn(widget) -> np.ndarray:
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    pixels = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return pixels[:, : 3 * image.width()].reshape(image.height(), image.width(), 3).copy()


def _drawn_point_by_point(m) -> np.ndarray:
    """The map as pyqtgraph draws it when it places each point's symbol itself."""
    m.points.data["sourceRect"] = 0
    pg.ScatterPlotItem.updateSpots(m.points)
    return _drawn(m)


def _pixels_of(image: np.ndarray, colour: str) -> int:
    return int((image == pg.mkColor(colour).getRgb()[:3]).all(axis=2).sum())


def test_the_map_draws_each_digit_in_its_colour_as_pyqtgraph_would_point_by_point(qtbot, window):
    m = window.map
    shown = _drawn(m)
    assert all(_pixels_of(shown, PALETTE[d]) > 0 for d in set(m.labels.tolist()))  # every digit drawn
    assert np.array_equal(shown, _drawn_point_by_point(m))

    threes = _pixels_of(shown, PALETTE[3])
    sample, _ = m.legend.items[3]  # a click on the legend hides the 3s, a second shows them
    at = m.mapFromScene(sample.sceneBoundingRect().center())
    click(qtbot, m.viewport(), at)
    hidden = _drawn(m)
    assert _pixels_of(hidden, PALETTE[3]) < 0.05 * threes
    assert np.array_equal(hidden, _drawn_point_by_point(m))
    click(qtbot, m.viewport(), at)
    again = _drawn(m)
    assert _pixels_of(again, PALETTE[3]) == threes
    assert np.array_equal(again, _drawn_point_by_point(m))
