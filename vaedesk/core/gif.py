"""Morphs to share: the digits decoded along a path through the latent space, written
as an animated GIF by Pillow (no Qt), for `vaedesk morph` and File > Export morph."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image

from vaedesk.core.api import Model
from vaedesk.core.atomic import atomic_write
from vaedesk.core.prior import line

MIN_FRAMES, MAX_FRAMES = 2, 1000
MIN_DURATION, MAX_DURATION = 20, 10_000  # ms a frame: browsers show faster GIFs at 100 ms
SCALE = 5  # each of the 28 x 28 pixels drawn as a SCALE x SCALE square: a 140-pixel GIF


def check_options(frames: int, duration: int) -> None:
    """ValueError with one line for the user if the frame count or duration is unusable."""
    if not MIN_FRAMES <= frames <= MAX_FRAMES:
        raise ValueError(f"the frame count must be from {MIN_FRAMES} to {MAX_FRAMES}")
    if not MIN_DURATION <= duration <= MAX_DURATION:
        raise ValueError(f"the duration must be from {MIN_DURATION} to {MAX_DURATION} ms a frame")


def morph_path(
    model: Model, a: np.ndarray, b: np.ndarray, frames: int, follow_prior: bool = False
) -> np.ndarray:
    """`frames` latent points (frames, D) from a to b: the straight line, or a path that
    keeps to the prior's mass (the great circle for N(0, I)), as the window's morph."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return model.prior.path(a, b, frames) if follow_prior else line(a, b, frames)


def resample(path: np.ndarray, frames: int) -> np.ndarray:
    """`frames` points (frames, D) evenly spaced along a path's points by index, from its
    first to its last: a straight line's points stay on it, evenly spaced."""
    path = np.asarray(path, np.float64)
    at = np.linspace(0.0, len(path) - 1, frames)
    lower = np.minimum(np.floor(at).astype(int), len(path) - 2) if len(path) > 1 else np.zeros(frames, int)
    t = (at - lower)[:, None]
    upper = np.minimum(lower + 1, len(path) - 1)
    return ((1 - t) * path[lower] + t * path[upper]).astype(np.float32)


def gif_bytes(frames: np.ndarray, duration: int, scale: int = SCALE) -> bytes:
    """Images (N, 28, 28) in [0, 1] -> an animated GIF that loops for ever, each frame shown
    for `duration` ms, its grey levels those of `preprocess.save_png` (round(255 v))."""
    check_options(len(frames), duration)
    grey = np.clip(np.round(np.asarray(frames, np.float64) * 255), 0, 255).astype(np.uint8)
    big = grey.repeat(scale, axis=1).repeat(scale, axis=2)
    images = [Image.fromarray(f, mode="L") for f in big]
    buf = BytesIO()
    # optimize=False keeps the whole grey palette: every level written is read back as it was
    images[0].save(
        buf, format="GIF", save_all=True, append_images=images[1:], duration=duration, loop=0, optimize=False
    )
    return buf.getvalue()


def write_morph_gif(path: str | Path, frames: np.ndarray, duration: int) -> None:
    """Write the frames as an animated GIF, atomically (OSError if it cannot be written)."""
    atomic_write(path, gif_bytes(frames, duration))
