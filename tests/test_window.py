"""The explorer window, driven through its real widgets with pytest-qt (offscreen)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox

from vaedesk import load_model
from vaedesk.core import preprocess
from vaedesk.ui.app import configure
from vaedesk.ui.main_window import MORPH_STEPS, MainWindow
from vaedesk.ui.selftest import drag, map_to_viewport, stroke_seven, viewport_to_latent


@pytest.fixture(scope="session")
def model():
    configure()
    return load_model()  # the bundled weights


def make_window(qtbot, model, data_dir) -> MainWindow:
    w = MainWindow(model, str(data_dir))
    qtbot.addWidget(w)
    w.resize(1400, 850)
    w.show()
    qtbot.waitExposed(w)
    qtbot.wait(20)  # let the layout settle before positions are mapped
    return w


@pytest.fixture
def window(qtbot, model, mnist_dir):
    return make_window(qtbot, model, mnist_dir)


def hover(qtbot, w, pos: QPoint) -> None:
    with qtbot.waitSignal(w.hover_decoded, timeout=2000):
        QTest.mouseMove(w.map.viewport(), pos)


def test_hover_shows_what_decode_returns_for_that_point(qtbot, window, model):
    vp = window.map.viewport().rect()
    shown = []
    for pos in (QPoint(vp.width() // 3, vp.height() // 3), QPoint(2 * vp.width() // 3, vp.height() // 2)):
        hover(qtbot, window, pos)
        z = np.array(viewport_to_latent(window.map, pos), np.float32)
        np.testing.assert_allclose(window.decoder_view.image, model.decode(z)[0], atol=1e-5)
        assert window.decoder_view.pixmap().width() == 280
        assert f"{z[0]:+.3f}" in window.coords_label.text()
        shown.append(window.decoder_view.image)
    assert np.abs(shown[0] - shown[1]).mean() > 0.01  # the digit changed


def test_a_burst_of_moves_decodes_only_the_latest(qtbot, window, model):
    decodes = []
    window.hover_decoded.connect(lambda: decodes.append(window.hover_z.copy()))
    for i in range(50):
        window.hover_at(-1 + 0.04 * i, 0.5)
    qtbot.waitUntil(lambda: len(decodes) > 0, timeout=2000)
    qtbot.wait(50)
    assert len(decodes) == 1
    np.testing.assert_allclose(decodes[0], [-1 + 0.04 * 49, 0.5], atol=1e-6)
    np.testing.assert_allclose(window.decoder_view.image, model.decode(decodes[0])[0], atol=1e-5)


def test_click_selects_the_nearest_test_point(qtbot, window):
    m = window.map
    (x0, x1), (y0, y1) = m.view.viewRange()
    target = m.nearest_point((x0 + x1) / 2, (y0 + y1) / 2)
    pos = map_to_viewport(m, *m.mu[target]) + QPoint(2, 1)  # a little off the point
    qtbot.mouseClick(m.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    expected = m.nearest_point(*viewport_to_latent(m, pos))
    assert window.selected == expected
    np.testing.assert_array_equal(window.sel_image.image, window.test.images[expected] / np.float32(255))
    assert window.sel_recon.image is not None
    assert f"digit {window.test.labels[expected]}" in window.sel_info.text()
    sx, sy = m.selection.getData()
    np.testing.assert_allclose([sx[0], sy[0]], m.mu[expected])
    QTest.keyClick(window, Qt.Key.Key_Right)
    assert window.selected == expected + 1
    window.index_box.setValue(1234)
    assert window.selected == 1234 and str(1234) in window.sel_info.text()


def test_drawing_is_encoded_where_encode_puts_it(qtbot, window, model):
    drag(window.pad, stroke_seven())
    qtbot.waitUntil(lambda: window.drawing_mu is not None, timeout=2000)
    mu, logvar = model.encode(preprocess.to_mnist(window.pad.ink()))
    x, y = window.map.drawn.getData()
    np.testing.assert_allclose([x[0], y[0]], mu[0], atol=1e-5)
    ex, ey = window.map.sigma1.getData()
    sigma = np.exp(0.5 * logvar[0])
    np.testing.assert_allclose([ex.max() - mu[0, 0], ey.max() - mu[0, 1]], sigma, rtol=0.01)
    ex2, _ = window.map.sigma2.getData()
    assert ex2.max() - mu[0, 0] == pytest.approx(2 * sigma[0], rel=0.01)
    np.testing.assert_allclose(window.pad_recon.image, model.decode(mu)[0], atol=1e-5)
    assert window.pad_input.image.shape == (28, 28)

    drag(window.pad, [(100, 200), (200, 200)])  # a second stroke moves the encoding
    qtbot.waitUntil(lambda: len(window.trail) >= 2, timeout=2000)
    tx, _ = window.map.trail.getData()
    assert len(tx) == len(window.trail) >= 2
    window.undo_button.click()
    qtbot.waitUntil(lambda: len(window.pad.strokes) == 1, timeout=1000)
    window.clear_button.click()
    assert window.pad.is_empty() and window.drawing_mu is None
    assert len(window.map.drawn.getData()[0]) == 0  # the marker is gone
    trail_x = window.map.trail.getData()[0]
    assert trail_x is None or len(trail_x) == 0  # and so is the trail


def test_empty_canvas_shows_nothing_and_raises_nothing(qtbot, window):
    window.encode_drawing()
    assert window.drawing_mu is None and window.pad_recon.image is None
    assert len(window.map.drawn.getData()[0]) == 0


def test_legend_click_hides_a_digit(qtbot, window):
    m = window.map
    sample, label = m.legend.items[3]
    assert label.text == "3"
    center = sample.sceneBoundingRect().center()
    pos = m.mapFromScene(center)
    qtbot.mouseClick(m.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert not m.digits[3].isVisible() and all(m.digits[d].isVisible() for d in range(10) if d != 3)
    assert window.selected is None  # a legend click is not a map click
    threes = np.flatnonzero(m.labels == 3)
    picked = m.nearest_point(*m.mu[threes[0]])
    assert m.labels[picked] != 3  # hidden points cannot be picked
    qtbot.mouseClick(m.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert m.digits[3].isVisible()


def test_no_data_start_still_decodes_on_hover(qtbot, model, tmp_path):
    w = make_window(qtbot, model, tmp_path)
    assert w.banner.isVisible() and "MNIST test set" in w.banner.message.text()
    assert not w.map.has_points()
    pos = QPoint(w.map.viewport().width() // 2, w.map.viewport().height() // 2)
    hover(qtbot, w, pos)
    z = np.array(viewport_to_latent(w.map, pos), np.float32)
    np.testing.assert_allclose(w.decoder_view.image, model.decode(z)[0], atol=1e-5)
    drag(w.pad, stroke_seven())
    qtbot.waitUntil(lambda: w.drawing_mu is not None, timeout=2000)
    assert "looks like" not in w.pad_info.text()  # no test set, no guess


def test_download_from_the_window(qtbot, model, tmp_path, monkeypatch, mnist_dir):
    from tests.test_data import Server
    from vaedesk.core import data

    server = Server("ok", mnist_dir)
    try:
        monkeypatch.setattr(data, "MIRRORS", (server.url,))
        w = make_window(qtbot, model, tmp_path / "mnist")
        w.banner.download.click()
        assert w.banner.progress.isVisible()
        qtbot.waitUntil(lambda: w.map.has_points(), timeout=60000)
        assert not w.banner.isVisible() and len(w.map.mu) == 10000
    finally:
        server.close()


def test_morph_between_two_shift_clicks(qtbot, window, model, tmp_path):
    m = window.map
    a, b = QPoint(150, 200), QPoint(500, 400)
    for pos in (a, b):
        qtbot.mouseClick(m.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, pos)
    assert window.selected is None  # shift-click morphs, it does not select
    px, py = m.morph_path.getData()
    assert len(px) == MORPH_STEPS
    np.testing.assert_allclose([px[0], py[0]], viewport_to_latent(m, a), atol=1e-4)
    qtbot.waitUntil(lambda: not window._morph_timer.isActive(), timeout=5000)
    np.testing.assert_allclose(window.decoder_view.image, model.decode([px[-1], py[-1]])[0], atol=1e-5)
    window.export_morph_strip(str(tmp_path / "strip.png"))
    with Image.open(tmp_path / "strip.png") as im:
        assert im.size == (3 * 28 * 12, 3 * 28)


def test_great_circle_morph_keeps_its_norm_between_ends(qtbot, window):
    window.great_circle_action.setChecked(True)
    window.start_morph(np.float32([2, 0]), np.float32([0, 2]))
    px, py = window.map.morph_path.getData()
    np.testing.assert_allclose(np.hypot(px, py), 2, atol=1e-4)


def test_sample_and_exports(qtbot, window, tmp_path):
    window.sample_prior()
    assert len(window.map.samples.getData()[0]) == 16
    assert window.decoder_view.image.shape == (112, 112)
    window.export_digit(str(tmp_path / "digit.png"))
    window.export_map(str(tmp_path / "map.png"))
    with Image.open(tmp_path / "digit.png") as im:
        assert im.size == (1120, 1120)
    with Image.open(tmp_path / "map.png") as im:
        assert im.size[0] > 300 and im.size[1] > 300
    assert sorted(p.name for p in tmp_path.iterdir()) == ["digit.png", "map.png"]


def test_field_layer_covers_the_view_and_follows_it(qtbot, window):
    window.field_action.setChecked(True)
    img = window.map.field.image
    assert img is not None and img.shape[0] % 28 == 0 and img.shape[1] % 28 == 0
    before = img.copy()
    window.map.view.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
    qtbot.waitUntil(
        lambda: (
            window.map.field.image.shape != before.shape or not np.array_equal(window.map.field.image, before)
        ),
        timeout=2000,
    )
    rect = window.map.field.mapRectToParent(window.map.field.boundingRect())
    assert rect.left() == pytest.approx(window.map.view.viewRange()[0][0], abs=1e-6)
    window.circles_action.setChecked(True)
    assert all(c.isVisible() for c in window.map.circles)


def test_open_image_encodes_it_and_refuses_an_empty_one(qtbot, window, tmp_path, monkeypatch):
    from PIL import ImageDraw

    img = Image.new("L", (100, 140), 255)
    ImageDraw.Draw(img).ellipse([20, 20, 80, 120], outline=0, width=10)
    img.save(tmp_path / "zero.png")
    assert window.load_picture(str(tmp_path / "zero.png"))
    assert window.drawing_mu is not None
    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: warnings.append(a[2]))
    Image.new("L", (50, 50), 255).save(tmp_path / "blank.png")
    assert not window.load_picture(str(tmp_path / "blank.png"))
    assert "empty" in warnings[0] and window.drawing_mu is not None  # the old drawing stays


def test_rapid_real_moves_end_on_the_resting_position(qtbot, window, model):
    """pyqtgraph's scene drops moves closer than 10 ms apart; the window must not."""
    vp = window.map.viewport()
    for i in range(30):  # far faster than 100 moves per second
        QTest.mouseMove(vp, QPoint(200 + 7 * i, 150 + 5 * i))
    rest = QPoint(200 + 7 * 29, 150 + 5 * 29)
    qtbot.waitUntil(lambda: window._pending_hover is None, timeout=2000)
    z = np.array(viewport_to_latent(window.map, rest), np.float32)
    np.testing.assert_allclose(window.hover_z, z, atol=1e-5)
    np.testing.assert_allclose(window.decoder_view.image, model.decode(z)[0], atol=1e-5)
