"""Retraining inside the window: options, a background run of the engine's own training
generator, live curves, a map that moves as it learns, and keep / save / discard."""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDockWidget,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from vaedesk.core import data
from vaedesk.core.api import Model
from vaedesk.core.digits import EncodedTestSet
from vaedesk.core.evaluate import encode_means, negative_elbo
from vaedesk.core.model import ARCHS, VAE, VAEConfig
from vaedesk.core.train import BatchProgress, EpochResult, Trainer, TrainingDiverged, TrainOptions


@dataclass
class EpochUpdate:
    result: EpochResult
    state: dict[str, torch.Tensor]  # a snapshot of the weights after this epoch
    mu: np.ndarray | None  # the test set re-encoded with them
    logvar: np.ndarray | None


@dataclass
class RunOutcome:
    reason: str
    config: VAEConfig
    best_state: dict[str, torch.Tensor] | None
    best_epoch: int
    card: dict[str, Any]
    mu: np.ndarray | None
    logvar: np.ndarray | None


def training_job(
    config: VAEConfig,
    init_state: dict | None,
    images: np.ndarray,
    options: TrainOptions,
    test_images: np.ndarray | None,
    threads: int = 1,
):
    """The work a training Worker does in its thread: the engine's Trainer, plus a re-encode
    of the test set after every epoch. Emits plain data only."""

    def job(emit, should_stop) -> RunOutcome:
        torch.set_num_threads(threads)  # per thread under OpenMP: set it here, in the worker
        torch.manual_seed(options.seed)
        vae = VAE(config)
        if init_state is not None:
            vae.load_state_dict(init_state)
        trainer = Trainer(vae, images, options)
        started = time.time()
        for event in trainer.run(should_stop=should_stop):
            if isinstance(event, BatchProgress):
                emit(event)
                continue
            mu = logvar = None
            if test_images is not None:
                mu, logvar = encode_means(vae, test_images)
                vae.train()
            emit(EpochUpdate(event, copy.deepcopy(vae.state_dict()), mu, logvar))
        trainer.restore_best()
        card: dict[str, Any] = {
            "command": "trained in the vaedesk window",
            "seed": options.seed,
            "options": vars(options),
            "init": "current model" if init_state is not None else None,
            "train_images": len(images),
            "epochs_run": len(trainer.history),
            "best_epoch": trainer.best_epoch,
            "stop_reason": trainer.stop_reason,
            "training_seconds": round(time.time() - started, 1),
            "torch_version": torch.__version__,
            "data_sha256": {spec.name: spec.sha256 for spec in data.ALL_FILES},
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        mu = logvar = None
        if trainer.best_state is not None and test_images is not None:
            card["test_metrics"] = {k: round(v, 4) for k, v in negative_elbo(vae, test_images).items()}
            card["test_metrics"]["n_test"] = len(test_images)
            mu, logvar = encode_means(vae, test_images)
        return RunOutcome(
            trainer.stop_reason, config, trainer.best_state, trainer.best_epoch, card, mu, logvar
        )

    return job


class LossCurves(pg.PlotWidget):
    """Training and validation loss, with the reconstruction and KL terms (val), per epoch."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setLabel("bottom", "epoch")
        self.setLabel("left", "nats / image")
        self.showGrid(x=True, y=True, alpha=0.2)
        self.addLegend(offset=(-10, 10))
        self.train = self.plot(pen=pg.mkPen("#4e79a7", width=2), name="train loss")
        self.val = self.plot(
            pen=pg.mkPen("#e15759", width=2), symbol="o", symbolSize=6, symbolBrush="#e15759", name="val loss"
        )
        self.recon = self.plot(
            pen=pg.mkPen("#59a14f", width=1.5, style=Qt.PenStyle.DashLine), name="val reconstruction"
        )
        self.kl = self.plot(pen=pg.mkPen("#b07aa1", width=1.5, style=Qt.PenStyle.DashLine), name="val KL")
        self.reset()

    def reset(self) -> None:
        self._last: BatchProgress | None = None
        self.points: dict[str, tuple[list[float], list[float]]] = {
            k: ([], []) for k in ("train", "val", "recon", "kl")
        }
        for curve in (self.train, self.val, self.recon, self.kl):
            curve.setData([], [])

    def _add(self, key: str, curve, x: float, y: float) -> None:
        xs, ys = self.points[key]
        xs.append(x)
        ys.append(y)
        curve.setData(xs, ys)

    def add_batch(self, p: BatchProgress) -> None:
        """Plot the mean over the batches since the last report, not the epoch's running
        mean, so the curve does not jump at every epoch boundary."""
        loss = p.loss
        if self._last is not None and self._last.epoch == p.epoch and p.batch > self._last.batch:
            loss = (p.loss * p.batch - self._last.loss * self._last.batch) / (p.batch - self._last.batch)
        self._last = p
        self._add("train", self.train, p.epoch - 1 + p.batch / p.batches, loss)

    def add_epoch(self, r: EpochResult) -> None:
        self._add("val", self.val, r.epoch, r.val_loss)
        self._add("recon", self.recon, r.epoch, r.val_recon)
        self._add("kl", self.kl, r.epoch, r.val_kl)


class TrainingPanel(QDockWidget):
    """The Model > Train panel. It owns one run at a time and reports to the window."""

    run_started = Signal()
    epoch_finished = Signal(int)
    run_finished = Signal(str)  # the stop reason, "diverged: ..." or "failed: ..."

    def __init__(self, window) -> None:
        super().__init__("Train", window)
        self.window = window
        self.task = None
        self.outcome: RunOutcome | None = None
        self.model_before: Model | None = None
        self.run_config = VAEConfig()
        self.started_at = 0.0
        self.last_progress: BatchProgress | None = None
        self.samples_per_s: list[float] = []
        self.setObjectName("training")
        self.setAllowedAreas(Qt.DockWidgetArea.BottomDockWidgetArea | Qt.DockWidgetArea.TopDockWidgetArea)

        body = QWidget()
        row = QHBoxLayout(body)
        form = QFormLayout()
        self.arch = QComboBox()
        self.arch.addItems(ARCHS)
        self.epochs = QSpinBox(minimum=1, maximum=500, value=5)
        self.batch_size = QSpinBox(minimum=8, maximum=4096, value=128)
        self.lr = QDoubleSpinBox(decimals=5, minimum=1e-5, maximum=1.0, singleStep=1e-4, value=1e-3)
        self.beta = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=100.0, singleStep=0.1, value=1.0)
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1, value=0)
        self.limit = QSpinBox(minimum=200, maximum=60000, value=60000, singleStep=1000)
        self.from_current = QCheckBox("start from the current weights")
        self.from_current.toggled.connect(lambda on: self.arch.setEnabled(not on))
        for label, w in (
            ("architecture", self.arch),
            ("epochs", self.epochs),
            ("batch size", self.batch_size),
            ("learning rate", self.lr),
            ("\u03b2 (KL weight)", self.beta),
            ("seed", self.seed),
            ("training images", self.limit),
            ("", self.from_current),
        ):
            form.addRow(label, w)
        buttons = QHBoxLayout()
        self.start_button = QPushButton("Start")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        form.addRow(buttons)
        row.addLayout(form)

        right = QVBoxLayout()
        self.progress = QProgressBar()
        self.status = QLabel(
            "Set the options and press Start. Training uses one core; the window stays live."
        )
        self.curves = LossCurves()
        self.curves.setMinimumHeight(180)
        result = QHBoxLayout()
        self.result_label = QLabel()
        self.keep_button = QPushButton("Keep")
        self.save_button = QPushButton("Save\u2026")
        self.discard_button = QPushButton("Discard")
        result.addWidget(self.result_label, 1)
        for b in (self.keep_button, self.save_button, self.discard_button):
            result.addWidget(b)
        self._show_result_buttons(False)
        right.addWidget(self.progress)
        right.addWidget(self.status)
        right.addWidget(self.curves, 1)
        right.addLayout(result)
        row.addLayout(right, 1)
        self.setWidget(body)

        # clicked(bool) would hand its `checked` flag to start(images): call it bare.
        self.start_button.clicked.connect(lambda: self.start())
        self.cancel_button.clicked.connect(self.cancel)
        self.keep_button.clicked.connect(self.keep)
        self.save_button.clicked.connect(self.save)
        self.discard_button.clicked.connect(self.discard)

    # -- running ------------------------------------------------------------------------------

    def is_running(self) -> bool:
        return self.task is not None and self.task.is_running()

    def options(self) -> TrainOptions:
        n = self.limit.value()
        return TrainOptions(
            epochs=self.epochs.value(),
            batch_size=self.batch_size.value(),
            lr=self.lr.value(),
            seed=self.seed.value(),
            val_size=min(5000, max(1, n // 10)),
            log_every=max(1, math.ceil(n * 0.9 / self.batch_size.value() / 20)),
        )

    def start(self, images: np.ndarray | None = None) -> bool:
        """Start a run on the MNIST training set (or on `images`, for tests and the self-test)."""
        from vaedesk.ui.workers import Worker

        if self.is_running():
            return False
        if self.outcome is not None:
            self.discard()
        if images is None:
            images = self.window.training_images()
            if images is None:
                return False
        images = images[: self.limit.value()]
        if self.from_current.isChecked():
            config = self.window.model.config
            init = copy.deepcopy(self.window.model.vae.state_dict())
        else:
            config = VAEConfig(arch=self.arch.currentText(), beta=self.beta.value())
            init = None
        if self.beta.value() != config.beta:
            config = VAEConfig(**{**config.to_dict(), "beta": self.beta.value()})
        self.run_config = config
        test_images = self.window.test.images if self.window.test is not None else None
        job = training_job(config, init, images, self.options(), test_images)
        worker = Worker(job, expected_errors=(TrainingDiverged, ValueError))
        worker.progress.connect(self._on_progress)
        worker.succeeded.connect(self._on_succeeded)
        worker.failed.connect(self._on_failed)
        self.model_before = self.window.model
        self.curves.reset()
        self.samples_per_s.clear()
        self.progress.setRange(
            0,
            self.options().epochs
            * math.ceil((len(images) - self.options().val_size) / self.batch_size.value()),
        )
        self.progress.setValue(0)
        self.status.setText(f"Training on {len(images)} images\u2026")
        self._set_running(True)
        self.started_at = time.perf_counter()
        self.task = self.window._start(worker)
        self.run_started.emit()
        return True

    def cancel(self) -> None:
        if self.is_running():
            self.task.worker.request_stop()
            self.status.setText("Cancelling after this batch\u2026")

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)

    def _on_progress(self, event) -> None:
        if isinstance(event, BatchProgress):
            self.last_progress = event
            self.samples_per_s.append(event.samples_per_s)
            self.progress.setValue((event.epoch - 1) * event.batches + event.batch)
            self.curves.add_batch(event)
            self.status.setText(
                f"epoch {event.epoch}/{self.epochs.value()} \u00b7 "
                f"batch {event.batch}/{event.batches} \u00b7 "
                f"loss {event.loss:.1f} \u00b7 {event.samples_per_s:,.0f} images/s \u00b7 "
                f"ETA {int(event.eta) // 60}:{int(event.eta) % 60:02d}"
            )
            return
        r = event.result
        self.curves.add_epoch(r)
        vae = VAE(self.run_config)
        vae.load_state_dict(event.state)
        preview = Model(vae, {"test_metrics": {}}, None)
        encoded = None
        if event.mu is not None and self.window.test is not None:
            encoded = EncodedTestSet(self.window.test.images, self.window.test.labels, event.mu, event.logvar)
        self.window.set_model(preview, encoded, label=f"training, epoch {r.epoch}")
        self.epoch_finished.emit(r.epoch)

    def _on_succeeded(self, outcome: RunOutcome) -> None:
        self._set_running(False)
        self.task = None
        if outcome.best_state is None:
            self.status.setText(f"Stopped ({outcome.reason}) before the first epoch ended; nothing to keep.")
            self._restore_previous()
            self.run_finished.emit(outcome.reason)
            return
        self.outcome = outcome
        vae = VAE(outcome.config)
        vae.load_state_dict(outcome.best_state)
        model = Model(vae, outcome.card, None)
        encoded = None
        if outcome.mu is not None and self.window.test is not None:
            encoded = EncodedTestSet(
                self.window.test.images, self.window.test.labels, outcome.mu, outcome.logvar
            )
        self.window.set_model(model, encoded, label="new model (not kept yet)")
        score = model.test_neg_elbo
        self.result_label.setText(
            f"Run {outcome.reason}: best epoch {outcome.best_epoch}"
            + (f", test \u2212ELBO {score:.1f} nats" if score is not None else "")
            + ". Keep it, save it, or discard it?"
        )
        self.status.setText(f"Finished in {time.perf_counter() - self.started_at:.0f} s ({outcome.reason}).")
        self._show_result_buttons(True)
        self.run_finished.emit(outcome.reason)

    def _on_failed(self, kind: str, message: str) -> None:
        self._set_running(False)
        self.task = None
        self._restore_previous()
        self.status.setText(f"Training stopped: {message}. The previous model is kept.")
        self.window.warn(f"Training stopped: {message}.\n\nThe previous model is kept.")
        self.run_finished.emit(("diverged: " if kind == "TrainingDiverged" else "failed: ") + message)

    def _restore_previous(self) -> None:
        if self.model_before is not None:
            self.window.set_model(self.model_before)
        self.model_before = None

    # -- the result ------------------------------------------------------------------------------

    def _show_result_buttons(self, visible: bool) -> None:
        for w in (self.result_label, self.keep_button, self.save_button, self.discard_button):
            w.setVisible(visible)

    def keep(self) -> None:
        if self.outcome is None:
            return
        self.outcome = None
        self.model_before = None
        self.window.show_model_status()  # the current model, no longer "not kept yet"
        self._show_result_buttons(False)
        self.status.setText("Kept the new model. Save it from Model \u203a Save current model.")

    def save(self, path: str | None = None) -> bool:
        if self.outcome is None:
            return False
        if not self.window.save_model(path):
            return False
        self.outcome = None
        self.model_before = None
        self._show_result_buttons(False)
        return True

    def discard(self) -> None:
        if self.outcome is None:
            return
        self.outcome = None
        self._restore_previous()
        self._show_result_buttons(False)
        self.status.setText("Discarded the new model.")

    def samples_per_second(self) -> float:
        return float(np.median(self.samples_per_s)) if self.samples_per_s else 0.0
