"""The map's plane through a latent space of more than two dimensions: principal
components computed here with numpy's eigendecomposition, independently of the SVD the
code uses."""

from __future__ import annotations

import numpy as np

from vaedesk.core.plane import Plane


def cloud(n: int = 4000, dim: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Points with standard deviations 3, 2, 1, 0.5, ... along a random rotation's axes."""
    rng = np.random.default_rng(seed)
    rotation, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    scales = np.array([3.0, 2.0, 1.0, 0.5, 0.25][:dim])
    return rng.standard_normal((n, dim)) * scales @ rotation.T + 1.5, rotation


def test_the_principal_plane_spans_the_two_widest_directions():
    points, _ = cloud()
    plane = Plane.principal(points)
    values, vectors = np.linalg.eigh(np.cov(points.T))
    top = vectors[:, ::-1][:, :2].T  # the two largest eigenvectors
    np.testing.assert_allclose(np.abs(plane.basis @ top.T), np.eye(2), atol=0.02)
    np.testing.assert_allclose(plane.basis @ plane.basis.T, np.eye(2), atol=1e-9)
    share = values[::-1] / values.sum()
    assert plane.labels == tuple(f"PC {i + 1} ({100 * share[i]:.0f} % of the variance)" for i in range(2))


def test_lift_and_project_are_inverse_on_the_map_and_through_keeps_coordinates():
    points, _ = cloud()
    plane = Plane.principal(points)
    xy = np.random.default_rng(1).normal(size=(50, 2)).astype(np.float32)
    np.testing.assert_allclose(plane.project(plane.lift(xy)), xy, atol=1e-4)
    p = points[7]
    moved = plane.through(p)
    np.testing.assert_allclose(moved.project(points), plane.project(points), atol=1e-6)  # the map stays
    np.testing.assert_allclose(moved.lift(plane.project(p)), p, atol=1e-4)  # its own place decodes it
    np.testing.assert_allclose(moved.through(None).lift(xy), plane.lift(xy), atol=1e-6)


def test_two_dimensions_are_the_whole_space_and_spread_projects_sigma():
    plane = Plane.for_points(2, np.random.default_rng(0).normal(size=(100, 2)))
    assert plane.is_whole_space and plane.labels == ("z\u2081", "z\u2082")
    z = np.float32([[0.3, -1.2]])
    np.testing.assert_array_equal(plane.project(z), z)
    np.testing.assert_array_equal(plane.lift(z), z)
    points, _ = cloud(dim=3)
    plane = Plane.principal(points)
    sigma = np.array([0.5, 1.0, 2.0])
    samples = np.random.default_rng(2).normal(size=(200000, 3)) * sigma
    np.testing.assert_allclose(plane.spread(sigma), (samples @ plane.basis.T).std(axis=0), rtol=0.02)


def test_the_maps_opening_range_is_numpys_percentiles_without_importing_numpy_ma():
    import subprocess
    import sys

    from vaedesk.core.plane import central_range

    rng = np.random.default_rng(3)
    for n in (1, 2, 9, 10000):
        points = rng.normal(size=(n, 2)).astype(np.float32) * 40
        lo, hi = central_range(points)
        expected_lo, expected_hi = np.percentile(points, [0.2, 99.8], axis=0)
        np.testing.assert_allclose(lo, expected_lo, rtol=1e-12)
        np.testing.assert_allclose(hi, expected_hi, rtol=1e-12)
    code = (
        "import sys, numpy as np; from vaedesk.core.plane import central_range; "
        "central_range(np.ones((5, 2))); print('numpy.ma' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"  # np.percentile's first call imports it: 30 ms of start-up
