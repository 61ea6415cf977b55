"""The VAE, its loss, the training generator and the metrics, on small seeded data."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vaedesk.core.evaluate import amortization_gap, evaluate, iwae_bound, negative_elbo
from vaedesk.core.model import ARCHS, VAE, VAEConfig, kl_divergence, reconstruction_loss, vae_loss
from vaedesk.core.neighbours import knn_predict, recall_by_class
from vaedesk.core.train import BatchProgress, EpochResult, Trainer, TrainingDiverged, TrainOptions


@pytest.mark.parametrize("arch", ARCHS)
def test_shapes_of_every_architecture(arch):
    model = VAE(VAEConfig(arch=arch))
    x = torch.rand(5, 1, 28, 28)
    logits, mu, logvar = model(x)
    assert logits.shape == (5, 1, 28, 28) and mu.shape == logvar.shape == (5, 2)
    out = model.decode(mu)
    assert out.min() >= 0 and out.max() <= 1


def test_seed_architecture_matches_the_published_layers():
    model = VAE(VAEConfig(arch="seed"))
    convs = [m for m in model.encoder if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [32, 64] and all(c.stride == (2, 2) for c in convs)
    assert model.encoder[-2].out_features == 16
    tconvs = [m for m in model.decoder if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [c.out_channels for c in tconvs] == [64, 32, 1]
    assert model.decoder[0].out_features == 64 * 7 * 7


def test_report_architecture_matches_the_published_layers():
    model = VAE(VAEConfig(arch="report", latent_dim=20, loss="mse"))
    convs = [m for m in model.encoder if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.stride) for c in convs] == [
        (32, (3, 3), (2, 2)),
        (64, (3, 3), (2, 2)),
    ]
    assert model.to_mu.out_features + model.to_logvar.out_features == 40  # its dense 40
    tconvs = [m for m in model.decoder if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [(c.out_channels, c.kernel_size, c.stride) for c in tconvs] == [
        (64, (7, 7), (1, 1)),
        (64, (3, 3), (2, 2)),
        (32, (3, 3), (2, 2)),
        (1, (3, 3), (1, 1)),
    ]
    shapes = []
    z = torch.zeros(1, 20)
    for layer in model.decoder:
        z = layer(z)
        if isinstance(layer, torch.nn.ConvTranspose2d):
            shapes.append(tuple(z.shape[1:]))
    assert shapes == [(64, 7, 7), (64, 14, 14), (32, 28, 28), (1, 28, 28)]


def test_kl_matches_torch_distributions():
    mu, logvar = torch.randn(7, 2), torch.randn(7, 2)
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(torch.zeros(2), torch.ones(2))
    expected = torch.distributions.kl_divergence(q, p).sum(1)
    assert torch.allclose(kl_divergence(mu, logvar), expected, atol=1e-5)


def test_bce_is_the_bernoulli_negative_log_likelihood_summed_over_pixels():
    logits, x = torch.randn(3, 1, 28, 28), torch.rand(3, 1, 28, 28)
    expected = F.binary_cross_entropy(torch.sigmoid(logits), x, reduction="none").sum((1, 2, 3))
    assert torch.allclose(reconstruction_loss(logits, x, "bce"), expected, rtol=1e-4)
    loss, recon, kl = vae_loss(
        logits, x, kl_divergence(torch.zeros(3, 2), torch.zeros(3, 2)), "bce", beta=2.0
    )
    assert kl.item() == 0 and math.isclose(loss.item(), recon.item())


@pytest.mark.parametrize("arch", ["conv", "seed", "mlp", "report"])
def test_encoder_dropout_acts_only_while_training(arch):
    """Dropout adds no parameters: a file trained with it loads into a model without it,
    and in use (eval mode) both encode identically; while training, the same image
    encodes differently on every pass, and about the asked fraction of units is zeroed."""
    torch.manual_seed(0)
    plain = VAE(VAEConfig(arch=arch))
    dropped = VAE(VAEConfig(arch=arch, dropout=0.4))
    assert list(plain.state_dict()) == list(dropped.state_dict())
    dropped.load_state_dict(plain.state_dict())
    x = torch.rand(64, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(plain.eval().encode(x)[0], dropped.eval().encode(x)[0])
        dropped.train()
        assert not torch.equal(dropped.encode(x)[0], dropped.encode(x)[0])
        hidden_plain = plain.encoder(x)
        hidden = dropped.encoder(x)
    alive = hidden_plain != 0
    zeroed = (hidden[alive] == 0).float().mean().item()
    assert zeroed == pytest.approx(0.4, abs=0.05) if arch in ("mlp", "report") else zeroed > 0.3


def test_encoder_only_training_leaves_the_decoder_and_prior_as_they_were(mnist_train_small):
    images = mnist_train_small[0][:600]
    torch.manual_seed(0)
    model = VAE(VAEConfig(arch="mlp", prior="mog", components=4, dropout=0.3))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opts = TrainOptions(epochs=1, batch_size=64, val_size=100, encoder_only=True)
    list(Trainer(model, images, opts).run())
    changed = {k.split(".")[0] for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert changed == {"encoder", "to_mu", "to_logvar"}
    assert all(p.requires_grad for p in model.parameters())  # frozen for the run only


def test_decoder_only_training_leaves_the_encoder_as_it_was(mnist_train_small):
    images = mnist_train_small[0][:600]
    torch.manual_seed(0)
    model = VAE(VAEConfig(arch="mlp", prior="mog", components=4))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opts = TrainOptions(epochs=1, batch_size=64, val_size=100, decoder_only=True)
    list(Trainer(model, images, opts).run())
    changed = {k.split(".")[0] for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert changed == {"decoder", "prior"}
    assert all(p.requires_grad for p in model.parameters())  # frozen for the run only
    for two in ({"encoder_only": True, "decoder_only": True}, {"decoder_only": True, "fixed_means": True}):
        with pytest.raises(ValueError, match="choose one of"):
            TrainOptions(**two)


def test_training_with_fixed_means_keeps_every_posterior_mean(mnist_train_small):
    images = mnist_train_small[0][:600]
    torch.manual_seed(0)
    model = VAE(VAEConfig(arch="mlp", prior="mog", components=4))
    x = torch.from_numpy(images[:50]).float().div(255).unsqueeze(1)
    with torch.no_grad():
        mu_before, logvar_before = model.encode(x)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    list(Trainer(model, images, TrainOptions(epochs=1, batch_size=64, val_size=100, fixed_means=True)).run())
    changed = {k.split(".")[0] for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert changed == {"decoder", "prior", "to_logvar"}
    with torch.no_grad():
        mu, logvar = model.encode(x)
    assert torch.equal(mu, mu_before) and not torch.allclose(logvar, logvar_before)
    assert all(p.requires_grad for p in model.parameters())


def test_the_vamp_prior_is_the_mixture_of_the_posteriors_at_its_pseudo_images():
    """log p(z) = log (1/K) sum_k N(z; mu(u_k), sigma^2(u_k)), written out with torch.distributions."""
    torch.manual_seed(5)
    model = VAE(VAEConfig(arch="mlp", prior="vamp", components=3)).eval()
    with torch.no_grad():
        model.prior.pseudo_logits.normal_(0.0, 2.0)
        pseudo = 1 / (1 + np.exp(-model.prior.pseudo_logits.numpy().astype(np.float64)))
        mu, logvar = model.encode(torch.from_numpy(pseudo).float())
        normal = torch.distributions.Normal
        parts = torch.distributions.Independent(normal(mu.double(), torch.exp(0.5 * logvar.double())), 1)
        mixture = torch.distributions.MixtureSameFamily(torch.distributions.Categorical(torch.ones(3)), parts)
        z = torch.randn(200, 2) * 1.5
        assert (logvar > -6).all()  # no component under the floor here: the textbook formula holds
        np.testing.assert_allclose(
            model.log_prior(z).numpy(), mixture.log_prob(z.double()).numpy(), rtol=1e-5, atol=1e-4
        )


def test_a_trained_vamp_prior_is_saved_as_the_mixture_it_encodes_to(tmp_path, mnist_train_small):
    from vaedesk import load_model
    from vaedesk.core import weights

    images = mnist_train_small[0][:600]
    torch.manual_seed(0)
    model = VAE(VAEConfig(arch="mlp", prior="vamp", components=4, dropout=0.2))
    trainer = Trainer(model, images, TrainOptions(epochs=1, batch_size=64, val_size=100))
    started = torch.sigmoid(model.prior.pseudo_logits.detach()).flatten(1)
    real = torch.from_numpy(images).float().div(255).flatten(1).clamp(0.05, 0.95)
    nearest = (started[:, None] - real[None]).abs().amax(dim=-1).min(dim=1).values
    assert nearest.max() < 1e-5  # each starts at a training image
    list(trainer.run())
    assert not torch.allclose(torch.sigmoid(model.prior.pseudo_logits.detach()).flatten(1), started)
    with pytest.raises(ValueError, match="settle_prior"):
        weights.save(tmp_path / "unsettled.safetensors", model, {})
    z = torch.randn(100, 2) * 2
    with torch.no_grad():
        before = model.eval().log_prior(z)
        model.settle_prior()
        assert model.config.prior == "mog" and model.config.components == 4
        np.testing.assert_allclose(model.log_prior(z).numpy(), before.numpy(), rtol=1e-5, atol=1e-5)
    weights.save(tmp_path / "m.safetensors", model, {})
    loaded = load_model(tmp_path / "m.safetensors")
    assert loaded.prior.describe() == "a mixture of 4 Gaussians"
    np.testing.assert_allclose(loaded.prior.log_density(z.numpy()), before.numpy(), rtol=1e-5, atol=1e-4)


def test_config_rejects_unknown_values():
    with pytest.raises(ValueError, match="unknown architecture"):
        VAEConfig(arch="transformer")
    with pytest.raises(ValueError, match="beta"):
        VAEConfig(beta=float("nan"))
    for p in (-0.1, 1.0, float("nan")):
        with pytest.raises(ValueError, match="dropout"):
            VAEConfig(dropout=p)


def small_run(images, seed=0, **kw):
    torch.manual_seed(seed)
    model = VAE(VAEConfig(arch=kw.pop("arch", "mlp")))
    opts = TrainOptions(
        **{"epochs": 2, "batch_size": 64, "val_size": 200, "seed": seed, "log_every": 5, **kw}
    )
    trainer = Trainer(model, images, opts)
    events = list(trainer.run())
    return model, trainer, events


def test_training_loss_falls_and_reports_progress(mnist_train_small):
    images = mnist_train_small[0][:1200]
    model, trainer, events = small_run(images, epochs=3)
    epochs = [e for e in events if isinstance(e, EpochResult)]
    batches = [e for e in events if isinstance(e, BatchProgress)]
    assert [e.epoch for e in epochs] == [1, 2, 3] and batches
    assert epochs[-1].val_loss < epochs[0].val_loss < 543  # 543.4 = 784 ln 2, a blank guess
    assert trainer.stop_reason == "completed" and trainer.best_state is not None
    assert batches[-1].eta == pytest.approx(0, abs=1e-6)


def test_same_seed_same_weights(mnist_train_small):
    images = mnist_train_small[0][:600]
    a, *_ = small_run(images, seed=3)
    b, *_ = small_run(images, seed=3)
    c, *_ = small_run(images, seed=4)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name
    assert not all(
        torch.equal(pa, pc) for pa, pc in zip(a.state_dict().values(), c.state_dict().values(), strict=True)
    )


def test_stop_request_ends_the_run_within_one_batch(mnist_train_small):
    images = mnist_train_small[0][:2000]
    torch.manual_seed(0)
    model = VAE(VAEConfig(arch="mlp"))
    trainer = Trainer(model, images, TrainOptions(epochs=5, batch_size=50, val_size=200, log_every=1))
    stop = [False]
    seen = []
    for event in trainer.run(should_stop=lambda: stop[0]):
        seen.append(event)
        if isinstance(event, BatchProgress) and event.batch == 7:
            stop[0] = True
    assert trainer.stop_reason == "cancelled"
    assert seen[-1].batch == 7  # no batch ran after the request


def test_divergence_raises_and_keeps_the_best_weights(mnist_train_small):
    images = mnist_train_small[0][:600]
    torch.manual_seed(0)
    model = VAE(VAEConfig(arch="mlp"))
    trainer = Trainer(model, images, TrainOptions(epochs=3, batch_size=100, val_size=100))
    run = trainer.run()
    while not isinstance(next(run), EpochResult):  # finish epoch 1
        pass
    assert trainer.best_state is not None
    with torch.no_grad():
        model.to_mu.weight.fill_(float("nan"))  # what a too-large step does to the weights
    with pytest.raises(TrainingDiverged, match="lower learning rate"):
        list(run)
    trainer.restore_best()
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_early_stopping_with_patience(mnist_train_small):
    images = mnist_train_small[0][:600]
    _, trainer, events = small_run(images, epochs=30, patience=1, lr=3e-2, lr_schedule="constant")
    assert trainer.stop_reason == "early stopping"
    assert len(trainer.history) == trainer.best_epoch + 1 < 30


@pytest.mark.parametrize("epochs, reason", [(1, "completed"), (3, "time limit")])
def test_a_time_limit_crossed_in_the_last_epoch_is_still_completed(mnist_train_small, epochs, reason):
    images = mnist_train_small[0][:600]
    _, trainer, _ = small_run(images, epochs=epochs, time_limit=1e-6)  # crossed by the first epoch
    assert trainer.stop_reason == reason and len(trainer.history) == 1


def test_the_learning_rate_warms_up_linearly_then_follows_its_schedule(mnist_train_small):
    """600 images less 200 for validation are 7 batches of 64 an epoch, so a 14-batch warm-up
    ends with the second epoch: the first ends at 7/14 of the rate, the second at all of it."""
    images = mnist_train_small[0][:600]
    _, _, events = small_run(images, epochs=3, lr=1e-3, lr_schedule="constant", lr_warmup=14)
    epochs = [e for e in events if isinstance(e, EpochResult)]
    assert [e.lr for e in epochs] == pytest.approx([1e-3 * 7 / 14, 1e-3, 1e-3])
    _, _, cosine = small_run(images, epochs=3, lr=1e-3, lr_warmup=1)  # warm-up of one batch: none
    _, _, plain = small_run(images, epochs=3, lr=1e-3)
    assert [e.lr for e in cosine if isinstance(e, EpochResult)] == [
        e.lr for e in plain if isinstance(e, EpochResult)
    ]
    with pytest.raises(ValueError, match="warm-up"):
        TrainOptions(lr_warmup=-1)


def test_free_bits_hold_the_kl_up_against_a_heavy_kl_weight(mnist_train_small):
    """At beta = 80 the KL term drives every posterior onto the prior; with 3 free nats it
    gives no gradient below 3, so the KL settles just under 3 (the full weight pushes down
    hard on batches above it, nothing pushes on those below) instead of 0. The reported
    validation loss stays the true ELBO: reconstruction plus beta times the KL."""
    images = mnist_train_small[0][:1200]
    results = {}
    for bits in (0.0, 3.0):
        torch.manual_seed(0)
        model = VAE(VAEConfig(arch="mlp", beta=80.0, prior="normal"))
        opts = TrainOptions(epochs=3, batch_size=64, val_size=200, free_bits=bits)
        results[bits] = [e for e in Trainer(model, images, opts).run() if isinstance(e, EpochResult)][-1]
    assert results[0.0].val_kl < 0.5  # collapsed
    assert 1.5 < results[3.0].val_kl < 3.5 and 1.5 < results[3.0].train_kl < 3.5
    last = results[3.0]
    assert last.val_loss == pytest.approx(last.val_recon + 80.0 * last.val_kl, rel=1e-5)
    with pytest.raises(ValueError, match="importance"):
        TrainOptions(free_bits=2.0, iw_samples=4)
    with pytest.raises(ValueError, match="free bits"):
        TrainOptions(free_bits=-1.0)


def test_validation_split_is_never_trained_on():
    from vaedesk.core.train import split_train_val

    train, val = split_train_val(1000, 100, seed=1)
    assert len(set(train) | set(val)) == 1000 and not set(train) & set(val)
    with pytest.raises(ValueError):
        split_train_val(10, 10, seed=1)


def test_iwae_is_tighter_than_the_elbo(mnist_train_small):
    images = mnist_train_small[0][:1200]
    model, _, _ = small_run(images, epochs=2)
    sample = images[-200:]
    elbo = negative_elbo(model, sample)["neg_elbo"]
    iwae = iwae_bound(model, sample, k=32)
    assert iwae < elbo
    assert abs(iwae_bound(model, sample, k=1) - elbo) < 0.02 * elbo  # k=1 is the ELBO


def test_amortization_gap_measures_the_encoder(mnist_train_small):
    """Optimising each image's posterior lowers its -ELBO, but never below -log p(x),
    which a 2-D model's IWAE bound with k = 2,000 estimates closely; an encoder whose
    heads were reset has a far larger gap over the same decoder; the networks are left as
    they were."""
    images = mnist_train_small[0][:1200]
    model, _, _ = small_run(images, epochs=2)
    sample = images[-40:]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    gap = amortization_gap(model, sample, steps=200)
    assert gap["optimized"] < gap["amortized"] and gap["gap"] == gap["amortized"] - gap["optimized"]
    assert gap["optimized"] > iwae_bound(model, sample, k=2000) - 1.0
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    assert all(p.requires_grad for p in model.parameters())
    torch.manual_seed(1)
    model.to_mu.reset_parameters()
    model.to_logvar.reset_parameters()
    worse = amortization_gap(model, sample, steps=200)
    assert worse["gap"] > gap["gap"] + 20


def test_iwae_on_onnx_runtime_matches_torch(mnist_train_small):
    from vaedesk.core.evaluate import onnx_decoder

    images = mnist_train_small[0][:1200]
    model, _, _ = small_run(images, epochs=1)
    sample = images[-100:]
    decoder = onnx_decoder(model)
    assert decoder is not None
    on_torch, on_onnx = iwae_bound(model, sample, k=16), iwae_bound(model, sample, k=16, decoder=decoder)
    assert on_onnx == pytest.approx(on_torch, abs=1e-3)  # same samples, decoders agree to 1e-5


def textbook_iwae(model, x, p, z, mu, logvar):
    """The IWAE bound (Burda et al. 2016) written out with torch.distributions, not the
    model's own log_prior: x (B, 784) in [0, 1], p (k, B, 784) the decoder's Bernoulli means
    at the k samples z (k, B, D) of q(z | x) = N(mu, exp(logvar)). Returns the bound and its
    three log terms (k, B)."""
    import math

    k = z.shape[0]
    log_px = (x * p.log() + (1 - x) * (1 - p).log()).sum(-1)
    normal = torch.distributions.Normal
    if model.config.prior == "normal":
        log_pz = normal(0.0, 1.0).log_prob(z).sum(-1)
    else:
        m = model.prior
        parts = torch.distributions.Independent(normal(m.means, torch.exp(0.5 * m.logvars)), 1)
        mixture = torch.distributions.Categorical(logits=m.logits)
        log_pz = torch.distributions.MixtureSameFamily(mixture, parts).log_prob(z)
    log_qz = normal(mu, torch.exp(0.5 * logvar)).log_prob(z).sum(-1)
    expected = -(torch.logsumexp(log_px + log_pz - log_qz, 0) - math.log(k)).mean().item()
    return expected, log_px, log_pz, log_qz


@pytest.mark.parametrize("prior", ["normal", "mog"])
def test_iwae_by_hand_on_a_tiny_batch(prior):
    """The chunked, broadcast computation against the textbook formula, written out here."""
    torch.manual_seed(3)
    model = VAE(VAEConfig(arch="mlp", prior=prior, components=3)).eval()
    images = np.random.default_rng(4).integers(0, 256, (3, 28, 28)).astype(np.uint8)
    k = 5
    x = torch.from_numpy(images).float().div(255).flatten(1)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        mu, logvar = model.encode(x.view(-1, 1, 28, 28))
        z = mu + torch.randn((k, *mu.shape), generator=gen) * torch.exp(0.5 * logvar)
        p = torch.sigmoid(model.decode_logits(z.flatten(0, 1))).view(k, 3, 784).double()
        expected, _, _, _ = textbook_iwae(model, x, p, z, mu, logvar)
    assert iwae_bound(model, images, k=k) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("prior", ["normal", "mog"])
def test_the_iwae_training_objective_by_hand(prior):
    """`--iw-samples`: the loss the optimiser sees against the textbook IWAE bound on the
    same posterior samples, and its gradient reaching the encoder and the decoder."""
    torch.manual_seed(5)
    model = VAE(VAEConfig(arch="mlp", prior=prior, components=3))
    x = torch.from_numpy(np.random.default_rng(6).random((4, 1, 28, 28), dtype=np.float32))
    k = 6
    torch.manual_seed(7)
    loss, recon, kl = model.losses(x, samples=k)
    torch.manual_seed(7)
    with torch.no_grad():
        mu, logvar = model.encode(x)
        z = mu + torch.randn((k, *mu.shape)) * torch.exp(0.5 * logvar)
        p = torch.sigmoid(model.decode_logits(z.flatten(0, 1))).view(k, 4, 784).double()
        expected, log_px, log_pz, log_qz = textbook_iwae(model, x.flatten(1).double(), p, z, mu, logvar)
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    assert recon.item() == pytest.approx(-log_px.mean().item(), rel=1e-5)
    assert kl.item() == pytest.approx((log_qz - log_pz).mean().item(), rel=1e-4, abs=1e-4)
    assert loss.item() < recon.item() + kl.item()  # log of a mean above the mean of logs
    loss.backward()
    assert model.to_logvar.weight.grad.abs().sum() > 0 and model.decoder[0].weight.grad.abs().sum() > 0


def test_iwae_training_validates_on_its_own_bound(mnist_train_small):
    images = mnist_train_small[0][:600]
    torch.manual_seed(0)
    model = VAE(VAEConfig(arch="mlp"))
    trainer = Trainer(model, images, TrainOptions(epochs=1, batch_size=64, val_size=200, iw_samples=8))
    epoch = [r for r in trainer.run() if isinstance(r, EpochResult)][0]
    assert math.isfinite(epoch.train_loss) and epoch.val_loss < epoch.val_recon + epoch.val_kl
    # the evaluation's own estimator, other noise, on the same images and model
    val_images = trainer.x_val.squeeze(1).numpy()
    assert epoch.val_loss == pytest.approx(iwae_bound(model, val_images, k=8, seed=1), abs=0.5)
    assert epoch.val_loss < iwae_bound(model, val_images, k=1, seed=1) - 0.5
    with pytest.raises(ValueError, match="importance samples"):
        TrainOptions(iw_samples=0)


def test_binarized_images_are_zeros_and_ones_drawn_with_the_intensity():
    from vaedesk.core.evaluate import binarized

    images = np.random.default_rng(0).integers(0, 256, (2000, 28, 28)).astype(np.uint8)
    b = binarized(images, seed=1)
    assert set(np.unique(b)) == {0.0, 1.0} and b.dtype == np.float32
    np.testing.assert_array_equal(b, binarized(images, seed=1))  # fixed by its seed
    grey = images == 128
    assert abs(b[grey].mean() - 128 / 255) < 0.01
    assert b[images == 0].max() == 0 and b[images == 255].min() == 1


def test_binarized_training_sees_only_zeros_and_ones(mnist_train_small):
    images = mnist_train_small[0][:600]
    torch.manual_seed(0)
    model = VAE(VAEConfig(arch="mlp"))
    trainer = Trainer(model, images, TrainOptions(epochs=1, batch_size=100, val_size=100, binarize=True))
    seen, losses = set(), model.losses
    model.losses = lambda x, *a, **kw: (seen.update(torch.unique(x).tolist()), losses(x, *a, **kw))[1]
    list(trainer.run())
    assert seen == {0.0, 1.0} and set(torch.unique(trainer.x_val).tolist()) == {0.0, 1.0}
    assert len(np.unique(images[:100])) > 2  # the images themselves are grey-levelled


def test_evaluation_reports_progress_to_the_end_of_each_stage(mnist_train_small, mnist_test):
    images, labels = mnist_train_small
    model, _, _ = small_run(images[:1000], epochs=1)
    seen: dict[str, list[tuple[int, int]]] = {}
    test = (mnist_test[0][:300], mnist_test[1][:300])
    evaluate(
        model,
        test,
        (images, labels),
        k_iwae=8,
        progress=lambda s, d, t: seen.setdefault(s, []).append((d, t)),
    )
    assert set(seen) == {"-ELBO", "IWAE k=8", "5-NN"}
    for stage, steps in seen.items():
        done = [d for d, _ in steps]
        assert done == sorted(done) and steps[-1][0] == steps[-1][1], stage
    assert seen["IWAE k=8"][-1] == (300, 300) and seen["5-NN"][-1] == (len(images), len(images))


def test_knn_search_on_torch_and_numpy_agree():
    from vaedesk.core.evaluate import torch_search
    from vaedesk.core.neighbours import nearest

    rng = np.random.default_rng(5)
    ref, query = rng.normal(size=(3000, 2)), rng.normal(size=(400, 2))
    d = np.sqrt(((query[:, None, :] - ref[None]) ** 2).sum(-1))
    brute = np.argsort(d, axis=1)[:, :5]
    np.testing.assert_array_equal(nearest(ref, query, 5), brute)
    # float32 may swap two neighbours at equal distance: compare how far they are
    found = torch_search(ref, query, 5)
    np.testing.assert_allclose(np.take_along_axis(d, found, 1), np.take_along_axis(d, brute, 1), atol=1e-5)


def test_knn_predicts_well_separated_clusters():
    rng = np.random.default_rng(0)
    centers = rng.normal(scale=10, size=(10, 2))
    labels = np.repeat(np.arange(10), 50)
    ref = centers[labels] + rng.normal(scale=0.1, size=(500, 2))
    query = centers + 0.05
    assert (knn_predict(ref, labels, query, k=5) == np.arange(10)).all()


def test_evaluate_reports_every_metric(mnist_train_small, mnist_test):
    images, labels = mnist_train_small
    model, _, _ = small_run(images[:1000], epochs=1)
    m = evaluate(model, (mnist_test[0][:300], mnist_test[1][:300]), (images, labels), k_iwae=4)
    present = sorted(set(mnist_test[1][:300].tolist()))
    recalls = {f"knn5_recall_{d}" for d in present}
    assert set(m) == {"n_test", "neg_elbo", "recon", "kl", "iwae_k4", "iwae_k4_se", "knn5_accuracy"} | recalls
    assert 0 < m["iwae_k4_se"] < 0.5 * m["iwae_k4"] / 300**0.5  # the per-image spread over sqrt(n)
    assert m["neg_elbo"] == pytest.approx(m["recon"] + m["kl"])
    assert 0.1 < m["knn5_accuracy"] <= 1
    # each digit's share right, weighted by how many test images it has, is the accuracy
    counts = np.bincount(mnist_test[1][:300], minlength=10)
    weighted = sum(counts[d] * m[f"knn5_recall_{d}"] for d in present) / 300
    assert weighted == pytest.approx(m["knn5_accuracy"], abs=1e-9)


def test_recall_by_class_counts_each_digits_share_right():
    labels = np.array([4, 4, 4, 4, 9, 9, 1])
    guessed = np.array([4, 9, 4, 9, 9, 4, 1])  # 4: 2 of 4 right, 9: 1 of 2, 1: 1 of 1
    assert recall_by_class(labels, guessed) == {1: 1.0, 4: 0.5, 9: 0.5}


@pytest.mark.slow
def test_real_mnist_short_run_learns(real_mnist_dir):
    """A short run of the default architecture on real MNIST: the loss really falls."""
    from vaedesk.core import data

    images, labels = data.load_split(real_mnist_dir, "train")
    torch.manual_seed(0)
    model = VAE(VAEConfig())
    trainer = Trainer(model, images[:6000], TrainOptions(epochs=2, val_size=1000, log_every=10))
    epochs = [e for e in trainer.run() if isinstance(e, EpochResult)]
    # 543.4 nats (784 ln 2) is a blank guess; two short epochs more than halve it.
    assert epochs[-1].val_loss < epochs[0].val_loss < 543 and epochs[-1].val_loss < 0.5 * 543
