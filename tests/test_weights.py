"""Saving and loading weights: round trip, model card, and every kind of bad file."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vaedesk import load_model
from vaedesk.core import paths, weights
from vaedesk.core.api import Model
from vaedesk.core.model import VAE, VAEConfig


def test_round_trip_rebuilds_the_same_model(tmp_path, tiny_model):
    path = tmp_path / "m.safetensors"
    weights.save(path, tiny_model.vae, {"seed": 7})
    loaded = load_model(path)
    assert loaded.runtime == "onnxruntime"  # the file carries its ONNX export
    for name, tensor in tiny_model.vae.state_dict().items():
        assert torch.equal(loaded.vae.state_dict()[name], tensor)  # bit for bit
    z = np.array([[0.5, -1.0], [2.0, 0.0]], dtype=np.float32)
    np.testing.assert_allclose(loaded.decode(z), tiny_model.decode(z), atol=1e-5)
    assert loaded.card["seed"] == 7 and loaded.config == tiny_model.config
    card = json.loads(weights.card_path(path).read_text())
    assert card["config"]["arch"] == "conv" and card["seed"] == 7
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.card.json", "m.safetensors"]  # no temp files


def test_a_mixture_prior_round_trips_and_is_read_without_torch(tmp_path):
    torch.manual_seed(3)
    vae = VAE(VAEConfig(arch="mlp", prior="mog", components=4))
    with torch.no_grad():
        vae.prior.means.mul_(3.0)
    path = tmp_path / "m.safetensors"
    weights.save(path, vae, {})
    loaded = load_model(path)
    assert loaded.config.prior == "mog" and loaded.prior.describe() == "a mixture of 4 Gaussians"
    np.testing.assert_allclose(loaded.prior.means, vae.prior.means.detach().numpy(), atol=1e-7)
    z = torch.randn(50, 2) * 2
    np.testing.assert_allclose(
        loaded.prior.log_density(z.numpy()), vae.log_prior(z).detach().numpy(), atol=1e-5
    )


# -- the ONNX export: the viewer's runtime agrees with torch ---------------------------------


@pytest.mark.parametrize("arch, dim", [("conv", 2), ("seed", 2), ("mlp", 2), ("report", 20)])
def test_onnx_runtime_and_torch_agree_on_random_points_and_images(tmp_path, arch, dim, mnist_test):
    torch.manual_seed(1)
    vae = VAE(VAEConfig(arch=arch, latent_dim=dim))
    path = tmp_path / "m.safetensors"
    weights.save(path, vae, {})
    onnx, reference = load_model(path), Model(vae)
    assert (onnx.runtime, reference.runtime) == ("onnxruntime", "torch")
    z = np.random.default_rng(0).normal(0.0, 3.0, (256, dim)).astype(np.float32)
    np.testing.assert_allclose(onnx.decode(z), reference.decode(z), rtol=1e-5, atol=1e-5)
    images = mnist_test[0][:500].astype(np.float32) / 255.0
    for got, expected in zip(onnx.encode(images), reference.encode(images), strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_the_bundled_model_runs_on_onnx_runtime_as_on_torch(real_mnist_test):
    bundled = load_model()
    assert bundled.runtime == "onnxruntime"
    reference = Model(bundled.vae)  # the same tensors, on torch
    z = np.random.default_rng(2).normal(0.0, 2.0, (256, 2)).astype(np.float32)
    np.testing.assert_allclose(bundled.decode(z), reference.decode(z), rtol=1e-5, atol=1e-5)
    images = real_mnist_test[0][:1000].astype(np.float32) / 255.0
    for got, expected in zip(bundled.encode(images), reference.encode(images), strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_a_file_without_the_export_opens_on_torch_and_upgrade_adds_it(tmp_path, tiny_model, capsys):
    from safetensors.torch import save_file

    from vaedesk.cli import main

    old = tmp_path / "old.safetensors"
    weights.save(old, tiny_model.vae, {"seed": 3})
    with weights.safe_open(str(old), framework="pt") as f:  # as an older vaedesk wrote it
        tensors = {k: f.get_tensor(k) for k in f.keys() if not k.startswith("onnx.")}
        metadata = f.metadata()
    save_file(tensors, str(old), metadata=metadata)
    assert load_model(old).runtime == "torch"
    assert main(["upgrade", str(old)]) == 0 and "ONNX export" in capsys.readouterr().out
    upgraded = load_model(old)
    assert upgraded.runtime == "onnxruntime" and upgraded.card["seed"] == 3


def test_other_architectures_round_trip(tmp_path):
    for arch in ("seed", "mlp"):
        path = tmp_path / f"{arch}.safetensors"
        weights.save(path, VAE(VAEConfig(arch=arch, beta=0.5)), {})
        assert load_model(path).config == VAEConfig(arch=arch, beta=0.5)


def corrupt(kind: str, path, tiny_model) -> None:
    weights.save(path, tiny_model.vae, {})
    raw = path.read_bytes()
    if kind == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
    elif kind == "garbage":
        path.write_bytes(b"\x00" * 100)
    elif kind == "not vaedesk":
        from safetensors.torch import save_file

        save_file({"w": torch.zeros(3)}, str(path))
    elif kind == "mismatched":
        other = VAE(VAEConfig(arch="seed"))
        from safetensors.torch import save as st_save

        meta = {"format": weights.FORMAT, "config": json.dumps(VAEConfig(arch="conv").to_dict())}
        path.write_bytes(st_save(dict(other.state_dict()), metadata=meta))
    elif kind == "mixture without its prior":
        from safetensors.torch import save as st_save

        meta = {"format": weights.FORMAT, "config": json.dumps(VAEConfig(prior="mog").to_dict())}
        path.write_bytes(st_save(dict(VAE(VAEConfig()).state_dict()), metadata=meta))
    elif kind == "nan":
        vae = VAE(VAEConfig())
        with torch.no_grad():
            vae.to_mu.bias.fill_(float("nan"))
        weights.save(path, vae, {})


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("truncated", "not a readable safetensors file"),
        ("garbage", "not a readable safetensors file"),
        ("not vaedesk", "not a vaedesk weights file"),
        ("mismatched", "do not match the 'conv' architecture"),
        ("mixture without its prior", "mixture prior's parameters do not have the shapes of 16 components"),
        ("nan", "NaN"),
    ],
)
def test_bad_weights_give_a_clear_error(tmp_path, tiny_model, kind, message):
    path = tmp_path / "bad.safetensors"
    corrupt(kind, path, tiny_model)
    with pytest.raises(weights.WeightsError) as info:
        load_model(path)
    assert str(path) in str(info.value) and message in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(weights.WeightsError, match="no such weights file"):
        load_model(tmp_path / "nope.safetensors")


def test_bundled_weights_load_with_their_card():
    model = load_model()
    assert model.path == paths.bundled_weights()
    card = model.card
    assert card["command"].startswith("vaedesk train") and "seed" in card
    assert set(card["data_sha256"]) == {
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    }
    assert card["test_metrics"]["neg_elbo"] > 0


def test_bundled_model_is_as_good_as_its_card_says(real_mnist_test):
    """Recomputed on 2,000 test images: close to the card's figure, and under 150 nats."""
    from vaedesk.core.evaluate import negative_elbo

    model = load_model()
    m = negative_elbo(model.vae, real_mnist_test[0][:2000])
    assert m["neg_elbo"] < 150
    assert abs(m["neg_elbo"] - model.card["test_metrics"]["neg_elbo"]) < 8


def test_api_takes_and_returns_numpy(tiny_model, mnist_test):
    images = mnist_test[0][:4].astype(np.float32) / 255
    mu, logvar = tiny_model.encode(images)
    assert mu.shape == logvar.shape == (4, 2) and mu.dtype == np.float32
    assert tiny_model.encode(images[0])[0].shape == (1, 2)
    out = tiny_model.decode(mu)
    assert out.shape == (4, 28, 28) and out.dtype == np.float32 and 0 <= out.min() <= out.max() <= 1
    with pytest.raises(ValueError, match="28 x 28"):
        tiny_model.encode(np.zeros((2, 27, 27)))
    assert isinstance(tiny_model, Model)


def test_the_api_scales_uint8_images_and_refuses_floats_outside_0_1(tiny_model, mnist_test):
    raw = mnist_test[0][:4]  # uint8, 0-255, as data.load gives them
    assert raw.dtype == np.uint8 and raw.max() > 1
    by_hand = tiny_model.encode(raw.astype(np.float64) / 255.0)
    for got, expected in zip(tiny_model.encode(raw), by_hand, strict=True):
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    for bad in (raw.astype(np.float32), np.full((1, 28, 28), -0.5), np.full((1, 28, 28), np.nan)):
        with pytest.raises(ValueError, match=r"in \[0, 1\].*divide 0-255 images by 255"):
            tiny_model.encode(bad)


def test_the_binarized_model_is_as_good_as_its_card_says(real_mnist_test):
    """The README's binarized row: its -ELBO recomputed on 2,000 binarized test images is
    close to the card's, and its IWAE bound with 16 samples on 200 of them lies below it."""
    from vaedesk.core.evaluate import binarized, iwae_estimates, negative_elbo

    model = load_model(paths.bundled_weights().with_name("binarized.safetensors"))
    assert "--binarize" in model.card["command"] and model.card["options"]["binarize"]
    x = binarized(real_mnist_test[0][:2000])
    assert set(np.unique(x)) == {0.0, 1.0}
    elbo = negative_elbo(model.vae, x)["neg_elbo"]
    assert abs(elbo - model.card["test_metrics"]["neg_elbo"]) < 8
    assert np.mean(iwae_estimates(model.vae, x[:200], k=16)) < negative_elbo(model.vae, x[:200])["neg_elbo"]


def test_the_report_model_is_as_good_as_its_card_says(real_mnist_test):
    """The report's 20-D model (README, "Models of more than two dimensions"): its recipe,
    and its -ELBO recomputed here in numpy from what the viewer's runtime encodes and
    decodes (one posterior sample, the analytic KL to N(0, I)) on 2,000 test images."""
    model = load_model(paths.bundled_weights().with_name("report.safetensors"))
    c = model.config
    assert (c.arch, c.latent_dim, c.loss, c.prior) == ("report", 20, "mse", "normal")
    assert model.card["options"]["epochs"] == 50 and model.card["options"]["lr_schedule"] == "constant"
    images, labels = real_mnist_test[0][:2000] / np.float32(255), real_mnist_test[1][:2000]
    mu, logvar = model.encode(images)
    assert mu.shape == (2000, 20)
    z = mu + np.random.default_rng(0).standard_normal(mu.shape).astype(np.float32) * np.exp(0.5 * logvar)
    p = np.clip(model.decode(z).astype(np.float64), 1e-7, 1 - 1e-7)
    x = images.astype(np.float64)
    recon = -(x * np.log(p) + (1 - x) * np.log(1 - p)).sum(axis=(1, 2))
    kl = 0.5 * (mu.astype(np.float64) ** 2 + np.exp(logvar) - 1 - logvar).sum(axis=1)
    card = model.card["test_metrics"]
    assert abs((recon + kl).mean() - card["neg_elbo"]) < 4
    assert abs(kl.mean() - card["kl"]) < 1
    d2 = ((mu[:, None, :] - mu[None, :, :]) ** 2).sum(axis=2)
    np.fill_diagonal(d2, np.inf)
    votes = labels[np.argsort(d2, axis=1)[:, :5]]
    knn = np.mean([np.bincount(v, minlength=10).argmax() == t for v, t in zip(votes, labels, strict=True)])
    assert knn > 0.9  # 92 % here; 97.36 % among all 10,000 (denser neighbourhoods)
