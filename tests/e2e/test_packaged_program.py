"""The packaged program: build it from build.spec and smoke-test it like a release script.

Marked `build` (a few minutes): CI runs it with the rest; `pytest -m "not build"` skips it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
EXPECTED_STDERR = ("This plugin does not support propagateSizeHints()",)


@pytest.fixture(scope="module")
def packaged(tmp_path_factory) -> Path:
    """The packaged program, built from build.spec (or the one VAEDESK_TEST_PACKAGED names,
    already built from this tree, to check it without building it again)."""
    prebuilt = os.environ.get("VAEDESK_TEST_PACKAGED")
    if prebuilt:
        return Path(prebuilt)
    work = tmp_path_factory.mktemp("pyinstaller")
    env = dict(os.environ)  # the MNIST test set comes from the package data, not from here
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "PyInstaller",
            "--noconfirm",
            "--log-level",
            "WARN",
            "--distpath",
            str(work / "dist"),
            "--workpath",
            str(work / "build"),
            "build.spec",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        timeout=3600,
    )
    assert r.returncode == 0, r.stderr[-4000:]
    exe = work / "dist" / "vaedesk" / "vaedesk"
    assert exe.is_file()
    return exe


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """No MNIST anywhere but in the bundle, and empty user folders: a new user's machine."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAEDESK_", "QT_", "DISPLAY", "WAYLAND"))}
    for name in ("CI", "GITHUB_ACTIONS", "TF_BUILD"):  # onnxruntime's telemetry keeps quiet under these
        env.pop(name, None)
    env.update(
        HOME=str(tmp_path),
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        **extra,
    )
    return env


@pytest.mark.build
@pytest.mark.slow
def test_version_and_help_answer_without_qt(packaged, tmp_path):
    r = subprocess.run(
        [packaged, "--version"], capture_output=True, text=True, env=clean_env(tmp_path), timeout=60
    )
    assert r.returncode == 0 and r.stdout.startswith("vaedesk ")
    r = subprocess.run(
        [packaged, "--help"], capture_output=True, text=True, env=clean_env(tmp_path), timeout=60
    )
    assert r.returncode == 0 and "usage: vaedesk" in r.stdout and "--self-test" in r.stdout


@pytest.mark.build
@pytest.mark.slow
def test_no_display_is_a_clear_message_not_an_abort(packaged, tmp_path):
    r = subprocess.run([packaged], capture_output=True, text=True, env=clean_env(tmp_path), timeout=60)
    assert r.returncode == 2
    assert "no display found" in r.stderr and "Aborted" not in r.stderr and "qt.qpa" not in r.stderr


@pytest.mark.build
@pytest.mark.slow
def test_self_test_passes_offline_with_the_bundled_map(packaged, tmp_path):
    env = clean_env(tmp_path, QT_QPA_PLATFORM="offscreen")
    r = subprocess.run([packaged, "--self-test"], capture_output=True, text=True, env=env, timeout=600)
    unexpected = [
        line for line in r.stderr.splitlines() if line.strip() and line.strip() not in EXPECTED_STDERR
    ]
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert not unexpected, unexpected
    report = json.loads(r.stdout[r.stdout.index("{") :])
    assert report["ok"] is True
    checks = {c["check"]: c for c in report["checks"]}
    assert checks["window shows the map"]["points"] == 10000  # the bundled test set, offline
    assert all(c["ok"] for c in report["checks"])
    assert not list(packaged.parent.rglob("*.npz"))  # nothing written into the bundle
    assert not list(tmp_path.rglob("Microsoft"))  # no onnxruntime telemetry identifier in the home


@pytest.mark.build
@pytest.mark.slow
def test_the_packaged_program_installs_its_desktop_entry_and_icon(packaged, tmp_path):
    env = clean_env(tmp_path)
    r = subprocess.run(
        [packaged, "--install-desktop-entry"], capture_output=True, text=True, env=env, timeout=60
    )
    assert r.returncode == 0, r.stderr
    entry = tmp_path / "data" / "applications" / "vaedesk.desktop"
    fields = dict(line.split("=", 1) for line in entry.read_text().splitlines() if "=" in line)
    assert fields["Exec"] == str(packaged.resolve()) and fields["Icon"] == "vaedesk"
    icons = tmp_path / "data" / "icons" / "hicolor"
    assert (icons / "256x256" / "apps" / "vaedesk.png").is_file()
    assert (icons / "scalable" / "apps" / "vaedesk.svg").is_file()


# -- what loads torch: build.spec leaves out parts of torch, onnx and the standard library
# that no path imports; these paths must still find all they import ------------------------


def run_packaged(packaged: Path, env: dict[str, str], *args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([packaged, *map(str, args)], capture_output=True, text=True, env=env, timeout=900)


@pytest.mark.build
@pytest.mark.slow
def test_the_packaged_window_trains_from_its_training_panel(packaged, tmp_path, real_mnist_dir):
    """The self-test's last check clicks Start in the training panel (torch imported in the
    worker thread) once a training set is there; without one it is skipped."""
    env = clean_env(tmp_path, QT_QPA_PLATFORM="offscreen", VAEDESK_DATA=str(real_mnist_dir))
    r = run_packaged(packaged, env, "--self-test")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    checks = {c["check"]: c for c in json.loads(r.stdout[r.stdout.index("{") :])["checks"]}
    training = checks["Model > Train, Start pressed: a short run in the background"]
    assert "skipped" not in training
    assert training["ok"] and training["stop_reason"] == "completed" and training["map_moved"]
    assert checks["viewing ran on ONNX Runtime, torch not imported"]["ok"]


@pytest.mark.build
@pytest.mark.slow
def test_the_packaged_program_trains_exports_to_onnx_and_evaluates(packaged, tmp_path, real_mnist_dir):
    """`train` saves the weights with their ONNX export, `upgrade` adds the export to a file
    without one, `eval` measures it: the graphs the packaged program exports encode as the
    weights do on torch here, from source."""
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    from vaedesk.core import data
    from vaedesk.core.api import Model
    from vaedesk.core.onnx_runtime import DECODER, ENCODER

    env = clean_env(tmp_path)
    trained = tmp_path / "trained.safetensors"
    r = run_packaged(
        packaged, env, "train", "--data", real_mnist_dir, "--epochs", 1, "--limit", 600,
        "--val-size", 100, "--eval-k", 2, "--threads", 1, "--free-bits", 2, "-o", trained,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    assert {ENCODER, DECODER} <= load_file(trained).keys()

    # the same weights without their export, as an older vaedesk saved them
    with safe_open(trained, "np") as f:
        metadata = f.metadata()
    older = tmp_path / "older.safetensors"
    save_file({k: v for k, v in load_file(trained).items() if k not in (ENCODER, DECODER)}, older, metadata)
    (tmp_path / "older.card.json").write_bytes((tmp_path / "trained.card.json").read_bytes())
    upgraded = tmp_path / "upgraded.safetensors"
    r = run_packaged(packaged, env, "upgrade", older, "-o", upgraded)
    assert r.returncode == 0, r.stderr[-3000:]

    images = data.load_split(real_mnist_dir, "test")[0][:256]
    on_torch = Model.load(older)
    assert on_torch.runtime == "torch"
    for exported in (trained, upgraded):
        on_onnx = Model.load(exported)
        assert on_onnx.runtime == "onnxruntime"
        mu_onnx, mu_torch = on_onnx.encode(images)[0], on_torch.encode(images)[0]
        np.testing.assert_allclose(mu_onnx, mu_torch, rtol=1e-4, atol=1e-4 * float(np.abs(mu_torch).max()))

    r = run_packaged(
        packaged, env, "eval", "--weights", upgraded, "-k", 2, "--json", "--data", real_mnist_dir
    )
    assert r.returncode == 0, r.stderr[-3000:]
    metrics = json.loads(r.stdout)
    assert np.isfinite(metrics["neg_elbo"]) and metrics["neg_elbo"] > 0
