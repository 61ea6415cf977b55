"""MNIST: find the four idx files, check them, parse them into numpy, download them.

The idx format (LeCun et al.): a big-endian header ``0x00 0x00 <type> <ndim>``, one
uint32 per dimension, then the raw bytes. Images are ``(N, 28, 28)`` uint8, labels ``(N,)``
uint8. Every problem raises `DataError` with one line naming the file and what is wrong.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vaedesk.core import paths


@dataclass(frozen=True)
class IdxFile:
    name: str
    sha256: str
    magic: int  # 2051 for images (ubyte, 3 dims), 2049 for labels (ubyte, 1 dim)
    count: int


SPLITS: dict[str, tuple[IdxFile, IdxFile]] = {
    "train": (
        IdxFile(
            "train-images-idx3-ubyte.gz",
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            2051,
            60000,
        ),
        IdxFile(
            "train-labels-idx1-ubyte.gz",
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            2049,
            60000,
        ),
    ),
    "test": (
        IdxFile(
            "t10k-images-idx3-ubyte.gz",
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            2051,
            10000,
        ),
        IdxFile(
            "t10k-labels-idx1-ubyte.gz",
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            2049,
            10000,
        ),
    ),
}
ALL_FILES: tuple[IdxFile, ...] = SPLITS["train"] + SPLITS["test"]

MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

HAND_INSTRUCTIONS = (
    "download the four MNIST files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
    "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) by hand into {folder}, "
    "or point --data / $VAEDESK_DATA at a folder that has them"
)


class DataError(Exception):
    """A data file is missing or unusable; the message names the file and the problem."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_idx(path: Path, magic: int) -> np.ndarray:
    """Parse one gzipped idx file of unsigned bytes, checking magic, dimensions and length."""
    if not path.is_file():
        raise DataError(f"{path}: missing")
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:  # gzip.BadGzipFile is an OSError
        raise DataError(f"{path}: not a readable gzip file ({e})") from None
    if len(raw) < 4:
        raise DataError(f"{path}: truncated (only {len(raw)} bytes)")
    found = struct.unpack(">I", raw[:4])[0]
    if found != magic:
        raise DataError(f"{path}: wrong magic number {found} (expected {magic})")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated header")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    if ndim == 3 and shape[1:] != (28, 28):
        raise DataError(f"{path}: images are {shape[1]}x{shape[2]}, expected 28x28")
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        word = "truncated" if len(raw) < expected else "too long"
        raise DataError(f"{path}: {word} ({len(raw)} bytes, header says {expected})")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape).copy()


def load_split(folder: str | Path, split: str, verify: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) uint8 and labels (N,) uint8 of "train" or "test" from `folder`.

    `verify` checks each file against the published SHA-256; only tests of the parser
    itself, with small idx files of their own, turn it off.
    """
    folder = Path(folder)
    image_file, label_file = SPLITS[split]
    arrays = []
    for spec in (image_file, label_file):
        path = folder / spec.name
        array = read_idx(path, spec.magic)
        if verify:
            if len(array) != spec.count:
                raise DataError(f"{path}: {len(array)} items, MNIST has {spec.count}")
            if sha256_of(path) != spec.sha256:
                raise DataError(f"{path}: checksum does not match the published SHA-256")
        arrays.append(array)
    images, labels = arrays
    if len(images) != len(labels):
        raise DataError(f"{folder / label_file.name}: {len(labels)} labels for {len(images)} images")
    if labels.size and labels.max() > 9:
        raise DataError(f"{folder / label_file.name}: label {labels.max()} is not a digit")
    return images, labels


def has_split(folder: Path, split: str) -> bool:
    return all((folder / spec.name).is_file() for spec in SPLITS[split])


def find_data_dir(split: str, explicit: str | Path | None = None) -> Path | None:
    """The first folder in the search order that has both files of `split`."""
    for folder in paths.mnist_search_dirs(explicit):
        if has_split(folder, split):
            return folder
    return None


def load(split: str, explicit: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Find and load a split, or raise `DataError` saying where we looked and what to do."""
    folder = find_data_dir(split, explicit)
    if folder is None:
        looked = ", ".join(str(d) for d in paths.mnist_search_dirs(explicit))
        raise DataError(
            f"MNIST {split} files not found (looked in {looked}); run `vaedesk data download`"
            f" or " + HAND_INSTRUCTIONS.format(folder=paths.default_mnist_dir())
        )
    return load_split(folder, split)


def to_float(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) -> float32 in [0, 1], the pixel intensities the model sees."""
    return images.astype(np.float32) / 255.0


# -- download ---------------------------------------------------------------------------

ProgressFn = Callable[[str, int, int | None], None]  # (file name, bytes so far, total or None)


class DownloadError(DataError):
    pass


class DownloadCancelled(DownloadError):
    pass


def _fetch(
    url: str,
    dest: Path,
    spec: IdxFile,
    progress: ProgressFn | None,
    should_stop: Callable[[], bool] | None,
    timeout: float,
) -> None:
    """Stream `url` into a temporary file beside `dest`, check it, then rename it into place."""
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            done = 0
            while block := resp.read(1 << 16):
                if should_stop is not None and should_stop():
                    raise DownloadCancelled(f"{dest.name}: download cancelled")
                out.write(block)
                digest.update(block)
                done += len(block)
                if progress is not None:
                    progress(spec.name, done, total)
            if total is not None and done < total:
                raise DownloadError(f"{url}: truncated ({done} of {total} bytes)")
        if digest.hexdigest() != spec.sha256:
            raise DownloadError(f"{url}: checksum does not match the published SHA-256")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def download(
    folder: str | Path | None = None,
    mirrors: Sequence[str] = MIRRORS,
    progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
    timeout: float = 30.0,
) -> Path:
    """Fetch whichever MNIST files `folder` lacks (or has corrupt), verified, atomically.

    Each file is tried on every mirror in turn. Nothing half-written is ever left under
    the final name. Returns the folder.
    """
    folder = Path(folder) if folder is not None else paths.default_mnist_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for spec in ALL_FILES:
        dest = folder / spec.name
        if dest.is_file() and sha256_of(dest) == spec.sha256:
            continue
        failures = []
        for mirror in mirrors:
            url = mirror.rstrip("/") + "/" + spec.name
            try:
                _fetch(url, dest, spec, progress, should_stop, timeout)
                break
            except DownloadCancelled:
                raise
            except DownloadError as e:
                failures.append(str(e))
            except (urllib.error.URLError, OSError, ValueError) as e:
                failures.append(f"{url}: {getattr(e, 'reason', e)}")
        else:
            raise DownloadError(
                f"could not download {spec.name} ({'; '.join(failures)}). Instead, "
                + HAND_INSTRUCTIONS.format(folder=folder)
            )
    return folder
