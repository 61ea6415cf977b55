"""The random distortions that `train --augment` gives the training images."""

from __future__ import annotations

import numpy as np
import torch

from vaedesk.core.augment import random_affine
from vaedesk.core.model import VAE, VAEConfig
from vaedesk.core.train import Trainer, TrainOptions, as_tensor


def moments(x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Each image's total ink (B,) and centre of mass in pixels (B, 2), computed in numpy."""
    a = x[:, 0].numpy().astype(np.float64)
    rows, cols = np.mgrid[0:28, 0:28]
    ink = a.sum(axis=(1, 2))
    centre = np.stack([(a * rows).sum(axis=(1, 2)), (a * cols).sum(axis=(1, 2))], axis=1) / ink[:, None]
    return ink, centre


def test_each_image_is_distorted_on_its_own_and_stays_in_place(real_mnist_dir):
    from vaedesk.core import data

    images, _ = data.load_split(real_mnist_dir, "train")
    x = as_tensor(images[:500])
    y = random_affine(x, torch.Generator().manual_seed(3))
    assert y.shape == x.shape and y.dtype == torch.float32
    assert y.min() >= 0 and y.max() <= 1
    # Every image changed, and each by its own amount.
    change = (y - x).abs().flatten(1).sum(1).numpy()
    assert change.min() > 1.0 and change.std() > 0.2 * change.mean()
    ink, centre = moments(x)
    ink_after, centre_after = moments(y)
    # A scale by s changes the ink by s^2, from 0.81 to 1.21 (rotation and shear keep it).
    ratio = ink_after / ink
    assert ratio.min() > 0.75 and ratio.max() < 1.3 and ratio.std() > 0.03
    # Distorted about the frame's centre, with no shift: MNIST digits are centred by their
    # centre of mass, which stays within a pixel and a half.
    assert np.abs(centre_after - centre).max() < 1.5
    # Seeded: the same generator gives the same distortions.
    torch.testing.assert_close(random_affine(x, torch.Generator().manual_seed(3)), y)


def test_training_sees_distorted_images_and_validates_on_untouched_ones(mnist_train_small):
    images = mnist_train_small[0][:600]
    originals = {tuple(row) for row in as_tensor(images).flatten(1).numpy().round(4)}

    def trained_on(augment: bool) -> tuple[int, int]:
        torch.manual_seed(0)
        model = VAE(VAEConfig(arch="mlp"))
        options = TrainOptions(epochs=1, batch_size=100, val_size=100, augment=augment)
        trainer = Trainer(model, images, options)
        seen, losses = [], model.losses

        def spy(x: torch.Tensor, *args, **kwargs):  # the batches trained on, not the validation
            if model.training:
                seen.append(x.flatten(1).numpy().round(4))
            return losses(x, *args, **kwargs)

        model.losses = spy
        list(trainer.run())
        rows = [tuple(r) for r in np.concatenate(seen)]
        assert all(tuple(r) in originals for r in trainer.x_val.flatten(1).numpy().round(4))
        return len(rows), sum(r in originals for r in rows)

    assert trained_on(augment=False) == (500, 500)
    assert trained_on(augment=True) == (500, 0)
