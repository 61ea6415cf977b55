"""Faults found by attacking vaedesk with bad input (issue 12), one test or more per
case; each failed before its fix. Numbers refer to the issue's list; the window's cases
are in ui/test_bad_input.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from vaedesk import load_model
from vaedesk.cli import main
from vaedesk.core import data, download

# -- 1. options before the command ---------------------------------------------------------


def test_1_weights_before_the_command_is_honoured(tmp_path, mnist_dir, capsys):
    missing = tmp_path / "other.safetensors"
    assert main(["--weights", str(missing), "eval", "--data", str(mnist_dir), "-k", "0"]) == 1
    assert f"{missing}: no such weights file" in capsys.readouterr().err  # not the bundled model


def test_1_data_before_the_command_is_honoured(tmp_path, capsys):
    assert main(["--data", str(tmp_path), "eval", "-k", "0"]) == 1
    assert str(tmp_path) in capsys.readouterr().err  # it looked there, and only there


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--threads", "-1", "train"], "--threads goes after the command: vaedesk train --threads"),
        (["--threads=2", "eval"], "--threads goes after the command: vaedesk eval --threads"),
        (["--epochs=2", "eval"], "unrecognized option --epochs (vaedesk eval --help lists its options)"),
    ],
)
def test_1_a_command_option_given_before_the_command_is_named(capsys, argv, said):
    """Not argparse's "invalid choice: '-1'", which names neither the option nor the fix."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert said in err and "invalid choice" not in err


def test_1_an_option_that_cannot_apply_is_refused(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--weights", "x.safetensors", "train"])
    assert info.value.code == 2
    assert "--weights does not apply to `vaedesk train`" in capsys.readouterr().err


# -- 2. a finished training run is never thrown away ---------------------------------------

TINY = ["train", "--arch", "mlp", "--limit", "600", "--val-size", "100", "--epochs", "1", "--eval-k", "1"]


def test_2_an_output_that_is_a_folder_is_refused_before_training(tmp_path, mnist_dir, capsys):
    assert main([*TINY, "--data", str(mnist_dir), "-o", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "is a folder" in err and "epoch" not in err  # refused at once, nothing trained


def test_2_an_unwritable_output_is_refused_before_training(tmp_path, mnist_dir, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main([*TINY, "--data", str(mnist_dir), "-o", str(blocker / "m.safetensors")]) == 1
    err = capsys.readouterr().err
    assert "cannot write" in err and "epoch" not in err


def test_2_the_bundled_model_is_refused_as_output_before_training(mnist_dir, capsys):
    from vaedesk.core import paths, weights

    before = paths.bundled_weights().read_bytes()
    assert main([*TINY, "--data", str(mnist_dir), "-o", str(paths.bundled_weights())]) == 1
    err = capsys.readouterr().err
    assert "a file vaedesk ships cannot be overwritten" in err and "epoch" not in err
    with pytest.raises(PermissionError):  # the rule lives in weights.save itself
        weights.save(paths.bundled_weights(), weights.load(paths.bundled_weights())[0], {})
    assert paths.bundled_weights().read_bytes() == before


def test_2_a_disk_that_fills_up_during_training_loses_nothing(tmp_path, mnist_dir, capsys, monkeypatch):
    """The check before training passes; the save after it fails with ENOSPC (a patched
    writer stands for the full disk): the run is saved in the temporary folder instead."""
    import errno
    import tempfile

    from vaedesk.core import weights

    out_dir, rescue_dir = tmp_path / "full", tmp_path / "tmp"
    out_dir.mkdir()
    rescue_dir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(rescue_dir))
    real_write = weights.atomic_write

    def write(path, data):
        if Path(path).parent == out_dir:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_write(path, data)

    monkeypatch.setattr(weights, "atomic_write", write)
    assert main([*TINY, "--data", str(mnist_dir), "-o", str(out_dir / "m.safetensors")]) == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err and "saved in" in err
    rescued = [p for p in rescue_dir.iterdir() if p.suffix == ".safetensors"]
    assert len(rescued) == 1 and rescued[0].name.endswith("-m.safetensors") and str(rescued[0]) in err
    model = load_model(rescued[0])
    assert model.card["epochs_run"] == 1 and weights.card_path(rescued[0]).exists()
    assert list(out_dir.iterdir()) == []


def test_2_missing_test_files_are_found_before_training(tmp_path, mnist_dir, capsys):
    import shutil

    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        shutil.copy(mnist_dir / name, tmp_path)
    assert main([*TINY, "--data", str(tmp_path), "-o", str(tmp_path / "m.safetensors")]) == 1
    err = capsys.readouterr().err
    assert "MNIST test files not found" in err and "epoch" not in err


def test_2_a_failed_evaluation_keeps_the_trained_weights(tmp_path, mnist_dir, capsys, monkeypatch):
    import vaedesk.core.recipe

    def out_of_memory(*args, **kwargs):
        raise MemoryError("cannot allocate 40 GB")

    monkeypatch.setattr(vaedesk.core.recipe, "evaluate", out_of_memory)
    out = tmp_path / "m.safetensors"
    assert main([*TINY, "--data", str(mnist_dir), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "evaluation failed (MemoryError" in err and f"saved in {out}" in err
    from vaedesk import load_model

    model = load_model(out)  # the trained weights, loadable
    assert model.card["test_metrics"] is None and "MemoryError" in model.card["evaluation_error"]
    assert model.test_neg_elbo is None and len(model.card["history"]) == 1


# -- 3. a damaged latent cache is rebuilt ----------------------------------------------------


@pytest.mark.parametrize("damage", ["empty", "truncated", "nan", "wrong shape"])
def test_3_a_damaged_cache_is_rebuilt(mnist_test, damage):
    from vaedesk import load_model
    from vaedesk.core.digits import _cache_file, encode_test_set

    model = load_model()
    images, labels = mnist_test
    good = encode_test_set(model, images, labels)
    cache = _cache_file(model)
    assert cache is not None and cache.is_file()
    if damage == "empty":
        cache.write_bytes(b"")
    elif damage == "truncated":
        cache.write_bytes(cache.read_bytes()[:100])
    else:
        bad = np.full_like(good.mu, np.nan) if damage == "nan" else good.mu[:10]
        with open(cache, "wb") as f:
            np.savez(f, mu=bad, logvar=bad)
    again = encode_test_set(model, images, labels)
    np.testing.assert_allclose(again.mu, good.mu, atol=1e-6)


def test_3_a_link_put_in_the_cache_is_replaced_not_written_through(tmp_path, real_mnist_dir, tiny_model):
    """vaedesk's caches (the encoded test set, the unpacked test set, a model's typicality
    scale) are its own files: a symlink found at one of their names, put there by someone
    else, is replaced by the cache, and the file it points to is left as it was."""
    from vaedesk import load_model
    from vaedesk.core import data, digits, typicality, weights

    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"the user's own file\n")
    images, labels = data.load("test", real_mnist_dir)
    path = tmp_path / "tiny.safetensors"
    weights.save(path, tiny_model.vae, {})
    model = load_model(path)
    caches = {
        "encoded": (digits._cache_file(model), lambda: digits.encode_test_set(model, images, labels)),
        "unpacked": (data._unpacked_file(data.SPLITS["test"][0]), lambda: data.load("test", real_mnist_dir)),
        "scale": (
            typicality.cache_file(typicality._digest(model)),
            lambda: typicality.cached_scale(model, images[:20]),
        ),
    }
    for name, (cache, use) in caches.items():
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.unlink(missing_ok=True)
        cache.symlink_to(victim)
        use()
        assert victim.read_bytes() == b"the user's own file\n", name
        assert cache.is_file() and not cache.is_symlink(), name


def test_3_a_link_at_the_encoded_caches_name_is_not_read_through_nor_touched(tmp_path, mnist_dir, tiny_model):
    """A symlink at the encoded test set's cache name, to a file elsewhere (here a good
    copy of the cache, so that it would be used): the read went through it and marked
    that file used (os.utime set its modification time). The file outside the cache is
    left as it was, and the link is replaced by the cache."""
    from vaedesk import load_model
    from vaedesk.core import data, digits, weights

    images, labels = data.load("test", mnist_dir)
    path = tmp_path / "tiny.safetensors"
    weights.save(path, tiny_model.vae, {})
    model = load_model(path)
    cache = digits._cache_file(model)
    cache.unlink(missing_ok=True)
    digits.encode_test_set(model, images, labels)  # writes the cache
    elsewhere = tmp_path / "elsewhere.npz"
    cache.rename(elsewhere)
    os.utime(elsewhere, ns=(10**18, 10**18))
    cache.symlink_to(elsewhere)
    digits.encode_test_set(model, images, labels)
    assert elsewhere.stat().st_mtime_ns == 10**18
    assert cache.is_file() and not cache.is_symlink()


def test_3_a_fifo_at_a_caches_name_is_not_read(tmp_path, mnist_dir, tiny_model):
    """A FIFO where a cache is looked for would block its read for ever (nobody writes to
    it): the scale is measured instead, and the call returns."""
    import threading

    from vaedesk import load_model
    from vaedesk.core import data, typicality, weights

    images, _ = data.load("test", mnist_dir)
    path = tmp_path / "tiny.safetensors"
    weights.save(path, tiny_model.vae, {})
    model = load_model(path)
    cache = typicality.cache_file(typicality._digest(model))
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.unlink(missing_ok=True)
    os.mkfifo(cache)
    got = []
    worker = threading.Thread(
        target=lambda: got.append(typicality.cached_scale(model, images[:20])), daemon=True
    )
    worker.start()
    worker.join(timeout=60)
    if worker.is_alive():  # unblock the read, so that the thread ends with the test
        with open(cache, "wb") as f:
            f.write(b"{}")
    assert got and got[0].n == 20
    cache.unlink()


def test_3_a_fifo_at_the_settings_name_does_not_hang_the_start(capsys):
    """The settings file (the MNIST folder chosen in the window) is read by the window's
    start, `data check`, `eval` and `train`: a FIFO at its name blocked that read for ever.
    It is refused unread, as the caches' names are, and the folders are listed."""
    import threading

    from vaedesk.core import paths

    settings = paths.user_config_dir() / paths.SETTINGS_NAME
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.unlink(missing_ok=True)
    os.mkfifo(settings)
    returned = []
    worker = threading.Thread(target=lambda: returned.append(main(["data", "check"])), daemon=True)
    worker.start()
    worker.join(timeout=60)
    if worker.is_alive():  # unblock the read, so that the thread ends with the test
        with open(settings, "wb") as f:
            f.write(b"{}")
        worker.join(timeout=60)
    settings.unlink()
    assert returned, "data check hung on the FIFO"
    assert "vaedesk looks for MNIST in, in order:" in capsys.readouterr().out


# -- 4. downloads are bounded in time, rate and size, and cancel at once ------------------

FAST = download.Limits(timeout=1.0, min_rate=200.0, window=1.0, deadline=30.0)


def _download(folder, url, limits=FAST, **kwargs):
    """Run a download; return the error it ended with, how long it took, and what is left."""
    started = time.monotonic()
    with pytest.raises(download.DownloadError) as info:
        download.download(folder, mirrors=[url], limits=limits, **kwargs)
    return info.value, time.monotonic() - started, sorted(p.name for p in folder.iterdir())


def test_4_a_server_that_stalls_times_out(tmp_path, server):
    error, took, left = _download(tmp_path, server("stall"))
    assert "timed out" in str(error) and "by hand into" in str(error)
    assert took < 10 and left == []  # the server would have held on for 20 s


def test_4_a_server_that_drips_is_given_up(tmp_path, server):
    error, took, left = _download(tmp_path, server("drip"))  # 5 bytes/s beats a 1 s timeout
    assert "bytes/s over the last" in str(error) and "at least 200 needed" in str(error)
    assert took < 10 and left == []


def test_4_the_deadline_bounds_the_whole_download(tmp_path, server):
    limits = download.Limits(timeout=5.0, min_rate=0.0, window=1.0, deadline=1.5)
    error, took, left = _download(tmp_path, server("drip"), limits)
    assert "not finished within 2 s" in str(error) and took < 6 and left == []


@pytest.mark.parametrize("mode", ["endless", "oversize"])
def test_4_a_body_larger_than_the_published_file_is_not_stored(tmp_path, server, mode):
    error, took, left = _download(tmp_path, server(mode))
    first = data.ALL_FILES[0]
    said = {"oversize": "announces 1,000,000,000,000 bytes", "endless": f"more than the {first.size:,} bytes"}
    assert said[mode] in str(error) and left == []


def test_4_cancel_interrupts_a_read_blocked_on_a_silent_server(tmp_path, server):
    limits = download.Limits(timeout=30.0)  # without the cut, cancel would wait for this
    cancel_at = time.monotonic() + 0.5
    with pytest.raises(download.DownloadCancelled):
        started = time.monotonic()
        stop = lambda: time.monotonic() > cancel_at  # noqa: E731
        download.download(tmp_path, mirrors=[server("stall")], limits=limits, should_stop=stop)
    assert time.monotonic() - started < 3 and list(tmp_path.iterdir()) == []


def test_4_stale_parts_are_removed_and_downloads_are_readable(tmp_path, server, monkeypatch):
    import os

    first = data.ALL_FILES[0].name
    stale, fresh = tmp_path / f".{first}.killed.part", tmp_path / f".{first}.running.part"
    stale.write_bytes(b"half")
    fresh.write_bytes(b"another download's")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    previous = os.umask(0o022)
    try:
        download.download(tmp_path, mirrors=[server("ok")])
    finally:
        os.umask(previous)
    assert not stale.exists() and fresh.exists()
    modes = {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir() if not p.name.startswith(".")}
    assert modes == {spec.name: 0o644 for spec in data.ALL_FILES}


def test_4_a_data_folder_that_cannot_be_created_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert main(["--data", str(blocker / "mnist"), "data", "download"]) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{blocker / 'mnist'}: cannot create the data folder" in err


# -- 5. bad card metadata, absurd configs and odd tensors are refused where they load ------


def crafted_weights(path, model, card=None, config=None, dtype=None):
    """A weights file with the metadata given, as a damaged or hostile file might have."""
    from safetensors.torch import save_file

    from vaedesk.core.weights import FORMAT

    tensors = {k: v.contiguous() for k, v in model.vae.state_dict().items()}
    if dtype is not None:
        tensors = {k: v.to(dtype) for k, v in tensors.items()}
    config = config if config is not None else model.config.to_dict()
    metadata = {"format": FORMAT, "config": json.dumps(config), "card": json.dumps(card or {})}
    save_file(tensors, str(path), metadata=metadata)
    return path


BAD_FILES = {
    "card is a list": dict(card=[1, 2]),
    "neg_elbo is a string": dict(card={"test_metrics": {"neg_elbo": "141"}}),
    "latent_dim 100000000": dict(config={"arch": "conv", "latent_dim": 100_000_000}),
    "int32 tensors": dict(dtype="int32"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_5_bad_weights_are_one_clear_line(tmp_path, tiny_model, capsys, case):
    import torch

    kwargs = dict(BAD_FILES[case])
    if "dtype" in kwargs:
        kwargs["dtype"] = getattr(torch, kwargs["dtype"])
    bad = crafted_weights(tmp_path / "bad.safetensors", tiny_model, **kwargs)
    assert main(["decode", "0", "0", "--weights", str(bad), "-o", str(tmp_path / "d.png")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(bad) in err and "Traceback" not in err
    assert not (tmp_path / "d.png").exists()


# -- 6. saving never replaces symlinks or device files; weights and card are one unit -------


def test_6_saving_through_a_symlink_keeps_the_link(tmp_path, tiny_model):
    from vaedesk.core import weights

    real = tmp_path / "real.safetensors"
    weights.save(real, tiny_model.vae, {"seed": 1})
    link = tmp_path / "link.safetensors"
    link.symlink_to(real)
    weights.save(link, tiny_model.vae, {"seed": 2})
    assert link.is_symlink() and link.resolve() == real
    assert weights.load(real)[1]["seed"] == 2


def test_6_a_device_or_pipe_is_refused_not_replaced(tmp_path, capsys):
    import os
    import stat

    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    assert main(["decode", "0", "0", "-o", str(fifo)]) == 1
    assert "not a regular file" in capsys.readouterr().err
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # still a pipe


@pytest.mark.parametrize("kind", ["fifos", "missing"])
def test_eval_on_a_data_folder_without_usable_files_names_that_folder(tmp_path, capsys, monkeypatch, kind):
    """`eval --data DIR` on a DIR of FIFOs (or of nothing) said to put the files by hand
    into the user's data folder, a folder the user never named."""
    import os

    from vaedesk.core import paths

    user_folder = tmp_path / "user data"
    monkeypatch.setattr(paths, "default_mnist_dir", lambda: user_folder)
    given = tmp_path / "given"
    given.mkdir()
    if kind == "fifos":
        for spec in data.SPLITS["test"]:
            os.mkfifo(given / spec.name)
    assert main(["eval", "--data", str(given), "-k", "0"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("vaedesk: ")
    assert str(given) in err and str(user_folder) not in err
    said = "is not a regular file" if kind == "fifos" else "is missing"
    assert f"t10k-images-idx3-ubyte.gz {said}" in err


def test_6_stale_temporaries_are_cleaned_and_the_card_in_the_file_is_the_truth(tmp_path, tiny_model):
    import os
    import time

    from vaedesk.core import weights

    target = tmp_path / "m.safetensors"
    stale = tmp_path / ".m.safetensors.abc123.tmp"  # as a killed save leaves it
    stale.write_bytes(b"half")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    weights.save(target, tiny_model.vae, {"seed": 3})
    assert not stale.exists()
    # a kill between the two renames leaves an old .card.json: loading reads the card
    # stored inside the weights file, so the pair can never disagree
    weights.card_path(target).write_text('{"seed": 999}')
    assert weights.load(target)[1]["seed"] == 3


# -- 7. very large pictures ---------------------------------------------------------------


def png_claiming(path, width: int, height: int):
    """A small PNG whose header claims width x height (as a hostile or huge file would)."""
    import io
    import struct
    import zlib

    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (8, 8), 255).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("side", [20000, 10000])
def test_7_a_huge_picture_is_one_line_and_the_next_file_still_encodes(tmp_path, capsys, side):
    from PIL import Image, ImageDraw

    huge = png_claiming(tmp_path / "huge.png", side, side)
    one = tmp_path / "one.png"
    img = Image.new("L", (200, 200), 255)
    ImageDraw.Draw(img).line([(100, 30), (100, 170)], fill=0, width=16)
    img.save(one)
    assert main(["encode", str(huge), str(one)]) == 1
    out, err = capsys.readouterr()
    assert err.strip().splitlines() == [err.strip()]  # one line
    assert f"{huge}: too large" in err and json.loads(out)["file"] == str(one)


def test_7_a_large_picture_is_shrunk_on_load_and_encodes_as_at_full_size(tmp_path):
    from PIL import Image, ImageDraw

    from vaedesk import load_model
    from vaedesk.core import preprocess

    big = Image.new("L", (4000, 3000), 255)
    ImageDraw.Draw(big).ellipse([1500, 600, 2500, 2400], outline=0, width=160)
    big.save(tmp_path / "big.jpg", quality=90)
    assert max(preprocess.load_picture(tmp_path / "big.jpg").shape) <= preprocess.WORK_SIDE
    with Image.open(tmp_path / "big.jpg") as img:  # the same file decoded at full size
        img.load()
        full = preprocess.to_mnist(preprocess.ink_from_image(img))
    shrunk = preprocess.picture_to_mnist(tmp_path / "big.jpg")
    # A half-pixel tie in centring may move the digit by a pixel; otherwise it is the same.
    shifted = [np.roll(full, (dy, dx), axis=(0, 1)) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    assert min(np.abs(s - shrunk).mean() for s in shifted) < 0.01
    # On the map a pixel's shift is a small step: under a tenth of the prior's spread (the
    # bundled models have moved 3-5 % of it). The spread, not a fixed distance, since each
    # model draws its map at its own scale.
    model = load_model()
    mu_full, _ = model.encode(full)
    mu_shrunk, _ = model.encode(shrunk)
    spread = model.prior.sample(20000, np.random.default_rng(0)).std(axis=0)
    assert (np.abs(mu_full - mu_shrunk)[0] < 0.1 * spread).all()


# -- 8. decode ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_8_decode_refuses_non_finite_coordinates(tmp_path, capsys, value):
    with pytest.raises(SystemExit) as info:
        main(["decode", value, "0", "-o", str(tmp_path / "d.png")])
    assert info.value.code == 2 and "not a finite number" in capsys.readouterr().err
    assert not (tmp_path / "d.png").exists()


def test_8_decode_takes_negative_numbers_in_e_notation(tmp_path, capsys):
    assert main(["decode", "0", "-1e-3", "-o", str(tmp_path / "d.png")]) == 0
    assert "z = (0, -0.001)" in capsys.readouterr().out


def test_8_decode_needs_an_output_file(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "digit.png").write_bytes(b"precious")
    with pytest.raises(SystemExit):
        main(["decode", "0", "0"])
    assert "-o" in capsys.readouterr().err
    assert (tmp_path / "digit.png").read_bytes() == b"precious"


# -- 9. train --from says which options come from the file, and applies the others --------


def test_9_from_applies_beta_and_loss_and_refuses_another_arch(tmp_path, mnist_dir, capsys):
    start = tmp_path / "start.safetensors"
    assert main([*TINY, "--data", str(mnist_dir), "-o", str(start)]) == 0
    capsys.readouterr()
    other_arch = ["train", "--from", str(start), "--arch", "conv", "--data", str(mnist_dir)]
    assert main([*other_arch, "-o", str(tmp_path / "x.safetensors")]) == 1
    assert "have the 'mlp' architecture" in capsys.readouterr().err
    out = tmp_path / "next.safetensors"
    argv = [
        "train",
        "--from",
        str(start),
        "--beta",
        "0.5",
        "--loss",
        "mse",
        "--limit",
        "600",
        "--val-size",
        "100",
    ]
    assert main([*argv, "--epochs", "1", "--eval-k", "1", "--data", str(mnist_dir), "-o", str(out)]) == 0
    assert "given here: --beta, --loss" in capsys.readouterr().err
    card = json.loads(out.with_suffix(".card.json").read_text())
    assert (
        card["config"]["beta"] == 0.5 and card["config"]["loss"] == "mse" and card["config"]["arch"] == "mlp"
    )


# -- 10. smaller ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "option",
    [["--threads", "-1"], ["--limit", "0"], ["--limit", "-5"], ["--time-limit", "0"], ["--epochs", "0"]],
)
def test_10_training_limits_must_be_positive(capsys, option):
    with pytest.raises(SystemExit) as info:
        main(["train", *option])
    assert info.value.code == 2 and option[0] in capsys.readouterr().err


def test_10_each_weights_name_gets_its_own_card():
    from vaedesk.core.weights import card_path

    assert card_path("run.1") != card_path("run.2")
    assert card_path("a/vaedesk.safetensors").name == "vaedesk.card.json"


def test_10_a_folder_given_as_a_picture_says_so(tmp_path, capsys):
    assert main(["encode", str(tmp_path)]) == 1
    assert capsys.readouterr().err.strip() == f"vaedesk: {tmp_path}: is a folder, not a picture"


def test_10_encode_into_a_closed_pipe_ends_quietly(tmp_path):
    from PIL import Image, ImageDraw

    names = []
    for i in range(40):
        img = Image.new("L", (60, 60), 255)
        ImageDraw.Draw(img).line([(30, 5), (30, 55)], fill=0, width=6)
        img.save(tmp_path / f"{i}.png")
        names.append(str(tmp_path / f"{i}.png"))
    code = f"import sys; from vaedesk.cli import main; sys.exit(main({['encode', *names]!r}))"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline()
    proc.stdout.close()  # as `| head -1` does
    err = proc.stderr.read().decode()
    proc.stderr.close()
    proc.wait(60)
    assert json.loads(first)["file"] == names[0]
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_10_eval_json_has_no_nan(monkeypatch, mnist_dir, capsys):
    import vaedesk.core.evaluate

    def nan_metrics(*args, **kwargs):
        return {"n_test": 300, "neg_elbo": float("nan"), "recon": 1.0, "kl": float("inf")}

    monkeypatch.setattr(vaedesk.core.evaluate, "evaluate", nan_metrics)
    assert main(["eval", "--data", str(mnist_dir), "--json", "-k", "0"]) == 0
    out = capsys.readouterr().out
    assert "NaN" not in out and "Infinity" not in out  # not JSON, though Python would read them
    record = json.loads(out)
    assert record["neg_elbo"] is None and record["kl"] is None and record["recon"] == 1.0


@pytest.mark.parametrize(
    "option, said",
    [
        (["--lr", "1e39"], "learning rate"),  # finite as a double, inf in float32: a traceback
        (["--weight-decay", "inf"], "weight decay"),
        (["--beta", "inf"], "beta"),  # trained until the loss was inf
        (["--patience", "-1"], "patience"),  # stopped before the first epoch, "cancelled"
        (["--patience", "0"], "patience"),
    ],
)
def test_a_training_option_out_of_range_is_one_line_before_training(
    tmp_path, mnist_dir, capsys, option, said
):
    out = tmp_path / "m.safetensors"
    assert main([*TINY, "--data", str(mnist_dir), *option, "-o", str(out)]) in (1, 2)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and said in err and "Traceback" not in err, err
    assert "epoch" not in err and not out.exists()  # nothing trained


def test_a_negative_sample_count_for_eval_is_refused_at_once(capsys):
    """`eval -k -1` ran the whole evaluation (half a minute or more) and left the IWAE
    bound out without a word."""
    with pytest.raises(SystemExit) as stop:
        main(["eval", "-k", "-1"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "-k" in err and "0 or more" in err


# -- weights and classifier files whose name cannot even be looked at ---------------------


@pytest.mark.parametrize(
    ("command", "option"),
    [(["decode", "0", "0", "-o", "d.png"], "--weights"), (["classify", "d.png"], "--classifier")],
)
def test_a_weights_or_classifier_name_too_long_is_one_line(tmp_path, monkeypatch, capsys, command, option):
    """A name longer than the file system allows raised OSError (File name too long) from
    the first look at it, a traceback; so did a folder the user may not enter."""
    monkeypatch.chdir(tmp_path)
    assert main(["decode", "0", "0", "-o", "d.png"]) == 0  # a picture for classify
    capsys.readouterr()
    long_name = tmp_path / ("a" * 300 + ".safetensors")
    assert main([*command, option, str(long_name)]) == 1
    err = capsys.readouterr().err
    assert err == f"vaedesk: {long_name}: cannot be read (File name too long)\n"


def test_a_data_folder_or_picture_name_too_long_is_one_line(tmp_path, capsys):
    """Path.is_file and Path.is_dir raise OSError (File name too long) where a name cannot
    be looked at: `data check --data`, `eval --data` and `encode` ended in a traceback."""
    long_name = tmp_path / ("a" * 300)
    assert main(["data", "check", "--data", str(long_name)]) == 1
    assert "test: not found" in capsys.readouterr().out
    assert main(["eval", "--data", str(long_name), "-k", "0"]) == 1
    assert f"MNIST test files not found in {long_name} (no such folder)" in capsys.readouterr().err
    picture = f"{long_name}.png"
    assert main(["encode", picture]) == 1
    assert (
        capsys.readouterr().err
        == f"vaedesk: {picture}: not a picture vaedesk can read (File name too long)\n"
    )


@pytest.mark.parametrize(
    ("command", "option"),
    [(["decode", "0", "0", "-o", "d.png"], "--weights"), (["classify", "d.png"], "--classifier")],
)
def test_a_folder_given_as_weights_or_classifier_is_one_line(tmp_path, monkeypatch, capsys, command, option):
    """A folder opens for reading (O_RDONLY) but not as a file object: os.fdopen raised
    IsADirectoryError before the descriptor's type was checked, a traceback."""
    monkeypatch.chdir(tmp_path)
    assert main(["decode", "0", "0", "-o", "d.png"]) == 0  # a picture for classify
    capsys.readouterr()
    folder = tmp_path / "model.safetensors"
    folder.mkdir()
    assert main([*command, option, str(folder)]) == 1
    assert capsys.readouterr().err == f"vaedesk: {folder}: not a file\n"


HEADERS = {  # what a file holds -> the reason its one line gives
    "zero bytes": (b"", "0 bytes, too short for a safetensors header"),
    "a header that is a list": (b"[1, 2]", "its header is not a table"),
    "a header that is not JSON": (b"hello world", "its header is not JSON"),
    "a header longer than the file": ((10**6).to_bytes(8, "little") + b"{}", "its header runs past the end"),
}


@pytest.mark.parametrize("case", list(HEADERS))
def test_a_damaged_safetensors_header_is_one_line_that_says_what_is_wrong(tmp_path, capsys, case):
    """A zero-byte file said "Expecting value: line 1 column 1 (char 0)" and a header that
    is a JSON list "'list' object has no attribute 'get'": Python's words, not a reason."""
    content, reason = HEADERS[case]
    if case in ("a header that is a list", "a header that is not JSON"):
        content = len(content).to_bytes(8, "little") + content
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(content)
    assert main(["decode", "0", "0", "--weights", str(bad), "-o", str(tmp_path / "d.png")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"vaedesk: {bad}: not a readable safetensors file ({reason}")
    assert err.count("\n") == 1
