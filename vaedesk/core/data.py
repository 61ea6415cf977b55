"""MNIST: find the four idx files, check them, parse them into numpy, download them.

The idx format (LeCun et al.): a big-endian header ``0x00 0x00 <type> <ndim>``, one
uint32 per dimension, then the raw bytes. Images are ``(N, 28, 28)`` uint8, labels ``(N,)``
uint8. Every problem raises `DataError` with one line naming the file and what is wrong.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vaedesk.core import atomic, paths


@dataclass(frozen=True)
class IdxFile:
    name: str
    sha256: str
    magic: int  # 2051 for images (ubyte, 3 dims), 2049 for labels (ubyte, 1 dim)
    count: int
    size: int  # bytes of the published .gz: a download never takes more
    unpacked_crc32: int | None = None  # of the items, for a copy kept unpacked in the cache


SPLITS: dict[str, tuple[IdxFile, IdxFile]] = {
    "train": (
        IdxFile(
            "train-images-idx3-ubyte.gz",
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            2051,
            60000,
            9912422,
        ),
        IdxFile(
            "train-labels-idx1-ubyte.gz",
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            2049,
            60000,
            28881,
        ),
    ),
    "test": (
        IdxFile(
            "t10k-images-idx3-ubyte.gz",
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            2051,
            10000,
            1648877,
            0xE4CA5F57,
        ),
        IdxFile(
            "t10k-labels-idx1-ubyte.gz",
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            2049,
            10000,
            4542,
            0xEE8604D9,
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
    return parse_idx(path, read_packed(path), magic)


MAX_PACKED_BYTES = 64 * 2**20  # the largest published file is 9.9 MB


def read_packed(path: Path) -> bytes:
    """A gzipped idx file's bytes, read once: they are unpacked and hashed in memory."""
    if not os.path.isfile(path):  # False where the name cannot be looked at (too long)
        raise DataError(f"{path}: missing")
    try:  # opened once and checked on what was opened; a file grown to gigabytes is not read
        return atomic.read_regular(path, MAX_PACKED_BYTES)
    except OSError as e:
        raise DataError(f"{path}: not a readable gzip file ({e})") from None


def parse_idx(path: Path, packed: bytes, magic: int) -> np.ndarray:
    """`read_idx` of a file's bytes: one call of zlib for the whole file, where gzip's file
    object made 200 for the test images (70 ms where this takes 55)."""
    try:
        raw = gzip.decompress(packed)
    except (OSError, EOFError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
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
        packed = read_packed(path)
        published = verify and hashlib.sha256(packed).hexdigest() == spec.sha256
        keep = published and spec.unpacked_crc32 is not None  # the test set, read at every start
        array = _unpacked_copy(spec) if keep else None
        if array is None:
            array = parse_idx(path, packed, spec.magic)
            if verify and len(array) != spec.count:
                raise DataError(f"{path}: {len(array)} items, MNIST has {spec.count}")
            if verify and not published:
                raise DataError(f"{path}: checksum does not match the published SHA-256")
            if keep:
                _keep_unpacked(spec, array)
        arrays.append(array)
    images, labels = arrays
    if len(images) != len(labels):
        raise DataError(f"{folder / label_file.name}: {len(labels)} labels for {len(images)} images")
    if labels.size and labels.max() > 9:
        raise DataError(f"{folder / label_file.name}: label {labels.max()} is not a digit")
    return images, labels


def _unpacked_file(spec: IdxFile) -> Path:
    return paths.user_cache_dir() / "mnist" / f"{spec.sha256[:32]}.npy"


def _unpacked_copy(spec: IdxFile) -> np.ndarray | None:
    """The published test set's file as unpacked at an earlier start, or None. Unpacking
    its images took 55-70 ms of every start of the window; the SHA-256 of the packed file
    (the published one?) takes 1.5, the CRC-32 of the copy (still what was unpacked?) 2."""
    shape = (spec.count, 28, 28) if spec.magic == 2051 else (spec.count,)
    path = _unpacked_file(spec)
    try:  # a FIFO, a device or a folder is refused unread; an .npy only (np.load opens zips)
        with os.fdopen(atomic.open_regular(path, spec.count * 28 * 28 + 4096), "rb") as f:
            array = np.lib.format.read_array(f, allow_pickle=False)  # straight into the array
    except (OSError, ValueError, EOFError):  # none yet, not a file, truncated, not an .npy
        return None
    ok = array.shape == shape and array.dtype == np.uint8 and array.flags.c_contiguous
    return array if ok and zlib.crc32(array.data) == spec.unpacked_crc32 else None


def _keep_unpacked(spec: IdxFile, array: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    with contextlib.suppress(OSError):  # a cache that cannot be written costs the unpacking
        atomic.atomic_write(_unpacked_file(spec), buffer.getvalue(), through_links=False)


def has_split(folder: Path, split: str) -> bool:
    return all(os.path.isfile(folder / spec.name) for spec in SPLITS[split])


def what_is_wrong(folder: Path, split: str) -> str:
    """Why `folder` does not hold `split`: each of its files that is missing or is not a
    regular file (a FIFO, a device, a folder), said. os.path's tests, which say False
    where a name cannot even be looked at (too long), where Path's raise."""
    if not os.path.isdir(folder):
        return "no such folder" if not os.path.exists(folder) else "not a folder"
    said = []
    for spec in SPLITS[split]:
        path = folder / spec.name
        if not os.path.exists(path):
            said.append(f"{spec.name} is missing")
        elif not os.path.isfile(path):
            said.append(f"{spec.name} is not a regular file")
    return ", ".join(said)


def find_data_dir(split: str, explicit: str | Path | None = None) -> Path | None:
    """The first folder in the search order that has both files of `split`."""
    for folder in paths.mnist_search_dirs(explicit):
        if has_split(folder, split):
            return folder
    return None


def locate(split: str, explicit: str | Path | None = None) -> Path:
    """The folder that holds both files of `split` (not read yet), or `DataError` saying
    where we looked and what to do."""
    folder = find_data_dir(split, explicit)
    if folder is None:
        if explicit is not None:  # the one folder given: say what is wrong there, and fill it
            given = paths.mnist_search_dirs(explicit)[0]
            raise DataError(
                f"MNIST {split} files not found in {given} ({what_is_wrong(given, split)});"
                f" run `vaedesk data download --data {given}` or " + HAND_INSTRUCTIONS.format(folder=given)
            )
        looked = ", ".join(str(d) for d in paths.mnist_search_dirs(explicit))
        raise DataError(
            f"MNIST {split} files not found (looked in {looked}); run `vaedesk data download`"
            f" or " + HAND_INSTRUCTIONS.format(folder=paths.default_mnist_dir())
        )
    return folder


def load(split: str, explicit: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Find and load a split, or raise `DataError` saying where we looked and what to do."""
    folder = locate(split, explicit)
    try:
        return load_split(folder, split)
    except DataError as e:
        if folder == paths.bundled_mnist_dir():
            raise DataError(
                f"The MNIST test set shipped with vaedesk is damaged ({e}); download MNIST, choose"
                " a folder that has it, or reinstall vaedesk"
            ) from None
        raise


def load_first(split: str, n: int, explicit: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """`load`, then only the first `n` images and labels, as arrays of their own: the
    rest of the split is freed at once, not kept alive by a view."""
    images, labels = load(split, explicit)
    if n < len(images):
        images, labels = images[:n].copy(), labels[:n].copy()
    return images, labels


def to_float(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) -> float32 in [0, 1], the pixel intensities the model sees."""
    return images.astype(np.float32) / 255.0
