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

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QCoreApplication, QEvent, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QPainter, QRegion
from PySide6.QtWidgets import QGraphicsItem

from vaedesk.core.plane import central_range
from vaedesk.core.prior import Prior
from vaedesk.ui.map_items import (
    HALO,
    INK,
    PALETTE,
    DigitLegend,
    PaletteScatter,
    ellipse,
    prior_contours,
    region_colours,
)
from vaedesk.ui.map_layers import FIELD_TILES, REGION_CELLS, MapLayers
from vaedesk.ui.map_overlays import MapOverlays

# Importable from here, as before the map's parts had modules of their own.
__all__ = [
    "FIELD_TILES",
    "HALO",
    "INK",
    "PALETTE",
    "REGION_CELLS",
    "DigitLegend",
    "LatentMap",
    "ellipse",
    "prior_contours",
    "region_colours",
]

LEGEND_ROW_WIDTH = 480  # pixels, the ten legend entries side by side
HOVER_EVENT = QEvent.Type(QEvent.registerEventType())


class LatentMap(MapLayers, MapOverlays, pg.PlotWidget):
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
        # No context menu: pyqtgraph builds its view's menu unless told so at construction
        # (setMenuEnabled(False) afterwards threw away a menu built for nothing: 9 ms).
        super().__init__(parent, enableMenu=False)
        self.setAspectLocked(True)
        self.showGrid(x=True, y=True, alpha=0.15)
        self.setLabel("bottom", "z\u2081")
        self.setLabel("left", "z\u2082")
        for side in ("bottom", "left"):  # "z\u2081 (x0.001)" on a small map reads as a typo
            self.getPlotItem().getAxis(side).enableAutoSIPrefix(False)
        self.setMouseTracking(True)
        plot = self.getPlotItem()
        self.view = plot.getViewBox()
        # The axes draw the grid across the whole view, tick labels included (3 ms a
        # frame): cached like the points, they are redrawn only when the view changes.
        for side in ("left", "bottom", "top", "right"):
            plot.getAxis(side).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self._build_layers(plot)
        self._build_legend(plot)
        self._build_overlays(plot)
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

    def _build_legend(self, plot: pg.PlotItem) -> None:
        """The points (one scatter, ten shared brushes) and the legend's row of digits."""
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
        self.points = PaletteScatter(size=4, pen=None)
        self._palette = np.empty(len(self.brushes), object)  # the brushes as numpy indexes them
        self._palette[:] = self.brushes
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
        self.points.set_points(drawn[:, 0], drawn[:, 1], self._palette[self.labels[self._order]])
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

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802
        super().drawForeground(painter, rect)
        if self.legend.isVisible():  # under the legend, as the points are
            outside = QRegion(self.view.sceneBoundingRect().toAlignedRect())
            painter.setClipRegion(
                outside.subtracted(QRegion(self.legend.sceneBoundingRect().toAlignedRect()))
            )
        self._draw_crosshair(painter)

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
