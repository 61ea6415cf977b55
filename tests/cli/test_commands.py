"""The command line, run as a user runs it."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageDraw

from vaedesk import load_model
from vaedesk.cli import main, missing_window_libraries


def run(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    import os

    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "vaedesk", *args], capture_output=True, text=True, env=env, timeout=300
    )


def test_help_and_version_do_not_import_torch_or_qt():
    code = (
        "import sys\nfrom vaedesk.cli import main\n"
        "for a in (['--help'], ['--version'], ['train', '--help']):\n"
        "    try: main(a)\n    except SystemExit: pass\n"
        "heavy = [m for m in ('torch', 'PySide6', 'pyqtgraph', 'numpy') if m in sys.modules]\n"
        "print('HEAVY', heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "usage: vaedesk" in out.stdout and "HEAVY []" in out.stdout


def test_each_command_help_imports_its_own_module_only_and_neither_torch_nor_qt():
    """Every command's --help is as quick as the top-level one: the registry lists the
    commands without importing them, and `vaedesk X --help` imports X's module alone."""
    from vaedesk.cli.commands import COMMANDS

    code = (
        "import sys, json\nfrom vaedesk.cli import main\n"
        "argv = json.loads(sys.argv[1])\n"
        "try: main(argv)\nexcept SystemExit: pass\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('vaedesk.cli.commands.'))\n"
        "heavy = [m for m in ('torch', 'PySide6', 'pyqtgraph', 'numpy') if m in sys.modules]\n"
        "print('LOADED', json.dumps(loaded), 'HEAVY', json.dumps(heavy))"
    )
    for argv in (["--help"], *([name, "--help"] for name in COMMANDS)):
        out = subprocess.run(
            [sys.executable, "-c", code, json.dumps(argv)], capture_output=True, text=True, timeout=60
        )
        assert "usage: vaedesk" in out.stdout, out.stderr
        expected = [COMMANDS[argv[0]].module] if argv[0] in COMMANDS else []
        assert f"LOADED {json.dumps(expected)} HEAVY []" in out.stdout, (argv, out.stdout[-300:])


def test_an_option_value_that_names_a_command_is_still_a_value(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["--data", "data", "eval", "-k", "0"]) == 1  # the folder ./data, then `eval`
    err = capsys.readouterr().err
    assert "MNIST test files not found" in err and "data" in err


def test_encode_prints_json_lines_and_survives_bad_files(tmp_path, real_mnist_dir, capsys):
    good = tmp_path / "one.png"
    img = Image.new("L", (200, 200), 255)
    ImageDraw.Draw(img).line([(100, 30), (100, 170)], fill=0, width=16)
    img.save(good)
    Image.new("L", (50, 50), 255).save(tmp_path / "empty.png")
    (tmp_path / "junk.jpg").write_bytes(b"junk")
    code = main(
        [
            "encode",
            "--data",
            str(real_mnist_dir),
            str(tmp_path / "empty.png"),
            str(tmp_path / "junk.jpg"),
            str(good),
        ]
    )
    out, err = capsys.readouterr()
    assert code == 1
    assert "empty.png" in err and "empty" in err and "junk.jpg: not a readable picture" in err
    record = json.loads(out.strip().splitlines()[-1])
    assert record["file"] == str(good) and len(record["mu"]) == 2 and all(s > 0 for s in record["sigma"])
    assert record["digit"] == 1  # a vertical bar is a one


def test_encode_matches_the_api(tmp_path, mnist_dir, capsys):
    from vaedesk import load_model
    from vaedesk.core import preprocess

    path = tmp_path / "digit.png"
    img = Image.new("L", (120, 160), 0)
    ImageDraw.Draw(img).ellipse([20, 20, 100, 140], outline=255, width=12)
    img.save(path)
    assert main(["encode", "--data", str(mnist_dir), str(path)]) == 0
    record = json.loads(capsys.readouterr().out)
    mu, _ = load_model().encode(preprocess.to_mnist(preprocess.load_picture(path)))
    assert np.allclose(record["mu"], mu[0], atol=1e-3)


def test_decode_writes_an_upscaled_png(tmp_path, capsys):
    from vaedesk import load_model

    out = tmp_path / "d.png"
    assert main(["decode", "0.5", "-1", "-o", str(out), "--size", "140"]) == 0
    with Image.open(out) as im:
        assert im.size == (140, 140)
        small = np.asarray(im.resize((28, 28), Image.Resampling.BOX), dtype=np.float32) / 255
    expected = load_model().decode([0.5, -1])[0]
    assert np.abs(small - expected).mean() < 0.05


def test_missing_weights_and_data_are_one_clear_line(tmp_path, capsys):
    assert main(["eval", "--weights", str(tmp_path / "none.safetensors")]) == 1
    assert (
        capsys.readouterr().err.strip() == f"vaedesk: {tmp_path / 'none.safetensors'}: no such weights file"
    )
    assert main(["eval", "--data", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "MNIST test files not found" in err and "vaedesk data download" in err


def test_data_command_says_where_it_looks(tmp_path, mnist_dir, capsys):
    assert main(["data", "--data", str(mnist_dir)]) == 0
    out = capsys.readouterr().out
    assert "test: 300 images" in out and "train: 1200 images" in out
    assert main(["data", "check", "--data", str(tmp_path)]) == 1
    assert "not found" in capsys.readouterr().out
    assert main(["data", "--data", str(tmp_path)]) == 1  # no data is not a success


def test_train_help_shows_the_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    assert "(default: 30)" in out and "(default: 128)" in out and "(default: 0.001)" in out


def test_train_then_eval_end_to_end(tmp_path, mnist_dir, capsys):
    out = tmp_path / "tiny.safetensors"
    argv = [
        "train",
        "--data",
        str(mnist_dir),
        "--arch",
        "mlp",
        "--limit",
        "1000",
        "--val-size",
        "300",
        "--epochs",
        "2",
        "--eval-k",
        "2",
        "--kl-warmup",
        "1",
        "--weight-decay",
        "0.01",
        "--beta",
        "0.5",
        "--dropout",
        "0.25",
        "-o",
        str(out),
    ]
    assert main(argv) == 0, capsys.readouterr().err
    card = json.loads(out.with_suffix(".card.json").read_text())
    # every option reaches the run, and the card says so
    assert card["options"]["kl_warmup"] == 1 and card["options"]["weight_decay"] == 0.01
    assert card["config"]["beta"] == 0.5 and card["options"]["val_size"] == 300
    assert card["config"]["dropout"] == 0.25 and load_model(out).vae.config.dropout == 0.25
    assert card["command"].startswith("vaedesk train --data") and card["epochs_run"] == 2
    assert card["test_metrics"]["n_test"] == 300 and "knn5_accuracy" in card["test_metrics"]
    assert len(card["history"]) == 2 and card["eval_iwae_k"] == 2
    capsys.readouterr()
    assert main(["eval", "--data", str(mnist_dir), "--weights", str(out), "--json", "-k", "2"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["arch"] == "mlp" and metrics["neg_elbo"] == pytest.approx(
        card["test_metrics"]["neg_elbo"], rel=1e-3
    )
    gap_argv = ["eval", "--data", str(mnist_dir), "--weights", str(out), "-k", "0", "--threads", "1"]
    assert main([*gap_argv, "--amortization", "20"]) == 0
    printed = capsys.readouterr().out
    for name in ("test", "train"):
        line = next(row for row in printed.splitlines() if f"on 20 {name} images" in row)
        gap, amortized, optimized = (float(v) for v in re.findall(r"\d+\.\d+", line))
        assert line.startswith("amortization gap") and gap == pytest.approx(amortized - optimized, abs=0.02)
        assert 0 < gap < amortized
    # the printed share right of each digit is the JSON's, and they average to the accuracy
    line = next(row for row in printed.splitlines() if "by digit" in row)
    shown = dict(re.findall(r"(\d) (\d+\.\d)", line.split("% right", 1)[1]))
    assert set(shown) == {k[-1] for k in metrics if k.startswith("knn5_recall_")} and len(shown) >= 5
    for digit, percent in shown.items():
        assert float(percent) == pytest.approx(100 * metrics[f"knn5_recall_{digit}"], abs=0.051)


@pytest.mark.parametrize("beta, free_bits, collapsed", [(80.0, 0, True), (0.5, 0, False), (80.0, 3, False)])
def test_a_collapsed_posterior_is_reported_plainly(tmp_path, mnist_dir, capsys, beta, free_bits, collapsed):
    """A KL weight of 80 drives every posterior onto the prior: the run must say so, and
    say what avoids it. With 3 free bits the same run keeps its KL."""
    out = tmp_path / "m.safetensors"
    argv = ["train", "--data", str(mnist_dir), "--arch", "mlp", "--limit", "600", "--val-size", "100"]
    argv += ["--epochs", "2", "--eval-k", "0", "--beta", str(beta), "--prior", "normal", "-o", str(out)]
    if free_bits:
        argv += ["--free-bits", str(free_bits)]
    assert main(argv) == 0
    err = capsys.readouterr().err
    card = json.loads(out.with_suffix(".card.json").read_text())
    best_kl = card["history"][card["best_epoch"] - 1]["val_kl"]
    assert card["posterior_collapsed"] is collapsed and (best_kl < 0.5) is collapsed  # independent check
    assert ("warning: the posterior collapsed" in err) is collapsed
    if collapsed:
        assert "--free-bits" in err
    assert ("--free-bits" in card["command"]) == bool(free_bits)


def test_train_with_a_vamp_prior_saves_its_mixture(tmp_path, mnist_dir):
    out = tmp_path / "v.safetensors"
    argv = ["train", "--data", str(mnist_dir), "--arch", "mlp", "--limit", "600", "--val-size", "100"]
    assert (
        main(
            [*argv, "--epochs", "1", "--eval-k", "0", "--prior", "vamp", "--components", "6", "-o", str(out)]
        )
        == 0
    )
    card = json.loads(out.with_suffix(".card.json").read_text())
    assert card["config"]["prior"] == "mog" and card["config"]["components"] == 6
    assert card["trained_prior"] == "vamp" and "--prior vamp --components 6" in card["command"]
    model = load_model(out)
    assert model.prior.describe() == "a mixture of 6 Gaussians"
    assert np.allclose(model.prior.log_weights, np.log(1 / 6))  # the VampPrior's equal weights


def test_train_with_a_mixture_prior(tmp_path, mnist_dir, capsys):
    out = tmp_path / "m.safetensors"
    argv = ["train", "--data", str(mnist_dir), "--arch", "mlp", "--limit", "600", "--val-size", "100"]
    assert (
        main([*argv, "--epochs", "1", "--eval-k", "2", "--prior", "mog", "--components", "5", "-o", str(out)])
        == 0
    )
    card = json.loads(out.with_suffix(".card.json").read_text())
    assert card["config"]["prior"] == "mog" and card["config"]["components"] == 5
    assert "--prior mog --components 5" in card["command"]
    assert load_model(out).prior.describe() == "a mixture of 5 Gaussians"
    capsys.readouterr()
    again = [
        "train",
        "--from",
        str(out),
        "--prior",
        "normal",
        "--data",
        str(mnist_dir),
        "-o",
        str(tmp_path / "x.safetensors"),
    ]
    assert main(again) == 1
    assert "have the 'mog' prior, which training cannot change" in capsys.readouterr().err


def test_second_stages_train_the_encoder_or_the_decoder_alone_and_record_how(tmp_path, mnist_dir, capsys):
    import torch

    first, second = tmp_path / "first.safetensors", tmp_path / "second.safetensors"
    argv = ["train", "--data", str(mnist_dir), "--arch", "mlp", "--limit", "600", "--val-size", "100"]
    assert main([*argv, "--epochs", "1", "--eval-k", "0", "-o", str(first)]) == 0
    stage = ["train", "--data", str(mnist_dir), "--limit", "600", "--val-size", "100", "--epochs", "1"]
    stage += ["--eval-k", "0", "--encoder-only", "--dropout", "0.3", "--augment", "-o", str(second)]
    assert main(stage) == 1
    assert "--encoder-only trains the encoder of existing weights" in capsys.readouterr().err
    assert main([*stage, "--from", str(first)]) == 0, capsys.readouterr().err
    card = json.loads(second.with_suffix(".card.json").read_text())
    first_card = json.loads(first.with_suffix(".card.json").read_text())
    assert card["init"] == str(first) and card["init_command"] == first_card["command"]
    assert card["options"]["encoder_only"] is True and card["config"]["dropout"] == 0.3
    assert card["options"]["augment"] is True
    a, b = load_model(first).vae.state_dict(), load_model(second).vae.state_dict()
    assert {k.split(".")[0] for k in a if not torch.equal(a[k], b[k])} == {"encoder", "to_mu", "to_logvar"}

    # The other second stage: the decoder alone, on the codes of the encoder without dropout.
    third = tmp_path / "third.safetensors"
    stage = ["train", "--data", str(mnist_dir), "--limit", "600", "--val-size", "100", "--epochs", "1"]
    stage += ["--eval-k", "0", "--decoder-only", "--from", str(second), "-o", str(third)]
    assert main([*stage, "--dropout", "0.1"]) == 1
    assert "--decoder-only fits the decoder to the encoder as it is used" in capsys.readouterr().err
    assert main(stage) == 0
    assert "the encoder's dropout (0.3) off" in capsys.readouterr().err
    card = json.loads(third.with_suffix(".card.json").read_text())
    assert card["options"]["decoder_only"] is True and card["config"]["dropout"] == 0.0
    second_card = json.loads(second.with_suffix(".card.json").read_text())
    assert card["init_command"] == second_card["command"]
    # Every stage recorded in the last card, even with the earlier files gone.
    assert card["init_card"] == second_card and card["init_card"]["init_card"] == first_card
    c = load_model(third).vae.state_dict()
    assert {k.split(".")[0] for k in b if not torch.equal(b[k], c[k])} == {"decoder", "prior"}


def test_a_fixed_means_stage_keeps_the_map_and_refits_the_variances_at_beta_1(tmp_path, mnist_dir, capsys):
    """After a run at beta 0.25, `--fixed-means --beta 1` trains the decoder, the prior and
    the variance head only: every test image's point on the map stays put, its posterior
    widens towards what the ELBO wants, and the test -ELBO improves."""
    import torch

    from vaedesk.core import data

    first, second = tmp_path / "low-beta.safetensors", tmp_path / "refit.safetensors"
    argv = ["train", "--data", str(mnist_dir), "--arch", "mlp", "--limit", "600", "--val-size", "100"]
    assert main([*argv, "--epochs", "2", "--beta", "0.25", "--eval-k", "0", "-o", str(first)]) == 0
    stage = ["train", "--data", str(mnist_dir), "--limit", "600", "--val-size", "100", "--epochs", "2"]
    stage += ["--eval-k", "0", "--fixed-means", "--beta", "1", "-o", str(second)]
    assert main(stage) == 1
    assert "--fixed-means trains the decoder and the variances of existing weights" in capsys.readouterr().err
    assert main([*stage, "--from", str(first), "--dropout", "0.2"]) == 1
    assert "--fixed-means fits the decoder to the encoder as it is used" in capsys.readouterr().err
    assert main([*stage, "--from", str(first)]) == 0
    capsys.readouterr()
    card = json.loads(second.with_suffix(".card.json").read_text())
    assert card["options"]["fixed_means"] is True and "--fixed-means" in card["command"]
    assert card["config"]["beta"] == 1.0 and "--beta 1" in card["command"]
    a, b = load_model(first).vae.state_dict(), load_model(second).vae.state_dict()
    assert {k.split(".")[0] for k in a if not torch.equal(a[k], b[k])} == {"decoder", "prior", "to_logvar"}
    test_images = data.load_split(mnist_dir, "test")[0]
    mu_a, logvar_a = load_model(first).encode(test_images)
    mu_b, logvar_b = load_model(second).encode(test_images)
    np.testing.assert_array_equal(mu_a, mu_b)  # the map, point for point
    assert np.mean(logvar_b) > np.mean(logvar_a)  # a KL weight of 1 wants wider posteriors

    def neg_elbo(path) -> float:
        assert main(["eval", "--data", str(mnist_dir), "--weights", str(path), "-k", "0", "--json"]) == 0
        return json.loads(capsys.readouterr().out)["neg_elbo"]

    assert neg_elbo(second) < neg_elbo(first)


def test_binarized_training_and_evaluation(tmp_path, mnist_dir, capsys):
    out = tmp_path / "b.safetensors"
    argv = ["train", "--data", str(mnist_dir), "--arch", "mlp", "--limit", "600", "--val-size", "100"]
    assert main([*argv, "--epochs", "1", "--eval-k", "2", "--binarize", "-o", str(out)]) == 0
    card = json.loads(out.with_suffix(".card.json").read_text())
    assert card["options"]["binarize"] is True and "--binarize" in card["command"]
    capsys.readouterr()

    def evaluate(*options: str) -> str:
        assert main(["eval", "--data", str(mnist_dir), "--weights", str(out), *options]) == 0
        return capsys.readouterr().out

    text = evaluate("--binarized", "-k", "3")
    assert "binarized (seed 0)" in text and "IWAE bound, k=3" in text and "(standard error)" in text
    binary = json.loads(evaluate("--binarized", "-k", "3", "--json"))
    grey = json.loads(evaluate("-k", "3", "--json"))
    assert binary["binarized"] is True and grey["binarized"] is False
    assert 0 < binary["iwae_k3_se"] < 5 and binary["iwae_k3"] != grey["iwae_k3"]
    # the card's figures are the binarized test set's, as the model was trained
    again = json.loads(evaluate("--binarized", "-k", "2", "--json"))
    assert card["test_metrics"]["iwae_k2"] == pytest.approx(again["iwae_k2"], abs=1e-3)


def test_iwae_training_is_recorded_and_reproducible_from_its_card(tmp_path, mnist_dir, capsys):
    import shlex

    out, again = tmp_path / "iw.safetensors", tmp_path / "again.safetensors"
    argv = ["train", "--data", str(mnist_dir), "--arch", "mlp", "--limit", "600", "--val-size", "100"]
    assert main([*argv, "--epochs", "1", "--eval-k", "0", "--iw-samples", "3", "-o", str(out)]) == 0
    card = json.loads(out.with_suffix(".card.json").read_text())
    assert card["options"]["iw_samples"] == 3 and "--iw-samples 3" in card["command"]
    assert "train IWAE-3 " in capsys.readouterr().err  # the printed loss is the bound, not recon + KL
    epoch = card["history"][0]
    assert epoch["val"] < epoch["val_recon"] + epoch["val_kl"]  # the IWAE bound, under the ELBO
    # the card's command, run again, gives the same validation bound
    command = shlex.split(card["command"])[1:]
    command[command.index("-o") + 1] = str(again)
    assert main([*command, "--data", str(mnist_dir)]) == 0, capsys.readouterr().err
    assert json.loads(again.with_suffix(".card.json").read_text())["history"][0]["val"] == epoch["val"]


def test_any_latent_size_trains_evaluates_encodes_and_decodes(tmp_path, mnist_dir, capsys):
    out = tmp_path / "d3.safetensors"
    argv = ["train", "--data", str(mnist_dir), "--arch", "mlp", "--limit", "600", "--val-size", "100"]
    assert main([*argv, "--epochs", "1", "--eval-k", "2", "--latent-dim", "3", "-o", str(out)]) == 0
    card = json.loads(out.with_suffix(".card.json").read_text())
    assert card["config"]["latent_dim"] == 3 and "--latent-dim 3" in card["command"]
    assert {"neg_elbo", "iwae_k2", "knn5_accuracy"} <= set(card["test_metrics"])
    capsys.readouterr()
    picture = tmp_path / "o.png"
    img = Image.new("L", (100, 100), 0)
    ImageDraw.Draw(img).ellipse([20, 10, 80, 90], outline=255, width=10)
    img.save(picture)
    assert main(["encode", "--data", str(mnist_dir), "--weights", str(out), str(picture)]) == 0
    record = json.loads(capsys.readouterr().out)
    assert len(record["mu"]) == len(record["sigma"]) == 3
    # decode: three numbers, or a text or .npy file holding them, draw the same digit
    point = [0.5, -1.25, 2.0]
    (tmp_path / "z.txt").write_text("0.5, -1.25\n2.0\n")
    np.save(tmp_path / "z.npy", np.array(point))
    pngs = []
    for i, given in enumerate(
        ([str(v) for v in point], [str(tmp_path / "z.txt")], [str(tmp_path / "z.npy")])
    ):
        pngs.append(tmp_path / f"d{i}.png")
        assert main(["decode", *given, "--weights", str(out), "-o", str(pngs[-1])]) == 0
    assert pngs[0].read_bytes() == pngs[1].read_bytes() == pngs[2].read_bytes()
    expected = load_model(out).decode(np.float32(point))[0]
    with Image.open(pngs[0]) as im:
        shown = np.asarray(im.convert("L").resize((28, 28), Image.Resampling.BOX), np.float32) / 255
    assert np.abs(shown - expected).mean() < 0.05
    capsys.readouterr()
    assert main(["decode", "0", "0", "--weights", str(out), "-o", str(tmp_path / "x.png")]) == 1
    assert "has 3 latent dimensions; give 3 numbers (got 2)" in capsys.readouterr().err
    again = [
        "train",
        "--from",
        str(out),
        "--latent-dim",
        "2",
        "--data",
        str(mnist_dir),
        "-o",
        str(tmp_path / "y"),
    ]
    assert main(again) == 1
    assert "have the '3' latent size" in capsys.readouterr().err


def test_bad_training_options_are_refused(capsys):
    assert main(["train", "--lr", "-1"]) == 1
    assert "learning rate" in capsys.readouterr().err
    assert main(["train", "--dropout", "1"]) == 1
    assert "dropout must be a fraction" in capsys.readouterr().err
    assert main(["train", "--free-bits", "2", "--iw-samples", "4"]) == 1
    assert "free bits apply to the ELBO" in capsys.readouterr().err
    assert main(["train", "--lr-warmup", "-5"]) == 1
    assert "warm-up must be zero or more batches" in capsys.readouterr().err
    assert main(["train", "--neighbours", "-1"]) == 1
    assert "neighbour-embedding weight must be a non-negative number" in capsys.readouterr().err
    assert main(["train", "--from", "x.safetensors", "--fixed-means", "--neighbours", "8"]) == 1
    assert "shapes the means, which this stage keeps fixed" in capsys.readouterr().err


def test_a_neighbour_embedding_run_prints_and_records_its_term(tmp_path, mnist_dir, capsys):
    """`--neighbours` prints the term on each epoch's line beside the ELBO's, puts it in the
    card's history, and the card's command reproduces the run with it."""
    out = tmp_path / "ne.safetensors"
    argv = ["train", "--data", str(mnist_dir), "--arch", "mlp", "--limit", "600", "--val-size", "100"]
    assert main([*argv, "--epochs", "2", "--neighbours", "16", "--eval-k", "0", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    terms = [float(t) for t in re.findall(r"neighbours (\d+\.\d+)\)", err)]
    assert len(terms) == 2 and all(0 < t < np.log(2 * 128) for t in terms)  # below chance: pairs gather
    card = json.loads(out.with_suffix(".card.json").read_text())
    assert card["options"]["neighbours"] == 16.0 and "--neighbours 16" in card["command"]
    assert [h["neighbours"] for h in card["history"]] == pytest.approx(terms, abs=0.006)


def test_an_unwritable_trace_file_is_one_clear_line(tmp_path, capsys):
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    pytest.importorskip("PySide6")
    assert main(["--trace", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"vaedesk: --trace {tmp_path}: cannot write (Is a directory)"


def test_info_prints_each_bundled_models_card(capsys):
    """`vaedesk info`: every card shipped beside the bundled weights, with what the model
    is, its test metrics and the command that made it; the default model first."""
    from vaedesk.core import paths

    assert main(["info"]) == 0
    out = capsys.readouterr().out
    cards = sorted(paths.bundled_weights().parent.glob("*.card.json"))
    assert len(cards) >= 2  # the VAE and the classifier, at least
    assert out.startswith("vaedesk (the default)\n")
    blocks = {block.split("\n", 1)[0].split(" ")[0]: block for block in out.strip().split("\n\n")}
    assert len(blocks) == len(cards)
    for path in cards:
        card = json.loads(path.read_text())
        block = blocks[path.name.removesuffix(".card.json")]
        assert card["command"] in block
        metrics = card["test_metrics"]
        if "config" in card:
            config = card["config"]
            assert f"{config['arch']} VAE, {config['latent_dim']}-D latent" in block
            assert f"-ELBO {metrics['neg_elbo']:.2f} nats" in block
            assert f"latent 5-NN {100 * metrics['knn5_accuracy']:.2f} %" in block
        else:
            assert f"accuracy {100 * metrics['accuracy']:.2f} %" in block


def test_no_command_writes_over_a_file_vaedesk_ships(tmp_path, mnist_dir, monkeypatch, capsys):
    """decode, train, classifier train, upgrade and experiment refuse, with one line, any
    output that is (or leads through a symlink to) a shipped model or its card. They are
    pointed at copies of the shipped files, so that a guard that fails damages nothing."""
    from vaedesk.core import paths

    shipped = paths.shipped_files()
    names = {p.name for p in shipped}
    for model in ("vaedesk", "classifier", "seed", "report"):
        assert {f"{model}.safetensors", f"{model}.card.json"} <= names
    copies = tmp_path / "shipped"
    copies.mkdir()
    for p in shipped:
        if p.parent == paths.bundled_weights().parent:
            (copies / p.name).write_bytes(p.read_bytes())
    monkeypatch.setattr(paths, "shipped_files", lambda: sorted(copies.iterdir()))
    before = {p.name: p.read_bytes() for p in copies.iterdir()}
    link = tmp_path / "digit.png"
    link.symlink_to(copies / "vaedesk.safetensors")
    data = ["--data", str(mnist_dir)]
    quick = ["--epochs", "1", "--limit", "200", "--val-size", "40", "--eval-k", "0"]
    commands = [
        ["decode", "0", "0", "-o", str(copies / "vaedesk.safetensors")],
        ["decode", "0", "0", "-o", str(link)],
        ["classifier", "train", *data, "--epochs", "1", "-o", str(copies / "seed.safetensors")],
        ["train", *data, *quick, "-o", str(copies / "report.safetensors")],
        ["train", *data, *quick, "-o", str(copies / "vaedesk")],  # its card is the shipped card
        ["upgrade", str(copies / "seed.safetensors"), "-o", str(copies / "classifier.safetensors")],
        ["experiment", "augment", *data, "--limit", "200", "-o", str(copies / "vaedesk.safetensors")],
    ]
    for argv in commands:
        assert main(argv) == 1, argv
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "a file vaedesk ships cannot be overwritten" in err, (argv, err)
    assert {p.name: p.read_bytes() for p in copies.iterdir()} == before


def test_decode_refuses_a_point_beyond_float32(tmp_path, capsys):
    """1e39 is a finite double but infinite in float32, the model's numbers: it wrote a
    black PNG with exit 0. Typed or read from a file, it is one line and no PNG."""
    out = tmp_path / "d.png"
    (tmp_path / "far.txt").write_text("1e39 0\n")
    for argv in (["1e39", "0"], ["0", "-3.5e38"], [str(tmp_path / "far.txt")]):
        assert main(["decode", *argv, "-o", str(out)]) == 1
        assert capsys.readouterr().err == "vaedesk: the latent point's values must be finite numbers\n"
    assert not out.exists()


def test_only_regular_files_are_read_and_anything_else_is_one_line(tmp_path):
    """A FIFO as a picture hung `classify` (and the window's Open image), as `--trace` it
    hung the start; /dev/full as `--trace` ended in a traceback; `decode /dev/urandom`
    grew to 4.3 GB and `/dev/zero` ended in MemoryError. Each is now one line, at once."""
    import os

    fifo = tmp_path / "digit.png"
    os.mkfifo(fifo)
    out = str(tmp_path / "d.png")
    cases = [
        (["classify", str(fifo)], f"vaedesk: {fifo}: not a picture vaedesk can read (not a regular file)"),
        (["encode", str(fifo)], f"vaedesk: {fifo}: not a picture vaedesk can read (not a regular file)"),
        (
            ["decode", "/dev/urandom", "-o", out],
            "vaedesk: /dev/urandom: cannot read a latent point from it (not a regular file)",
        ),
        (
            ["decode", "/dev/zero", "-o", out],
            "vaedesk: /dev/zero: cannot read a latent point from it (not a regular file)",
        ),
        (
            ["decode", str(fifo), "-o", out],
            f"vaedesk: {fifo}: cannot read a latent point from it (not a regular file)",
        ),
        (["--trace", str(fifo)], f"vaedesk: --trace {fifo}: cannot write (not a regular file)"),
        (["--trace", "/dev/full"], "vaedesk: --trace /dev/full: cannot write (not a regular file)"),
    ]
    if missing_window_libraries():  # a headless install: the window, and its --trace, are not there
        cases = [(argv, said) for argv, said in cases if argv[0] != "--trace"]
    for argv, said in cases:
        r = run(*argv, env_extra={"QT_QPA_PLATFORM": "offscreen"})
        assert r.returncode in (1, 2) and r.stderr == said + "\n", (argv, r.stderr[-1000:])
    assert not (tmp_path / "d.png").exists()


def train_until(tmp_path, data_dir, seen: bytes, sig) -> tuple[int, str]:
    """`vaedesk train` on a terminal (its progress bar shows), sent `sig` once `seen` is
    on its stderr; returns its exit status and everything it wrote to stderr."""
    import fcntl
    import os
    import pty
    import select
    import struct
    import termios

    main_fd, terminal = pty.openpty()
    # 40 rows of 200 columns: a terminal of width 0 would show no progress bar
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 200, 0, 0))
    argv = ["train", "--data", str(data_dir), "--arch", "mlp", "--limit", "20000", "--val-size", "500"]
    argv += ["--epochs", "50", "--batch-size", "32", "--eval-k", "0", "--threads", "1"]
    argv += ["-o", str(tmp_path / "run.safetensors")]
    p = subprocess.Popen(
        [sys.executable, "-m", "vaedesk", *argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=terminal,
    )
    os.close(terminal)
    out, sent = b"", False
    while True:
        ready, _, _ = select.select([main_fd], [], [], 120)
        assert ready, out.decode(errors="replace")[-2000:]
        try:
            chunk = os.read(main_fd, 65536)
        except OSError:  # the program has ended and closed the terminal
            break
        if not chunk:
            break
        out += chunk
        if not sent and seen in out:
            p.send_signal(sig)
            sent = True
    os.close(main_fd)
    assert sent and p.wait(timeout=120) is not None, out.decode(errors="replace")[-1500:]
    return p.returncode, out.decode(errors="replace").replace("\r", "\n")


@pytest.mark.slow
def test_sigterm_keeps_the_finished_epochs_as_ctrl_c_does(tmp_path, real_mnist_dir):
    """`kill` (SIGTERM) during training lost every finished epoch; it now stops after the
    batch and saves the best epoch, as the first Ctrl-C does."""
    import signal

    rc, err = train_until(tmp_path, real_mnist_dir, b"epoch   1  train", signal.SIGTERM)
    assert rc == 0, err[-2000:]
    assert "stopping after this batch" in err and "stopped: cancelled; best epoch 1" in err
    saved = load_model(tmp_path / "run.safetensors")
    assert saved.card["stop_reason"] == "cancelled" and len(saved.card["history"]) >= 1


@pytest.mark.slow
def test_ctrl_c_in_the_first_epoch_says_nothing_was_saved(tmp_path, real_mnist_dir):
    """Ctrl-C before any epoch has finished: one line, no traceback, no file."""
    import signal

    rc, err = train_until(tmp_path, real_mnist_dir, b"epoch 1 loss", signal.SIGINT)
    assert rc == 1 and "Traceback" not in err, err[-2000:]
    assert err.strip().splitlines()[-1] == "vaedesk: no epoch finished (cancelled); nothing saved"
    assert not (tmp_path / "run.safetensors").exists()


def test_odd_options_and_cards_are_one_line_not_a_traceback(tmp_path, mnist_dir, capsys):
    """`experiment augment --limit 20`, seeds of -1 and beyond 2^64, and a card whose
    options are a list (after `eval --amortization` had evaluated) ended in tracebacks."""
    out = str(tmp_path / "x.json")
    assert main(["experiment", "augment", "--data", str(mnist_dir), "--limit", "20", "-o", out]) == 1
    assert capsys.readouterr().err == "vaedesk: --limit 20: the experiment needs at least 45 images\n"
    for command in (["experiment", "augment"], ["classifier", "train"], ["train"]):
        for seed in ("-1", str(2**64 + 1)):
            with pytest.raises(SystemExit) as e:
                main([*command, "--seed", seed, "-o", out])
            err = capsys.readouterr().err
            assert e.value.code == 2 and f"argument --seed: {seed}: a seed is from 0 to 4294967295" in err
    import torch

    from vaedesk.core import weights
    from vaedesk.core.model import VAE, VAEConfig

    torch.manual_seed(0)
    listed = tmp_path / "listed.safetensors"
    weights.save(listed, VAE(VAEConfig(arch="mlp")), {"options": ["val_size", 10]})
    argv = ["eval", "--weights", str(listed), "--data", str(mnist_dir), "-k", "0", "--amortization", "2"]
    assert main([*argv, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["amortization_images"] == 2 and np.isfinite(result["amortization_train_gap"])


def test_upgrade_keeps_the_files_mode(tmp_path, capsys):
    """`upgrade` rewrites a file in place: a read-only file stays read-only (it became
    writable), and a file of mode 0640 stays 0640."""
    import os
    import stat

    import torch

    from vaedesk.core import weights
    from vaedesk.core.model import VAE, VAEConfig

    torch.manual_seed(0)
    for mode in (0o444, 0o640):
        path = tmp_path / f"m{mode:o}.safetensors"
        weights.save(path, VAE(VAEConfig(arch="mlp")), {})
        os.chmod(path, mode)
        assert main(["upgrade", str(path)]) == 0, capsys.readouterr().err
        assert stat.S_IMODE(path.stat().st_mode) == mode


def test_experiment_checks_its_output_before_the_run(tmp_path, mnist_dir, capsys):
    """`experiment augment -o` was checked only when the results were written, after the
    whole run (12 minutes lost): an output that cannot be written is refused first."""
    (tmp_path / "not-a-folder").write_text("a file")
    out = tmp_path / "not-a-folder" / "augment.json"
    argv = ["experiment", "augment", "--data", str(mnist_dir), "--limit", "100", "--vae-epochs", "1"]
    assert main([*argv, "--classifier-epochs", "1", "-o", str(out)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""  # no table: nothing was trained
    assert captured.err == f"vaedesk: -o {out}: cannot write there (File exists)\n"


def test_every_command_is_in_the_command_line_reference():
    """docs/command-line.md says it has every command in full: each command of the
    registry has its line in its summary block (`info` and `upgrade` had none)."""
    from pathlib import Path

    from vaedesk.cli.commands import COMMANDS

    text = (Path(__file__).parents[2] / "docs" / "command-line.md").read_text(encoding="utf-8")
    block = text.split("```")[1]
    listed = {line.split()[1] for line in block.splitlines() if line.startswith("vaedesk ")}
    assert set(COMMANDS) <= listed, f"not in docs/command-line.md: {sorted(set(COMMANDS) - listed)}"


def test_the_window_without_its_libraries_says_what_to_install():
    """A headless install (no PySide6) asked for the window ended in a traceback from deep
    in its start; it is one line naming what to install, and the commands still work."""
    import os

    code = "import sys\nsys.modules['PySide6'] = None\nfrom vaedesk.cli import main\nsys.exit(main([]))"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2, r.stderr[-2000:]
    assert r.stderr.startswith("vaedesk: the window needs PySide6-Essentials") and r.stderr.count("\n") == 1
