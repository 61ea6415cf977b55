"""`vaedesk --trace FILE`: what the window shows, as JSON lines, for scripted end-to-end
tests (tests/test_ui_e2e_xvfb.py) that drive it with real X input and need to know
where the panels are and what each action changed."""

from __future__ import annotations

import json
import time
from typing import Any

from PySide6.QtWidgets import QWidget


def geometry(widget: QWidget) -> list[int]:
    """The widget's rectangle on the screen: x, y, width, height."""
    top_left = widget.mapToGlobal(widget.rect().topLeft())
    return [top_left.x(), top_left.y(), widget.width(), widget.height()]


class Trace:
    def __init__(self, path: str | None = None) -> None:
        self._file = open(path, "a", buffering=1, encoding="utf-8") if path else None  # noqa: SIM115
        self._start = time.perf_counter()

    def __bool__(self) -> bool:
        return self._file is not None

    def __call__(self, event: str, **data: Any) -> None:
        if self._file is not None:
            record = {"t": round(time.perf_counter() - self._start, 3), "event": event, **data}
            self._file.write(json.dumps(record, default=float) + "\n")
