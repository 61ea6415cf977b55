"""The Train panel's live curves: training and validation loss per epoch, and the
validation KL on an axis of its own."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

if TYPE_CHECKING:
    from vaedesk.core.train import BatchProgress, EpochResult


class LossCurves(pg.PlotWidget):
    """Training and validation loss and the validation reconstruction term, per epoch, in
    nats on the left axis; the validation KL, some fifty times smaller, on its own axis on
    the right, so that neither flattens the other.

    The loss axis follows the curves but leaves out the first tenth of the training
    curve, or its learning-rate warm-up if that is longer, whose batches (twice the loss
    of a trained model, or more) would otherwise squash the rest into a flat line; those
    run off the top."""

    EARLY = 0.1  # of the training curve's points, left out of the loss axis's range
    LEGEND = ("train loss", "val loss", "val reconstruction", "val KL (right axis)")

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setLabel("bottom", "epoch")
        # Epochs are epochs: no "(x0.001)" while the first batches' fractions are on show.
        self.getPlotItem().getAxis("bottom").enableAutoSIPrefix(False)
        self.setLabel("left", "loss (nats)")  # per image; longer, it was cut in a short panel
        self.showGrid(x=True, y=True, alpha=0.2)
        self._build_legend()
        self.train = self.plot(pen=pg.mkPen("#4e79a7", width=2), name="train loss")
        # Validation comes once an epoch: each point marked, so that one epoch shows one.
        self.val = self.plot(pen=pg.mkPen("#e15759", width=2), name="val loss", **self.marker("o", "#e15759"))
        self.recon = self.plot(
            pen=pg.mkPen("#59a14f", width=1.5, style=Qt.PenStyle.DashLine),
            name="val reconstruction",
            **self.marker("s", "#59a14f"),
        )
        # The KL in a view box of its own, sharing the x axis, scaled on the right axis.
        plot = self.getPlotItem()
        self.kl_view = pg.ViewBox(enableMouse=False)
        plot.showAxis("right")
        plot.scene().addItem(self.kl_view)
        plot.getAxis("right").linkToView(self.kl_view)
        plot.getAxis("right").setLabel("val KL (nats)", color="#b07aa1")
        self.kl_view.setXLink(plot)
        self.kl = pg.PlotDataItem(
            pen=pg.mkPen("#b07aa1", width=1.5, style=Qt.PenStyle.DashLine), **self.marker("t", "#b07aa1")
        )
        self.kl_view.addItem(self.kl)
        plot.legend.addItem(self.kl, "val KL (right axis)")
        plot.vb.sigResized.connect(lambda *_: self.kl_view.setGeometry(plot.vb.sceneBoundingRect()))
        plot.vb.enableAutoRange(axis=pg.ViewBox.YAxis, enable=False)
        self.reset()

    def _build_legend(self) -> None:
        """The legend is one row of small entries under the plot, beside the x axis's
        title, in place of the line the title had to itself: above the plot it took as
        much height as the plotted area at 1366 x 768, and a box inside the plot covered
        the curves, whatever corner it took. The curves named when they are plotted join
        it."""
        plot = self.getPlotItem()
        self.legend = pg.LegendItem(
            offset=None, colCount=len(self.LEGEND), horSpacing=3, labelTextSize="8pt", frame=False
        )
        self.legend.layout.setContentsMargins(0, 0, 0, 0)  # pyqtgraph's margins doubled its height
        plot.legend = self.legend
        plot.getAxis("bottom").showLabel(False)
        self.axis_title = pg.LabelItem("epoch", size="9pt")
        self.legend_row = pg.GraphicsLayout()
        self.legend_row.setContentsMargins(0, 0, 0, 0)
        self.legend_row.layout.setHorizontalSpacing(12)
        self.legend_row.addItem(self.axis_title, 0, 0)
        plot.layout.addItem(self.legend_row, 4, 1)
        plot.layout.setAlignment(self.legend_row, Qt.AlignmentFlag.AlignHCenter)
        self._place_legend(True)
        self.setToolTip(
            "Losses in nats per image. train loss: blue line; val loss: red circles;"
            " val reconstruction: green squares, dashed; val KL (right axis): purple triangles, dashed"
        )

    def resizeEvent(self, event) -> None:  # noqa: N802
        # As many entries a row as fit beside the axis title, 4 or 2. Where not even 2 fit,
        # more rows would leave no plot: the legend is then hidden, and the curves'
        # tooltip names them.
        legend = self.__dict__.get("legend")  # pyqtgraph resizes the view before __init__ ends
        if legend is not None and legend.items:
            # the texts' own widths: the row's layout may have stretched the labels
            entries = [s.width() + label.item.boundingRect().width() + 6 for s, label in legend.items]
            room = event.size().width() - self.axis_title.item.boundingRect().width() - 60
            pairs = [a + b for a, b in zip(entries[::2], entries[1::2], strict=False)]
            columns = 4 if sum(entries) <= room else 2 if max(pairs) <= room else 0
            if columns and legend.columnCount != columns:
                legend.setColumnCount(columns)
            self._place_legend(columns > 0)
        super().resizeEvent(event)

    def _place_legend(self, shown: bool) -> None:
        """Show the legend beside the axis title, or take it out of the row (hidden, it
        would still hold its width and height)."""
        row = self.legend_row.layout
        placed = any(row.itemAt(i) is self.legend for i in range(row.count()))
        if shown and not placed:
            self.legend_row.addItem(self.legend, 0, 1)
        elif not shown and placed:
            self.legend_row.removeItem(self.legend)
        self.legend.setVisible(shown)

    @staticmethod
    def marker(symbol: str, colour: str) -> dict:
        return {"symbol": symbol, "symbolSize": 8, "symbolBrush": colour, "symbolPen": colour}

    def reset(self, warmup: float = 0.0, epochs: int | None = None) -> None:
        """Clear the curves for a run of `epochs` whose learning rate warms up over `warmup`
        epochs. The x axis spans the whole run from the start, so that the curves grow
        across it and the last epoch's validation points sit inside the frame, not on its
        edge; without a run it follows the curves."""
        self.warmup = warmup
        if epochs is not None:
            self.setXRange(0, epochs, padding=0.03)
        else:
            self.getPlotItem().vb.enableAutoRange(axis=pg.ViewBox.XAxis, enable=True)
        self._last: BatchProgress | None = None
        self.points: dict[str, tuple[list[float], list[float]]] = {
            k: ([], []) for k in ("train", "val", "recon", "kl")
        }
        for curve in (self.train, self.val, self.recon, self.kl):
            curve.setData([], [])
        self.setYRange(0, 1)

    def loss_range(self) -> tuple[float, float] | None:
        """The loss axis's span: every validation point, and the training curve but for
        its first tenth and its warm-up (all of it while it has fewer than ten points)."""
        xs, train = self.points["train"]
        early = 0
        if len(train) >= 10:
            early = max(int(len(train) * self.EARLY), sum(x <= self.warmup for x in xs))
        values = train[min(early, len(train) - 1) :] + self.points["val"][1] + self.points["recon"][1]
        finite = [v for v in values if np.isfinite(v)]
        if not finite:
            return None
        return min(finite), max(finite)

    def _add(self, key: str, curve, x: float, y: float) -> None:
        xs, ys = self.points[key]
        xs.append(x)
        ys.append(y)
        curve.setData(xs, ys)
        if key == "kl":
            self.kl_view.setYRange(0, max(1.0, max(v for v in ys if np.isfinite(v))), padding=0.1)
        elif (span := self.loss_range()) is not None:
            self.setYRange(*span, padding=0.08)

    def add_batch(self, p: BatchProgress) -> None:
        """Plot the mean over the batches since the last report, not the epoch's running
        mean, so the curve does not jump at every epoch boundary."""
        loss = p.loss
        if self._last is not None and self._last.epoch == p.epoch and p.batch > self._last.batch:
            loss = (p.loss * p.batch - self._last.loss * self._last.batch) / (p.batch - self._last.batch)
        self._last = p
        self._add("train", self.train, p.epoch - 1 + p.batch / p.batches, loss)

    def add_epoch(self, r: EpochResult) -> None:
        self._add("val", self.val, r.epoch, r.val_loss)
        self._add("recon", self.recon, r.epoch, r.val_recon)
        self._add("kl", self.kl, r.epoch, r.val_kl)
