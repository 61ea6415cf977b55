"""What a conditional model's style latent holds, measured on the test set.

A conditional VAE (`VAEConfig.conditional`) is given the digit, so its latent should keep
only the style. Two measures say whether it does:

- *the digit is decodable in every style*: each test image's style (its posterior mean,
  encoded with its own digit) decoded as each of the ten digits; the bundled classifier
  should read the intended digit in nearly all of these 10 x N images;
- *the latent holds style, not identity*: the 5-NN digit accuracy on the style latent
  (`evaluate.evaluate`'s `knn5_accuracy` for a conditional model) should be near chance
  (10 %), where the unconditional map's is 96 %.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import torch

from vaedesk.core.config import DIGITS
from vaedesk.core.model import VAE

if TYPE_CHECKING:
    from vaedesk.core.classify import Classifier

STYLES_PER_CALL = 500  # styles decoded per call: 5,000 images, 16 MB of pixels


def all_digits(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Styles (N, D) -> every style repeated as each digit: points (10 N, D) style-major,
    and their digits (10 N,) 0-9, 0-9, ..."""
    z = np.asarray(z, np.float32).reshape(len(z), -1)
    return np.repeat(z, DIGITS, axis=0), np.tile(np.arange(DIGITS), len(z))


@torch.no_grad()
def decode_all_digits(model: VAE, z: np.ndarray) -> np.ndarray:
    """Styles (N, D) -> images (N, 10, 28, 28): each style drawn as the digits 0-9."""
    points, digits = all_digits(z)
    images = model.eval().decode(torch.from_numpy(points), torch.from_numpy(digits))
    return images[:, 0].numpy().reshape(len(z), DIGITS, 28, 28)


def decodable_in_every_style(
    model: VAE,
    images: np.ndarray,
    labels: np.ndarray,
    classifier: Classifier | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, float]:
    """The share of the 10 N images (every test style as every digit) in which the
    classifier (default: the bundled one) reads the intended digit, overall and digit by
    digit; {} when there is no usable classifier."""
    from vaedesk.core.classify import Classifier, ClassifierError
    from vaedesk.core.evaluate import encode_means

    if classifier is None:
        try:
            classifier = Classifier.load()
        except ClassifierError:
            return {}
    styles, _ = encode_means(model, images, labels=labels)
    right = np.zeros(DIGITS)
    for start in range(0, len(styles), STYLES_PER_CALL):
        drawn = decode_all_digits(model, styles[start : start + STYLES_PER_CALL])  # (B, 10, 28, 28)
        read = classifier.probabilities(drawn.reshape(-1, 28, 28)).argmax(axis=1).reshape(len(drawn), DIGITS)
        right += (read == np.arange(DIGITS)).sum(axis=0)
        if progress is not None:
            progress("every style", min(start + STYLES_PER_CALL, len(styles)), len(styles))
    n = max(len(styles), 1)
    return {
        "decodable_every_style": float(right.sum() / (n * DIGITS)),
        **{f"decodable_as_{d}": float(right[d] / n) for d in range(DIGITS)},
    }
