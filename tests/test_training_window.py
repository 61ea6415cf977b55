"""Retraining in the window: a real QThread running the engine's generator on tiny data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.test_window import make_window, model  # noqa: F401 (fixture)
from vaedesk.core import paths
from vaedesk.core.train import BatchProgress


@pytest.fixture
def window(qtbot, model, mnist_dir, mnist_train_small):  # noqa: F811
    w = make_window(qtbot, model, mnist_dir)
    w._train_images = mnist_train_small[0]
    w.warnings = []
    w.warn = w.warnings.append  # dialogs would block the test; record what they would say
    p = w.training_panel
    p.arch.setCurrentText("mlp")
    p.epochs.setValue(2)
    p.batch_size.setValue(32)
    p.limit.setValue(400)
    w.show_training()
    return w


def run(qtbot, w, timeout=60000) -> str:
    with qtbot.waitSignal(w.training_panel.run_finished, timeout=timeout) as blocker:
        assert w.training_panel.start()
    return blocker.args[0]


def test_a_run_reports_progress_moves_the_map_and_offers_the_result(qtbot, window, model):  # noqa: F811
    before = window.map.mu.copy()
    epochs = []
    window.training_panel.epoch_finished.connect(epochs.append)
    assert run(qtbot, window) == "completed"
    p = window.training_panel
    assert epochs == [1, 2]
    assert len(p.curves.points["train"][0]) >= 2 and len(p.curves.points["val"][0]) == 2
    assert len(p.curves.train.getData()[0]) == len(p.curves.points["train"][0])
    assert p.progress.value() == p.progress.maximum()
    assert not np.allclose(before, window.map.mu)  # the points moved to their new places
    assert window.model is not model and window.model.config.arch == "mlp"
    assert "not kept yet" in window.model_label.text() and p.keep_button.isVisible()
    assert window.model.test_neg_elbo is not None


def test_cancel_stops_within_one_batch(qtbot, window):
    p = window.training_panel
    p.epochs.setValue(50)
    seen: list[BatchProgress] = []
    at_cancel: list[int] = []

    def on_progress(event):
        if isinstance(event, BatchProgress):
            seen.append(event)
            if len(seen) == 3:
                at_cancel.append(len(seen))
                p.cancel()

    p.start()
    p.task.worker.progress.connect(on_progress)
    with qtbot.waitSignal(p.run_finished, timeout=30000) as blocker:
        pass
    assert blocker.args[0] == "cancelled"
    assert len(seen) <= at_cancel[0] + 2  # at most the batch in flight and one queued report
    assert not p.is_running() and not p.keep_button.isVisible()


def test_closing_the_window_mid_run_stops_the_thread(qtbot, window):
    p = window.training_panel
    p.epochs.setValue(50)
    p.start()
    thread = p.task.thread
    qtbot.waitUntil(lambda: p.last_progress is not None, timeout=20000)
    window.close()
    assert thread.isFinished() and not thread.isRunning()


def test_a_diverging_run_keeps_the_previous_model(qtbot, window, model, monkeypatch):  # noqa: F811
    import vaedesk.core.train

    real_loss = vaedesk.core.train.vae_loss
    calls = []

    def exploding(*args, **kwargs):
        calls.append(1)
        loss, recon, kl = real_loss(*args, **kwargs)
        return (loss * float("nan") if len(calls) > 15 else loss), recon, kl

    monkeypatch.setattr(vaedesk.core.train, "vae_loss", exploding)
    before = window.map.mu.copy()
    reason = run(qtbot, window)
    assert reason.startswith("diverged") and "lower learning rate" in reason
    assert window.model is model and np.array_equal(window.map.mu, before)
    assert "previous model is kept" in window.warnings[0]


def test_discard_keep_save_and_reset(qtbot, window, model, tmp_path):  # noqa: F811
    p = window.training_panel
    run(qtbot, window)
    p.discard()
    assert window.model is model and not p.keep_button.isVisible()

    run(qtbot, window)
    trained = window.model
    p.keep()
    assert window.model is trained and "not kept" not in window.model_label.text()

    run(qtbot, window)
    newer = window.model
    target = tmp_path / "mine.safetensors"
    assert p.save(str(target))
    assert window.model is newer and window.model.path == target
    card = json.loads(target.with_suffix(".card.json").read_text())
    assert card["config"]["arch"] == "mlp" and card["test_metrics"]["n_test"] == 10000
    assert "mine.safetensors" in window.windowTitle()
    assert sorted(f.name for f in tmp_path.iterdir()) == ["mine.card.json", "mine.safetensors"]

    window.reset_model()
    assert window.model.path == paths.bundled_weights()


def test_the_bundled_model_is_never_overwritten(qtbot, window):
    before = paths.bundled_weights().read_bytes()
    assert not window.save_model(str(paths.bundled_weights()))
    assert "cannot be overwritten" in window.warnings[0]
    assert paths.bundled_weights().read_bytes() == before


def test_a_corrupt_weights_file_is_refused(qtbot, window, model, tmp_path):  # noqa: F811
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 64)
    assert not window.open_weights(str(bad))
    assert window.model is model and "bad.safetensors" in window.warnings[0]
    assert "unchanged" in window.warnings[0]


def test_start_button_click_runs_training(qtbot, model, mnist_dir):  # noqa: F811
    """The user's path: Model > Train, then a real click on Start."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    w = make_window(qtbot, model, mnist_dir)
    train_action = next(a for a in w.menuBar().actions() if a.text() == "&Model").menu().actions()[0]
    train_action.trigger()
    p = w.training_panel
    qtbot.waitUntil(p.isVisible, timeout=2000)
    p.arch.setCurrentText("mlp")
    p.epochs.setValue(1)
    p.limit.setValue(400)
    with qtbot.waitSignal(p.run_finished, timeout=60000) as blocker:
        QTest.mouseClick(p.start_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0] == "completed"
