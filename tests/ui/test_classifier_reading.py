"""What the digit classifier shows in the window (issue 10): the reading under the
decoded digit and under the drawing, the nearest real test digits, the classifier's
regions on the map, and the "go to z" field. The classifier is run here directly and the
neighbours found by brute force, independently of the window's code."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from tests.ui.helpers import click, hover, key, wheel
from vaedesk.core.classify import Classifier
from vaedesk.ui.latent_map import PALETTE
from vaedesk.ui.selftest import drag, stroke_seven, viewport_to_latent
from vaedesk.ui.workers import Task

CLASSIFIER = Classifier.load()


def test_hover_reads_the_decoded_digit_and_shows_its_nearest_test_digits(qtbot, window, model):
    pos = QPoint(window.map.viewport().width() // 2, window.map.viewport().height() // 3)
    hover(qtbot, window, pos)
    z = np.float32(viewport_to_latent(window.map, pos))
    p = CLASSIFIER.probabilities(model.decode(z))[0]
    first, second = np.argsort(p)[::-1][:2]
    text = window.decoder.reading.text()
    assert text.startswith(f"looks like a {first} ({100 * p[first]:.0f} %)") and f"a {second} (" in text
    test = window.session.test
    nearest = np.argsort(((test.mu - z) ** 2).sum(axis=1), kind="stable")[:8]
    expected = test.images[nearest] / np.float32(255)

    def shown() -> bool:  # searched once the cursor has rested
        images = window.decoder.neighbour_images
        return (
            images is not None and images.shape == expected.shape and np.allclose(images, expected, atol=1e-6)
        )

    qtbot.waitUntil(shown, timeout=2000)
    assert not window.decoder.neighbours.pixmap().isNull()


def test_the_nearest_test_digits_leave_out_the_digits_hidden_in_the_legend(qtbot, window, model):
    """Rest the cursor on the map, then click, in the legend, the digit most of its
    nearest test digits are: the strip shows at once the nearest of the digits still
    shown, none of them that digit; click it again and they come back."""
    m, test = window.map, window.session.test
    pos = QPoint(m.viewport().width() * 2 // 5, m.viewport().height() // 2)
    hover(qtbot, window, pos)
    z = np.float32(viewport_to_latent(m, pos))
    d2 = ((test.mu - z) ** 2).sum(axis=1)

    def expected(without: set[int]) -> np.ndarray:
        order = np.argsort(np.where(np.isin(test.labels, list(without)), np.inf, d2), kind="stable")
        return test.images[order[:8]] / np.float32(255)

    def strip_is(images: np.ndarray) -> bool:
        got = window.decoder.neighbour_images
        return got is not None and got.shape == images.shape and np.allclose(got, images, atol=1e-6)

    qtbot.waitUntil(lambda: strip_is(expected(set())), timeout=2000)
    labels = test.labels[np.argsort(d2, kind="stable")[:8]]
    digit = int(np.bincount(labels).argmax())
    assert (labels == digit).sum() >= 2  # hiding it changes the strip
    label = m.legend.items[digit][1]
    click(qtbot, m.viewport(), m.mapFromScene(label.sceneBoundingRect().center()))
    assert digit in window.session.hidden_digits
    assert strip_is(expected({digit}))  # at once, without moving the cursor
    click(qtbot, m.viewport(), m.mapFromScene(label.sceneBoundingRect().center()))
    assert strip_is(expected(set()))


def test_the_drawing_says_what_the_classifier_reads(qtbot, window):
    drag(window.drawing.pad, stroke_seven())
    qtbot.waitUntil(lambda: window.session.drawing is not None, timeout=2000)
    p = CLASSIFIER.probabilities(window.drawing.input_view.image)[0]
    assert f"looks like a {p.argmax()} ({100 * p.max():.0f} %)" in window.drawing.info.text()


def test_the_classifier_regions_colour_the_plane_by_the_decoded_digit(qtbot, window, model):
    m = window.map
    with qtbot.waitSignal(m.regions_shown, timeout=5000):  # coloured in a worker thread
        key(window, Qt.Key.Key_G)
    assert m.regions.isVisible() and m.regions.zValue() < m.points.zValue()
    rgba = m.regions.image  # (cells, cells, 4), row 0 at the bottom of the view
    (x0, x1), (y0, y1) = m.view.viewRange()
    cells = rgba.shape[0]
    checked = 0
    for row, col in [(r, c) for r in range(0, cells, 7) for c in range(0, cells, 7)]:
        z = np.float32([x0 + (col + 0.5) * (x1 - x0) / cells, y0 + (row + 0.5) * (y1 - y0) / cells])
        p = CLASSIFIER.probabilities(model.decode(z))[0]
        if p.max() > 0.95:  # sure: the digit's own colour
            colour = np.array(pg.mkColor(PALETTE[p.argmax()]).getRgb()[:3])
            assert np.abs(rgba[row, col, :3].astype(int) - colour).max() <= 12, (row, col, p.argmax())
            checked += 1
    assert checked >= 10
    before = rgba.copy()
    m.view.setRange(xRange=(0, 0.5), yRange=(0, 0.5), padding=0)  # follows the view
    qtbot.waitUntil(lambda: not np.array_equal(m.regions.image, before), timeout=5000)
    qtbot.waitUntil(lambda: not m._regions_task.is_running(), timeout=5000)
    rect = m.regions.mapRectToParent(m.regions.boundingRect())
    (x0, x1), (y0, y1) = m.view.viewRange()
    assert (rect.left(), rect.right(), rect.top(), rect.bottom()) == pytest.approx((x0, x1, y0, y1), abs=1e-6)
    for i in range(5):  # each view change makes a task; the finished ones are freed
        with qtbot.waitSignal(m.regions_shown, timeout=5000):
            m.view.setRange(xRange=(0, 1 + i), yRange=(0, 1 + i), padding=0)
    qtbot.wait(100)
    assert len(m.findChildren(Task)) <= 2
    key(window, Qt.Key.Key_G)
    assert not m.regions.isVisible()


def test_a_point_typed_far_out_is_captioned_in_a_few_figures(qtbot, window):
    """'3e38 -3e38' is finite in float32 and goes there; the caption and the status bar
    said it in 39 digits each ('+300000000054977557577780399428114527...'), cut off."""
    field = window.decoder.go_to
    click(qtbot, field)
    QTest.keyClicks(field, "3e38 -3e38")
    QTest.keyClick(field, Qt.Key.Key_Return)
    caption, status = window.decoder.caption.text(), window.statusBar().currentMessage()
    assert caption == "decoded at z = (+3e+38, -3e+38)"
    assert status == "z = (+3e+38, -3e+38)"


def test_typing_coordinates_goes_there(qtbot, window, model):
    field = window.decoder.go_to
    click(qtbot, field)
    assert field.hasFocus()
    QTest.keyClicks(field, "0.5, -1.25")
    QTest.keyClick(field, Qt.Key.Key_Return)
    np.testing.assert_allclose(window.decoder.image, model.decode([0.5, -1.25])[0], atol=1e-5)
    assert window.map.crosshair() == (0.5, -1.25)
    assert not field.hasFocus()  # given back: the map's one-letter shortcuts work again
    click(qtbot, field)
    field.selectAll()
    QTest.keyClicks(field, "1 2 3")
    QTest.keyClick(field, Qt.Key.Key_Return)
    assert "type 2 numbers" in window.statusBar().currentMessage()
    np.testing.assert_allclose(window.decoder.image, model.decode([0.5, -1.25])[0], atol=1e-5)  # unchanged


def test_closing_the_window_while_the_regions_are_coloured_waits_for_them(qtbot, window):
    key(window, Qt.Key.Key_G)
    task = window.map._regions_task
    assert task is not None and task.is_running()  # the GUI thread did not wait for it
    window.map.view.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
    qtbot.wait(100)  # the view changed while it ran: it would start again at its end
    window.close()
    assert task.thread.isFinished()  # close waited for it: nothing runs on into a closed window
    qtbot.wait(300)
    assert window.map._regions_task is task  # and no task started after the close


def test_the_classifier_regions_follow_a_newly_opened_model(qtbot, window, dialogs, tmp_path):
    from vaedesk.core import weights
    from vaedesk.core.model import VAE, VAEConfig

    m = window.map
    with qtbot.waitSignal(m.regions_shown, timeout=5000):
        key(window, Qt.Key.Key_G)
    with qtbot.waitSignal(m.regions_shown, timeout=5000):  # the user zooms: the new model keeps it
        wheel(m.viewport(), m.viewport().rect().center())
    qtbot.wait(300)  # any further recolouring of this view ends
    view, before = m.view.viewRange(), m.regions.image.copy()
    other = tmp_path / "untrained.safetensors"
    weights.save(other, VAE(VAEConfig(arch="mlp")), {})
    dialogs.open_file = str(other)
    with qtbot.waitSignal(m.regions_shown, timeout=5000):  # recoloured without moving the view
        key(window, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert window.session.model.path == other
    assert m.view.viewRange() == view
    assert not np.array_equal(m.regions.image, before)


def test_regions_shown_again_come_back_at_once_and_never_from_another_model(qtbot, window, dialogs, tmp_path):
    from vaedesk.core import weights
    from vaedesk.core.model import VAE, VAEConfig

    m = window.map
    with qtbot.waitSignal(m.regions_shown, timeout=5000):
        key(window, Qt.Key.Key_G)
    qtbot.waitUntil(lambda: not m._regions_task.is_running(), timeout=5000)
    task, before = m._regions_task, m.regions.image.copy()
    key(window, Qt.Key.Key_G)  # off, then on over the same view of the same model:
    with qtbot.waitSignal(m.regions_shown, timeout=200):
        key(window, Qt.Key.Key_G)
    assert m._regions_task is task and np.array_equal(m.regions.image, before)  # not recoloured

    key(window, Qt.Key.Key_G)  # off; another model opens meanwhile
    other = tmp_path / "untrained.safetensors"
    weights.save(other, VAE(VAEConfig(arch="mlp")), {})
    dialogs.open_file = str(other)
    key(window, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert window.session.model.path == other
    with qtbot.waitSignal(m.regions_shown, timeout=5000):
        key(window, Qt.Key.Key_G)
        assert m.regions.isVisible() and m.regions.image is None  # the old colours are not shown
    assert m._regions_task is not task
    assert not np.array_equal(m.regions.image, before)  # the new model's colours
