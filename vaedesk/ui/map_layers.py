"""The latent map's layers behind the points: the decoded-digit field, the classifier's
regions (recoloured in a worker thread) and the prior's contours. Mixed into `LatentMap`,
whose attributes they stay (`map.field`, `map.regions`, `map.circles`)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt

from vaedesk.core.prior import SIGMA_MASSES, Prior
from vaedesk.ui.map_items import ellipse, prior_contours, region_colours
from vaedesk.ui.workers import Task, Worker

REGION_CELLS = 32  # the classifier layer's cells along each side of the view: 1,024 decodes, ~0.2 s
# (computed in a worker thread, so that panning with the layer on never waits for it)
FIELD_TILES = 15  # decoded digits along the longer side of the view, as the published figures


class MapLayers:
    """The field, the regions and the contours of `LatentMap` (a pg.PlotWidget)."""

    def _build_layers(self, plot: pg.PlotItem) -> None:
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
