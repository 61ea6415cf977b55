"""The viewer's runtime: a model's encoder and decoder as ONNX graphs run by ONNX Runtime.

Hovering, drawing, `encode` and `decode` run here, without torch (0.45 s and 108 MB to
import against 1.3 s and 280 MB). The graphs are exported from the torch model when its
weights are saved (`vaedesk.core.export`) and stored inside the same safetensors file.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

ENCODER, DECODER = "onnx.encoder", "onnx.decoder"  # the byte tensors' names in a weights file


class OnnxModel:
    """`encode`: images (B, 28, 28) in [0, 1] -> (mu, logvar), (B, D) each; `decode`: latent
    points (B, D) -> images (B, 28, 28) in [0, 1]. One intra-op thread: a single decode is
    fastest that way, and a training run leaves the other core to the interface.

    A conditional model's graphs also take `labels`, the digits as one-hot rows (B, 10)
    float32 (`conditional` says whether they do)."""

    def __init__(self, encoder: bytes, decoder: bytes, threads: int = 1) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only: its warnings are not the user's business
        providers = ["CPUExecutionProvider"]
        self._encoder = ort.InferenceSession(encoder, options, providers=providers)
        self._decoder = ort.InferenceSession(decoder, options, providers=providers)
        self.conditional = "labels" in {i.name for i in self._decoder.get_inputs()}

    def _feed(self, name: str, value: np.ndarray, labels: np.ndarray | None) -> dict[str, np.ndarray]:
        feed = {name: np.ascontiguousarray(value, np.float32)}
        if self.conditional:
            if labels is None:
                raise ValueError("a conditional model needs the digits (one-hot rows) with its inputs")
            feed["labels"] = np.ascontiguousarray(labels, np.float32)
        return feed

    def encode(self, images: np.ndarray, labels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        mu, logvar = self._encoder.run(None, self._feed("images", images, labels))
        return mu, logvar

    def decode(self, z: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        return self._decoder.run(["images"], self._feed("z", z, labels))[0]

    def decode_logits(self, z: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        """(B, D) -> the decoder's logits, (B, 28, 28): what a likelihood needs, as the
        sigmoid saturates to exactly 0 or 1 in float32."""
        return self._decoder.run(["logits"], self._feed("z", z, labels))[0]
