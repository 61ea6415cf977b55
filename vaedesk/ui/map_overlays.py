"""The latent map's overlays over the points: the crosshair (painted over the scene, not a
scene item), the selection, the samples, the morph and the drawing's posterior. Mixed
into `LatentMap`, whose attributes they stay (`map.selection`, `map.drawn`)."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QLineF, QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QPainter

from vaedesk.ui.map_items import HALO, INK, ellipse, show


class MapOverlays:
    """The overlays of `LatentMap` (a pg.PlotWidget)."""

    def _build_overlays(self, plot: pg.PlotItem) -> None:
        fg = pg.mkColor(pg.getConfigOption("foreground"))  # black, or white in a dark scheme
        self.selection = pg.ScatterPlotItem(size=16, pen=pg.mkPen(fg, width=2.5), brush=None)
        self.samples = pg.ScatterPlotItem(size=14, symbol="star", pen=pg.mkPen("k"), brush=pg.mkBrush("w"))
        self.morph_path = pg.PlotCurveItem(pen=pg.mkPen(fg, width=2))
        self.morph_ends = pg.ScatterPlotItem(
            size=12, symbol="s", pen=pg.mkPen("k", width=2), brush=pg.mkBrush("y")
        )
        self.trail = pg.PlotCurveItem(pen=pg.mkPen(INK, width=1.5, style=Qt.PenStyle.DotLine))
        self.sigma2 = pg.PlotCurveItem(pen=pg.mkPen(INK, width=1.5, style=Qt.PenStyle.DashLine))
        self.sigma1 = pg.PlotCurveItem(pen=pg.mkPen(INK, width=2))
        # the halos under them, drawn with the same points
        self.halos = {
            c: pg.PlotCurveItem(pen=pg.mkPen(HALO, width=4.5)) for c in (self.trail, self.sigma2, self.sigma1)
        }
        # A dot smaller than a typical drawing's 1 sigma ellipse, so the uncertainty shows.
        self.drawn = pg.ScatterPlotItem(
            size=6, symbol="o", pen=pg.mkPen(HALO, width=1.5), brush=pg.mkBrush(INK)
        )
        # The crosshair is not a scene item: it is drawn over the scene (drawForeground)
        # and a move repaints just the four one-pixel strips it leaves and enters. Two
        # InfiniteLines cost 0.6 ms a move in their own paint, and their exposed area made
        # Qt recomposite most of the viewport.
        self.cross_pen = pg.mkPen(fg.red(), fg.green(), fg.blue(), 110)
        self.cross_pen.setCosmetic(True)
        self._cross = (0.0, 0.0)
        for item in (
            self.selection,
            self.samples,
            self.morph_path,
            self.morph_ends,
            *self.halos.values(),
            self.trail,
            self.sigma2,
            self.sigma1,
            self.drawn,
        ):
            item.setZValue(9 if item in self.halos.values() else 10)
            item.setVisible(False)  # until it has something to show
            plot.addItem(item)

    def set_crosshair(self, x: float, y: float) -> None:
        if (x, y) == self._cross:
            return
        before = self._crosshair_strips()
        self._cross = (x, y)
        for strip in before + self._crosshair_strips():
            self.viewport().update(strip)

    def crosshair(self) -> tuple[float, float]:
        return self._cross

    def _crosshair_lines(self) -> list[QLineF]:
        """The crosshair's vertical and horizontal lines in scene coordinates, each only if
        it falls inside the plot."""
        box = self.view.sceneBoundingRect()
        p = self.view.mapViewToScene(QPointF(*self._cross))
        # Scene units are viewport pixels (pyqtgraph keeps the view's transform at identity).
        # A cursor at pixel (501, 400) maps back to exactly 501.0, the edge between two pixel
        # columns, where an aliased line may land on either: a repaint of just the crosshair's
        # strips and a full repaint then disagreed by a pixel. Draw through pixel centres.
        p = QPointF(math.floor(p.x() + 1e-3) + 0.5, math.floor(p.y() + 1e-3) + 0.5)
        lines = []
        if box.left() <= p.x() <= box.right():
            lines.append(QLineF(p.x(), box.top(), p.x(), box.bottom()))
        if box.top() <= p.y() <= box.bottom():
            lines.append(QLineF(box.left(), p.y(), box.right(), p.y()))
        return lines

    def _crosshair_strips(self) -> list[QRect]:
        """The viewport pixels the crosshair covers, a pixel of margin each side."""
        return [
            self.mapFromScene(QRectF(line.p1(), line.p2()).adjusted(-2, -2, 2, 2)).boundingRect()
            for line in self._crosshair_lines()
        ]

    def _draw_crosshair(self, painter: QPainter) -> None:
        painter.setPen(self.cross_pen)
        for line in self._crosshair_lines():
            painter.drawLine(line)

    def select(self, index: int | None) -> None:
        if index is None:
            show(self.selection, [], [])
        else:
            show(self.selection, [self.mu[index, 0]], [self.mu[index, 1]])

    def show_samples(self, z: np.ndarray) -> None:
        show(self.samples, z[:, 0], z[:, 1])

    def show_morph(self, path: np.ndarray) -> None:
        if len(path):
            show(self.morph_path, path[:, 0], path[:, 1])
            show(self.morph_ends, path[[0, -1], 0], path[[0, -1], 1])
        else:
            show(self.morph_path, [], [])
            show(self.morph_ends, [], [])

    def show_morph_start(self, z: np.ndarray) -> None:
        show(self.morph_path, [], [])
        show(self.morph_ends, [z[0]], [z[1]])

    def show_encoding(self, mu: np.ndarray | None, sigma: np.ndarray | None, trail: np.ndarray) -> None:
        """The drawing's posterior: mean, 1 and 2 sigma ellipses, and the trail it took."""
        if mu is None or sigma is None:
            for item in (self.sigma1, self.sigma2, self.trail, self.drawn, *self.halos.values()):
                show(item, [], [])
            return
        show(self.drawn, [mu[0]], [mu[1]])
        curves = {
            self.sigma1: ellipse(mu, sigma),
            self.sigma2: ellipse(mu, 2 * sigma),
            self.trail: (trail[:, 0], trail[:, 1]) if len(trail) > 1 else ([], []),
        }
        for curve, (x, y) in curves.items():
            show(self.halos[curve], x, y)
            show(curve, x, y)
