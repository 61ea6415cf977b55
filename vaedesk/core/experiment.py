"""The report's augmentation experiment ("Generate Digit Images using VAE", Table 5): does
a classifier learn better from real digits plus digits a VAE generated?

1. The training set is split in two halves with a seeded permutation.
2. A VAE is trained on the first half.
3. New digits: encodings (posterior means) of first-half images plus Gaussian noise,
   decoded, each labelled with its source image's label.
4. For each fraction of the second half (20, 50 and 100 % in the report), the digit
   classifier is trained on those real digits plus as many generated ones, and on the real
   digits alone; both are scored on the MNIST test set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from vaedesk.core.classifier import ClassifierOptions, accuracy, train_classifier
from vaedesk.core.config import VAEConfig
from vaedesk.core.evaluate import encode_means
from vaedesk.core.model import VAE
from vaedesk.core.train import Trainer, TrainOptions

REPORT = {0.2: 97.50, 0.5: 98.34, 1.0: 98.70}  # the report's Table 5, test accuracy in %


@dataclass(frozen=True)
class AugmentSettings:
    fractions: tuple[float, ...] = (0.2, 0.5, 1.0)
    vae: VAEConfig = field(
        default_factory=lambda: VAEConfig(arch="report", latent_dim=20, loss="mse", prior="normal")
    )
    vae_epochs: int = 10
    noise: float = 0.5  # standard deviation of the noise added to each encoding
    classifier_epochs: int = 12
    seed: int = 0


@dataclass(frozen=True)
class AugmentRow:
    fraction: float
    real: int
    generated: int
    accuracy_with: float
    accuracy_without: float
    report: float | None


Step = Callable[[str], None]  # called with what starts next, for a progress bar


def generate(
    model: VAE, images: np.ndarray, labels: np.ndarray, n: int, noise: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """n new digits: the means of randomly chosen source images plus N(0, noise^2) noise,
    decoded; (images (n, 28, 28) float32 in [0, 1], the sources' labels)."""
    rng = np.random.default_rng(seed)
    mu, _ = encode_means(model, images)
    source = rng.integers(0, len(images), n)
    z = mu[source] + noise * rng.standard_normal((n, mu.shape[1])).astype(np.float32)
    with torch.no_grad():
        decoded = torch.cat([model.decode(torch.from_numpy(z[s : s + 1000])) for s in range(0, n, 1000)])
    return decoded[:, 0].numpy(), labels[source]


def images_needed(settings: AugmentSettings) -> int:
    """The fewest training images the experiment can run on: each classifier carves a
    validation fifth from its real digits (so needs 5 at the smallest fraction), and the
    VAE a tenth of the first half (so 10)."""
    n = 2
    while True:
        first, second = n // 2, n - n // 2
        if first >= 10 and round(min(settings.fractions) * second) >= 5:
            return n
        n += 1


def run_augment(
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    settings: AugmentSettings,
    step: Step = lambda what: None,
) -> tuple[list[AugmentRow], dict[str, Any]]:
    """The experiment's rows, and what the VAE reached (for the record)."""
    images, labels = train
    order = np.random.default_rng(settings.seed).permutation(len(images))
    first, second = order[: len(order) // 2], order[len(order) // 2 :]

    step("VAE on the first half")
    torch.manual_seed(settings.seed)
    vae = VAE(settings.vae)
    trainer = Trainer(
        vae,
        images[first],
        TrainOptions(epochs=settings.vae_epochs, seed=settings.seed, val_size=min(5000, len(first) // 10)),
    )
    for _ in trainer.run():
        pass
    trainer.restore_best()
    vae.eval()
    vae_record = {
        "config": settings.vae.to_dict(),
        "best_val": round(trainer.best_val, 3),
        "epochs": len(trainer.history),
    }

    rows = []
    options = ClassifierOptions(epochs=settings.classifier_epochs, seed=settings.seed)
    for fraction in settings.fractions:
        real = second[: round(fraction * len(second))]
        real_images = images[real].astype(np.float32) / 255.0
        step(f"{len(real)} generated digits")
        fake_images, fake_labels = generate(
            vae, images[first], labels[first], len(real), settings.noise, settings.seed + 1
        )
        step(f"classifier on {len(real)} real + {len(real)} generated digits")
        mixed, _ = train_classifier(
            np.concatenate([real_images, fake_images]), np.concatenate([labels[real], fake_labels]), options
        )
        step(f"classifier on {len(real)} real digits")
        alone, _ = train_classifier(real_images, labels[real], options)
        rows.append(
            AugmentRow(
                fraction,
                len(real),
                len(real),
                accuracy(mixed, *test),
                accuracy(alone, *test),
                REPORT.get(fraction),
            )
        )
    return rows, vae_record


def table(rows: list[AugmentRow]) -> str:
    lines = [
        "second half | real digits | + generated | test accuracy | without generated | the report",
        "--- | --- | --- | --- | --- | ---",
    ]
    for r in rows:
        report = f"{r.report:.2f} %" if r.report is not None else ""
        lines.append(
            f"{100 * r.fraction:.0f} % | {r.real} | {r.generated} | {100 * r.accuracy_with:.2f} % | "
            f"{100 * r.accuracy_without:.2f} % | {report}"
        )
    return "\n".join(lines)


def as_json(
    rows: list[AugmentRow], settings: AugmentSettings, vae: dict[str, Any], seconds: float
) -> dict[str, Any]:
    return {
        "experiment": "augment",
        "settings": {**asdict(settings), "vae": settings.vae.to_dict()},
        "vae": vae,
        "rows": [asdict(r) for r in rows],
        "seconds": round(seconds, 1),
    }
