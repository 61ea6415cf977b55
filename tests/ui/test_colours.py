"""Colours a colour-blind user can tell apart, overlays that show on every cluster, and a
help text whose lines are whole sentences (issue 34, item 9). The colours are read from
what the window draws; the simulations and contrast ratios are computed here."""

from __future__ import annotations

import itertools

import numpy as np
from PySide6.QtCore import Qt

from tests.ui.helpers import key
from vaedesk.ui.selftest import drag, stroke_seven

# Machado, Oliveira and Fernandes (2009), severity 1.0, on linear RGB.
MACHADO = {
    "protanopia": [
        [0.152286, 1.052583, -0.204868],
        [0.114503, 0.786281, 0.099216],
        [-0.003882, -0.048116, 1.051998],
    ],
    "deuteranopia": [
        [0.367322, 0.860646, -0.227968],
        [0.280085, 0.672501, 0.047413],
        [-0.011820, 0.042940, 0.968881],
    ],
    "tritanopia": [
        [1.255528, -0.076749, -0.178779],
        [-0.078411, 0.930809, 0.147602],
        [0.004733, 0.691367, 0.303900],
    ],
}


def linear(rgb255) -> np.ndarray:
    c = np.asarray(rgb255[:3], np.float64) / 255
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def lab(lin: np.ndarray) -> np.ndarray:
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ lin
    f = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(f > 0.008856, np.cbrt(f), 7.787 * f + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def contrast(a, b) -> float:
    """WCAG 2 contrast ratio of two colours."""
    la, lb = sorted(float(np.dot([0.2126, 0.7152, 0.0722], linear(c))) for c in (a, b))
    return (lb + 0.05) / (la + 0.05)


def digit_colours(window) -> list[tuple[int, int, int]]:
    return [window.map.brushes[d].color().getRgb()[:3] for d in range(10)]


def test_the_digits_colours_stay_apart_for_colour_blind_eyes(window):
    colours = digit_colours(window)
    for name, matrix in [("normal vision", np.eye(3)), *MACHADO.items()]:
        seen = [lab(np.clip(np.array(matrix) @ linear(c), 0, 1)) for c in colours]
        closest = min(np.linalg.norm(a - b) for a, b in itertools.combinations(seen, 2))
        assert closest >= 15, f"two digits' colours are {closest:.1f} CIELAB units apart for {name}"


def test_the_drawings_ellipses_contrast_with_every_cluster(qtbot, window):
    m = window.map
    drag(window.drawing.pad, stroke_seven())
    qtbot.waitUntil(lambda: window.session.drawing is not None, timeout=2000)
    for curve in (m.sigma1, m.sigma2):
        ink = curve.opts["pen"].color().getRgb()
        halo = m.halos[curve]
        np.testing.assert_array_equal(halo.getData()[0], curve.getData()[0])  # the same ellipse
        assert halo.isVisible() and halo.zValue() < curve.zValue()  # under it
        assert halo.opts["pen"].widthF() > curve.opts["pen"].widthF()  # showing either side
        halo_rgb = halo.opts["pen"].color().getRgb()
        for d, colour in enumerate(digit_colours(window)):
            best = max(contrast(ink, colour), contrast(halo_rgb, colour))
            assert best >= 4.5, f"the ellipse contrasts {best:.1f}:1 with digit {d}'s colour"


def test_the_help_breaks_no_sentence(window, dialogs):
    key(window, Qt.Key.Key_F1)
    text = dialogs.messages[-1]
    assert "Hover over the map" in text
    prose, _, keys = text.partition("\n\nKeys:\n")
    for line in prose.splitlines():
        assert not line or line.endswith((".", ":")), f"a line ends mid-sentence: {line!r}"
    assert "Decoded-digit field: F" in keys.splitlines()
