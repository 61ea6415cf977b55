"""Faults from issue 12 that a user meets in the window."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import Qt

from tests.cli.test_bad_input import BAD_FILES, crafted_weights
from tests.servers import Server
from tests.ui.helpers import click, key, make_window, press
from vaedesk.core import data


@pytest.fixture
def stalled_download(qtbot, model, tmp_path, monkeypatch, mnist_dir, dialogs):
    """A window whose Download button was pressed; the server sent half a file and went quiet."""
    server = Server("stall", mnist_dir)
    monkeypatch.setattr(data, "MIRRORS", (server.url,))
    folder = tmp_path / "mnist"
    w = make_window(qtbot, model, folder)
    click(qtbot, w.banner.download)
    qtbot.waitUntil(lambda: w.banner.progress.value() > 0, timeout=10000)
    yield w, folder
    server.close()


def test_4_cancel_in_the_window_ends_a_stalled_download_at_once(qtbot, stalled_download):
    w, folder = stalled_download
    started = time.monotonic()
    click(qtbot, w.banner.cancel)
    qtbot.waitUntil(lambda: not w.banner.is_downloading(), timeout=10000)
    assert time.monotonic() - started < 3  # the read timeout is 20 s
    assert "Download cancelled" in w.banner.message.text() and w.banner.download.isEnabled()
    assert list(folder.iterdir()) == []  # no .part left


def test_4_closing_the_window_mid_download_stops_it_cleanly(qtbot, stalled_download):
    w, folder = stalled_download
    task = w.banner.task
    started = time.monotonic()
    w.close()
    assert time.monotonic() - started < 3 and not task.thread.isRunning()
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_5_model_open_with_a_bad_file_leaves_the_window_whole(qtbot, window, dialogs, tmp_path, case):
    import torch

    kwargs = dict(BAD_FILES[case])
    if "dtype" in kwargs:
        kwargs["dtype"] = getattr(torch, kwargs["dtype"])
    before = (window.session.model, window.windowTitle(), window.model_label.text(), window.map.mu.copy())
    from vaedesk.core.api import Model

    dialogs.open_file = str(
        crafted_weights(tmp_path / "bad.safetensors", Model(window.session.model.vae), **kwargs)
    )
    key(window, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert "bad.safetensors" in dialogs.messages[-1] and "unchanged" in dialogs.messages[-1]
    after = (window.session.model, window.windowTitle(), window.model_label.text())
    assert after == before[:3] and (window.map.mu == before[3]).all()


def test_a_weights_file_without_the_onnx_export_opens_on_torch_and_says_so(qtbot, window, dialogs, tmp_path):
    from safetensors import safe_open
    from safetensors.torch import save_file

    from vaedesk.core import weights
    from vaedesk.core.api import Model

    old = tmp_path / "old.safetensors"
    weights.save(old, Model.load().vae, {"seed": 1})
    with safe_open(str(old), framework="pt") as f:  # as an older vaedesk wrote it
        tensors = {k: f.get_tensor(k) for k in f.keys() if not k.startswith("onnx.")}
        metadata = f.metadata()
    save_file(tensors, str(old), metadata=metadata)
    assert window.session.model.runtime == "onnxruntime" and "onnxruntime" in window.model_label.text()
    dialogs.open_file = str(old)
    key(window, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert window.session.model.path == old and window.model_label.text().endswith("\u00b7 torch")
    assert "vaedesk upgrade" in window.model_label.toolTip()


def test_a_loop_of_links_at_the_settings_or_an_export_name_is_one_line(
    qtbot, window, dialogs, mnist_dir, tmp_path
):
    """A symlink at a name the user chose is written through; where it points back at
    itself (a dotfiles link gone wrong) Path.resolve raised RuntimeError on Python 3.11,
    past the OSError every writer handles: a traceback on Choose MNIST folder (the
    settings file) and on Export map. Now the folder is used, unremembered, and the
    export says in one line that it could not write."""
    from vaedesk.core import paths

    settings = paths.user_config_dir() / paths.SETTINGS_NAME
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.unlink(missing_ok=True)
    settings.symlink_to(settings.name)
    dialogs.folder = str(mnist_dir)
    press(window, "file.choose_mnist")
    assert window.session.data_dir == str(mnist_dir) and not dialogs.messages
    settings.unlink()

    loop = tmp_path / "map.png"
    loop.symlink_to(loop.name)
    dialogs.save_file = str(loop)
    press(window, "file.export_map")
    assert len(dialogs.messages) == 1 and dialogs.messages[0].startswith(f"Could not write {loop}")
