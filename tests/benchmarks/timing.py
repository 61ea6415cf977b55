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
