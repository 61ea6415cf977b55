"""Test metrics: the negative ELBO and its terms, an importance-weighted bound, latent kNN.

Each long step reports progress as `progress(stage, done, total)`, in images. The IWAE
bound decodes k samples per image (640,000 decodes for k = 64 on the test set); it runs
the decoder on ONNX Runtime over all cores in chunks of about `IWAE_CHUNK` samples,
measured fastest here (0.12 ms a sample against torch's 0.17 ms on 2 cores).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from vaedesk.core.model import VAE, frozen, log_normal, one_hot, reconstruction_loss
from vaedesk.core.neighbours import knn_predict, recall_by_class
from vaedesk.core.train import as_tensor

Progress = Callable[[str, int, int], None]  # (stage, images done, images in all)
# latent points (M, D), and a conditional model's digits (M,) or None -> logits (M, 1, 28, 28)
Decoder = Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]
BINARIZE_SEED = 0  # the binarized test set's pixels; the training images' use seed + 1
NETWORK_BATCH = 50  # images through the networks at once where no gradient is kept (same figures as 100)
IWAE_CHUNK = 256  # samples per decoder call: measured 0.120 ms a sample at 64-256, 0.130 at 512


def silent(stage: str, done: int, total: int) -> None:
    pass


@torch.inference_mode()
def encode_means(
    model: VAE,
    images: np.ndarray,
    batch_size: int = 100,
    progress: Progress = silent,
    stage: str = "",
    labels: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Posterior means and log-variances, (N, D) each, for uint8 or [0, 1] images (and a
    conditional model's digits of them). In batches of 100: the conv encoder's activations
    for 1,000 images took 117 MB (measured); the results are the same at any batch size.
    Each batch's results are written into the arrays returned, not kept as small tensors
    between the batches' large freed ones (which kept the worker's heap from being
    reused: issue #34)."""
    model.eval()
    d = model.config.latent_dim
    mus, logvars = np.empty((len(images), d), np.float32), np.empty((len(images), d), np.float32)
    y_all = _labels(model, labels)
    for start in range(0, len(images), batch_size):
        y = y_all[start : start + batch_size] if y_all is not None else None
        mu, logvar = model.encode(as_tensor(images[start : start + batch_size]), y)
        mus[start : start + batch_size], logvars[start : start + batch_size] = mu.numpy(), logvar.numpy()
        del mu, logvar
        progress(stage, min(start + batch_size, len(images)), len(images))
    return mus, logvars


def _labels(model: VAE, labels: np.ndarray | None) -> torch.Tensor | None:
    """A conditional model's digits as a tensor; None for any other model."""
    if not model.config.conditional:
        return None
    if labels is None:
        raise ValueError("a conditional model is evaluated on images with their digits")
    return torch.from_numpy(np.asarray(labels, np.int64))


def _part(t: torch.Tensor | None, start: int) -> torch.Tensor | None:
    """The `NETWORK_BATCH` rows of `t` from `start` (None stays None)."""
    return t[start : start + NETWORK_BATCH] if t is not None else None


@torch.inference_mode()
def negative_elbo(
    model: VAE,
    images: np.ndarray,
    seed: int = 0,
    batch_size: int = 500,
    progress: Progress = silent,
    labels: np.ndarray | None = None,
) -> dict[str, float]:
    """-ELBO in nats per image with the Bernoulli (BCE) likelihood on [0, 1] intensities and
    beta = 1, whatever the model was trained with; one posterior sample per image (which
    also gives the KL to a mixture prior, see `VAE.kl`)."""
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    recon_sum = kl_sum = 0.0
    y_all = _labels(model, labels)
    d, b = model.config.latent_dim, NETWORK_BATCH
    # one set of buffers for every batch, written part by part (see `encode_means`)
    mu_buf, logvar_buf = torch.empty(batch_size, d), torch.empty(batch_size, d)
    recon_buf = torch.empty(batch_size)
    for start in range(0, len(images), batch_size):
        x = as_tensor(images[start : start + batch_size])
        y = y_all[start : start + batch_size] if y_all is not None else None
        # The networks run on parts of the batch (the conv decoder's activations for 500
        # images took 225 MB, measured); the noise is drawn for the whole batch, so that
        # the figures stay those of earlier versions.
        mu, logvar, recon = mu_buf[: len(x)], logvar_buf[: len(x)], recon_buf[: len(x)]
        for i in range(0, len(x), b):
            mu[i : i + b], logvar[i : i + b] = model.encode(x[i : i + b], _part(y, i))
        z = mu + torch.randn(mu.shape, generator=gen) * torch.exp(0.5 * logvar)
        for i in range(0, len(x), b):
            logits = model.decode_logits(z[i : i + b], _part(y, i))
            recon[i : i + b] = reconstruction_loss(logits, x[i : i + b], "bce")
            del logits
        recon_sum += recon.sum().item()
        kl_sum += model.kl(mu, logvar, z).sum().item()
        del x, z
        progress("-ELBO", min(start + batch_size, len(images)), len(images))
    n = len(images)
    return {"neg_elbo": (recon_sum + kl_sum) / n, "recon": recon_sum / n, "kl": kl_sum / n}


def amortization_gap(
    model: VAE,
    images: np.ndarray,
    steps: int = 300,
    lr: float = 1e-2,
    samples: int = 64,
    seed: int = 0,
    progress: Progress = silent,
    stage: str = "q",
) -> dict[str, float]:
    """How much better each image's posterior could be than the one the encoder gives it
    (Cremer et al. 2018, "Inference Suboptimality in Variational Autoencoders").

    -ELBO in nats per image with the encoder's q(z|x), then with each image's mean and
    log-variance optimised on their own (`steps` Adam steps of 4 samples, the networks
    fixed), both estimated with `samples` posterior samples an image. An encoder that
    fits its training images much better than new ones shows a gap far larger on test
    images than on training images. Progress is reported in optimiser steps."""
    model.eval()
    x = as_tensor(images)
    gen = torch.Generator().manual_seed(seed)

    def neg_elbo(mu: torch.Tensor, logvar: torch.Tensor, n: int) -> torch.Tensor:  # (N,)
        total = torch.zeros(len(x))
        for _ in range(n):
            z = mu + torch.randn(mu.shape, generator=gen) * torch.exp(0.5 * logvar)
            total = total + reconstruction_loss(model.decode_logits(z), x, "bce") + model.kl(mu, logvar, z)
        return total / n

    with torch.no_grad():
        mu, logvar = model.encode(x)
        amortized = neg_elbo(mu, logvar, samples).mean().item()
    params = [mu.clone().requires_grad_(True), logvar.clone().requires_grad_(True)]
    with frozen(model.parameters()):
        optimizer = torch.optim.Adam(params, lr=lr)
        for step in range(steps):
            optimizer.zero_grad(set_to_none=True)
            neg_elbo(params[0], params[1], 4).sum().backward()
            optimizer.step()
            progress(stage, step + 1, steps)
        with torch.no_grad():
            optimized = neg_elbo(params[0], params[1], samples).mean().item()
    return {"amortized": amortized, "optimized": optimized, "gap": amortized - optimized}


def onnx_decoder(model: VAE) -> Decoder | None:
    """The model's decoder logits on ONNX Runtime with every core, or None (then torch)."""
    try:
        from vaedesk.core.export import export
        from vaedesk.core.onnx_runtime import DECODER, ENCODER, OnnxModel

        graphs = export(model)
        # our own export of a model in memory: its large batches need no cap
        runtime = OnnxModel(graphs[ENCODER], graphs[DECODER], threads=torch.get_num_threads(), bounded=False)
    except Exception:  # noqa: BLE001 - no onnx package, an op it cannot export: torch does it all
        return None
    return lambda z, y: torch.from_numpy(
        runtime.decode_logits(z.numpy(), None if y is None else one_hot(y).numpy())
    ).unsqueeze(1)


def iwae_bound(
    model: VAE,
    images: np.ndarray,
    k: int = 64,
    seed: int = 0,
    progress: Progress = silent,
    decoder: Decoder | None = None,
    labels: np.ndarray | None = None,
) -> float:
    """-log p(x) bounded above with k importance samples (Burda et al. 2016), nats per image
    (for a conditional model, -log p(x | digit)).

    k = 1 is the -ELBO; it tightens as k grows. `decoder` gives the logits (default: the
    torch model's)."""
    return float(iwae_estimates(model, images, k, seed, progress, decoder, labels).mean())


@torch.no_grad()
def iwae_estimates(
    model: VAE,
    images: np.ndarray,
    k: int = 64,
    seed: int = 0,
    progress: Progress = silent,
    decoder: Decoder | None = None,
    labels: np.ndarray | None = None,
) -> np.ndarray:
    """`iwae_bound` per image, (N,): their spread gives the estimate's standard error."""
    model.eval()
    decode = decoder or model.decode_logits
    gen = torch.Generator().manual_seed(seed)
    mu_all, logvar_all = (torch.from_numpy(a) for a in encode_means(model, images, labels=labels))
    y_all = _labels(model, labels)
    threads = torch.get_num_threads()
    if decoder is not None:
        # ONNX Runtime has every core; torch's small steps between its calls run on one,
        # so that neither pool's spinning threads compete (measured 0.131 against 0.157 ms
        # a sample).
        torch.set_num_threads(1)
    try:
        return _iwae_chunks(images, k, decode, model.log_prior, gen, (mu_all, logvar_all, y_all), progress)
    finally:
        torch.set_num_threads(threads)


def binarized(images: np.ndarray, seed: int = 0) -> np.ndarray:
    """Each pixel 1 with its intensity as probability, else 0, drawn with a fixed seed:
    the binarized MNIST of the likelihood literature, as float32 (N, 28, 28)."""
    x = np.asarray(images, np.float32) / (255.0 if images.dtype == np.uint8 else 1.0)
    return (np.random.default_rng(seed).random(x.shape, dtype=np.float32) < x).astype(np.float32)


def _iwae_chunks(
    images: np.ndarray,
    k: int,
    decode: Decoder,
    log_prior: Callable[[torch.Tensor], torch.Tensor],
    gen: torch.Generator,
    encoded: tuple[torch.Tensor, torch.Tensor, torch.Tensor | None],
    progress: Progress,
) -> np.ndarray:
    """-log of the k-sample importance-weighted estimate of each image, (N,), from every
    image's (mu, logvar) and a conditional model's digits (else None)."""
    mu_all, logvar_all, y_all = encoded
    per_chunk = max(1, IWAE_CHUNK // k)  # images per decoder call
    out = []
    for start in range(0, len(images), per_chunk):
        x = as_tensor(images[start : start + per_chunk]).flatten(1)  # (B, 784)
        mu, logvar = mu_all[start : start + per_chunk], logvar_all[start : start + per_chunk]  # (B, D)
        y = y_all[start : start + per_chunk].repeat(k) if y_all is not None else None  # (k * B,)
        eps = torch.randn((k, *mu.shape), generator=gen)
        z = mu + eps * torch.exp(0.5 * logvar)  # (k, B, D)
        logits = decode(z.flatten(0, 1), y).view(k, len(x), 784)
        # log Bernoulli(x; sigmoid(l)) = x l - softplus(l), summed over the pixels; x is
        # broadcast over the k samples instead of copied k times.
        log_px_z = (logits * x).sum(-1) - F.softplus(logits).sum(-1)  # (k, B)
        log_pz = log_prior(z)
        log_qz = log_normal(z, mu, logvar)
        log_w = log_px_z + log_pz - log_qz  # (k, B)
        out.append(math.log(k) - torch.logsumexp(log_w, dim=0).double())
        progress(f"IWAE k={k}", min(start + per_chunk, len(images)), len(images))
    return torch.cat(out).numpy() if out else np.zeros(0)


@torch.inference_mode()
def torch_search(ref: np.ndarray, query: np.ndarray, k: int, chunk: int = 128) -> np.ndarray:
    """`neighbours.nearest` on torch: the k nearest reference points, nearest first.

    The distances are `torch.cdist`'s, computed as it computes them for more than 25
    points (a matrix product of padded points, then clamp and square root), but written
    into one (chunk, N) array reused for every chunk, and each chunk's neighbours into the
    array returned: a new 31 MB array a chunk, freed while small results stayed, grew the
    worker's heap by 200 MB over a search of 10,000 queries in 60,000 points (measured in
    a thread; issue #34)."""
    ref_t = torch.from_numpy(np.ascontiguousarray(ref, dtype=np.float32))
    norms = ref_t.pow(2).sum(-1, keepdim=True)
    padded_ref = torch.cat([ref_t, torch.ones_like(norms), norms], -1).T  # (D + 2, N)
    k = min(k, len(ref))
    out = torch.empty((len(query), k), dtype=torch.int64)
    rows = min(chunk, len(query))
    distances, values = torch.empty((rows, len(ref))), torch.empty((rows, k))
    for start in range(0, len(query), chunk):
        q = torch.from_numpy(np.ascontiguousarray(query[start : start + chunk], dtype=np.float32))
        q_norms = q.pow(2).sum(-1, keepdim=True)
        d = distances[: len(q)]
        if len(q) > 25 or len(ref) > 25:  # where cdist takes the matrix product
            torch.mm(torch.cat([q.mul(-2), q_norms, torch.ones_like(q_norms)], -1), padded_ref, out=d)
            d.clamp_min_(1e-30).sqrt_()
        else:
            d.copy_(torch.cdist(q, ref_t))
        torch.topk(d, k, largest=False, out=(values[: len(q)], out[start : start + chunk]))  # nearest first
    return out.numpy()


# What one image costs in each step of `evaluate`, in ms on one core for the default conv
# model (measured: -ELBO 1.24, IWAE k=8 6.2, an encoding alone 0.39): only their ratios
# matter, to weigh the stages in one progress bar and one time left.
ENCODE_COST, DECODE_COST = 0.4, 0.75


def stages(n_test: int, n_train: int | None, k_iwae: int) -> dict[str, float]:
    """`evaluate`'s stages in order, by the names its progress gives them, and the work
    each will take, in the units of `ENCODE_COST`."""
    out = {"-ELBO": n_test * (ENCODE_COST + DECODE_COST)}
    if k_iwae > 0:
        out[f"IWAE k={k_iwae}"] = n_test * (ENCODE_COST + k_iwae * DECODE_COST)
    if n_train is not None:
        out["5-NN"] = (n_test + n_train) * ENCODE_COST  # the test set's means, then the training set's
    return out


def evaluate(
    model: VAE,
    test: tuple[np.ndarray, np.ndarray],
    train: tuple[np.ndarray, np.ndarray] | None,
    k_iwae: int = 64,
    seed: int = 0,
    progress: Progress = silent,
) -> dict[str, float]:
    """All test metrics; the kNN accuracy, overall and digit by digit, needs the training
    set's means."""
    images, labels = test
    given = labels if model.config.conditional else None  # the digits, to a model that takes them
    metrics: dict[str, float] = {
        "n_test": len(images),
        **negative_elbo(model, images, seed=seed, progress=progress, labels=given),
    }
    if k_iwae > 0:
        decoder = onnx_decoder(model) if k_iwae > 1 else None
        per_image = iwae_estimates(model, images, k_iwae, seed, progress, decoder, given)
        metrics[f"iwae_k{k_iwae}"] = float(per_image.mean())
        metrics[f"iwae_k{k_iwae}_se"] = float(per_image.std(ddof=1) / math.sqrt(len(per_image)))
    if model.config.conditional:
        from vaedesk.core.styles import decodable_in_every_style

        metrics.update(decodable_in_every_style(model, images, labels, progress=progress))
    if train is not None:
        # for a conditional model, the style latent's: how much of the digit it still holds
        test_mu, _ = encode_means(model, images, labels=given)
        train_given = train[1] if model.config.conditional else None
        train_mu, _ = encode_means(model, train[0], progress=progress, stage="5-NN", labels=train_given)
        guesses = knn_predict(train_mu, train[1], test_mu, k=5, search=torch_search)
        metrics["knn5_accuracy"] = float((guesses == labels).mean())
        for digit, recall in recall_by_class(labels, guesses).items():
            metrics[f"knn5_recall_{digit}"] = recall
    return metrics
