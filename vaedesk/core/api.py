"""The numpy-in, numpy-out face of a trained VAE, for scripts and for the window."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vaedesk.core import paths, weights
from vaedesk.core.config import DIGITS, VAEConfig
from vaedesk.core.onnx_runtime import GraphError, OnnxModel, describe_failure
from vaedesk.core.prior import Prior

if TYPE_CHECKING:
    import torch

    from vaedesk.core.model import VAE

BATCH = 1000  # images per encoder call: bounds the activations' memory


class Model:
    """A trained VAE. `encode` takes float32 (N, 28, 28) in [0, 1]; `decode` takes (N, D).

    A model loaded from a file with an ONNX export runs on ONNX Runtime and never imports
    torch; one built in memory (a training run's snapshot) or loaded from an older file
    without the export runs on torch. `runtime` says which. `vae`, the torch module, is
    built on first use (training from this model, evaluation).
    """

    def __init__(
        self,
        vae: VAE | None = None,
        card: dict[str, Any] | None = None,
        path: Path | None = None,
        stored: weights.Stored | None = None,
    ) -> None:
        if vae is not None:
            config = vae.config
        elif stored is not None:
            config = stored.config
        else:
            raise TypeError("a Model needs a torch VAE or a stored weights file")
        self._vae = vae.eval() if vae is not None else None
        self._stored = stored
        self.config: VAEConfig = config
        self.card = card if card is not None else (stored.card if stored is not None else {})
        self.path = path
        self._onnx: OnnxModel | None = None
        self._prior: Prior | None = None
        if vae is None and stored is not None and stored.graphs:
            self._onnx = _onnx_model(stored, self.config)

    @classmethod
    def load(cls, path: str | Path | None = None) -> Model:
        path = Path(path) if path is not None else paths.bundled_weights()
        stored = weights.read(path)
        if stored.graphs:
            model = cls(None, stored.card, path, stored)
        else:
            model = cls(weights.build(stored), stored.card, path, stored)  # an older file: torch
        problem = output_problem(model)
        if problem:
            raise weights.WeightsError(f"{path}: {problem}")
        return model

    @classmethod
    def from_state(cls, config: VAEConfig, state: dict[str, torch.Tensor], card: dict[str, Any]) -> Model:
        """An unsaved model from a config and a state dict (a training run's snapshot)."""
        from vaedesk.core.model import VAE

        vae = VAE(config)
        vae.load_state_dict(state)
        return cls(vae, card, None)

    @property
    def vae(self) -> VAE:
        """The torch module (imports torch, and builds it from the file the first time)."""
        if self._vae is None:
            assert self._stored is not None  # a Model has a VAE, a file, or both
            self._vae = weights.build(self._stored)
        return self._vae

    @property
    def prior(self) -> Prior:
        """The latent prior, in numpy (read from the file; no torch needed)."""
        if self._prior is None:
            if self._stored is not None:
                tensors = self._stored.tensors
            else:
                tensors = {
                    k: v.detach().numpy() for k, v in self.vae.state_dict().items() if k.startswith("prior.")
                }
            self._prior = Prior.of(self.config, tensors)
        return self._prior

    @property
    def conditional(self) -> bool:
        return self.config.conditional

    def _digits(self, labels: np.ndarray | int | None, n: int) -> np.ndarray | None:
        """A conditional model's digits as one-hot rows (n, 10) float32; None for another model."""
        if not self.conditional:
            if labels is not None:
                raise ValueError("this model is not conditional: it takes no digits")
            return None
        if labels is None:
            raise ValueError("a conditional model needs the digit of every image or latent point")
        y = np.asarray(labels)
        y = np.broadcast_to(y, (n,)) if y.ndim == 0 else y.reshape(-1)
        whole = np.issubdtype(y.dtype, np.integer)
        if len(y) != n or not whole or (y.size and not 0 <= y.min() <= y.max() < DIGITS):
            raise ValueError(f"digits must be {n} whole numbers from 0 to 9")
        return np.eye(DIGITS, dtype=np.float32)[y.astype(np.int64)]

    @property
    def runtime(self) -> str:
        return "onnxruntime" if self._onnx is not None else "torch"

    def state(self) -> dict[str, torch.Tensor]:
        """A copy of the weights, to start a training run from."""
        return {k: v.detach().clone() for k, v in self.vae.state_dict().items()}

    @property
    def name(self) -> str:
        return self.path.name if self.path is not None else "unsaved model"

    @property
    def test_neg_elbo(self) -> float | None:
        metrics = self.card.get("test_metrics")  # None until a run has been evaluated
        value = metrics.get("neg_elbo") if isinstance(metrics, dict) else None
        return float(value) if isinstance(value, int | float) else None

    def encode(
        self, images: np.ndarray, labels: np.ndarray | int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(N, 28, 28) or (28, 28) -> posterior mean and log-variance, (N, D) each; a
        conditional model's style given the digits `labels` ((N,), or one for all).

        Floats are pixel intensities in [0, 1]; uint8 images, as `data.load` returns
        them, are 0-255 and scaled here. Floats outside [0, 1] are refused: 0-255 values
        as floats would encode, silently, to the wrong place.
        """
        x = np.asarray(images)
        if x.shape[-2:] != (28, 28):
            raise ValueError(f"images must be 28 x 28, got shape {x.shape}")
        if x.dtype == np.uint8:
            x = x.astype(np.float32) / 255.0
        else:
            x = x.astype(np.float32, copy=False)
            if x.size and not (x.min() >= 0.0 and x.max() <= 1.0):  # also refuses NaN
                raise ValueError(
                    f"float pixel values must lie in [0, 1], got {x.min():g} to {x.max():g}"
                    " (divide 0-255 images by 255, or pass them as uint8)"
                )
        x = x.reshape(-1, 28, 28)
        y = self._digits(labels, len(x))
        parts = [
            self._encode(x[start : start + BATCH], None if y is None else y[start : start + BATCH])
            for start in range(0, len(x), BATCH)
        ]
        if not parts:
            empty = np.zeros((0, self.config.latent_dim), np.float32)
            return empty, empty.copy()
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def decode(self, z: np.ndarray, labels: np.ndarray | int | None = None) -> np.ndarray:
        """Latent points (N, D) or (D,) -> images (N, 28, 28) float32 in [0, 1]; ValueError
        for a point that is not finite in float32. A conditional model draws them as the
        digits `labels` ((N,), or one for all)."""
        return self._decoded(z, labels, logits=False)

    def decode_logits(self, z: np.ndarray, labels: np.ndarray | int | None = None) -> np.ndarray:
        """As `decode`, the decoder's logits: what a likelihood needs (the sigmoid saturates)."""
        return self._decoded(z, labels, logits=True)

    def _decoded(self, z: np.ndarray, labels: np.ndarray | int | None, logits: bool) -> np.ndarray:
        z = finite_float32(z, "latent points").reshape(-1, self.config.latent_dim)
        y = self._digits(labels, len(z))
        if self._onnx is not None:
            return (self._onnx.decode_logits if logits else self._onnx.decode)(z, y)
        import torch

        with torch.inference_mode():
            out = self.vae.decode_logits(torch.from_numpy(z), None if y is None else torch.from_numpy(y))
        return (out if logits else torch.sigmoid(out))[:, 0].numpy()

    def _encode(self, x: np.ndarray, y: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        if self._onnx is not None:
            return self._onnx.encode(x, y)
        import torch

        with torch.inference_mode():
            labels = None if y is None else torch.from_numpy(y)
            mu, logvar = self.vae.encode(torch.from_numpy(x).unsqueeze(1), labels)
        return mu.numpy(), logvar.numpy()


def _onnx_model(stored: weights.Stored, config: VAEConfig) -> OnnxModel:
    """The file's ONNX graphs in ONNX Runtime, vetted and bound to its tensors."""
    try:
        return OnnxModel.from_file(stored.graphs, stored.tensors, config.latent_dim, config.conditional)
    except GraphError as e:
        raise weights.WeightsError(f"{stored.path}: {e}") from None
    except Exception as e:  # noqa: BLE001 - ONNX Runtime raises its own types; all mean "unusable"
        raise weights.WeightsError(
            f"{stored.path}: its ONNX export cannot be run ({first_line(e)})"
        ) from None


PROBE = (0.0, 1.5, -1.5)  # latent points of the load check: the origin and two along the diagonal


def output_problem(model: Model) -> str | None:
    """What is wrong with what a model computes, or None: it is run on a batch of one latent
    point and of several, then on the images it decoded, and every output must have its
    shape for that batch and be finite (the images in [0, 1]). A file that fails is refused
    on load, so no window, map or command ever shows its NaN."""
    d = model.config.latent_dim
    for n in (1, len(PROBE)):
        z = np.repeat(np.asarray(PROBE[:n], np.float32)[:, None], d, axis=1)  # (n, D)
        digits = np.arange(n) % DIGITS if model.conditional else None  # a conditional model's
        try:
            images = model.decode(z, digits)
            logits = model.decode_logits(z, digits) if model._onnx is not None else None
        except Exception as e:  # noqa: BLE001 - whatever the runtime raises, the file is unusable
            return f"its decoder fails on a batch of {n} ({first_line(e)})"
        for name, out in (("images", images), ("logits", logits)):
            if out is None:
                continue
            if out.shape != (n, 28, 28):
                return (
                    f"its decoder gives {name} of shape {out.shape} for {n} latent points, not ({n}, 28, 28)"
                )
            if not np.isfinite(out).all():
                return f"its decoder gives NaN or infinite {name}"
        if not (images.min() >= 0 and images.max() <= 1):
            return "its decoder gives pixel values outside [0, 1]"
        try:
            mu, logvar = model.encode(images, digits)
        except Exception as e:  # noqa: BLE001
            return f"its encoder fails on a batch of {n} ({first_line(e)})"
        for name, out in (("means", mu), ("log-variances", logvar)):
            if out.shape != (n, d):
                return f"its encoder gives {name} of shape {out.shape} for {n} images, not ({n}, {d})"
            if not np.isfinite(out).all():
                return f"its encoder gives NaN or infinite {name}"
    return None


def first_line(e: BaseException) -> str:
    return describe_failure(e)


def finite_float32(values: object, what: str = "the coordinates") -> np.ndarray:
    """Numbers from outside (typed, read from a file, passed in) as float32, the model's
    numbers; ValueError if any is not finite *after* the conversion: 1e39 is a finite
    double but infinite in float32, and an infinite latent point decodes to NaN and drew
    the map at infinity (a segmentation fault)."""
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            out = np.asarray(values, np.float64).astype(np.float32)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be numbers") from None
    if not np.isfinite(out).all():
        raise ValueError(f"{what} must be finite numbers")
    return out


def tile(images: np.ndarray, columns: int) -> np.ndarray:
    """(N, 28, 28) -> one image of `columns` digits per row (missing cells black)."""
    n, h, w = images.shape
    rows = -(-n // columns)
    out = np.zeros((rows * h, columns * w), dtype=images.dtype)
    for i, im in enumerate(images):
        r, c = divmod(i, columns)
        out[r * h : (r + 1) * h, c * w : (c + 1) * w] = im
    return out
