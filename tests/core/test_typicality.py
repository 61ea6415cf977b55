"""How typical a drawing is: its IWAE-64 log-likelihood as a percentile of the test set's."""

from __future__ import annotations

import hashlib
import shutil

import numpy as np
import pytest
import torch

from vaedesk.core import paths, typicality
from vaedesk.core.api import Model
from vaedesk.core.evaluate import IWAE_CHUNK, iwae_estimates


def test_the_viewers_estimate_is_the_evaluations_iwae_bound(mnist_test):
    model = Model.load()
    images = mnist_test[0][:12]
    theirs = -iwae_estimates(model.vae, images, k=64, seed=3)
    # the evaluation's noise: one seeded generator, drawn chunk by chunk
    per_chunk = IWAE_CHUNK // 64
    gen = torch.Generator().manual_seed(3)
    ours = np.concatenate(
        [
            typicality.log_likelihood(
                model, images[i : i + per_chunk], noise=torch.randn((64, per_chunk, 2), generator=gen).numpy()
            )
            for i in range(0, len(images), per_chunk)
        ]
    )
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=2e-3)


def test_percentiles_place_a_value_among_the_test_sets():
    values = np.arange(1000, dtype=np.float64)
    scale = typicality.Scale(np.quantile(values, np.linspace(0, 1, typicality.QUANTILES)), len(values))
    assert scale.percentile(380.0) == pytest.approx(38.0, abs=0.1)
    assert scale.percentile(-5.0) == 0.0 and scale.percentile(5000.0) == 100.0
    assert typicality.Typicality(380.0, 38.0).describe().endswith("more typical than 38 % of test digits")
    assert "seen few digits like this" in typicality.Typicality(-900.0, 0.4).describe()
    assert "seen few digits like this" in typicality.Typicality(0.0, 99.6).describe()


def test_the_scale_is_measured_once_then_read_from_the_cache(mnist_test, monkeypatch):
    model = Model.load()
    images = mnist_test[0][:24]
    first = typicality.cached_scale(model, images)
    expected = np.quantile(typicality.log_likelihood(model, images[:8], seed=0), 0.5)
    assert first.n == 24 and np.isfinite(first.quantiles).all()
    assert first.quantiles[0] <= expected <= first.quantiles[-1]
    monkeypatch.setattr(typicality.Scale, "measure", lambda *a, **k: pytest.fail("measured again"))
    again = typicality.cached_scale(model, images)
    np.testing.assert_allclose(again.quantiles, first.quantiles, atol=1e-4)


def test_an_empty_square_and_a_test_digit_are_told_apart(mnist_test):
    model = Model.load()
    scale = typicality.Scale.measure(model, mnist_test[0][:64])
    blank = typicality.typicality(model, np.zeros((28, 28), np.float32), scale)
    noise = typicality.typicality(model, np.random.default_rng(0).random((28, 28), np.float32), scale)
    assert noise.unusual and noise.percentile == 0.0
    assert blank.log_px > noise.log_px


def test_a_scale_shipped_beside_the_weights_is_used_only_for_those_weights(tmp_path, mnist_test, monkeypatch):
    copy = tmp_path / "m.safetensors"
    shutil.copyfile(paths.bundled_weights(), copy)
    model, images = Model.load(copy), mnist_test[0][:16]
    shipped = typicality.Scale(np.linspace(-300.0, -50.0, typicality.QUANTILES), len(images))
    digest = hashlib.sha256(copy.read_bytes()).hexdigest()
    typicality.write_scale(typicality.shipped_file(copy), shipped, digest)
    monkeypatch.setattr(typicality.Scale, "measure", lambda *a, **k: pytest.fail("measured"))
    np.testing.assert_allclose(typicality.cached_scale(model, images).quantiles, shipped.quantiles)
    typicality.write_scale(typicality.shipped_file(copy), shipped, "another model's")
    measured = typicality.Scale(np.linspace(-200.0, -90.0, typicality.QUANTILES), len(images))
    monkeypatch.setattr(typicality.Scale, "measure", lambda *a, **k: measured)
    assert typicality.cached_scale(model, images) is measured
