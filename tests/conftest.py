"""Shared fixtures. Qt runs offscreen, and the user's folders point into a temporary
directory, so tests never touch the real home folder or need a display."""

from __future__ import annotations

import gzip
import os
import shutil
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

# A headless install (no PySide6, no pyqtgraph) runs every test but the window's:
# .ci/run checks that a user without a display can train and evaluate.
try:
    import PySide6.QtWidgets  # noqa: F401
except ImportError:
    collect_ignore = ["ui", "e2e/test_packaged_program.py", "e2e/test_window_in_x_server.py"]

REPO = Path(__file__).resolve().parent.parent
SHARED_MNIST = Path(os.environ.get("VAEDESK_TEST_MNIST", REPO.parent / "shared" / "mnist"))
SYNTHETIC_COUNTS = {"train": 1200, "test": 300}


@pytest.fixture(autouse=True)
def _no_remembered_data_folder():
    """Each test starts with no MNIST folder remembered by the window (vaedesk/core/paths.py
    keeps it in the user's config folder, which every test here shares)."""
    from vaedesk.core import paths

    (paths.user_config_dir() / paths.SETTINGS_NAME).unlink(missing_ok=True)


# -- the real MNIST, for the few tests that judge quality on it -----------------------------


@pytest.fixture(scope="session")
def real_mnist_dir() -> Path:
    """The real MNIST files (CI has them in ../shared/mnist); never copied into the repo.
    Skipped where they are absent, unless VAEDESK_TEST_MNIST names a folder: then their
    absence is a failure (CI sets it)."""
    if not (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").is_file():
        message = f"real MNIST not found in {SHARED_MNIST}; set VAEDESK_TEST_MNIST to its folder"
        if os.environ.get("VAEDESK_TEST_MNIST"):
            pytest.fail(message)
        pytest.skip(message)
    return SHARED_MNIST


@pytest.fixture(scope="session")
def real_mnist_test(real_mnist_dir):
    from vaedesk.core import data

    return data.load_split(real_mnist_dir, "test")


# -- a tiny synthetic MNIST, so that everything else runs anywhere --------------------------


def synthetic_digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n digit-like 28 x 28 images (a font's glyphs, shifted, scaled and thickened at
    random) and their labels: MNIST's format and rough look, none of its data."""
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    rng.shuffle(labels)
    images = np.zeros((n, 28, 28), np.uint8)
    for i, label in enumerate(labels):
        font = ImageFont.load_default(size=int(rng.integers(17, 23)))
        img = Image.new("L", (28, 28), 0)
        dx, dy = rng.integers(-2, 3, size=2)
        ImageDraw.Draw(img).text((14 + dx, 14 + dy), str(label), fill=255, font=font, anchor="mm")
        img = img.rotate(float(rng.uniform(-15, 15)), resample=Image.Resampling.BILINEAR)
        if rng.random() < 0.5:
            img = img.filter(ImageFilter.MaxFilter(3))
        images[i] = np.asarray(img)
    return images, labels.astype(np.uint8)


@pytest.fixture(scope="session")
def synthetic_mnist(tmp_path_factory) -> Path:
    """A folder with the four MNIST file names holding synthetic digits."""
    from vaedesk.core import data

    folder = tmp_path_factory.mktemp("synthetic-mnist")
    for seed, split in enumerate(("train", "test")):
        images, labels = synthetic_digits(SYNTHETIC_COUNTS[split], seed)
        image_spec, label_spec = data.SPLITS[split]
        write_idx(folder / image_spec.name, images)
        write_idx(folder / label_spec.name, labels)
    return folder


@pytest.fixture
def mnist_dir(synthetic_mnist, monkeypatch) -> Path:
    """The synthetic MNIST, accepted by the program as if it were the published files:
    the checksums and counts it verifies are patched to the synthetic files' for this
    test (in this process only; subprocesses see the real ones)."""
    from vaedesk.core import data

    splits = {
        split: tuple(
            data.IdxFile(
                spec.name,
                data.sha256_of(path),
                spec.magic,
                n,
                path.stat().st_size,
            )
            for spec in specs
            for path in [synthetic_mnist / spec.name]
        )
        for split, specs in data.SPLITS.items()
        for n in [SYNTHETIC_COUNTS[split]]
    }
    monkeypatch.setattr(data, "SPLITS", splits)
    monkeypatch.setattr(data, "ALL_FILES", splits["train"] + splits["test"])
    return synthetic_mnist


@pytest.fixture
def mnist_test(synthetic_mnist):
    from vaedesk.core import data

    return data.load_split(synthetic_mnist, "test", verify=False)


@pytest.fixture
def mnist_train_small(synthetic_mnist):
    from vaedesk.core import data

    return data.load_split(synthetic_mnist, "train", verify=False)


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


@pytest.fixture
def server(mnist_dir):
    servers = []

    def make(mode: str) -> str:
        from tests.servers import Server

        servers.append(Server(mode, mnist_dir))
        return servers[-1].url

    yield make
    for s in servers:
        s.close()


# -- the package's shipped data, damaged (the command line's and the window's first start) --


@pytest.fixture
def damaged_package_data(tmp_path, monkeypatch) -> Path:
    """A copy of the package's resources whose shipped labels file has one byte changed."""
    from vaedesk.core import paths

    copy = tmp_path / "resources"
    shutil.copytree(paths.resources_dir(), copy)
    labels = copy / "mnist" / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(labels.read_bytes())
    raw[-9] ^= 0x01  # inside the gzip stream: it still ungzips, or it fails its CRC
    labels.write_bytes(bytes(raw))
    monkeypatch.setattr(paths, "resources_dir", lambda: copy)
    return labels
