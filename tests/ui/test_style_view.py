"""The Style view, the typicality readout and the morph GIF, through what the user does:
real mouse moves and clicks on the map, strokes on the pad, buttons and menu items."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt, QTimer
from PySide6.QtWidgets import QApplication, QSpinBox

from tests.ui.helpers import click, press
from vaedesk.core import style_session, typicality, weights
from vaedesk.core.api import Model, tile
from vaedesk.core.classify import Classifier
from vaedesk.core.evaluate import encode_means
from vaedesk.core.model import VAE, VAEConfig
from vaedesk.core.prior import line
from vaedesk.ui.selftest import drag, map_to_viewport, send_mouse, stroke_seven, viewport_to_latent


@pytest.fixture(scope="session")
def conditional_file(tmp_path_factory):
    """A seeded conditional model of 2-D styles, saved as a weights file (untrained: the
    view's wiring is tested here, the bundled model's quality in test_conditional.py)."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("conditional") / "conditional.safetensors"
    weights.save(path, VAE(VAEConfig(conditional=True, prior="normal")), {"note": "test"})
    return path


@pytest.fixture
def style_view(qtbot, window, conditional_file, monkeypatch):
    monkeypatch.setattr(style_session, "bundled_conditional", lambda: conditional_file)
    press(window, "view.style")
    view = window.style_view
    qtbot.waitExposed(view)
    view.resize(900, 800)
    view.activateWindow()  # the window the user moves the mouse in
    qtbot.wait(20)
    return view


def move(widget, pos: QPoint) -> None:
    """A mouse move over the widget, delivered to it (QTest's would reach the main window,
    which lies under the same screen position offscreen)."""
    send_mouse(widget, QEvent.Type.MouseMove, QPointF(pos), Qt.MouseButton.NoButton)


def press_and_release(widget, pos: QPoint | None = None) -> None:
    """A left click on the widget, delivered to it."""
    at, left = QPointF(pos if pos is not None else widget.rect().center()), Qt.MouseButton.LeftButton
    send_mouse(widget, QEvent.Type.MouseButtonPress, at, left, left)
    send_mouse(widget, QEvent.Type.MouseButtonRelease, at, Qt.MouseButton.NoButton, left)


def torch_vae(path) -> VAE:
    return weights.load(path)[0]  # the torch model: an independent path to the same numbers


def row_in(vae: VAE, style: np.ndarray) -> np.ndarray:
    """The style (2,) drawn as 0-9 by the torch model, tiled as the view shows it."""
    with torch.no_grad():
        z = torch.from_numpy(np.repeat(np.float32(style)[None], 10, axis=0))
        return tile(vae.decode(z, torch.arange(10))[:, 0].numpy(), 10)


def test_hovering_the_style_map_shows_that_style_as_all_ten_digits(qtbot, style_view, conditional_file):
    vae, vp = torch_vae(conditional_file), style_view.map.viewport()
    for pos in (QPoint(250, 200), QPoint(400, 300)):
        with qtbot.waitSignal(style_view.row_shown, timeout=10_000):
            move(vp, pos)
        style = np.float32(viewport_to_latent(style_view.map, pos))
        np.testing.assert_allclose(style_view.row_view.image, row_in(vae, style), atol=1e-4)
        assert f"({style[0]:+.2f}, {style[1]:+.2f})" in style_view.caption.text()


def test_clicking_a_test_image_shows_its_style_as_all_ten_digits(qtbot, style_view, window, conditional_file):
    vae, test = torch_vae(conditional_file), window.session.test
    styles, _ = encode_means(vae, test.images, labels=test.labels)
    i = 17
    pos = map_to_viewport(style_view.map, *styles[i])
    press_and_release(style_view.map.viewport(), pos)
    clicked = np.float32(viewport_to_latent(style_view.map, pos))
    nearest = int(np.argmin(((styles - clicked) ** 2).sum(axis=1)))
    np.testing.assert_allclose(style_view.row_view.image, row_in(vae, styles[nearest]), atol=1e-4)
    assert f"test image {nearest}, a {test.labels[nearest]}" in style_view.caption.text()


def test_drawing_on_the_pad_shows_your_style_as_all_ten_digits(qtbot, style_view, window, conditional_file):
    vae = torch_vae(conditional_file)
    with qtbot.waitSignal(style_view.row_shown, timeout=10_000):
        drag(window.drawing.pad, stroke_seven())
    seen = window.session.drawing.input  # the drawing as the model sees it
    read = int(Classifier.load().probabilities(seen)[0].argmax())
    style, _ = encode_means(vae, seen[None], labels=np.array([read]))
    np.testing.assert_allclose(style_view.row_view.image, row_in(vae, style[0]), atol=1e-4)
    assert f"your drawing a {read} (as the classifier reads it)" in style_view.caption.text()
    other = (read + 3) % 10
    with qtbot.waitSignal(style_view.row_shown, timeout=10_000):
        press_and_release(style_view.digit_button(other))
    style, _ = encode_means(vae, seen[None], labels=np.array([other]))
    np.testing.assert_allclose(style_view.row_view.image, row_in(vae, style[0]), atol=1e-4)
    assert f"your drawing a {other} (as you said)" in style_view.caption.text()
    x, y = style_view.map.drawn.getData()
    np.testing.assert_allclose([x[0], y[0]], style[0], atol=1e-4)


def test_the_row_of_ten_is_exported_as_a_png(qtbot, style_view, dialogs, tmp_path):
    with qtbot.waitSignal(style_view.row_shown, timeout=10_000):
        move(style_view.map.viewport(), QPoint(300, 250))
    dialogs.save_file = str(tmp_path / "row.png")
    press_and_release(style_view.export_button)
    with Image.open(tmp_path / "row.png") as im:
        saved = np.asarray(im.convert("L"), np.float64)
    assert saved.shape == (4 * 28, 4 * 28 * 10)
    shown = np.round(style_view.row_view.image * 255)
    np.testing.assert_allclose(saved[2::4, 2::4], shown, atol=40)  # bilinear upscaling's centres


def test_the_readout_says_how_typical_the_drawing_is_while_drawing(qtbot, window, model):
    with qtbot.waitSignal(window.typicality.measured, timeout=60000):
        drag(window.drawing.pad, stroke_seven())
    seen = window.session.drawing.input
    scale = typicality.Scale.measure(model, window.session.test.images)
    expected = typicality.typicality(model, seen, scale)
    assert window.typicality.text() == expected.describe()
    assert "more typical than" in window.typicality.text()
    with qtbot.waitSignal(window.typicality.measured, timeout=60000):
        drag(window.drawing.pad, [(60, 200), (220, 200)])  # a second stroke: measured again
    assert window.typicality.result.log_px == pytest.approx(
        typicality.typicality(model, window.session.drawing.input, scale).log_px, abs=1e-4
    )


def answer_gif_dialog(frames: int, duration: int) -> None:
    """Fill in the GIF dialog once it is open, and press OK, as a user would."""

    def fill() -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            QTimer.singleShot(20, fill)
            return
        dialog.findChild(QSpinBox, "frames").setValue(frames)
        dialog.findChild(QSpinBox, "duration").setValue(duration)
        dialog.accept()

    QTimer.singleShot(0, fill)


def test_a_morph_is_exported_as_an_animated_gif_of_its_frames(qtbot, window, model, dialogs, tmp_path):
    m = window.map
    a, b = QPoint(150, 200), QPoint(500, 400)
    click(qtbot, m.viewport(), a, Qt.KeyboardModifier.ShiftModifier)
    click(qtbot, m.viewport(), b, Qt.KeyboardModifier.ShiftModifier)
    za, zb = np.float32(viewport_to_latent(m, a)), np.float32(viewport_to_latent(m, b))
    dialogs.save_file = str(tmp_path / "morph.gif")
    answer_gif_dialog(frames=9, duration=150)
    press(window, "file.export_morph_gif")
    frames, durations = [], []
    with Image.open(tmp_path / "morph.gif") as gif:
        for i in range(gif.n_frames):
            gif.seek(i)
            frames.append(np.asarray(gif.convert("L"))[2::5, 2::5])
            durations.append(gif.info["duration"])
    expected = np.round(Model.load().decode(line(za, zb, 9)) * 255)
    assert len(frames) == 9 and durations == [150] * 9
    assert np.abs(np.stack(frames).astype(int) - expected).max() <= 1
