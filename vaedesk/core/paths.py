"""The one place that knows where files are.

Bundled, read-only files (weights, assets, optionally the MNIST test set) live next to
the package in a source checkout, or under ``sys._MEIPASS`` in a PyInstaller bundle.
Everything the program writes goes to the user's folders (platformdirs), never into
the bundle.
"""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

import platformdirs

APP_NAME = "vaedesk"
DATA_ENV = "VAEDESK_DATA"
BUNDLED_WEIGHTS_NAME = "vaedesk.safetensors"


def bundle_dir() -> Path:
    """The folder holding `weights/` and `assets/`: the repository or the PyInstaller bundle."""
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen)
    return Path(__file__).resolve().parent.parent.parent


def resource(*parts: str) -> Path:
    return bundle_dir().joinpath(*parts)


def bundled_weights() -> Path:
    return resource("weights", BUNDLED_WEIGHTS_NAME)


def bundled_classifier() -> Path:
    return resource("weights", "classifier.safetensors")


SHIPPED_FOLDERS = ("weights", "assets", "mnist")  # in the bundle: its models, pictures, test set


def shipped_files() -> list[Path]:
    """Every file the program ships: the bundled models and their cards, the assets (the
    icon, the pictures) and the MNIST test set when it is bundled. None of them is ever
    written to (`refuse_shipped`)."""
    found: list[Path] = []
    for folder in SHIPPED_FOLDERS:
        root = resource(folder)
        if root.is_dir():
            found.extend(p for p in root.rglob("*") if p.is_file())
    return found


def refuse_shipped(*targets: str | Path) -> None:
    """Raise PermissionError (one line, naming the file) if any target is, or resolves to
    through symlinks or a hard link, a file the program ships. Every writer calls this
    (`atomic_write` does, for all of them), so no command or menu can replace a bundled
    model, its card, an asset or the bundled test set."""
    shipped = shipped_files()
    real = {os.path.realpath(p) for p in shipped}
    inodes = set()
    for p in shipped:
        try:
            st = p.stat()
        except OSError:
            continue
        inodes.add((st.st_dev, st.st_ino))
    for target in targets:
        try:
            st = os.stat(target)  # follows symlinks
            same_file = (st.st_dev, st.st_ino) in inodes
        except (OSError, ValueError):
            same_file = False  # does not exist yet (or cannot be looked at): the name decides
        if same_file or os.path.realpath(target) in real:
            raise PermissionError(
                errno.EPERM, "a file vaedesk ships cannot be overwritten; choose another name", str(target)
            )


def user_data_dir() -> Path:
    return platformdirs.user_data_path(APP_NAME, appauthor=False)


def user_cache_dir() -> Path:
    return platformdirs.user_cache_path(APP_NAME, appauthor=False)


def default_mnist_dir() -> Path:
    """Where `vaedesk data download` puts MNIST when no folder is given."""
    return user_data_dir() / "mnist"


def mnist_search_dirs(explicit: str | Path | None = None) -> list[Path]:
    """Folders to look for MNIST in, in order: --data, $VAEDESK_DATA, user folder, bundle."""
    if explicit is not None:
        return [Path(explicit).expanduser()]
    dirs = []
    env = os.environ.get(DATA_ENV)
    if env:
        dirs.append(Path(env).expanduser())
    dirs.append(default_mnist_dir())
    dirs.append(resource("mnist"))
    return dirs
