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
    fastest that way, and a training run leaves the other core to the interface."""

    def __init__(self, encoder: bytes, decoder: bytes, threads: int = 1) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only: its warnings are not the user's business
        providers = ["CPUExecutionProvider"]
        self._encoder = ort.InferenceSession(encoder, options, providers=providers)
        self._decoder = ort.InferenceSession(decoder, options, providers=providers)

    def encode(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mu, logvar = self._encoder.run(None, {"images": np.ascontiguousarray(images, np.float32)})
        return mu, logvar

    def decode(self, z: np.ndarray) -> np.ndarray:
        return self._decoder.run(["images"], {"z": np.ascontiguousarray(z, np.float32)})[0]

    def decode_logits(self, z: np.ndarray) -> np.ndarray:
        """(B, D) -> the decoder's logits, (B, 28, 28): what a likelihood needs, as the
        sigmoid saturates to exactly 0 or 1 in float32."""
        return self._decoder.run(["logits"], {"z": np.ascontiguousarray(z, np.float32)})[0]
