"""Timing helpers for the benchmarks: repeated calls, medians and percentiles."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def timings(fn: Callable[[], object], repeat: int, warmup: int = 20) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def ms(values: list[float]) -> str:
    return f"median {1e3 * statistics.median(values):.3f} ms, p99 {1e3 * percentile(values, 99):.3f} ms"


def peak_mb() -> float:
    """This process's peak resident memory in MB (VmHWM: unlike getrusage's ru_maxrss, it
    does not carry over the peak of the process that forked this one); NaN if unknown."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")
