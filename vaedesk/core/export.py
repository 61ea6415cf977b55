"""Export a torch VAE's encoder and decoder as ONNX graphs, for the torch-free viewer.

A conditional model's graphs take one more input, "labels": the digits as one-hot rows
(B, 10) float32 beside the latent points, and as ten constant planes (B, 10, 28, 28)
beside the images (`OnnxModel` makes them: broadcasting inside the graph would need
operators that `onnx_runtime.ALLOWED_OPS` refuses)."""

from __future__ import annotations

import io
import warnings

import torch
from torch import nn

from vaedesk.core.config import DIGITS
from vaedesk.core.model import VAE
from vaedesk.core.onnx_runtime import DECODER, ENCODER

OPSET = 17


class _Encoder(nn.Module):
    def __init__(self, vae: VAE) -> None:
        super().__init__()
        self.vae = vae

    def forward(
        self, images: torch.Tensor, planes: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.vae.encode_planes(images.unsqueeze(1), planes)  # (B, 28, 28) -> (B, D), (B, D)


class _Decoder(nn.Module):
    def __init__(self, vae: VAE) -> None:
        super().__init__()
        self.vae = vae

    def forward(
        self, z: torch.Tensor, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.vae.decode_logits(z, labels)[:, 0]  # (B, D) -> (B, 28, 28)
        return torch.sigmoid(logits), logits


def graph(
    module: nn.Module, example: torch.Tensor | tuple[torch.Tensor, ...], inputs: list[str], outputs: list[str]
) -> bytes:
    buf = io.BytesIO()
    batch = {name: {0: "batch"} for name in inputs + outputs}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(
            module.eval(),
            example if isinstance(example, tuple) else (example,),
            buf,  # type: ignore[arg-type]  # a file object is taken too (torch.onnx.export's docs)
            input_names=inputs,
            output_names=outputs,
            dynamic_axes=batch,
            opset_version=OPSET,
            dynamo=False,
        )
    return buf.getvalue()


def export(vae: VAE) -> dict[str, bytes]:
    """The encoder and decoder graphs, by the names a weights file stores them under."""
    vae = vae.eval()
    images, z = torch.zeros(1, 28, 28), torch.zeros(1, vae.config.latent_dim)
    with torch.no_grad():
        if vae.config.conditional:
            planes, labels = torch.zeros(1, DIGITS, 28, 28), torch.zeros(1, DIGITS)
            return {
                ENCODER: graph(_Encoder(vae), (images, planes), ["images", "labels"], ["mu", "logvar"]),
                DECODER: graph(_Decoder(vae), (z, labels), ["z", "labels"], ["images", "logits"]),
            }
        return {
            ENCODER: graph(_Encoder(vae), images, ["images"], ["mu", "logvar"]),
            DECODER: graph(_Decoder(vae), z, ["z"], ["images", "logits"]),
        }
