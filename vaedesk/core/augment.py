"""Small random affine distortions of digit images, for training an encoder that
generalises (Simard et al. 2003 distort MNIST digits for the same reason).

A VAE's encoder trained on the images alone fits them far better than new ones: the
previous bundled model's amortization gap was 7.06 nats on test images against 2.04 on
training ones (README, "The bundled model"). Distorted copies give it more images to
learn from. Each image gets its own rotation, scale and shear, about the image centre,
drawn afresh every batch; no shift, since MNIST digits are centred by their centre of
mass and the test set is too. The decoder then also learns to draw distorted digits,
which it never has to: the bundled model is trained with them, then its decoder alone
on the images themselves (`TrainOptions.decoder_only`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

MAX_ROTATION = math.radians(10)  # either way
MAX_SCALE = 0.10  # a factor from 0.9 to 1.1
MAX_SHEAR = 0.15  # x moves by up to 0.15 y, either way


def random_affine(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Images (B, 1, 28, 28) in [0, 1] -> the same images, each distorted by its own random
    rotation, scale and shear (bilinear, zero outside the frame), still in [0, 1]."""
    b = len(x)

    def uniform(limit: float) -> torch.Tensor:  # (B,) in [-limit, limit]
        return (torch.rand(b, generator=generator) * 2 - 1) * limit

    angle, scale, shear = uniform(MAX_ROTATION), 1 + uniform(MAX_SCALE), uniform(MAX_SHEAR)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    # The sampling grid maps output coordinates to input ones: the inverse of rotating by
    # `angle` and scaling by `scale`, then a shear of x by y.
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0] = cos
    theta[:, 0, 1] = -sin + shear * cos
    theta[:, 1, 0] = sin
    theta[:, 1, 1] = cos + shear * sin
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)  # (B, 28, 28, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
