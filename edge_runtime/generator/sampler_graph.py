"""The generator graph with masking, temperature and the nucleus candidates inside it (issue 19).

A sampled token used to cost ~2.7× the bare model step, almost all of it
the dozen numpy calls of the masked softmax and the top-p sort over 252
logits.  This module appends four nodes to the shipped generator ONNX
graph, after its ``logits`` output:

    z  = logits * inv_t + bias        (bias: 0 where the grammar allows a token, -inf elsewhere)
    p  = Softmax(z)
    sp, si = TopK(p, K)               (the K most probable tokens, sorted, with their ids)

so one runtime call returns the model step *and* the sorted head of the
masked, tempered distribution.  The nucleus cut and the draw then run in
Python over at most ``K`` floats (:func:`nomad_muse.generator.sampling.sample_sorted`);
a nucleus wider than ``K`` tokens falls back to the reference numpy sampler
on the full logits (still returned), and is counted.

The graph is derived from whichever ``.onnx`` generator is loaded (the
shipped one, a retrained one, an INT8 QDQ variant) by appending ~1 KB of
protobuf to the file (no ``onnx`` import), and cached under the user's
cache directory keyed by the source file's SHA-256.  OpenVINO IR (``.xml``)
variants keep the reference sampler.
"""

from __future__ import annotations

from pathlib import Path

from nomad_muse.backends.base import CompiledModel
from nomad_muse.errors import BackendError
from nomad_muse.paths import sha256_file

#: how many sorted candidates the graph returns: the nucleus (top-p 0.95) of the shipped
#: model's sampled tokens fits in it on all but a fraction of a per cent of steps (counted:
#: ``GenStats.reference_draws``; measured by ``muse bench generator``)
K_CANDIDATES = 16
#: the extra inputs and outputs of the sampled graph
EXTRA_INPUTS = ("bias", "inv_t")
EXTRA_OUTPUTS = ("top_p_probs", "top_p_ids")
_VERSION = 2  # bump when the appended nodes change (part of the cache key)


# -- protobuf, by hand ---------------------------------------------------------------------------
# The appended nodes are written as raw protobuf: a second ``ModelProto.graph`` field after the file's
# own.  Protobuf merges repeated occurrences of an embedded message (repeated fields concatenate), so
# every runtime's parser reads one graph = the original + these nodes, inputs, outputs and initializer.
# Hand-written because importing the ``onnx`` package costs seconds at start-up (its ``ml_dtypes``
# import: 4-5 s measured under load here) for what is ~1 KB of bytes; tests/test_sampling_speed.py
# parses the result with ``onnx`` and checks it.  Field numbers from onnx/onnx.proto.

_FLOAT, _INT64 = 1, 7  # TensorProto.DataType


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negative int64 values as two's complement, as protobuf does
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _ld(field: int, payload: bytes) -> bytes:  # length-delimited (wire type 2)
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def _vi(field: int, value: int) -> bytes:  # varint (wire type 0)
    return _varint(field << 3) + _varint(value)


def _node(op: str, inputs: tuple[str, ...], outputs: tuple[str, ...], **ints: int) -> bytes:
    body = b"".join(_ld(1, n.encode()) for n in inputs) + b"".join(_ld(2, n.encode()) for n in outputs)
    body += _ld(3, f"nomad_sampler_{op}".encode()) + _ld(4, op.encode())
    for name, v in ints.items():  # AttributeProto: name 1, i 3, type 20 (INT = 2)
        body += _ld(5, _ld(1, name.encode()) + _vi(3, v) + _vi(20, 2))
    return _ld(1, body)  # GraphProto.node


def _value_info(field: int, name: str, elem: int, dims: tuple[int, ...]) -> bytes:
    shape = b"".join(_ld(1, _vi(1, d)) for d in dims)  # TensorShapeProto.dim { dim_value }
    tensor = _vi(1, elem) + _ld(2, shape)  # TypeProto.Tensor { elem_type, shape }
    return _ld(field, _ld(1, name.encode()) + _ld(2, _ld(1, tensor)))  # ValueInfoProto { name, type { tensor_type } }


def appended_graph(vocab: int, k: int = K_CANDIDATES) -> bytes:
    """The bytes to append to a generator ONNX file (``logits`` [1, vocab]) to add the sampler head."""
    if not 1 <= k <= vocab:
        raise BackendError(f"sampler head k={k} must be within 1..{vocab} (the model's logits)")
    z, zb, p, kk = "nomad_sampler_z", "nomad_sampler_zb", "nomad_sampler_p", "nomad_sampler_k"
    g = _node("Mul", ("logits", "inv_t"), (z,))
    g += _node("Add", (z, "bias"), (zb,))
    g += _node("Softmax", (zb,), (p,), axis=-1)
    g += _node("TopK", (p, kk), EXTRA_OUTPUTS, axis=-1, largest=1, sorted=1)
    # initializer: TensorProto { dims 1, data_type 2, name 8, raw_data 9 }
    g += _ld(5, _vi(1, 1) + _vi(2, _INT64) + _ld(8, kk.encode()) + _ld(9, int(k).to_bytes(8, "little", signed=True)))
    g += _value_info(11, "bias", _FLOAT, (1, vocab)) + _value_info(11, "inv_t", _FLOAT, (1,))
    g += _value_info(12, EXTRA_OUTPUTS[0], _FLOAT, (1, k)) + _value_info(12, EXTRA_OUTPUTS[1], _INT64, (1, k))
    return _ld(7, g)  # ModelProto.graph, merged into the file's graph by the parser


def build(src: Path, dst: Path, *, vocab: int, k: int = K_CANDIDATES) -> None:
    """Write ``src`` (a generator ONNX file whose ``logits`` output is [1, vocab]) plus the sampler head to ``dst``."""
    from nomad_muse.paths import atomic_output

    data = Path(src).read_bytes()
    dst.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(dst, what="sampled generator graph") as tmp:
        Path(tmp).write_bytes(data + appended_graph(vocab, k))


def sampled_path(src: Path, *, vocab: int, k: int = K_CANDIDATES) -> Path:
    """The cached sampled graph of ``src`` (built on first use); raises BackendError if it cannot be made.

    ``vocab``: the width of the model's ``logits`` output (from the loaded model's specs).  A file whose
    graph already uses the appended names fails when the runtime loads it (duplicate tensor names), and
    the caller keeps the reference sampler."""
    src = Path(src)
    if src.suffix.lower() != ".onnx":
        raise BackendError(f"{src.name}: the in-graph sampler needs an ONNX generator (found {src.suffix or 'no suffix'})")
    from nomad_muse.paths import cache_dir

    dst = cache_dir() / "generator" / f"{src.stem}-sampled-v{_VERSION}-k{k}-{sha256_file(src)[:16]}.onnx"
    if not dst.is_file():
        from nomad_muse.errors import ParameterError

        try:
            build(src, dst, vocab=vocab, k=k)
        except (OSError, ParameterError) as e:
            raise BackendError(f"{src.name}: cannot write the sampled graph: {e}") from e
    return dst


class SampledStepModel(CompiledModel):
    """The sampled graph behind the plain generator contract.

    ``run`` takes and returns what the shipped model does (``token`` in,
    ``logits`` out, state carried), filling ``bias`` with zeros (no mask) and
    ``inv_t`` with 1 and dropping the head, so any caller of
    ``Generator.model`` (adapters, evaluation) sees the generator it knows;
    :meth:`run_views` passes the full sampled inputs straight to the runtime
    (the Generator's per-token step).
    """

    def __init__(self, inner) -> None:
        import numpy as np

        self.inner = inner
        self.inputs = tuple(s for s in inner.inputs if s.name not in EXTRA_INPUTS)
        self.outputs = tuple(s for s in inner.outputs if s.name not in EXTRA_OUTPUTS)
        self.state = inner.state
        specs = {s.name: s for s in inner.inputs}
        missing = [n for n in EXTRA_INPUTS if n not in specs]
        if missing or not specs["bias"].is_static:
            raise BackendError(f"sampled graph lacks static inputs {missing or ['bias']}")
        self._defaults = {"bias": np.zeros(specs["bias"].shape, np.float32), "inv_t": np.ones(specs["inv_t"].shape, np.float32)}

    def run(self, inputs):
        full = {**self._defaults, **inputs} if "bias" not in inputs else inputs
        out = self.inner.run(full)
        return {k: v for k, v in out.items() if k not in EXTRA_OUTPUTS}

    def run_views(self, inputs):
        return self.inner.run_views(inputs)

    def describe(self):
        return self.inner.describe()

    def reset_state(self) -> None:
        self.inner.reset_state()

    def get_state(self):
        return self.inner.get_state()

    def set_state(self, values) -> None:
        self.inner.set_state(values)
