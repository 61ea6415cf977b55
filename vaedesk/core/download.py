"""Downloading MNIST into a folder: each missing or damaged file from the first mirror
that serves it whole, checked against its published SHA-256, written atomically, with
progress, cancel and limits on a server that stalls or drips. (Moved out of `data`,
which finds, checks and parses the files.)"""

from __future__ import annotations

import hashlib
import os
import socket
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from vaedesk.core import atomic, data, paths

ProgressFn = Callable[[str, int, int | None], None]  # (file name, bytes so far, total or None)


class DownloadError(data.DataError):
    pass


class DownloadCancelled(DownloadError):
    pass


@dataclass(frozen=True)
class Limits:
    """What a download may cost before it is given up.

    `timeout` bounds the connection and each wait for the next bytes; `min_rate` bytes/s,
    averaged over the last `window` seconds, catches a server that drips bytes just often
    enough to beat the timeout; `deadline` bounds the whole download. A file is never
    read past its published size, so an endless body cannot fill the disk.
    """

    timeout: float = 20.0
    min_rate: float = 8192.0
    window: float = 20.0
    deadline: float = 900.0


STALE_PART_SECONDS = 120  # a .part file not written for this long was left by a killed download
WATCH_INTERVAL = 0.1  # how often the watch looks at a transfer: cancel lands within this


class _Watch:
    """Watches one transfer from a second thread and cuts its socket when it must end.

    A read blocked on a silent server does not look at `should_stop`; shutting the
    socket down does wake it. The reader then raises `reason`.
    """

    def __init__(
        self, response: IO[bytes], should_stop: Callable[[], bool] | None, limits: Limits, deadline_at: float
    ) -> None:
        self.response, self.should_stop = response, should_stop
        self.limits, self.deadline_at = limits, deadline_at
        self.done = 0  # bytes read so far, written by the reader
        self.reason: DownloadError | None = None
        self._finished = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="download-watch", daemon=True)

    def __enter__(self) -> _Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._finished.set()
        self._thread.join()

    def _verdict(self, history: deque[tuple[float, int]]) -> DownloadError | None:
        now = time.monotonic()
        if self.should_stop is not None and self.should_stop():
            return DownloadCancelled("download cancelled")
        if now > self.deadline_at:
            return DownloadError(f"gave up: not finished within {self.limits.deadline:.0f} s")
        history.append((now, self.done))
        while len(history) > 1 and history[1][0] <= now - self.limits.window:
            history.popleft()
        since, before = history[0]
        if now - since >= self.limits.window:
            rate = (self.done - before) / (now - since)
            if rate < self.limits.min_rate:
                return DownloadError(
                    f"gave up: {rate:,.0f} bytes/s over the last {now - since:.0f} s"
                    f" (at least {self.limits.min_rate:,.0f} needed)"
                )
        return None

    def _run(self) -> None:
        history: deque[tuple[float, int]] = deque([(time.monotonic(), 0)])
        while not self._finished.wait(WATCH_INTERVAL):
            reason = self._verdict(history)
            if reason is None:
                continue
            with self._lock:
                if not self._finished.is_set():
                    self.reason = reason
                    _cut(self.response)
            return


def _cut(response: IO[bytes]) -> None:
    """Shut the response's socket down, which wakes a read blocked on it in another thread."""
    try:
        sock = socket.socket(fileno=os.dup(response.fileno()))
    except (OSError, ValueError, AttributeError):
        return  # already closed
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        sock.close()


def _fetch(
    url: str,
    dest: Path,
    spec: data.IdxFile,
    progress: ProgressFn | None,
    should_stop: Callable[[], bool] | None,
    limits: Limits,
    deadline_at: float,
) -> None:
    """Stream `url` into a temporary file beside `dest`, check it, then rename it into place."""
    import http.client
    import urllib.request  # here, not at the top: 0.1 s of every start-up for a rare download

    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, atomic.usual_mode())  # readable like the files beside it, not 0600
        digest = hashlib.sha256()
        with (
            os.fdopen(fd, "wb") as out,
            urllib.request.urlopen(url, timeout=limits.timeout) as resp,
            _Watch(resp, should_stop, limits, deadline_at) as watch,
        ):
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            if total is not None and total > spec.size:
                raise DownloadError(f"{url}: announces {total:,} bytes; {spec.name} has {spec.size:,}")
            try:
                while block := resp.read1(1 << 16):
                    if should_stop is not None and should_stop():
                        raise DownloadCancelled(f"{dest.name}: download cancelled")
                    watch.done += len(block)
                    if watch.done > spec.size:
                        raise DownloadError(f"{url}: sends more than the {spec.size:,} bytes {spec.name} has")
                    out.write(block)
                    digest.update(block)
                    if progress is not None:
                        progress(spec.name, watch.done, total or spec.size)
            except (OSError, ValueError, http.client.HTTPException) as e:
                if watch.reason is None:
                    raise DownloadError(f"{url}: {getattr(e, 'reason', None) or e}") from None
            if watch.reason is not None:
                if isinstance(watch.reason, DownloadCancelled):
                    raise DownloadCancelled(f"{dest.name}: download cancelled")
                raise DownloadError(f"{url}: {watch.reason}")
            if total is not None and watch.done < total:
                raise DownloadError(f"{url}: truncated ({watch.done:,} of {total:,} bytes)")
        if digest.hexdigest() != spec.sha256:
            raise DownloadError(f"{url}: checksum does not match the published SHA-256")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def download(
    folder: str | Path | None = None,
    mirrors: Sequence[str] = data.MIRRORS,
    progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
    limits: Limits = Limits(),
) -> Path:
    """Fetch whichever MNIST files `folder` lacks (or has corrupt), verified, atomically.

    Each file is tried on every mirror in turn, within `limits`. Nothing half-written is
    ever left under the final name, and `.part` files that a killed download left are
    removed. Cancel (`should_stop`) is honoured within a tenth of a second, even while a
    read waits on a silent server. Returns the folder.
    """
    import http.client

    folder = Path(folder) if folder is not None else paths.default_mnist_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DownloadError(f"{folder}: cannot create the data folder ({e.strerror or e})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DownloadError(f"{folder}: cannot write into the data folder (permission denied)")
    deadline_at = time.monotonic() + limits.deadline
    for spec in data.ALL_FILES:
        atomic.remove_stale(folder, f".{spec.name}.*.part", STALE_PART_SECONDS)
        dest = folder / spec.name
        if dest.is_file() and data.sha256_of(dest) == spec.sha256:
            continue
        failures = []
        for mirror in mirrors:
            url = mirror.rstrip("/") + "/" + spec.name
            try:
                _fetch(url, dest, spec, progress, should_stop, limits, deadline_at)
                break
            except DownloadCancelled:
                raise
            except DownloadError as e:
                failures.append(str(e))
            except (OSError, ValueError, http.client.HTTPException) as e:  # URLError is an OSError
                failures.append(f"{url}: {getattr(e, 'reason', None) or e}")
            if should_stop is not None and should_stop():
                raise DownloadCancelled(f"{dest.name}: download cancelled")
        else:
            raise DownloadError(
                f"could not download {spec.name} ({'; '.join(failures)}). Instead, "
                + data.HAND_INSTRUCTIONS.format(folder=folder)
            )
    return folder
