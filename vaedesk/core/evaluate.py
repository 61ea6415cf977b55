"""Test metrics: the negative ELBO and its terms, an importance-weighted bound, latent kNN."""

from __future__ import annotations

import math

import numpy as np
import torch

from vaedesk.core.model import VAE, kl_divergence, log_normal, reconstruction_loss
from vaedesk.core.neighbours import knn_accuracy
from vaedesk.core.train import as_tensor


@torch.no_grad()
def encode_means(model: VAE, images: np.ndarray, batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """Posterior means and log-variances, (N, D) each, for uint8 or [0, 1] images."""
    model.eval()
    mus, logvars = [], []
    for start in range(0, len(images), batch_size):
        mu, logvar = model.encode(as_tensor(images[start : start + batch_size]))
        mus.append(mu)
        logvars.append(logvar)
    return torch.cat(mus).numpy(), torch.cat(logvars).numpy()


@torch.no_grad()
def negative_elbo(model: VAE, images: np.ndarray, seed: int = 0, batch_size: int = 500) -> dict[str, float]:
    """-ELBO in nats per image with the Bernoulli (BCE) likelihood on [0, 1] intensities and
    beta = 1, whatever the model was trained with; one posterior sample per image."""
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    recon_sum = kl_sum = 0.0
    for start in range(0, len(images), batch_size):
        x = as_tensor(images[start : start + batch_size])
        mu, logvar = model.encode(x)
        z = mu + torch.randn(mu.shape, generator=gen) * torch.exp(0.5 * logvar)
        recon_sum += reconstruction_loss(model.decode_logits(z), x, "bce").sum().item()
        kl_sum += kl_divergence(mu, logvar).sum().item()
    n = len(images)
    return {"neg_elbo": (recon_sum + kl_sum) / n, "recon": recon_sum / n, "kl": kl_sum / n}


@torch.no_grad()
def iwae_bound(model: VAE, images: np.ndarray, k: int = 64, seed: int = 0, batch_size: int = 100) -> float:
    """-log p(x) bounded above with k importance samples (Burda et al. 2016), nats per image.

    k = 1 is the -ELBO; it tightens as k grows."""
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    total = 0.0
    for start in range(0, len(images), batch_size):
        x = as_tensor(images[start : start + batch_size])  # (B, 1, 28, 28)
        mu, logvar = model.encode(x)  # (B, D)
        eps = torch.randn((k, *mu.shape), generator=gen)
        z = mu + eps * torch.exp(0.5 * logvar)  # (k, B, D)
        logits = model.decode_logits(z.flatten(0, 1))  # (k*B, 1, 28, 28)
        log_px_z = -reconstruction_loss(logits, x.repeat(k, 1, 1, 1), "bce").view(k, -1)
        log_pz = log_normal(z, torch.zeros_like(z), torch.zeros_like(z))
        log_qz = log_normal(z, mu, logvar)
        log_w = log_px_z + log_pz - log_qz  # (k, B)
        total -= (torch.logsumexp(log_w, dim=0) - math.log(k)).sum().item()
    return total / len(images)


def evaluate(
    model: VAE,
    test: tuple[np.ndarray, np.ndarray],
    train: tuple[np.ndarray, np.ndarray] | None,
    k_iwae: int = 64,
    seed: int = 0,
) -> dict[str, float]:
    """All test metrics; the kNN accuracy needs the training set's means."""
    images, labels = test
    metrics: dict[str, float] = {"n_test": len(images), **negative_elbo(model, images, seed=seed)}
    if k_iwae > 0:
        metrics[f"iwae_k{k_iwae}"] = iwae_bound(model, images, k=k_iwae, seed=seed)
    if train is not None:
        test_mu, _ = encode_means(model, images)
        train_mu, _ = encode_means(model, train[0])
        metrics["knn5_accuracy"] = knn_accuracy(train_mu, train[1], test_mu, labels, k=5)
    return metrics
