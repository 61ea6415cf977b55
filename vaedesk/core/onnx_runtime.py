"""The viewer's runtime: a model's encoder and decoder as ONNX graphs run by ONNX Runtime.

Hovering, drawing, `encode` and `decode` run here, without torch (0.45 s and 108 MB to
import against 1.3 s and 280 MB). The graphs are exported from the torch model when its
weights are saved (`vaedesk.core.export`) and stored inside the same safetensors file.

A weights file may come from anyone, and an ONNX graph is a program: before a graph
reaches ONNX Runtime, `vet` checks that it is one the project's own export could have
made, and binds its weights to the file's tensors:

- only the operators our exports use (`ALLOWED_OPS`: no Loop, If, Scan, no subgraphs, no
  functions, no custom domains), so every call runs a fixed, short sequence of kernels;
- no way to the file system: no external data, no sparse or string tensors, no
  training information; constants are only the few small integers of shape arithmetic;
- every weight is the file's own tensor of that name (below, on why);
- each call is bounded: one thread, and every session allocates from one arena capped
  at `MAX_CALL_BYTES`, so a graph that would need more fails with a message instead of
  taking the machine's memory.

Proving that the graph computes the model the file's tensors describe: we bind (every
initializer must be a tensor of the file, same name, shape and values, and is replaced
by it; a graph with any float constant that is not one of them is refused) rather than
compare outputs against torch on load, because the viewer exists to open models without
torch (1.3 s and 280 MB to import), and a comparison on a few inputs proves less than a
graph that cannot hold any weight but the file's. What binding leaves open, a graph that
wires the file's own weights differently, cannot reach data from elsewhere, and the load
check (`vaedesk.core.api`) runs it on a batch of one and of several and refuses wrong
shapes and non-finite outputs.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import onnxruntime as ort

from vaedesk.core.config import DIGITS

ENCODER, DECODER = "onnx.encoder", "onnx.decoder"  # the byte tensors' names in a weights file

# The operators in the graphs our exports produce, for every architecture and the digit
# classifier (tests/core/test_weights.py exports each and checks that this is exactly their union).
ALLOWED_OPS = frozenset(
    {
        "Add", "Concat", "Constant", "Conv", "ConvTranspose", "Flatten", "Gather", "Gemm",
        "MaxPool", "Mod", "Relu", "Reshape", "Shape", "Sigmoid", "Slice", "Softmax", "Unsqueeze",
    }
)  # fmt: skip
OPSETS = range(13, 22)  # of the default domain; our exports use 17
MAX_GRAPH_BYTES = 64 * 2**20
MAX_NODES = 256  # ours have at most 31
MAX_CONSTANT_ELEMENTS = 8  # shape arithmetic: axes, indices, a target shape
MAX_CALL_BYTES = 512 * 2**20  # the arena all sessions allocate from; our largest call needs ~80 MB
CALL_BATCH = 256  # images or latent points per call: what bounds one call of our own graphs
FLOAT, INT64 = 1, 7  # TensorProto data types
# attribute types a node may carry: FLOAT, INT, STRING, TENSOR (a Constant's), FLOATS, INTS
ALLOWED_ATTRIBUTE_TYPES = frozenset({1, 2, 3, 4, 6, 7})


class GraphError(ValueError):
    """An ONNX graph that vaedesk will not run; the message says what is wrong with it."""


_proto: ModuleType | None = None


def onnx_proto() -> ModuleType:
    """ONNX's protobuf classes (`ModelProto`, ...) without importing the `onnx` package,
    whose import takes seconds (its ml_dtypes: 2.6 s here); only google.protobuf, which
    ONNX Runtime needs anyway, is loaded."""
    global _proto
    if _proto is None:
        if "onnx.onnx_ml_pb2" in sys.modules:
            _proto = sys.modules["onnx.onnx_ml_pb2"]
        else:
            top = importlib.util.find_spec("onnx")  # finds the package without running it
            locations = top.submodule_search_locations if top is not None else None
            spec = None
            for finder in sys.meta_path:  # the file system's, or PyInstaller's archive
                find = getattr(finder, "find_spec", None)
                spec = find("onnx.onnx_ml_pb2", locations) if find is not None else None
                if spec is not None:
                    break
            if spec is None or spec.loader is None:
                from onnx import onnx_ml_pb2

                _proto = onnx_ml_pb2
            else:
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                _proto = module
    return _proto


Expected = Callable[[object], dict[str, np.ndarray]]  # the parsed graph -> its weights, by name


def vet(
    graph: bytes,
    inputs: dict[str, tuple[int, ...]],
    outputs: tuple[str, ...],
    expected: Expected,
    tolerance: float = 0.0,
) -> bytes:
    """Check a graph (see the module's docstring) and return it with its weights bound to
    `expected(model)`, ready for ONNX Runtime; `GraphError` if it cannot be run.

    `inputs` maps each input's name to its shape after the batch axis; `outputs` names the
    outputs in order. `tolerance` allows weights computed in another order (the
    classifier's batch normalisation, folded into its convolutions by the export)."""
    if len(graph) > MAX_GRAPH_BYTES:
        raise GraphError(f"its graph is {len(graph) / 2**20:.0f} MB; at most {MAX_GRAPH_BYTES // 2**20} MB")
    pb = onnx_proto()
    model = pb.ModelProto()
    try:
        model.ParseFromString(graph)
    except Exception:  # noqa: BLE001 - protobuf's DecodeError and friends
        raise GraphError("its graph is not a readable ONNX model") from None
    if model.functions or model.training_info or len(getattr(model, "configuration", ())):
        raise GraphError("its graph holds functions or training information, which vaedesk never exports")
    for opset in model.opset_import:
        if opset.domain not in ("", "ai.onnx") or opset.version not in OPSETS:
            raise GraphError(f"its graph uses operator set {opset.domain or 'ai.onnx'} {opset.version}")
    g = model.graph
    if g.sparse_initializer:
        raise GraphError("its graph holds sparse tensors, which vaedesk never exports")
    if len(g.node) > MAX_NODES:
        raise GraphError(f"its graph has {len(g.node)} operations; at most {MAX_NODES}")
    for node in g.node:  # the operators first: a Loop is named as such, whatever it holds
        if node.domain not in ("", "ai.onnx") or node.op_type not in ALLOWED_OPS:
            domain = f"{node.domain}." if node.domain else ""
            raise GraphError(f"its graph uses the operator {domain}{node.op_type}, which vaedesk never makes")
    for node in g.node:
        _check_attributes(node)
    _check_signature(g, inputs, outputs)
    weights = expected(model)
    for init in g.initializer:
        _bind(init, weights, tolerance)
    model.DiscardUnknownFields()  # what this parser does not know, ONNX Runtime does not see
    return model.SerializeToString()


def _check_attributes(node: Any) -> None:
    for attr in node.attribute:
        if attr.ref_attr_name or attr.type not in ALLOWED_ATTRIBUTE_TYPES:
            raise GraphError(
                f"its {node.op_type} operation has a '{attr.name}' attribute vaedesk never exports"
            )
        if attr.type == 4:  # TENSOR: only a Constant's few integers
            t = attr.t
            n = int(np.prod(t.dims)) if len(t.dims) else 1
            if (
                node.op_type not in ("Constant", "ConstantOfShape")  # the latter: the conditional export's
                or attr.name != "value"
                or t.data_type != INT64
                or n > MAX_CONSTANT_ELEMENTS
                or t.data_location != 0
                or t.external_data
            ):
                raise GraphError("its graph holds a constant that is not one of the file's weights")


def _check_signature(g: Any, inputs: dict[str, tuple[int, ...]], outputs: tuple[str, ...]) -> None:
    """The inputs and outputs our export declares: float32, a batch axis, then fixed sizes."""
    if sorted(v.name for v in g.input) != sorted(inputs):
        raise GraphError(f"its graph's inputs are {[v.name for v in g.input]}, not {list(inputs)}")
    if tuple(v.name for v in g.output) != outputs:
        raise GraphError(f"its graph's outputs are {[v.name for v in g.output]}, not {list(outputs)}")
    for v in g.input:
        t = v.type.tensor_type
        dims = tuple(d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim)
        if not v.type.HasField("tensor_type") or t.elem_type != FLOAT or dims[1:] != inputs[v.name]:
            raise GraphError(f"its graph's input {v.name} is not float32 of shape (batch, {inputs[v.name]})")


def _bind(init: Any, weights: dict[str, np.ndarray], tolerance: float) -> None:
    if init.data_location != 0 or init.external_data:
        raise GraphError(f"its graph reads {init.name} from another file (external data)")
    value = weights.get(init.name)
    if value is None:
        raise GraphError(f"its graph holds a weight, {init.name}, that is not one of the file's tensors")
    if init.data_type != FLOAT or tuple(init.dims) != value.shape:
        raise GraphError(
            f"its graph's {init.name} does not have the shape {value.shape} of the file's tensor"
        )
    if init.raw_data:
        if len(init.raw_data) != value.size * 4:
            raise GraphError(f"its graph's {init.name} is damaged")
        stored = np.frombuffer(init.raw_data, "<f4").reshape(value.shape)
    else:
        stored = np.asarray(init.float_data, np.float32)
        if stored.size != value.size:
            raise GraphError(f"its graph's {init.name} is damaged")
        stored = stored.reshape(value.shape)
    same = (
        np.array_equal(stored, value)
        if tolerance == 0
        else np.allclose(stored, value, rtol=tolerance, atol=tolerance)
    )
    if not same:
        raise GraphError(f"its graph's {init.name} differs from the file's tensor of that name")
    init.ClearField("float_data")
    init.raw_data = np.ascontiguousarray(value, "<f4").tobytes()


_arena_ready = False


def session_options(threads: int = 1, bounded: bool = True) -> ort.SessionOptions:
    """Options every vaedesk session runs with: one thread by default, errors only in the
    log, and (bounded) allocations from one arena capped at MAX_CALL_BYTES."""
    global _arena_ready
    if bounded and not _arena_ready:
        ort.set_default_logger_severity(4)  # a refused call is reported by us, in one line
        memory = ort.OrtMemoryInfo("Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT)
        arena = ort.OrtArenaCfg({"max_mem": MAX_CALL_BYTES, "arena_extend_strategy": 1})
        ort.create_and_register_allocator(memory, arena)
        _arena_ready = True
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # its warnings are not the user's business, and a failed call is reported by us in one line
    options.log_severity_level = 4
    if bounded:
        options.add_session_config_entry("session.use_env_allocators", "1")
    return options


def session(graph: bytes, threads: int = 1, bounded: bool = True) -> ort.InferenceSession:
    """An ONNX Runtime session for a graph that `vet` returned; `bounded=False` only for a
    graph just exported from a model in memory (an evaluation's large batches)."""
    options = session_options(threads, bounded)
    return ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])


def vae_weights(tensors: dict[str, np.ndarray]) -> Expected:
    """A VAE's graphs hold its parameters under the names `vae.<state-dict key>`."""
    named = {f"vae.{k}": v for k, v in tensors.items()}
    return lambda model: named


class OnnxModel:
    """`encode`: images (B, 28, 28) in [0, 1] -> (mu, logvar), (B, D) each; `decode`: latent
    points (B, D) -> images (B, 28, 28) in [0, 1]. One intra-op thread: a single decode is
    fastest that way, and a training run leaves the other core to the interface.

    The graphs must have been through `vet` (`from_file` does it). A conditional model's
    graphs also take `labels`, the digits as one-hot rows (B, 10) float32 (`conditional`
    says whether they do)."""

    def __init__(self, encoder: bytes, decoder: bytes, threads: int = 1, bounded: bool = True) -> None:
        self._encoder = session(encoder, threads, bounded)
        self._decoder = session(decoder, threads, bounded)
        self.conditional = "labels" in {i.name for i in self._decoder.get_inputs()}

    @classmethod
    def from_file(
        cls,
        graphs: dict[str, bytes],
        tensors: dict[str, np.ndarray],
        latent_dim: int,
        conditional: bool = False,
    ) -> OnnxModel:
        """The file's two graphs, vetted and bound to its tensors; `GraphError` if refused.
        A conditional model's take the digits beside the images and the latent points."""
        weights = vae_weights(tensors)
        labels = {"labels": (DIGITS,)} if conditional else {}
        planes = {"labels": (DIGITS, 28, 28)} if conditional else {}
        try:
            encoder = vet(graphs[ENCODER], {"images": (28, 28), **planes}, ("mu", "logvar"), weights)
        except GraphError as e:
            raise GraphError(f"its encoder: {e}") from None
        try:
            decoder = vet(graphs[DECODER], {"z": (latent_dim,), **labels}, ("images", "logits"), weights)
        except GraphError as e:
            raise GraphError(f"its decoder: {e}") from None
        return cls(encoder, decoder)

    def _feeds(
        self, name: str, value: np.ndarray, labels: np.ndarray | None, planes: bool = False
    ) -> list[dict[str, np.ndarray]]:
        """The inputs of each call, CALL_BATCH items at a time, with a conditional model's
        one-hot digits (B, 10), or for its encoder their ten constant planes (B, 10, 28, 28)."""
        value = np.ascontiguousarray(value, np.float32)
        if not self.conditional:
            return [{name: value[i : i + CALL_BATCH]} for i in batches(len(value))]
        if labels is None:
            raise ValueError("a conditional model needs the digits (one-hot rows) with its inputs")
        y = np.asarray(labels, np.float32)
        feeds = []
        for i in batches(len(value)):
            part = y[i : i + CALL_BATCH]
            if planes:
                part = np.broadcast_to(part[:, :, None, None], (*part.shape, 28, 28))
            feeds.append({name: value[i : i + CALL_BATCH], "labels": np.ascontiguousarray(part)})
        return feeds

    def encode(self, images: np.ndarray, labels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        parts = [self._encoder.run(None, feed) for feed in self._feeds("images", images, labels, planes=True)]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def decode(self, z: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        return self._decoded("images", z, labels)

    def decode_logits(self, z: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        """(B, D) -> the decoder's logits, (B, 28, 28): what a likelihood needs, as the
        sigmoid saturates to exactly 0 or 1 in float32."""
        return self._decoded("logits", z, labels)

    def _decoded(self, output: str, z: np.ndarray, labels: np.ndarray | None) -> np.ndarray:
        return np.concatenate([self._decoder.run([output], feed)[0] for feed in self._feeds("z", z, labels)])


def describe_failure(e: BaseException) -> str:
    """One line for what ONNX Runtime raised when a call failed."""
    text = str(e).strip()
    if "Available memory of" in text:  # the arena's cap
        return f"one call needs more than {MAX_CALL_BYTES // 2**20} MB"
    return text.splitlines()[0] if text else type(e).__name__


def batches(n: int) -> range:
    """Where each call's slice starts: CALL_BATCH items per call (one empty call for none,
    so that the graph gives its empty output)."""
    return range(0, max(n, 1), CALL_BATCH)
