"""Retraining inside the window: options, a background run of the engine's own training
recipe, live curves, a map that moves as it learns, and keep / save / discard.

The panel reads what it needs from the session and reports through signals; the run
itself is `vaedesk.core.recipe.TrainingRun`, the same as `vaedesk train`. Its option
fields are in `training_form`, its curves in `loss_curves`, the work it hands to a thread
in `training_run`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDockWidget,
    QWidget,
)

from vaedesk import __version__
from vaedesk.core import data
from vaedesk.core.api import Model
from vaedesk.core.config import VAEConfig
from vaedesk.core.digits import EncodedTestSet
from vaedesk.core.memory import trim_heap
from vaedesk.core.session import Session
from vaedesk.ui import files
from vaedesk.ui.data_banner import ask_for_training_set
from vaedesk.ui.loss_curves import LossCurves
from vaedesk.ui.training_form import IDLE, TrainingForm
from vaedesk.ui.training_run import (
    ENGINE,
    EVAL_STEPS,
    clock,
    dispose,
    engine_loaded,
    how_far,
    load_engine,
    training_job,
)
from vaedesk.ui.workers import Task, Worker

if TYPE_CHECKING:
    from vaedesk.core.recipe import EvalProgress, RunOutcome, RunSpec
    from vaedesk.core.train import BatchProgress, TrainOptions

# Importable from here, as before the panel's parts had modules of their own.
__all__ = ["ENGINE", "EVAL_STEPS", "LossCurves", "TrainingPanel", "clock", "engine_loaded"]


class TrainingPanel(TrainingForm, QDockWidget):
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
        # Asks about the trained models in no file that `doing` would lose, those `lost`
        # picks (Save / Discard / Cancel); True: go on. The window sets its own.
        self.settle_unsaved: Callable[[str, Callable[[Model], bool]], bool] = lambda doing, lost: True
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

        self.setWidget(self._build_body())
        self._show_result_buttons(False)
        if parent is not None:  # the window's width is the docked panel's
            self.arrangement.fit(parent.width())

        # clicked(bool) passes its `checked` flag: connect to slots that take none.
        self.start_button.clicked.connect(lambda: self.start())
        self.cancel_button.clicked.connect(lambda: self.cancel())
        self.keep_button.clicked.connect(lambda: self.keep())
        self.save_button.clicked.connect(lambda: self.save())
        self.discard_button.clicked.connect(lambda: self.discard())

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
        if self.result is not None:  # the result not kept: saved, or let go, as the user says
            if not self.settle_unsaved("starting another run", lambda model: model is self.result):
                return False
            if self.result.path is not None:  # saved just now: it stays, as the model shown
                self.keep()
                if self.result is not None:  # Cancel when asked about the model it replaces
                    return False
            else:
                self.discard()
        try:
            folder = self.session.training_folder()
        except data.DataError as e:
            self._offer_data(str(e))
            return False
        total = data.SPLITS["train"][0].count  # as many as reading it verifies
        n = min(self.limit.value(), total)
        try:
            options = self.options(n)
        except ValueError as e:
            files.warn(self, f"Cannot train with these options: {e}")
            return False
        # read in the run's thread, which lets it go at its end: this one never holds it
        spec = self._spec(partial(data.load_first, "train", n, folder), options, n if n < total else None)
        self._launch(spec, n)
        return True

    def _spec(
        self, train: Callable[[], tuple[np.ndarray, np.ndarray]], options: TrainOptions, limit: int | None
    ) -> RunSpec:
        """The run as the engine takes it, the command that repeats it on its card."""
        from vaedesk.core.recipe import RunSpec, equivalent_command

        config, init_state, init = self.model_config(self.session.model)
        test = self.session.test
        return RunSpec(
            config,
            init_state,
            init,
            train,
            (test.images, test.labels) if test is not None else None,
            options,
            self.eval_k.value(),
            "in the vaedesk window; the same run from the command line: "
            + equivalent_command(config.to_dict(), options, limit, init),
            version=__version__,
        )

    def _launch(self, spec: RunSpec, n: int) -> None:
        """Reset the bar, the curves and the status for the run, and start it in a thread."""
        from vaedesk.core.train import TrainingDiverged

        options = spec.options
        worker = Worker(training_job(spec), expected_errors=(TrainingDiverged, ValueError, data.DataError))
        worker.progress.connect(self._on_progress)
        worker.succeeded.connect(self._on_succeeded)
        worker.failed.connect(self._on_failed)
        self.run_config = spec.config
        self.model_before = self.session.model
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
        self.arrangement.show_curves()
        self.started_at = time.perf_counter()
        task = self.task = Task(worker, self)
        worker.finished.connect(lambda: self._on_task_finished(task))
        task.start()
        self.run_started.emit()

    def _offer_data(self, reason: str) -> None:
        answer = ask_for_training_set(self, reason)
        if answer == "download":
            self.status.setText("Downloading MNIST: press Start again when it has finished.")
            self.download_requested.emit()
        elif answer == "choose":
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
        """Set the bar to how far the run got, and say it."""
        seconds = f"{time.perf_counter() - self.started_at:.0f} s"
        share = self.last_eval.fraction if self.last_eval is not None else 0.0
        maximum, value, text = how_far(run, seconds, share, self.progress.maximum())
        self.progress.setRange(0, maximum)
        self.progress.setValue(value)
        return text

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
        """Keep the run's result as the model shown; a kept model in no file that it
        replaces is first saved or discarded, as the user says."""
        if self.result is None or not self.settle_unsaved(
            "keeping the new one", lambda m: m is not self.result
        ):
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
