"""How typical is a drawing? Its log-likelihood under the model, as a percentile of the
test set's.

log p(x) is estimated from below with the importance-weighted bound (Burda et al. 2016)
at k = 64 samples, the bound `evaluate.iwae_estimates` computes, here in numpy on the
viewer's ONNX runtime (no torch). The test set's values are computed once per model with
the same estimator and kept as their quantiles (derived numbers, never images) in the
user's cache folder, keyed by the weights file's checksum.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vaedesk.core import paths
from vaedesk.core.api import Model
from vaedesk.core.atomic import atomic_write, read_regular

K = 64  # importance samples, as the evaluation's IWAE bound
SEED = 0
QUANTILES = 1001  # the test set's values at every 0.1 %
IMAGES_PER_CALL = 8  # 512 decodes per call: near the fastest per sample on ONNX Runtime
LOW, HIGH = 1.0, 99.0  # percentiles outside which the model has seen few digits like it
MAX_SCALE_BYTES = 2**20  # a scale is about 11 kB of JSON
WARNING = "the model has seen few digits like this"
Progress = Callable[[int, int], None]  # (images done, images in all)


def log_likelihood(
    model: Model, images: np.ndarray, k: int = K, seed: int = SEED, noise: np.ndarray | None = None
) -> np.ndarray:
    """Lower bounds on log p(x) in nats, (N,), for images (N, 28, 28) in [0, 1] or uint8;
    the same noise for the same image, so a drawing left as it is keeps its value. `noise`,
    (k, N, D) standard normal draws, replaces the seeded ones."""
    x = np.asarray(images)
    x = (x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)).reshape(-1, 28, 28)
    if model.conditional:
        raise ValueError("typicality is measured under an unconditional model")
    mu, logvar = model.encode(x)  # (N, D)
    eps = np.random.default_rng(seed).standard_normal((k, *mu.shape)) if noise is None else noise
    eps = np.asarray(eps, np.float32)
    z = mu + eps * np.exp(0.5 * logvar)  # (k, N, D)
    logits = model.decode_logits(z.reshape(-1, mu.shape[1])).reshape(k, len(x), 784).astype(np.float64)
    flat = x.reshape(len(x), 784)
    # log Bernoulli(x; sigmoid(l)) = x l - softplus(l), summed over the pixels
    log_px_z = (logits * flat).sum(-1) - np.logaddexp(0.0, logits).sum(-1)  # (k, N)
    log_pz = model.prior.log_density(z.reshape(-1, mu.shape[1])).reshape(k, len(x))
    log_qz = -0.5 * (np.log(2 * np.pi) + logvar + eps.astype(np.float64) ** 2).sum(-1)  # (k, N)
    log_w = log_px_z + log_pz - log_qz
    top = log_w.max(axis=0)
    return top + np.log(np.exp(log_w - top).mean(axis=0))


@dataclass(frozen=True)
class Scale:
    """The test set's log-likelihoods, as QUANTILES evenly spaced quantiles."""

    quantiles: np.ndarray  # (QUANTILES,) increasing, nats
    n: int  # test images measured

    @classmethod
    def measure(cls, model: Model, images: np.ndarray, progress: Progress | None = None) -> Scale:
        values = []
        for start in range(0, len(images), IMAGES_PER_CALL):
            values.append(log_likelihood(model, images[start : start + IMAGES_PER_CALL], seed=SEED + start))
            if progress is not None:
                progress(min(start + IMAGES_PER_CALL, len(images)), len(images))
        all_values = np.concatenate(values)
        return cls(np.quantile(all_values, np.linspace(0, 1, QUANTILES)), len(all_values))

    def percentile(self, value: float) -> float:
        """The share of test digits (%) with a lower log-likelihood than `value`."""
        levels = np.linspace(0.0, 100.0, len(self.quantiles))
        return float(np.interp(value, self.quantiles, levels, left=0.0, right=100.0))

    def to_json(self) -> dict[str, Any]:
        return {"k": K, "seed": SEED, "n": self.n, "quantiles": [round(float(q), 4) for q in self.quantiles]}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Scale:
        q = np.asarray(d["quantiles"], np.float64)
        if d.get("k") != K or q.shape != (QUANTILES,) or not np.isfinite(q).all() or np.any(np.diff(q) < 0):
            raise ValueError("not a typicality scale of this version")
        return cls(q, int(d["n"]))


@dataclass(frozen=True)
class Typicality:
    log_px: float  # nats
    percentile: float  # % of test digits less likely

    @property
    def unusual(self) -> bool:
        return not LOW <= self.percentile <= HIGH

    def describe(self) -> str:
        text = f"log p(x) \u2265 {self.log_px:.1f} nats: more typical than {self.percentile:.0f} %"
        text += " of test digits"
        return f"{text}. Warning: {WARNING}." if self.unusual else text


def typicality(model: Model, image: np.ndarray, scale: Scale) -> Typicality:
    """How typical one (28, 28) image is under the model, against the test set."""
    value = float(log_likelihood(model, image)[0])
    return Typicality(value, scale.percentile(value))


def _digest(model: Model) -> str | None:
    """The SHA-256 of the model's weights file; None for a model not read from a file."""
    if model.path is None:
        return None
    try:
        return hashlib.sha256(Path(model.path).read_bytes()).hexdigest()
    except OSError:
        return None


def shipped_file(weights: Path) -> Path:
    """`name.safetensors` -> `name.typicality.json`: the scale shipped beside a bundled model."""
    return weights.with_name(weights.name.removesuffix(".safetensors") + ".typicality.json")


def _read(where: Path, digest: str, n: int) -> Scale | None:
    """The scale in `where` if it is for this weights file and this many test images."""
    try:
        d = json.loads(read_regular(where, MAX_SCALE_BYTES))  # a FIFO, a device: refused, not read
        if d.get("weights_sha256") == digest and d.get("n") == n:
            return Scale.from_json(d)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass  # missing, damaged or another version's: measured again
    return None


def cached_scale(model: Model, images: np.ndarray, progress: Progress | None = None) -> Scale:
    """The test set's scale for this model: the one shipped beside its file, else the
    user's cached one, else measured (and cached)."""
    digest = _digest(model)
    if digest is not None:
        beside = [shipped_file(Path(model.path))] if model.path is not None else []
        for where in [*beside, cache_file(digest)]:
            if (found := _read(where, digest, len(images))) is not None:
                return found
    scale = Scale.measure(model, images, progress)
    if digest is not None:
        # a read-only cache folder: measured again next time, nothing lost
        with contextlib.suppress(OSError):
            write_scale(cache_file(digest), scale, digest, through_links=False)
    return scale


def cache_file(digest: str) -> Path:
    return paths.user_cache_dir() / "typicality" / f"{digest[:24]}-k{K}.json"


def write_scale(where: Path, scale: Scale, digest: str, through_links: bool = True) -> None:
    text = json.dumps({**scale.to_json(), "weights_sha256": digest}) + "\n"
    atomic_write(where, text.encode(), through_links=through_links)
