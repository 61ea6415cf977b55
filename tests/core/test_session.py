"""The session behind the window, driven with no display and no Qt."""

from __future__ import annotations

import numpy as np
import pytest

from vaedesk import load_model
from vaedesk.core import data
from vaedesk.core.session import MORPH_STEPS, N_SAMPLES, Session


@pytest.fixture
def session(mnist_dir):
    s = Session(load_model(), mnist_dir)
    s.load_test_set()
    return s


def test_nearest_is_the_brute_force_nearest_among_shown_digits(session):
    rng = np.random.default_rng(0)
    mu, labels = session.test.mu.astype(np.float64), session.test.labels
    for x, y in rng.uniform(-3, 3, size=(20, 2)):
        expected = min(range(len(mu)), key=lambda i: (mu[i, 0] - x) ** 2 + (mu[i, 1] - y) ** 2)
        assert session.nearest(x, y) == expected
    session.set_digit_hidden(int(labels[expected]), True)
    assert labels[session.nearest(x, y)] != labels[expected]
    for d in range(10):
        session.set_digit_hidden(d, True)
    assert session.nearest(0, 0) is None


def test_the_nearest_test_digits_of_a_typed_point_far_out_are_the_furthest_that_way(session):
    """'3e38 -3e38' typed in go to z is finite in float32: its nearest test digits are
    those furthest out towards it, found without overflow (a RuntimeWarning, and ties in
    inf that gave the first eight test images, before)."""
    mu = session.test.mu.astype(np.float64)
    images = data.to_float(session.test.images)
    z = session.parse_point("3e38 -3e38")
    furthest = np.argsort(-(mu[:, 0] - mu[:, 1]), kind="stable")[:8]
    np.testing.assert_array_equal(session.neighbours(z, 8), images[furthest])
    # and near the points, the brute-force nearest, nearest first
    for point in ([0.5, -1.25], [12.0, 3.0]):
        d2 = ((mu - np.array(point)) ** 2).sum(axis=1)
        np.testing.assert_array_equal(session.neighbours(np.float32(point), 8), images[np.argsort(d2)[:8]])


def test_select_and_step_wrap_round(session):
    n = len(session.test.labels)
    s = session.select(n - 1)
    assert s.index == n - 1 and s.label == session.test.labels[n - 1]
    np.testing.assert_array_equal(s.image, session.test.images[n - 1] / np.float32(255))
    assert session.step(1).index == 0 and session.step(-1).index == n - 1


def test_morph_needs_two_clicks_and_decodes_its_path(session):
    assert session.morph_click(0, 0) is None and session.morph is None
    m = session.morph_click(1, 2)
    assert m.path.shape == (MORPH_STEPS, 2) and m.frames.shape == (MORPH_STEPS, 28, 28)
    np.testing.assert_allclose(m.frames[-1], session.model.decode([1, 2])[0], atol=1e-6)
    assert session.morph_strip().shape == (28, 28 * 12)


def test_samples_come_from_the_prior_and_are_decoded(session):
    tile = session.sample_prior(np.random.default_rng(1))
    assert session.samples.shape == (N_SAMPLES, 2) and tile.shape == (112, 112)
    np.testing.assert_allclose(tile[:28, :28], session.model.decode(session.samples[0])[0], atol=1e-6)


def test_drawing_trail_grows_only_when_a_stroke_ends(session):
    ink = np.zeros((280, 280), np.float32)
    ink[40:240, 130:150] = 1.0  # a one
    assert session.encode_drawing(ink, stroke_done=False).trail.shape == (0, 2)
    enc = session.encode_drawing(ink, stroke_done=True)
    assert enc.trail.shape == (1, 2) and enc.guess is not None
    assert session.encode_drawing(np.zeros((280, 280), np.float32)) is enc  # too faint: unchanged
    assert session.encode_drawing(None) is None and session.drawing is None


def test_a_new_model_reencodes_everything(session, tiny_model):
    ink = np.zeros((280, 280), np.float32)
    ink[40:240, 130:150] = 1.0
    session.encode_drawing(ink, stroke_done=True)
    session.sample_prior()
    session.set_model(tiny_model)
    expected, _ = tiny_model.encode(session.test.images[:5] / np.float32(255))
    np.testing.assert_allclose(session.test.mu[:5], expected, rtol=1e-5, atol=1e-5)
    assert len(session.samples) == 0 and session.drawing.mu.shape == (2,)


def test_missing_data_leaves_no_test_set(tmp_path):
    s = Session(load_model(), tmp_path)
    with pytest.raises(data.DataError):
        s.load_test_set()
    assert s.test is None and s.nearest(0, 0) is None and s.select(3) is None


def test_a_field_announces_a_change_and_only_a_change(session):
    heard = []
    session.events.selected.connect(lambda new, old: heard.append((new, old)))
    session.events.hidden_digits.connect(lambda new: heard.append(new))
    session.select(3)
    session.select(3)  # the same image again: no event
    session.set_digit_hidden(4, True)
    session.set_digit_hidden(4, True)
    assert heard == [(3, None), frozenset({4})]


def test_assigning_a_model_is_enough_for_everything_that_depends_on_it(session, tiny_model):
    """One assignment: the test set is re-encoded, the plane replaced, the overlays of the
    old model cleared and the digit at the cursor decoded again, each announced once,
    and the session's own consequences are in place before any view hears of the model."""
    session.sample_prior()
    session.hover(0.5, -0.5)
    heard = []
    for name in ("model", "test", "plane", "samples", "shown"):
        getattr(session.events, name).connect(lambda *_, name=name: heard.append(name))
    seen_by_view = []
    session.events.model.connect(lambda m: seen_by_view.append((session.test.mu.copy(), session.shown)))
    session.model = tiny_model
    assert sorted(heard) == ["model", "plane", "samples", "shown", "test"]
    expected, _ = tiny_model.encode(session.test.images[:5] / np.float32(255))
    np.testing.assert_allclose(seen_by_view[0][0][:5], expected, rtol=1e-5, atol=1e-5)
    z = session.latent_at(*session.cursor)
    np.testing.assert_allclose(seen_by_view[0][1].image, tiny_model.decode(z)[0], atol=1e-6)


def test_the_latent_cache_keeps_the_most_recently_used_models(tmp_path, mnist_test, monkeypatch):
    """One cached encoding per model file grew without end: only the CACHED_MODELS most
    recently used stay, and one just read counts as used."""
    import os

    import torch

    from vaedesk.core import digits, paths, weights
    from vaedesk.core.api import Model
    from vaedesk.core.model import VAE, VAEConfig

    monkeypatch.setattr(paths, "user_cache_dir", lambda: tmp_path / "cache")
    images, labels = mnist_test[0][:50], mnist_test[1][:50]
    torch.manual_seed(0)
    vae = VAE(VAEConfig(arch="mlp"))
    models = []
    for i in range(digits.CACHED_MODELS + 3):
        path = tmp_path / f"m{i}.safetensors"
        weights.save(path, vae, {})
        models.append(Model.load(path))
    n = len(models)
    cached = {}
    for i, model in enumerate(models[:-1]):
        digits.encode_test_set(model, images, labels)
        cached[i] = digits._cache_file(model)
        os.utime(cached[i], ns=(10**18 + i * 10**9, 10**18 + i * 10**9))  # written in this order
    oldest_kept = n - 1 - digits.CACHED_MODELS
    digits.encode_test_set(models[oldest_kept], images, labels)  # read from the cache: used now
    digits.encode_test_set(models[-1], images, labels)  # a new model: the least recently used goes
    kept = set((tmp_path / "cache" / "latents").glob("*.npz"))
    expected = {cached[i] for i in range(oldest_kept + 2, n - 1)} | {cached[oldest_kept]}
    assert kept == expected | {digits._cache_file(models[-1])}
    assert len(kept) == digits.CACHED_MODELS
