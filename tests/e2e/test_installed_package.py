"""vaedesk installed anywhere: its package data (models, cards, the MNIST test set, icons,
desktop entry) is found through the package, the shipped test set is checked, one data
setting serves the window and the command line, and the desktop entry installs."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from vaedesk.cli import main
from vaedesk.core import data, desktop, paths

REPO = Path(__file__).resolve().parents[2]
PUBLISHED_TEST_SHA256 = {  # from the MNIST mirrors' SHA256SUMS, written out here by hand
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}


def test_the_shipped_test_set_is_the_two_published_files_and_nothing_more():
    folder = paths.bundled_mnist_dir()
    gz = sorted(p.name for p in folder.iterdir() if p.name.endswith(".gz"))
    assert gz == sorted(PUBLISHED_TEST_SHA256)  # never the training set
    for name, digest in PUBLISHED_TEST_SHA256.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest


def test_with_no_data_folder_the_test_set_comes_from_the_package():
    assert "VAEDESK_DATA" not in os.environ and paths.stored_data_dir() is None
    assert data.find_data_dir("test") == paths.bundled_mnist_dir()
    images, labels = data.load("test")
    assert images.shape == (10000, 28, 28) and sorted(set(labels.tolist())) == list(range(10))
    assert data.find_data_dir("train") is None  # the training set is downloaded when needed


def test_a_damaged_shipped_test_set_is_refused_with_one_clear_line(damaged_package_data, capsys):
    with pytest.raises(data.DataError) as info:
        data.load("test")
    message = str(info.value)
    assert "shipped with vaedesk is damaged" in message and str(damaged_package_data) in message
    assert "download MNIST" in message and "\n" not in message
    assert main(["data", "check"]) == 1
    out = capsys.readouterr().out
    assert f"test: {damaged_package_data}" in out and "vaedesk data download" in out


def test_data_check_lists_the_package_last_and_finds_the_test_set_there(capsys):
    assert main(["data", "check"]) == 1  # no training set anywhere
    out = capsys.readouterr().out
    listed = [line.strip() for line in out.splitlines() if line.startswith("  ")]
    assert listed[-1] == str(paths.bundled_mnist_dir())
    assert f"test: 10000 images in {paths.bundled_mnist_dir()} (checksums verified)" in out
    assert "train: not found" in out


def test_data_check_uses_the_folder_the_window_remembers(mnist_dir, capsys):
    paths.store_data_dir(mnist_dir)  # as the window's Choose folder does (tests/ui/test_first_start.py)
    assert main(["data", "check"]) == 0
    out = capsys.readouterr().out
    assert f"train: 1200 images in {mnist_dir}" in out and f"test: 300 images in {mnist_dir}" in out


def test_an_unusable_remembered_folder_is_ignored(tmp_path):
    settings = paths.user_config_dir() / paths.SETTINGS_NAME
    for text in ('{"data_dir": "' + "x" * 5000 + '"}', '["a list"]', "not json", '{"data_dir": 3}'):
        settings.parent.mkdir(parents=True, exist_ok=True)
        settings.write_text(text)
        assert paths.stored_data_dir() is None
        assert paths.mnist_search_dirs()[-1] == paths.bundled_mnist_dir()


def test_shipped_files_lists_every_model_card_and_resource():
    shipped = paths.shipped_files()
    names = {p.name for p in shipped}
    in_repo = {p.name for p in (REPO / "weights").iterdir() if p.suffix in (".safetensors", ".json")}
    assert in_repo <= names and "vaedesk.card.json" in in_repo
    for expected in ("t10k-images-idx3-ubyte.gz", "vaedesk.desktop", "vaedesk.svg", "vaedesk.png"):
        assert expected in names
    assert paths.bundled_weights().resolve() in shipped and paths.bundled_classifier().resolve() in shipped
    assert all(p.is_file() and p.is_absolute() for p in shipped)
    assert not any(p.suffix in (".py", ".pyc") for p in shipped)


# -- the desktop entry ------------------------------------------------------------------


def validate(entry: Path) -> None:
    tool = shutil.which("desktop-file-validate")
    if tool is None:
        pytest.skip("desktop-file-validate is not installed (Debian: desktop-file-utils)")
    r = subprocess.run([tool, str(entry)], capture_output=True, text=True)
    assert r.returncode == 0 and "error" not in r.stdout.lower(), r.stdout + r.stderr


def test_the_shipped_desktop_entry_validates():
    validate(paths.desktop_entry())


def test_install_desktop_entry_puts_the_entry_and_icons_where_desktops_look(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    assert main(["--install-desktop-entry"]) == 0
    entry = tmp_path / "share" / "applications" / "vaedesk.desktop"
    out = capsys.readouterr().out
    assert str(entry) in out
    validate(entry)
    fields = dict(line.split("=", 1) for line in entry.read_text().splitlines() if "=" in line)
    assert fields["Icon"] == "vaedesk" and fields["Type"] == "Application"
    program = fields["Exec"].split()[0].strip('"')
    assert Path(program).is_absolute() and os.access(program, os.X_OK)
    for size in (16, 24, 32, 48, 64, 128, 256):
        png = tmp_path / "share" / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "vaedesk.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and str(png) in out
        from PIL import Image

        with Image.open(png) as im:
            assert im.size == (size, size)
    assert (tmp_path / "share" / "icons" / "hicolor" / "scalable" / "apps" / "vaedesk.svg").is_file()

    assert main(["--remove-desktop-entry"]) == 0
    assert not entry.exists() and not list((tmp_path / "share" / "icons").rglob("vaedesk.*"))


def test_the_entry_launches_this_installation_even_from_a_folder_with_spaces(tmp_path):
    text = desktop.entry_text(["/opt/my apps/bin/vaedesk"])
    assert 'Exec="/opt/my apps/bin/vaedesk"' in text.splitlines()
    entry = tmp_path / "vaedesk.desktop"
    entry.write_text(text)
    validate(entry)


@pytest.mark.parametrize("folder", ["/opt/back\\slash", '/opt/a "quoted" $HOME `x`', "/opt/tab\there"])
def test_the_entry_launches_this_installation_from_a_folder_with_any_characters(tmp_path, folder):
    """The Exec value is read back as the spec reads it, string escapes first (\\\\ is one
    backslash), then the quoting: it gives the program's path back, and it validates (a
    backslash made an unclosed quote before)."""
    program = f"{folder}/bin/vaedesk"
    text = desktop.entry_text([program])
    entry = tmp_path / "vaedesk.desktop"
    entry.write_text(text)
    validate(entry)
    (value,) = [line[len("Exec=") :] for line in text.splitlines() if line.startswith("Exec=")]
    string_escapes = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}
    unescaped = re.sub(r"\\([sntr\\])", lambda m: string_escapes[m[1]], value)
    args = [
        re.sub(r'\\(["`$\\])', r"\1", quoted) if quoted else bare
        for quoted, bare in re.findall(r'"((?:[^"\\]|\\.)*)"|(\S+)', unescaped)
    ]
    assert args == [program]


def test_an_unwritable_data_home_is_one_line(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "share"
    blocker.write_text("a file where the folder should be")
    monkeypatch.setenv("XDG_DATA_HOME", str(blocker))
    assert main(["--install-desktop-entry"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("vaedesk: ") and err.count("\n") == 1 and "cannot write" in err


# -- the wheel ----------------------------------------------------------------------------


@pytest.mark.slow
def test_the_wheel_carries_every_shipped_file(tmp_path):
    """The bug of issue 35: a 51-file wheel without weights/. Built as CI builds it."""
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",  # built in isolation, as `python -m build` does: a new venv's setuptools is older
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    (wheel,) = tmp_path.glob("vaedesk-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    package = paths.package_dir()
    for f in paths.shipped_files():
        if f.is_relative_to(paths.weights_dir().resolve()):
            inside = "vaedesk/weights/" + f.relative_to(paths.weights_dir().resolve()).as_posix()
        else:
            inside = "vaedesk/" + f.relative_to(package.resolve()).as_posix()
        assert inside in names
    assert "vaedesk/weights/__init__.py" in names and "vaedesk/core/paths.py" in names
    assert not any(n.startswith(("weights/", "tests/", "assets/")) for n in names)


def test_install_desktop_entry_into_a_closed_pipe_is_no_traceback(tmp_path):
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "share")}
    r = subprocess.run(
        f"{sys.executable} -m vaedesk --install-desktop-entry | head -1",
        shell=True,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert r.stdout.startswith("installed 9 files") and "Traceback" not in r.stderr, r.stderr
