"""A model's hyper-parameters: what a weights file records so that loading rebuilds the
model without guessing. No torch here: the viewer reads configs without it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

ARCHS = ("conv", "seed", "mlp", "report")
LOSSES = ("bce", "mse")
# N(0, I); a learned mixture of Gaussians; or the VampPrior (Tomczak & Welling 2018), the
# mixture of the encoder's posteriors at learned pseudo-images, which exists only while it
# trains: a trained one is saved as the "mog" mixture it is (`VAE.settle_prior`).
PRIORS = ("normal", "mog", "vamp")
MAX_COMPONENTS = 1000
PRIOR_LOGVAR_FLOOR = -6.0  # no mixture component narrower than this: none shrinks onto one encoding
MAX_LATENT_DIM = 1024  # far beyond any use; a larger size in a file is damage, not a model
# Importance samples for the IWAE bound on the card of a run made in the window: fewer
# than the command line's 64, so that the evaluation after a run takes seconds.
WINDOW_EVAL_K = 8
DIGITS = 10  # the labels a conditional model takes: MNIST's digits 0-9


@dataclass(frozen=True)
class VAEConfig:
    arch: str = "conv"
    latent_dim: int = 2
    loss: str = "bce"  # reconstruction term used for training; evaluation always reports BCE
    beta: float = 1.0  # weight of the KL term (Higgins et al. 2017); 1 is the true ELBO
    prior: str = "normal"  # files from before the mixture have no "prior": they are "normal"
    components: int = 16  # of the mixture, when prior is "mog"; pseudo-images, when "vamp"
    # Dropout in the encoder while training: on its flattened features and its hidden
    # layer; no effect in use. A trained encoder fits its training images far better than
    # new ones (the amortization gap, Cremer et al. 2018). Measured on the bundled recipe,
    # 0.2 narrows that gap from 7.06 to 3.80 nats, but the decoder then fits worse.
    dropout: float = 0.0
    # Conditioned on the digit (Sohn et al. 2015; Kingma et al. 2014's M2, its generative
    # part): the one-hot label goes into the encoder (as ten constant image planes beside
    # the picture) and into the decoder (beside z), so that z keeps only the style.
    conditional: bool = False

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"unknown architecture {self.arch!r} (choose from {', '.join(ARCHS)})")
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r} (choose from {', '.join(LOSSES)})")
        if not isinstance(self.latent_dim, int) or not 1 <= self.latent_dim <= MAX_LATENT_DIM:
            raise ValueError(f"latent_dim must be a whole number from 1 to {MAX_LATENT_DIM}")
        if self.prior not in PRIORS:
            raise ValueError(f"unknown prior {self.prior!r} (choose from {', '.join(PRIORS)})")
        if not isinstance(self.components, int) or not 1 <= self.components <= MAX_COMPONENTS:
            raise ValueError(f"components must be a whole number from 1 to {MAX_COMPONENTS}")
        if not 0 <= self.dropout < 1:
            raise ValueError("dropout must be a fraction from 0 up to (not including) 1")
        if not 0 <= self.beta <= 3.4028234663852886e38:  # finite in float32 (inf trained to inf)
            raise ValueError("beta must be a non-negative number")
        if self.conditional is not True and self.conditional is not False:
            raise ValueError("conditional must be true or false")
        if self.conditional and self.prior == "vamp":
            raise ValueError("a conditional model cannot have a VampPrior (its pseudo-images have no digit)")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VAEConfig:
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        return cls(**known)
