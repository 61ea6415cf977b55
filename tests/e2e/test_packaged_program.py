"""The packaged program: build it from build.spec and smoke-test it like a release script.

Marked `build` (a few minutes): CI runs it with the rest; `pytest -m "not build"` skips it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
