"""What the latent map draws with: the digits' colours, the overlays' ink, the shapes the
layers trace (ellipses, the prior's contours, the classifier's colours) and the legend."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt

from vaedesk.core.prior import Prior

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


def show(item: pg.GraphicsObject, x, y) -> None:
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


class PaletteScatter(pg.ScatterPlotItem):
    """A scatter whose 10,000 points share a few styles (one symbol, size and pen, a brush
    from the digits' ten). pyqtgraph finds each point's symbol in its atlas point by point:
    a tuple, four attribute reads and a dict look-up for each of 10,000 points, 30-60 ms
    at every start and every legend click. Here each distinct style is looked up once and
    its place in the atlas given to its points with numpy. What is drawn is unchanged:
    the same atlas, the same source rectangle for every point."""

    STYLE = ["symbol", "size", "pen", "brush"]
    _placing_later = False

    def set_points(self, x: np.ndarray, y: np.ndarray, brushes: np.ndarray) -> None:
        """Replace the points, with one brush each (an object array); their symbols are
        placed once, with their brushes (setData alone would place them brushless first)."""
        self._placing_later = True
        try:
            self.setData(x, y)
        finally:
            self._placing_later = False
        self.set_brushes(brushes)

    def set_brushes(self, brushes: np.ndarray) -> None:
        """One brush per point, as an object array (pyqtgraph's setBrush makes a list)."""
        self.data["brush"] = brushes
        self.data["sourceRect"] = 0
        self.updateSpots()

    def updateSpots(self, dataSet=None) -> None:  # noqa: N802, N803 - pyqtgraph's names
        if self._placing_later:
            return
        data = self.data if dataSet is None else dataSet
        todo = np.flatnonzero(data["sourceRect"]["w"] == 0)
        if not (self.opts["pxMode"] and self.opts["useCache"]) or len(todo) == 0:
            super().updateSpots(dataSet)
            return
        # A point's style is its four columns (objects compared by identity, as the atlas
        # keys them) and whether it is hovered; the points of one style get one number.
        _, first, which = np.unique(_style_keys(data, todo), return_index=True, return_inverse=True)
        styles = list(zip(*self._style(self.STYLE, data=data, idx=todo[first]), strict=True))
        places = np.array(self.fragmentAtlas[styles], dtype=data["sourceRect"].dtype)
        data["sourceRect"][todo] = places[which]
        self._maybeRebuildAtlas()
        self._updateMaxSpotSizes(data=data)
        self.invalidate()


def _style_keys(data: np.ndarray, todo: np.ndarray) -> np.ndarray:
    """A number for each point of `todo` that only points of the same style share."""

    def column(name: str) -> np.ndarray:  # all of it, without a copy, when all is to do
        return data[name] if len(todo) == len(data) else data[name][todo]

    columns = [np.fromiter(map(id, column(c)), np.int64, len(todo)) for c in ("symbol", "pen", "brush")]
    columns += [column("size").astype(np.float64).view(np.int64), column("hovered").astype(np.int64)]
    varying = [c for c in columns if len(c) and (c != c[0]).any()]  # most are one value for all
    if not varying:
        return np.zeros(len(todo), np.int64)
    if len(varying) == 1:
        return varying[0]
    return np.unique(np.stack(varying, axis=1), axis=0, return_inverse=True)[1].reshape(-1)
