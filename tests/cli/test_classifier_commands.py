"""The digit classifier: `vaedesk classifier train`, `vaedesk classify`, and `encode`'s
"digit" read by it. Pictures are drawn here; expected digits are what a person reads."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image, ImageDraw

from vaedesk.cli import main
from vaedesk.core import paths


def drawn(path, strokes: list[list[tuple[int, int]]], ellipse: bool = False):
    img = Image.new("L", (120, 160), 255)
    d = ImageDraw.Draw(img)
    if ellipse:
        d.ellipse([25, 20, 95, 140], outline=0, width=12)
    for stroke in strokes:
        d.line(stroke, fill=0, width=12)
    img.save(path)
    return path


DIGITS = {
    0: ([], True),
    1: ([[(60, 15), (60, 145)]], False),
    7: ([[(20, 20), (100, 20), (45, 145)]], False),
}


def test_classify_reads_drawn_digits_and_survives_bad_files(tmp_path, capsys):
    files = [drawn(tmp_path / f"{d}.png", *DIGITS[d]) for d in DIGITS]
    (tmp_path / "junk.png").write_bytes(b"junk")
    code = main(["classify", str(tmp_path / "junk.png"), *map(str, files)])
    out, err = capsys.readouterr()
    assert code == 1 and "junk.png: not a readable picture" in err  # one line, and the rest still ran
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["digit"] for r in records] == list(DIGITS)
    for r in records:
        assert r["file"].endswith(f"{r['digit']}.png") and len(r["p"]) == 10
        assert abs(sum(r["p"]) - 1) < 1e-3 and int(np.argmax(r["p"])) == r["digit"]


def test_encode_reads_the_digit_without_the_mnist_test_set(tmp_path, capsys):
    seven = drawn(tmp_path / "7.png", *DIGITS[7])
    empty = tmp_path / "no-mnist"
    empty.mkdir()
    assert main(["encode", "--data", str(empty), str(seven)]) == 0
    assert json.loads(capsys.readouterr().out)["digit"] == 7


def test_a_bad_classifier_file_is_one_line(tmp_path, capsys):
    bad = tmp_path / "c.safetensors"
    bad.write_bytes(b"\0" * 64)
    assert main(["classify", "--classifier", str(bad), str(drawn(tmp_path / "1.png", *DIGITS[1]))]) == 1
    err = capsys.readouterr().err
    assert "c.safetensors: not a readable safetensors file" in err and len(err.splitlines()) == 1


def test_classifier_train_saves_a_classifier_with_its_card(tmp_path, mnist_dir, capsys):
    out = tmp_path / "c.safetensors"
    assert main(["classifier", "train", "--data", str(mnist_dir), "--epochs", "2", "-o", str(out)]) == 0
    card = json.loads(out.with_name("c.card.json").read_text())
    assert card["command"].startswith("vaedesk classifier train") and len(card["history"]) == 2
    one = drawn(tmp_path / "1.png", *DIGITS[1])
    capsys.readouterr()
    assert main(["classify", "--classifier", str(out), str(one)]) == 0
    assert len(json.loads(capsys.readouterr().out)["p"]) == 10


@pytest.mark.slow
def test_the_bundled_classifier_is_as_accurate_as_its_card_says(real_mnist_test):
    """Recomputed on the 10,000 test images through ONNX Runtime: at least the report's 99.21 %."""
    from vaedesk.core.classify import Classifier

    classifier = Classifier.load()
    assert classifier.path == paths.bundled_classifier()
    images, labels = real_mnist_test
    p = classifier.probabilities(images.astype(np.float32) / 255)
    accuracy = float((p.argmax(axis=1) == labels).mean())
    assert accuracy >= 0.992 and accuracy == pytest.approx(classifier.test_accuracy, abs=1e-4)


def test_the_augment_experiment_trains_with_and_without_generated_digits(tmp_path, mnist_dir, capsys):
    out = tmp_path / "augment.json"
    argv = ["experiment", "augment", "--data", str(mnist_dir), "--limit", "1200", "-o", str(out)]
    assert main([*argv, "--vae-epochs", "1", "--classifier-epochs", "1"]) == 0
    record = json.loads(out.read_text())
    rows = record["rows"]
    assert [r["fraction"] for r in rows] == [0.2, 0.5, 1.0]
    assert (
        [r["real"] for r in rows] == [120, 300, 600] == [r["generated"] for r in rows]
    )  # of the 600 in half two
    assert [r["report"] for r in rows] == [97.50, 98.34, 98.70]
    assert all(0 <= r["accuracy_with"] <= 1 and 0 <= r["accuracy_without"] <= 1 for r in rows)
    assert record["vae"]["config"]["latent_dim"] == 20 and record["command"].startswith("vaedesk experiment")
    text = capsys.readouterr().out
    assert "| 120 | 120 |" in text and "97.50 %" in text and f"saved {out}" in text


def test_generated_digits_are_decoded_near_their_sources():
    import torch

    from vaedesk.core.experiment import generate
    from vaedesk.core.model import VAE, VAEConfig

    torch.manual_seed(0)
    vae = VAE(VAEConfig(arch="mlp")).eval()
    images = np.random.default_rng(0).integers(0, 256, (50, 28, 28)).astype(np.uint8)
    labels = np.arange(50) % 10
    fake, fake_labels = generate(vae, images, labels, 200, noise=0.0, seed=3)
    mu, _ = vae.encode(torch.from_numpy(images).float().div(255).unsqueeze(1))
    decoded = vae.decode(mu).detach().numpy()[:, 0]
    # with no noise each generated digit is exactly its source's reconstruction, labelled as it
    match = [int(np.argmin(np.abs(decoded - f).reshape(50, -1).max(axis=1))) for f in fake]
    assert all(labels[m] == fl for m, fl in zip(match, fake_labels, strict=True))
    assert max(np.abs(decoded[m] - f).max() for m, f in zip(match, fake, strict=True)) < 1e-5
