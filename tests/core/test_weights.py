"""Saving and loading weights: round trip, model card, and every kind of bad file."""

from __future__ import annotations

import json
import re

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
    from safetensors import safe_open

    with safe_open(str(old), framework="pt") as f:  # as an older vaedesk wrote it
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


# -- graphs from elsewhere: built here with ONNX's helper API -------------------------------

FLOAT_T = 1  # onnx.TensorProto.FLOAT


def graph_bytes(nodes, inputs, outputs, initializers=()) -> bytes:
    from onnx import helper

    g = helper.make_graph(nodes, "crafted", inputs, outputs, list(initializers))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m.SerializeToString()


def float_value(name: str, *shape):
    from onnx import helper

    return helper.make_tensor_value_info(name, FLOAT_T, list(shape))


def int_constant(name: str, values: list[int]):
    from onnx import TensorProto, helper

    return helper.make_node(
        "Constant", [], [name], value=helper.make_tensor(name, TensorProto.INT64, [len(values)], values)
    )


def dense_decoder(
    weights: dict[str, np.ndarray],
    names=("vae.decoder.0", "vae.decoder.2"),
    image_shape=(-1, 28, 28),
    hidden=(),
    logits=(),
) -> bytes:
    """z (B, 2) -> dense -> ReLU -> dense -> its first 784 numbers as (B, 28, 28) logits ->
    sigmoid: a decoder made of allowed operators, its weights the `weights` given by name.
    `hidden` are nodes from "r0" (after the ReLU) to "r", `logits` from "l0" to "logits"."""
    from onnx import helper, numpy_helper

    first, second = names
    inits = [
        numpy_helper.from_array(weights[f"{n}.{p}"], f"{n}.{p}") for n in names for p in ("weight", "bias")
    ]
    nodes = [
        helper.make_node("Gemm", ["z", f"{first}.weight", f"{first}.bias"], ["h"], transB=1),
        helper.make_node("Relu", ["h"], ["r0" if hidden else "r"]),
        *hidden,
        helper.make_node("Gemm", ["r", f"{second}.weight", f"{second}.bias"], ["wide"], transB=1),
        int_constant("starts", [0]),
        int_constant("ends", [784]),
        int_constant("axes", [1]),
        helper.make_node("Slice", ["wide", "starts", "ends", "axes"], ["flat"]),
        int_constant("shape", list(image_shape)),
        helper.make_node("Reshape", ["flat", "shape"], ["l0" if logits else "logits"]),
        *logits,
        helper.make_node("Sigmoid", ["logits"], ["images"]),
    ]
    outputs = [float_value("images", "batch", 28, 28), float_value("logits", "batch", 28, 28)]
    return graph_bytes(nodes, [float_value("z", "batch", 2)], outputs, inits)


def dense_encoder(weights: dict[str, np.ndarray], batch_shape=(-1, 784)) -> bytes:
    """images (B, 28, 28) -> the first 256 pixels -> the mean and log-variance heads."""
    from onnx import helper, numpy_helper

    inits = [
        numpy_helper.from_array(weights[k], k)
        for k in weights
        if k.startswith(("vae.to_mu", "vae.to_logvar"))
    ]
    nodes = [
        int_constant("shape", list(batch_shape)),
        helper.make_node("Reshape", ["images", "shape"], ["flat"]),
        int_constant("starts", [0]),
        int_constant("ends", [256]),
        int_constant("axes", [1]),
        helper.make_node("Slice", ["flat", "starts", "ends", "axes"], ["h"]),
        helper.make_node("Gemm", ["h", "vae.to_mu.weight", "vae.to_mu.bias"], ["mu"], transB=1),
        helper.make_node("Gemm", ["h", "vae.to_logvar.weight", "vae.to_logvar.bias"], ["logvar"], transB=1),
    ]
    return graph_bytes(
        nodes,
        [float_value("images", "batch", 28, 28)],
        [float_value("mu", "batch", 2), float_value("logvar", "batch", 2)],
        inits,
    )


def file_with(path, base, encoder: bytes | None = None, decoder: bytes | None = None, **changed) -> dict:
    """Copy the weights file `base` to `path` with its graphs and tensors replaced (tensor
    names with dots spelled with '__'); returns the copy's tensors as the graphs name them."""
    from safetensors import safe_open
    from safetensors.numpy import save_file

    with safe_open(str(base), framework="numpy") as f:
        metadata = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    for name, value in changed.items():
        tensors[name.replace("__", ".")] = np.asarray(value, np.float32)
    for name, graph in (("onnx.encoder", encoder), ("onnx.decoder", decoder)):
        if graph is not None:
            tensors[name] = np.frombuffer(graph, np.uint8)
    save_file(tensors, str(path), metadata=metadata)
    return {f"vae.{k}": v for k, v in tensors.items() if not k.startswith("onnx.")}


@pytest.fixture
def tiny_file(tmp_path, tiny_model):
    """A conv VAE's weights file, as `weights.save` writes it, and its tensors by graph name."""
    path = tmp_path / "tiny.safetensors"
    weights.save(path, tiny_model.vae, {})
    return path, {f"vae.{k}": v.detach().numpy() for k, v in tiny_model.vae.state_dict().items()}


def test_the_hand_built_graphs_load_when_they_hold_the_files_own_weights(tmp_path, tiny_file):
    """The crafted graphs of the tests below are refused for what each changes, not for being
    hand-built: unchanged, they load and decode with the file's weights."""
    base, w = tiny_file
    path = tmp_path / "hand.safetensors"
    file_with(path, base, encoder=dense_encoder(w), decoder=dense_decoder(w))
    model = load_model(path)
    z = np.float32([[0.5, -1.0], [2.0, 0.0]])
    h = np.maximum(z @ w["vae.decoder.0.weight"].T + w["vae.decoder.0.bias"], 0)
    logits = (h @ w["vae.decoder.2.weight"].T + w["vae.decoder.2.bias"])[:, :784].reshape(-1, 28, 28)
    np.testing.assert_allclose(model.decode(z), 1 / (1 + np.exp(-logits)), atol=1e-5)


def test_a_graph_that_reads_another_file_is_refused(tmp_path, tiny_file, monkeypatch):
    """External data: a graph whose weight names a file beside it (a private key, say) would
    put that file's bytes into decoded pixels or a classifier's probabilities."""
    from onnx import TensorProto, external_data_helper, helper, numpy_helper

    from vaedesk.core.classify import Classifier, ClassifierError

    base, w = tiny_file
    monkeypatch.chdir(tmp_path)
    secret = np.random.default_rng(0).standard_normal(3136 * 256 + 3136 * 2).astype(np.float32)
    (tmp_path / "id_secret").write_bytes(secret.tobytes())
    decoder = onnx_model_of(dense_decoder(w))
    for init in decoder.graph.initializer:
        if init.name == "vae.decoder.2.weight":
            external_data_helper.set_external_data(
                init, location="id_secret", offset=0, length=3136 * 256 * 4
            )
            init.data_location = TensorProto.EXTERNAL
            init.ClearField("raw_data")
    path = tmp_path / "leaks.safetensors"
    file_with(path, base, decoder=decoder.SerializeToString())
    with pytest.raises(weights.WeightsError) as e:
        load_model(path)
    assert (
        str(e.value)
        == f"{path}: its decoder: its graph reads vae.decoder.2.weight from another file (external data)"
    )

    weight = numpy_helper.from_array(np.zeros((10, 784), np.float32), "w")
    external_data_helper.set_external_data(weight, location="id_secret", offset=0, length=10 * 784 * 4)
    weight.data_location = TensorProto.EXTERNAL
    weight.ClearField("raw_data")
    graph = graph_bytes(
        [
            int_constant("shape", [-1, 784]),
            helper.make_node("Reshape", ["images", "shape"], ["flat"]),
            helper.make_node("Gemm", ["flat", "w"], ["logits"], transB=1),
            helper.make_node("Softmax", ["logits"], ["p"], axis=1),
        ],
        [float_value("images", "batch", 28, 28)],
        [float_value("p", "batch", 10)],
        [weight],
    )
    from safetensors.numpy import save_file

    classifier = tmp_path / "leaky-classifier.safetensors"
    save_file(
        {"onnx.classifier": np.frombuffer(graph, np.uint8)},
        str(classifier),
        {"format": "vaedesk-classifier-1"},
    )
    with pytest.raises(ClassifierError, match="its graph reads w from another file"):
        Classifier.load(classifier)


def onnx_model_of(graph: bytes):
    import onnx

    return onnx.load_from_string(graph)


def test_a_graph_is_run_only_with_the_weights_of_its_file(tmp_path, tiny_file):
    """The graph must compute the model the file's tensors describe: a graph holding a
    weight that is not the file's (another model's decoder, a retouched tensor, an extra
    constant) is refused, naming the file and the weight."""
    base, w = tiny_file
    bundled = paths.bundled_weights()
    seed = bundled.with_name("seed.safetensors")
    from safetensors import safe_open

    with safe_open(str(seed), framework="numpy") as f:
        seed_decoder = f.get_tensor("onnx.decoder").tobytes()
    swapped = tmp_path / "swapped.safetensors"
    file_with(swapped, bundled, decoder=seed_decoder)  # the seed model's decoder in the bundled file
    retouched = dict(w)
    retouched["vae.decoder.2.bias"] = w["vae.decoder.2.bias"] + np.float32(0.18)
    foreign = {
        **w,
        "vae.decoder.extra.weight": w["vae.decoder.2.weight"],
        "vae.decoder.extra.bias": w["vae.decoder.2.bias"],
    }
    cases = {
        swapped: "its decoder: its graph's vae.decoder.0.weight does not have the shape (256, 2)",
        tmp_path
        / "retouched.safetensors": "its decoder: its graph's vae.decoder.2.bias differs from the file's",
        tmp_path
        / "foreign.safetensors": "its decoder: its graph holds a weight, vae.decoder.extra.weight, that",
    }
    file_with(tmp_path / "retouched.safetensors", base, decoder=dense_decoder(retouched))
    file_with(
        tmp_path / "foreign.safetensors",
        base,
        decoder=dense_decoder(foreign, ("vae.decoder.0", "vae.decoder.extra")),
    )
    for path, said in cases.items():
        with pytest.raises(weights.WeightsError) as e:
            load_model(path)
        assert str(e.value).startswith(f"{path}: {said}"), str(e.value)


def test_a_graph_can_neither_loop_nor_take_unbounded_memory(tmp_path, tiny_file):
    """Only the operators our export makes run (no Loop: 10^15 iterations hung `decode`),
    and one call allocates at most MAX_CALL_BYTES (a small file took 2.1 GB). Both files
    are refused at once, in one line, by `vaedesk decode` in a process of its own."""
    import subprocess
    import sys

    from onnx import TensorProto, helper

    base, w = tiny_file
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("Add", ["acc_in", "acc_in"], ["acc_out"]),
        ],
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            float_value("acc_in", "batch", 28, 28),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            float_value("acc_out", "batch", 28, 28),
        ],
    )
    loop = [
        helper.make_node(
            "Constant", [], ["m"], value=helper.make_tensor("m", TensorProto.INT64, [], [10**15])
        ),
        helper.make_node(
            "Constant", [], ["go"], value=helper.make_tensor("go", TensorProto.BOOL, [], [True])
        ),
        helper.make_node("Loop", ["m", "go", "l0"], ["logits"], body=body),
    ]
    loops = tmp_path / "loops.safetensors"
    file_with(loops, base, decoder=dense_decoder(w, logits=loop))
    # 256 numbers per latent point doubled 20 times: 1 GB for one point, then cut back
    doubling = [helper.make_node("Concat", [f"r{i}", f"r{i}"], [f"r{i + 1}"], axis=1) for i in range(20)]
    doubling += [
        int_constant("from0", [0]),
        int_constant("to256", [256]),
        int_constant("axis1", [1]),
        helper.make_node("Slice", ["r20", "from0", "to256", "axis1"], ["r"]),
    ]
    greedy = tmp_path / "greedy.safetensors"
    file_with(greedy, base, decoder=dense_decoder(w, hidden=doubling))

    for path, said in (
        (loops, r"its decoder: its graph uses the operator Loop, which vaedesk never makes"),
        (greedy, r"its decoder fails on a batch of 1 \(one call needs more than \d+ MB\)"),
    ):
        out = str(tmp_path / "d.png")
        r = subprocess.run(
            [sys.executable, "-m", "vaedesk", "decode", "--weights", str(path), "0", "0", "-o", out],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert r.returncode == 1 and re.fullmatch(f"vaedesk: {re.escape(str(path))}: {said}\n", r.stderr), (
            r.stderr
        )


def test_a_model_must_take_a_batch_and_give_every_output_its_shape(tmp_path, tiny_file):
    """Loading runs a batch of one and a batch of several: an encoder that takes one image
    only (the window's start encodes 10,000), or a decoder whose output has a fixed size
    (the decoded-digit field decodes a grid), is refused on load."""
    base, w = tiny_file
    single_encoder, fixed_decoder = tmp_path / "single.safetensors", tmp_path / "fixed.safetensors"
    file_with(single_encoder, base, encoder=dense_encoder(w, batch_shape=(1, 784)), decoder=dense_decoder(w))
    file_with(
        fixed_decoder, base, encoder=dense_encoder(w), decoder=dense_decoder(w, image_shape=(1, 28, 28))
    )
    for path, said in (
        (single_encoder, "its encoder fails on a batch of 3"),
        (fixed_decoder, "its decoder fails on a batch of 3"),
    ):
        with pytest.raises(weights.WeightsError) as e:
            load_model(path)
        assert str(e.value).startswith(f"{path}: {said}"), str(e.value)


@pytest.mark.parametrize("part", ["decoder", "encoder", "classifier"])
def test_a_model_that_computes_nan_is_refused_on_load(tmp_path, tiny_file, part):
    """Weights finite but so large that the sums overflow: inf - inf gives NaN. Such a
    decoder wrote a black PNG (exit 0), such a classifier said "0", such an encoder stopped
    the window opening; each is now refused on load, with its file and what is wrong."""
    from vaedesk.core.classify import Classifier, ClassifierError

    base, w = tiny_file
    path = tmp_path / f"nan-{part}.safetensors"
    signs = np.where(np.arange(256) % 2, 1.0, -1.0).astype(np.float32)
    if part == "decoder":  # hidden units at +-inf, then summed: NaN logits
        huge = np.repeat(signs[:, None] * np.float32(3e38), 2, axis=1)
        file_with(
            path,
            base,
            encoder=dense_encoder(w),
            decoder=dense_decoder({**w, "vae.decoder.0.weight": huge}),
            decoder__0__weight=huge,
        )
        expected, error = "its decoder gives NaN or infinite images", weights.WeightsError
        load = load_model
    elif part == "encoder":
        huge = np.tile(signs * np.float32(3e38), (2, 1))
        file_with(
            path,
            base,
            encoder=dense_encoder({**w, "vae.to_mu.weight": huge}),
            decoder=dense_decoder(w),
            to_mu__weight=huge,
        )
        expected, error, load = "its encoder gives NaN or infinite means", weights.WeightsError, load_model
    else:
        from vaedesk.core.classifier import DigitClassifier, save

        torch.manual_seed(0)
        net = DigitClassifier()
        with torch.no_grad():
            net.net[12].weight.copy_(torch.sign(torch.randn(10, 1568)) * 3e38)
        save(path, net, {})
        expected, error, load = "it gives NaN or infinite probabilities", ClassifierError, Classifier.load
    with pytest.raises(error) as e:
        load(path)
    assert str(e.value) == f"{path}: {expected}"


def test_the_allowed_operators_are_exactly_those_our_exports_make():
    """The allow-list is computed from the project's own exports: every architecture's
    encoder and decoder, and the digit classifier. A new architecture whose export needs
    another operator fails here, not on a user's machine."""
    import onnx

    from vaedesk.core.classifier import DigitClassifier, _Probabilities
    from vaedesk.core.config import ARCHS
    from vaedesk.core.export import export, graph
    from vaedesk.core.onnx_runtime import ALLOWED_OPS

    made = set()
    for arch in ARCHS:
        for graph_bytes_ in export(VAE(VAEConfig(arch=arch))).values():
            made |= {n.op_type for n in onnx.load_from_string(graph_bytes_).graph.node}
    with torch.no_grad():
        classifier = graph(
            _Probabilities(DigitClassifier().eval()), torch.zeros(1, 28, 28), ["images"], ["p"]
        )
    made |= {n.op_type for n in onnx.load_from_string(classifier).graph.node}
    assert made == ALLOWED_OPS
