"""Opening the window: the viewer needs no torch (issue 9)."""

from __future__ import annotations

import os
import re
import subprocess
import sys


def test_opening_the_window_imports_no_torch(tmp_path, real_mnist_dir):
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    r = subprocess.run(
        [sys.executable, "-m", "vaedesk", "--data", str(real_mnist_dir), "--exit-after-first-paint"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
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
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    r = subprocess.run(
        [sys.executable, "-m", "vaedesk", "--data", str(real_mnist_dir), "--exit-after-first-paint"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-3000:]
    assert "first-paint" in r.stdout
