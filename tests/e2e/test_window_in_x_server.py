"""End to end, as a user: the installed program in a real X server (Xvfb), driven by
xdotool with real X input events. Hover sweep, click a point, draw a digit, Ctrl+T,
Start a small run, see progress, Cancel, Keep, quit (Discard when asked about the kept
model). The program reports what it shows through --trace; the test fails on a
traceback on stderr, a crash, or a step that changed nothing."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
NEEDED = ("Xvfb", "xdotool")


@pytest.fixture
def display():
    missing = [tool for tool in NEEDED if shutil.which(tool) is None]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"{', '.join(missing)} not installed (.ci/run installs them)")
        pytest.skip(f"needs {', '.join(missing)}: apt-get install xvfb xdotool")
    read, write = os.pipe()
    server = subprocess.Popen(  # -displayfd: Xvfb picks a free display and writes its number
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        pass_fds=(write,),
    )
    os.close(write)
    with os.fdopen(read) as f:
        number = f.readline().strip()
    assert number and server.poll() is None, "Xvfb did not start"
    yield f":{number}"
    server.terminate()
    server.wait(10)


class App:
    def __init__(self, display: str, trace: Path, proc: subprocess.Popen) -> None:
        self.display, self.trace, self.proc = display, trace, proc

    def events(self, kind: str | None = None) -> list[dict]:
        if not self.trace.is_file():
            return []
        lines = [json.loads(line) for line in self.trace.read_text().splitlines() if line.strip()]
        return [e for e in lines if kind is None or e["event"] == kind]

    def wait(self, kind: str, count: int = 1, timeout: float = 60.0, where=lambda e: True) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [e for e in self.events(kind) if where(e)]
            if len(found) >= count:
                return found[-1]
            if self.proc.poll() is not None:
                raise AssertionError(f"the program exited ({self.proc.returncode}) waiting for {kind}")
            time.sleep(0.1)
        # A program that stopped answering: have it print every thread's stack (vaedesk
        # registers SIGUSR1 for that); the stack lands in the stderr printed below.
        self.proc.send_signal(signal.SIGUSR1)
        time.sleep(2)
        timeline = [(e["t"], e["event"]) for e in self.events()][-20:]
        raise AssertionError(f"no {kind!r} event within {timeout} s; the last events, at s: {timeline}")

    def xdo(self, *args) -> None:
        env = {**os.environ, "DISPLAY": self.display}
        subprocess.run(["xdotool", *map(str, args)], check=True, env=env, timeout=30)

    def move(self, x: float, y: float) -> None:
        self.xdo("mousemove", "--sync", int(x), int(y))

    def click_at(self, rect: list[int]) -> None:
        self.move(rect[0] + rect[2] / 2, rect[1] + rect[3] / 2)
        self.xdo("click", "1")

    def type_into(self, rect: list[int], text: str) -> None:
        self.click_at(rect)
        self.xdo("key", "ctrl+a")
        self.xdo("type", "--delay", "20", text)
        self.xdo("key", "Tab")


def test_a_user_session_in_a_real_x_server(display, real_mnist_dir, tmp_path):
    trace = tmp_path / "trace.jsonl"
    env = {
        **os.environ,
        "DISPLAY": display,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }
    env.pop("QT_QPA_PLATFORM", None)  # the real xcb platform
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "vaedesk", "--data", str(real_mnist_dir), "--trace", str(trace)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    app = App(display, trace, proc)
    ok = False
    try:
        ready = app.wait("ready", timeout=60)
        assert ready["points"] == 10000
        x, y, w, h = ready["map"]

        # hover sweep: every resting position is decoded
        for i in range(8):
            app.move(x + w * (0.2 + 0.08 * i), y + h * (0.3 + 0.05 * i))
            time.sleep(0.1)  # a hand rests; moves closer together are coalesced, by design
        app.wait("hover", count=8, timeout=10)

        # `kill -USR1` prints every thread's stack (README, "If the window stops answering")
        # and the session goes on; this test asks for one when it times out
        proc.send_signal(signal.SIGUSR1)

        # click a point on the map
        app.move(x + w * 0.5, y + h * 0.5)
        app.xdo("click", "1")
        selected = app.wait("selected", timeout=10, where=lambda e: e["index"] is not None)
        assert 0 <= selected["index"] < 10000

        # draw a seven on the pad
        px, py, pw, ph = ready["pad"]
        app.move(px + pw * 0.25, py + ph * 0.2)
        app.xdo("mousedown", "1")
        for fx, fy in ((0.5, 0.2), (0.75, 0.2), (0.65, 0.45), (0.55, 0.7), (0.5, 0.85)):
            app.move(px + pw * fx, py + ph * fy)
        app.xdo("mouseup", "1")
        drawn = app.wait("drawing", timeout=10, where=lambda e: e["mu"] is not None)
        assert len(drawn["mu"]) == 2

        # Model > Train with Ctrl+T, a small run
        app.xdo("key", "ctrl+t")
        panel = app.wait("training_panel", timeout=20)
        app.type_into(panel["epochs"], "3")
        app.type_into(panel["limit"], "2000")
        app.type_into(panel["eval_k"], "0")
        app.click_at(panel["start_button"])
        app.wait("run_started", timeout=20)
        first = app.wait("epoch", timeout=120)
        assert first["progress"] > 0  # the progress bar moved
        app.click_at(panel["cancel_button"])
        # Stopped at the next batch (or, on a fast machine, already done); the test set next.
        app.wait("evaluating", timeout=120)
        finished = app.wait("run_finished", timeout=240)
        assert finished["reason"] in ("cancelled", "completed")
        app.wait("model", timeout=30, where=lambda e: "not kept yet" in e["label"])
        panel = app.wait("training_panel", count=2, timeout=10)  # the Keep button's place, now shown
        app.click_at(panel["keep_button"])
        app.wait("model", timeout=10, where=lambda e: e["label"] == "unsaved model")

        app.xdo("key", "ctrl+q")  # the kept model is in no file: Save / Discard / Cancel first
        app.xdo("search", "--sync", "--onlyvisible", "--name", "^vaedesk$")  # the question's box
        time.sleep(0.5)
        app.xdo("key", "alt+d")  # &Discard
        proc.wait(30)
        ok = True
    finally:
        if proc.poll() is None:
            proc.kill()
        out, err = proc.communicate(timeout=30)
        if not ok:
            print(f"the program's stderr:\n{err[-20000:]}")
    print(f"end-to-end session: {time.monotonic() - started:.1f} s")
    assert proc.returncode == 0, err[-3000:]
    assert "Traceback" not in err and "Error" not in err, err[-3000:]
    assert "(most recent call first)" in err, "no stack dump for SIGUSR1"
