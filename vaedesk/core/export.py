"""Export a torch VAE's encoder and decoder as ONNX graphs, for the torch-free viewer."""

from __future__ import annotations

import io
import warnings

import torch
from torch import nn

from vaedesk.core.model import VAE
from vaedesk.core.onnx_runtime import DECODER, ENCODER

OPSET = 17


class _Encoder(nn.Module):
    def __init__(self, vae: VAE) -> None:
        super().__init__()
        self.vae = vae

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.vae.encode(images.unsqueeze(1))  # (B, 28, 28) -> (B, D), (B, D)


class _Decoder(nn.Module):
    def __init__(self, vae: VAE) -> None:
        super().__init__()
        self.vae = vae

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.vae.decode_logits(z)[:, 0]  # (B, D) -> (B, 28, 28)
        return torch.sigmoid(logits), logits


def graph(module: nn.Module, example: torch.Tensor, inputs: list[str], outputs: list[str]) -> bytes:
    buf = io.BytesIO()
    batch = {name: {0: "batch"} for name in inputs + outputs}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(
            module.eval(),
            (example,),
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
    with torch.no_grad():
        return {
            ENCODER: graph(_Encoder(vae), torch.zeros(1, 28, 28), ["images"], ["mu", "logvar"]),
            DECODER: graph(_Decoder(vae), torch.zeros(1, vae.config.latent_dim), ["z"], ["images", "logits"]),
        }
