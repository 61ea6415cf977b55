"""This process's peak memory, which the window reports with its first paint."""

from __future__ import annotations


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
