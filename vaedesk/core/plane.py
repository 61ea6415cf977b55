"""The plane of the latent space that the map shows.

A 2-D model's map is its whole latent space. For a model with more dimensions the map
shows the test set's posterior means projected on the plane of their first two
principal components: map coordinates are distances along those two directions from the
means' centre. Hovering decodes the point of the latent space at those coordinates; every
other direction is held at the centre's value (or, once the plane is moved through a
chosen point, at that point's value), so what the map loses is the variation across the
other N - 2 directions, which the axis labels quantify.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class Plane:
    origin: np.ndarray  # (D,): the latent point at map coordinates (0, 0) before any offset
    basis: np.ndarray  # (2, D): orthonormal directions of the map's x and y axes
    labels: tuple[str, str]  # the map's axis labels
    offset: np.ndarray | None = None  # (D,): the off-plane part added to every lifted point

    @classmethod
    def identity(cls, dim: int = 2) -> Plane:
        """The first two latent axes through 0: the whole space of a 2-D model."""
        basis = np.eye(2, dim)
        return cls(np.zeros(dim), basis, ("z\u2081", "z\u2082"))

    @classmethod
    def principal(cls, points: np.ndarray) -> Plane:
        """The plane of the first two principal components of `points` (N, D), through
        their mean; the labels give the share of the variance along each."""
        points = np.asarray(points, np.float64)
        centre = points.mean(axis=0)
        _, s, vt = np.linalg.svd(points - centre, full_matrices=False)
        share = s**2 / max(float((s**2).sum()), 1e-12)
        first, second = (f"PC {i + 1} ({100 * share[i]:.0f} % of the variance)" for i in range(2))
        return cls(centre, vt[:2], (first, second))

    @classmethod
    def for_points(cls, dim: int, points: np.ndarray | None) -> Plane:
        """The identity for 2-D models, the principal plane of `points` otherwise."""
        if dim == 2 or points is None or len(points) < 3:
            return cls.identity(dim)
        return cls.principal(points)

    @property
    def dim(self) -> int:
        return self.basis.shape[1]

    @property
    def is_whole_space(self) -> bool:
        return self.dim == 2

    def project(self, z: np.ndarray) -> np.ndarray:
        """Latent points (N, D) or (D,) -> map coordinates (N, 2) or (2,), float32."""
        z = np.asarray(z, np.float64)
        return ((z - self.origin) @ self.basis.T).astype(np.float32)

    def lift(self, xy: np.ndarray) -> np.ndarray:
        """Map coordinates (N, 2) or (2,) -> the latent points there, float32."""
        z = self.origin + np.asarray(xy, np.float64) @ self.basis
        if self.offset is not None:
            z = z + self.offset
        return z.astype(np.float32)

    def through(self, point: np.ndarray | None) -> Plane:
        """The same plane moved to pass through `point` (D,), keeping the map's coordinates:
        hovering at the point's own position then decodes exactly the point. None: back
        through the centre."""
        if point is None:
            return replace(self, offset=None)
        point = np.asarray(point, np.float64)
        rel = point - self.origin
        return replace(self, offset=rel - (rel @ self.basis.T) @ self.basis)

    def spread(self, sigma: np.ndarray) -> np.ndarray:
        """Per-dimension standard deviations (D,) -> those of the projection along the two
        axes (2,) (diagonal: the covariance between them is left out)."""
        return np.sqrt((np.asarray(sigma, np.float64) ** 2) @ (self.basis**2).T).astype(np.float32)


def central_range(points: np.ndarray, low: float = 0.2, high: float = 99.8) -> tuple[np.ndarray, np.ndarray]:
    """Per column, the `low` and `high` percentiles of `points` (N, D), interpolated
    linearly as np.percentile does. Written out because np.percentile's first call imports
    numpy.ma, 30 ms of every start-up for the map's opening view."""
    ordered = np.sort(np.asarray(points, dtype=np.float64), axis=0)
    last = len(ordered) - 1

    def at(q: float) -> np.ndarray:
        position = q / 100 * last
        below = int(np.floor(position))
        above = min(below + 1, last)
        return ordered[below] + (ordered[above] - ordered[below]) * (position - below)

    return at(low), at(high)
