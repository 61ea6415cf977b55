"""Retraining inside the window: options, a background run of the engine's own training
recipe, live curves, a map that moves as it learns, and keep / save / discard.

The panel reads what it needs from the session and reports through signals; the run
itself is `vaedesk.core.recipe.TrainingRun`, the same as `vaedesk train`.
"""

from __future__ import annotations

import math
import sys
import time
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDockWidget,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from vaedesk import __version__
from vaedesk.core import data
from vaedesk.core.api import Model
from vaedesk.core.config import ARCHS, WINDOW_EVAL_K, VAEConfig
from vaedesk.core.digits import EncodedTestSet
from vaedesk.core.memory import trim_heap
from vaedesk.core.session import Session
from vaedesk.ui import files
from vaedesk.ui.workers import Task, Worker

if TYPE_CHECKING:
    from vaedesk.core.recipe import EvalProgress, RunOutcome, RunSpec
    from vaedesk.core.train import BatchProgress, EpochResult, TrainOptions

EVAL_STEPS = 1000  # the bar's steps while the test set is evaluated
IDLE = "Set the options and press Start. Training uses one core; the window stays live."

# The training engine imports torch (1.3 s, 170 MB), which the viewer never needs: the
# panel loads it in a thread the first time it is shown or Start is pressed.
ENGINE = "vaedesk.core.recipe"


def clock(seconds: float) -> str:
    """Seconds as m:ss."""
    s = max(0, int(seconds))
    return f"{s // 60}:{s % 60:02d}"


def dispose(task: Task) -> None:
    """Delete a finished task and its worker: children of the panel, they would otherwise
    live as long as it does, each holding its job's last values."""
    task.worker.deleteLater()
    task.deleteLater()


def engine_loaded() -> bool:
    return ENGINE in sys.modules


def load_engine(emit, should_stop) -> None:
    import torch

    import vaedesk.core.recipe  # noqa: F401

    torch.set_num_threads(1)  # training leaves the other core to the interface


def training_job(spec: RunSpec):
    """The worker's job: the recipe's events, emitted as they come; the run returned."""
    from vaedesk.core.recipe import run_spec

    def job(emit, should_stop):
        try:
            return run_spec(spec, emit, should_stop, threads=1)
        finally:
            # Here, in the worker's thread: giving back hundreds of MB of pages took 0.27 s
            # (measured), which the window's thread would spend frozen.
            trim_heap()

    return job


class LossCurves(pg.PlotWidget):
    """Training and validation loss and the validation reconstruction term, per epoch, in
    nats on the left axis; the validation KL, some fifty times smaller, on its own axis on
    the right, so that neither flattens the other.

    The loss axis follows the curves but leaves out the first tenth of the training
    curve, or its learning-rate warm-up if that is longer, whose batches (twice the loss
    of a trained model, or more) would otherwise squash the rest into a flat line; those
    run off the top."""

    EARLY = 0.1  # of the training curve's points, left out of the loss axis's range

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setLabel("bottom", "epoch")
        # Epochs are epochs: no "(x0.001)" while the first batches' fractions are on show.
        self.getPlotItem().getAxis("bottom").enableAutoSIPrefix(False)
        self.setLabel("left", "loss (nats / image)")
        self.showGrid(x=True, y=True, alpha=0.2)
        backdrop = pg.mkColor(pg.getConfigOption("background"))
        backdrop.setAlpha(210)  # the curves may pass under the legend: keep its text legible
        # Bottom left: losses fall from the top left, and validation starts after epoch 1.
        self.addLegend(offset=(10, -10), brush=backdrop)
        self.train = self.plot(pen=pg.mkPen("#4e79a7", width=2), name="train loss")
        # Validation comes once an epoch: each point marked, so that one epoch shows one.
        self.val = self.plot(pen=pg.mkPen("#e15759", width=2), name="val loss", **self.marker("o", "#e15759"))
        self.recon = self.plot(
            pen=pg.mkPen("#59a14f", width=1.5, style=Qt.PenStyle.DashLine),
            name="val reconstruction",
            **self.marker("s", "#59a14f"),
        )
        # The KL in a view box of its own, sharing the x axis, scaled on the right axis.
        plot = self.getPlotItem()
        self.kl_view = pg.ViewBox(enableMouse=False)
        plot.showAxis("right")
        plot.scene().addItem(self.kl_view)
        plot.getAxis("right").linkToView(self.kl_view)
        plot.getAxis("right").setLabel("val KL (nats)", color="#b07aa1")
        self.kl_view.setXLink(plot)
        self.kl = pg.PlotDataItem(
            pen=pg.mkPen("#b07aa1", width=1.5, style=Qt.PenStyle.DashLine), **self.marker("t", "#b07aa1")
        )
        self.kl_view.addItem(self.kl)
        plot.legend.addItem(self.kl, "val KL (right axis)")
        plot.vb.sigResized.connect(lambda *_: self.kl_view.setGeometry(plot.vb.sceneBoundingRect()))
        plot.vb.enableAutoRange(axis=pg.ViewBox.YAxis, enable=False)
        self.reset()

    @staticmethod
    def marker(symbol: str, colour: str) -> dict:
        return {"symbol": symbol, "symbolSize": 8, "symbolBrush": colour, "symbolPen": colour}

    def reset(self, warmup: float = 0.0, epochs: int | None = None) -> None:
        """Clear the curves for a run of `epochs` whose learning rate warms up over `warmup`
        epochs. The x axis spans the whole run from the start, so that the curves grow
        across it and the last epoch's validation points sit inside the frame, not on its
        edge; without a run it follows the curves."""
        self.warmup = warmup
        if epochs is not None:
            self.setXRange(0, epochs, padding=0.03)
        else:
            self.getPlotItem().vb.enableAutoRange(axis=pg.ViewBox.XAxis, enable=True)
        self._last: BatchProgress | None = None
        self.points: dict[str, tuple[list[float], list[float]]] = {
            k: ([], []) for k in ("train", "val", "recon", "kl")
        }
        for curve in (self.train, self.val, self.recon, self.kl):
            curve.setData([], [])
        self.setYRange(0, 1)

    def loss_range(self) -> tuple[float, float] | None:
        """The loss axis's span: every validation point, and the training curve but for
        its first tenth and its warm-up (all of it while it has fewer than ten points)."""
        xs, train = self.points["train"]
        early = 0
        if len(train) >= 10:
            early = max(int(len(train) * self.EARLY), sum(x <= self.warmup for x in xs))
        values = train[min(early, len(train) - 1) :] + self.points["val"][1] + self.points["recon"][1]
        finite = [v for v in values if np.isfinite(v)]
        if not finite:
            return None
        return min(finite), max(finite)

    def _add(self, key: str, curve, x: float, y: float) -> None:
        xs, ys = self.points[key]
        xs.append(x)
        ys.append(y)
        curve.setData(xs, ys)
        if key == "kl":
            self.kl_view.setYRange(0, max(1.0, max(v for v in ys if np.isfinite(v))), padding=0.1)
        elif (span := self.loss_range()) is not None:
            self.setYRange(*span, padding=0.08)

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
    """The Model > Train panel: one run at a time."""

    run_started = Signal()
    epoch_finished = Signal(int)
    evaluating = Signal(int)  # the run has stopped; its best epoch is being evaluated
    run_finished = Signal(str)  # the stop reason, "diverged: ..." or "failed: ..."
    # The window shows this model (and these test-set means, or None to re-encode), under
    # this label (None: the model's own name).
    model_offered = Signal(object, object, object)
    model_saved = Signal(str)
    download_requested = Signal()
    choose_data_requested = Signal()

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__("Train", parent)
        self.session = session
        self.task: Task | None = None
        self.loading: Task | None = None  # the engine's import, the first time
        self.start_pending = False  # Start was pressed while the engine loaded
        self.result: Model | None = None  # a finished run's model, not yet kept or discarded
        self.model_before: Model | None = None
        self.run_config = VAEConfig()
        self.started_at = 0.0
        self.last_progress: BatchProgress | None = None
        self.last_eval: EvalProgress | None = None
        self.best_epoch = 0  # the epoch being evaluated
        self.samples_per_s: list[float] = []
        self._offering = False  # the model being shown is one this panel offers
        session.events.model.connect(self._on_model_replaced)
        self.setObjectName("training")
        self.setAllowedAreas(Qt.DockWidgetArea.BottomDockWidgetArea | Qt.DockWidgetArea.TopDockWidgetArea)

        body = QWidget()
        row = QHBoxLayout(body)
        form = QFormLayout()
        self.arch = QComboBox()
        self.arch.addItems(ARCHS)
        self.prior = QComboBox()
        for text, name in (("mixture of Gaussians", "mog"), ("standard normal", "normal")):
            self.prior.addItem(text, name)
        self.prior.setToolTip(
            "The latent prior. A learned mixture lets each digit take a region of its own and\n"
            "keeps short runs from collapsing onto the prior; the bundled model uses one."
        )
        self.components = QSpinBox(minimum=1, maximum=256, value=16)
        self.components.setToolTip(
            "Gaussians in the mixture prior. The bundled model has 64, trained for an hour;\n"
            "in a run of a few epochs 64 collapsed onto the prior where 16 did not (README)."
        )
        # 3 epochs at 2e-3 on all the images: a map whose digits mostly separate in about
        # 3.5 min of one core (README, "Retraining in the window", gives what it reaches).
        self.epochs = QSpinBox(minimum=1, maximum=500, value=3)
        self.batch_size = QSpinBox(minimum=8, maximum=4096, value=128)
        self.lr = QDoubleSpinBox(decimals=5, minimum=1e-5, maximum=1.0, singleStep=1e-4, value=2e-3)
        self.beta = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=100.0, singleStep=0.1, value=1.0)
        self.free_bits = QDoubleSpinBox(decimals=1, minimum=0.0, maximum=50.0, singleStep=0.5, value=2.0)
        self.free_bits.setToolTip(
            "No KL gradient while a batch's KL is below this many nats per image, so that a\n"
            "short run cannot collapse onto the prior (0: the plain ELBO). A trained 2-D model\n"
            "has 5 to 7 nats, above it; the curves and the card show the true ELBO."
        )
        # 30: the default run's 5-NN from 59 % to 79 % at a better -ELBO (README)
        self.neighbours = QDoubleSpinBox(decimals=1, minimum=0.0, maximum=1000.0, singleStep=5.0, value=30.0)
        self.neighbours.setToolTip(
            "Weight of the neighbour-embedding term: each image's point is pulled towards one\n"
            "of its 15 nearest training images in pixel space and pushed from the others, so\n"
            "that digits that look alike land together on the map (no labels are used).\n"
            "0: the ELBO alone. Finding the neighbours takes about half a minute first."
        )
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1, value=0)
        self.limit = QSpinBox(minimum=200, maximum=60000, value=60000, singleStep=1000)
        self.eval_k = QSpinBox(minimum=0, maximum=64, value=WINDOW_EVAL_K)
        self.eval_k.setToolTip(
            "Importance samples for the IWAE bound on the card (0: none). On one core the\n"
            "default conv model takes about 3 s per sample on the 10,000 test images."
        )
        self.from_current = QCheckBox("start from the current weights")
        self.from_current.toggled.connect(lambda _: self._enable_model_fields())
        self.prior.currentIndexChanged.connect(lambda _: self._enable_model_fields())
        # Three columns of fields, so that the panel stays short enough for a 1000-pixel screen.
        fields = [
            ("architecture", self.arch),
            ("prior", self.prior),
            ("components", self.components),
            ("epochs", self.epochs),
            ("batch size", self.batch_size),
            ("learning rate", self.lr),
            ("\u03b2 (KL weight)", self.beta),
            ("free bits (nats)", self.free_bits),
            ("seed", self.seed),
            ("training images", self.limit),
            ("IWAE samples", self.eval_k),
            ("neighbours (weight)", self.neighbours),
        ]
        columns = QHBoxLayout()
        for third in (fields[:4], fields[4:8], fields[8:]):
            column = QFormLayout()
            for label, w in third:
                column.addRow(label, w)
            columns.addLayout(column)
        form.addRow(columns)
        form.addRow(self.from_current)
        buttons = QHBoxLayout()
        self.start_button = QPushButton("Start")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        # Keep / Save / Discard share the row of Start and Cancel, the result under them:
        # beside the curves they widened the panel, and the window, to 1,000 px at 800.
        self.keep_button = QPushButton("Keep")
        self.save_button = QPushButton("Save\u2026")
        self.discard_button = QPushButton("Discard")
        self.result_label = QLabel()
        self.result_label.setWordWrap(True)
        for b in (self.keep_button, self.save_button, self.discard_button):
            buttons.addWidget(b)
        form.addRow(buttons)
        form.addRow(self.result_label)
        # the status under them too: in the column of the curves it had 124 px at 800 x 600,
        # too narrow for its lines, and was cut
        self.status = QLabel(IDLE)
        self.status.setWordWrap(True)
        form.addRow(self.status)
        row.addLayout(form)

        right = QVBoxLayout()
        self.progress = QProgressBar()
        self.curves = LossCurves()
        self.curves.setMinimumHeight(130)
        self._show_result_buttons(False)
        right.addWidget(self.progress)
        right.addWidget(self.curves, 1)
        row.addLayout(right, 1)
        self.setWidget(body)

        # clicked(bool) passes its `checked` flag: connect to slots that take none.
        self.start_button.clicked.connect(lambda: self.start())
        self.cancel_button.clicked.connect(lambda: self.cancel())
        self.keep_button.clicked.connect(lambda: self.keep())
        self.save_button.clicked.connect(lambda: self.save())
        self.discard_button.clicked.connect(lambda: self.discard())

    def _enable_model_fields(self) -> None:
        """A run from the current weights keeps their architecture and prior; the number of
        components means something for a mixture only."""
        fresh = not self.from_current.isChecked()
        self.arch.setEnabled(fresh)
        self.prior.setEnabled(fresh)
        self.components.setEnabled(fresh and self.prior.currentData() == "mog")

    # -- running ------------------------------------------------------------------------------

    def is_running(self) -> bool:
        return self.start_pending or (self.task is not None and self.task.is_running())

    def showEvent(self, event) -> None:  # noqa: N802
        self.load_engine()  # while the user sets the options
        super().showEvent(event)

    def load_engine(self) -> None:
        """Import the training engine (torch) in a thread, once; Start waits for it."""
        if engine_loaded() or self.loading is not None:
            return
        worker = Worker(load_engine, expected_errors=(ImportError, OSError))
        worker.succeeded.connect(lambda _: self._on_engine_loaded())
        worker.failed.connect(lambda kind, message: self._on_engine_failed(message))
        task = self.loading = Task(worker, self)
        worker.finished.connect(lambda: dispose(task))
        task.start()

    def _on_engine_loaded(self) -> None:
        self.loading = None
        if self.start_pending:
            self.start_pending = False
            self._set_running(False)
            self.start()

    def _on_engine_failed(self, message: str) -> None:
        self.loading = None
        self.start_pending = False
        self._set_running(False)
        self.status.setText(f"Training is not available: PyTorch could not be loaded ({message}).")

    def options(self, n_images: int) -> TrainOptions:
        from vaedesk.core.train import TrainOptions

        return TrainOptions(
            epochs=self.epochs.value(),
            batch_size=self.batch_size.value(),
            lr=self.lr.value(),
            # half an epoch, at most 200 batches, of rising learning rate: at 2e-3 without it
            # one seed in three lost its posterior in the first epoch (README)
            lr_warmup=min(200, math.ceil(n_images * 0.9 / self.batch_size.value() / 2)),
            free_bits=self.free_bits.value(),
            neighbours=self.neighbours.value(),
            seed=self.seed.value(),
            val_size=min(5000, max(1, n_images // 10)),
            log_every=max(1, math.ceil(n_images * 0.9 / self.batch_size.value() / 20)),
        )

    def start(self) -> bool:
        """Start a run with the options shown, on the session's MNIST training set."""
        if self.is_running():
            return False
        if not engine_loaded():
            self.start_pending = True
            self._set_running(True)
            self.status.setText("Loading PyTorch for training (first run only)\u2026")
            self.load_engine()
            return True
        from vaedesk.core.recipe import RunSpec, equivalent_command
        from vaedesk.core.train import TrainingDiverged

        if self.result is not None:
            self.discard()
        try:
            images, labels = self.session.training_set()
        except data.DataError as e:
            self._offer_data(str(e))
            return False
        total = len(images)
        n = min(self.limit.value(), total)
        images, labels = images[:n], labels[:n]
        model = self.session.model
        if self.from_current.isChecked():
            config = VAEConfig(**{**model.config.to_dict(), "beta": self.beta.value()})
            init_state = model.state()
            init = str(model.path) if model.path is not None else "the current model"
        else:
            config = VAEConfig(
                arch=self.arch.currentText(),
                beta=self.beta.value(),
                prior=self.prior.currentData(),
                components=self.components.value(),
            )
            init_state = init = None
        try:
            options = self.options(n)
        except ValueError as e:
            files.warn(self, f"Cannot train with these options: {e}")
            return False
        limit = n if n < total else None
        test = self.session.test
        spec = RunSpec(
            config,
            init_state,
            init,
            (images, labels),
            (test.images, test.labels) if test is not None else None,
            options,
            self.eval_k.value(),
            "in the vaedesk window; the same run from the command line: "
            + equivalent_command(config.to_dict(), options, limit, init),
            version=__version__,
        )
        worker = Worker(training_job(spec), expected_errors=(TrainingDiverged, ValueError))
        worker.progress.connect(self._on_progress)
        worker.succeeded.connect(self._on_succeeded)
        worker.failed.connect(self._on_failed)
        self.run_config = config
        self.model_before = model
        batches = math.ceil((n - options.val_size) / options.batch_size)
        self.curves.reset(warmup=options.lr_warmup / batches, epochs=options.epochs)
        self.samples_per_s.clear()
        self.last_progress = None
        self.last_eval = None
        self.best_epoch = 0
        self.progress.setRange(0, options.epochs * batches)
        self.progress.setValue(0)
        self.status.setText(
            f"Finding each image's nearest neighbours, then training on {n:,} images\u2026"
            if options.neighbours
            else f"Training on {n:,} images\u2026"
        )
        self._set_running(True)
        self.started_at = time.perf_counter()
        task = self.task = Task(worker, self)
        worker.finished.connect(lambda: self._on_task_finished(task))
        task.start()
        self.run_started.emit()
        return True

    def _offer_data(self, reason: str) -> None:
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "vaedesk",
            f"Training needs the MNIST training set.\n\n{reason}",
            parent=self,
        )
        download = box.addButton("Download (11 MB)", QMessageBox.ButtonRole.AcceptRole)
        choose = box.addButton("Choose folder\u2026", QMessageBox.ButtonRole.ActionRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        if box.clickedButton() is download:
            self.status.setText("Downloading MNIST: press Start again when it has finished.")
            self.download_requested.emit()
        elif box.clickedButton() is choose:
            self.choose_data_requested.emit()

    def cancel(self) -> None:
        if self.start_pending:
            self.start_pending = False
            self._set_running(False)
            self.status.setText("Cancelled before the run started.")
        elif self.is_running():
            self.task.worker.request_stop()
            self.status.setText(
                "Cancelling the evaluation\u2026" if self.best_epoch else "Cancelling after this batch\u2026"
            )

    def stop_and_wait(self) -> None:
        self.start_pending = False
        for task in (self.task, self.loading):
            if task is not None:
                task.stop_and_wait()

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)

    def _model(self, state: dict, card: dict) -> Model:
        return Model.from_state(self.run_config, state, card)

    def _encoded(self, mu: np.ndarray | None, logvar: np.ndarray | None) -> EncodedTestSet | None:
        test = self.session.test
        if mu is None or test is None:
            return None
        return EncodedTestSet(test.images, test.labels, mu, logvar)

    def _on_progress(self, event) -> None:
        from vaedesk.core.recipe import EpochUpdate, EvalProgress, Evaluating
        from vaedesk.core.train import BatchProgress

        if isinstance(event, BatchProgress):
            self.last_progress = event
            self.samples_per_s.append(event.samples_per_s)
            self.progress.setValue((event.epoch - 1) * event.batches + event.batch)
            self.curves.add_batch(event)
            self.status.setText(
                f"epoch {event.epoch}/{self.epochs.value()} \u00b7 "
                f"batch {event.batch}/{event.batches} \u00b7 "
                f"loss {event.loss:.1f} \u00b7 {event.samples_per_s:,.0f} images/s \u00b7 "
                f"ETA {clock(event.eta)}"
            )
        elif isinstance(event, EpochUpdate):
            r = event.result
            self.curves.add_epoch(r)
            preview = self._model(event.state, {})
            self._offer(preview, self._encoded(event.mu, event.logvar), f"training, epoch {r.epoch}")
            self.epoch_finished.emit(r.epoch)
        elif isinstance(event, Evaluating):
            self.best_epoch = event.best_epoch
            self.progress.setRange(0, EVAL_STEPS)  # from here on, the evaluation's share done
            self.progress.setValue(0)
            self.status.setText(
                f"Stopped ({event.stop_reason}); evaluating the best epoch, {event.best_epoch}, "
                "on the test set\u2026"
            )
            self.evaluating.emit(event.best_epoch)
        elif isinstance(event, EvalProgress):
            self.last_eval = event
            self.progress.setValue(round(event.fraction * EVAL_STEPS))
            left = f" \u00b7 {clock(event.eta)} left" if math.isfinite(event.eta) else ""
            self.status.setText(
                f"Evaluating the best epoch, {self.best_epoch}, on the test set: {event.stage}, "
                f"{event.done:,} of {event.total:,} images{left}"
            )

    def _how_far(self, run: RunOutcome) -> str:
        """Set the bar to how far the run got, and say it: a cancelled run where it stopped,
        a cancelled evaluation at its share done, a finished run full."""
        seconds = f"{time.perf_counter() - self.started_at:.0f} s"
        if run.stop_reason == "cancelled":
            total = max(1, run.epochs * run.batches)
            done = max(0, run.epoch - 1) * run.batches + run.batch
            self.progress.setRange(0, total)
            self.progress.setValue(done)
            if run.epoch == 0:
                return f"Cancelled after {seconds}, while finding the neighbours, before the first batch"
            return (
                f"Cancelled in epoch {run.epoch} of {run.epochs}, after batch {run.batch} of "
                f"{run.batches} ({100 * done / total:.0f} % of the run, {seconds})"
            )
        if run.evaluation == "cancelled":
            self.progress.setRange(0, EVAL_STEPS)
            share = self.last_eval.fraction if self.last_eval is not None else 0.0
            self.progress.setValue(round(share * EVAL_STEPS))
            return (
                f"Trained ({run.stop_reason}); the evaluation was cancelled {100 * share:.0f} % of the way"
                f" through, after {seconds}: no test metrics"
            )
        self.progress.setRange(0, max(1, self.progress.maximum()))
        self.progress.setValue(self.progress.maximum())
        return f"Finished in {seconds} ({run.stop_reason})"

    def _on_succeeded(self, run: RunOutcome) -> None:
        self._set_running(False)
        self.task = None
        where = self._how_far(run)
        if run.card is None:
            self.status.setText(f"{where}; no epoch ended, so there is nothing to keep.")
            self._restore_previous()
            self.run_finished.emit(run.stop_reason)
            return
        model = self._model(run.state, run.card)
        self.result = model
        self._offer(model, self._encoded(run.test_mu, run.test_logvar), "new model (not kept yet)")
        from vaedesk.core.recipe import collapse_warning

        score = model.test_neg_elbo
        warning = collapse_warning(
            run.card, "Discard it, and train with free bits (2 nats or more) or a lower \u03b2."
        )
        self.result_label.setText(
            f"Run {run.stop_reason}: best epoch {run.best_epoch}"
            + (f", test \u2212ELBO {score:.1f} nats" if score is not None else ", not evaluated")
            + (f". <b>Warning: {warning}</b>" if warning else ". Keep it, save it, or discard it?")
        )
        self.status.setText(f"{where}.")
        self._show_result_buttons(True)
        self.run_finished.emit(run.stop_reason)

    def _on_failed(self, kind: str, message: str) -> None:
        self._set_running(False)
        self.task = None
        self.progress.setRange(0, 1)
        self._restore_previous()
        self.status.setText(f"Training stopped: {message}. The previous model is kept.")
        files.warn(self, f"Training stopped: {message}.\n\nThe previous model is kept.")
        self.run_finished.emit(("diverged: " if kind == "TrainingDiverged" else "failed: ") + message)

    def _on_task_finished(self, task: Task) -> None:
        """The run's thread has ended: let go of its worker and everything it held, and
        give the memory the run freed back to the system."""
        if self.task is task:
            self.task = None
        dispose(task)
        trim_heap()

    def _offer(self, model: Model, encoded: EncodedTestSet | None, label: str | None) -> None:
        """Show a model of this panel's (a preview, the result, the kept one or the one
        before the run)."""
        self._offering = True
        try:
            self.model_offered.emit(model, encoded, label)
        finally:
            self._offering = False

    def _on_model_replaced(self) -> None:
        """Another model was opened or reset to: what the panel said about its run (and a
        result not kept) no longer applies."""
        if self._offering or self.is_running():
            return
        self.result, self.model_before = None, None
        self._show_result_buttons(False)
        self.curves.reset()
        self.progress.reset()
        self.status.setText(IDLE)

    def _restore_previous(self) -> None:
        if self.model_before is not None:
            self._offer(self.model_before, None, None)
        self.model_before = None

    # -- the result ------------------------------------------------------------------------------

    def _show_result_buttons(self, visible: bool) -> None:
        for w in (self.result_label, self.keep_button, self.save_button, self.discard_button):
            w.setVisible(visible)

    def keep(self) -> None:
        if self.result is None:
            return
        model, self.result, self.model_before = self.result, None, None
        self._show_result_buttons(False)
        self._offer(model, self.session.test, None)
        self.status.setText("Kept the new model. Save it from Model \u203a Save current model.")
        trim_heap()  # the model before the run, and the run's previews, are gone

    def save(self, path: str | None = None) -> bool:
        if self.result is None:
            return False
        target = files.save_model_or_warn(self, self.result, path)
        if target is None:
            return False
        self.keep()
        self.status.setText(f"Saved {target}.")
        self.model_saved.emit(str(target))
        return True

    def discard(self) -> None:
        if self.result is None:
            return
        self.result = None
        self._restore_previous()
        self._show_result_buttons(False)
        self.status.setText("Discarded the new model.")
        trim_heap()

    def samples_per_second(self) -> float:
        return float(np.median(self.samples_per_s)) if self.samples_per_s else 0.0
