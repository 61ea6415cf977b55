"""vaedesk: explore a variational autoencoder of handwritten digits.

Importing this package is cheap: no torch and no Qt until they are needed.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

# vaedesk sends nothing anywhere (but the MNIST download a user asks for). ONNX Runtime,
# which runs the viewer's models, has telemetry on by default on Linux: on import it writes
# a device identifier under ~/.cache/Microsoft and later uploads a usage event. Its opt-out
# is read once, when the library loads, so it is set here: every way vaedesk starts (the
# console script, `python -m vaedesk`, the packaged program, `import vaedesk`) imports this
# package before onnxruntime. 1.32 reads ORT_DISABLE_TELEMETRY; newer releases
# ORT_TELEMETRY_DISABLED (onnxruntime PR 29843). A user's own value is left alone.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
os.environ.setdefault("ORT_TELEMETRY_DISABLED", "1")

__version__ = "0.1.0"

if TYPE_CHECKING:
    from pathlib import Path

    from vaedesk.core.api import Model


def load_model(path: str | Path | None = None) -> Model:
    """Load VAE weights (None: the bundled model) as a numpy-in, numpy-out `Model`."""
    from vaedesk.core.api import Model

    return Model.load(path)


__all__ = ["__version__", "load_model"]
