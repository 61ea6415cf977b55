"""The conditional VAE: trained with the digits, it draws one style as any digit."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vaedesk.core import weights
from vaedesk.core.api import Model
from vaedesk.core.evaluate import encode_means, iwae_bound
from vaedesk.core.model import VAE, VAEConfig
from vaedesk.core.recipe import TrainingRun
from vaedesk.core.styles import decode_all_digits
from vaedesk.core.train import Trainer, TrainOptions

CONDITIONAL = VAEConfig(conditional=True, prior="normal")


def trained_conditional(train, epochs: int = 3) -> VAE:
    torch.manual_seed(0)
    model = VAE(CONDITIONAL)
    options = TrainOptions(epochs=epochs, batch_size=32, lr=3e-3, val_size=200, seed=0)
    trainer = Trainer(model, train[0], options, labels=train[1])
    for _ in trainer.run():
        pass
    trainer.restore_best()
    model.history = trainer.history
    return model.eval()


def test_conditional_training_lowers_the_loss_and_one_style_draws_ten_different_digits(mnist_train_small):
    images, labels = mnist_train_small
    model = trained_conditional(mnist_train_small)
    assert model.history[-1].val_loss < model.history[0].val_loss
    style = encode_means(model, images[:1], labels=labels[:1])[0]
    row = decode_all_digits(model, style)[0]  # (10, 28, 28)
    gaps = [np.abs(row[a] - row[b]).mean() for a in range(10) for b in range(a + 1, 10)]
    assert min(gaps) > 1e-3, f"two digits drawn alike: smallest difference {min(gaps):.4f}"
    # What sets the ten apart is their digits: each drawing's difference from the row's mean
    # correlates best with its own digit's difference from the mean training image (by
    # chance, one in ten would).
    class_means = np.stack([images[labels == d].mean(axis=0) / 255 for d in range(10)])
    own = (row - row.mean(axis=0)).reshape(10, -1)
    typical = (class_means - class_means.mean(axis=0)).reshape(10, -1)
    corr = (own / np.linalg.norm(own, axis=1, keepdims=True)) @ (
        typical / np.linalg.norm(typical, axis=1, keepdims=True)
    ).T
    assert (corr.argmax(axis=1) == np.arange(10)).sum() >= 6, corr.argmax(axis=1)


def test_the_decoder_draws_the_digit_it_is_given_not_one_from_the_style(mnist_train_small):
    model = trained_conditional(mnist_train_small)
    z = torch.zeros(2, 2)
    as_three = model.decode(z, torch.tensor([3, 3]))
    as_seven = model.decode(z, torch.tensor([7, 7]))
    assert torch.equal(as_three[0], as_three[1])
    assert not torch.allclose(as_three, as_seven, atol=0.05)


def test_a_conditional_model_refuses_to_run_without_digits():
    model = VAE(CONDITIONAL)
    with pytest.raises(ValueError, match="digit"):
        model.encode(torch.zeros(1, 1, 28, 28))
    with pytest.raises(ValueError, match="digits"):
        Trainer(model, np.zeros((300, 28, 28), np.uint8), TrainOptions(epochs=1, val_size=100))


def test_a_conditional_model_with_a_vamp_prior_is_refused():
    with pytest.raises(ValueError, match="VampPrior"):
        VAEConfig(conditional=True, prior="vamp")


def test_saved_conditional_weights_run_on_onnx_runtime_as_on_torch(tmp_path, mnist_train_small):
    model = trained_conditional(mnist_train_small, epochs=1)
    path = tmp_path / "c.safetensors"
    weights.save(path, model, {"note": "test"})
    loaded = Model.load(path)
    assert loaded.runtime == "onnxruntime" and loaded.conditional
    images, digits = mnist_train_small[0][:5], mnist_train_small[1][:5]
    mu, _ = loaded.encode(images, digits)
    expected_mu, _ = encode_means(model, images, labels=digits)
    np.testing.assert_allclose(mu, expected_mu, atol=1e-4, rtol=1e-4)
    drawn = loaded.decode(np.repeat(mu[:1], 10, axis=0), np.arange(10))
    np.testing.assert_allclose(drawn, decode_all_digits(model, mu[:1])[0], atol=1e-4)
    with pytest.raises(ValueError, match="digit"):
        loaded.decode(mu)
    with pytest.raises(ValueError, match="0 to 9"):
        loaded.decode(mu[:1], 10)
    assert json.loads(weights.card_path(path).read_text())["config"]["conditional"] is True


def test_the_recipe_evaluates_a_conditional_model_with_its_digits(mnist_train_small, mnist_test):
    torch.manual_seed(0)
    model = VAE(CONDITIONAL)
    run = TrainingRun(
        model,
        mnist_train_small,
        TrainOptions(epochs=1, val_size=200),
        command="t",
        version="test",
        test=mnist_test,
        eval_k=4,
    )
    for _ in run.events():
        pass
    metrics = run.card["test_metrics"]
    assert "--conditional" in run.card["command"] or run.card["command"] == "t"
    expected = iwae_bound(model, mnist_test[0], k=4, labels=mnist_test[1])
    assert metrics["iwae_k4"] == pytest.approx(expected, rel=1e-3)
    assert 0 <= metrics["decodable_every_style"] <= 1
    assert 0 <= metrics["knn5_accuracy"] <= 1


@pytest.mark.slow
def test_the_bundled_conditional_model_holds_style_not_identity_as_its_card_says(real_mnist_dir):
    """The two latent measures, recomputed on ONNX Runtime with a brute-force search, against
    the figures `vaedesk train --conditional` wrote in the card (computed on torch)."""
    from vaedesk.core import data
    from vaedesk.core.classify import Classifier
    from vaedesk.core.style_session import bundled_conditional

    model = Model.load(bundled_conditional())
    card = model.card["test_metrics"]
    images, labels = data.load_split(real_mnist_dir, "test")
    styles, _ = model.encode(images, labels.astype(np.int64))
    classifier, right = Classifier.load(), 0
    for start in range(0, len(styles), 500):
        z = np.repeat(styles[start : start + 500], 10, axis=0)
        digits = np.tile(np.arange(10), len(z) // 10)
        right += int((classifier.probabilities(model.decode(z, digits)).argmax(axis=1) == digits).sum())
    decodable = right / (10 * len(styles))
    train_images, train_labels = data.load_split(real_mnist_dir, "train")
    train_styles, _ = model.encode(train_images, train_labels.astype(np.int64))
    votes = []
    for start in range(0, len(styles), 1000):
        q = styles[start : start + 1000]
        d2 = (q**2).sum(1)[:, None] - 2 * q @ train_styles.T + (train_styles**2).sum(1)[None]
        nearest = np.argsort(d2, axis=1)[:, :5]
        votes.append([np.bincount(row, minlength=10).argmax() for row in train_labels[nearest]])
    knn = float((np.concatenate(votes) == labels).mean())
    assert decodable == pytest.approx(card["decodable_every_style"], abs=2e-3)
    assert knn == pytest.approx(card["knn5_accuracy"], abs=5e-3)
    assert card["knn5_accuracy"] <= 0.20, "the style latent holds little of the digit (chance 10 %)"


def test_the_bundled_conditional_model_draws_every_style_as_every_digit():
    from vaedesk.core.style_session import bundled_conditional

    card = Model.load(bundled_conditional()).card["test_metrics"]
    assert card["decodable_every_style"] >= 0.98, "the classifier reads the intended digit in 98 %"


def test_decode_draws_the_digit_asked_of_a_conditional_model_and_asks_for_one(tmp_path, capsys):
    from PIL import Image

    from vaedesk.cli import main

    torch.manual_seed(0)
    path = tmp_path / "c.safetensors"
    weights.save(path, VAE(CONDITIONAL), {"note": "test"})
    out = tmp_path / "seven.png"
    assert (
        main(["decode", "0.5", "-1", "--digit", "7", "--weights", str(path), "-o", str(out), "--size", "28"])
        == 0
    )
    with Image.open(out) as im:
        drawn = np.asarray(im.convert("L"), np.float64)
    expected = Model.load(path).decode(np.float32([[0.5, -1]]), 7)[0] * 255
    assert np.abs(drawn - expected).max() <= 1
    assert main(["decode", "0", "0", "--weights", str(path), "-o", str(out)]) == 1
    assert "needs --digit" in capsys.readouterr().err
    assert main(["encode", "x.png", "--weights", str(path)]) == 1
    assert "Style view" in capsys.readouterr().err
