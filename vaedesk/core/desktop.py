"""Install the desktop entry and the icon for the user, as the freedesktop specifications
say: the entry in $XDG_DATA_HOME/applications, the icons in the hicolor theme under
$XDG_DATA_HOME/icons (default ~/.local/share). No Qt here: it runs from the command line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from vaedesk.core import atomic, paths

ENTRY_NAME = "vaedesk.desktop"


class DesktopError(Exception):
    """The entry could not be installed; the message says where and why, in one line."""


def xdg_data_home() -> Path:
    value = os.environ.get("XDG_DATA_HOME", "")
    # The spec: a relative path is invalid and must be ignored.
    return Path(value) if os.path.isabs(value) else Path.home() / ".local" / "share"


def launch_command() -> list[str]:
    """How a desktop launcher starts this very installation, whether or not it is on PATH."""
    if getattr(sys, "frozen", False):  # the packaged program
        return [str(Path(sys.executable).resolve())]
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if script is not None and script.name == "vaedesk" and script.is_file():
        return [str(script.resolve())]  # the console script of a pip/pipx install
    found = shutil.which("vaedesk")
    if found:
        return [str(Path(found).resolve())]
    return [str(Path(sys.executable).absolute()), "-m", "vaedesk"]


def _exec_value(argv: list[str]) -> str:
    """The Exec key's value: each argument quoted as the Desktop Entry spec asks (double
    quotes, with backslash before `"`, backtick, `$` and backslash), percent signs doubled,
    then escaped as every string value is."""
    reserved = set(" \t\n\"'\\><~|&;$*?#()`")
    parts = []
    for arg in argv:
        arg = arg.replace("%", "%%")
        if any(c in reserved for c in arg):
            escaped = "".join("\\" + c if c in '"`$\\' else c for c in arg)
            arg = f'"{escaped}"'
        parts.append(arg)
    # then the string escapes, which a reader undoes first: a backslash in a quoted
    # argument is four in the file; a tab or newline in a name is written \t or \n
    value = " ".join(parts).replace("\\", "\\\\")
    return value.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")


def entry_text(argv: list[str] | None = None) -> str:
    """The shipped entry with Exec pointing at this installation."""
    lines = paths.desktop_entry().read_text(encoding="utf-8").splitlines()
    exec_line = "Exec=" + _exec_value(argv if argv is not None else launch_command())
    return "\n".join(exec_line if line.startswith("Exec=") else line for line in lines) + "\n"


def installed_files(data_home: Path | None = None) -> list[Path]:
    """Where `install` puts the entry and each icon."""
    home = data_home or xdg_data_home()
    icons = paths.resource("icons", "hicolor")
    return [home / "applications" / ENTRY_NAME] + [
        home / "icons" / "hicolor" / p.relative_to(icons) for p in sorted(icons.rglob("vaedesk.*"))
    ]


def install(data_home: Path | None = None) -> list[Path]:
    """Write the entry and copy the icons; return the files written. Each write is atomic,
    so installing twice (after an upgrade, say) just refreshes them."""
    home = data_home or xdg_data_home()
    icons = paths.resource("icons", "hicolor")
    written = []
    try:
        entry = home / "applications" / ENTRY_NAME
        atomic.atomic_write(entry, entry_text().encode("utf-8"))
        written.append(entry)
        for source in sorted(icons.rglob("vaedesk.*")):
            target = home / "icons" / "hicolor" / source.relative_to(icons)
            atomic.atomic_write(target, source.read_bytes())
            written.append(target)
    except OSError as e:
        raise DesktopError(f"{e.filename or home}: cannot write ({e.strerror or e})") from None
    _refresh_caches(home)
    return written


def remove(data_home: Path | None = None) -> list[Path]:
    """Remove what `install` wrote; return the files removed."""
    removed = []
    for path in installed_files(data_home):
        try:
            path.unlink()
            removed.append(path)
        except FileNotFoundError:
            pass
        except OSError as e:
            raise DesktopError(f"{path}: cannot remove ({e.strerror or e})") from None
    _refresh_caches(data_home or xdg_data_home())
    return removed


def _refresh_caches(home: Path) -> None:
    """Menus and icon themes notice new files by themselves on most desktops; where the
    tool exists, refresh the menu's cache at once too. A failure here changes nothing.
    (No gtk-update-icon-cache: a cache file left in the user's theme would hide icons
    installed later; touching the folder is what the icon theme spec asks.)"""
    hicolor = home / "icons" / "hicolor"
    applications = home / "applications"
    try:
        if hicolor.is_dir():
            os.utime(hicolor)
        if shutil.which("update-desktop-database") and applications.is_dir():
            subprocess.run(
                ["update-desktop-database", "-q", str(applications)], capture_output=True, timeout=30
            )
    except (OSError, subprocess.SubprocessError):
        pass


def run(remove_entry: bool = False) -> int:
    """`vaedesk --install-desktop-entry` / `--remove-desktop-entry`: do it, say what changed."""
    try:
        files = remove() if remove_entry else install()
    except DesktopError as e:
        print(f"vaedesk: {e}", file=sys.stderr)
        return 1
    verb = "removed" if remove_entry else "installed"
    print(f"{verb} {len(files)} file{'s' * (len(files) != 1)}:")
    for f in files:
        print(f"  {f}")
    return 0
