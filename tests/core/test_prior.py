"""The latent prior: the learned mixture in torch (training) and its numpy copy (the
viewer) agree with each other and with torch.distributions; sampling, mass contours and
prior-following paths do what they say. Expected values are computed independently."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vaedesk.core.config import VAEConfig
from vaedesk.core.model import VAE, kl_divergence
from vaedesk.core.prior import Prior


def mixture_vae(seed: int = 0, components: int = 5) -> VAE:
    torch.manual_seed(seed)
    model = VAE(VAEConfig(arch="mlp", prior="mog", components=components))
    with torch.no_grad():  # away from the initial values, so that every parameter matters
        model.prior.means.mul_(2.0)
        model.prior.logvars.uniform_(-2.0, 0.5)
        model.prior.logits.normal_()
    return model


def torch_mixture(model: VAE) -> torch.distributions.Distribution:
    p = model.prior
    components = torch.distributions.Independent(
        torch.distributions.Normal(p.means, (0.5 * p.logvars).exp()), 1
    )
    return torch.distributions.MixtureSameFamily(torch.distributions.Categorical(logits=p.logits), components)


def numpy_prior(model: VAE) -> Prior:
    tensors = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    return Prior.of(model.config, tensors)


def test_the_mixture_density_matches_torch_distributions_in_torch_and_in_numpy():
    model = mixture_vae()
    z = torch.randn(200, 2) * 3
    expected = torch_mixture(model).log_prob(z)
    torch.testing.assert_close(model.log_prior(z), expected, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(
        numpy_prior(model).log_density(z.numpy()), expected.detach().numpy(), rtol=1e-5, atol=1e-5
    )


def test_the_mixture_kl_is_an_unbiased_estimate():
    """With one standard-normal component the mixture is N(0, I), whose KL has a closed form."""
    torch.manual_seed(1)
    model = VAE(VAEConfig(arch="mlp", prior="mog", components=1))
    with torch.no_grad():
        model.prior.means.zero_()
        model.prior.logvars.zero_()
    mu, logvar = torch.tensor([[1.0, -0.5]]).expand(50000, 2), torch.tensor([[-1.0, 0.3]]).expand(50000, 2)
    z = model.reparameterize(mu, logvar)
    estimate = model.kl(mu, logvar, z).mean().item()
    exact = kl_divergence(mu[:1], logvar[:1]).item()
    assert abs(estimate - exact) < 0.02, (estimate, exact)


def test_the_standard_prior_contours_are_the_sigma_circles():
    levels = Prior.standard(2).levels(n=200000)
    for r, level in zip((1, 2, 3), levels, strict=True):
        exact = math.exp(-(r**2) / 2) / (2 * math.pi)  # N(0, I)'s density at radius r
        assert abs(level / exact - 1) < 0.05, (r, level, exact)


def test_samples_follow_the_mixture():
    prior = numpy_prior(mixture_vae())
    z = prior.sample(200000, np.random.default_rng(0))
    w = np.exp(prior.log_weights)
    mean = (w[:, None] * prior.means).sum(0)
    second = (w[:, None] * (np.exp(prior.logvars) + prior.means**2)).sum(0)  # E[z^2] per dimension
    np.testing.assert_allclose(z.mean(0), mean, atol=0.02)
    np.testing.assert_allclose((z.astype(np.float64) ** 2).mean(0), second, rtol=0.02)


def test_a_mass_contour_encloses_its_mass():
    prior = numpy_prior(mixture_vae())
    level = prior.levels(masses=(0.5,), n=100000)[0]
    check = torch_mixture(mixture_vae()).sample((100000,)).numpy()  # another sampler
    inside = (np.exp(prior.log_density(check)) >= level).mean()
    assert abs(inside - 0.5) < 0.01


def test_a_path_through_the_prior_keeps_to_its_mass():
    three = Prior(
        np.array([[-3.0, 0.0], [3.0, 0.0], [0.0, 2.5]]),
        np.full((3, 2), math.log(0.8)),
        np.log(np.full(3, 1 / 3)),
    )
    a, b = np.array([-3.0, 0.0]), np.array([3.0, 0.0])
    path = three.path(a, b, steps=40)
    straight = np.linspace(a, b, 40)
    np.testing.assert_allclose(path[[0, -1]], [a, b], atol=1e-6)
    assert three.log_density(path).min() > three.log_density(straight).min() + 1.0  # it goes round the gap
    steps = np.linalg.norm(np.diff(path, axis=0), axis=1)
    assert steps.max() < 1.05 * steps.mean()  # evenly spaced: the morph moves at one speed


def test_the_standard_path_is_the_great_circle():
    path = Prior.standard(2).path(np.array([2.0, 0.0]), np.array([0.0, 2.0]), steps=20)
    np.testing.assert_allclose(np.hypot(path[:, 0], path[:, 1]), 2.0, atol=1e-5)


def test_a_mixture_with_the_wrong_shapes_is_refused():
    model = mixture_vae(components=5)
    tensors = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match="shapes of 6 components"):
        Prior.of(VAEConfig(arch="mlp", prior="mog", components=6), tensors)
    with pytest.raises(ValueError, match="unsettled VampPrior"):  # files hold its mixture, never it
        Prior.of(VAEConfig(arch="mlp", prior="vamp", components=5), tensors)
    with pytest.raises(ValueError, match="unknown prior"):
        VAEConfig(prior="laplace")


def test_points_are_moved_onto_the_exact_density_level():
    model = mixture_vae(seed=3)
    with torch.no_grad():  # narrow components, whose contours bend within a grid cell
        model.prior.logvars.uniform_(-4.0, -1.0)
    prior, mixture = numpy_prior(model), torch_mixture(model)
    level = prior.levels()[0]
    # Points near the level set: samples whose density is within a factor 3 of it.
    z = prior.sample(20000, np.random.default_rng(0)).astype(np.float64)
    log_p = mixture.log_prob(torch.from_numpy(z)).detach().numpy()
    near = z[np.abs(log_p - np.log(level)) < np.log(3)]
    assert len(near) > 100
    moved = prior.onto_level(near, level, max_step=0.1)
    after = mixture.log_prob(torch.from_numpy(moved)).detach().numpy()
    assert np.abs(after - np.log(level)).max() < 1e-3
    assert np.linalg.norm(moved - near, axis=1).max() < 4 * 0.1  # no step over max_step
