"""Nearest neighbours in latent space, in numpy (the viewer guesses digits without torch)."""

from __future__ import annotations

import numpy as np


def knn_predict(
    ref: np.ndarray, ref_labels: np.ndarray, query: np.ndarray, k: int = 5, chunk: int = 250
) -> np.ndarray:
    """Majority label of the k nearest reference points (ties go to the nearer neighbours)."""
    ref = np.asarray(ref, np.float64)
    labels = np.asarray(ref_labels, np.int64)
    query = np.atleast_2d(np.asarray(query, np.float64))
    k = min(k, len(ref))
    # Nearer neighbours get slightly more weight, so a tied vote goes to the closest.
    weights = 1.0 + 1e-3 * np.arange(k, 0, -1)
    ref_sq = (ref**2).sum(axis=1)
    out = np.empty(len(query), np.int64)
    for start in range(0, len(query), chunk):
        q = query[start : start + chunk]
        d = ref_sq[None, :] - 2.0 * (q @ ref.T) + (q**2).sum(axis=1)[:, None]  # (C, R) squared
        some = np.argpartition(d, k - 1, axis=1)[:, :k]  # the k nearest, in no order
        nearest = np.take_along_axis(some, np.take_along_axis(d, some, 1).argsort(axis=1), 1)
        votes = np.zeros((len(q), 10))
        np.add.at(votes, (np.arange(len(q))[:, None], labels[nearest]), weights)
        out[start : start + len(q)] = votes.argmax(axis=1)
    return out


def knn_accuracy(
    train_mu: np.ndarray, train_labels: np.ndarray, test_mu: np.ndarray, test_labels: np.ndarray, k: int = 5
) -> float:
    """How well the latent space separates digits: k-NN accuracy of test means vs train means."""
    return float((knn_predict(train_mu, train_labels, test_mu, k) == test_labels).mean())
