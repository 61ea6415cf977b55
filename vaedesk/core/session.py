"""What the window shows, without the window: the current model, the encoded test set,
the selection, the drawing and its trail, the morph and the prior samples, the cursor and
the digit the decoder shows there, and the plane of the latent space the map shows
(`vaedesk.core.plane`). Latent points are kept in the model's D dimensions; `on_map` and
`latent_at` convert to and from the map.

A `Session` holds that state and its operations and imports no Qt, so every behaviour
behind a click can be driven and tested with no display.

It is an evented dataclass (psygnal, as napari's `ViewerModel`): assigning a field emits
`session.events.<field>` with the new and the old value, only when the value changed,
and the window's views subscribe to the fields they show. What follows from a change is
done here, once, before any view hears of it: assigning `session.model` re-encodes the
test set, replaces the plane, clears the overlays the old model decoded, re-encodes the
drawing and re-decodes the digit at the cursor, moved onto the new map if it fell off.
A new model always comes with a new `plane`, so a view that draws latent points (or a
cache of decodes) needs to subscribe to `plane` only.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from psygnal import evented

from vaedesk.core import data, preprocess
from vaedesk.core.api import Model, finite_float32, tile
from vaedesk.core.classify import Classifier, ClassifierError, looks_like
from vaedesk.core.digits import DigitGuesser, EncodedTestSet, encode_test_set
from vaedesk.core.plane import Plane, central_range
from vaedesk.core.prior import line

# The records the session holds have a module of their own; importable from here, as before.
from vaedesk.core.session_records import DrawingEncoding as DrawingEncoding
from vaedesk.core.session_records import Morph as Morph
from vaedesk.core.session_records import Selection as Selection
from vaedesk.core.session_records import Shown as Shown

if TYPE_CHECKING:
    from psygnal import SignalGroup

MORPH_STEPS = 48
STRIP_FRAMES = 12
N_SAMPLES = 16
# A decode with fewer pixels than this above half intensity is not a digit: an MNIST digit
# has about 100 (the thinnest 1s about 40). The classifier would still name one.
MIN_INK_PIXELS = 12
NOTHING_DRAWN = "the decoder draws nothing here"


def _same(a: Any, b: Any) -> bool:
    return a is b


@evented(
    equality_operators={
        # models, test sets, planes and the frozen records are replaced, never edited:
        # a new object is a change
        "model": _same,
        "test": _same,
        "plane": _same,
        "morph": _same,
        "drawing": _same,
        "shown": _same,
        "morph_start": _same,
        "samples": np.array_equal,
        "cursor": np.array_equal,
        "hidden_digits": operator.eq,
    }
)
@dataclass(eq=False)
class Session:
    model: Model
    data_dir: str | None = None
    model_label: str | None = None  # how the window names the model (None: its own name)
    test: EncodedTestSet | None = None
    plane: Plane = field(default=None)  # type: ignore[assignment]  # set in __post_init__
    hidden_digits: frozenset[int] = frozenset()
    selected: int | None = None
    plane_through_selection: bool = False  # Explore > Plane through the selected image
    cursor: np.ndarray = field(default_factory=lambda: np.zeros(2, np.float32))  # map coordinates
    shown: Shown | None = None  # what the decoder view shows
    morph_start: np.ndarray | None = None  # (D,): the first shift-click's point
    morph: Morph | None = None
    samples: np.ndarray = field(default=None)  # type: ignore[arg-type]  # (N_SAMPLES or 0, D)
    drawing: DrawingEncoding | None = None
    if TYPE_CHECKING:  # what @evented adds, said for the type checker (no field)
        events: ClassVar[SignalGroup]

    def __post_init__(self) -> None:
        if self.data_dir is not None:
            self.data_dir = str(self.data_dir)
        dim = self.model.config.latent_dim
        if self.plane is None:
            self.plane = Plane.identity(dim)
        if self.samples is None:
            self.samples = np.zeros((0, dim), np.float32)
        # Not fields, so not evented: caches and the drawing's history.
        self.guesser: DigitGuesser | None = None
        self._drawing_input: np.ndarray | None = None
        self._trail: list[np.ndarray] = []
        self._classifier: Classifier | None | bool = False  # False: not loaded yet
        self._given: tuple[Model, EncodedTestSet | None] | None = None
        self._replacing_model = False
        # The session's own consequences run before any view's (a higher priority).
        self.events.model.connect(self._on_model, priority=100)
        self.events.plane.connect(self._on_plane, priority=100)
        self.events.selected.connect(self._place_plane, priority=100)

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
        """What the classifier reads in a (28, 28) digit, or "" without a classifier. A
        decode with next to no ink gets no label: the classifier would still be sure of one."""
        return self.readings(np.asarray(image)[None])[0]

    def readings(self, images: np.ndarray) -> tuple[str, ...]:
        """`reading` of each of (N, 28, 28) images, in one run of the classifier."""
        classifier = self.classifier
        if classifier is None:
            return ("",) * len(images)
        p = classifier.probabilities(images)
        inked = (np.asarray(images).reshape(len(images), -1) > 0.5).sum(axis=1) >= MIN_INK_PIXELS
        return tuple(looks_like(row) if ink else NOTHING_DRAWN for row, ink in zip(p, inked, strict=True))

    @property
    def unsaved(self) -> bool:
        """The model was kept from a run in the window and is in no file."""
        return self.model.path is None and self.model_label is None

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
        self.guesser = DigitGuesser(encoded) if encoded is not None else None
        self.plane_through_selection = False
        if encoded is None or (self.selected is not None and self.selected >= len(encoded.labels)):
            self.selected = None
        self.test = encoded
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

    def training_folder(self) -> Path:
        """The folder with the MNIST training set (raises `data.DataError`). The set itself
        is read by the run that needs it, in its thread, and freed when the run ends: 47 MB
        the window would otherwise hold from its first run on."""
        return data.locate("train", self.data_dir)

    def set_model(
        self, model: Model, encoded: EncodedTestSet | None = None, label: str | None = None
    ) -> None:
        """`session.model = model`, with the test set's means when they are known already
        (a training run computes them) and the name the window gives the model."""
        self._given = (model, encoded)
        self.model_label = label
        self.model = model

    def _on_model(self, model: Model, old: Model | None = None) -> None:
        given, self._given = self._given, None
        encoded = given[1] if given is not None and given[0] is model else None
        if encoded is None and self.test is not None:
            encoded = encode_test_set(model, self.test.images, self.test.labels)
        self.clear_overlays(redecode=False)
        self._replacing_model = True  # the digit at the cursor is decoded once, at the end
        try:
            if encoded is not None:
                self.set_test_set(encoded)
            else:
                self.plane = Plane.identity(model.config.latent_dim)
        finally:
            self._replacing_model = False
        if self._drawing_input is not None:
            self._trail.clear()
            self.drawing = self._encode(self._drawing_input, stroke_done=True)
        self.cursor = self.onto_map(self.cursor)
        self.shown = self.decoded_at_cursor()

    def _on_plane(self, plane: Plane, old: Plane | None = None) -> None:
        if not self._replacing_model:
            self.shown = self.decoded_at_cursor()

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

    def map_extent(self) -> tuple[np.ndarray, np.ndarray]:
        """The map's part that holds the model's digits: 99.6 % of the test points, or
        without them where a 2-D model's prior puts its mass."""
        points = self.points
        if len(points):
            lo, hi = central_range(points)
            return lo.astype(np.float32), hi.astype(np.float32)
        if self.plane.is_whole_space:
            lo, hi = self.model.prior.extent()
            return np.asarray(lo, np.float32), np.asarray(hi, np.float32)
        return np.full(2, -3.0, np.float32), np.full(2, 3.0, np.float32)

    def onto_map(self, xy: np.ndarray) -> np.ndarray:
        """`xy` if it lies on the map (`map_extent`), else the nearest test point's
        position (or the nearest point of the extent without a test set)."""
        xy = np.asarray(xy, np.float32)
        lo, hi = self.map_extent()
        if ((xy >= lo) & (xy <= hi)).all():
            return xy
        points = self.points
        if len(points):
            return points[int(np.argmin(((points - xy) ** 2).sum(axis=1)))].astype(np.float32)
        return np.clip(xy, lo, hi).astype(np.float32)

    def decoded_at(self, z: np.ndarray, caption: str) -> Shown:
        image = self.decode(z)
        return Shown(image, caption, self.reading(image), np.asarray(z, np.float32))

    def decoded_at_cursor(self) -> Shown:
        x, y = map(float, self.cursor)
        where = "z" if self.plane.is_whole_space else "(PC 1, PC 2)"
        return self.decoded_at(self.latent_at(x, y), f"decoded at {where} = ({x:+.2f}, {y:+.2f})")

    def hover(self, x: float, y: float) -> None:
        """The cursor is at map coordinates (x, y): the decoder shows the digit there."""
        self.cursor = np.array([x, y], np.float32)
        self.shown = self.decoded_at_cursor()

    def go_to(self, z: np.ndarray, caption: str) -> None:
        """Put the cursor where latent point z (D,) shows on the map; decode z itself."""
        self.cursor = self.on_map(z).astype(np.float32)
        self.shown = self.decoded_at(z, caption)

    def neighbours(self, z: np.ndarray, k: int) -> np.ndarray | None:
        """The k test images of the digits shown (not hidden in the legend) whose means are
        nearest to the latent point z (D,), nearest first, as (k, 28, 28) float32 (fewer
        if fewer are shown); None without the test set."""
        if self.test is None:
            return None
        # |mu - z|^2 less the |z|^2 all share, in float64: a typed point far out (3e38 is
        # finite in float32) neither overflows nor loses the mu's in z's rounding
        mu = self.test.mu.astype(np.float64)
        d2 = (mu**2).sum(axis=1) - 2 * mu @ np.asarray(z, np.float64)
        hidden = self._hidden_images()
        d2[hidden] = np.inf
        k = min(k, len(d2) - int(hidden.sum()))
        if k <= 0:
            return np.zeros((0, 28, 28), np.float32)
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
        values = finite_float32(values)  # 1e39 is a double, but infinite in float32
        if len(values) == dim:
            return values
        if len(values) == 2:
            return finite_float32(self.plane.lift(values))
        raise ValueError(f"type {dim} numbers (the model has {dim} latent dimensions), or 2 map coordinates")

    @property
    def points(self) -> np.ndarray:
        """The test set's means where the map shows them, (N, 2)."""
        return self.on_map(self.test.mu) if self.test is not None else np.zeros((0, 2), np.float32)

    def nearest(self, x: float, y: float) -> int | None:
        """The nearest test point on the map to (x, y) among the digits shown, or None."""
        if self.test is None:
            return None
        hidden = self._hidden_images()
        if hidden.all():
            return None
        d2 = ((self.points - np.array([x, y], np.float32)) ** 2).sum(axis=1)
        d2[hidden] = np.inf
        return int(np.argmin(d2))

    def _hidden_images(self) -> np.ndarray:
        """(N,) True for each test image whose digit is hidden in the legend."""
        assert self.test is not None  # the callers checked
        return np.isin(self.test.labels, list(self.hidden_digits))

    def move_plane_through_selection(self, through: bool) -> None:
        """Let the map's plane pass through the selected test image's mean, and follow the
        selection (hovering then shows the variations around it), or back through the
        means' centre."""
        self.plane_through_selection = through
        self._place_plane()

    def _place_plane(self) -> None:
        through = self.plane_through_selection and self.test is not None and self.selected is not None
        point = self.test.mu[self.selected] if through else None  # type: ignore[union-attr]
        if point is not None or self.plane.offset is not None:
            self.plane = self.plane.through(point)

    def set_digit_hidden(self, digit: int, hidden: bool) -> None:
        self.hidden_digits = self.hidden_digits | {digit} if hidden else self.hidden_digits - {digit}

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
        frames = self.model.decode(path)
        self.morph = Morph(path, frames, self.readings(frames))
        return self.morph

    def morph_strip(self) -> np.ndarray | None:
        """STRIP_FRAMES evenly spaced frames of the morph, side by side."""
        if self.morph is None:
            return None
        frames = self.morph.frames
        picks = np.linspace(0, len(frames) - 1, STRIP_FRAMES).round().astype(int)
        return tile(frames[picks], STRIP_FRAMES)

    def sample_prior(self, rng: np.random.Generator | None = None) -> np.ndarray:
        """N_SAMPLES draws from the model's prior, shown decoded as a 4 x 4 tile (returned)."""
        self.samples = self.model.prior.sample(N_SAMPLES, rng or np.random.default_rng())
        image = tile(self.model.decode(self.samples), 4)
        self.shown = Shown(
            image, f"{N_SAMPLES} samples from the prior, {self.model.prior.describe()}; stars on the map"
        )
        return image

    def clear_overlays(self, redecode: bool = True) -> None:
        """Clear the morph and the samples; the decoder shows the digit at the cursor again."""
        self.morph_start = None
        self.morph = None
        self.samples = np.zeros((0, self.model.config.latent_dim), np.float32)
        if redecode:
            self.shown = self.decoded_at_cursor()

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
