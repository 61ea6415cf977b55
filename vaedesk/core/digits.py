"""The encoded test set: the latent map's points, cached per weights file, and a digit
guess for any latent point from its nearest encoded test images."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vaedesk.core import data, paths
from vaedesk.core.api import Model
from vaedesk.core.atomic import atomic_write, read_regular
from vaedesk.core.neighbours import knn_predict


@dataclass
class EncodedTestSet:
    images: np.ndarray  # (N, 28, 28) uint8
    labels: np.ndarray  # (N,) uint8
    mu: np.ndarray  # (N, 2) float32 posterior means
    logvar: np.ndarray  # (N, 2)


def _cache_file(model: Model) -> Path | None:
    """Cached means are keyed by the weights file's path, size and modification time (a
    content hash would cost 20 ms of every start); unsaved models are not cached."""
    if model.path is None or not model.path.is_file():
        return None
    st = model.path.stat()
    key = f"{model.path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return paths.user_cache_dir() / "latents" / f"{digest}.npz"


def encode_test_set(
    model: Model, images: np.ndarray, labels: np.ndarray, use_cache: bool = True
) -> EncodedTestSet:
    cache = _cache_file(model) if use_cache else None
    # a link at its name is not read through (nor its target marked used): it is replaced
    if cache is not None and cache.is_file() and not cache.is_symlink():
        try:
            most = 2 * len(images) * model.config.latent_dim * 4 + 2**16  # the two arrays, and the zip's
            with np.load(io.BytesIO(read_regular(cache, most))) as f:  # no handle left open on a bad file
                mu, logvar = f["mu"], f["logvar"]
            shape = (len(images), model.config.latent_dim)
            if mu.shape == shape == logvar.shape and np.isfinite(mu).all() and np.isfinite(logvar).all():
                os.utime(cache)  # used now: the last to be pruned
                return EncodedTestSet(images, labels, mu, logvar)
        except Exception:  # noqa: BLE001 - a cache is disposable: whatever is wrong, rebuild it
            pass  # truncated or empty (EOFError, BadZipFile), unreadable, or implausible
    mu, logvar = model.encode(data.to_float(images))
    if cache is not None:
        buf = io.BytesIO()
        np.savez(buf, mu=mu, logvar=logvar)
        with contextlib.suppress(OSError):  # a read-only cache only costs a re-encode next time
            atomic_write(cache, buf.getvalue(), through_links=False)
            prune(cache.parent)
    return EncodedTestSet(images, labels, mu, logvar)


CACHED_MODELS = 8  # the encoded test sets kept: each is 160 kB for a 2-D model, 1.6 MB for 20-D


def prune(folder: Path, keep: int = CACHED_MODELS) -> None:
    """Remove all but the `keep` most recently used cached encodings (it grew without end:
    one entry per model, and per change of a model file)."""
    entries = []
    for entry in folder.glob("*.npz"):
        with contextlib.suppress(OSError):  # gone already
            entries.append((entry.stat().st_mtime_ns, entry))
    for _, old in sorted(entries, reverse=True)[keep:]:
        with contextlib.suppress(OSError):
            old.unlink()


class DigitGuesser:
    """Labels a latent point by a 5-nearest-neighbour vote of the encoded test images."""

    def __init__(self, encoded: EncodedTestSet, k: int = 5) -> None:
        self.encoded = encoded
        self.k = k

    @classmethod
    def for_model(cls, model: Model, data_dir: str | Path | None = None) -> DigitGuesser | None:
        """None when the test set cannot be found: callers then print no guess."""
        try:
            images, labels = data.load("test", data_dir)
        except data.DataError:
            return None
        return cls(encode_test_set(model, images, labels))

    def guess(self, mu: np.ndarray) -> list[int]:
        pred = knn_predict(self.encoded.mu, self.encoded.labels, np.atleast_2d(mu), self.k)
        return [int(p) for p in pred]
