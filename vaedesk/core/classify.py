"""The digit classifier on the viewer's side: its ONNX export run by ONNX Runtime, no
torch. It says which digit a picture, a drawing or a decoded latent point looks like
(trained by `vaedesk classifier train`, see `vaedesk.core.classifier`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from vaedesk.core import paths

FORMAT = "vaedesk-classifier-1"
GRAPH = "onnx.classifier"  # the byte tensor holding the export


class ClassifierError(Exception):
    """A classifier file cannot be used; the message names the file and the problem."""


class Classifier:
    """`probabilities`: images (N, 28, 28) in [0, 1] -> (N, 10), rows summing to 1."""

    def __init__(
        self, graph: bytes, card: dict[str, Any], path: Path | None = None, threads: int = 1
    ) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        self.card = card
        self.path = path

    @classmethod
    def load(cls, path: str | Path | None = None) -> Classifier:
        """The classifier in `path` (None: the bundled one); `ClassifierError` if unusable."""
        from safetensors import SafetensorError, safe_open

        path = Path(path) if path is not None else paths.bundled_classifier()
        if not path.is_file():
            raise ClassifierError(f"{path}: no such classifier file")
        try:
            with safe_open(str(path), framework="numpy") as f:
                metadata = f.metadata() or {}
                graph = f.get_tensor(GRAPH) if GRAPH in f.keys() else None
            if metadata.get("format") != FORMAT or graph is None:
                raise ClassifierError(f"{path}: not a vaedesk digit classifier")
            card = json.loads(metadata.get("card", "{}"))
            classifier = cls(graph.tobytes(), card if isinstance(card, dict) else {}, path)
            probe = classifier.probabilities(np.zeros((1, 28, 28), np.float32))
        except ClassifierError:
            raise
        except (SafetensorError, Exception) as e:  # noqa: BLE001 - ONNX Runtime raises its own types
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ClassifierError(f"{path}: not a usable classifier ({first})") from None
        if probe.shape != (1, 10):
            raise ClassifierError(f"{path}: its export does not give 10 probabilities")
        return classifier

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(np.asarray(images, np.float32).reshape(-1, 28, 28))
        return self._session.run(None, {"images": x})[0]

    @property
    def test_accuracy(self) -> float | None:
        value = (self.card.get("test_metrics") or {}).get("accuracy")
        return float(value) if isinstance(value, int | float) else None


def looks_like(p: np.ndarray) -> str:
    """One row of probabilities -> "looks like a 7 (96 %), else a 1 (3 %)"."""
    first, second = np.argsort(p)[::-1][:2]
    return f"looks like a {first} ({100 * p[first]:.0f} %), else a {second} ({100 * p[second]:.0f} %)"
