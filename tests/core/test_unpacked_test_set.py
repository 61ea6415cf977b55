"""The published MNIST test set is unpacked once and kept in the user's cache: the window
reads it at every start, and unpacking took 55 ms of each. The packed files are still
checked against their published SHA-256 every time, before the copy is used."""

from __future__ import annotations

import gzip
import shutil

import numpy as np
import pytest

from vaedesk.core import data, paths


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setattr(paths, "user_cache_dir", lambda: folder)
    return folder


def _unpacking_refused(monkeypatch) -> None:
    def refuse(*args):
        raise AssertionError("the test set was unpacked again")

    monkeypatch.setattr(data, "parse_idx", refuse)


def test_the_test_set_is_unpacked_once_then_read_back_as_it_was(cache, monkeypatch):
    shipped = paths.bundled_mnist_dir()
    images, labels = data.load_split(shipped, "test")
    assert len(list((cache / "mnist").glob("*.npy"))) == 2
    _unpacking_refused(monkeypatch)
    again_images, again_labels = data.load_split(shipped, "test")
    assert np.array_equal(again_images, images) and np.array_equal(again_labels, labels)
    assert again_images.flags.writeable  # an array of its own, as the unpacked one


def test_a_damaged_copy_is_unpacked_again_and_replaced(cache, monkeypatch):
    shipped = paths.bundled_mnist_dir()
    images, labels = data.load_split(shipped, "test")
    for copy in (cache / "mnist").glob("*.npy"):
        copy.write_bytes(copy.read_bytes()[:1000])  # truncated
    assert np.array_equal(data.load_split(shipped, "test")[0], images)
    _unpacking_refused(monkeypatch)
    assert np.array_equal(data.load_split(shipped, "test")[1], labels)  # whole again


def test_a_damaged_test_set_is_refused_though_a_good_copy_is_kept(cache, tmp_path):
    shipped = paths.bundled_mnist_dir()
    data.load_split(shipped, "test")
    damaged = tmp_path / "mnist"
    shutil.copytree(shipped, damaged)
    labels = damaged / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(labels.read_bytes())
    raw[-9] ^= 0x01  # inside the gzip stream: it still ungzips, or it fails its CRC
    labels.write_bytes(bytes(raw))
    with pytest.raises(data.DataError, match="t10k-labels-idx1-ubyte.gz"):
        data.load_split(damaged, "test")


def test_a_corrupt_compressed_stream_is_named_not_a_traceback(tmp_path):
    """Bytes changed inside the deflate stream raised zlib.error, which no caller caught."""
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    raw = bytearray(gzip.compress(bytes(range(256)) * 1000))
    raw[30] ^= 0xFF
    raw[40] ^= 0x55
    path.write_bytes(bytes(raw))
    with pytest.raises(data.DataError, match="not a readable gzip file"):
        data.read_idx(path, 2051)


def test_a_copy_of_the_right_shape_but_other_content_is_not_shown(cache, monkeypatch):
    """A copy that reads back as an array of the right shape and type, but holds other
    pixels or labels, was shown: the map placed every digit wrongly, without a word."""
    shipped = paths.bundled_mnist_dir()
    images, labels = data.load_split(shipped, "test")
    for copy in (cache / "mnist").glob("*.npy"):
        kept = np.load(copy)
        np.save(copy, np.roll(kept, 1, axis=0))  # the same items, one place along
    again_images, again_labels = data.load_split(shipped, "test")
    assert np.array_equal(again_images, images) and np.array_equal(again_labels, labels)
    _unpacking_refused(monkeypatch)  # and good copies were written in their place
    assert np.array_equal(data.load_split(shipped, "test")[1], labels)


def test_a_zip_archive_in_place_of_a_copy_is_unpacked_again_not_a_traceback(cache, monkeypatch):
    """np.load opens a zip archive as an NpzFile, which has no shape: an AttributeError
    that stopped the window at start."""
    shipped = paths.bundled_mnist_dir()
    images, labels = data.load_split(shipped, "test")
    for copy in (cache / "mnist").glob("*.npy"):
        kept = np.load(copy)
        with open(copy, "wb") as f:
            np.savez(f, kept=kept)
    again_images, again_labels = data.load_split(shipped, "test")
    assert np.array_equal(again_images, images) and np.array_equal(again_labels, labels)
    _unpacking_refused(monkeypatch)  # and the copies were written again, as .npy files
    assert np.array_equal(data.load_split(shipped, "test")[0], images)
