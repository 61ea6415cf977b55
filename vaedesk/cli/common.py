"""What several commands share: the user's errors, loading a model or MNIST with one
clear line on failure, checking an output path before hours of work, and the printed test
metrics.

Heavy modules are imported inside the functions, so that importing this stays instant.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from vaedesk.core.api import Model
    from vaedesk.core.classify import Classifier


class CommandError(Exception):
    """A problem the user can fix: printed as one line, exit status 1."""


def load_model(path: str | None) -> Model:
    from vaedesk.core.api import Model
    from vaedesk.core.weights import WeightsError

    try:
        return Model.load(path)
    except WeightsError as e:
        raise CommandError(str(e)) from None


def load_data(split: str, folder: str | None) -> tuple[np.ndarray, np.ndarray]:
    from vaedesk.core import data

    try:
        return data.load(split, folder)
    except data.DataError as e:
        raise CommandError(str(e)) from None


def load_classifier(path: str | None) -> Classifier:
    from vaedesk.core.classify import Classifier, ClassifierError

    try:
        return Classifier.load(path)
    except ClassifierError as e:
        raise CommandError(str(e)) from None


def check_output(name: str, example: str = "model.safetensors") -> Path:
    """Refuse an `-o` that a run could not be saved to, before the run starts."""
    import os
    import tempfile

    from vaedesk.core import weights

    path = Path(name)
    if path.is_dir():
        raise CommandError(f"-o {name}: is a folder; give a file name, such as {path / example}")
    if path.exists() and not path.is_file():
        raise CommandError(f"-o {name}: not a regular file")
    try:
        weights.refuse_bundled(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".probe")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise CommandError(f"-o {name}: cannot write there ({e.strerror or e})") from None
    return path


def each_picture(names: list[str], describe: Callable[[np.ndarray], dict[str, Any]]) -> int:
    """One JSON line per picture, {"file": name, **describe(picture as the model sees it)};
    an unreadable picture is one line on stderr and the others still run. Exit code 1 if
    any was unreadable."""
    from vaedesk.core import preprocess

    failures = 0
    for name in names:
        try:
            mnist_like = preprocess.picture_to_mnist(name)
        except preprocess.PictureError as e:
            print(f"vaedesk: {e}", file=sys.stderr)
            failures += 1
            continue
        print(json.dumps({"file": name, **describe(mnist_like)}), flush=True)
    return 1 if failures else 0


def format_metrics(m: dict[str, Any]) -> str:
    lines = [
        f"test images         {m['n_test']}",
        f"-ELBO (nats/image)  {m['neg_elbo']:.2f}  = recon {m['recon']:.2f} + KL {m['kl']:.2f}",
    ]
    for key, value in m.items():
        if key.startswith("iwae_k") and not key.endswith("_se"):
            se = m.get(f"{key}_se")
            spread = (
                f" \u00b1 {se:.2f} (standard error)" if isinstance(se, float) and math.isfinite(se) else ""
            )
            lines.append(f"IWAE bound, k={key[6:]:<4} {value:.2f}{spread}")
    if "knn5_accuracy" in m:
        lines.append(f"latent 5-NN accuracy {100 * m['knn5_accuracy']:.2f}%")
        by_digit = [f"{d} {100 * m[f'knn5_recall_{d}']:.1f}" for d in range(10) if f"knn5_recall_{d}" in m]
        if by_digit:
            lines.append(f"  by digit, % right  {'  '.join(by_digit)}")
    for name in ("test", "train"):
        gap, amortized, optimized = (
            m.get(f"amortization_{name}_{k}") for k in ("gap", "amortized", "optimized")
        )
        if gap is not None:
            lines.append(
                f"amortization gap    {gap:.2f} on {m['amortization_images']} {name} images"
                f" (-ELBO {amortized:.2f} from the encoder, {optimized:.2f} optimised)"
            )
    if "seconds" in m:
        lines.append(f"evaluated in        {m['seconds']:.1f} s")
    return "\n".join(lines)
