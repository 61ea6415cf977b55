"""The variational autoencoder: Gaussian posterior, Bernoulli decoder, and a prior that is
the standard normal, a learned mixture of Gaussians, or (while training) a VampPrior.

Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014. With a mixture prior the
KL term has no closed form: it is the posterior's entropy (exact) plus the cross-entropy
-log p(z) at the sampled z (one-sample Monte Carlo), as in Tomczak & Welling 2018
("VAE with a VampPrior"). The mixture lets each digit class take a mode of its own
instead of being packed into one Gaussian ball. Three architectures:

- ``conv`` (default): a wider convolutional VAE, the bundled model;
- ``seed``: the Keras example's conv VAE (conv 32, 64 stride 2, dense 16; decoder dense
  64x7x7, transposed convs 64, 32, 1), for comparison with its published figures;
- ``mlp``: 784-256-2 and 2-256-784;
- ``report``: the conv VAE of the report "Generate Digit Images using VAE" (MATLAB's
  example): conv 3x3 32 and 64 with stride 2, a dense layer to the means and
  log-variances (40 numbers for its 20 dimensions); decoder transposed convs 7x7 from
  1x1 to 7x7x64, 3x3 stride 2 to 14x14x64 and 28x28x32, then 3x3 to one channel.

Any of them can be conditional (``VAEConfig.conditional``; Sohn et al. 2015, "Learning
Structured Output Representation using Deep Conditional Generative Models"): the encoder
sees the picture and ten constant planes holding its digit's one-hot code, the decoder
sees z and the same code, so z is left with the style (slant, width, thickness).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from vaedesk.core.config import ARCHS, DIGITS, LOSSES, MAX_LATENT_DIM, PRIOR_LOGVAR_FLOOR, VAEConfig

__all__ = [
    "ARCHS",
    "LOSSES",
    "MAX_LATENT_DIM",
    "VAE",
    "MixturePrior",
    "VAEConfig",
    "VampPrior",
    "frozen",
    "kl_divergence",
    "one_hot",
    "reconstruction_loss",
]


def _downsample(channels: int = 1) -> list[nn.Module]:
    """The encoders' first layers: two stride-2 convolutions, (B, C, 28, 28) -> (B, 64, 7, 7)."""
    return [
        nn.Conv2d(channels, 32, 3, stride=2, padding=1),
        nn.ReLU(),  # (B, 32, 14, 14)
        nn.Conv2d(32, 64, 3, stride=2, padding=1),
        nn.ReLU(),  # (B, 64, 7, 7)
    ]


def _dropped(layer: nn.Module, p: float) -> nn.Module:
    """`layer` followed by dropout, in one slot of its Sequential, so that the parameters'
    names do not depend on the dropout rate (layer has no parameters of its own)."""
    return nn.Sequential(layer, nn.Dropout(p)) if p > 0 else layer


def _encoder(arch: str, dropout: float = 0.0, channels: int = 1) -> tuple[nn.Module, int]:
    """The encoder body and the width of its output, before the mu / logvar heads; with
    `dropout`, on the flattened features and the hidden layer while training. Its input
    has `channels` planes: the picture, then a conditional model's ten label planes."""
    if arch == "seed":
        body = nn.Sequential(
            *_downsample(channels),
            _dropped(nn.Flatten(), dropout),
            nn.Linear(64 * 7 * 7, 16),
            _dropped(nn.ReLU(), dropout),  # (B, 16)
        )
        return body, 16
    if arch == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784 * channels, 256), _dropped(nn.ReLU(), dropout)), 256
    if arch == "report":
        body = nn.Sequential(
            *_downsample(channels),
            _dropped(nn.Flatten(), dropout),  # the heads are its dense layer: 2 x latent_dim outputs
        )
        return body, 64 * 7 * 7
    body = nn.Sequential(
        *_downsample(channels),
        nn.Conv2d(64, 64, 3, padding=1),
        nn.ReLU(),  # (B, 64, 7, 7)
        _dropped(nn.Flatten(), dropout),
        nn.Linear(64 * 7 * 7, 256),
        _dropped(nn.ReLU(), dropout),  # (B, 256)
    )
    return body, 256


def _decoder(arch: str, latent_dim: int) -> nn.Module:
    """Latent (B, latent_dim) -> pixel logits (B, 1, 28, 28)."""
    if arch == "seed":
        return nn.Sequential(
            nn.Linear(latent_dim, 64 * 7 * 7),
            nn.ReLU(),
            nn.Unflatten(1, (64, 7, 7)),
            nn.ConvTranspose2d(64, 64, 3, stride=2, padding=1, output_padding=1),
            nn.ReLU(),  # 14
            nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1),
            nn.ReLU(),  # 28
            nn.ConvTranspose2d(32, 1, 3, padding=1),  # (B, 1, 28, 28)
        )
    if arch == "report":
        return nn.Sequential(
            nn.Unflatten(1, (latent_dim, 1, 1)),
            nn.ConvTranspose2d(latent_dim, 64, 7),
            nn.ReLU(),  # (B, 64, 7, 7)
            nn.ConvTranspose2d(64, 64, 3, stride=2, padding=1, output_padding=1),
            nn.ReLU(),  # (B, 64, 14, 14)
            nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1),
            nn.ReLU(),  # (B, 32, 28, 28)
            nn.ConvTranspose2d(32, 1, 3, padding=1),  # (B, 1, 28, 28)
        )
    if arch == "mlp":
        return nn.Sequential(
            nn.Linear(latent_dim, 256),
            nn.ReLU(),
            nn.Linear(256, 784),
            nn.Unflatten(1, (1, 28, 28)),
        )
    return nn.Sequential(
        nn.Linear(latent_dim, 256),
        nn.ReLU(),
        nn.Linear(256, 64 * 7 * 7),
        nn.ReLU(),
        nn.Unflatten(1, (64, 7, 7)),
        # Narrow at 28x28 on purpose: one decode must stay well under a millisecond on
        # one core for live hovering, while most of the width sits at 7x7 and 14x14.
        nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1),
        nn.ReLU(),  # (B, 32, 14, 14)
        nn.Conv2d(32, 32, 3, padding=1),
        nn.ReLU(),  # (B, 32, 14, 14)
        nn.ConvTranspose2d(32, 16, 4, stride=2, padding=1),
        nn.ReLU(),  # (B, 16, 28, 28)
        nn.Conv2d(16, 1, 3, padding=1),  # (B, 1, 28, 28)
    )


class MixturePrior(nn.Module):
    """p(z) = sum_k pi_k N(z; m_k, diag(exp(v_k))), every parameter learned with the model.

    The means start spread over the standard normal's bulk, the variances at a quarter,
    the weights equal; the log-variances are kept above PRIOR_LOGVAR_FLOOR. The viewer's
    numpy copy is `vaedesk.core.prior.Prior`."""

    def __init__(self, components: int, latent_dim: int) -> None:
        super().__init__()
        self.means = nn.Parameter(torch.randn(components, latent_dim))
        self.logvars = nn.Parameter(torch.full((components, latent_dim), math.log(0.25)))
        self.logits = nn.Parameter(torch.zeros(components))

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z) for points (..., D) -> (...)."""
        logvars = self.logvars.clamp(min=PRIOR_LOGVAR_FLOOR)
        return log_mixture(z, self.means, logvars, F.log_softmax(self.logits, dim=0))


class VampPrior(nn.Module):
    """The VampPrior (Tomczak & Welling 2018, eq. 9): p(z) = 1/K sum_k q(z | u_k), the
    encoder's own posteriors at K learned pseudo-images u_k, so that the prior follows
    where the encoder puts real digits. It holds only the pseudo-images (as pixel logits,
    so that they stay in [0, 1]); `VAE.log_prior` encodes them. A trained one is the
    mixture of K Gaussians it encodes to: `VAE.settle_prior` makes it a `MixturePrior`
    with equal weights, which is what files, the viewer and the ONNX export know."""

    def __init__(self, components: int) -> None:
        super().__init__()
        # grey, near-blank images until `start_from` puts real digits there
        self.pseudo_logits = nn.Parameter(torch.full((components, 1, 28, 28), -2.0))

    @torch.no_grad()
    def start_from(self, images: torch.Tensor) -> None:
        """Start the pseudo-images at these (K, 1, 28, 28) images in [0, 1] (the paper's
        initialisation from training data), kept off 0 and 1 so that they can move."""
        self.pseudo_logits.copy_(torch.logit(images.clamp(0.05, 0.95)))


class VAE(nn.Module):
    def __init__(self, config: VAEConfig | None = None) -> None:
        super().__init__()
        self.config = config or VAEConfig()
        labels = DIGITS if self.config.conditional else 0
        self.encoder, width = _encoder(self.config.arch, self.config.dropout, 1 + labels)
        self.to_mu = nn.Linear(width, self.config.latent_dim)
        self.to_logvar = nn.Linear(width, self.config.latent_dim)
        self.decoder = _decoder(self.config.arch, self.config.latent_dim + labels)
        self.prior: MixturePrior | VampPrior | None = None  # None: the standard normal, in closed form
        if self.config.prior == "mog":
            self.prior = MixturePrior(self.config.components, self.config.latent_dim)
        elif self.config.prior == "vamp":
            self.prior = VampPrior(self.config.components)

    def encoder_parameters(self) -> list[nn.Parameter]:
        """The parameters of q(z|x): the encoder body and its mean and variance heads."""
        return [*self.encoder.parameters(), *self.to_mu.parameters(), *self.to_logvar.parameters()]

    def mean_parameters(self) -> list[nn.Parameter]:
        """The parameters of q(z|x)'s mean: the encoder body and the mean head."""
        return [*self.encoder.parameters(), *self.to_mu.parameters()]

    def log_prior(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z) for points (..., D) -> (...)."""
        if self.prior is None:
            return log_normal(z, torch.zeros_like(z), torch.zeros_like(z))
        if isinstance(self.prior, VampPrior):
            means, logvars = self._vamp_components()
            return log_mixture(z, means, logvars, torch.full((len(means),), -math.log(len(means))))
        return self.prior.log_prob(z)

    def _vamp_components(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The VampPrior's components, (K, D) each: the posteriors at its pseudo-images, their
        log-variances floored as a mixture's are."""
        assert isinstance(self.prior, VampPrior)
        mu, logvar = self.encode(torch.sigmoid(self.prior.pseudo_logits))
        return mu, logvar.clamp(min=PRIOR_LOGVAR_FLOOR)

    @torch.no_grad()
    def settle_prior(self) -> None:
        """Turn a trained VampPrior into the mixture of Gaussians it is, in eval mode (no
        dropout): the same log p(z) everywhere, as a "mog" prior with equal weights. Any
        other prior is left as it is."""
        if not isinstance(self.prior, VampPrior):
            return
        was_training = self.training
        self.eval()
        means, logvars = self._vamp_components()
        self.train(was_training)
        mixture = MixturePrior(len(means), self.config.latent_dim)
        mixture.means.copy_(means)
        mixture.logvars.copy_(logvars)
        mixture.logits.zero_()
        self.prior = mixture
        self.config = dataclasses.replace(self.config, prior="mog")

    def kl(self, mu: torch.Tensor, logvar: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """KL(q(z|x) || p(z)) per image, (B,): exact for the standard normal prior; for the
        mixture, the exact entropy of q plus -log p(z) at the sample z drawn from q."""
        if self.prior is None:
            return kl_divergence(mu, logvar)
        neg_entropy = -0.5 * torch.sum(1 + math.log(2 * math.pi) + logvar, dim=1)
        return neg_entropy - self.log_prior(z)

    def _label_code(self, labels: torch.Tensor | None) -> torch.Tensor | None:
        """A conditional model's one-hot digits (B, 10); None for any other model."""
        if not self.config.conditional:
            return None
        if labels is None:
            raise ValueError("a conditional model needs the digit of every image or latent point")
        return one_hot(labels)

    def encode(
        self, x: torch.Tensor, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (B, 1, 28, 28) in [0, 1] -> posterior mean and log-variance, (B, D) each.
        A conditional model also takes the digits, (B,) or one-hot (B, 10); others ignore them."""
        y = self._label_code(labels)
        planes = None if y is None else y[:, :, None, None].expand(-1, -1, *x.shape[2:])  # (B, 10, 28, 28)
        return self.encode_planes(x, planes)

    def encode_planes(
        self, x: torch.Tensor, planes: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`encode` with a conditional model's digits given as their ten constant planes
        (B, 10, 28, 28), as its ONNX export takes them (made outside the graph, whose
        operators are kept to the few that vaedesk allows)."""
        h = self.encoder(x if planes is None else torch.cat([x, planes], dim=1))  # (B, 11, 28, 28)
        return self.to_mu(h), self.to_logvar(h)

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)

    def decode_logits(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Latent points (B, D), and a conditional model's digits -> logits (B, 1, 28, 28)."""
        y = self._label_code(labels)
        return self.decoder(z if y is None else torch.cat([z, y], dim=1))

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Latent points (B, D) -> pixel intensities (B, 1, 28, 28) in [0, 1]."""
        return torch.sigmoid(self.decode_logits(z, labels))

    def forward(
        self, x: torch.Tensor, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(x, labels)
        z = self.reparameterize(mu, logvar)
        return self.decode_logits(z, labels), mu, logvar

    def losses(
        self,
        x: torch.Tensor,
        beta: float | None = None,
        samples: int = 1,
        encoded: tuple[torch.Tensor, torch.Tensor] | None = None,
        labels: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(loss, reconstruction, KL) on images x, means over the batch in nats per image;
        `beta` defaults to the config's.

        With one posterior sample per image the loss is the negative ELBO. With `samples`
        k > 1 it is the negative importance-weighted bound (Burda et al. 2016, "Importance
        Weighted Autoencoders", eq. 8), -log 1/k sum_i p(x, z_i) / q(z_i|x), tighter than
        the ELBO and equal to it at k = 1, with beta weighting log p(z) - log q(z|x) in each
        weight; reconstruction and KL are then the ELBO's two terms averaged over the k
        samples, so the loss is no longer their sum. `encoded` is x's (mu, logvar) when the
        caller has encoded x already; `labels` are a conditional model's digits of x.
        """
        mu, logvar = self.encode(x, labels) if encoded is None else encoded
        beta = self.config.beta if beta is None else beta
        if samples == 1:
            z = self.reparameterize(mu, logvar)
            logits = self.decode_logits(z, labels)
            return vae_loss(logits, x, self.kl(mu, logvar, z), self.config.loss, beta)
        z = mu + torch.randn((samples, *mu.shape)) * torch.exp(0.5 * logvar)  # (k, B, D)
        repeated = labels.repeat(samples, *[1] * (labels.dim() - 1)) if labels is not None else None
        logits = self.decode_logits(z.flatten(0, 1), repeated)  # (k * B, 1, 28, 28), sample-major
        recon = reconstruction_loss(logits, x.repeat(samples, 1, 1, 1), self.config.loss).view(samples, -1)
        kl = log_normal(z, mu, logvar) - self.log_prior(z)  # (k, B), each at its own sample
        log_w = -recon - beta * kl
        bound = torch.logsumexp(log_w, dim=0) - math.log(samples)
        return -bound.mean(), recon.mean(), kl.mean()


@contextmanager
def frozen(params: Iterable[nn.Parameter]) -> Iterator[None]:
    """No gradients for these parameters inside the block; afterwards each is as it was."""
    params = list(params)
    was = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, before in zip(params, was, strict=True):
            p.requires_grad_(before)


def one_hot(labels: torch.Tensor) -> torch.Tensor:
    """Digits (B,) as whole numbers 0-9, or rows already one-hot (B, 10) -> (B, 10) float."""
    if labels.dim() == 2:
        return labels if labels.dtype == torch.float32 else labels.float()
    return F.one_hot(labels.long(), DIGITS).float()


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)) per image, in nats: Kingma & Welling 2014, Appendix B:
    -1/2 * sum(1 + log sigma^2 - mu^2 - sigma^2)."""
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1)


def reconstruction_loss(logits: torch.Tensor, x: torch.Tensor, kind: str = "bce") -> torch.Tensor:
    """Per-image reconstruction term summed over the 784 pixels, (B,).

    "bce" is -log p(x|z) under a Bernoulli decoder evaluated at the [0, 1] intensities
    (not binarised); "mse" is the summed squared error of the sigmoid output.
    """
    if kind == "bce":
        per_pixel = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    else:
        per_pixel = (torch.sigmoid(logits) - x).pow(2)
    return per_pixel.flatten(1).sum(dim=1)


def vae_loss(
    logits: torch.Tensor, x: torch.Tensor, kl: torch.Tensor, kind: str = "bce", beta: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(loss, reconstruction, KL) from the logits and the per-image KL, each the mean over
    the batch in nats per image."""
    recon = reconstruction_loss(logits, x, kind).mean()
    kl = kl.mean()
    return recon + beta * kl, recon, kl


def log_mixture(
    z: torch.Tensor, means: torch.Tensor, logvars: torch.Tensor, log_weights: torch.Tensor
) -> torch.Tensor:
    """log sum_k w_k N(z; m_k, diag(exp(v_k))) for points (..., D) -> (...); means and
    logvars (K, D), log_weights (K,)."""
    per_component = log_normal(z.unsqueeze(-2), means, logvars)  # (..., K)
    return torch.logsumexp(per_component + log_weights, dim=-1)


def log_normal(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, diag(exp(logvar))) summed over the last dimension."""
    return -0.5 * torch.sum(math.log(2 * math.pi) + logvar + (z - mu).pow(2) / logvar.exp(), dim=-1)
