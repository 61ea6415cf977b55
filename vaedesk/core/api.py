"""The numpy-in, numpy-out face of a trained VAE, for scripts and for the window."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from vaedesk.core import paths, weights
from vaedesk.core.model import VAE, VAEConfig


class Model:
    """A trained VAE. `encode` takes float32 (N, 28, 28) in [0, 1]; `decode` takes (N, 2)."""

    def __init__(self, vae: VAE, card: dict[str, Any] | None = None, path: Path | None = None) -> None:
        self.vae = vae.eval()
        self.card = card or {}
        self.path = path

    @classmethod
    def load(cls, path: str | Path | None = None) -> Model:
        path = Path(path) if path is not None else paths.bundled_weights()
        vae, card = weights.load(path)
        return cls(vae, card, path)

    @classmethod
    def from_state(cls, config: VAEConfig, state: dict[str, torch.Tensor], card: dict[str, Any]) -> Model:
        """An unsaved model from a config and a state dict (a training run's snapshot)."""
        vae = VAE(config)
        vae.load_state_dict(state)
        return cls(vae, card, None)

    def state(self) -> dict[str, torch.Tensor]:
        """A copy of the weights, to start a training run from."""
        return {k: v.detach().clone() for k, v in self.vae.state_dict().items()}

    @property
    def config(self) -> VAEConfig:
        return self.vae.config

    @property
    def name(self) -> str:
        return self.path.name if self.path is not None else "unsaved model"

    @property
    def test_neg_elbo(self) -> float | None:
        metrics = self.card.get("test_metrics")  # None until a run has been evaluated
        value = metrics.get("neg_elbo") if isinstance(metrics, dict) else None
        return float(value) if isinstance(value, int | float) else None

    def encode(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, 28, 28) or (28, 28) in [0, 1] -> posterior mean and log-variance, (N, 2) each."""
        x = np.asarray(images, dtype=np.float32)
        if x.shape[-2:] != (28, 28):
            raise ValueError(f"images must be 28 x 28, got shape {x.shape}")
        x = x.reshape(-1, 1, 28, 28)
        with torch.inference_mode():
            mu, logvar = self.vae.encode(torch.from_numpy(x))
        return mu.numpy(), logvar.numpy()

    def decode(self, z: np.ndarray) -> np.ndarray:
        """Latent points (N, 2) or (2,) -> images (N, 28, 28) float32 in [0, 1]."""
        z = np.asarray(z, dtype=np.float32).reshape(-1, self.config.latent_dim)
        with torch.inference_mode():
            return self.vae.decode(torch.from_numpy(z))[:, 0].numpy()


def morph_path(a: np.ndarray, b: np.ndarray, steps: int = 40, great_circle: bool = False) -> np.ndarray:
    """Latent points from a to b, (steps, D): a straight line, or spherical interpolation
    (slerp; White 2016, "Sampling Generative Networks"), which keeps to where the prior
    puts its mass instead of cutting through the low-norm middle."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    t = np.linspace(0.0, 1.0, steps)[:, None]
    if great_circle:
        cos = np.dot(a, b) / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12)
        omega = np.arccos(np.clip(cos, -1.0, 1.0))
        if np.sin(omega) > 1e-6:
            return ((np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)).astype(np.float32)
    return ((1 - t) * a + t * b).astype(np.float32)


def tile(images: np.ndarray, columns: int) -> np.ndarray:
    """(N, 28, 28) -> one image of `columns` digits per row (missing cells black)."""
    n, h, w = images.shape
    rows = -(-n // columns)
    out = np.zeros((rows * h, columns * w), dtype=images.dtype)
    for i, im in enumerate(images):
        r, c = divmod(i, columns)
        out[r * h : (r + 1) * h, c * w : (c + 1) * w] = im
    return out
