"""Model > Train (Ctrl+T): a real QThread running the engine's recipe on synthetic
digits, started, cancelled, kept, saved and discarded by clicking the panel's buttons."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QStyle

from tests.ui.helpers import click, key, make_window, open_small_run, press
from vaedesk.core import paths
from vaedesk.core.train import BatchProgress
from vaedesk.ui.workers import Worker


@pytest.fixture
def panel(qtbot, window):
    return open_small_run(qtbot, window, epochs=2, eval_k=2)


def run(qtbot, p, timeout=60000) -> str:
    with qtbot.waitSignal(p.run_finished, timeout=timeout) as blocker:
        click(qtbot, p.start_button)
        assert p.is_running() and not p.start_button.isEnabled()
    return blocker.args[0]


def test_row_train(qtbot, window, panel, model):
    from vaedesk.core import preprocess
    from vaedesk.ui.selftest import drag, stroke_seven

    drag(window.drawing.pad, stroke_seven())
    qtbot.waitUntil(lambda: window.session.drawing is not None, timeout=2000)
    drawn_before = window.map.drawn.getData()[0].copy()
    before = window.map.mu.copy()
    epochs = []
    panel.epoch_finished.connect(epochs.append)
    assert run(qtbot, panel) == "completed"
    assert epochs == [1, 2]
    assert len(panel.curves.points["train"][0]) >= 2 and len(panel.curves.points["val"][0]) == 2
    # the losses on the left axis, the KL (far smaller) on its own axis on the right
    curves = panel.curves.getPlotItem()
    (_, _), (lo, hi) = curves.vb.viewRange()
    val = panel.curves.val.getData()[1]
    kl = panel.curves.kl.getData()[1]
    assert lo <= val.min() and val.max() <= hi
    assert kl.max() < lo  # the KL would sit below the loss axis: it has its own
    train = panel.curves.train.getData()[1]
    assert len(train) >= 10 and train[0] > hi  # the untrained first batches run off the top
    assert lo <= train[-1] <= hi
    (_, _), (kl_lo, kl_hi) = panel.curves.kl_view.viewRange()
    assert kl_lo <= kl.min() and kl.max() <= kl_hi
    assert tuple(curves.getAxis("right").range) == pytest.approx((kl_lo, kl_hi))
    assert "val KL (right axis)" in [label.text for _, label in curves.legend.items]
    assert panel.progress.value() == panel.progress.maximum() > 0
    assert not np.allclose(before, window.map.mu)  # the points moved to their new places
    assert window.session.model is not model and window.session.model.config.arch == "mlp"
    assert "not kept yet" in window.model_label.text() and panel.keep_button.isVisible()
    card = window.session.model.card
    # the same card as `vaedesk train` writes: history, IWAE and kNN, and a command to rerun it
    assert len(card["history"]) == 2 and card["eval_iwae_k"] == 2
    assert {"neg_elbo", "iwae_k2", "knn5_accuracy"} <= set(card["test_metrics"])
    assert (
        "vaedesk train --arch mlp --prior mog --components 16 --epochs 2 --batch-size 32" in card["command"]
    )
    assert window.session.model.config.prior == "mog"  # the panel's default, as the bundled model
    assert "--limit 400" in card["command"]
    # the drawing is shown where the new model encodes it
    mu, _ = window.session.model.encode(preprocess.to_mnist(window.drawing.pad.ink()))
    x, y = window.map.drawn.getData()
    np.testing.assert_allclose([x[0], y[0]], mu[0], rtol=1e-5, atol=1e-5)
    assert not np.allclose(x, drawn_before)


def test_cancel_stops_the_run_and_shows_how_far_it_got(qtbot, window, panel, monkeypatch):
    """Cancel, clicked in the second epoch of fifty, ends the run within moments; the bar
    stays where the run stopped, not full, and the text says where that was. The batches
    trained are counted independently, as optimiser steps. (That the trainer stops within
    one batch of the request is tested on the trainer itself, in core/test_model.py.)"""
    import torch

    steps = []
    real_step = torch.optim.AdamW.step
    monkeypatch.setattr(
        torch.optim.AdamW, "step", lambda self, *a, **k: (steps.append(1), real_step(self, *a, **k))[1]
    )
    panel.epochs.setValue(50)
    batches = math.ceil((400 - 40) / 32)  # 400 images, a tenth of them for validation
    seen: list[BatchProgress] = []

    def on_progress(event):
        if isinstance(event, BatchProgress):
            seen.append(event)
            if event.epoch == 2 and panel.cancel_button.isEnabled():
                click(qtbot, panel.cancel_button)

    with qtbot.waitSignal(panel.run_finished, timeout=60000) as blocker:
        click(qtbot, panel.start_button)
        panel.task.worker.progress.connect(on_progress)
    assert blocker.args[0] == "cancelled"
    assert seen[-1].epoch <= 3  # of 50
    assert not panel.is_running() and panel.start_button.isEnabled()
    done = len(steps)
    epoch, batch = done // batches + 1, done % batches
    assert panel.progress.maximum() == 50 * batches
    assert panel.progress.value() == done < panel.progress.maximum()
    text = panel.status.text()
    assert text.startswith(f"Cancelled in epoch {epoch} of 50, after batch {batch} of {batches} (")
    assert f"({100 * done // (50 * batches)} % of the run" in text  # as the bar shows it
    # the first epoch ended, so its model is offered, as not evaluated (Cancel means now)
    assert panel.keep_button.isVisible() and "not evaluated" in panel.result_label.text()
    assert window.session.model.card["test_metrics"] is None


def test_the_evaluation_shows_progress_and_time_left_and_can_be_cancelled(qtbot, window, panel, monkeypatch):
    """After the epochs, the test-set evaluation moves the bar forward with the stage, the
    images done and the time left in the text, to a full bar. In a second run Cancel,
    clicked as the evaluation starts, ends it: the bar stays at the share it reached, the
    trained model is offered without test metrics."""
    import threading

    import vaedesk.core.recipe
    from vaedesk.core.recipe import EvalProgress, Evaluating

    shown: list[tuple[EvalProgress, int, str]] = []

    def on_progress(event):
        if isinstance(event, EvalProgress):  # after the panel's own slot: what it shows now
            shown.append((event, panel.progress.value(), panel.status.text()))

    with qtbot.waitSignal(panel.run_finished, timeout=60000):
        click(qtbot, panel.start_button)
        panel.task.worker.progress.connect(on_progress)
    assert {e.stage for e, _, _ in shown} == {"-ELBO", "IWAE k=2", "5-NN"}
    bars = [bar for _, bar, _ in shown]
    assert bars == sorted(bars) and bars[0] > 0 and bars[-1] == panel.progress.maximum()
    for event, bar, text in shown:
        assert bar == round(event.fraction * panel.progress.maximum())
        assert f"on the test set: {event.stage}, {event.done:,} of {event.total:,} images" in text
    assert any(re.search(r"\u00b7 \d+:\d\d left$", text) for _, _, text in shown)
    assert window.session.model.card["test_metrics"]["n_test"] == 300
    click(qtbot, panel.discard_button)

    # the second run waits at the evaluation's start until Cancel has been clicked
    gate = threading.Event()
    real_evaluate = vaedesk.core.recipe.evaluate
    monkeypatch.setattr(
        vaedesk.core.recipe, "evaluate", lambda *a, **k: (gate.wait(20), real_evaluate(*a, **k))[1]
    )
    shown.clear()

    def cancel_as_it_starts(event):
        if isinstance(event, Evaluating):
            click(qtbot, panel.cancel_button)
            assert panel.status.text() == "Cancelling the evaluation\u2026"
            gate.set()

    with qtbot.waitSignal(panel.run_finished, timeout=60000) as blocker:
        click(qtbot, panel.start_button)
        panel.task.worker.progress.connect(cancel_as_it_starts)
        panel.task.worker.progress.connect(on_progress)
    assert blocker.args[0] == "completed"  # the training did; its evaluation did not
    assert gate.is_set() and len(shown) == 1  # the one report the evaluation made, then it stopped
    reached = shown[-1][0].fraction
    assert 0 < reached < 1
    assert panel.progress.value() == round(reached * panel.progress.maximum()) < panel.progress.maximum()
    percent = round(reached * 1000) * 100 // 1000  # the bar's own figure
    assert f"the evaluation was cancelled {percent} % of the way through" in panel.status.text()
    assert panel.keep_button.isVisible() and "not evaluated" in panel.result_label.text()
    card = window.session.model.card
    assert card["test_metrics"] is None and card["evaluation"] == "cancelled"


@pytest.mark.parametrize("end", ["kept", "discarded", "cancelled"])
def test_a_run_lets_go_of_its_data_when_it_ends(qtbot, window, panel, monkeypatch, end):
    """The training images are held as bytes while the run lasts, and when it ends (its
    model kept or discarded, or the run cancelled) nothing holds them, nor the neighbour
    graph, the trainer (its optimiser's state with it) or the network it trained: each
    weak reference dies without a garbage collection being forced."""
    import weakref

    import torch

    import vaedesk.core.recipe
    import vaedesk.core.train

    refs: dict[str, weakref.ref] = {}
    dtypes = []
    real_init, real_graph = vaedesk.core.train.Trainer.__init__, vaedesk.core.train.neighbour_graph
    real_run_init = vaedesk.core.recipe.TrainingRun.__init__

    def init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        dtypes.append(self.x_train.dtype)
        refs.update(trainer=weakref.ref(self), images=weakref.ref(self.x_train), val=weakref.ref(self.x_val))

    def graph(*args, **kwargs):
        out = real_graph(*args, **kwargs)
        refs["graph"] = weakref.ref(out)
        return out

    def run_init(self, model, *args, **kwargs):
        real_run_init(self, model, *args, **kwargs)
        refs["network"] = weakref.ref(model)

    monkeypatch.setattr(vaedesk.core.train.Trainer, "__init__", init)
    monkeypatch.setattr(vaedesk.core.train, "neighbour_graph", graph)
    monkeypatch.setattr(vaedesk.core.recipe.TrainingRun, "__init__", run_init)
    if end == "cancelled":
        panel.epochs.setValue(50)

        def cancel_in_epoch_2(event):
            if isinstance(event, BatchProgress) and event.epoch == 2 and panel.cancel_button.isEnabled():
                click(qtbot, panel.cancel_button)

        with qtbot.waitSignal(panel.run_finished, timeout=60000):
            click(qtbot, panel.start_button)
            panel.task.worker.progress.connect(cancel_in_epoch_2)
    else:
        assert run(qtbot, panel) == "completed"
    click(qtbot, panel.keep_button if end == "kept" else panel.discard_button)
    assert dtypes == [torch.uint8] and set(refs) == {"trainer", "images", "val", "graph", "network"}
    qtbot.waitUntil(lambda: panel.task is None and not panel.findChildren(Worker), timeout=5000)
    assert {name: ref() is None for name, ref in refs.items()} == dict.fromkeys(refs, True)


def test_the_training_set_is_read_by_the_run_and_freed_when_it_ends(
    qtbot, window, panel, monkeypatch, dialogs
):
    """The window's thread never reads the training set (47 MB for MNIST, which it used to
    keep from the first run on): the run's thread reads it, and once the run has ended
    and its model is kept, nothing holds the images it trained on."""
    import threading
    import weakref

    import vaedesk.core.data
    import vaedesk.core.recipe

    readers, held = [], []
    real_load, real_run_init = vaedesk.core.data.load, vaedesk.core.recipe.TrainingRun.__init__

    def load(split, *args, **kwargs):
        if split == "train":
            readers.append(threading.current_thread())
        return real_load(split, *args, **kwargs)

    def run_init(self, model, train, *args, **kwargs):
        held.append(weakref.ref(train[0]))
        real_run_init(self, model, train, *args, **kwargs)

    monkeypatch.setattr(vaedesk.core.data, "load", load)
    monkeypatch.setattr(vaedesk.core.recipe.TrainingRun, "__init__", run_init)
    dialogs.button_text = "Discard"  # the first kept model, in no file, when the second is kept
    for _ in range(2):
        assert run(qtbot, panel) == "completed"
        click(qtbot, panel.keep_button)
    assert len(readers) == 2 and threading.main_thread() not in readers  # read for each run, elsewhere
    qtbot.waitUntil(lambda: panel.task is None and not panel.findChildren(Worker), timeout=5000)
    assert len(held) == 2 and [ref() for ref in held] == [None, None]


def test_a_one_epoch_run_shows_its_validation_points_on_an_epoch_axis(qtbot, window, panel):
    """One epoch gives one validation point per curve: each is drawn as a marker inside the
    plot's frame. The x axis reads "epoch" all along, never "epoch (x0.001)" (pyqtgraph's
    SI prefix while only the first batches' fractions of an epoch are plotted)."""
    panel.epochs.setValue(1)
    axis = panel.curves.getPlotItem().getAxis("bottom")
    labels = []

    def on_progress(event):
        if isinstance(event, BatchProgress):
            labels.append(axis.label.toPlainText().strip())

    with qtbot.waitSignal(panel.run_finished, timeout=60000):
        click(qtbot, panel.start_button)
        panel.task.worker.progress.connect(on_progress)
    qtbot.wait(20)  # a paint, so that the axis has laid out its label for the final range
    labels.append(axis.label.toPlainText().strip())
    assert len(labels) > 2 and set(labels) == {"epoch"}
    (x0, x1), _ = panel.curves.getPlotItem().vb.viewRange()
    for curve in (panel.curves.val, panel.curves.recon, panel.curves.kl):
        xs, ys = curve.getData()
        assert len(xs) == 1 and xs[0] == 1.0 and np.isfinite(ys[0])
        assert curve.opts["symbol"] is not None and curve.opts["symbolSize"] >= 6
        assert x0 < xs[0] < x1  # inside the frame, not on its edge
    (_, _), (lo, hi) = panel.curves.getPlotItem().vb.viewRange()
    assert lo < panel.curves.val.getData()[1][0] < hi


def test_closing_the_window_mid_run_stops_the_thread(qtbot, window, panel):
    panel.epochs.setValue(50)
    click(qtbot, panel.start_button)
    thread = panel.task.thread
    qtbot.waitUntil(lambda: panel.last_progress is not None, timeout=20000)
    window.close()
    assert thread.isFinished() and not thread.isRunning()


def test_a_diverging_run_keeps_the_previous_model(qtbot, window, panel, model, dialogs, monkeypatch):
    import vaedesk.core.model

    real_loss = vaedesk.core.model.vae_loss
    calls = []

    def exploding(*args, **kwargs):
        calls.append(1)
        loss, recon, kl = real_loss(*args, **kwargs)
        return (loss * float("nan") if len(calls) > 15 else loss), recon, kl

    monkeypatch.setattr(vaedesk.core.model, "vae_loss", exploding)
    before = window.map.mu.copy()
    reason = run(qtbot, panel)
    assert reason.startswith("diverged") and "lower learning rate" in reason
    assert window.session.model is model and np.array_equal(window.map.mu, before)
    assert "previous model is kept" in dialogs.messages[-1]


def test_discard_keep_save(qtbot, window, panel, model, dialogs, tmp_path):
    run(qtbot, panel)
    click(qtbot, panel.discard_button)
    assert window.session.model is model and not panel.keep_button.isVisible()

    run(qtbot, panel)
    trained = window.session.model
    click(qtbot, panel.keep_button)
    assert window.session.model is trained and "not kept" not in window.model_label.text()

    run(qtbot, panel)
    newer = window.session.model
    dialogs.save_file = str(tmp_path / "mine.safetensors")
    dialogs.button_text = "Discard"  # keeping the new one would lose `trained`, in no file: asked
    n = len(dialogs.messages)
    click(qtbot, panel.save_button)
    assert len(dialogs.messages) == n + 1 and "earlier run" in dialogs.messages[-1]
    target = tmp_path / "mine.safetensors"
    assert window.session.model is newer and window.session.model.path == target
    card = json.loads(target.with_suffix(".card.json").read_text())
    assert card["config"]["arch"] == "mlp" and card["test_metrics"]["n_test"] == 300
    assert "mine.safetensors" in window.windowTitle()
    assert sorted(f.name for f in tmp_path.iterdir()) == ["mine.card.json", "mine.safetensors"]
    press(window, "model.reset")
    assert window.session.model.path == paths.bundled_weights()


def test_choosing_the_training_sets_folder_when_asked_starts_the_run(
    qtbot, model, dialogs, tmp_path, mnist_dir
):
    """Start with no MNIST anywhere asks for it; choosing a folder that has it starts the
    run at once (it did not: Start had to be pressed again), on that folder's images."""
    w = make_window(qtbot, model, tmp_path)
    p = open_small_run(qtbot, w, neighbours=0)
    dialogs.button_text = "Choose folder\u2026"
    dialogs.folder = str(mnist_dir)
    with qtbot.waitSignal(p.run_finished, timeout=60000) as finished:
        click(qtbot, p.start_button)
        assert "needs the MNIST training set" in dialogs.messages[-1]
        assert p.is_running() and not p.start_button.isEnabled()
    assert finished.args[0] == "completed" and p.keep_button.isVisible()
    assert w.session.data_dir == str(mnist_dir)
    assert len(w.map.mu) == 300  # the chosen folder's test set is on the map
    assert p.result.card["train_images"] == 400  # the panel's "training images"


def test_a_folder_without_the_training_set_is_one_line_and_no_run(qtbot, model, dialogs, tmp_path, mnist_dir):
    import shutil

    from vaedesk.core import data

    w = make_window(qtbot, model, tmp_path / "nothing")
    p = open_small_run(qtbot, w, neighbours=0)
    tests_only = tmp_path / "test set only"
    tests_only.mkdir()
    for spec in data.SPLITS["test"]:
        shutil.copy(mnist_dir / spec.name, tests_only)
    dialogs.button_text = "Choose folder\u2026"
    dialogs.folder = str(tests_only)
    started = []
    p.run_started.connect(lambda: started.append(True))
    click(qtbot, p.start_button)
    said = dialogs.messages[-1]
    assert said.startswith(f"{tests_only} has no MNIST training set") and "\n" not in said
    assert "train-images-idx3-ubyte.gz is missing" in said
    qtbot.wait(100)
    assert not started and not p.is_running() and p.start_button.isEnabled()
    assert w.session.data_dir == str(tmp_path / "nothing")


def test_the_mixture_gets_as_many_components_as_are_typed(qtbot, window, panel):
    """Typed into the components field, then Start clicked: the new model's prior is a
    mixture of that many Gaussians, and its card's command says so. The field is off for
    the standard normal and for a run from the current weights."""
    field = panel.components
    assert field.isEnabled() and field.value() == 16
    click(qtbot, field.lineEdit())
    qtbot.keyClick(field.lineEdit(), Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(field.lineEdit(), "5")
    assert run(qtbot, panel) == "completed"
    model = window.session.model
    assert model.config.prior == "mog" and model.config.components == 5
    assert model.prior.means.shape == (5, 2)  # the file holds five components
    assert "--prior mog --components 5 " in model.card["command"]

    click(qtbot, panel.discard_button)
    qtbot.keyClick(panel.prior, Qt.Key.Key_Down)
    assert panel.prior.currentText() == "standard normal" and not field.isEnabled()
    qtbot.keyClick(panel.prior, Qt.Key.Key_Up)
    assert field.isEnabled()
    box = panel.from_current
    click(
        qtbot,
        box,
        QPoint(box.style().pixelMetric(QStyle.PixelMetric.PM_IndicatorWidth) // 2 + 1, box.height() // 2),
    )
    assert panel.from_current.isChecked() and not field.isEnabled() and not panel.prior.isEnabled()


def type_into(qtbot, field, text: str) -> None:
    click(qtbot, field.lineEdit())
    qtbot.keyClick(field.lineEdit(), Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(field.lineEdit(), text)
    qtbot.keyClick(field.lineEdit(), Qt.Key.Key_Tab)


@pytest.mark.parametrize("free_bits", ["0", None])
def test_a_collapsed_run_says_so_in_the_panel(qtbot, window, panel, free_bits):
    """A KL weight of 80 drives every posterior onto the prior, and the result line says
    so, once "free bits" is typed down to 0; at the panel's default of 2 nats the KL stays
    up and nothing is flagged. The card's command carries the free bits and the warm-up."""
    panel.prior.setCurrentText("standard normal")
    type_into(qtbot, panel.beta, "80")
    if free_bits is not None:
        type_into(qtbot, panel.free_bits, free_bits)
    assert run(qtbot, panel) == "completed"
    text = panel.result_label.text()
    card = window.session.model.card
    best_kl = card["history"][card["best_epoch"] - 1]["val_kl"]
    assert window.session.model.config.beta == 80.0
    assert card["options"]["free_bits"] == (0.0 if free_bits else 2.0)
    if free_bits is not None:
        assert "posterior collapsed" in text and "Discard it" in text
        assert card["posterior_collapsed"] is True and best_kl < 0.5
        assert "--free-bits" not in card["command"]
    else:
        assert "posterior collapsed" not in text and card["posterior_collapsed"] is False
        assert best_kl >= 0.5  # the collapse threshold, checked independently of the card
        # 360 training images in batches of 32: 12 batches an epoch, 6 of them warming up
        words = card["command"].split()
        assert words[words.index("--lr-warmup") + 1] == "6" and words[words.index("--free-bits") + 1] == "2"


def test_the_window_with_the_training_panel_fits_a_1000_pixel_screen(qtbot, window, panel):
    """With a title bar of about 30 pixels, on a 1600 x 1000 screen the Start button must
    stay on screen (the end-to-end test's Xvfb screen is that size)."""
    assert window.minimumSizeHint().height() <= 970


@pytest.mark.parametrize("height", [850, 700])
def test_the_docked_panel_leaves_the_map_most_of_the_window(qtbot, window, height):
    """Ctrl+T docks the panel under the map: the map keeps the larger part of the window's
    height, and the columns beside it, too tall for what is left, scroll instead of
    squeezing the pad and the decoder's picture."""
    window.resize(1280, height)
    qtbot.wait(20)
    key(window, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    p = window.training_panel
    qtbot.waitUntil(p.isVisible, timeout=2000)
    qtbot.wait(50)
    assert window.map.height() > 0.45 * window.height()
    assert p.start_button.mapTo(p, QPoint(0, p.start_button.height())).y() <= p.height()  # Start in view
    assert window.drawing.pad.height() == window.drawing.pad.width()  # square, not squeezed


@pytest.mark.parametrize("typed", ["0", "12.5", None])
def test_the_neighbour_weight_typed_is_the_one_trained_with(qtbot, window, panel, typed):
    """The neighbours field, typed into (or left at its default of 30), then Start: the run
    trains with that weight, says it is finding neighbours while it does, prints the term
    in the card's history, and the card's command carries it; 0 is the ELBO alone."""
    if typed is not None:
        type_into(qtbot, panel.neighbours, typed)
    weight = float(typed) if typed is not None else 30.0
    with qtbot.waitSignal(panel.run_finished, timeout=60000):
        click(qtbot, panel.start_button)
        assert ("Finding each image's nearest neighbours" in panel.status.text()) == bool(weight)
    card = window.session.model.card
    assert card["options"]["neighbours"] == weight
    assert all(("neighbours" in h) == bool(weight) for h in card["history"])
    words = card["command"].split()
    if weight:
        assert float(words[words.index("--neighbours") + 1]) == weight
    else:
        assert "--neighbours" not in words
