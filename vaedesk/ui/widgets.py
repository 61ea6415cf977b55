"""Small widgets: a digit shown large, an image beside its reconstruction, and the drawing pad."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPainterPath, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QScrollArea, QSizePolicy, QWidget


def number(x: float, spec: str = "+.2f") -> str:
    """One coordinate for a caption; a typed one far out (3e38 is finite in float32) in
    three figures and a power of ten, not the 39 digits that `spec` would write."""
    return format(x, spec) if abs(x) < 1e6 else format(x, "+.3g")


def numbers(v: np.ndarray, spec: str = "+.2f") -> str:
    """A latent vector for a caption: every value up to 3 dimensions, else the first two
    and the size: "(+0.12, -1.05)", "(+0.12, -1.05, \u2026 20 dimensions)"."""
    shown = ", ".join(number(float(x), spec) for x in v[: len(v) if len(v) <= 3 else 2])
    return f"({shown})" if len(v) <= 3 else f"({shown}, \u2026 {len(v)} dimensions)"


def scrolling(content: QWidget) -> QScrollArea:
    """`content` in a frameless area that scrolls up and down when the window is too short
    for it (a docked training panel takes 300 pixels), rather than squeezing its widgets
    onto each other; it keeps the content's width, scroll bar included."""
    area = QScrollArea()
    area.setWidget(content)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setFixedWidth(content.sizeHint().width() + area.verticalScrollBar().sizeHint().width())
    return area


def reserve_lines(label: QLabel, lines: int) -> None:
    """Keep room for this many lines of a wrapping label: a caption that grows from one
    line to two after the layout has settled is otherwise squeezed onto the widgets
    around it (seen under Xvfb with a 20-D model's caption)."""
    label.setMinimumHeight(lines * label.fontMetrics().lineSpacing() + 2)
    label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)  # a short one sits on top


def gray_qimage(image: np.ndarray) -> QImage:
    """A float [0, 1] or uint8 2-D array as an 8-bit grayscale QImage (a copy)."""
    if image.dtype != np.uint8:
        image = (np.clip(image, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
    image = np.ascontiguousarray(image)
    h, w = image.shape
    return QImage(image.data, w, h, w, QImage.Format.Format_Grayscale8).copy()


class DigitView(QWidget):
    """A 28 x 28 (or tiled) image shown large with smooth scaling; white ink on black.

    The small image is kept and scaled as it is painted (bilinear, by the painter): the
    same pixels as scaling it to a pixmap first, in 0.17 ms against 0.35 ms a hover."""

    def __init__(self, side: int = 280, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.side = side
        self.image: np.ndarray | None = None  # what is shown, as given
        self._qimage: QImage | None = None
        self.setFixedSize(side, side)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)  # it paints every pixel

    def set_image(self, image: np.ndarray) -> None:
        self.image = image
        self._qimage = gray_qimage(image)
        self.update()

    def clear_image(self) -> None:
        self.image, self._qimage = None, None
        self.update()

    def _target(self) -> QRectF:
        """Where the image goes: as large as fits, keeping its aspect ratio, centred."""
        inner = QRectF(self.rect()).adjusted(1, 1, -1, -1)  # inside the border
        w, h = self._qimage.width(), self._qimage.height()
        scale = min(inner.width() / w, inner.height() / h)
        return QRectF(0, 0, w * scale, h * scale).translated(
            inner.center().x() - w * scale / 2, inner.center().y() - h * scale / 2
        )

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#444"))
        painter.fillRect(self.rect().adjusted(1, 1, -1, -1), Qt.GlobalColor.black)
        if self._qimage is not None:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(self._target(), self._qimage)

    def pixmap(self) -> QPixmap:
        """What is shown, scaled to the view's side (what Edit › Copy digit copies); a null
        pixmap when nothing is."""
        if self._qimage is None:
            return QPixmap()
        return QPixmap.fromImage(
            self._qimage.scaled(
                self.side,
                self.side,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return QSize(self.side, self.side)


def digit_pair(grid: QGridLayout, caption: str, side: int) -> tuple[DigitView, DigitView]:
    """An image and its reconstruction side by side, captioned, in rows 0-1 of `grid`."""
    image, recon = DigitView(side), DigitView(side)
    grid.addWidget(QLabel(caption), 0, 0)
    grid.addWidget(QLabel("reconstruction"), 0, 1)
    grid.addWidget(image, 1, 0)
    grid.addWidget(recon, 1, 1)
    return image, recon


class DrawingPad(QWidget):
    """Draw a digit with the mouse: a round, soft brush, undo of the last stroke, clear.

    White ink on black, like MNIST. `changed` fires on every change; the window throttles
    its encoding. Strokes are kept as point lists so undo can redraw the rest exactly.
    """

    changed = Signal(bool)  # True when a stroke has just ended (or the pad was replaced)

    BRUSH = 22.0  # px on the 280 px pad: about 2.2 MNIST pixels, like a pen stroke in MNIST

    def __init__(self, side: int = 280, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.side = side
        self.setFixedSize(side, side)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setToolTip("Draw a digit with the left mouse button")
        self.strokes: list[list[QPointF]] = []
        self._picture: QImage | None = None  # an opened picture, drawn under the strokes
        self._drawing = False
        self._canvas = QImage(side, side, QImage.Format.Format_Grayscale8)
        self._render()

    def is_empty(self) -> bool:
        return not self.strokes and self._picture is None

    def set_picture(self, ink: np.ndarray) -> None:
        """Start from a picture (ink in [0, 1]), fitted into the pad; strokes draw over it."""
        self.strokes.clear()
        scaled = gray_qimage(ink).scaled(
            self.side,
            self.side,
            Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
        self._picture = scaled
        self._render()
        self.changed.emit(True)

    def ink(self) -> np.ndarray:
        """The canvas as float32 (side, side) ink in [0, 1]."""
        ptr = self._canvas.constBits()
        arr = np.frombuffer(ptr, dtype=np.uint8).reshape(self.side, self._canvas.bytesPerLine())
        return arr[:, : self.side].astype(np.float32) / 255.0

    def clear(self) -> None:
        self.strokes.clear()
        self._picture = None
        self._render()
        self.changed.emit(True)

    def undo(self) -> None:
        if self.strokes:
            self.strokes.pop()
            self._render()
            self.changed.emit(True)

    def _render(self) -> None:
        self._canvas.fill(0)
        painter = QPainter(self._canvas)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if self._picture is not None:
            painter.drawImage(
                (self.side - self._picture.width()) // 2,
                (self.side - self._picture.height()) // 2,
                self._picture,
            )
        # Ink only adds: strokes over a picture lighten it, as a pen on paper darkens it.
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Lighten)
        for points in self.strokes:
            path = QPainterPath(points[0])
            for p in points[1:]:
                path.lineTo(p)
            if len(points) == 1:  # a dot
                path.lineTo(points[0] + QPointF(0.1, 0))
            # A soft edge: wider, fainter strokes under the full one, like ink bleeding.
            for width, gray in ((1.5, 50), (1.35, 100), (1.2, 170), (1.0, 255)):
                width *= self.BRUSH
                pen = QPen(
                    QColor(gray, gray, gray),
                    width,
                    Qt.PenStyle.SolidLine,
                    Qt.PenCapStyle.RoundCap,
                    Qt.PenJoinStyle.RoundJoin,
                )
                painter.strokePath(path, pen)
        painter.end()
        self.update()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self._drawing = True
            self.strokes.append([event.position()])
            self._render()
            self.changed.emit(False)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._drawing and event.buttons() & Qt.MouseButton.LeftButton:
            self.strokes[-1].append(event.position())
            self._render()
            self.changed.emit(False)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._drawing and event.button() == Qt.MouseButton.LeftButton:
            self._drawing = False
            self.changed.emit(True)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.drawImage(QRectF(0, 0, self.side, self.side), self._canvas)
        if self.is_empty():
            painter.setPen(QColor(120, 120, 120))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "draw a digit here")
        painter.end()


class StatusLine(QLabel):
    """A status line that wraps, and whose whole text is also its tooltip: reachable even
    where a short panel leaves it fewer lines than it needs."""

    def __init__(self, text: str = "") -> None:
        super().__init__()
        self.setWordWrap(True)
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802
        super().setText(text)
        self.setToolTip(text)
