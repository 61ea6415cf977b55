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
