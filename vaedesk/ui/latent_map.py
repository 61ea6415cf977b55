"""The latent map: the encoded test set as a scatter, with layers drawn under and over it.

Every plot item is created once and updated with setData / setImage (pyqtgraph's own
advice), so panning, hovering and retraining never rebuild the scene.

The 10,000 points are one `ScatterPlotItem` with per-point brushes (ten shared brushes),
cached by Qt as a pixmap in device coordinates: moving the crosshair, the selection ring,
the drawing's marker or the morph path repaints those overlays over the cached pixmap
and never redraws the points. Panning and zooming redraw them once per change. The
crosshair, which moves on every hover, is drawn over the scene and repaints only the
one-pixel strips it leaves and enters.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QCoreApplication, QEvent, QLineF, QPointF, QRect, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QPainter, QRegion
from PySide6.QtWidgets import QGraphicsItem

from vaedesk.core.plane import central_range
from vaedesk.core.prior import SIGMA_MASSES, Prior
from vaedesk.ui.workers import Task, Worker

# The digits' colours: Petroff's 10-colour sequence (M. A. Petroff, "Accessible Color
# Sequences for Data Visualization", arXiv:2107.02270; matplotlib's "petroff10"), built
# under colour-vision-deficiency constraints. Simulated for protanopia, deuteranopia and
# tritanopia (Machado et al. 2009) its closest two colours stay 17 CIELAB units apart,
# where Tableau 10's two closest fall to 0.9 (tests/ui/test_colours.py). Okabe-Ito has
# only eight, one of them black. Which digit takes which colour was searched so that
# clusters that touch on the bundled model's map get the most different pair.
PALETTE = [
    "#b9ac70",  # 0
    "#a96b59",  # 1
    "#bd1f01",  # 2
    "#3f90da",  # 3
    "#832db6",  # 4
    "#ffa90e",  # 5
    "#717581",  # 6
    "#e76300",  # 7
    "#92dadd",  # 8
    "#94a4a2",  # 9
]
# The overlays over the points (the drawing's ellipses, its trail and marker) are black
# drawn over a white halo: one of the two contrasts 4.6:1 or more with every digit's
# colour, light or dark (WCAG's contrast ratio), which no single hue can.
INK, HALO = "#000000", "#ffffff"
REGION_CELLS = 32  # the classifier layer's cells along each side of the view: 1,024 decodes, ~0.2 s
# (computed in a worker thread, so that panning with the layer on never waits for it)
FIELD_TILES = 15  # decoded digits along the longer side of the view, as the published figures
LEGEND_ROW_WIDTH = 480  # pixels, the ten legend entries side by side
HOVER_EVENT = QEvent.Type(QEvent.registerEventType())


def _show(item: pg.GraphicsObject, x, y) -> None:
    """Set an overlay's points; an empty overlay is hidden, so that frames skip it."""
    item.setData(x, y)
    item.setVisible(len(x) > 0)


def region_colours(p: np.ndarray) -> np.ndarray:
    """Class probabilities (M, 10) -> RGBA (M, 4) uint8: the likeliest digit's colour,
    mixed with grey as the classifier is less sure (confidence 0.1, a guess, is all grey)."""
    palette = np.array([pg.mkColor(c).getRgb()[:3] for c in PALETTE], np.float64)
    top = p.argmax(axis=1)
    sure = np.clip((p.max(axis=1) - 0.1) / 0.9, 0.0, 1.0)[:, None]
    rgb = sure * palette[top] + (1 - sure) * 150.0
    return np.concatenate([rgb, np.full((len(p), 1), 255.0)], axis=1).round().astype(np.uint8)


def prior_contours(prior: Prior, n: int = 256) -> list[tuple[np.ndarray, np.ndarray]]:
    """The curves (x, y, pieces separated by NaN) where a 2-D prior's density encloses each
    of SIGMA_MASSES, traced on an n x n grid over its extent, then moved onto the exact
    density level."""
    lo, hi = prior.extent()
    xs, ys = np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n)
    gx, gy = np.meshgrid(xs, ys, indexing="ij")
    density = np.exp(prior.log_density(np.stack([gx.ravel(), gy.ravel()], axis=1))).reshape(n, n)
    cell = np.array([xs[1] - xs[0], ys[1] - ys[0]])
    curves = []
    for level in prior.levels():
        x, y = [], []
        for piece in pg.functions.isocurve(density, level, connected=True):
            on = lo + (np.array(piece) - 0.5) * cell  # isocurve counts from pixel corners
            on = prior.onto_level(on, level, max_step=float(cell.max()))
            x += [*on[:, 0], np.nan]
            y += [*on[:, 1], np.nan]
        curves.append((np.array(x), np.array(y)))
    return curves


def ellipse(center: np.ndarray, radii: np.ndarray, n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    t = np.linspace(0, 2 * np.pi, n)
    return center[0] + radii[0] * np.cos(t), center[1] + radii[1] * np.sin(t)


class DigitLegend(pg.LegendItem):
    """The digits' legend. A click anywhere on an entry, its dot or its label, shows or
    hides that digit (pyqtgraph's own legend answers on the dot alone, which takes the
    click first and toggles it the same way)."""

    def entry_at(self, pos: QPointF) -> int | None:
        """The entry (row of the legend's grid) under `pos`, in the legend's coordinates."""
        for i, (sample, label) in enumerate(self.items):
            rect = sample.geometry().united(label.geometry()).adjusted(-3, -2, 3, 2)
            if rect.contains(pos):
                return i
        return None

    def mouseClickEvent(self, event) -> None:  # noqa: N802
        if event.button() != Qt.MouseButton.LeftButton:
            return
        i = self.entry_at(event.pos())
        if i is not None:
            sample = self.items[i][0]
            sample.item.setVisible(not sample.item.isVisible())
            sample.update()
        event.accept()  # a click on the legend is never a click on the map under it


class LatentMap(pg.PlotWidget):
    """Signals carry latent coordinates: `hovered(x, y)`, `clicked(x, y, shift)`.

    `hovered` is coalesced: a burst of mouse moves emits once, with the latest position.
    """

    hovered = Signal(float, float)
    clicked = Signal(float, float, bool)
    digit_toggled = Signal(int, bool)  # a legend click: digit, now visible
    first_painted = Signal()  # once, when the map has been drawn on screen for the first time
    regions_shown = Signal()  # the classifier's regions were recoloured for the current view
    regions_failed = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setAspectLocked(True)
        self.showGrid(x=True, y=True, alpha=0.15)
        self.setLabel("bottom", "z\u2081")
        self.setLabel("left", "z\u2082")
        self.setMenuEnabled(False)
        self.setMouseTracking(True)
        plot = self.getPlotItem()
        self.view = plot.getViewBox()
        # The axes draw the grid across the whole view, tick labels included (3 ms a
        # frame): cached like the points, they are redrawn only when the view changes.
        for side in ("left", "bottom", "top", "right"):
            plot.getAxis(side).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)

        self.field = pg.ImageItem(axisOrder="row-major")
        self.field.setZValue(-20)
        self.field.setOpacity(0.55)
        self.field.setVisible(False)
        plot.addItem(self.field)
        self.field_decoder: Callable[[np.ndarray], np.ndarray] | None = None
        # What the classifier reads in the decoder's digits over the view: each digit's
        # colour where it is sure, fading to grey where the decoder draws something
        # ambiguous.
        self.regions = pg.ImageItem(axisOrder="row-major")
        self.regions.setZValue(-30)
        self.regions.setOpacity(0.45)
        self.regions.setVisible(False)
        plot.addItem(self.regions)
        # Called in the GUI thread; returns the function, (M, 2) -> (M, 10) probabilities,
        # that the worker thread runs, bound to the current model and classifier.
        self.region_reader: Callable[[], Callable[[np.ndarray], np.ndarray]] | None = None
        self._regions_task: Task | None = None
        self._regions_stale = False  # the view changed while the task ran
        # The view the shown colours were made for; None once the model or the plane has
        # changed since (the colours then belong to another model: not shown again).
        self._regions_rect: QRectF | None = None
        self._regions_model = 0  # counts model and plane changes: a task's colours are for one

        # The prior's contours enclosing the mass of N(0, I)'s 1, 2, 3 sigma circles (the
        # circles themselves for that prior), drawn when first shown for a model.
        self.circles = []
        for _ in SIGMA_MASSES:
            c = pg.PlotCurveItem(
                connect="finite", pen=pg.mkPen((90, 90, 90), width=1, style=Qt.PenStyle.DashLine)
            )
            c.setZValue(-10)
            c.setVisible(False)
            plot.addItem(c)
            self.circles.append(c)
        self.prior: Prior | None = Prior.standard(2)
        self._contours_drawn = False

        back = pg.mkColor(pg.getConfigOption("background"))
        # The legend is a row above the plot, where the title would be, not a box over the
        # points: at any window size it covers none of the map and is never cut by it.
        self.legend = DigitLegend(
            offset=None,
            labelTextSize="10pt",
            brush=pg.mkBrush(back.red(), back.green(), back.blue(), 230),
            colCount=10,
        )
        plot.layout.removeItem(plot.titleLabel)
        plot.titleLabel.hide()
        plot.layout.addItem(self.legend, 0, 1)
        plot.layout.setAlignment(self.legend, Qt.AlignmentFlag.AlignHCenter)
        plot.legend = self.legend
        self.brushes = [pg.mkBrush(colour) for colour in PALETTE]
        self.points = pg.ScatterPlotItem(size=4, pen=None)
        self.points.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        plot.addItem(self.points)
        # The legend's entries: empty items of each digit's colour, kept out of the plot so
        # that no frame paints them. Clicking one hides it, and with it that digit's points.
        self.digits: list[pg.ScatterPlotItem] = []
        for d in range(10):
            item = pg.ScatterPlotItem(size=10, pen=None, brush=self.brushes[d], name=str(d))  # legible
            self.legend.addItem(item, str(d))
            item.visibleChanged.connect(lambda d=d: self._on_digit_toggled(d))
            self.digits.append(item)
        self.legend.setZValue(100)  # above the decoded-digit field, whatever the view shows
        self.legend.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)  # its text, too

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

        self._painted = False
        self._pending_hover: tuple[float, float] | None = None
        self.mu = np.zeros((0, 2), np.float32)
        self.labels = np.zeros(0, np.uint8)
        self._order = np.zeros(0, np.int64)
        self._all_shown = True
        self._field_timer = QTimer(self, singleShot=True, interval=60)
        self._field_timer.timeout.connect(self.update_field)
        self._field_timer.timeout.connect(lambda: self.update_regions(model_changed=False))
        self.view.sigRangeChanged.connect(lambda *_: self.viewport().update())  # the crosshair
        # Whether the user zoomed or panned since the view was last fitted to the points: a
        # new model (opened, or a training epoch) is then shown in the user's view, else fitted.
        self.view_moved_by_user = False
        self.view.sigRangeChangedManually.connect(lambda *_: setattr(self, "view_moved_by_user", True))
        self.view.sigRangeChanged.connect(
            lambda *_: (
                self._field_timer.start() if self.field.isVisible() or self.regions.isVisible() else None
            )
        )
        self.scene().sigMouseClicked.connect(self._on_mouse_clicked)

    def resizeEvent(self, event) -> None:  # noqa: N802
        # The legend's row is as wide as its ten entries (about 480 pixels): two rows of
        # five on a narrower map, so that it never widens the plot beyond the widget.
        columns = 10 if self.width() >= 1.2 * LEGEND_ROW_WIDTH else 5
        legend = self.__dict__.get("legend")  # pyqtgraph resizes the view before __init__ ends
        if legend is not None and legend.columnCount != columns:
            self.legend.setColumnCount(columns)
        super().resizeEvent(event)

    def paintEvent(self, event) -> None:  # noqa: N802
        super().paintEvent(event)
        if not self._painted:
            self._painted = True
            self.first_painted.emit()

    # -- data --------------------------------------------------------------------------

    def set_points(self, mu: np.ndarray, labels: np.ndarray) -> None:
        """Place the encoded test set; later calls move the points in place."""
        self.mu, self.labels = np.asarray(mu, np.float32), np.asarray(labels)
        # Drawn digit by digit (9 on top), as ten separate layers would be.
        self._order = np.argsort(self.labels, kind="stable")
        drawn = self.mu[self._order]
        self.points.setData(
            drawn[:, 0], drawn[:, 1], brush=[self.brushes[d] for d in self.labels[self._order]]
        )
        self._all_shown = True  # new data is all visible
        self._apply_hidden()

    def _on_digit_toggled(self, digit: int) -> None:
        self._apply_hidden()
        self.digit_toggled.emit(digit, self.digits[digit].isVisible())

    def show_hidden(self, hidden: frozenset[int]) -> None:
        """Hide these digits' points and grey their legend entries; show the others."""
        for d, item in enumerate(self.digits):
            if item.isVisible() == (d in hidden):
                item.setVisible(d not in hidden)  # toggles, as a legend click would

    def _apply_hidden(self) -> None:
        if not len(self.mu):
            return
        shown = np.array([item.isVisible() for item in self.digits])
        if shown.all() and self._all_shown:
            return  # nothing hidden, before or now: 15 ms of pyqtgraph's per-point work saved
        self.points.setPointsVisible(shown[self.labels[self._order]])
        self._all_shown = bool(shown.all())

    def points_shown(self) -> np.ndarray:
        """Which test points are drawn, by test-set index (False: its digit is hidden)."""
        shown = np.array([item.isVisible() for item in self.digits])
        return shown[self.labels] if len(self.mu) else np.zeros(0, bool)

    def has_points(self) -> bool:
        return len(self.mu) > 0

    def fit(self) -> None:
        """Show the test points, or without them where the prior puts its mass."""
        if self.has_points():
            lo, hi = central_range(self.mu)
        elif self.prior is not None:
            lo, hi = self.prior.extent()
        else:
            lo, hi = np.full(2, -3.0), np.full(2, 3.0)
        self.view.setRange(xRange=(lo[0], hi[0]), yRange=(lo[1], hi[1]), padding=0.05)
        self.view_moved_by_user = False

    def set_plane(self, labels: tuple[str, str], prior: Prior | None) -> None:
        """The axes' names, and the model's prior whose contours the C key shows (None: the
        map is a plane through a larger space, and no contours are drawn)."""
        self.setLabel("bottom", labels[0])
        self.setLabel("left", labels[1])
        self.prior = prior
        self._contours_drawn = False
        if self.circles[0].isVisible():
            self._draw_contours()

    # -- layers --------------------------------------------------------------------------

    def set_field_visible(self, visible: bool) -> None:
        self.field.setVisible(visible)
        if visible:
            self.update_field()

    def set_circles_visible(self, visible: bool) -> None:
        if visible and not self._contours_drawn:
            self._draw_contours()
        for c in self.circles:
            c.setVisible(visible)

    def _draw_contours(self) -> None:
        if self.prior is None:
            for c in self.circles:
                c.setData([], [])
        elif self.prior.is_standard:
            for c, mass in zip(self.circles, SIGMA_MASSES, strict=True):
                c.setData(*ellipse(np.zeros(2), np.full(2, np.sqrt(-2 * np.log(1 - mass))), 128))
        else:
            for c, (x, y) in zip(self.circles, prior_contours(self.prior), strict=True):
                c.setData(x, y)
        self._contours_drawn = True

    def update_field(self) -> None:
        """Redraw the decoded-digit field to cover the visible region."""
        if not self.field.isVisible() or self.field_decoder is None:
            return
        (x0, x1), (y0, y1) = self.view.viewRange()
        tile = max(x1 - x0, y1 - y0) / FIELD_TILES
        nx, ny = max(1, round((x1 - x0) / tile)), max(1, round((y1 - y0) / tile))
        xs = x0 + (np.arange(nx) + 0.5) * (x1 - x0) / nx
        ys = y0 + (np.arange(ny) + 0.5) * (y1 - y0) / ny
        grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)  # row-major: y outer
        digits = self.field_decoder(grid).reshape(ny, nx, 28, 28)
        # Image row 0 is drawn at the bottom (y up), so each digit is flipped to stand upright.
        mosaic = digits[:, :, ::-1, :].transpose(0, 2, 1, 3).reshape(ny * 28, nx * 28)
        self.field.setImage(1.0 - mosaic, levels=(0, 1))
        self.field.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))

    def set_regions_visible(self, visible: bool) -> None:
        """Show or hide the classifier's regions. Shown again over the same view of the same
        model, the last colours come back at once; otherwise they are recoloured, and colours
        made for another model or plane are not shown meanwhile."""
        if visible and self._regions_rect is None:
            self.regions.clear()
        self.regions.setVisible(visible)
        if visible and self._regions_rect == self._view_rect() and not self._regions_stale:
            self.regions_shown.emit()
        elif visible:
            self.update_regions(model_changed=False)  # a toggle changes no model

    def _view_rect(self) -> QRectF:
        (x0, x1), (y0, y1) = self.view.viewRange()
        return QRectF(x0, y0, x1 - x0, y1 - y0)

    def update_regions(self, model_changed: bool = True) -> None:
        """Recolour the classifier's regions over the visible part of the plane, in a worker
        thread: one task at a time, and a view change during it starts one more at its end.
        `model_changed` is False when only the view moved."""
        if model_changed:
            self._regions_rect, self._regions_model = None, self._regions_model + 1
        if not self.regions.isVisible() or self.region_reader is None:
            return
        if self._regions_task is not None and self._regions_task.is_running():
            self._regions_stale = True
            return
        self._regions_stale = False
        if self._regions_task is not None:  # finished: free it, as a long session makes many
            self._regions_task.worker.deleteLater()
            self._regions_task.deleteLater()
        (x0, x1), (y0, y1) = self.view.viewRange()
        xs = x0 + (np.arange(REGION_CELLS) + 0.5) * (x1 - x0) / REGION_CELLS
        ys = y0 + (np.arange(REGION_CELLS) + 0.5) * (y1 - y0) / REGION_CELLS
        grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
        reader, rect, made_for = self.region_reader(), self._view_rect(), self._regions_model

        def job(emit, should_stop) -> np.ndarray:
            return region_colours(reader(grid)).reshape(REGION_CELLS, REGION_CELLS, 4)

        worker = Worker(job)
        worker.succeeded.connect(lambda rgba: self._show_regions(rgba, rect, made_for))
        worker.failed.connect(lambda kind, message: self.regions_failed.emit(f"{kind}: {message}"))
        worker.finished.connect(
            lambda: self.update_regions(model_changed=False) if self._regions_stale else None
        )
        self._regions_task = Task(worker, self)
        self._regions_task.start()

    def _show_regions(self, rgba: np.ndarray, rect: QRectF, made_for: int) -> None:
        if made_for != self._regions_model:  # another model's: the task after it recolours
            return
        self.regions.setImage(rgba)
        self.regions.setRect(rect)
        self._regions_rect = rect
        self.regions_shown.emit()

    def stop_and_wait(self) -> None:
        """Wait for the regions' task (a fraction of a second), and start no other: used when
        the window closes (a thread still running when the window is destroyed aborts)."""
        self.region_reader, self._regions_stale = None, False
        if self._regions_task is not None:
            self._regions_task.stop_and_wait()

    # -- overlays --------------------------------------------------------------------------

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

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802
        super().drawForeground(painter, rect)
        if self.legend.isVisible():  # under the legend, as the points are
            outside = QRegion(self.view.sceneBoundingRect().toAlignedRect())
            painter.setClipRegion(
                outside.subtracted(QRegion(self.legend.sceneBoundingRect().toAlignedRect()))
            )
        painter.setPen(self.cross_pen)
        for line in self._crosshair_lines():
            painter.drawLine(line)

    def select(self, index: int | None) -> None:
        if index is None:
            _show(self.selection, [], [])
        else:
            _show(self.selection, [self.mu[index, 0]], [self.mu[index, 1]])

    def show_samples(self, z: np.ndarray) -> None:
        _show(self.samples, z[:, 0], z[:, 1])

    def show_morph(self, path: np.ndarray) -> None:
        if len(path):
            _show(self.morph_path, path[:, 0], path[:, 1])
            _show(self.morph_ends, path[[0, -1], 0], path[[0, -1], 1])
        else:
            _show(self.morph_path, [], [])
            _show(self.morph_ends, [], [])

    def show_morph_start(self, z: np.ndarray) -> None:
        _show(self.morph_path, [], [])
        _show(self.morph_ends, [z[0]], [z[1]])

    def show_encoding(self, mu: np.ndarray | None, sigma: np.ndarray | None, trail: np.ndarray) -> None:
        """The drawing's posterior: mean, 1 and 2 sigma ellipses, and the trail it took."""
        if mu is None or sigma is None:
            for item in (self.sigma1, self.sigma2, self.trail, self.drawn, *self.halos.values()):
                _show(item, [], [])
            return
        _show(self.drawn, [mu[0]], [mu[1]])
        curves = {
            self.sigma1: ellipse(mu, sigma),
            self.sigma2: ellipse(mu, 2 * sigma),
            self.trail: (trail[:, 0], trail[:, 1]) if len(trail) > 1 else ([], []),
        }
        for curve, (x, y) in curves.items():
            _show(self.halos[curve], x, y)
            _show(curve, x, y)

    # -- mouse -------------------------------------------------------------------------------

    def _in_plot(self, scene_pos: QPointF) -> bool:
        if not self.view.sceneBoundingRect().contains(scene_pos):
            return False
        return not (self.legend.isVisible() and self.legend.sceneBoundingRect().contains(scene_pos))

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        # Every move, taken here rather than from the scene's sigMouseMoved: pyqtgraph's
        # scene drops moves that come within 10 ms of the previous one, which can leave the
        # cursor's resting position undecoded. Bursts are coalesced in MainWindow.hover_at,
        # which never drops the latest position.
        super().mouseMoveEvent(event)
        self._on_mouse_moved(self.mapToScene(event.position().toPoint()))

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        if self.view.sceneBoundingRect().contains(scene_pos):
            p = self.view.mapSceneToView(scene_pos)
            self.hover_at(p.x(), p.y())

    def hover_at(self, x: float, y: float) -> None:
        """Record the cursor's latent position; one posted event emits whatever is latest
        when its turn comes. A posted event, not a zero timer: it runs in order with the
        repaint the move causes, ahead of it, so the decoded digit and the crosshair
        appear together."""
        if self._pending_hover is None:
            QCoreApplication.postEvent(self, QEvent(HOVER_EVENT))
        self._pending_hover = (x, y)

    def hover_pending(self) -> bool:
        return self._pending_hover is not None

    def customEvent(self, event: QEvent) -> None:  # noqa: N802
        if event.type() == HOVER_EVENT and self._pending_hover is not None:
            (x, y), self._pending_hover = self._pending_hover, None
            self.set_crosshair(x, y)
            self.hovered.emit(x, y)

    def _on_mouse_clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or not self._in_plot(event.scenePos()):
            return
        p = self.view.mapSceneToView(event.scenePos())
        shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        self.clicked.emit(p.x(), p.y(), shift)
