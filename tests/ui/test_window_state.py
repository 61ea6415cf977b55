"""What the window shows is always true (issue 34, items 1, 2, 3, 6, 7): during a morph,
after a new model, after Reset, after Esc, after a click on the legend. Each test takes
the user's path (real clicks, keys, menu actions) and computes what must be on screen
independently of the code under test."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, Qt

from tests.ui.helpers import click, hover, key, make_window, open_small_run, press
from vaedesk.core import paths
from vaedesk.core.classify import Classifier, looks_like
from vaedesk.ui.selftest import map_to_viewport, viewport_to_latent


def independent_reading(classifier: Classifier, image: np.ndarray) -> str:
    """What the readout must say: the classifier's label, unless the decoder drew no
    more than a few pixels of ink."""
    if (image > 0.5).sum() < 12:
        return "the decoder draws nothing here"
    return looks_like(classifier.probabilities(image[None])[0])


def test_the_readout_follows_each_frame_of_a_morph(qtbot, window):
    """Shift-click a 1 and then a 0: while the frames play, the classifier's readout under
    the decoder is always the reading of the frame on screen, not of the first one."""
    m, s = window.map, window.session
    a = np.median(s.points[s.test.labels == 1], axis=0)
    b = np.median(s.points[s.test.labels == 0], axis=0)
    click(qtbot, m.viewport(), map_to_viewport(m, *a), Qt.KeyboardModifier.ShiftModifier)
    click(qtbot, m.viewport(), map_to_viewport(m, *b), Qt.KeyboardModifier.ShiftModifier)
    seen: list[tuple[np.ndarray, str]] = []

    def record() -> bool:
        seen.append((window.decoder.image.copy(), window.decoder.reading.text()))
        return not window.decoder.is_playing()

    qtbot.waitUntil(record, timeout=10000)
    classifier = Classifier.load()
    for image, text in seen:
        assert text == independent_reading(classifier, image)
    assert len({text for _, text in seen}) >= 2  # the frames were read as different digits


def train_and_keep(qtbot, window) -> None:
    p = open_small_run(qtbot, window, neighbours=0)
    with qtbot.waitSignal(p.run_finished, timeout=60000):
        click(qtbot, p.start_button)
    click(qtbot, p.keep_button)


def kept_then_result(qtbot, window):
    """A run kept (a model in no file), then a second run ended, its result shown and not
    kept yet: (the kept model, the panel, the result)."""
    train_and_keep(qtbot, window)
    kept = window.session.model
    p = open_small_run(qtbot, window, neighbours=0)
    with qtbot.waitSignal(p.run_finished, timeout=60000):
        click(qtbot, p.start_button)
    return kept, p, window.session.model


def holds_weights_of(path, model) -> bool:
    """Whether the weights file at `path` holds exactly `model`'s tensors."""
    from vaedesk.core import weights

    saved, _ = weights.load(path)
    expected = model.vae.state_dict()
    return all((t == expected[k]).all() for k, t in saved.state_dict().items())


def test_after_a_kept_run_the_decoder_shows_a_point_on_the_new_map(qtbot, window):
    """The cursor rests far out on the bundled model's map; a short run makes a map of
    other extent. After Keep the crosshair and the decoded digit are at a point inside
    the new map, and the readout is what the classifier reads there."""
    m = window.map
    m.view.setRange(xRange=(-40, 40), yRange=(-40, 40), padding=0)
    corner = map_to_viewport(m, -36, 36)
    hover(qtbot, window, corner)
    assert viewport_to_latent(m, corner)[0] < -30
    train_and_keep(qtbot, window)
    s = window.session
    lo, hi = np.percentile(window.map.mu, [0.2, 99.8], axis=0)  # the new map, as drawn
    x, y = m.crosshair()
    assert lo[0] <= x <= hi[0] and lo[1] <= y <= hi[1]
    expected = s.model.decode(np.float32([x, y]))[0]
    np.testing.assert_allclose(window.decoder.image, expected, atol=1e-5)
    assert window.decoder.reading.text() == independent_reading(Classifier.load(), expected)
    assert f"({x:+.2f}, {y:+.2f})" in window.decoder.caption.text()


def test_an_empty_decode_gets_no_confident_label(qtbot, window):
    """Far outside a model's digits the decoder may draw nothing; the classifier would
    still name a digit there with confidence. The readout says nothing is drawn."""
    classifier = Classifier.load()
    m, s = window.map, window.session
    m.view.setRange(xRange=(-400, 400), yRange=(-400, 400), padding=0)
    for far in ((-380.0, 380.0), (380.0, -380.0), (380.0, 380.0), (-380.0, -380.0)):
        hover(qtbot, window, map_to_viewport(m, *far))
        image = window.decoder.image
        assert window.decoder.reading.text() == independent_reading(classifier, image)
    assert window.session.reading(np.zeros((28, 28), np.float32)) == "the decoder draws nothing here"
    assert classifier.probabilities(np.zeros((1, 28, 28), np.float32)).max() > 0.3  # it would guess
    del s


def test_reset_asks_before_discarding_a_kept_unsaved_model(qtbot, window, dialogs, tmp_path):
    train_and_keep(qtbot, window)
    trained, panel = window.session.model, window.training_panel
    assert "Kept the new model" in panel.status.text()

    dialogs.button_text = "Cancel"
    press(window, "model.reset")
    assert "has not been saved" in dialogs.messages[-1]
    assert window.session.model is trained  # Cancel: nothing changes

    dialogs.button_text = "Discard"
    press(window, "model.reset")
    assert window.session.model.path == paths.bundled_weights()
    assert "Kept" not in panel.status.text() and not panel.result_label.isVisible()
    assert len(panel.curves.points["train"][0]) == 0  # the discarded run's curves are gone

    train_and_keep(qtbot, window)
    dialogs.button_text = "Save\u2026"
    dialogs.save_file = str(tmp_path / "kept.safetensors")
    n = len(dialogs.messages)
    press(window, "model.reset")
    assert (tmp_path / "kept.safetensors").is_file()  # saved, then reset
    assert window.session.model.path == paths.bundled_weights()
    press(window, "model.reset")  # the bundled model is in a file: no question
    assert len(dialogs.messages) == n + 1


def test_quitting_with_a_kept_unsaved_model_asks_first(qtbot, window, model, mnist_dir, dialogs, tmp_path):
    """File > Quit (and closing the window) with a kept model that is in no file asks, as
    Model > Reset does: Cancel keeps the window open with the model; Discard quits; Save
    writes the file, then quits. Without an unsaved model, quitting asks nothing."""
    train_and_keep(qtbot, window)
    trained = window.session.model
    dialogs.button_text = "Cancel"
    press(window, "file.quit")
    assert "has not been saved" in dialogs.messages[-1] and "quitting" in dialogs.messages[-1]
    assert window.isVisible() and window.session.model is trained
    dialogs.button_text = "Discard"
    window.close()  # the title bar's close button: the same close event
    assert not window.isVisible()

    second = make_window(qtbot, model, mnist_dir)
    train_and_keep(qtbot, second)
    dialogs.button_text = "Save\u2026"
    dialogs.save_file = str(tmp_path / "kept.safetensors")
    n = len(dialogs.messages)
    press(second, "file.quit")
    assert len(dialogs.messages) == n + 1 and "has not been saved" in dialogs.messages[-1]
    assert (tmp_path / "kept.safetensors").is_file() and not second.isVisible()

    third = make_window(qtbot, model, mnist_dir)
    n = len(dialogs.messages)
    press(third, "file.quit")
    assert not third.isVisible() and len(dialogs.messages) == n  # nothing to save: no question


def test_esc_after_sampling_clears_the_sample_grid(qtbot, window, model):
    vp = window.map.viewport().rect()
    pos = QPoint(vp.width() // 3, vp.height() // 2)
    hover(qtbot, window, pos)
    key(window, Qt.Key.Key_S)
    assert window.decoder.image.shape == (112, 112) and "samples" in window.decoder.caption.text()
    key(window, Qt.Key.Key_Escape)
    assert len(window.map.samples.getData()[0]) == 0
    z = np.array(viewport_to_latent(window.map, pos), np.float32)
    np.testing.assert_allclose(window.decoder.image, model.decode(z)[0], atol=1e-5)  # the cursor's digit
    assert "samples" not in window.decoder.caption.text()


def test_clicking_a_digits_label_in_the_legend_toggles_it(qtbot, window):
    m, s = window.map, window.session
    for d in (3, 7):
        sample, label = m.legend.items[d]
        assert label.text == str(d)
        pos = m.mapFromScene(label.sceneBoundingRect().center())
        click(qtbot, m.viewport(), pos)
        assert not m.digits[d].isVisible() and d in s.hidden_digits
        assert s.selected is None  # a legend click is not a map click
        click(qtbot, m.viewport(), pos)
        assert m.digits[d].isVisible() and d not in s.hidden_digits


def test_quitting_during_a_run_asks_about_the_kept_unsaved_model_it_replaced(
    qtbot, window, dialogs, tmp_path
):
    """A kept model in no file is shown when a second run starts; once the run's first
    epoch replaces it on screen with a preview, File > Quit (and closing the window) still
    asks about it: Cancel keeps the window and the run; Save writes that kept model (not
    the preview), then the window closes and the run stops."""

    train_and_keep(qtbot, window)
    kept = window.session.model
    assert kept.path is None
    p = open_small_run(qtbot, window, epochs=500, neighbours=0)
    with qtbot.waitSignal(p.epoch_finished, timeout=60000):
        click(qtbot, p.start_button)
    assert p.is_running() and window.session.model is not kept  # the run's preview is shown

    dialogs.button_text = "Cancel"
    n = len(dialogs.messages)
    press(window, "file.quit")
    assert len(dialogs.messages) == n + 1 and "has not been saved" in dialogs.messages[-1]
    assert window.isVisible() and p.is_running()

    dialogs.button_text = "Save\u2026"
    dialogs.save_file = str(tmp_path / "kept.safetensors")
    window.close()  # the title bar's close button: the same close event
    assert len(dialogs.messages) == n + 2 and "has not been saved" in dialogs.messages[-1]
    assert not window.isVisible()
    qtbot.waitUntil(lambda: not p.is_running(), timeout=10000)  # the run stopped with the window
    assert holds_weights_of(tmp_path / "kept.safetensors", kept)  # the kept model's weights, not a preview's


def test_quitting_with_a_runs_result_not_kept_asks_about_the_kept_model_behind_it_too(
    qtbot, window, dialogs, tmp_path
):
    """A kept model in no file, then a second run that ends with its result shown but not
    kept: quitting asks about the result and then about the kept model behind it (Discard
    of the first is no answer for the second); Cancel at the second keeps the window;
    Save to both writes each to its own file, then the window closes."""

    kept, p, result = kept_then_result(qtbot, window)
    assert p.keep_button.isVisible() and result is not kept  # the result, shown, not kept yet

    dialogs.answers = ["Discard", "Cancel"]
    n = len(dialogs.messages)
    press(window, "file.quit")
    assert len(dialogs.messages) == n + 2
    assert "trained in this window" in dialogs.messages[-2] and "earlier run" in dialogs.messages[-1]
    assert window.isVisible() and window.session.model is result

    dialogs.answers = ["Save\u2026", "Save\u2026"]
    dialogs.save_files = [str(tmp_path / "result.safetensors"), str(tmp_path / "kept.safetensors")]
    window.close()
    assert not window.isVisible() and len(dialogs.messages) == n + 4
    assert holds_weights_of(tmp_path / "result.safetensors", result)
    assert holds_weights_of(tmp_path / "kept.safetensors", kept)


def test_a_run_that_ends_while_quitting_asks_its_result_is_asked_about_too(
    qtbot, window, dialogs, monkeypatch
):
    """A kept model in no file, a second run showing its previews; File > Quit asks about
    the kept model, and while that question waits for an answer the run ends and shows
    its result, not kept. Discard the kept model: the result (in no file either) is asked
    about next, not lost with the window; Cancel there keeps the window and the result."""
    from PySide6.QtWidgets import QMessageBox

    train_and_keep(qtbot, window)
    p = open_small_run(qtbot, window, epochs=2, neighbours=0)
    with qtbot.waitSignal(p.epoch_finished, timeout=60000):
        click(qtbot, p.start_button)
    assert p.is_running()

    answer = QMessageBox.exec  # the dialogs fixture's
    waited = []

    def answer_once_the_run_has_ended(box):  # the box is modal: the run goes on behind it
        if not waited:
            waited.append(True)
            qtbot.waitUntil(lambda: p.result is not None, timeout=60000)
        return answer(box)

    monkeypatch.setattr(QMessageBox, "exec", answer_once_the_run_has_ended)
    dialogs.answers = ["Discard", "Cancel"]
    n = len(dialogs.messages)
    press(window, "file.quit")
    assert "earlier run" in dialogs.messages[n]
    assert dialogs.messages[n + 1 :] == [
        "The model trained in this window has not been saved. Save it before quitting?"
    ]
    assert window.isVisible() and window.session.model is p.result and p.keep_button.isVisible()


def test_saving_both_unsaved_models_at_reset_proposes_a_file_name_for_each(
    qtbot, window, dialogs, monkeypatch
):
    """A kept model in no file and a run's result not kept: Model > Reset asks about
    both; Save to both, each time pressing Enter in the save dialog (the name it proposes).
    The second dialog proposed the name the first had just written, so the kept model
    replaced the result in it; now each is in a file of its own."""
    from PySide6.QtWidgets import QFileDialog

    kept, p, result = kept_then_result(qtbot, window)
    proposed = []

    def press_enter(parent, title, default, filters):
        proposed.append(default)
        return default, ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(press_enter))
    dialogs.answers = ["Save\u2026", "Save\u2026"]
    press(window, "model.reset")
    assert len(proposed) == 2 and proposed[0] != proposed[1]
    for name, model in zip(proposed, (result, kept), strict=True):
        assert holds_weights_of(name, model), name


def test_saving_the_kept_model_behind_a_result_says_where_it_went(qtbot, window, dialogs, tmp_path):
    """Model > Reset with a run's result shown and a kept model in no file behind it:
    Discard the result, Save the kept model. The status line says where it was saved,
    as it does when the model shown is saved."""
    _, p, _ = kept_then_result(qtbot, window)
    dialogs.answers = ["Discard", "Save\u2026"]
    dialogs.save_files = [str(tmp_path / "kept.safetensors")]
    press(window, "model.reset")
    assert (tmp_path / "kept.safetensors").is_file()
    assert window.statusBar().currentMessage() == f"Saved {tmp_path / 'kept.safetensors'}"


def test_keeping_a_runs_result_asks_about_the_kept_unsaved_model_it_replaces(
    qtbot, window, dialogs, tmp_path
):
    """A kept model in no file, then a second run's result: Keep would let that kept model
    go, so it asks first, as Quit, Reset and Open weights do. Cancel keeps nothing (the
    result still offered); Save writes the earlier model, then the result is kept."""

    kept, p, result = kept_then_result(qtbot, window)
    dialogs.button_text = "Cancel"
    n = len(dialogs.messages)
    click(qtbot, p.keep_button)
    assert len(dialogs.messages) == n + 1 and "earlier run" in dialogs.messages[-1]
    assert p.keep_button.isVisible() and p.result is result  # nothing kept yet

    dialogs.button_text = "Save\u2026"
    dialogs.save_file = str(tmp_path / "earlier.safetensors")
    click(qtbot, p.keep_button)
    assert len(dialogs.messages) == n + 2 and not p.keep_button.isVisible()
    assert window.session.model is result and "Kept the new model" in p.status.text()
    assert holds_weights_of(tmp_path / "earlier.safetensors", kept)


def test_starting_another_run_asks_about_the_result_not_kept(qtbot, window, dialogs, tmp_path):
    """A run's result shown, not kept (Keep / Save / Discard offered): Start again would
    let it go, so it asks first. Cancel starts nothing; Save writes it and keeps it as
    the model shown, and the new run starts from there."""
    p = open_small_run(qtbot, window, neighbours=0)
    with qtbot.waitSignal(p.run_finished, timeout=60000):
        click(qtbot, p.start_button)
    result = window.session.model
    dialogs.button_text = "Cancel"
    n = len(dialogs.messages)
    click(qtbot, p.start_button)
    assert len(dialogs.messages) == n + 1 and "has not been saved" in dialogs.messages[-1]
    assert not p.is_running() and p.result is result and p.keep_button.isVisible()

    dialogs.button_text = "Save\u2026"
    dialogs.save_file = str(tmp_path / "result.safetensors")
    with qtbot.waitSignal(p.run_finished, timeout=60000):
        click(qtbot, p.start_button)
    assert (tmp_path / "result.safetensors").is_file() and result.path == tmp_path / "result.safetensors"
    click(qtbot, p.discard_button)  # the new run's result let go: back to the model it started from
    assert window.session.model is result


def test_starting_again_after_saving_the_result_still_asks_about_the_earlier_kept_model(
    qtbot, window, dialogs, tmp_path
):
    """A kept model in no file, a second run's result not kept, Start: the result is
    saved when asked, which keeps it, and keeping it would let the earlier model go, so
    that is asked too; Cancel there starts nothing and the earlier model stays the one
    the result replaces."""
    kept, p, result = kept_then_result(qtbot, window)
    dialogs.answers = ["Save\u2026", "Cancel"]
    dialogs.save_files = [str(tmp_path / "result.safetensors")]
    n = len(dialogs.messages)
    click(qtbot, p.start_button)
    assert len(dialogs.messages) == n + 2 and "earlier run" in dialogs.messages[-1]
    assert (tmp_path / "result.safetensors").is_file()
    assert not p.is_running() and p.result is result and p.model_before is kept
