"""Shared fixtures. Qt runs offscreen, and the user's folders point into a temporary
directory, so tests never touch the real home folder or need a display."""

from __future__ import annotations

import gzip
import os
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
_home = Path(tempfile.mkdtemp(prefix="vaedesk-test-home-"))
os.environ["XDG_DATA_HOME"] = str(_home / "data")
os.environ["XDG_CACHE_HOME"] = str(_home / "cache")
os.environ["XDG_CONFIG_HOME"] = str(_home / "config")
os.environ.pop("VAEDESK_DATA", None)

REPO = Path(__file__).resolve().parent.parent
SHARED_MNIST = Path(os.environ.get("VAEDESK_TEST_MNIST", REPO.parent / "shared" / "mnist"))


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The real MNIST files (CI has them in ../shared/mnist); never copied into the repo."""
    if not (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.fail(f"MNIST not found in {SHARED_MNIST}; set VAEDESK_TEST_MNIST to its folder")
    return SHARED_MNIST


@pytest.fixture(scope="session")
def mnist_test(mnist_dir):
    from vaedesk.core import data

    return data.load_split(mnist_dir, "test")


@pytest.fixture(scope="session")
def mnist_train_small(mnist_dir):
    from vaedesk.core import data

    images, labels = data.load_split(mnist_dir, "train")
    return images[:3000], labels[:3000]


def write_idx(path: Path, array: np.ndarray, magic: int | None = None) -> Path:
    """Write a gzipped idx file of uint8, the MNIST format, for tests of the parser."""
    array = np.asarray(array, dtype=np.uint8)
    magic = magic if magic is not None else 0x0800 | array.ndim
    header = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.tobytes())
    return path


@pytest.fixture
def tiny_model():
    """A seeded, untrained default-architecture model wrapped in the public API."""
    import torch

    from vaedesk.core.api import Model
    from vaedesk.core.model import VAE, VAEConfig

    torch.manual_seed(0)
    return Model(VAE(VAEConfig()))
