"""Atomic file writes: a temporary file in the same folder, then a rename."""

from __future__ import annotations

import errno
import os
import stat
import tempfile
import time
from pathlib import Path

from vaedesk.core.paths import refuse_shipped

STALE_SECONDS = 3600  # a temporary file this old was left by a save that was killed


def atomic_write(path: str | Path, data: bytes, *, through_links: bool = True) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never half.

    A symlink is written through (its target is replaced, the link stays) where the user
    chose the path; with `through_links=False` (vaedesk's own caches, where a link was put
    by someone else) the link itself is replaced by the file and its target left alone. A
    file replaced keeps its mode; anything that is not a regular file (a device, a pipe, a
    folder) is refused with an OSError rather than replaced by a file, and so is a file
    the program ships (PermissionError, from `paths.refuse_shipped`). Temporary files
    that killed saves left behind are removed.
    """
    refuse_shipped(path)
    path = Path(path)
    link = path.is_symlink()
    if link and through_links:
        try:
            path, link = path.resolve(), False
        except RuntimeError:  # a loop of links, on Python 3.11 (later ones raise OSError)
            raise OSError(errno.ELOOP, "a loop of symbolic links", str(path)) from None
    if not link and path.exists() and not path.is_file():
        raise OSError(errno.EINVAL, "not a regular file", str(path))
    # a file replaced keeps its permissions (a read-only model stays read-only)
    mode = path.stat().st_mode & 0o7777 if path.exists() and not link else usual_mode()
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path.parent, f".{path.name}.*.tmp")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)  # mkstemp makes 0600: give the file its own, or the usual mode
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def usual_mode() -> int:
    """The mode a new file gets from open(): 0o666 less the umask.

    Read from /proc where it can be, because setting the umask to read it is not safe
    while another thread creates files (downloads run beside the GUI thread).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def remove_stale(folder: Path, pattern: str, seconds: float = STALE_SECONDS) -> None:
    """Remove files matching `pattern` in `folder` not modified for `seconds`: temporaries
    that a killed save or download left behind."""
    cutoff = time.time() - seconds
    for old in folder.glob(pattern):
        try:
            if old.stat().st_mtime < cutoff:
                old.unlink()
        except OSError:
            pass  # gone already, or not ours to remove: it does no harm


def open_regular(path: str | Path, max_bytes: int) -> int:
    """A file descriptor of `path` opened for reading, if it is a regular file of at most
    `max_bytes`; OSError with a one-line reason otherwise. A FIFO is opened without
    waiting for a writer (O_NONBLOCK) and then refused, as are devices (/dev/zero,
    /dev/urandom, /dev/full) and folders: reading one would hang or never end."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, "is a folder", str(path))
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        if st.st_size > max_bytes:
            raise OSError(errno.EFBIG, f"larger than {_size(max_bytes)}", str(path))
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_regular(path: str | Path, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most `max_bytes` (see `open_regular`)."""
    with os.fdopen(open_regular(path, max_bytes), "rb") as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:  # it grew while being read
        raise OSError(errno.EFBIG, f"larger than {_size(max_bytes)}", str(path))
    return data


def _size(n: int) -> str:
    return f"{n / 2**30:g} GB" if n >= 2**30 else f"{n / 2**20:g} MB" if n >= 2**20 else f"{n / 2**10:g} kB"
