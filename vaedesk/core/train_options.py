"""What a training run is asked to do: `TrainOptions`, checked when made. Plain data, no
torch, so that anything can build and check options without loading the engine."""

from __future__ import annotations

import math
from dataclasses import dataclass

SCHEDULES = ("constant", "cosine")
# the largest finite float32: numbers that enter must stay finite in the model's float32
FLOAT32_MAX = 3.4028234663852886e38


@dataclass(frozen=True)
class TrainOptions:
    epochs: int = 30
    batch_size: int = 128
    lr: float = 1e-3
    lr_schedule: str = "cosine"  # cosine decays to 2% of lr over all epochs' batches
    weight_decay: float = 0.0  # decoupled (AdamW, Loshchilov & Hutter 2019); 0 is plain Adam
    # Batches over which the learning rate rises linearly to the schedule's (Goyal et al.
    # 2017): Adam's first steps, taken on moment estimates from a handful of batches, can
    # throw a fresh model onto its prior at a high rate (Liu et al. 2020, "On the Variance
    # of the Adaptive Learning Rate and Beyond").
    lr_warmup: int = 0
    kl_warmup: int = 0  # epochs over which the KL weight rises linearly from 0 to beta
    # (Bowman et al. 2016; Sonderby et al. 2016); validation always uses the full weight
    # Free bits (Kingma et al. 2016, "Improved Variational Inference with Inverse
    # Autoregressive Flow", eq. 15): while a batch's mean KL is below this many nats per
    # image, the KL term gives no gradient, so the encoder cannot be pulled onto the prior
    # (a collapsed posterior) early in a short run; above it the objective is the ELBO.
    # Reported losses and validation are always the true ELBO's.
    free_bits: float = 0.0
    seed: int = 0
    val_size: int = 5000  # carved from the training images, never from the test set
    patience: int | None = None  # stop after this many epochs without a better val loss
    log_every: int = 50  # batches between BatchProgress reports
    time_limit: float | None = None  # seconds; stop after the epoch that crosses it
    # Dynamic binarization (Salakhutdinov & Murray 2008): each batch's pixels drawn afresh
    # as 0 or 1 with their intensity as probability, for Bernoulli likelihoods comparable
    # with the literature's binarized MNIST; validation images binarized once, seeded.
    binarize: bool = False
    # Train the encoder alone, the decoder and the prior fixed: a second stage after a
    # full run, whose encoder overfits while its decoder does not (see
    # `evaluate.amortization_gap`), to regularise the encoder without the decoder
    # learning under noisier codes (cf. Shu et al. 2018, "Amortized Inference
    # Regularization"). With dropout it did not help: the fixed decoder cannot absorb
    # the noise either (README, "The bundled model").
    encoder_only: bool = False
    # The other second stage: train the decoder and the prior alone, the encoder fixed, so
    # that a decoder trained beside a regularised encoder (dropout, distorted images) fits
    # the codes the encoder gives in use, on the images themselves, while the encoder
    # cannot overfit them any further.
    decoder_only: bool = False
    # A third: the decoder, the prior and the encoder's variance head, the encoder's body
    # and mean head fixed. Every image keeps its posterior mean, so the map stays as it
    # is, while the posterior variances are refitted: a second stage after a run at a KL
    # weight below 1, whose map separates the digits better but whose posteriors are too
    # narrow for the ELBO (`--beta 1` here).
    fixed_means: bool = False
    # Each batch's images distorted by a small random rotation, scale and shear
    # (`augment.random_affine`), against the encoder's overfitting; validation images are
    # never distorted.
    augment: bool = False
    # Importance samples per image in the objective, training and validation alike: 1 is
    # the ELBO; k > 1 the IWAE bound (Burda et al. 2016), which trains the decoder for the
    # log-likelihood that `eval` estimates by importance sampling, at k decodes per image.
    iw_samples: int = 1
    # Weight of the neighbour-embedding term (`embedding.contrastive_loss`, VAE-SNE) added
    # to the objective: each image's mean is pulled towards the mean of one of its 15
    # nearest training images in pixel space and pushed from the batch's other means, so
    # that the map keeps apart digits that the ELBO alone packs together. No labels. 0 is
    # the ELBO alone; reported losses and validation are always the ELBO's.
    neighbours: float = 0.0

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch size must be at least 1")
        # finite after conversion to float32, as every number that enters (1e39 is a double)
        if not 0 < self.lr <= FLOAT32_MAX:
            raise ValueError("the learning rate must be a positive number")
        if self.iw_samples < 1:
            raise ValueError("importance samples must be at least 1")
        if self.kl_warmup < 0:
            raise ValueError("KL warm-up must be zero or more epochs")
        if self.lr_warmup < 0:
            raise ValueError("learning-rate warm-up must be zero or more batches")
        if not (self.free_bits >= 0 and math.isfinite(self.free_bits)):
            raise ValueError("free bits must be a non-negative number of nats")
        if not (self.neighbours >= 0 and math.isfinite(self.neighbours)):
            raise ValueError("the neighbour-embedding weight must be a non-negative number")
        if self.neighbours and (self.fixed_means or self.decoder_only):
            raise ValueError("the neighbour embedding shapes the means, which this stage keeps fixed")
        if self.free_bits and self.iw_samples > 1:
            raise ValueError("free bits apply to the ELBO, not to the importance-weighted bound")
        if not 0 <= self.weight_decay <= FLOAT32_MAX:
            raise ValueError("weight decay must be a non-negative number")
        if self.patience is not None and self.patience < 1:
            raise ValueError("patience must be 1 or more")
        if self.encoder_only + self.decoder_only + self.fixed_means > 1:
            raise ValueError("choose one of: the encoder alone, the decoder alone, or fixed means")
        if self.lr_schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.lr_schedule!r}")
