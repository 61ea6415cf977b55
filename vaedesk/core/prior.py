"""A model's latent prior on the viewer's side, in numpy (no torch): sampling, density,
the regions holding given fractions of its mass, and paths that keep to its mass.

The prior is the standard normal N(0, I) or a learned mixture of Gaussians (see
`vaedesk.core.model.MixturePrior`, whose parameters the weights file holds as
`prior.means`, `prior.logvars` and `prior.logits`). Everything in the window that uses
the prior (samples, its contours, great-circle morphs, the default view) asks this.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vaedesk.core.config import PRIOR_LOGVAR_FLOOR, VAEConfig

# The fractions of the mass inside the standard normal's 1, 2 and 3 sigma circles in two
# dimensions (1 - exp(-r^2 / 2)): the contours drawn for any prior enclose these.
SIGMA_MASSES = (1 - np.exp(-0.5), 1 - np.exp(-2.0), 1 - np.exp(-4.5))


@dataclass(frozen=True)
class Prior:
    means: np.ndarray  # (K, D)
    logvars: np.ndarray  # (K, D)
    log_weights: np.ndarray  # (K,), log of weights that sum to 1

    @classmethod
    def standard(cls, dim: int) -> Prior:
        return cls(np.zeros((1, dim)), np.zeros((1, dim)), np.zeros(1))

    @classmethod
    def of(cls, config: VAEConfig, tensors: dict[str, np.ndarray]) -> Prior:
        """The prior of a model with this config and these parameters (name -> array)."""
        if config.prior == "normal":
            return cls.standard(config.latent_dim)
        if config.prior == "vamp":  # `VAE.settle_prior` makes it a mixture before any save
            raise ValueError("its prior is an unsettled VampPrior, which files never hold")
        k, d = config.components, config.latent_dim
        means, logvars, logits = (
            np.asarray(tensors.get(f"prior.{name}"), np.float64) for name in ("means", "logvars", "logits")
        )
        if means.shape != (k, d) or logvars.shape != (k, d) or logits.shape != (k,):
            raise ValueError(f"the mixture prior's parameters do not have the shapes of {k} components")
        log_weights = logits - logits.max()
        log_weights -= np.log(np.exp(log_weights).sum())
        return cls(means, np.maximum(logvars, PRIOR_LOGVAR_FLOOR), log_weights)

    @property
    def is_standard(self) -> bool:
        return len(self.means) == 1 and not self.means.any() and not self.logvars.any()

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def describe(self) -> str:
        return "N(0, I)" if self.is_standard else f"a mixture of {len(self.means)} Gaussians"

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """(n, D) float32 draws."""
        component = rng.choice(len(self.means), size=n, p=np.exp(self.log_weights))
        eps = rng.standard_normal((n, self.dim))
        return (self.means[component] + eps * np.exp(0.5 * self.logvars[component])).astype(np.float32)

    def _per_component(self, z: np.ndarray) -> np.ndarray:
        """log pi_k + log N(z; m_k, v_k) for points (N, D) -> (N, K)."""
        diff = z[:, None, :] - self.means[None]
        log_n = -0.5 * (np.log(2 * np.pi) + self.logvars + diff**2 / np.exp(self.logvars)).sum(-1)
        return log_n + self.log_weights

    def log_density(self, z: np.ndarray) -> np.ndarray:
        """log p(z) for points (N, D) -> (N,)."""
        a = self._per_component(np.asarray(z, np.float64).reshape(-1, self.dim))
        top = a.max(axis=1, keepdims=True)
        return (top + np.log(np.exp(a - top).sum(axis=1, keepdims=True)))[:, 0]

    def grad_log_density(self, z: np.ndarray) -> np.ndarray:
        """d log p / dz at points (N, D) -> (N, D)."""
        return self._log_density_and_grad(np.asarray(z, np.float64).reshape(-1, self.dim))[1]

    def _log_density_and_grad(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """log p(z), (N,), and d log p / dz, (N, D), from one pass over the components."""
        a = self._per_component(z)
        top = a.max(axis=1, keepdims=True)
        r = np.exp(a - top)
        total = r.sum(axis=1, keepdims=True)
        r /= total  # responsibilities (N, K)
        pull = (self.means[None] - z[:, None, :]) / np.exp(self.logvars)[None]  # (N, K, D)
        return (top + np.log(total))[:, 0], (r[:, :, None] * pull).sum(axis=1)

    def onto_level(self, z: np.ndarray, level: float, max_step: float, iterations: int = 4) -> np.ndarray:
        """Points (N, D) moved along the density's gradient onto {p(z) = level} by Newton
        steps on log p, none longer than `max_step`: a contour traced on a grid is only as
        exact as the grid, and a mixture with narrow components bends within one cell."""
        z = np.asarray(z, np.float64).reshape(-1, self.dim)
        target = np.log(level)
        for _ in range(iterations):
            log_p, g = self._log_density_and_grad(z)
            step = ((log_p - target) / np.maximum((g * g).sum(axis=1), 1e-12))[:, None] * g
            length = np.linalg.norm(step, axis=1, keepdims=True)
            z = z - step * np.minimum(1.0, max_step / np.maximum(length, 1e-12))
        return z

    def levels(self, masses: tuple[float, ...] = SIGMA_MASSES, n: int = 20000, seed: int = 0) -> list[float]:
        """Density thresholds whose regions {p(z) >= t} hold these fractions of the mass
        (estimated from n seeded samples); for N(0, I) in 2-D, the 1, 2, 3 sigma circles."""
        log_p = self.log_density(self.sample(n, np.random.default_rng(seed)))
        return [float(np.exp(np.quantile(log_p, 1 - m))) for m in masses]

    def extent(self) -> tuple[np.ndarray, np.ndarray]:
        """Corners of a box holding nearly all the mass: each component's mean +- 3 sigma."""
        sigma = np.exp(0.5 * self.logvars)
        return (self.means - 3 * sigma).min(axis=0), (self.means + 3 * sigma).max(axis=0)

    def path(self, a: np.ndarray, b: np.ndarray, steps: int = 40, iterations: int = 300) -> np.ndarray:
        """Latent points from a to b, (steps, D), keeping to where the prior puts its mass:
        for N(0, I) the great circle (slerp); for a mixture, the straight line pulled up the
        density's gradient while its points stay evenly spaced (an elastic band)."""
        if self.is_standard:
            return slerp(a, b, steps)
        z = line(a, b, steps).astype(np.float64)
        scale = float(np.exp(0.5 * self.logvars).mean()) ** 2  # steps in units of the components' size
        for _ in range(iterations):
            tension = z[:-2] + z[2:] - 2 * z[1:-1]
            z[1:-1] += 0.2 * tension + 0.05 * scale * self.grad_log_density(z[1:-1])
        return _even(z, steps).astype(np.float32)


def line(a: np.ndarray, b: np.ndarray, steps: int) -> np.ndarray:
    """`steps` evenly spaced points on the straight line from a to b, (steps, D) float32."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    t = np.linspace(0.0, 1.0, steps)[:, None]
    return ((1 - t) * a + t * b).astype(np.float32)


def slerp(a: np.ndarray, b: np.ndarray, steps: int) -> np.ndarray:
    """Spherical interpolation (White 2016, "Sampling Generative Networks"), which keeps to
    where N(0, I) puts its mass instead of cutting through the low-norm middle; a straight
    line between opposite or zero points."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    t = np.linspace(0.0, 1.0, steps)[:, None]
    cos = np.dot(a, b) / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12)
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    if np.sin(omega) > 1e-6:
        return ((np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)).astype(np.float32)
    return line(a, b, steps)


def _even(z: np.ndarray, steps: int) -> np.ndarray:
    """The polyline z resampled at `steps` points evenly spaced along its length."""
    seg = np.linalg.norm(np.diff(z, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    if s[-1] == 0:
        return z
    targets = np.linspace(0.0, s[-1], steps)
    return np.stack([np.interp(targets, s, z[:, j]) for j in range(z.shape[1])], axis=1)
