"""The README's "Using the window" table, one test per row, each taking the user's path:
real mouse and key events, menu actions triggered from their menus, real button clicks.
Expected values are computed here, independently of the code under test."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QColor, QDropEvent, QGuiApplication, QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from tests.ui.helpers import click, hover, key, make_window, press, wheel
from vaedesk import load_model
from vaedesk.core import paths, preprocess
from vaedesk.core.session import MORPH_STEPS
from vaedesk.ui.selftest import drag, map_to_viewport, stroke_seven, viewport_to_latent


def brute_force_nearest(points: np.ndarray, labels: np.ndarray, z, hidden=()) -> int:
    d2 = ((points.astype(np.float64) - np.asarray(z, np.float64)) ** 2).sum(axis=1)
    d2[np.isin(labels, list(hidden))] = np.inf
    return int(np.argmin(d2))


def test_row_move_over_the_map(qtbot, window, model):
    vp = window.map.viewport().rect()
    shown = []
    for pos in (QPoint(vp.width() // 3, vp.height() // 3), QPoint(2 * vp.width() // 3, vp.height() // 2)):
        hover(qtbot, window, pos)
        z = np.array(viewport_to_latent(window.map, pos), np.float32)
        np.testing.assert_allclose(window.decoder.image, model.decode(z)[0], atol=1e-5)
        seen = pixels(window.decoder.view.grab().toImage())[1:-1, 1:-1, 0].astype(np.float64)  # in the border
        rows = np.array_split(seen, 28)
        blocks = np.array([[b.mean() for b in np.array_split(r, 28, axis=1)] for r in rows])
        assert np.corrcoef(blocks.ravel(), window.decoder.image.ravel())[0, 1] > 0.98  # the digit on screen
        assert f"{z[0]:+.3f}" in window.statusBar().currentMessage()
        shown.append(window.decoder.image)
    assert np.abs(shown[0] - shown[1]).mean() > 0.01  # the digit changed


def test_row_move_over_the_map_rapid_moves_end_on_the_resting_position(qtbot, window, model):
    """pyqtgraph's scene drops moves closer than 10 ms apart; the map must not."""
    vp = window.map.viewport()
    for i in range(30):  # far faster than 100 moves per second
        QTest.mouseMove(vp, QPoint(200 + 7 * i, 150 + 5 * i))
    rest = QPoint(200 + 7 * 29, 150 + 5 * 29)
    qtbot.waitUntil(lambda: not window.map.hover_pending(), timeout=2000)
    z = np.array(viewport_to_latent(window.map, rest), np.float32)
    np.testing.assert_allclose(window.hover_z, z, atol=1e-5)
    np.testing.assert_allclose(window.decoder.image, model.decode(z)[0], atol=1e-5)


def pixels(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return rows[:, : 3 * image.width()].reshape(image.height(), image.width(), 3).copy()  # outlives image


def on_screen(qtbot, widget) -> np.ndarray:
    """The widget's pixels as the window's backing store holds them, what a screenshot
    shows (a widget's grab() would paint it anew and hide a stale region), after the
    pending repaints. The whole window is grabbed and cropped: the offscreen platform
    shears a grab of part of a window."""
    qtbot.wait(30)
    QApplication.processEvents()
    at = widget.mapTo(widget.window(), QPoint(0, 0))
    shot = pixels(QGuiApplication.primaryScreen().grabWindow(widget.window().winId()).toImage())
    return shot[at.y() : at.y() + widget.height(), at.x() : at.x() + widget.width()]


def test_the_crosshair_follows_the_cursor_and_leaves_no_trace(qtbot, window):
    """A move repaints only the crosshair's strips: the lines are where the cursor is, and
    nothing of the previous lines stays on screen."""
    m = window.map
    vp = m.viewport()
    a, b = QPoint(vp.width() // 3, vp.height() // 3), QPoint(2 * vp.width() // 3 + 7, vp.height() // 2 + 5)
    hover(qtbot, window, a)
    shot_a = on_screen(qtbot, vp)
    hover(qtbot, window, b)
    shot_b = on_screen(qtbot, vp)
    box = m.view.sceneBoundingRect().toRect()  # the plot, inside the axes
    rows, cols = slice(box.top() + 3, box.bottom() - 3), slice(box.left() + 3, box.right() - 3)
    changed = (shot_a != shot_b).any(axis=2)
    ys, xs = np.nonzero(changed)
    near_x = np.minimum(np.abs(xs - a.x()), np.abs(xs - b.x())) <= 2
    near_y = np.minimum(np.abs(ys - a.y()), np.abs(ys - b.y())) <= 2
    assert (near_x | near_y).all(), "pixels changed off the crosshair"

    # Both lines moved: the old ones are gone and the new ones drawn, over most of the plot.
    # (A line lands on the cursor's pixel or a neighbour, as the view's scale rounds.)
    def column_changed(x: int) -> float:
        return max(changed[rows, i].mean() for i in (x - 1, x, x + 1))

    def row_changed(y: int) -> float:
        return max(changed[i, cols].mean() for i in (y - 1, y, y + 1))

    assert column_changed(b.x()) > 0.9 and row_changed(b.y()) > 0.9
    assert column_changed(a.x()) > 0.9 and row_changed(a.y()) > 0.9
    # What is on screen is what a full repaint draws: no stale line anywhere.
    np.testing.assert_array_equal(shot_b, pixels(vp.grab().toImage()))
    np.testing.assert_allclose(m.crosshair(), viewport_to_latent(m, b), atol=1e-9)
    wheel(vp, vp.rect().center())  # zoom in: the crosshair stays on its latent point
    np.testing.assert_array_equal(on_screen(qtbot, vp), pixels(vp.grab().toImage()))


def test_moving_overlays_never_redraws_the_points_but_zooming_does(qtbot, window):
    """The scatter is drawn from Qt's pixmap cache while the crosshair, the selection ring
    and the drawing's marker move; only a change of view redraws the 300 (here) points."""
    m = window.map
    painted = []
    paint = type(m.points).paint
    m.points.paint = lambda painter, *args: (painted.append(1), paint(m.points, painter, *args))
    m.viewport().repaint()
    painted.clear()
    vp = m.viewport().rect()
    for i in range(10):
        hover(qtbot, window, QPoint(vp.width() // 4 + 20 * i, vp.height() // 3 + 9 * i))
        m.viewport().repaint()
    click(qtbot, m.viewport(), QPoint(vp.width() // 2, vp.height() // 2))  # the selection ring
    m.viewport().repaint()
    assert window.session.selected is not None and painted == []
    wheel(m.viewport(), m.viewport().rect().center())  # zoom in
    m.viewport().repaint()
    assert len(painted) >= 1


def test_row_click(qtbot, window):
    m, test = window.map, window.session.test
    rect = m.viewport().rect()
    pos = QPoint(rect.width() // 2 + 5, rect.height() // 2 - 3)
    click(qtbot, m.viewport(), pos)
    expected = brute_force_nearest(test.mu, test.labels, viewport_to_latent(m, pos))
    assert window.session.selected == expected
    np.testing.assert_array_equal(window.selection.image.image, test.images[expected] / np.float32(255))
    np.testing.assert_allclose(
        window.selection.recon.image, window.session.model.decode(test.mu[expected])[0], atol=1e-6
    )
    assert f"digit {test.labels[expected]}" in window.selection.info.text()
    sx, sy = m.selection.getData()
    np.testing.assert_allclose([sx[0], sy[0]], test.mu[expected])
    key(window, Qt.Key.Key_Right)
    assert window.session.selected == expected + 1
    click(qtbot, window.selection.prev_button)
    assert window.session.selected == expected
    box = window.selection.index_box
    box.lineEdit().selectAll()
    QTest.keyClicks(box, "123")
    QTest.keyClick(box, Qt.Key.Key_Return)
    assert window.session.selected == 123 and "test image 123" in window.selection.info.text()


def test_row_click_with_no_test_set_says_so(qtbot, model, tmp_path, dialogs):
    w = make_window(qtbot, model, tmp_path)
    click(qtbot, w.map.viewport(), QPoint(200, 200))
    assert "No test set loaded" in w.statusBar().currentMessage()
    assert w.session.selected is None


def test_row_shift_click_two_points(qtbot, window, model, tmp_path, dialogs):
    m = window.map
    a, b = QPoint(150, 200), QPoint(500, 400)
    click(qtbot, m.viewport(), a, Qt.KeyboardModifier.ShiftModifier)
    assert "shift-click a second point" in window.statusBar().currentMessage()
    click(qtbot, m.viewport(), b, Qt.KeyboardModifier.ShiftModifier)
    assert "second point" not in window.statusBar().currentMessage()
    assert window.session.selected is None  # shift-click morphs, it does not select
    px, py = m.morph_path.getData()
    assert len(px) == MORPH_STEPS
    za, zb = np.array(viewport_to_latent(m, a)), np.array(viewport_to_latent(m, b))
    np.testing.assert_allclose([px[0], py[0]], za, atol=1e-4)
    np.testing.assert_allclose([px[-1], py[-1]], zb, atol=1e-4)
    np.testing.assert_allclose(px, np.linspace(za[0], zb[0], MORPH_STEPS), atol=1e-4)  # a straight line
    qtbot.waitUntil(lambda: not window.decoder.is_playing(), timeout=5000)
    np.testing.assert_allclose(window.decoder.image, model.decode(zb)[0], atol=1e-5)
    dialogs.save_file = str(tmp_path / "strip.png")
    press(window, "file.export_morph_strip")
    with Image.open(tmp_path / "strip.png") as im:
        assert im.size == (3 * 28 * 12, 3 * 28)


def pixels_of(widget, colour: str) -> int:
    """How many pixels of the widget, as drawn on screen, have exactly this colour."""
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    pixels = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    rgb = pixels[:, : 3 * image.width()].reshape(image.height(), image.width(), 3)
    return int((rgb == QColor(colour).getRgb()[:3]).all(axis=2).sum())


def test_row_click_a_digit_in_the_legend(qtbot, window):
    from vaedesk.ui.latent_map import PALETTE

    m, s = window.map, window.session
    sample, label = m.legend.items[3]
    assert label.text == "3"
    threes_drawn = pixels_of(m, PALETTE[3])
    pos = m.mapFromScene(sample.sceneBoundingRect().center())
    click(qtbot, m.viewport(), pos)
    assert not m.digits[3].isVisible() and all(m.digits[d].isVisible() for d in range(10) if d != 3)
    assert pixels_of(m, PALETTE[3]) < 0.05 * threes_drawn  # the 3s are gone from the map
    assert s.selected is None  # a legend click is not a map click
    threes = np.flatnonzero(s.test.labels == 3)
    click(qtbot, m.viewport(), map_to_viewport(m, *s.test.mu[threes[0]]))
    assert s.selected is not None and s.test.labels[s.selected] != 3  # hidden points cannot be picked
    click(qtbot, m.viewport(), pos)
    assert m.digits[3].isVisible() and 3 not in s.hidden_digits
    # all back, bar the few the selection ring now drawn over one of them may cover
    assert 0.9 * threes_drawn <= pixels_of(m, PALETTE[3]) <= threes_drawn


def test_a_new_model_is_fitted_unless_the_user_moved_the_view(qtbot, window, dialogs, tmp_path):
    """An untrained model's map is a small cluster where the bundled one spans the plane:
    opened, it fills the view; after a zoom, the next one keeps the user's view."""
    from vaedesk.core import weights
    from vaedesk.core.model import VAE, VAEConfig

    m, opened = window.map, []
    for seed in (1, 2):
        path = tmp_path / f"untrained{seed}.safetensors"
        torch.manual_seed(seed)
        weights.save(path, VAE(VAEConfig(arch="mlp")), {})
        opened.append(path)
    dialogs.open_file = str(opened[0])
    key(window, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    mu = window.session.points
    (x0, x1), (y0, y1) = m.view.viewRange()
    inside = (mu[:, 0] > x0) & (mu[:, 0] < x1) & (mu[:, 1] > y0) & (mu[:, 1] < y1)
    spread = np.percentile(mu, 99.8, axis=0) - np.percentile(mu, 0.2, axis=0)
    assert inside.mean() > 0.99
    assert max((x1 - x0) / spread[0], (y1 - y0) / spread[1]) < 1.5  # fills it, not a dot in a corner
    wheel(m.viewport(), m.viewport().rect().center())
    zoomed = m.view.viewRange()
    dialogs.open_file = str(opened[1])
    key(window, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert window.session.model.path == opened[1] and m.view.viewRange() == zoomed
    key(window, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)  # View > Fit: fitted again
    assert m.view.viewRange() != zoomed


def test_row_drag_and_wheel(qtbot, window):
    view, vp = window.map.view, window.map.viewport()
    (x0, x1), _ = view.viewRange()
    center = QPoint(vp.width() // 2, vp.height() // 2)
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, pos=center)
    for i in range(1, 11):
        QTest.mouseMove(vp, center + QPoint(10 * i, 0))
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=center + QPoint(100, 0))
    (p0, p1), _ = view.viewRange()
    assert p0 < x0 and p1 - p0 == pytest.approx(x1 - x0, rel=1e-3)  # panned left, same zoom
    wheel(vp, center)
    (z0, z1), _ = view.viewRange()
    assert z1 - z0 < 0.9 * (p1 - p0)  # zoomed in
    key(window, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    (f0, f1), _ = view.viewRange()
    assert f1 - f0 > z1 - z0  # fitted back out to the points


def test_row_decoded_digit_field(qtbot, window, model):
    key(window, Qt.Key.Key_F)
    m = window.map
    assert m.field.isVisible()
    img = m.field.image
    assert img is not None and img.shape[0] % 28 == 0 and img.shape[1] % 28 == 0
    # the bottom-left tile is the decoder's digit at the centre of that tile, upright
    (x0, x1), (y0, y1) = m.view.viewRange()
    ny, nx = img.shape[0] // 28, img.shape[1] // 28
    z = [x0 + 0.5 * (x1 - x0) / nx, y0 + 0.5 * (y1 - y0) / ny]
    np.testing.assert_allclose(1.0 - img[:28, :28][::-1], model.decode(z)[0], atol=1e-5)
    before = img.copy()
    m.view.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
    qtbot.waitUntil(
        lambda: m.field.image.shape != before.shape or not np.array_equal(m.field.image, before),
        timeout=2000,
    )
    rect = m.field.mapRectToParent(m.field.boundingRect())
    assert rect.left() == pytest.approx(m.view.viewRange()[0][0], abs=1e-6)
    assert m.legend.zValue() > m.field.zValue()  # the field never covers the legend
    key(window, Qt.Key.Key_F)
    assert not m.field.isVisible()


PRIOR_MODELS = [paths.bundled_weights(), paths.bundled_weights().with_name("seed.safetensors")]


def raw_prior(path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A weights file's prior as (means, variances, weights), read here from its tensors;
    N(0, I) when it has no mixture."""
    from safetensors.numpy import load_file

    t = load_file(str(path))
    if "prior.means" not in t:
        return np.zeros((1, 2)), np.ones((1, 2)), np.ones(1)
    w = np.exp(t["prior.logits"] - t["prior.logits"].max())
    return t["prior.means"].astype(float), np.exp(np.maximum(t["prior.logvars"], -6.0)), w / w.sum()


def density(prior, z: np.ndarray) -> np.ndarray:
    means, variances, w = prior
    d = z[:, None, :] - means[None]
    return (w * np.exp(-0.5 * (d**2 / variances).sum(-1)) / (2 * np.pi * np.sqrt(variances.prod(-1)))).sum(-1)


def draws(prior, n: int) -> np.ndarray:
    means, variances, w = prior
    rng = np.random.default_rng(5)
    k = rng.choice(len(w), size=n, p=w)
    return means[k] + rng.standard_normal((n, 2)) * np.sqrt(variances[k])


@pytest.mark.parametrize("path", PRIOR_MODELS, ids=lambda p: p.stem)
def test_row_prior_contours(qtbot, mnist_dir, dialogs, path):
    """C shows the prior's contours holding the mass of N(0, I)'s 1, 2, 3 sigma circles:
    the circles themselves for that prior, the mixture's own density contours otherwise."""
    window = make_window(qtbot, load_model(path), mnist_dir)
    prior = raw_prior(path)
    key(window, Qt.Key.Key_C)
    assert all(c.isVisible() for c in window.map.circles)
    sample = draws(prior, 100000)
    for r, curve in zip((1, 2, 3), window.map.circles, strict=True):
        x, y = curve.getData()
        on = np.stack([x, y], axis=1)
        on = on[np.isfinite(on).all(axis=1)]
        level = density(prior, on)
        assert np.ptp(level) < 0.1 * np.median(level)  # one density all along
        inside = (density(prior, sample) >= np.median(level)).mean()
        assert abs(inside - (1 - np.exp(-(r**2) / 2))) < 0.02, (r, inside)
    press(window, "view.contours")
    assert not any(c.isVisible() for c in window.map.circles)


@pytest.mark.parametrize("path", PRIOR_MODELS, ids=lambda p: p.stem)
def test_row_sample_and_morph_follow_the_prior(qtbot, mnist_dir, dialogs, path):
    model = load_model(path)
    window = make_window(qtbot, model, mnist_dir)
    prior, m = raw_prior(path), window.map
    key(window, Qt.Key.Key_S)
    assert "16 samples from the prior, " + ("N(0, I)" if len(prior[2]) == 1 else "a mixture") in (
        window.decoder.caption.text()
    )
    press(window, "explore.follow_prior")
    a, b = (2.0, 0.0), (0.0, 2.0)
    if len(prior[2]) > 1:  # between the two components farthest apart
        d = np.linalg.norm(prior[0][:, None] - prior[0][None], axis=-1)
        i, j = np.unravel_index(np.argmax(d), d.shape)
        a, b = prior[0][i], prior[0][j]
    m.setRange(xRange=(-8, 8), yRange=(-8, 8), padding=0)
    for z in (a, b):
        click(qtbot, m.viewport(), map_to_viewport(m, *z), Qt.KeyboardModifier.ShiftModifier)
    path_z = np.stack(m.morph_path.getData(), axis=1)
    if len(prior[2]) == 1:
        radius = np.hypot(*path_z.T)
        assert np.ptp(radius) < 0.02 * radius.mean()  # slerp keeps the norm between equal-norm ends
    else:
        straight = np.linspace(path_z[0], path_z[-1], len(path_z))
        assert np.log(density(prior, path_z)).mean() > np.log(density(prior, straight)).mean()


def test_row_sample(qtbot, window, model):
    width = window.decoder.width()
    key(window, Qt.Key.Key_S)
    sx, sy = window.map.samples.getData()
    assert len(sx) == 16
    img = window.decoder.image
    assert img.shape == (112, 112)
    np.testing.assert_allclose(img[:28, 28:56], model.decode([sx[1], sy[1]])[0], atol=1e-5)
    assert window.decoder.width() == width  # no layout jump
    key(window, Qt.Key.Key_Escape)
    assert len(window.map.samples.getData()[0]) == 0


def test_row_draw_on_the_pad(qtbot, window, model):
    pad = window.drawing.pad
    drag(pad, stroke_seven())
    qtbot.waitUntil(lambda: window.session.drawing is not None, timeout=2000)
    mu, logvar = model.encode(preprocess.to_mnist(pad.ink()))
    x, y = window.map.drawn.getData()
    np.testing.assert_allclose([x[0], y[0]], mu[0], atol=1e-5)
    sigma = np.exp(0.5 * logvar[0])
    ex, ey = window.map.sigma1.getData()
    np.testing.assert_allclose([ex.max() - mu[0, 0], ey.max() - mu[0, 1]], sigma, rtol=0.01)
    ex2, _ = window.map.sigma2.getData()
    assert ex2.max() - mu[0, 0] == pytest.approx(2 * sigma[0], rel=0.01)
    # the marker is drawn smaller than the 1 sigma ellipse, so the uncertainty shows
    marker_px = window.map.drawn.opts["size"]
    ellipse_px = abs(
        map_to_viewport(window.map, mu[0, 0] + sigma[0], 0).x() - map_to_viewport(window.map, mu[0, 0], 0).x()
    )
    assert marker_px / 2 < max(ellipse_px, 3)
    np.testing.assert_allclose(window.drawing.recon_view.image, model.decode(mu)[0], atol=1e-5)
    assert window.drawing.input_view.image.shape == (28, 28)
    assert f"{mu[0, 0]:+.2f}" in window.drawing.info.text()

    drag(pad, [(100, 200), (200, 200)])  # a second stroke moves the encoding and grows the trail
    qtbot.waitUntil(lambda: len(window.session.drawing.trail) == 2, timeout=2000)
    tx, _ = window.map.trail.getData()
    assert len(tx) == 2  # one point per finished stroke, none from half-drawn ones
    click(qtbot, window.drawing.undo_button)
    qtbot.waitUntil(lambda: len(pad.strokes) == 1, timeout=1000)
    click(qtbot, window.drawing.clear_button)
    qtbot.waitUntil(lambda: window.session.drawing is None, timeout=1000)
    assert len(window.map.drawn.getData()[0]) == 0  # the marker is gone
    assert window.drawing.recon_view.image is None and "Draw a digit" in window.drawing.info.text()


def test_row_draw_on_the_pad_an_empty_pad_encodes_to_nothing(qtbot, window):
    click(qtbot, window.drawing.clear_button)  # clear an empty pad: it is encoded as empty
    qtbot.wait(50)
    assert window.session.drawing is None and window.drawing.recon_view.image is None
    assert "Draw a digit" in window.drawing.info.text()
    assert len(window.map.drawn.getData()[0]) == 0


def picture(path, empty: bool = False):
    img = Image.new("L", (100, 140), 255)
    if not empty:
        ImageDraw.Draw(img).ellipse([20, 20, 80, 120], outline=0, width=10)
    img.save(path)
    return path


def drag_and_drop(widget, path) -> None:
    """A file dragged from a file manager onto `widget`: enter, move, drop."""
    from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    for kind in (QDragEnterEvent, QDragMoveEvent):
        event = kind(QPoint(50, 50), *args)
        QApplication.sendEvent(widget, event)
        assert event.isAccepted()
    QApplication.sendEvent(widget, QDropEvent(QPointF(50, 50), *args))


def test_row_drop_or_open_a_picture(qtbot, window, model, dialogs, tmp_path):
    zero = picture(tmp_path / "zero.png")
    drag_and_drop(window.drawing, zero)
    qtbot.waitUntil(lambda: window.session.drawing is not None, timeout=2000)
    # The pad resamples the picture to its own size, so what the model sees is the file's
    # 28 x 28 digit up to that resampling, and what the window shows is its encoding.
    seen = window.session.drawing.input
    assert np.abs(seen - preprocess.picture_to_mnist(zero)).mean() < 0.02
    expected, _ = model.encode(seen)
    np.testing.assert_allclose(window.session.drawing.mu, expected[0], atol=1e-5)

    dialogs.open_file = str(picture(tmp_path / "blank.png", empty=True))
    key(window, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)
    assert "blank.png" in dialogs.messages[-1] and "empty" in dialogs.messages[-1]
    assert window.session.drawing is not None  # the old drawing stays
    dialogs.open_file = str(zero)
    click(qtbot, window.drawing.open_button)
    assert not window.drawing.pad.is_empty()

    click(qtbot, window.drawing.clear_button)
    qtbot.waitUntil(lambda: window.session.drawing is None, timeout=2000)
    drag_and_drop(window.selection, zero)  # anywhere on the window: it reaches the window
    qtbot.waitUntil(lambda: window.session.drawing is not None, timeout=2000)


def test_row_copy(qtbot, window, model):
    vp = window.map.viewport().rect()
    hover(qtbot, window, QPoint(vp.width() // 2, vp.height() // 2))
    key(window, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    image = QGuiApplication.clipboard().image()
    assert (image.width(), image.height()) == (280, 280)
    centre = image.pixelColor(145, 145).value() / 255  # the middle of pixel (14, 14)
    assert centre == pytest.approx(window.decoder.image[14, 14], abs=0.15)
    key(window, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    image = QGuiApplication.clipboard().image()
    assert image.width() == window.map.width()


def test_row_export(qtbot, window, dialogs, tmp_path):
    vp = window.map.viewport().rect()
    hover(qtbot, window, QPoint(vp.width() // 3, vp.height() // 3))
    dialogs.save_file = str(tmp_path / "digit.png")
    key(window, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    dialogs.save_file = str(tmp_path / "map.png")
    key(window, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    with Image.open(tmp_path / "digit.png") as im:
        assert im.size == (280, 280)
    with Image.open(tmp_path / "map.png") as im:
        assert im.size[0] > 300 and im.size[1] > 300
    assert sorted(p.name for p in tmp_path.iterdir()) == ["digit.png", "map.png"]  # no temp files
    dialogs.save_file = str(tmp_path / "no-such-folder" / "x" / "digit.png")
    (tmp_path / "no-such-folder").write_text("a file, not a folder")
    key(window, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert "Could not write" in dialogs.messages[-1]


def test_row_open_save_reset(qtbot, window, model, dialogs, tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 64)
    dialogs.open_file = str(bad)
    key(window, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert "bad.safetensors" in dialogs.messages[-1] and "unchanged" in dialogs.messages[-1]
    assert window.session.model is model

    dialogs.save_file = str(tmp_path / "copy")
    key(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    saved = tmp_path / "copy.safetensors"
    assert saved.is_file() and saved.with_suffix(".card.json").is_file()
    assert "copy.safetensors" in window.windowTitle()

    press(window, "model.reset")
    assert window.session.model.path == paths.bundled_weights()
    recent = menu_item_texts(window, "Model", "Recent models")
    assert str(saved) in recent
    dialogs.save_file = str(paths.bundled_weights())
    before = paths.bundled_weights().read_bytes()
    press(window, "model.save")
    assert "a file vaedesk ships cannot be overwritten" in dialogs.messages[-1]
    assert paths.bundled_weights().read_bytes() == before
    recent_action = next(a for a in recent_menu(window).actions() if a.text() == str(saved))
    recent_action.trigger()
    assert window.session.model.path == saved


def recent_menu(window):
    sub = window.action("model.recent").menu()
    sub.aboutToShow.emit()  # as when the user opens it
    return sub


def menu_item_texts(window, *_path) -> list[str]:
    return [a.text() for a in recent_menu(window).actions()]


def test_row_data_banner(qtbot, model, dialogs, tmp_path, mnist_dir):
    w = make_window(qtbot, model, tmp_path)
    assert w.banner.isVisible() and "MNIST test set" in w.banner.message.text()
    assert not w.map.has_points()
    hover(qtbot, w, QPoint(w.map.viewport().width() // 2, w.map.viewport().height() // 2))
    assert w.decoder.image is not None  # hovering works without data
    dialogs.folder = str(tmp_path)  # still empty: refused, with a message
    click(qtbot, w.banner.choose)
    assert "cannot be used" in dialogs.messages[-1] and w.banner.isVisible()
    dialogs.folder = str(mnist_dir)
    click(qtbot, w.banner.choose)
    assert not w.banner.isVisible() and len(w.map.mu) == 300
    assert w.settings.data_dir == str(mnist_dir)  # remembered for the next start


def test_row_data_banner_download(qtbot, model, tmp_path, monkeypatch, mnist_dir, dialogs):
    from tests.servers import Server
    from vaedesk.core import data

    server = Server("ok", mnist_dir)
    try:
        monkeypatch.setattr(data, "MIRRORS", (server.url,))
        w = make_window(qtbot, model, tmp_path / "mnist")
        click(qtbot, w.banner.download)
        qtbot.waitUntil(lambda: w.map.has_points(), timeout=60000)
        assert not w.banner.isVisible() and len(w.map.mu) == 300
    finally:
        server.close()


def test_row_keyboard_shortcuts(qtbot, window, dialogs):
    press(window, "help.shortcuts")
    text = dialogs.messages[-1]
    for line in ("Train\u2026: Ctrl+T", "Copy decoded digit: Ctrl+C", "Decoded-digit field: F"):
        assert line in text
    key(window, Qt.Key.Key_F1)
    assert "Hover over the map" in dialogs.messages[-1]


def test_help_about_the_bundled_models_shows_each_models_card(window, dialogs):
    press(window, "help.bundled_models")
    text = dialogs.messages[-1]
    card = json.loads(paths.bundled_weights().with_suffix("").with_suffix(".card.json").read_text())
    assert text.startswith("vaedesk (the default)")
    assert f"-ELBO {card['test_metrics']['neg_elbo']:.2f} nats" in text and card["command"] in text
    classifier = json.loads(paths.bundled_classifier().with_suffix("").with_suffix(".card.json").read_text())
    assert f"accuracy {100 * classifier['test_metrics']['accuracy']:.2f} %" in text


def test_layout_data_folder_and_model_are_remembered(qtbot, model, dialogs, tmp_path, mnist_dir):
    w = make_window(qtbot, model, tmp_path)
    dialogs.folder = str(mnist_dir)
    press(w, "file.choose_mnist")
    dialogs.save_file = str(tmp_path / "mine.safetensors")
    press(w, "model.save")
    w.close()
    geometry = bytes(w.saveGeometry())
    settings = type(w.settings)()
    assert settings.data_dir == str(mnist_dir) and settings.last_model == str(tmp_path / "mine.safetensors")
    w2 = make_window(qtbot, model, mnist_dir)
    # The offscreen platform does not place windows, so compare what was stored.
    assert bytes(settings.store.value("geometry")) == geometry and settings.restore_window(w2)


def test_a_model_of_more_dimensions_is_shown_on_its_principal_plane(qtbot, mnist_dir, dialogs, tmp_path):
    """A 4-D model: the map shows the test means on the plane of their first two principal
    components (computed here with an eigendecomposition), hovering decodes the latent
    point at the cursor on that plane, the plane moves through a selected image (P), a
    drawing is shown projected, and the prior's contours are not drawn."""
    import torch

    from vaedesk.core import weights
    from vaedesk.core.model import VAE, VAEConfig

    torch.manual_seed(0)
    path = tmp_path / "d4.safetensors"
    weights.save(path, VAE(VAEConfig(arch="mlp", latent_dim=4)), {})
    model = load_model(path)
    window = make_window(qtbot, model, mnist_dir)
    m = window.map
    mu = window.session.test.mu.astype(np.float64)
    centre = mu.mean(axis=0)
    values, vectors = np.linalg.eigh(np.cov(mu.T))
    basis = vectors[:, ::-1][:, :2].T
    basis *= np.sign((basis @ window.session.plane.basis.T).diagonal())[
        :, None
    ]  # eigenvectors' signs are free
    np.testing.assert_allclose(m.mu, (mu - centre) @ basis.T, atol=1e-3)
    assert m.getPlotItem().getAxis("bottom").labelText.startswith("PC 1")

    pos = QPoint(m.viewport().width() // 3, m.viewport().height() // 2)
    hover(qtbot, window, pos)
    xy = np.array(viewport_to_latent(m, pos))
    np.testing.assert_allclose(window.decoder.image, model.decode(centre + xy @ basis)[0], atol=1e-4)
    assert "(PC 1, PC 2)" in window.statusBar().currentMessage()

    index = 5
    click(qtbot, m.viewport(), map_to_viewport(m, *m.mu[index]))
    assert window.session.selected == index
    key(window, Qt.Key.Key_P)  # the plane through the selected image
    hover(qtbot, window, map_to_viewport(m, *m.mu[index]) + QPoint(1, 0))
    at = window.hover_z.astype(np.float64)
    expected = mu[index] + (at - m.mu[index]) @ basis  # the selected mean, moved along the plane
    np.testing.assert_allclose(window.decoder.image, model.decode(expected)[0], atol=1e-4)
    assert np.abs(model.decode(centre + at @ basis)[0] - window.decoder.image).max() > 1e-3  # it moved
    assert "\u2026 4 dimensions" in window.selection.info.text()

    drag(window.drawing.pad, stroke_seven())
    qtbot.waitUntil(lambda: window.session.drawing is not None, timeout=2000)
    z, _ = model.encode(preprocess.to_mnist(window.drawing.pad.ink()))
    x, y = m.drawn.getData()
    np.testing.assert_allclose([x[0], y[0]], (z[0] - centre) @ basis.T, atol=1e-3)

    key(window, Qt.Key.Key_C)
    assert all(len(c.getData()[0] if c.getData()[0] is not None else []) == 0 for c in m.circles)


def test_no_export_or_save_writes_over_a_file_vaedesk_ships(qtbot, window, dialogs, tmp_path, monkeypatch):
    """File > Export map, Export decoded digit and Model > Save, aimed at a shipped file or
    a symlink to one, say so in one message and leave the file as it was. (They are aimed
    at copies, so that a failing guard damages nothing.)"""
    copies = tmp_path / "shipped"
    copies.mkdir()
    for name in ("vaedesk.safetensors", "vaedesk.card.json", "classifier.safetensors"):
        (copies / name).write_bytes((paths.bundled_weights().parent / name).read_bytes())
    monkeypatch.setattr(paths, "shipped_files", lambda: sorted(copies.iterdir()))
    before = {p.name: p.read_bytes() for p in copies.iterdir()}
    (tmp_path / "link.png").symlink_to(copies / "classifier.safetensors")
    vp = window.map.viewport().rect()
    hover(qtbot, window, QPoint(vp.width() // 3, vp.height() // 3))
    ctrl, shift = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier
    for target, keys in [
        (copies / "vaedesk.safetensors", (Qt.Key.Key_E, ctrl | shift)),  # Export map
        (tmp_path / "link.png", (Qt.Key.Key_E, ctrl)),  # Export decoded digit
        (copies / "vaedesk.safetensors", (Qt.Key.Key_S, ctrl)),  # Save current model
        (copies / "vaedesk", (Qt.Key.Key_S, ctrl)),  # saved as vaedesk.safetensors
    ]:
        dialogs.messages.clear()
        dialogs.save_file = str(target)
        key(window, *keys)
        assert len(dialogs.messages) == 1
        assert "a file vaedesk ships cannot be overwritten" in dialogs.messages[0]
        assert dialogs.messages[0].lower().count("choose another") <= 1, dialogs.messages[0]  # said once
    assert {p.name: p.read_bytes() for p in copies.iterdir()} == before


@pytest.mark.parametrize("typed", ["1e39 0", "0 -1e39", "3.5e38, 1"])
def test_go_to_a_point_beyond_float32_is_refused_and_hovering_goes_on(qtbot, window, typed):
    """A coordinate that is finite as typed but infinite in float32, the model's numbers,
    is refused in the status bar; the crosshair and the decoded digit stay, and the next
    hover decodes as before (it ended in a segmentation fault)."""
    vp = window.map.viewport().rect()
    # not where the previous test left the pointer: a move onto the same spot sends no event
    hover(qtbot, window, QPoint(vp.width() // 4, vp.height() // 4))
    cross, shown = window.map.crosshair(), window.decoder.image.copy()
    field = window.decoder.go_to
    field.clear()
    QTest.keyClicks(field, typed)
    QTest.keyClick(field, Qt.Key.Key_Return)
    assert window.statusBar().currentMessage() == "Go to: the coordinates must be finite numbers"
    assert window.map.crosshair() == cross
    np.testing.assert_array_equal(window.decoder.image, shown)
    target = QPoint(vp.width() // 2, vp.height() // 2)
    hover(qtbot, window, target)
    x, y = viewport_to_latent(window.map, target)
    expected = window.session.model.decode(np.float32([[x, y]]))[0]
    np.testing.assert_allclose(window.decoder.image, expected, atol=1e-5)
    assert np.isfinite(window.decoder.image).all()


def test_recent_models_shows_the_last_ten(qtbot, window, tmp_path):
    """A list of 10,000 remembered models stalled the menu for 1.4 s: Model > Recent models
    shows the ten newest that still exist, and saving keeps the stored list at ten."""
    real = []
    for i in range(12):
        (tmp_path / f"m{i}.safetensors").write_bytes(b"")
        real.append(str(tmp_path / f"m{i}.safetensors"))
    window.settings.store.setValue("recent_models", real + [f"/gone/{i}.safetensors" for i in range(10_000)])
    assert [a.text() for a in recent_menu(window).actions()] == real[:10]
    window.settings.add_recent(real[11])
    assert window.settings.store.value("recent_models") == [real[11], *real[:9]]


def test_zoomed_far_in_the_map_axes_keep_their_plain_names(qtbot, window):
    """The wheel over the origin zooms the map to a few hundredths of a unit, as on a
    collapsed model's map: the axes still read z\u2081 and z\u2082, with no SI scale
    ("z\u2081 (x0.001)" read as a typo)."""
    from PySide6.QtGui import QTextDocumentFragment, QWheelEvent

    from vaedesk.ui.selftest import map_to_viewport

    vp = window.map.viewport()
    origin = QPointF(map_to_viewport(window.map, 0.0, 0.0))
    for _ in range(60):
        event = QWheelEvent(
            origin,
            vp.mapToGlobal(origin),
            QPoint(0, 0),
            QPoint(0, 120),
            Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier,
            Qt.ScrollPhase.NoScrollPhase,
            False,
        )
        QApplication.sendEvent(vp, event)
    (x0, x1), _ = window.map.view.viewRange()
    assert max(abs(x0), abs(x1)) < 0.1  # where pyqtgraph would scale the ticks (milli)
    plot = window.map.getPlotItem()
    for side, name in (("bottom", "z\u2081"), ("left", "z\u2082")):
        shown = QTextDocumentFragment.fromHtml(plot.getAxis(side).labelString()).toPlainText()
        assert shown.strip() == name, shown
