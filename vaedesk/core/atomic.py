"""Atomic file writes: a temporary file in the same folder, then a rename."""

from __future__ import annotations

import errno
import os
import tempfile
import time
from pathlib import Path

STALE_SECONDS = 3600  # a temporary file this old was left by a save that was killed


def atomic_write(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never half.

    A symlink is written through (its target is replaced, the link stays); anything that
    is not a regular file (a device, a pipe, a folder) is refused with an OSError rather
    than replaced by a file. Temporary files that killed saves left behind are removed.
    """
    path = Path(path)
    if path.is_symlink():
        path = path.resolve()
    if path.exists() and not path.is_file():
        raise OSError(errno.EINVAL, "not a regular file", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual mode
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _remove_stale_temporaries(path: Path) -> None:
    cutoff = time.time() - STALE_SECONDS
    for old in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            if old.stat().st_mtime < cutoff:
                old.unlink()
        except OSError:
            pass  # gone already, or not ours to remove: it does no harm
