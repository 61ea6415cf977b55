"""Draw vaedesk's icon: a handwritten 7 over a latent-map scatter of ten digit clusters.

    .venv/bin/python assets/make_icon.py

writes vaedesk/resources/icons/hicolor/scalable/apps/vaedesk.svg and renders it with Qt's
QSvgRenderer to the PNG sizes of the freedesktop hicolor theme (16 to 256 pixels).
"""

from __future__ import annotations

import math
import os
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "vaedesk" / "resources" / "icons" / "hicolor"
SIZES = (16, 24, 32, 48, 64, 128, 256)
# matplotlib's tab10, the map's colours for the digits 0-9
COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)


def svg() -> str:
    rng = random.Random(7)
    dots = []
    for digit, colour in enumerate(COLOURS):
        angle = 2 * math.pi * digit / 10
        cx, cy = 128 + 62 * math.cos(angle), 128 + 62 * math.sin(angle)
        for _ in range(9):
            x, y = cx + rng.gauss(0, 11), cy + rng.gauss(0, 11)
            dots.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="7" fill="{colour}" fill-opacity="0.9"/>')
    return "\n".join(
        [
            '<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" viewBox="0 0 256 256">',
            "<title>vaedesk</title>",
            '<clipPath id="card"><rect x="8" y="8" width="240" height="240" rx="44"/></clipPath>',
            '<rect x="8" y="8" width="240" height="240" rx="44" fill="#202124"/>',
            '<g clip-path="url(#card)">',
            *dots,
            "</g>",
            # the digit: a dark outline under a white stroke, so it reads over any dot
            '<path d="M 66 70 C 110 62 160 60 192 64 C 160 110 128 160 108 204" fill="none"'
            ' stroke="#202124" stroke-width="40" stroke-linecap="round" stroke-linejoin="round"/>',
            '<path d="M 66 70 C 110 62 160 60 192 64 C 160 110 128 160 108 204" fill="none"'
            ' stroke="#ffffff" stroke-width="24" stroke-linecap="round" stroke-linejoin="round"/>',
            "</svg>",
            "",
        ]
    )


def main() -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QByteArray, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication([])  # noqa: F841
    text = svg()
    scalable = ROOT / "scalable" / "apps" / "vaedesk.svg"
    scalable.parent.mkdir(parents=True, exist_ok=True)
    scalable.write_text(text)
    renderer = QSvgRenderer(QByteArray(text.encode()))
    for size in SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        out = ROOT / f"{size}x{size}" / "apps" / "vaedesk.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        image.save(str(out))
        print(out)


if __name__ == "__main__":
    main()
