"""Opening the window: the viewer needs no torch (issue 9)."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys


def _start_until_first_paint(tmp_path, data_dir) -> subprocess.CompletedProcess[str]:
    """`vaedesk` started as a user starts it, offscreen, with its own user folders under
    tmp_path; it quits once the map is painted."""
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    return subprocess.run(
        [sys.executable, "-m", "vaedesk", "--data", str(data_dir), "--exit-after-first-paint"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_opening_the_window_imports_no_torch(tmp_path, real_mnist_dir):
    r = _start_until_first_paint(tmp_path, real_mnist_dir)
    assert r.returncode == 0, r.stderr
    line = re.search(r"first-paint ([\d.]+) s, peak (\d+) MB, torch (not imported|imported)", r.stdout)
    assert line is not None, r.stdout
    assert line.group(3) == "not imported"  # the map was painted, the test set encoded, on onnxruntime


def test_a_stored_name_too_long_to_look_up_does_not_stop_the_start(tmp_path, real_mnist_dir):
    """A last model (or a recent one) whose name is longer than the system allows gave a
    traceback at every start; it now counts as missing and the bundled model opens."""
    config = tmp_path / "config" / "vaedesk"
    config.mkdir(parents=True)
    too_long = "/" + "a" * 5000 + ".safetensors"
    (config / "vaedesk.conf").write_text(f"[General]\nlast_model={too_long}\nrecent_models={too_long}\n")
    r = _start_until_first_paint(tmp_path, real_mnist_dir)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-3000:]
    assert "first-paint" in r.stdout


def test_a_last_model_that_cannot_be_read_is_forgotten_after_one_warning(qapp, tmp_path, dialogs):
    """The model of the last run became unreadable (damaged, replaced): the start says so
    once and opens the bundled model; the next start opens it without asking again (the
    setting kept the file, and every start showed the same warning)."""
    import argparse

    from vaedesk.core import paths
    from vaedesk.ui.app import start_model
    from vaedesk.ui.settings import Settings

    damaged = tmp_path / "mine.safetensors"
    damaged.write_bytes(b"\xff" * 5000)
    settings = Settings()
    settings.last_model = str(damaged)
    args = argparse.Namespace(data=None, weights=None, self_test=False)
    try:
        for _ in range(2):  # two starts
            model = start_model(args, Settings())
            assert model is not None and model.path == paths.bundled_weights()
    finally:
        settings.last_model = None
    assert len(dialogs.messages) == 1 and "mine.safetensors" in dialogs.messages[0]


def test_the_self_test_leaves_what_the_users_runs_remembered_as_it_was(qapp, tmp_path, real_mnist_dir):
    """`vaedesk --self-test` ignores the user's settings (the same run on every machine);
    it also saved its own window's size over theirs when it closed its window."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QMainWindow

    conf = tmp_path / "config" / "vaedesk" / "vaedesk.conf"  # where QSettings("vaedesk", "vaedesk") is
    window = QMainWindow()
    window.resize(700, 500)  # a size of the user's, not the self-test's
    store = QSettings(str(conf), QSettings.Format.IniFormat)
    store.setValue("geometry", window.saveGeometry())
    store.sync()
    remembered = conf.read_bytes()
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "OMP_NUM_THREADS": "1",
    }
    r = subprocess.run(
        [sys.executable, "-m", "vaedesk", "--data", str(real_mnist_dir), "--self-test"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert conf.read_bytes() == remembered


def test_a_fifo_at_the_settings_names_does_not_hang_the_start(tmp_path, real_mnist_dir):
    """Qt reads its settings file (vaedesk.conf) whole when the window's settings are
    made, and vaedesk its settings.json: a FIFO at either name blocked the start for
    ever, before any window. Now the window opens, remembering nothing this time."""
    config = tmp_path / "config" / "vaedesk"
    config.mkdir(parents=True)
    os.mkfifo(config / "vaedesk.conf")
    os.mkfifo(config / "settings.json")
    r = _start_until_first_paint(tmp_path, real_mnist_dir)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-3000:]
    assert "first-paint" in r.stdout
    assert stat.S_ISFIFO(os.lstat(config / "vaedesk.conf").st_mode)  # left as it was
