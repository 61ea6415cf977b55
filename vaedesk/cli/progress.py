"""Progress on the terminal: bars for the stages of a long evaluation, and Ctrl-C (or
SIGTERM) that stops a training run gently."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class StageBars:
    """tqdm bars on stderr, one per stage of a long evaluation, each with its ETA; silent
    when stderr is not a terminal."""

    def __init__(self) -> None:
        self.bars: dict[str, Any] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        from tqdm import tqdm

        if stage not in self.bars:
            self.bars[stage] = tqdm(
                total=total,
                desc=f"{stage:>10}",
                unit="step" if stage.startswith("q, ") else "img",
                file=sys.stderr,
                disable=None,
                dynamic_ncols=True,
            )
        bar = self.bars[stage]
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


@contextmanager
def ctrl_c_stops() -> Iterator[Callable[[], bool]]:
    """The first Ctrl-C (or SIGTERM, as `kill` and a closing session send: both are asked
    the same) asks the run to stop after its batch and keep the best weights; a second
    one aborts without saving. Yields: has a stop been asked for?"""
    import signal

    from tqdm import tqdm

    requested = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal requested
        if requested:
            raise KeyboardInterrupt
        requested = True
        tqdm.write("stopping after this batch (Ctrl-C again to abort without saving)", file=sys.stderr)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield lambda: requested
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
