"""What the window shows, without the window: the current model, the encoded test set,
the selection, the drawing and its trail, the morph and the prior samples, and the
plane of the latent space the map shows (`vaedesk.core.plane`). Latent points are kept
in the model's D dimensions; `on_map` and `latent_at` convert to and from the map.

A `Session` holds that state and its operations and imports no Qt, so every behaviour
behind a click can be driven and tested with no display. The window's panels show what
its methods return.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vaedesk.core import data, preprocess
from vaedesk.core.api import Model, tile
from vaedesk.core.classify import Classifier, ClassifierError, looks_like
from vaedesk.core.digits import DigitGuesser, EncodedTestSet, encode_test_set
from vaedesk.core.plane import Plane
from vaedesk.core.prior import line

MORPH_STEPS = 48
STRIP_FRAMES = 12
N_SAMPLES = 16


@dataclass(frozen=True)
class Selection:
    index: int
    label: int
    image: np.ndarray  # (28, 28) float32 in [0, 1]
    recon: np.ndarray
    mu: np.ndarray  # (D,)


@dataclass(frozen=True)
class DrawingEncoding:
    input: np.ndarray  # the drawing as the model sees it, (28, 28)
    mu: np.ndarray  # (D,)
    sigma: np.ndarray  # (D,)
    recon: np.ndarray  # (28, 28)
    trail: np.ndarray  # (T, D): the encodings at the end of each stroke so far
    guess: int | None  # nearest-test-images vote, None without the test set
    reading: str = ""  # what the digit classifier reads in the input ("" without one)


@dataclass(frozen=True)
class Morph:
    path: np.ndarray  # (MORPH_STEPS, D)
    frames: np.ndarray  # (MORPH_STEPS, 28, 28)


class Session:
    def __init__(self, model: Model, data_dir: str | Path | None = None) -> None:
        self.model = model
        self.data_dir = str(data_dir) if data_dir is not None else None
        self.test: EncodedTestSet | None = None
        self.guesser: DigitGuesser | None = None
        self.hidden_digits: set[int] = set()
        self.selected: int | None = None
        self.morph_start: np.ndarray | None = None
        self.morph: Morph | None = None
        self.samples = np.zeros((0, model.config.latent_dim), np.float32)
        self.plane = Plane.identity(model.config.latent_dim)
        self.drawing: DrawingEncoding | None = None
        self._drawing_input: np.ndarray | None = None
        self._trail: list[np.ndarray] = []
        self._train: tuple[np.ndarray, np.ndarray] | None = None
        self._classifier: Classifier | None | bool = False  # False: not loaded yet

    @property
    def classifier(self) -> Classifier | None:
        """The bundled digit classifier, loaded on first use; None if it cannot be."""
        if self._classifier is False:
            try:
                self._classifier = Classifier.load()
            except ClassifierError:
                self._classifier = None
        return self._classifier if not isinstance(self._classifier, bool) else None

    def reading(self, image: np.ndarray) -> str:
        """What the classifier reads in a (28, 28) digit, or "" without a classifier."""
        classifier = self.classifier
        return looks_like(classifier.probabilities(image)[0]) if classifier is not None else ""

    # -- data and model ---------------------------------------------------------------------

    def load_test_set(self, loaded: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """Find, verify and encode the MNIST test set (or use `loaded`); raise
        `data.DataError` if it is missing or bad, leaving no test set."""
        try:
            images, labels = loaded if loaded is not None else data.load("test", self.data_dir)
        except data.DataError:
            self.set_test_set(None)
            raise
        self.set_test_set(encode_test_set(self.model, images, labels))

    def set_test_set(self, encoded: EncodedTestSet | None) -> None:
        self.test = encoded
        self.guesser = DigitGuesser(encoded) if encoded is not None else None
        if encoded is None or (self.selected is not None and self.selected >= len(encoded.labels)):
            self.selected = None
        self.plane = Plane.for_points(
            self.model.config.latent_dim, encoded.mu if encoded is not None else None
        )

    def set_data_dir(self, folder: str | Path) -> None:
        """Use another MNIST folder: load its test set (raises `data.DataError`)."""
        previous = self.data_dir
        self.data_dir = str(folder)
        try:
            self.load_test_set()
        except data.DataError:
            self.data_dir = previous
            raise
        self._train = None

    def training_set(self) -> tuple[np.ndarray, np.ndarray]:
        """The MNIST training images and labels (raises `data.DataError`), read once."""
        if self._train is None:
            self._train = data.load("train", self.data_dir)
        return self._train

    def set_model(self, model: Model, encoded: EncodedTestSet | None = None) -> None:
        """Switch to another model: the test set is re-encoded (unless `encoded` is given)
        and the drawing with it; the morph and samples are cleared, as they were decoded
        by the old model."""
        self.model = model
        if encoded is None and self.test is not None:
            encoded = encode_test_set(model, self.test.images, self.test.labels)
        if encoded is not None:
            self.set_test_set(encoded)
        else:
            self.plane = Plane.identity(model.config.latent_dim)
        self.clear_overlays()
        if self._drawing_input is not None:
            self._trail.clear()
            self.drawing = self._encode(self._drawing_input, stroke_done=True)

    # -- map --------------------------------------------------------------------------------

    def decode(self, z: np.ndarray) -> np.ndarray:
        """One latent point (D,) -> its decoded digit (28, 28)."""
        return self.model.decode(np.asarray(z, np.float32))[0]

    def latent_at(self, x: float, y: float) -> np.ndarray:
        """The latent point (D,) at map coordinates (x, y)."""
        return self.plane.lift(np.array([x, y], np.float32))

    def on_map(self, z: np.ndarray) -> np.ndarray:
        """Latent points (N, D) or (D,) -> where the map shows them, (N, 2) or (2,)."""
        return self.plane.project(z)

    def neighbours(self, z: np.ndarray, k: int) -> np.ndarray | None:
        """The k test images whose means are nearest to the latent point z (D,), nearest
        first, as (k, 28, 28) float32; None without the test set."""
        if self.test is None:
            return None
        d2 = ((self.test.mu - np.asarray(z, np.float32)) ** 2).sum(axis=1)
        k = min(k, len(d2))
        nearest = np.argpartition(d2, k - 1)[:k]
        return data.to_float(self.test.images[nearest[np.argsort(d2[nearest])]])

    def parse_point(self, text: str) -> np.ndarray:
        """Typed coordinates -> a latent point (D,): D numbers, or for a model of more
        dimensions also 2 map coordinates; ValueError with what to type otherwise."""
        dim = self.model.config.latent_dim
        try:
            values = np.array(text.replace(",", " ").replace("(", " ").replace(")", " ").split(), np.float64)
        except ValueError:
            raise ValueError(f"type {dim} numbers, such as {' '.join(['0.5'] * dim)}") from None
        if not np.isfinite(values).all():
            raise ValueError("the coordinates must be finite numbers")
        if len(values) == dim:
            return values.astype(np.float32)
        if len(values) == 2:
            return self.plane.lift(values)
        raise ValueError(f"type {dim} numbers (the model has {dim} latent dimensions), or 2 map coordinates")

    @property
    def points(self) -> np.ndarray:
        """The test set's means where the map shows them, (N, 2)."""
        return self.on_map(self.test.mu) if self.test is not None else np.zeros((0, 2), np.float32)

    def nearest(self, x: float, y: float) -> int | None:
        """The nearest test point on the map to (x, y) among the digits shown, or None."""
        if self.test is None:
            return None
        shown = ~np.isin(self.test.labels, list(self.hidden_digits))
        if not shown.any():
            return None
        d2 = ((self.points - np.array([x, y], np.float32)) ** 2).sum(axis=1)
        d2[~shown] = np.inf
        return int(np.argmin(d2))

    def move_plane_through_selection(self, through: bool) -> None:
        """Let the map's plane pass through the selected test image's mean (hovering then
        shows the variations around it), or back through the means' centre."""
        point = (
            self.test.mu[self.selected]
            if through and self.test is not None and self.selected is not None
            else None
        )
        self.plane = self.plane.through(point)

    def set_digit_hidden(self, digit: int, hidden: bool) -> None:
        (self.hidden_digits.add if hidden else self.hidden_digits.discard)(digit)

    def select(self, index: int) -> Selection | None:
        if self.test is None:
            return None
        index = int(np.clip(index, 0, len(self.test.labels) - 1))
        self.selected = index
        return self.selection()

    def selection(self) -> Selection | None:
        if self.test is None or self.selected is None:
            return None
        i = self.selected
        mu = self.test.mu[i]
        return Selection(i, int(self.test.labels[i]), data.to_float(self.test.images[i]), self.decode(mu), mu)

    def step(self, step: int) -> Selection | None:
        """The next (+1) or previous (-1) test image, wrapping round."""
        if self.test is None:
            return None
        start = self.selected if self.selected is not None else (-1 if step > 0 else 0)
        return self.select((start + step) % len(self.test.labels))

    # -- morph and samples ------------------------------------------------------------------

    def morph_click(self, x: float, y: float, follow_prior: bool = False) -> Morph | None:
        """A shift-click at map coordinates: the first marks the start, the second makes
        the morph between the latent points there."""
        z = self.latent_at(x, y)
        if self.morph_start is None:
            self.morph_start = z
            self.morph = None
            return None
        start, self.morph_start = self.morph_start, None
        return self.start_morph(start, z, follow_prior)

    def start_morph(self, a: np.ndarray, b: np.ndarray, follow_prior: bool = False) -> Morph:
        """A morph along the straight line, or along a path that keeps to the prior's mass
        (the great circle for N(0, I))."""
        prior = self.model.prior
        path = prior.path(a, b, MORPH_STEPS) if follow_prior else line(a, b, MORPH_STEPS)
        self.morph = Morph(path, self.model.decode(path))
        return self.morph

    def morph_strip(self) -> np.ndarray | None:
        """STRIP_FRAMES evenly spaced frames of the morph, side by side."""
        if self.morph is None:
            return None
        frames = self.morph.frames
        picks = np.linspace(0, len(frames) - 1, STRIP_FRAMES).round().astype(int)
        return tile(frames[picks], STRIP_FRAMES)

    def sample_prior(self, rng: np.random.Generator | None = None) -> np.ndarray:
        """N_SAMPLES draws from the model's prior; returns them decoded as a 4 x 4 tile."""
        self.samples = self.model.prior.sample(N_SAMPLES, rng or np.random.default_rng())
        return tile(self.model.decode(self.samples), 4)

    def clear_overlays(self) -> None:
        self.morph_start = None
        self.morph = None
        self.samples = np.zeros((0, self.model.config.latent_dim), np.float32)

    # -- drawing ----------------------------------------------------------------------------

    def encode_drawing(self, ink: np.ndarray | None, stroke_done: bool = False) -> DrawingEncoding | None:
        """Encode a drawing (ink in [0, 1] at any size) as `vaedesk encode` encodes a picture.

        An empty pad (None) clears the drawing; a stroke too faint to count as ink leaves
        the last encoding in place. The trail takes a point only when a stroke ends, so a
        half-drawn stroke's wanderings do not stay on the map.
        """
        if ink is None:
            self.clear_drawing()
            return None
        try:
            mnist_like = preprocess.to_mnist(ink)
        except preprocess.PictureError:
            return self.drawing
        self._drawing_input = mnist_like
        self.drawing = self._encode(mnist_like, stroke_done)
        return self.drawing

    def _encode(self, mnist_like: np.ndarray, stroke_done: bool) -> DrawingEncoding:
        mu, logvar = self.model.encode(mnist_like)
        mu, sigma = mu[0], np.exp(0.5 * logvar[0])
        if stroke_done:
            self._trail.append(mu)
        trail = np.array(self._trail, np.float32).reshape(-1, len(mu))
        guess = self.guesser.guess(mu)[0] if self.guesser is not None else None
        return DrawingEncoding(mnist_like, mu, sigma, self.decode(mu), trail, guess, self.reading(mnist_like))

    def clear_drawing(self) -> None:
        self.drawing = None
        self._drawing_input = None
        self._trail.clear()
