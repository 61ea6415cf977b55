"""The Train panel's background work: loading the training engine (torch) once, and the
worker's job that runs the engine's recipe. Nothing here touches a widget."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from vaedesk.core.memory import trim_heap
from vaedesk.ui.workers import Task

if TYPE_CHECKING:
    from vaedesk.core.recipe import RunOutcome, RunSpec

EVAL_STEPS = 1000  # the bar's steps while the test set is evaluated

# The training engine imports torch (1.3 s, 170 MB), which the viewer never needs: the
# panel loads it in a thread the first time it is shown or Start is pressed.
ENGINE = "vaedesk.core.recipe"


def clock(seconds: float) -> str:
    """Seconds as m:ss."""
    s = max(0, int(seconds))
    return f"{s // 60}:{s % 60:02d}"


def dispose(task: Task) -> None:
    """Delete a finished task and its worker: children of the panel, they would otherwise
    live as long as it does, each holding its job's last values."""
    task.worker.deleteLater()
    task.deleteLater()


def engine_loaded() -> bool:
    return ENGINE in sys.modules


def load_engine(emit, should_stop) -> None:
    import torch

    import vaedesk.core.recipe  # noqa: F401

    torch.set_num_threads(1)  # training leaves the other core to the interface


def training_job(spec: RunSpec):
    """The worker's job: the recipe's events, emitted as they come; the run returned."""
    from vaedesk.core.recipe import run_spec

    def job(emit, should_stop):
        try:
            return run_spec(spec, emit, should_stop, threads=1)
        finally:
            # Here, in the worker's thread: giving back hundreds of MB of pages took 0.27 s
            # (measured), which the window's thread would spend frozen.
            trim_heap()

    return job


def how_far(run: RunOutcome, seconds: str, eval_share: float, bar_maximum: int) -> tuple[int, int, str]:
    """Where the progress bar ends (its maximum and value) and how far the run got, said:
    a cancelled run where it stopped, a cancelled evaluation at its share done (of
    EVAL_STEPS), a finished run full."""
    if run.stop_reason == "cancelled":
        total = max(1, run.epochs * run.batches)
        done = max(0, run.epoch - 1) * run.batches + run.batch
        if run.epoch == 0:
            said = f"Cancelled after {seconds}, while finding the neighbours, before the first batch"
            return total, done, said
        return (
            total,
            done,
            f"Cancelled in epoch {run.epoch} of {run.epochs}, after batch {run.batch} of "
            f"{run.batches} ({100 * done // total} % of the run, {seconds})",  # as the bar: rounded down
        )
    if run.evaluation == "cancelled":
        value = round(eval_share * EVAL_STEPS)
        return (
            EVAL_STEPS,
            value,
            f"Trained ({run.stop_reason}); the evaluation was cancelled {100 * value // EVAL_STEPS} % of the"
            f" way through, after {seconds}: no test metrics",
        )
    maximum = max(1, bar_maximum)
    return maximum, maximum, f"Finished in {seconds} ({run.stop_reason})"
