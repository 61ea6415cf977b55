"""The window's threads share one C heap (vaedesk.core.memory.one_heap): a training run's
worker thread then frees into the heap the window trims, not into a heap of its own.
Counted from glibc's own report (malloc_stats, on stderr), in a fresh process."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import ctypes, sys, threading
if sys.argv[1] == "one":
    from vaedesk.core.memory import one_heap
    assert one_heap()
def work():
    kept = [bytearray(100_000) for _ in range(50)]  # malloc's, not Python's small objects
    del kept
threads = [threading.Thread(target=work) for _ in range(3)]
for t in threads:
    t.start()
for t in threads:
    t.join()
ctypes.CDLL("libc.so.6").malloc_stats()
"""


def heaps(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return sum(line.startswith("Arena ") for line in done.stderr.splitlines())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc only")
def test_threads_allocate_from_one_heap_once_asked():
    assert heaps("default") > 1  # glibc gives a thread of its own a heap of its own
    assert heaps("one") == 1
