"""The one place that knows where files are.

Files the program reads at run time are package data, found with `importlib.resources`
(STYLE.md item 14), or under ``sys._MEIPASS`` in a PyInstaller bundle, which keeps the
same layout:

    vaedesk/weights/     the bundled models and their cards: the repository's top-level
                         weights/ folder, mapped into the package by setup.py
    vaedesk/resources/   the MNIST test set, the icon and the desktop entry

Nothing is ever computed from the source tree, and nothing is written into the package:
everything the program writes goes to the user's folders (platformdirs).
"""

from __future__ import annotations

import errno
import importlib.resources
import json
import os
import sys
from pathlib import Path

import platformdirs

APP_NAME = "vaedesk"
DATA_ENV = "VAEDESK_DATA"
BUNDLED_WEIGHTS_NAME = "vaedesk.safetensors"
WEIGHTS_PACKAGE = "vaedesk.weights"
SETTINGS_NAME = "settings.json"  # in the user's config folder, beside Qt's vaedesk.conf
MAX_SETTINGS_BYTES = 2**20  # it holds one folder's name


def package_dir(package: str = "vaedesk") -> Path:
    """The folder of an installed package (`vaedesk` or `vaedesk.weights`)."""
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:  # PyInstaller: build.spec puts the package data at the same relative paths
        return Path(frozen).joinpath(*package.split("."))
    # A wheel, an editable install or a source tree on sys.path all import from a folder;
    # vaedesk does not support being imported from a zip file.
    return Path(str(importlib.resources.files(package)))


def weights_dir() -> Path:
    return package_dir(WEIGHTS_PACKAGE)


def resources_dir() -> Path:
    return package_dir() / "resources"


def resource(*parts: str) -> Path:
    """A file under vaedesk/resources/ (the icon, the desktop entry, the MNIST test set)."""
    return resources_dir().joinpath(*parts)


def bundled_weights() -> Path:
    return weights_dir() / BUNDLED_WEIGHTS_NAME


def bundled_classifier() -> Path:
    return weights_dir() / "classifier.safetensors"


def bundled_mnist_dir() -> Path:
    """The two original MNIST test-set files, shipped so that the map works offline."""
    return resource("mnist")


def icon_svg() -> Path:
    return resource("icons", "hicolor", "scalable", "apps", "vaedesk.svg")


def desktop_entry() -> Path:
    return resource("vaedesk.desktop")


def shipped_files() -> list[Path]:
    """Every data file the program ships (models, cards, MNIST test set, icons, desktop
    entry), resolved. Writers refuse these as targets: overwriting one breaks the program."""
    found = []
    for root in (weights_dir(), resources_dir()):
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            found += [(Path(folder) / f).resolve() for f in files if not f.endswith((".py", ".pyc"))]
    return sorted(found)


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


def user_config_dir() -> Path:
    return platformdirs.user_config_path(APP_NAME, appauthor=False)


def default_mnist_dir() -> Path:
    """Where `vaedesk data download` puts MNIST when no folder is given."""
    return user_data_dir() / "mnist"


def _settings() -> dict[str, object]:
    from vaedesk.core.atomic import read_regular  # atomic imports this module

    try:  # a FIFO at its name would block the read for ever, /dev/zero never end it
        loaded = json.loads(read_regular(user_config_dir() / SETTINGS_NAME, MAX_SETTINGS_BYTES))
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def stored_data_dir() -> Path | None:
    """The MNIST folder last chosen in the window (or None), if it is still a folder. The
    window and `vaedesk data check` both read it: one data setting for the program."""
    folder = _settings().get("data_dir")
    if not isinstance(folder, str) or not folder:
        return None
    try:
        return Path(folder) if Path(folder).is_dir() else None
    except (OSError, ValueError):  # too long a name, a NUL byte: not a folder we can use
        return None


def store_data_dir(folder: str | Path | None) -> None:
    """Remember `folder` (None forgets it), atomically."""
    from vaedesk.core.atomic import atomic_write

    settings = _settings()
    if folder:
        settings["data_dir"] = str(Path(folder).expanduser().absolute())
    else:
        settings.pop("data_dir", None)
    text = json.dumps(settings, indent=1) + "\n"
    atomic_write(user_config_dir() / SETTINGS_NAME, text.encode("utf-8"))


def mnist_search_dirs(explicit: str | Path | None = None) -> list[Path]:
    """Folders to look for MNIST in, in order: --data (alone, when given); else
    $VAEDESK_DATA, the folder chosen in the window, the user's data folder, and last the
    shipped test set (which has no training set)."""
    if explicit is not None:
        return [Path(explicit).expanduser()]
    dirs = []
    env = os.environ.get(DATA_ENV)
    if env:
        dirs.append(Path(env).expanduser())
    stored = stored_data_dir()
    if stored is not None:
        dirs.append(stored)
    dirs.append(default_mnist_dir())
    dirs.append(bundled_mnist_dir())
    return list(dict.fromkeys(dirs))  # the chosen folder may be the user's data folder
