"""vaedesk: explore a variational autoencoder of handwritten digits.

Importing this package is cheap: no torch and no Qt until they are needed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
    from pathlib import Path

    from vaedesk.core.api import Model


def load_model(path: str | Path | None = None) -> Model:
    """Load VAE weights (None: the bundled model) as a numpy-in, numpy-out `Model`."""
    from vaedesk.core.api import Model

    return Model.load(path)


__all__ = ["__version__", "load_model"]
