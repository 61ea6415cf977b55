"""MNIST parsing, verification, search order and download (against loopback servers only)."""

from __future__ import annotations

import gzip
import shutil

import numpy as np
import pytest

from tests.conftest import write_idx
from vaedesk.core import data, download


def test_real_test_split_loads_verified(real_mnist_dir):
    images, labels = data.load_split(real_mnist_dir, "test")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and set(np.unique(labels)) == set(range(10))
    assert images.max() == 255 and images.min() == 0


def test_real_train_split_loads_verified(real_mnist_dir):
    images, labels = data.load_split(real_mnist_dir, "train")
    assert images.shape == (60000, 28, 28)
    assert np.bincount(labels).min() > 5000


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "missing"),
        (lambda p: p.write_bytes(b"not gzip at all"), "not a readable gzip file"),
        (lambda p: write_idx(p, np.zeros((3, 28, 28)), magic=2049), "wrong magic number 2049"),
        (lambda p: write_idx(p, np.zeros((3, 14, 14))), "14x14, expected 28x28"),
        (lambda p: p.write_bytes(gzip.compress(write_idx_bytes(np.zeros((3, 28, 28)))[:-100])), "truncated"),
        (lambda p: p.write_bytes(gzip.compress(b"\x00\x00")), "truncated"),
    ],
)
def test_bad_image_files_are_named_with_their_problem(tmp_path, make, message):
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    make(path)
    with pytest.raises(data.DataError) as info:
        data.read_idx(path, 2051)
    assert str(path) in str(info.value) and message in str(info.value)


def write_idx_bytes(array: np.ndarray) -> bytes:
    import struct

    array = np.asarray(array, dtype=np.uint8)
    return (
        struct.pack(">I", 0x0800 | array.ndim)
        + struct.pack(f">{array.ndim}I", *array.shape)
        + array.tobytes()
    )


def test_counts_that_do_not_match(tmp_path):
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.zeros((5, 28, 28)))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(4))
    with pytest.raises(data.DataError, match="4 labels for 5 images"):
        data.load_split(tmp_path, "test", verify=False)
    with pytest.raises(data.DataError, match="5 items, MNIST has 10000"):
        data.load_split(tmp_path, "test", verify=True)


def test_wrong_checksum_is_reported(tmp_path, mnist_dir):
    shutil.copy(mnist_dir / "t10k-images-idx3-ubyte.gz", tmp_path)
    labels = data.read_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz", 2049).copy()
    labels[0] = (labels[0] + 1) % 10  # well-formed, right count, but not MNIST
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels)
    with pytest.raises(data.DataError, match="t10k-labels-idx1-ubyte.gz: checksum does not match"):
        data.load_split(tmp_path, "test")


def test_search_order_explicit_then_env_then_remembered_then_user_folder_then_package(
    tmp_path, monkeypatch, mnist_dir
):
    from vaedesk.core import paths

    monkeypatch.setenv("VAEDESK_DATA", str(mnist_dir))
    assert data.find_data_dir("test") == mnist_dir
    assert data.find_data_dir("test", tmp_path) is None  # --data wins, even when empty
    monkeypatch.delenv("VAEDESK_DATA")
    paths.store_data_dir(mnist_dir)  # the folder chosen in the window
    assert data.find_data_dir("train") == mnist_dir
    paths.store_data_dir(None)
    assert data.find_data_dir("test") == paths.bundled_mnist_dir()  # shipped with the program
    assert data.find_data_dir("train") is None
    with pytest.raises(data.DataError, match="vaedesk data download"):
        data.load("train")


# -- download against servers on 127.0.0.1 ---------------------------------------------


def test_download_fetches_and_verifies_all_files(tmp_path, server):
    seen = []
    folder = download.download(
        tmp_path / "mnist",
        mirrors=[server("ok")],
        progress=lambda name, done, total: seen.append((name, done, total)),
    )
    assert sorted(p.name for p in folder.iterdir()) == sorted(f.name for f in data.ALL_FILES)
    assert data.load_split(folder, "test")[0].shape == (data.SPLITS["test"][0].count, 28, 28)
    assert seen[-1][1] == seen[-1][2]  # progress reached the announced length


def test_download_falls_back_to_the_next_mirror(tmp_path, server):
    download.download(tmp_path, mirrors=[server("404"), server("garbage"), server("ok")])
    assert data.has_split(tmp_path, "train") and data.has_split(tmp_path, "test")


@pytest.mark.parametrize("mode", ["404", "garbage", "truncated"])
def test_failed_download_leaves_nothing_and_says_what_to_do(tmp_path, server, mode):
    with pytest.raises(download.DownloadError) as info:
        download.download(tmp_path, mirrors=[server(mode)], limits=download.Limits(timeout=5))
    message = str(info.value)
    assert "train-images-idx3-ubyte.gz" in message and "by hand into" in message
    assert list(tmp_path.iterdir()) == []  # no partial or temporary file


def test_cancelled_download_leaves_no_partial_file(tmp_path, server):
    calls = []
    with pytest.raises(download.DownloadCancelled):
        download.download(
            tmp_path,
            mirrors=[server("ok")],
            should_stop=lambda: len(calls) > 1,
            progress=lambda *a: calls.append(a),
        )
    left = {p.name: data.sha256_of(p) for p in tmp_path.iterdir()}
    published = {spec.name: spec.sha256 for spec in data.ALL_FILES}
    assert len(left) < 4 and all(published[name] == digest for name, digest in left.items())


def test_unreachable_mirror_is_a_clear_error(tmp_path):
    with pytest.raises(download.DownloadError, match="could not download"):
        download.download(tmp_path, mirrors=["http://127.0.0.1:9/"], limits=download.Limits(timeout=2))
