"""The training loop, as a generator of progress that anyone can drive.

The command line prints what it yields; the window runs the same generator in a QThread
and plots it. It checks a `should_stop` callable between batches, so cancelling takes
effect within one batch. It never imports Qt.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from vaedesk.core.augment import random_affine
from vaedesk.core.embedding import NEIGHBOURS, contrastive_loss, neighbour_graph
from vaedesk.core.memory import trim_heap
from vaedesk.core.model import VAE, VampPrior, frozen

SCHEDULES = ("constant", "cosine")


FLOAT32_MAX = float(np.finfo(np.float32).max)


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


@dataclass(frozen=True)
class BatchProgress:
    epoch: int  # 1-based
    batch: int  # 1-based, within the epoch
    batches: int  # per epoch
    loss: float  # running means over this epoch so far, nats per image
    recon: float
    kl: float
    samples_per_s: float
    elapsed: float
    eta: float  # seconds left for the whole run, by the pace so far


@dataclass(frozen=True)
class EpochResult:
    epoch: int
    epochs: int
    train_loss: float
    train_recon: float
    train_kl: float
    train_neighbours: float  # the neighbour-embedding term's mean, 0 without it
    val_loss: float
    val_recon: float
    val_kl: float
    lr: float
    seconds: float
    elapsed: float
    samples_per_s: float
    improved: bool


class TrainingDiverged(RuntimeError):
    pass


def split_train_val(n: int, val_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a seeded train / validation split of n training images."""
    if not 0 < val_size < n:
        raise ValueError(f"validation size {val_size} must be between 1 and {n - 1}")
    order = np.random.default_rng(seed).permutation(n)
    return order[val_size:], order[:val_size]


def as_tensor(images: np.ndarray) -> torch.Tensor:
    """(N, 28, 28) uint8 or float in [0, 1] -> (N, 1, 28, 28) float32 tensor."""
    return intensities(torch.from_numpy(np.ascontiguousarray(images))).unsqueeze(1)


def as_stored(images: np.ndarray) -> torch.Tensor:
    """(N, 28, 28) -> (N, 1, 28, 28) as it is stored for a run: uint8 images stay bytes, a
    quarter of float32's memory (60,000 images: 47 MB against 188 MB), and become
    intensities batch by batch (`intensities`); float images become float32."""
    x = torch.from_numpy(np.ascontiguousarray(images))
    return (x if x.dtype == torch.uint8 else x.float()).unsqueeze(1)


def intensities(x: torch.Tensor) -> torch.Tensor:
    """Stored pixels (uint8 0-255, or float) -> float32 intensities in [0, 1]; the same
    values whether a whole set or one batch of it is converted."""
    return x.float() / 255.0 if x.dtype == torch.uint8 else x.float()


@torch.no_grad()
def mean_loss(
    model: VAE,
    x: torch.Tensor,
    batch_size: int = 200,
    seed: int = 0,
    samples: int = 1,
    labels: torch.Tensor | None = None,
) -> tuple[float, float, float]:
    """(loss, recon, KL) averaged over `x`, with `samples` posterior samples per image (see
    `VAE.losses`) and a fixed noise seed so that successive epochs are compared on the
    same draw; `labels` are a conditional model's digits of x. Batches of 200: the conv
    decoder's activations for 1,000 images took 260 MB at once (measured), for 200 about a
    fifth; and 200 x 2 latent draws are a multiple of 16 values, so torch draws the same
    noise as in batches of 1,000."""
    was_training = model.training
    model.eval()
    totals = np.zeros(3)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        for start in range(0, len(x), batch_size):
            xb = x[start : start + batch_size]
            yb = labels[start : start + batch_size] if labels is not None else None
            loss, recon, kl = model.losses(xb, samples=samples, labels=yb)
            totals += np.array([loss.item(), recon.item(), kl.item()]) * len(xb)
    model.train(was_training)
    loss, recon, kl = totals / len(x)
    return float(loss), float(recon), float(kl)


class Trainer:
    """Trains `model` in place on `images` and remembers the best weights by validation loss.

    After `run()` ends (completed, early stop, cancel, time limit or divergence),
    `best_state` holds the best epoch's weights (None if no epoch finished) and
    `stop_reason` says why it ended.
    """

    def __init__(
        self, model: VAE, images: np.ndarray, options: TrainOptions, labels: np.ndarray | None = None
    ) -> None:
        self.model = model
        self.options = options
        train_idx, val_idx = split_train_val(len(images), options.val_size, options.seed)
        # The training images as they came (uint8: bytes, converted batch by batch in
        # `_batch`); the validation images, a tenth as many and read every epoch, as floats.
        self.x_train: torch.Tensor = as_stored(np.asarray(images)[train_idx])
        self.x_val: torch.Tensor = as_tensor(np.asarray(images)[val_idx])
        self.n_train = len(train_idx)  # still known once `release` has let the images go
        # a conditional model's digits, beside their images; None for any other model
        self.y_train = self.y_val = None
        if model.config.conditional:
            if labels is None or len(labels) != len(images):
                raise ValueError("a conditional model trains on images with their digits")
            if options.neighbours:
                raise ValueError("the neighbour embedding is for the map of digits, not of styles")
            y = torch.from_numpy(np.asarray(labels, np.int64))
            self.y_train, self.y_val = y[train_idx], y[val_idx]
        if options.binarize:
            self.x_val = torch.bernoulli(self.x_val, generator=torch.Generator().manual_seed(options.seed))
        if isinstance(model.prior, VampPrior):  # always a new one: files hold the settled mixture
            k, seeded = len(model.prior.pseudo_logits), torch.Generator().manual_seed(options.seed)
            picked = torch.randint(len(self.x_train), (k,), generator=seeded)
            model.prior.start_from(intensities(self.x_train[picked]))
        # each training image's pixel-space neighbours, (N, 15), for the embedding term;
        # found when the run starts, where a stop request can end the search
        self.graph: torch.Tensor | None = None
        if options.neighbours and len(self.x_train) <= NEIGHBOURS:
            raise ValueError(
                f"the neighbour embedding pairs each image with one of its {NEIGHBOURS} nearest:"
                f" {len(self.x_train)} training images are too few"
            )
        self.best_state: dict[str, torch.Tensor] | None = None
        self.best_val = math.inf
        self.best_epoch = 0
        self.history: list[EpochResult] = []
        self.stop_reason = "not started"
        # how far the run got: the epoch it was in (1-based) and the batches done in it
        self.epoch = 0
        self.batch = 0

    @property
    def batches_per_epoch(self) -> int:
        return math.ceil(self.n_train / self.options.batch_size)

    @property
    def total_batches(self) -> int:
        return self.options.epochs * self.batches_per_epoch

    @property
    def batches_done(self) -> int:
        return max(0, self.epoch - 1) * self.batches_per_epoch + self.batch

    def release(self) -> None:
        """Let go of the run's data: the images, the validation images and the neighbour
        graph. The model, its best weights and the history stay; `run` cannot be called
        again. Called when a run ends, so that its memory is freed then, not when the last
        reference to the trainer goes."""
        self.x_train = self.x_val = torch.zeros(0)
        self.y_train = self.y_val = None
        self.graph = None

    def restore_best(self) -> None:
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)

    def run(self, should_stop: Callable[[], bool] | None = None) -> Iterator[BatchProgress | EpochResult]:
        opts = self.options
        in_encoder = {id(p) for p in self.model.encoder_parameters()}
        in_means = {id(p) for p in self.model.mean_parameters()}
        trained: list[torch.nn.Parameter] = []
        fixed: list[torch.nn.Parameter] = []
        for p in self.model.parameters():
            # TrainOptions allows at most one of the three
            if opts.encoder_only:
                frozen_here = id(p) not in in_encoder
            elif opts.decoder_only:
                frozen_here = id(p) in in_encoder
            else:
                frozen_here = opts.fixed_means and id(p) in in_means
            (fixed if frozen_here else trained).append(p)
        with frozen(fixed):
            yield from self._epochs(should_stop, trained)

    def _batch(self, indices: torch.Tensor, distort: torch.Generator) -> torch.Tensor:
        """The training images at `indices`, distorted and binarized as the options say."""
        xb = intensities(self.x_train[indices])
        if self.options.augment:
            xb = random_affine(xb, distort)
        return torch.bernoulli(xb) if self.options.binarize else xb

    def _epochs(
        self, should_stop: Callable[[], bool] | None, trained: list[torch.nn.Parameter]
    ) -> Iterator[BatchProgress | EpochResult]:
        opts, model = self.options, self.model
        torch.manual_seed(opts.seed)
        shuffle = torch.Generator().manual_seed(opts.seed)
        distort = torch.Generator().manual_seed(opts.seed + 1)
        pairing = torch.Generator().manual_seed(opts.seed + 2)
        optimizer = torch.optim.AdamW(trained, lr=opts.lr, weight_decay=opts.weight_decay)
        total_batches = self.total_batches
        schedule = _schedule(opts, total_batches)
        warmup_batches = opts.kl_warmup * self.batches_per_epoch

        def beta(step: int) -> float:
            return model.config.beta * (min(1.0, step / warmup_batches) if warmup_batches else 1.0)

        if opts.neighbours and self.graph is None:
            self.graph = neighbour_graph(self.x_train, should_stop=should_stop)
            trim_heap()  # the search's blocks, freed, would otherwise stay in this thread's heap
            if self.graph is None:
                self.stop_reason = "cancelled"
                return
        n = len(self.x_train)
        start = time.perf_counter()
        done_batches = 0
        self.stop_reason = "running"
        model.train()
        for epoch in range(1, opts.epochs + 1):
            self.epoch, self.batch = epoch, 0
            epoch_start = time.perf_counter()
            sums = np.zeros(4)
            seen = 0
            order = torch.randperm(n, generator=shuffle)
            for b, first in enumerate(range(0, n, opts.batch_size), start=1):
                if should_stop is not None and should_stop():
                    self.stop_reason = "cancelled"
                    return
                for group in optimizer.param_groups:
                    group["lr"] = schedule(done_batches)
                picked = order[first : first + opts.batch_size]
                xb = self._batch(picked, distort)
                yb = self.y_train[picked] if self.y_train is not None else None
                encoded, embed = None, torch.zeros(())
                if self.graph is not None:  # each image and one of its neighbours, in one pass
                    column = torch.randint(NEIGHBOURS, (len(picked),), generator=pairing)
                    partners = self._batch(self.graph[picked, column], distort)
                    mu, logvar = model.encode(torch.cat([xb, partners]))
                    embed = contrastive_loss(mu[: len(xb)], mu[len(xb) :])
                    encoded = mu[: len(xb)], logvar[: len(xb)]
                loss, recon, kl = model.losses(xb, beta(done_batches), opts.iw_samples, encoded, yb)
                objective = loss + opts.neighbours * embed
                if opts.free_bits:  # the ELBO's KL term held at the floor while below it
                    objective = objective + beta(done_batches) * (torch.clamp(kl, min=opts.free_bits) - kl)
                if not torch.isfinite(objective):
                    self.stop_reason = "diverged"
                    raise TrainingDiverged(
                        f"the loss became {objective.item()} at epoch {epoch}, batch {b}; "
                        "try a lower learning rate"
                    )
                optimizer.zero_grad(set_to_none=True)
                objective.backward()
                optimizer.step()
                sums += np.array([loss.item(), recon.item(), kl.item(), embed.item()]) * len(xb)
                seen += len(xb)
                done_batches += 1
                self.batch = b
                if b % opts.log_every == 0 or b == self.batches_per_epoch:
                    elapsed = time.perf_counter() - start
                    rate = done_batches / elapsed
                    means = sums / seen
                    yield BatchProgress(
                        epoch,
                        b,
                        self.batches_per_epoch,
                        loss=float(means[0]),
                        recon=float(means[1]),
                        kl=float(means[2]),
                        samples_per_s=seen / (time.perf_counter() - epoch_start),
                        elapsed=elapsed,
                        eta=_eta(opts, elapsed, (total_batches - done_batches) / rate),
                    )
            val = mean_loss(model, self.x_val, seed=opts.seed, samples=opts.iw_samples, labels=self.y_val)
            improved = val[0] < self.best_val
            if improved:
                self.best_val, self.best_epoch = val[0], epoch
                self.best_state = copy.deepcopy(model.state_dict())
            seconds = time.perf_counter() - epoch_start
            train = sums / seen
            result = EpochResult(
                epoch,
                opts.epochs,
                train_loss=float(train[0]),
                train_recon=float(train[1]),
                train_kl=float(train[2]),
                train_neighbours=float(train[3]),
                val_loss=val[0],
                val_recon=val[1],
                val_kl=val[2],
                lr=optimizer.param_groups[0]["lr"],
                seconds=seconds,
                elapsed=time.perf_counter() - start,
                samples_per_s=seen / seconds,
                improved=improved,
            )
            self.history.append(result)
            yield result
            if epoch == opts.epochs:
                break  # every epoch ran: "completed", even past a limit or a patience
            if opts.patience is not None and epoch - self.best_epoch >= opts.patience:
                self.stop_reason = "early stopping"
                return
            if opts.time_limit is not None and result.elapsed >= opts.time_limit:
                self.stop_reason = "time limit"
                return
        self.stop_reason = "completed"


def _schedule(opts: TrainOptions, total_batches: int) -> Callable[[int], float]:
    """The learning rate at each step, counted in batches from 0 over the whole run."""
    floor = 0.02 * opts.lr

    def rate(step: int) -> float:
        if opts.lr_schedule == "constant":
            lr = opts.lr
        else:
            lr = floor + 0.5 * (opts.lr - floor) * (1 + math.cos(math.pi * step / total_batches))
        return lr * min(1.0, (step + 1) / opts.lr_warmup) if opts.lr_warmup else lr

    return rate


def _eta(opts: TrainOptions, elapsed: float, by_pace: float) -> float:
    if opts.time_limit is None:
        return by_pace
    return max(0.0, min(by_pace, opts.time_limit - elapsed))
