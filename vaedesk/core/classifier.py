"""The digit classifier: the small CNN of the report "Generate Digit Images using VAE"
(3x3 convolutions of 8, 16 and 32 channels, each with batch normalisation and ReLU, 2x2
max pooling after the first two, a dense layer to the 10 digits), trained and exported
to ONNX here. The viewer runs it torch-free (`vaedesk.core.classify`).

Training is seeded; each batch's digits are shifted by up to two pixels (a small
augmentation that the report's 99.21 % is within reach without); the best epoch on a
validation split carved from the training set is kept.
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vaedesk.core.atomic import atomic_write
from vaedesk.core.classify import FORMAT, GRAPH
from vaedesk.core.export import graph
from vaedesk.core.train import as_tensor, split_train_val


class DigitClassifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()

        def block(c_in: int, c_out: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU()]

        self.net = nn.Sequential(
            *block(1, 8),
            nn.MaxPool2d(2),  # (B, 8, 14, 14)
            *block(8, 16),
            nn.MaxPool2d(2),  # (B, 16, 7, 7)
            *block(16, 32),  # (B, 32, 7, 7)
            nn.Flatten(),
            nn.Linear(32 * 7 * 7, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, 1, 28, 28) in [0, 1] -> logits (B, 10)."""
        return self.net(x)


@dataclass(frozen=True)
class ClassifierOptions:
    epochs: int = 12
    batch_size: int = 128
    lr: float = 1e-3  # Adam, cosine-decayed to 2 % over the run
    shift: int = 2  # pixels of random translation per image and batch; 0: none
    seed: int = 0
    val_size: int = 5000  # at most a fifth of the images

    def validation_size(self, n: int) -> int:
        return min(self.val_size, n // 5)


@dataclass(frozen=True)
class ClassifierEpoch:
    epoch: int
    epochs: int
    train_loss: float
    val_accuracy: float
    seconds: float


def _shifted(x: torch.Tensor, pixels: int, gen: torch.Generator) -> torch.Tensor:
    """Each image moved by a whole number of pixels in [-pixels, pixels] along each axis."""
    if pixels <= 0:
        return x
    n = len(x)
    moves = torch.randint(-pixels, pixels + 1, (n, 2), generator=gen)
    padded = F.pad(x, (pixels, pixels, pixels, pixels))
    rows = (torch.arange(28) + pixels).view(1, 28) - moves[:, :1]  # (n, 28)
    cols = (torch.arange(28) + pixels).view(1, 28) - moves[:, 1:]
    batch = torch.arange(n).view(n, 1, 1)
    return padded[batch, 0, rows.view(n, 28, 1), cols.view(n, 1, 28)].unsqueeze(1)


@torch.no_grad()
def predict(model: DigitClassifier, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """Probabilities (N, 10) for uint8 or [0, 1] images (N, 28, 28)."""
    model.eval()
    out = [
        F.softmax(model(as_tensor(images[s : s + batch_size])), dim=1)
        for s in range(0, len(images), batch_size)
    ]
    return torch.cat(out).numpy() if out else np.zeros((0, 10), np.float32)


def accuracy(model: DigitClassifier, images: np.ndarray, labels: np.ndarray) -> float:
    return float((predict(model, images).argmax(axis=1) == labels).mean())


def train_classifier(
    images: np.ndarray,
    labels: np.ndarray,
    options: ClassifierOptions,
    report: Callable[[ClassifierEpoch], None] = lambda e: None,
) -> tuple[DigitClassifier, list[ClassifierEpoch]]:
    """Train on `images` (uint8 or float, (N, 28, 28)) minus a validation split; the
    model returned has the best validation epoch's weights."""
    torch.manual_seed(options.seed)
    gen = torch.Generator().manual_seed(options.seed)
    train_idx, val_idx = split_train_val(len(images), options.validation_size(len(images)), options.seed)
    x, y = as_tensor(images[train_idx]), torch.from_numpy(labels[train_idx].astype(np.int64))
    model = DigitClassifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=options.lr)
    steps = options.epochs * math.ceil(len(x) / options.batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.02 + 0.49 * (1 + math.cos(math.pi * min(step, steps) / steps))
    )
    best, best_state, history = -1.0, None, []
    for epoch in range(1, options.epochs + 1):
        started = time.perf_counter()
        model.train()
        order = torch.randperm(len(x), generator=gen)
        total = 0.0
        for first in range(0, len(x), options.batch_size):
            batch = order[first : first + options.batch_size]
            loss = F.cross_entropy(model(_shifted(x[batch], options.shift, gen)), y[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * len(batch)
        val = accuracy(model, images[val_idx], labels[val_idx])
        if val > best:
            best, best_state = val, copy.deepcopy(model.state_dict())
        result = ClassifierEpoch(epoch, options.epochs, total / len(x), val, time.perf_counter() - started)
        history.append(result)
        report(result)
    assert best_state is not None  # the first epoch beats an accuracy of -1
    model.load_state_dict(best_state)
    return model.eval(), history


class _Probabilities(nn.Module):
    def __init__(self, model: DigitClassifier) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return F.softmax(self.model(images.unsqueeze(1)), dim=1)  # (B, 28, 28) -> (B, 10)


def save(path: str | Path, model: DigitClassifier, card: dict[str, Any]) -> None:
    """The classifier's parameters, its ONNX export and its card in one safetensors file
    (the card also beside it as JSON), written atomically."""
    from safetensors.numpy import save as safetensors_bytes

    from vaedesk.core.weights import card_path, refuse_bundled

    refuse_bundled(path)
    model = model.eval()
    tensors = {k: v.detach().contiguous().cpu().numpy() for k, v in model.state_dict().items()}
    tensors = {k: v.astype(np.float32) if v.dtype == np.int64 else v for k, v in tensors.items()}
    with torch.no_grad():
        onnx = graph(_Probabilities(model), torch.zeros(1, 28, 28), ["images"], ["p"])
    tensors[GRAPH] = np.frombuffer(onnx, dtype=np.uint8)
    metadata = {"format": FORMAT, "card": json.dumps(card)}
    atomic_write(path, safetensors_bytes(tensors, metadata=metadata))
    atomic_write(card_path(path), (json.dumps(card, indent=2) + "\n").encode())


def options_dict(options: ClassifierOptions) -> dict[str, Any]:
    return asdict(options)
