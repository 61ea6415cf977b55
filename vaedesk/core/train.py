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

# The options have a module of their own (no torch); importable from here, as before.
from vaedesk.core.train_options import SCHEDULES as SCHEDULES
from vaedesk.core.train_options import TrainOptions as TrainOptions


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
        schedule = _schedule(opts, self.total_batches)
        warmup_batches = opts.kl_warmup * self.batches_per_epoch

        def beta(step: int) -> float:
            return model.config.beta * (min(1.0, step / warmup_batches) if warmup_batches else 1.0)

        if not self._find_neighbours(should_stop):
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
                sums += self._step(optimizer, picked, beta(done_batches), (distort, pairing), (epoch, b))
                seen += len(picked)
                done_batches += 1
                self.batch = b
                if b % opts.log_every == 0 or b == self.batches_per_epoch:
                    yield self._progress(sums / seen, seen, (start, epoch_start), done_batches)
            result = self._end_epoch(sums / seen, seen, (start, epoch_start), optimizer.param_groups[0]["lr"])
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

    def _find_neighbours(self, should_stop: Callable[[], bool] | None) -> bool:
        """Each training image's nearest neighbours, once, if the options ask for the
        neighbour term. False: cancelled during the search."""
        if self.options.neighbours and self.graph is None:
            self.graph = neighbour_graph(self.x_train, should_stop=should_stop)
            trim_heap()  # the search's blocks, freed, would otherwise stay in this thread's heap
            if self.graph is None:
                self.stop_reason = "cancelled"
                return False
        return True

    def _step(
        self,
        optimizer: torch.optim.Optimizer,
        picked: torch.Tensor,
        beta: float,
        generators: tuple[torch.Generator, torch.Generator],
        where: tuple[int, int],
    ) -> np.ndarray:
        """One optimizer step on the training images at `picked`; the batch's loss,
        reconstruction, KL and neighbour terms, summed over its images."""
        opts, model = self.options, self.model
        distort, pairing = generators
        xb = self._batch(picked, distort)
        yb = self.y_train[picked] if self.y_train is not None else None
        encoded, embed = None, torch.zeros(())
        if self.graph is not None:  # each image and one of its neighbours, in one pass
            column = torch.randint(NEIGHBOURS, (len(picked),), generator=pairing)
            partners = self._batch(self.graph[picked, column], distort)
            mu, logvar = model.encode(torch.cat([xb, partners]))
            embed = contrastive_loss(mu[: len(xb)], mu[len(xb) :])
            encoded = mu[: len(xb)], logvar[: len(xb)]
        loss, recon, kl = model.losses(xb, beta, opts.iw_samples, encoded, yb)
        objective = loss + opts.neighbours * embed
        if opts.free_bits:  # the ELBO's KL term held at the floor while below it
            objective = objective + beta * (torch.clamp(kl, min=opts.free_bits) - kl)
        if not torch.isfinite(objective):
            self.stop_reason = "diverged"
            raise TrainingDiverged(
                f"the loss became {objective.item()} at epoch {where[0]}, batch {where[1]}; "
                "try a lower learning rate"
            )
        optimizer.zero_grad(set_to_none=True)
        objective.backward()
        optimizer.step()
        return np.array([loss.item(), recon.item(), kl.item(), embed.item()]) * len(xb)

    def _progress(
        self, means: np.ndarray, seen: int, starts: tuple[float, float], done_batches: int
    ) -> BatchProgress:
        """The report after a batch: the epoch's mean terms so far, its pace, the ETA."""
        start, epoch_start = starts
        elapsed = time.perf_counter() - start
        rate = done_batches / elapsed
        return BatchProgress(
            self.epoch,
            self.batch,
            self.batches_per_epoch,
            loss=float(means[0]),
            recon=float(means[1]),
            kl=float(means[2]),
            samples_per_s=seen / (time.perf_counter() - epoch_start),
            elapsed=elapsed,
            eta=_eta(self.options, elapsed, (self.total_batches - done_batches) / rate),
        )

    def _end_epoch(self, train: np.ndarray, seen: int, starts: tuple[float, float], lr: float) -> EpochResult:
        """Validate the epoch's model, keep its weights if they are the best yet, and
        record the epoch."""
        opts, model, epoch = self.options, self.model, self.epoch
        start, epoch_start = starts
        val = mean_loss(model, self.x_val, seed=opts.seed, samples=opts.iw_samples, labels=self.y_val)
        improved = val[0] < self.best_val
        if improved:
            self.best_val, self.best_epoch = val[0], epoch
            self.best_state = copy.deepcopy(model.state_dict())
        seconds = time.perf_counter() - epoch_start
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
            lr=lr,
            seconds=seconds,
            elapsed=time.perf_counter() - start,
            samples_per_s=seen / seconds,
            improved=improved,
        )
        self.history.append(result)
        return result


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
