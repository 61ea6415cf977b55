"""The neighbour-embedding term (`train --neighbours`): its neighbour search, its loss, and
what it does to a trained map, each checked against a computation of its own."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vaedesk.core.embedding import NEIGHBOURS, contrastive_loss, neighbour_graph
from vaedesk.core.model import VAE, VAEConfig
from vaedesk.core.train import Trainer, TrainOptions, as_tensor, intensities, split_train_val


def test_the_neighbour_graph_is_a_brute_force_search_where_pca_loses_nothing():
    """Points on a 12-dimensional subspace of the 784 pixels: the 50 principal components
    keep every distance, so the graph is the plain nearest-neighbour search, in float64
    and in numpy, each point's own index left out."""
    rng = np.random.default_rng(0)
    basis, _ = np.linalg.qr(rng.normal(size=(784, 12)))  # orthonormal columns
    points = rng.normal(size=(500, 12)) @ basis.T + 0.3  # off the origin: the centring matters
    graph = neighbour_graph(torch.from_numpy(points.reshape(500, 1, 28, 28)).float(), k=7, chunk=64)
    d = ((points[:, None, :] - points[None, :, :]) ** 2).sum(axis=-1)
    np.fill_diagonal(d, np.inf)
    expected = np.argsort(d, axis=1)[:, :7]
    assert graph.shape == (500, 7)
    assert (graph.numpy() == expected).mean() > 0.999  # a float32 near-tie may swap two
    assert (graph.numpy() != np.arange(500)[:, None]).all()
    with pytest.raises(ValueError, match="cannot each have"):
        neighbour_graph(torch.zeros(5, 1, 28, 28), k=5)


def test_the_pixel_neighbours_of_a_real_digit_are_mostly_the_same_digit(real_mnist_test):
    """What the term rests on: on the 10,000 real test digits, nine neighbours in ten show
    the same digit (the labels never go in), against one in ten by chance."""
    images, labels = real_mnist_test
    graph = neighbour_graph(as_tensor(images)).numpy()
    assert graph.shape == (len(images), NEIGHBOURS)
    assert (labels[graph] == labels[:, None]).mean() > 0.9


def test_the_contrastive_loss_by_hand():
    """Three pairs in 2-D, the loss written out term by term in plain Python."""
    rng = np.random.default_rng(1)
    a, p = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    points = [*a, *p]
    partner = [3, 4, 5, 0, 1, 2]

    def q(i: int, j: int) -> float:
        return 1 / (1 + float(np.sum((points[i] - points[j]) ** 2)))

    by_hand = np.mean(
        [-math.log(q(i, partner[i]) / sum(q(i, m) for m in range(6) if m != i)) for i in range(6)]
    )
    got = contrastive_loss(torch.from_numpy(a), torch.from_numpy(p))
    assert got.item() == pytest.approx(by_hand, rel=1e-9)
    far = contrastive_loss(torch.tensor([[0.0, 0.0], [50.0, 0.0]]), torch.tensor([[0.1, 0.0], [50.0, 0.1]]))
    assert far.item() < 1e-3  # each partner near, every other point far: nothing to gain
    a_t = torch.from_numpy(a).requires_grad_()
    contrastive_loss(a_t, torch.from_numpy(a.copy())).backward()  # coincident pairs: finite
    assert torch.isfinite(a_t.grad).all()


def _map_after(images: np.ndarray, weight: float) -> tuple[np.ndarray, Trainer]:
    torch.manual_seed(0)
    model = VAE(VAEConfig(arch="mlp"))
    opts = TrainOptions(epochs=5, batch_size=64, val_size=500, lr=2e-3, free_bits=2, neighbours=weight)
    trainer = Trainer(model, images, opts)
    list(trainer.run())
    trainer.restore_best()
    with torch.no_grad():
        mu, _ = model.encode(intensities(trainer.x_train))  # stored as bytes
    return mu.numpy(), trainer


def test_the_term_pulls_pixel_neighbours_together_and_the_digits_apart(real_mnist_test):
    """3,000 real digits, a small model, five epochs with and without the term (at a weight
    that matters against a reconstruction of ~180 nats): with it, an image's pixel-space
    neighbours lie nearer to it on the map, against the map's typical distance, and
    images of one digit gather (5-NN among the training means, each point's own vote left
    out, from the labels the term never sees). The ELBO is what is validated on."""
    images, labels = real_mnist_test[0][:3000], real_mnist_test[1][:3000]
    measured = {}
    for weight in (0.0, 128.0):
        mu, trainer = _map_after(images, weight)
        graph = neighbour_graph(trainer.x_train).numpy()
        gaps = np.linalg.norm(mu[:, None, :] - mu[None, :, :], axis=-1)
        near = np.take_along_axis(gaps, graph, axis=1).mean() / gaps.mean()
        np.fill_diagonal(gaps, np.inf)
        train_labels = labels[split_train_val(len(labels), 500, 0)[0]]
        votes = train_labels[np.argsort(gaps, axis=1)[:, :5]]
        majority = np.array([np.bincount(v, minlength=10).argmax() for v in votes])
        knn = (majority == train_labels).mean()
        measured[weight] = near, knn
        last = trainer.history[-1]
        assert (last.train_neighbours > 0) == bool(weight)
        assert last.val_loss == pytest.approx(last.val_recon + last.val_kl, rel=1e-5)
    assert measured[128.0][0] < 0.9 * measured[0.0][0]
    assert measured[128.0][1] > measured[0.0][1] + 0.05


def test_the_term_is_refused_where_the_means_are_fixed():
    for stage in ("fixed_means", "decoder_only"):
        with pytest.raises(ValueError, match="keeps fixed"):
            TrainOptions(neighbours=1.0, **{stage: True})
    for bad in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="neighbour"):
            TrainOptions(neighbours=bad)


def test_a_stop_request_ends_the_neighbour_search(mnist_train_small):
    """Cancel while the neighbours are being found (tens of seconds on all of MNIST): the run
    ends without an epoch, as a cancelled one; too few images to have neighbours are refused
    before it starts."""
    images = mnist_train_small[0][:600]
    trainer = Trainer(VAE(VAEConfig(arch="mlp")), images, TrainOptions(val_size=100, neighbours=8))
    assert list(trainer.run(should_stop=lambda: True)) == []
    assert trainer.stop_reason == "cancelled" and trainer.graph is None and trainer.best_state is None
    with pytest.raises(ValueError, match="too few"):
        Trainer(VAE(VAEConfig(arch="mlp")), images[:110], TrainOptions(val_size=100, neighbours=8))
