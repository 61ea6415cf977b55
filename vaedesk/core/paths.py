"""The one place that knows where files are.

Bundled, read-only files (weights, assets, optionally the MNIST test set) live next to
the package in a source checkout, or under ``sys._MEIPASS`` in a PyInstaller bundle.
Everything the program writes goes to the user's folders (platformdirs), never into
the bundle.
"""

from __future__ import annotations

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
