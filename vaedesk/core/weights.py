"""Weights on disk: safetensors (tensors only, nothing is ever unpickled) plus a JSON card.

A weights file is self-describing: its safetensors metadata carries the model config and
the whole model card, so loading rebuilds the right architecture without guessing. The
same card is also written beside it as readable JSON (``name.card.json``), a derived
copy: loading reads the card inside the weights file, so the two can never disagree.

Beside the float32 parameters, the file holds the encoder and decoder exported as ONNX
graphs (two uint8 tensors), which the viewer runs with ONNX Runtime: opening a model,
hovering and drawing never import torch. Files without them (written before they were
added) still open, on torch. Every write goes to a temporary file in the same folder and
is renamed into place.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load as safetensors_load
from safetensors.numpy import save as safetensors_bytes

from vaedesk.core import paths
from vaedesk.core.atomic import atomic_write
from vaedesk.core.config import VAEConfig
from vaedesk.core.onnx_runtime import DECODER, ENCODER
from vaedesk.core.prior import Prior

if TYPE_CHECKING:
    from vaedesk.core.model import VAE

FORMAT = "vaedesk-weights-1"
MAX_FILE_BYTES = 512 * 2**20  # the bundled model is 14 MB


class WeightsError(Exception):
    """A weights file cannot be used; the message names the file and the problem."""


def card_path(weights: str | Path) -> Path:
    """`name.safetensors` -> `name.card.json`; any other name keeps its suffixes, so that
    `run.1` and `run.2` get cards of their own."""
    weights = Path(weights)
    return weights.with_name(weights.name.removesuffix(".safetensors") + ".card.json")


def refuse_bundled(path: str | Path) -> None:
    """Raise PermissionError if saving weights to `path` would write over a file the program
    ships: `path` itself, or the card beside it (`weights/vaedesk` has the bundled card)."""
    paths.refuse_shipped(path, card_path(path))


def save(path: str | Path, model: VAE, card: dict[str, Any]) -> None:
    """Save weights with their config, card and ONNX export, and the card beside them as
    JSON. Never over the bundled model (PermissionError)."""
    from vaedesk.core.export import export

    refuse_bundled(path)
    if model.config.prior == "vamp":
        raise ValueError("a VampPrior is saved as its mixture: call model.settle_prior() first")
    card = {**card, "config": model.config.to_dict()}
    tensors = {k: v.detach().contiguous().cpu().numpy() for k, v in model.state_dict().items()}
    for name, graph in export(model).items():
        tensors[name] = np.frombuffer(graph, dtype=np.uint8)
    metadata = {"format": FORMAT, "config": json.dumps(model.config.to_dict()), "card": json.dumps(card)}
    atomic_write(path, safetensors_bytes(tensors, metadata=metadata))
    atomic_write(card_path(path), (json.dumps(card, indent=2) + "\n").encode())


def card_problem(card: Any) -> str | None:
    """What is wrong with a model card, or None. The window and the commands read
    `test_metrics` (numbers, or null before an evaluation) and the training history."""
    if not isinstance(card, dict):
        return f"a JSON {type(card).__name__}, not an object"
    metrics = card.get("test_metrics")
    if metrics is not None:
        if not isinstance(metrics, dict):
            return "test_metrics is not an object"
        for key, value in metrics.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                return f"test_metrics.{key} is {value!r}, not a number"
    if not isinstance(card.get("history", []), list):
        return "history is not a list"
    return None


def _header(data: bytes) -> Any:
    """The JSON header of a safetensors file's bytes (a little-endian u64 length, then
    the header), parsed; ValueError with the reason, in words, where there is none."""
    if len(data) < 8:
        raise ValueError(f"{len(data)} bytes, too short for a safetensors header")
    size = int.from_bytes(data[:8], "little")
    if size > len(data) - 8:
        raise ValueError(
            f"its header runs past the end of the file ({size:,} bytes said, {len(data) - 8:,} there)"
        )
    try:
        return json.loads(data[8 : 8 + size])
    except ValueError as e:
        raise ValueError(f"its header is not JSON: {e}") from None


def read_tensor_file(
    path: Path, max_bytes: int, kind: str, error: type[Exception]
) -> tuple[dict[str, str], dict[str, np.ndarray]]:
    """The metadata and tensors of the safetensors file `path`, a file from elsewhere: it
    must be a readable regular file of at most `max_bytes` (a FIFO would block the read,
    /dev/zero never end it). Raises `error` with one line that names `path` and, for a
    missing or oversized file, the `kind` of file ("weights", "classifier").

    The file is opened once and everything is checked on what was opened: a name looked
    at, then opened again, could be another file by then."""

    def too_large(size: int) -> Exception:
        most = max_bytes // 2**20
        return error(f"{path}: {size / 2**20:.0f} MB; a vaedesk {kind} file is at most {most} MB")

    try:  # without waiting for a FIFO's writer; it is refused below
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except (FileNotFoundError, NotADirectoryError):
        raise error(f"{path}: no such {kind} file") from None
    except PermissionError:
        raise error(f"{path}: not readable (permission denied)") from None
    except OSError as e:  # a name too long, a loop of links
        raise error(f"{path}: cannot be read ({e.strerror or e})") from None
    found = os.fstat(fd)
    if not stat.S_ISREG(found.st_mode):  # before fdopen, which refuses a folder with a traceback
        os.close(fd)
        raise error(f"{path}: not a file")
    with os.fdopen(fd, "rb") as f:
        if found.st_size > max_bytes:
            raise too_large(found.st_size)
        os.set_blocking(fd, True)
        try:
            data = f.read(max_bytes + 1)
        except OSError as e:
            raise error(f"{path}: cannot be read ({e.strerror or e})") from None
    if len(data) > max_bytes:  # it grew while being read
        raise too_large(len(data))
    try:
        header = _header(data)
        if not isinstance(header, dict):
            raise ValueError("its header is not a table")
        metadata = header.get("__metadata__") or {}
        if not isinstance(metadata, dict):
            raise ValueError("its metadata is not a table")
        return metadata, safetensors_load(data)
    except (SafetensorError, ValueError, RuntimeError, TypeError, AttributeError) as e:
        raise error(f"{path}: not a readable safetensors file ({e})") from None


@dataclass
class Stored:
    """What a weights file holds, read without torch."""

    path: Path
    config: VAEConfig
    card: dict[str, Any]
    tensors: dict[str, np.ndarray]  # the model's float32 parameters
    graphs: dict[str, bytes]  # ENCODER and DECODER as ONNX, or empty in an older file


def read(path: str | Path) -> Stored:
    """Read and check a weights file; raise `WeightsError` if it cannot be used."""
    path = Path(path)
    metadata, tensors = read_tensor_file(path, MAX_FILE_BYTES, "weights", WeightsError)
    if metadata.get("format") != FORMAT:
        raise WeightsError(f"{path}: not a vaedesk weights file (no '{FORMAT}' metadata)")
    try:
        config = VAEConfig.from_dict(json.loads(metadata["config"]))
        card = json.loads(metadata.get("card", "{}"))
    except (KeyError, TypeError, ValueError) as e:
        raise WeightsError(f"{path}: its model config is unreadable ({e})") from None
    problem = card_problem(card)
    if problem:
        raise WeightsError(f"{path}: its model card is not valid ({problem})")
    graphs = {}
    for name in (ENCODER, DECODER):
        graph = tensors.pop(name, None)
        if graph is not None:
            if graph.dtype != np.uint8 or graph.ndim != 1:
                raise WeightsError(f"{path}: {name} is not an ONNX graph (uint8 bytes)")
            graphs[name] = graph.tobytes()
    if len(graphs) == 1:
        raise WeightsError(f"{path}: has half an ONNX export (one of {ENCODER}, {DECODER})")
    odd = sorted({str(t.dtype) for t in tensors.values() if t.dtype != np.float32})
    if odd:
        raise WeightsError(f"{path}: holds {', '.join(odd)} tensors; vaedesk weights are float32")
    if not all(np.isfinite(t).all() for t in tensors.values()):
        raise WeightsError(f"{path}: contains NaN or infinite values")
    try:
        Prior.of(config, tensors)
    except ValueError as e:
        raise WeightsError(f"{path}: {e}") from None
    return Stored(path, config, card, tensors, graphs)


def build(stored: Stored) -> VAE:
    """The torch model of a stored file (imports torch)."""
    import torch

    from vaedesk.core.model import VAE

    model = VAE(stored.config)
    try:
        model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in stored.tensors.items()}, strict=True)
    except RuntimeError as e:
        first = str(e).strip().splitlines()[-1].strip()
        raise WeightsError(
            f"{stored.path}: tensors do not match the '{stored.config.arch}' architecture ({first})"
        ) from None
    return model.eval()


def load(path: str | Path) -> tuple[VAE, dict[str, Any]]:
    """Rebuild the torch model a weights file describes; raise `WeightsError` if it cannot."""
    stored = read(path)
    return build(stored), stored.card
