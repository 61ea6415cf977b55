"""What the window remembers between runs (QSettings): the data folder, the window's
layout, the last model and the recently used ones."""

from __future__ import annotations

import contextlib
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QMainWindow

RECENT = 10  # models in Model > Recent models; what is stored beyond them is never read


def is_file(name: str) -> bool:
    """Whether a stored name is a file; False for one the system cannot even look up (too
    long a name, a NUL byte): such a setting gave a traceback at every start."""
    try:
        return Path(name).is_file()
    except (OSError, ValueError):
        return False


def store_can_be_read() -> bool:
    """Whether Qt's settings file is a file, or absent. QSettings reads it whole as soon
    as it is made: a FIFO at its name (on Linux, beside settings.json) blocked the start
    for ever, a device never ended it. Only Linux's file is looked at: elsewhere Qt keeps
    its settings under other names (the registry, a .plist)."""
    if not sys.platform.startswith("linux"):
        return True
    from vaedesk.core import paths

    conf = paths.user_config_dir() / "vaedesk.conf"
    try:
        return not conf.exists() or conf.is_file()
    except (OSError, ValueError):
        return True  # a name that cannot be looked at: Qt cannot open it either


class Settings:
    def __init__(self, store: QSettings | None = None) -> None:
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        if store is None and not store_can_be_read():  # remembers nothing this time, but starts
            self._folder = tempfile.TemporaryDirectory(prefix="vaedesk-settings-")
            store = QSettings(str(Path(self._folder.name) / "vaedesk.conf"), QSettings.Format.IniFormat)
        self.store = store or QSettings("vaedesk", "vaedesk")

    @classmethod
    def scratch(cls) -> Settings:
        """Settings that start empty and are deleted at the end (the self-test's): what the
        user's runs remembered is neither read nor overwritten."""
        folder = tempfile.TemporaryDirectory(prefix="vaedesk-settings-")
        settings = cls(QSettings(str(Path(folder.name) / "vaedesk.conf"), QSettings.Format.IniFormat))
        settings._folder = folder  # removed when the settings are, or at exit
        return settings

    def _get(self, key: str) -> str | None:
        value = self.store.value(key)
        return str(value) if value else None

    @property
    def data_dir(self) -> str | None:
        """The last MNIST folder that worked, if it still exists. Kept by the core, not in
        QSettings, so that `vaedesk data check` and training read the same setting."""
        from vaedesk.core import paths

        folder = paths.stored_data_dir()
        return str(folder) if folder is not None else None

    @data_dir.setter
    def data_dir(self, folder: str | None) -> None:
        from vaedesk.core import paths

        # If it cannot be written, it is not remembered; this run uses the folder all the same.
        with contextlib.suppress(OSError):
            paths.store_data_dir(folder)

    @property
    def last_model(self) -> str | None:
        path = self._get("last_model")
        return path if path and is_file(path) else None

    @last_model.setter
    def last_model(self, path: str | None) -> None:
        self.store.setValue("last_model", path or "")

    def recent_models(self) -> list[str]:
        """The last RECENT models opened or saved that still exist, newest first (a list of
        10,000 took the menu 1.4 s to fill: only the first RECENT are read)."""
        value = self.store.value("recent_models") or []
        names = [value] if isinstance(value, str) else list(value) if isinstance(value, list) else []
        return [n for n in names[:RECENT] if isinstance(n, str) and is_file(n)]

    def add_recent(self, path: str) -> None:
        names = [path, *(n for n in self.recent_models() if n != path)][:RECENT]
        self.store.setValue("recent_models", names)

    def save_window(self, window: QMainWindow) -> None:
        self.store.setValue("geometry", window.saveGeometry())
        self.store.setValue("window_state", window.saveState())
        self.store.sync()

    def restore_window(self, window: QMainWindow) -> bool:
        geometry = self.store.value("geometry")
        if not isinstance(geometry, QByteArray) or not window.restoreGeometry(geometry):
            return False
        state = self.store.value("window_state")
        if isinstance(state, QByteArray):
            window.restoreState(state)
        return True
