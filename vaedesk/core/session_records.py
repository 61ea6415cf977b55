"""The records a `Session` holds (the selection, the drawing's encoding, the morph, what
the decoder view shows): frozen, replaced and never edited, so that the session's events
compare them by identity."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Selection:
    index: int
    label: int
    image: np.ndarray  # (28, 28) float32 in [0, 1]
    recon: np.ndarray
    mu: np.ndarray  # (D,)


@dataclass(frozen=True, eq=False)
class DrawingEncoding:
    input: np.ndarray  # the drawing as the model sees it, (28, 28)
    mu: np.ndarray  # (D,)
    sigma: np.ndarray  # (D,)
    recon: np.ndarray  # (28, 28)
    trail: np.ndarray  # (T, D): the encodings at the end of each stroke so far
    guess: int | None  # nearest-test-images vote, None without the test set
    reading: str = ""  # what the digit classifier reads in the input ("" without one)


@dataclass(frozen=True, eq=False)
class Morph:
    path: np.ndarray  # (MORPH_STEPS, D)
    frames: np.ndarray  # (MORPH_STEPS, 28, 28)
    readings: tuple[str, ...] = ()  # what the classifier reads in each frame


@dataclass(frozen=True, eq=False)
class Shown:
    """What the decoder view shows: one digit (or a tile of them), its caption, and what
    the classifier reads in it, always together."""

    image: np.ndarray  # (28, 28), or (112, 112) for the prior samples' tile
    caption: str
    reading: str = ""
    z: np.ndarray | None = None  # (D,): the latent point decoded (None for a tile)
