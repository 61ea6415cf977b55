"""Giving freed memory back to the system after a training run.

glibc's malloc keeps what a program frees in its heaps (one arena per thread that
allocated) for later use, and returns it to the system only from the top of a heap or
when asked to. A training run in the window's worker thread frees hundreds of MB of
tensors when it ends, which then stayed in the process (measured: 1.2 GB resident after a
run whose live data was about 500 MB); PyTorch issue 41486 describes the same. Asking
glibc to trim its heaps returns those pages at once.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable

_trim: Callable[[int], int] | None = None
_looked = False


def _malloc_trim() -> Callable[[int], int] | None:
    global _trim, _looked
    if not _looked:
        _looked = True
        if sys.platform.startswith("linux"):
            try:  # glibc only: musl and other C libraries have no malloc_trim
                _trim = ctypes.CDLL("libc.so.6").malloc_trim
            except (OSError, AttributeError):
                _trim = None
    return _trim


def trim_heap() -> bool:
    """Return the C heap's free pages to the system (glibc's malloc_trim, every arena);
    True if any were returned. Does nothing, and says False, where there is no glibc
    (macOS and Windows return large freed blocks by themselves)."""
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False


M_ARENA_MAX = -8  # glibc's malloc.h


def one_heap() -> bool:
    """Have every thread allocate from glibc's main heap (`M_ARENA_MAX` = 1) instead of
    one heap per thread; True if set. Called before the window starts any thread.

    With a heap per thread, what a training run in its worker thread freed stayed spread
    over that thread's heaps between the run's results and the modules it imported, in
    pages `trim_heap` cannot give back: after a run at the panel's defaults the window
    held 577 to 609 MB depending on the process (631 in one), 159 to 226 MB of it free in
    the heaps. With one heap, 577-578 MB after each of 6 runs in 3 processes, peaks 805-852
    MB (docs/memory.md, round 4). Does nothing where there is no glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_ARENA_MAX, 1))
