"""The digit classifier on the viewer's side: its ONNX export run by ONNX Runtime, no
torch. It says which digit a picture, a drawing or a decoded latent point looks like
(trained by `vaedesk classifier train`, see `vaedesk.core.classifier`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from vaedesk.core import onnx_runtime, paths

FORMAT = "vaedesk-classifier-1"
GRAPH = "onnx.classifier"  # the byte tensor holding the export


class ClassifierError(Exception):
    """A classifier file cannot be used; the message names the file and the problem."""


MAX_FILE_BYTES = 64 * 2**20  # the bundled classifier is 0.2 MB
BN_EPS = 1e-5  # torch's BatchNorm2d default, which the classifier uses


class Classifier:
    """`probabilities`: images (N, 28, 28) in [0, 1] -> (N, 10), rows summing to 1."""

    def __init__(
        self, graph: bytes, card: dict[str, Any], path: Path | None = None, threads: int = 1
    ) -> None:
        """`graph` must have been through `onnx_runtime.vet` (`load` does it)."""
        self._session = onnx_runtime.session(graph, threads)
        self.card = card
        self.path = path

    @classmethod
    def load(cls, path: str | Path | None = None) -> Classifier:
        """The classifier in `path` (None: the bundled one); `ClassifierError` if unusable."""
        from vaedesk.core.weights import read_tensor_file

        path = Path(path) if path is not None else paths.bundled_classifier()
        metadata, tensors = read_tensor_file(path, MAX_FILE_BYTES, "classifier", ClassifierError)
        try:
            graph = tensors.pop(GRAPH, None)
            if metadata.get("format") != FORMAT or graph is None:
                raise ClassifierError(f"{path}: not a vaedesk digit classifier")
            card = json.loads(metadata.get("card", "{}"))
            vetted = onnx_runtime.vet(
                graph.tobytes(), {"images": (28, 28)}, ("p",), folded_weights(tensors), tolerance=1e-5
            )
            classifier = cls(vetted, card if isinstance(card, dict) else {}, path)
        except ClassifierError:
            raise
        except onnx_runtime.GraphError as e:
            raise ClassifierError(f"{path}: {e}") from None
        except Exception as e:  # noqa: BLE001 - ONNX Runtime raises its own types
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ClassifierError(f"{path}: not a usable classifier ({first})") from None
        problem = classifier.output_problem()
        if problem:
            raise ClassifierError(f"{path}: {problem}")
        return classifier

    def output_problem(self) -> str | None:
        """What is wrong with what it computes, or None: run on a batch of one picture and
        of several, it must give each a row of 10 finite probabilities summing to 1."""
        probe = np.zeros((3, 28, 28), np.float32)
        probe[1, 8:20, 12:16] = 1.0  # a bar, something like a 1
        probe[2] = 0.5
        for n in (1, len(probe)):
            try:
                p = self.probabilities(probe[:n])
            except Exception as e:  # noqa: BLE001 - whatever ONNX Runtime raises, it is unusable
                return f"it fails on a batch of {n} pictures ({onnx_runtime.describe_failure(e)})"
            if p.shape != (n, 10):
                return f"it gives probabilities of shape {p.shape} for {n} pictures, not ({n}, 10)"
            if not np.isfinite(p).all():
                return "it gives NaN or infinite probabilities"
            if p.min() < 0 or not np.allclose(p.sum(axis=1), 1, atol=1e-3):
                return "its probabilities are not between 0 and 1 or do not sum to 1"
        return None

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(np.asarray(images, np.float32).reshape(-1, 28, 28))
        step, starts = onnx_runtime.CALL_BATCH, onnx_runtime.batches(len(x))
        parts = [self._session.run(None, {"images": x[i : i + step]})[0] for i in starts]
        return np.concatenate(parts)

    @property
    def test_accuracy(self) -> float | None:
        value = (self.card.get("test_metrics") or {}).get("accuracy")
        return float(value) if isinstance(value, int | float) else None


def folded_weights(tensors: dict[str, np.ndarray]) -> onnx_runtime.Expected:
    """The weights the classifier's graph must hold, from the file's tensors: its dense
    layer's as they are (`model.net.12.weight`, ...), and each convolution's with the batch
    normalisation after it folded in, as the export folds them (the graph names these
    by number, so they are matched to the convolutions in order)."""
    named = {f"model.{k}": v for k, v in tensors.items()}
    convs = sorted(
        (int(k.split(".")[1]), k.rsplit(".", 1)[0])
        for k, v in tensors.items()
        if k.startswith("net.") and k.endswith(".weight") and v.ndim == 4
    )

    def expected(model: Any) -> dict[str, np.ndarray]:
        weights = dict(named)
        conv_nodes = [n for n in model.graph.node if n.op_type == "Conv"]
        for node, (index, conv) in zip(conv_nodes, convs, strict=False):
            bn = f"net.{index + 1}"
            try:
                w, b = tensors[f"{conv}.weight"].astype(np.float64), tensors[f"{conv}.bias"]
                gamma, beta = tensors[f"{bn}.weight"], tensors[f"{bn}.bias"]
                mean, var = tensors[f"{bn}.running_mean"], tensors[f"{bn}.running_var"]
            except KeyError:
                continue  # then the graph's names must match the file's as they are
            scale = gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + BN_EPS)
            if len(node.input) == 3:
                weights[node.input[1]] = (w * scale[:, None, None, None]).astype(np.float32)
                weights[node.input[2]] = ((b - mean) * scale + beta).astype(np.float32)
        return weights

    return expected


def looks_like(p: np.ndarray) -> str:
    """One row of probabilities -> "looks like a 7 (96 %), else a 1 (3 %)"."""
    first, second = np.argsort(p)[::-1][:2]
    return f"looks like a {first} ({100 * p[first]:.0f} %), else a {second} ({100 * p[second]:.0f} %)"
