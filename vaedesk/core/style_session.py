"""What the Style view shows, without the window: a conditional model's map of the test
set's styles, and one style drawn as all ten digits.

The style comes from the point under the cursor, from a clicked test image (its style,
encoded with its own digit) or from the user's drawing (encoded with the digit the
classifier reads in it, or the one the user picks). Every change of style is one batched
decode of ten. An evented dataclass (psygnal), as `vaedesk.core.session.Session`: the
view subscribes to `row`, `caption`, `style` and `digit`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from psygnal import evented

from vaedesk.core import paths, preprocess
from vaedesk.core.api import Model, tile
from vaedesk.core.config import DIGITS

if TYPE_CHECKING:
    from vaedesk.core.classify import Classifier

CONDITIONAL_WEIGHTS = "conditional.safetensors"  # the bundled conditional model, beside vaedesk's


def bundled_conditional() -> Path:
    return paths.weights_dir() / CONDITIONAL_WEIGHTS


def _same(a: object, b: object) -> bool:
    return a is b


@evented(equality_operators={"row": _same, "style": _same, "model": _same, "drawn": _same})
@dataclass(eq=False)
class StyleSession:
    model: Model  # conditional, 2-D style latent
    images: np.ndarray  # the test set (N, 28, 28) uint8
    labels: np.ndarray  # (N,)
    styles: np.ndarray = field(default=None)  # type: ignore[arg-type]  # (N, 2), each with its digit
    row: np.ndarray | None = None  # (10, 28, 28): the style drawn as 0-9
    style: np.ndarray | None = None  # (2,)
    caption: str = ""
    digit: int | None = None  # the drawing's digit as the user picked it; None: as read
    drawn: tuple[np.ndarray, np.ndarray] | None = None  # the drawing's style: mean and sigma (2,)

    def __post_init__(self) -> None:
        if not self.model.conditional or self.model.config.latent_dim != 2:
            raise ValueError(f"{self.model.name}: the Style view needs a conditional model of 2-D styles")
        if self.styles is None:
            self.styles = self.model.encode(self.images, self.labels.astype(np.int64))[0]
        self._drawing: np.ndarray | None = None  # the drawing as the model sees it (28, 28)
        self._read: int | None = None  # the digit the classifier reads in it

    def draw_all(self, style: np.ndarray) -> np.ndarray:
        """One style (2,) -> the ten digits drawn in it, (10, 28, 28): one decode of ten."""
        z = np.repeat(np.asarray(style, np.float32).reshape(1, -1), DIGITS, axis=0)
        return self.model.decode(z, np.arange(DIGITS))

    def _show(self, style: np.ndarray, caption: str) -> None:
        self.style = np.asarray(style, np.float32)
        self.row = self.draw_all(self.style)
        self.caption = caption

    def hover(self, x: float, y: float) -> None:
        """The cursor is at style (x, y) on the map."""
        self._show(np.array([x, y], np.float32), f"the style at ({x:+.2f}, {y:+.2f})")

    def nearest(self, x: float, y: float) -> int:
        return int(np.argmin(((self.styles - np.array([x, y], np.float32)) ** 2).sum(axis=1)))

    def pick_test_image(self, x: float, y: float) -> int:
        """A click at (x, y): the nearest test image's style; returns its index."""
        i = self.nearest(x, y)
        self._show(self.styles[i], f"the style of test image {i}, a {int(self.labels[i])}")
        return i

    def use_drawing(self, mnist_like: np.ndarray | None, read: int | None) -> None:
        """The user's drawing as the model sees it (None: the pad was cleared) and the digit
        the classifier reads in it (None without a classifier)."""
        self._drawing, self._read = mnist_like, read
        if mnist_like is None:
            self.drawn = None
        self._show_drawing()

    def choose_digit(self, digit: int | None) -> None:
        """The drawing's digit as the user says (0-9), or as the classifier reads it (None)."""
        self.digit = digit
        self._show_drawing()

    def _show_drawing(self) -> None:
        if self._drawing is None:
            return
        digit = self.digit if self.digit is not None else self._read
        if digit is None:
            self.caption = "pick the digit you drew: no classifier reads it"
            return
        mu, logvar = self.model.encode(self._drawing, digit)
        self.drawn = (mu[0], np.exp(0.5 * logvar[0]))
        how = "as you said" if self.digit is not None else "as the classifier reads it"
        self._show(mu[0], f"your style, your drawing a {digit} ({how})")

    def row_png(self, scale: int = 4) -> bytes | None:
        """The ten digits side by side as a PNG, or None before any style was shown."""
        if self.row is None:
            return None
        strip = tile(self.row, DIGITS)
        return preprocess.to_png_bytes(strip, scale * strip.shape[1])


def read_digit(classifier: Classifier | None) -> Callable[[np.ndarray], int | None]:
    """The digit a classifier (`vaedesk.core.classify.Classifier`) reads in a (28, 28)
    image, or a function that always says None without one."""
    if classifier is None:
        return lambda image: None
    return lambda image: int(classifier.probabilities(image)[0].argmax())
