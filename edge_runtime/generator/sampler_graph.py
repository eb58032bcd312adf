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
shipped one, a retrained one, an INT8 QDQ variant) and cached under the
user's cache directory keyed by the source file's SHA-256, so ``onnx`` is
imported only the first time a model is seen.  OpenVINO IR (``.xml``)
variants keep the reference sampler.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from nomad_muse.errors import BackendError

#: how many sorted candidates the graph returns: the nucleus (top-p 0.95) of the shipped
#: model's sampled tokens fits in it on all but a fraction of a per cent of steps (counted:
#: ``GenStats.reference_draws``; measured by ``muse bench generator``)
K_CANDIDATES = 16
#: the extra inputs and outputs of the sampled graph
EXTRA_INPUTS = ("bias", "inv_t")
EXTRA_OUTPUTS = ("top_p_probs", "top_p_ids")
_VERSION = 1  # bump when the appended nodes change (part of the cache key)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def build(src: Path, dst: Path, *, k: int = K_CANDIDATES) -> None:
    """Write ``src`` (a generator ONNX graph with a ``logits`` [1, V] output) plus the sampling nodes to ``dst``."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from nomad_muse.paths import atomic_output

    model = onnx.load(str(src))
    g = model.graph
    out = {o.name: o for o in g.output}
    if "logits" not in out:
        raise BackendError(f"{src.name}: no 'logits' output to sample from (outputs: {sorted(out)})")
    dims = [d.dim_value for d in out["logits"].type.tensor_type.shape.dim]
    if len(dims) != 2 or dims[0] != 1 or dims[1] < k:
        raise BackendError(f"{src.name}: logits shape {dims} is not [1, V] with V >= {k}")
    taken = {i.name for i in g.input} | set(out) | {n for node in g.node for n in node.output}
    clash = taken & set(EXTRA_INPUTS + EXTRA_OUTPUTS + ("_z", "_zb", "_p", "_k"))
    if clash:
        raise BackendError(f"{src.name}: tensor names {sorted(clash)} already used; cannot append the sampler")
    vocab = dims[1]
    g.input.extend(
        [
            helper.make_tensor_value_info("bias", TensorProto.FLOAT, [1, vocab]),
            helper.make_tensor_value_info("inv_t", TensorProto.FLOAT, [1]),
        ]
    )
    g.initializer.append(numpy_helper.from_array(np.array([k], np.int64), "_k"))
    g.node.extend(
        [
            helper.make_node("Mul", ["logits", "inv_t"], ["_z"]),
            helper.make_node("Add", ["_z", "bias"], ["_zb"]),
            helper.make_node("Softmax", ["_zb"], ["_p"], axis=-1),
            helper.make_node("TopK", ["_p", "_k"], list(EXTRA_OUTPUTS), axis=-1, largest=1, sorted=1),
        ]
    )
    g.output.extend(
        [
            helper.make_tensor_value_info(EXTRA_OUTPUTS[0], TensorProto.FLOAT, [1, k]),
            helper.make_tensor_value_info(EXTRA_OUTPUTS[1], TensorProto.INT64, [1, k]),
        ]
    )
    onnx.checker.check_model(model)
    dst.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(dst, what="sampled generator graph") as tmp:
        Path(tmp).write_bytes(model.SerializeToString())


def sampled_path(src: Path, *, k: int = K_CANDIDATES) -> Path:
    """The cached sampled graph of ``src`` (built on first use); raises BackendError if it cannot be made."""
    src = Path(src)
    if src.suffix.lower() != ".onnx":
        raise BackendError(f"{src.name}: the in-graph sampler needs an ONNX generator (found {src.suffix or 'no suffix'})")
    from nomad_muse.paths import cache_dir

    dst = cache_dir() / "generator" / f"{src.stem}-sampled-v{_VERSION}-k{k}-{_sha256(src)[:16]}.onnx"
    if not dst.is_file():
        try:
            build(src, dst, k=k)
        except BackendError:
            raise
        except Exception as e:  # a model onnx cannot parse or check
            raise BackendError(f"{src.name}: cannot append the sampler: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from e
    return dst
