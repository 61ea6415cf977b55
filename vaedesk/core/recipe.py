"""One training recipe for the command line and the window, and one model-card format.

`vaedesk train` and Model > Train both run a `TrainingRun`: the engine's `Trainer`, the
test set optionally re-encoded after every epoch (the window's moving map), the best
epoch's weights restored, the same test metrics, and the same card, down to an
equivalent command line that reproduces the run.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from vaedesk.core.config import VAEConfig
from vaedesk.core.evaluate import BINARIZE_SEED, Progress, binarized, encode_means, evaluate, silent, stages
from vaedesk.core.memory import trim_heap
from vaedesk.core.model import VAE

# The card and the equivalent command have a module of their own; importable from here, as before.
from vaedesk.core.run_card import COLLAPSED_KL as COLLAPSED_KL
from vaedesk.core.run_card import card_of as card_of
from vaedesk.core.run_card import collapse_warning as collapse_warning
from vaedesk.core.run_card import collapsed as collapsed
from vaedesk.core.run_card import equivalent_command as equivalent_command
from vaedesk.core.run_card import make_card as make_card
from vaedesk.core.train import BatchProgress, EpochResult, Trainer, TrainingDiverged, TrainOptions

Split = tuple[np.ndarray, np.ndarray]  # images (N, 28, 28) uint8, labels (N,)


@dataclass(frozen=True)
class EpochUpdate:
    result: EpochResult
    state: dict[str, torch.Tensor]  # a snapshot of the weights after this epoch
    mu: np.ndarray | None  # the test set re-encoded with them, when asked for
    logvar: np.ndarray | None


@dataclass(frozen=True)
class Evaluating:
    """Yielded once, after training, before the (slow) test-set evaluation."""

    best_epoch: int
    stop_reason: str


@dataclass(frozen=True)
class EvalProgress:
    """How far the test-set evaluation after a run has got: in images of one stage, and as
    a share of the whole evaluation's work with the time left at the pace so far."""

    stage: str
    done: int
    total: int
    fraction: float = 0.0  # of the whole evaluation, by `evaluate.stages`
    eta: float = math.nan  # seconds left for the whole evaluation; NaN before any pace


class EvalClock:
    """Turns `evaluate`'s progress(stage, done, total) into `EvalProgress` over all its
    stages, weighted by their planned work (`evaluate.stages`)."""

    def __init__(self, stages: dict[str, float]) -> None:
        self.stages = stages
        self.total = sum(stages.values()) or 1.0
        self.started = time.perf_counter()

    def start(self) -> None:
        self.started = time.perf_counter()

    def __call__(self, stage: str, done: int, total: int) -> EvalProgress:
        before = 0.0
        for name, work in self.stages.items():
            if name == stage:
                break
            before += work
        here = self.stages.get(stage, 0.0) * (done / total if total else 1.0)
        fraction = min(1.0, (before + here) / self.total)
        elapsed = time.perf_counter() - self.started
        eta = elapsed * (1 - fraction) / fraction if fraction > 0 else math.nan
        return EvalProgress(stage, done, total, fraction, eta)


class EvaluationCancelled(Exception):
    """The test-set evaluation after a run was asked to stop: the run keeps its weights and
    its card, without test metrics."""


@dataclass(frozen=True)
class RunSpec:
    """Everything a run needs, gathered where the user asked for it (the window's thread)
    and handed to wherever it runs (a worker thread)."""

    config: VAEConfig
    init_state: dict[str, torch.Tensor] | None
    init: str | None
    # the training set, or how to read it: then it is read where the run runs, and freed
    # when the run ends (the window's worker thread)
    train: Split | Callable[[], Split]
    test: Split | None
    options: TrainOptions
    eval_k: int  # importance samples for the IWAE bound on the card; 0 for none
    command: str
    version: str  # vaedesk's, for the card: passed down, as the core never imports upwards


@dataclass(frozen=True)
class RunOutcome:
    """A finished run as plain data, safe to hand from a worker thread to the GUI thread
    (no optimizer, no autograd state, no reference to the trainer)."""

    stop_reason: str
    best_epoch: int
    card: dict[str, Any] | None  # None when no epoch finished
    state: dict[str, torch.Tensor] | None  # the best epoch's weights
    test_mu: np.ndarray | None
    test_logvar: np.ndarray | None
    # how far the training got: the epoch it was in, the batches done in it, of how many
    epoch: int = 0
    batch: int = 0
    batches: int = 0
    epochs: int = 0
    evaluation: str = "none"  # "done", "cancelled", or "none" (nothing to evaluate on)


def run_spec(
    spec: RunSpec,
    emit: Callable[[object], None],
    should_stop: Callable[[], bool],
    threads: int = 1,
) -> RunOutcome:
    """Run `spec` to the end in the calling thread, passing every event to `emit`, the
    test set re-encoded after each epoch. Sets torch's thread count for this thread
    (under OpenMP it is per thread): one, so that the other core stays with the window."""
    torch.set_num_threads(threads)
    torch.manual_seed(spec.options.seed)
    vae = VAE(spec.config)
    if spec.init_state is not None:
        vae.load_state_dict(spec.init_state)
    run = TrainingRun(
        vae,
        spec.train() if callable(spec.train) else spec.train,
        spec.options,
        command=spec.command,
        version=spec.version,
        init=spec.init,
        test=spec.test,
        eval_k=spec.eval_k,
        reencode_test=spec.test is not None,
    )
    clock = EvalClock(run.evaluation_stages())
    # A stop request also skips the evaluation, or ends it: Cancel means now.
    for event in run.events(should_stop, lambda *p: emit(clock(*p)), evaluation_stop=should_stop):
        if isinstance(event, Evaluating):
            clock.start()
        emit(event)
    state = {k: v.detach().clone() for k, v in vae.state_dict().items()} if run.card else None
    t = run.trainer
    return RunOutcome(
        run.stop_reason,
        run.best_epoch,
        run.card,
        state,
        run.test_mu,
        run.test_logvar,
        epoch=t.epoch,
        batch=t.batch,
        batches=t.batches_per_epoch,
        epochs=t.options.epochs,
        evaluation=run.evaluation,
    )


class TrainingRun:
    """Train `model` in place on `train`, then evaluate the best epoch on `test`.

    Drive `events()` to the end (it yields `BatchProgress`, `EpochUpdate` and one
    `Evaluating`), then read `card`, `stop_reason`, `test_mu` / `test_logvar`. A run
    whose loss diverges raises `TrainingDiverged` from `events()`; `card` then still
    describes the best epoch so far, if there was one.
    """

    def __init__(
        self,
        model: VAE,
        train: Split,
        options: TrainOptions,
        *,
        command: str,
        version: str,
        init: str | None = None,
        test: Split | None = None,
        eval_k: int = 64,
        reencode_test: bool = False,
    ) -> None:
        self.model = model
        self.train = train
        self.options = options
        self.command = command
        self.version = version
        self.init = init
        self.init_card = card_of(init)
        self.test = test
        self.eval_k = eval_k
        self.reencode_test = reencode_test
        self.trainer = Trainer(model, train[0], options, labels=train[1])
        self.card: dict[str, Any] | None = None
        self.metrics: dict[str, float] | None = None
        self.stop_reason = "not started"
        self.test_mu: np.ndarray | None = None
        self.test_logvar: np.ndarray | None = None
        self.evaluation = "none"

    @property
    def best_epoch(self) -> int:
        return self.trainer.best_epoch

    @property
    def batches_per_epoch(self) -> int:
        return self.trainer.batches_per_epoch

    def evaluation_stages(self) -> dict[str, float]:
        """The evaluation's stages, as its progress names them, and their planned work."""
        if self.test is None:
            return {}
        return stages(len(self.test[0]), len(self.train[0]), self.eval_k)

    def events(
        self,
        should_stop: Callable[[], bool] | None = None,
        eval_progress: Progress | None = None,
        evaluation_stop: Callable[[], bool] | None = None,
    ) -> Iterator[BatchProgress | EpochUpdate | Evaluating]:
        """The run's events; `eval_progress(stage, done, total)` follows the evaluation,
        which ends, its metrics left out, as soon as `evaluation_stop()` says so (checked
        before it starts and at each of its progress reports)."""
        started = time.perf_counter()
        try:
            for event in self.trainer.run(should_stop=should_stop):
                if isinstance(event, BatchProgress):
                    yield event
                    continue
                mu = logvar = None
                if self.reencode_test and self.test is not None:
                    mu, logvar = encode_means(self.model, self.test[0], labels=self.test[1])
                    self.model.train()
                update = EpochUpdate(event, copy.deepcopy(self.model.state_dict()), mu, logvar)
                trim_heap()  # the validation's and the encoding's activations, freed
                yield update
            self.stop_reason = self.trainer.stop_reason
        except TrainingDiverged as e:
            self.stop_reason = f"diverged: {e}"
            self._describe(time.perf_counter() - started)
            raise
        finally:
            self.trainer.release()  # the evaluation reads the caller's images, not these
            trim_heap()
        # The trained weights and their card exist from here on, before the evaluation,
        # so that a caller can save them first: a failing evaluation loses nothing.
        self._describe(time.perf_counter() - started)
        yield Evaluating(self.trainer.best_epoch, self.stop_reason)
        if self.card is not None and self.test is not None:
            try:
                self._evaluate(eval_progress or silent, evaluation_stop)
            except EvaluationCancelled:
                self.evaluation = "cancelled"
                self.card = {**self.card, "evaluation": "cancelled"}
            else:
                self.evaluation = "done"
            finally:
                trim_heap()

    def _evaluate(self, report: Progress, evaluation_stop: Callable[[], bool] | None) -> None:
        stages_seen: list[str] = []

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in stages_seen:  # the stage before has freed its arrays: return them
                stages_seen.append(stage)
                trim_heap()
            report(stage, done, total)
            if evaluation_stop is not None and evaluation_stop():
                raise EvaluationCancelled

        if evaluation_stop is not None and evaluation_stop():
            raise EvaluationCancelled
        assert self.test is not None and self.card is not None  # the caller checked
        test, train = self.test, self.train
        if self.trainer.options.binarize:  # measured as trained: on binarized pixels, as `eval --binarized`
            test = (binarized(test[0], seed=BINARIZE_SEED), test[1])
            train = (binarized(train[0], seed=BINARIZE_SEED + 1), train[1]) if train is not None else None
        self.metrics = evaluate(self.model, test, train, k_iwae=self.eval_k, progress=progress)
        self.test_mu, self.test_logvar = encode_means(self.model, self.test[0], labels=self.test[1])
        self.card = {**self.card, "test_metrics": {k: round(v, 4) for k, v in self.metrics.items()}}

    def _describe(self, seconds: float) -> None:
        """Restore the best epoch and write its card (test metrics still None); a VampPrior
        becomes the mixture it encodes to, as it is saved and evaluated."""
        if self.trainer.best_state is None:
            return  # no epoch finished: nothing to describe
        self.trainer.restore_best()
        self.model.eval()
        trained_prior = self.model.config.prior
        self.model.settle_prior()
        self.card = make_card(
            version=self.version,
            command=self.command,
            options=self.options,
            trainer=self.trainer,
            init=self.init,
            init_card=self.init_card,
            train_images=len(self.train[0]),
            seconds=seconds,
            metrics=self.metrics,
            eval_k=self.eval_k,
            stop_reason=self.stop_reason,
        )
        self.card["trained_prior"] = trained_prior  # the config says "mog" for a settled VampPrior
