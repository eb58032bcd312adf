"""INT8 variants with NNCF: post-training quantization, or weight-only where activations suffer.

Two routes per model, so each runtime gets a file it runs with real INT8 kernels:

* **ONNX Runtime** — ``nncf.quantize`` on the ONNX ``ModelProto`` writes a QDQ
  ONNX file (needs the ``onnx`` package).
* **OpenVINO** — ``nncf.quantize`` on the ``ov.Model`` writes an IR with
  FakeQuantize nodes and int8 weights (saved with ``compress_to_fp16=False``:
  ``ov.save_model`` would otherwise halve the FP32 constants).

Models with recurrent or attention layers get **weight-only** INT8
(``nncf.compress_weights``, INT8_SYM, per channel) instead: NNCF and ORT's
quantizers leave GRU/LSTM in FP32 anyway (only the head would be quantized)
and static activation INT8 hurts attention (shared/notes/inference-runtimes.md
§4–5), while weight-only keeps the outputs close at FP32 speed.  The choice is
made by inspecting the graph (:func:`sensitive_ops`) and stated in
:attr:`Variant.note`.

Every artefact goes to an explicit output directory (the user data dir by
default), never the working directory.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nomad_muse.backends.base import Candidate, first_line

log = logging.getLogger(__name__)

#: OpenVINO op types that make static activation INT8 a bad idea
SENSITIVE_OPS = ("GRUSequence", "GRUCell", "LSTMSequence", "LSTMCell", "RNNSequence", "RNNCell", "ScaledDotProductAttention")


@dataclass(frozen=True)
class Variant:
    """One model file for one candidate: the shipped FP32 file or an INT8 file made here.

    ``method`` says how it was made; ``note`` what a user should know (e.g.
    "GRU stays FP32: weight-only").
    """

    module: str
    candidate: Candidate
    path: Path
    method: str
    note: str = ""


@contextlib.contextmanager
def _quiet():
    """NNCF prints progress bars and tables; keep them out of ``muse calibrate``'s output."""
    import nncf

    nncf.set_log_level(logging.ERROR)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


#: the same, as ONNX op types (when OpenVINO is not installed)
SENSITIVE_ONNX_OPS = {"GRU": "GRUSequence", "LSTM": "LSTMSequence", "RNN": "RNNSequence", "Attention": "ScaledDotProductAttention"}


def sensitive_ops(model_path: Path) -> list[str]:
    """Op types in the model that static activation INT8 would hurt (read by OpenVINO, else by ``onnx``)."""
    try:
        from nomad_muse.backends.openvino_backend import _core

        m = _core().read_model(str(model_path))
        return sorted({op.get_type_name() for op in m.get_ordered_ops()} & set(SENSITIVE_OPS))
    except ImportError:
        import onnx

        ops = {n.op_type for n in onnx.load(str(model_path)).graph.node}
        return sorted(SENSITIVE_ONNX_OPS[o] for o in ops if o in SENSITIVE_ONNX_OPS)


def _have_onnx() -> bool:
    try:
        import onnx  # noqa: F401
    except ImportError:
        return False
    return True


def _first_conv_scope(names: Sequence[str]):
    """An ``nncf.IgnoredScope`` holding the first convolution (graph order), or None."""
    import nncf

    return nncf.IgnoredScope(names=[names[0]]) if names else None


def _save_onnx(model, out: Path) -> Path:
    """``onnx.save`` to a temp file beside ``out``, then rename: a variant is never rewritten in place
    (a second `muse calibrate`, or a reader loading it, sees the old file or the new one, never half)."""
    import onnx

    from nomad_muse.paths import atomic_output

    with atomic_output(out, what="INT8 variant") as tmp:
        onnx.save(model, str(tmp))
    return out


def _save_ir(model, out: Path) -> Path:
    """``ov.save_model`` (``out`` .xml + .bin) to a temp pair beside it, then rename the weights, then the graph."""
    import os
    import tempfile

    import openvino as ov

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{out.stem}.", dir=out.parent))
    try:
        xml = tmpdir / out.name
        ov.save_model(model, str(xml), compress_to_fp16=False)
        for f in (xml.with_suffix(".bin"), xml):
            with open(f, "rb+") as fh:
                os.fsync(fh.fileno())
            os.chmod(f, 0o644)
            os.replace(f, out.with_suffix(f.suffix))
    finally:
        for f in tmpdir.iterdir():
            f.unlink(missing_ok=True)
        tmpdir.rmdir()
    return out


def ptq_onnx(src: Path, feeds: Sequence[dict[str, np.ndarray]], out: Path, *, subset_size: int = 300,
             keep_first_conv: bool = True) -> Path:
    """NNCF post-training quantization of an ONNX model → QDQ ONNX at ``out``.

    ``keep_first_conv`` leaves the first convolution in FP32: it sees the raw
    standardised features, has one input channel (little INT8 gain) and was
    measured to carry most of the classifier's INT8 error (docs/calibration.md).
    """
    import nncf
    import onnx

    model = onnx.load(str(src))
    scope = _first_conv_scope([n.name for n in model.graph.node if n.op_type == "Conv"]) if keep_first_conv else None
    with _quiet():
        q = nncf.quantize(model, nncf.Dataset(list(feeds)), subset_size=min(subset_size, len(feeds)),
                          ignored_scope=scope)
    return _save_onnx(q, out)


def ptq_ir(src: Path, feeds: Sequence[dict[str, np.ndarray]], out: Path, *, subset_size: int = 300,
           keep_first_conv: bool = True) -> Path:
    """NNCF post-training quantization through OpenVINO → IR (``out`` .xml + .bin); ``keep_first_conv`` as :func:`ptq_onnx`."""
    import nncf
    import openvino as ov

    from nomad_muse.backends.openvino_backend import _core

    model = _core().read_model(str(src))
    convs = [o.get_friendly_name() for o in model.get_ordered_ops() if o.get_type_name() == "Convolution"]
    scope = _first_conv_scope(convs) if keep_first_conv else None
    with _quiet():
        q = nncf.quantize(model, nncf.Dataset(list(feeds)), subset_size=min(subset_size, len(feeds)),
                          ignored_scope=scope)
    return _save_ir(q, out)


def weights_onnx(src: Path, out: Path) -> Path:
    """NNCF weight-only INT8 (symmetric, per channel) of an ONNX model → ONNX at ``out``."""
    import nncf
    import onnx

    with _quiet():
        q = nncf.compress_weights(onnx.load(str(src)), mode=nncf.CompressWeightsMode.INT8_SYM)
    return _save_onnx(q, out)


def weights_ir(src: Path, out: Path) -> Path:
    """NNCF weight-only INT8 (symmetric, per channel) through OpenVINO → IR at ``out``."""
    import nncf
    import openvino as ov

    from nomad_muse.backends.openvino_backend import _core

    with _quiet():
        q = nncf.compress_weights(_core().read_model(str(src)), mode=nncf.CompressWeightsMode.INT8_SYM)
    return _save_ir(q, out)


def make_int8_variants(
    module: str,
    src: Path,
    feeds: Sequence[dict[str, np.ndarray]] | Callable[[], Sequence[dict[str, np.ndarray]]],
    out_dir: Path,
    *,
    runtimes: Sequence[str] = ("onnxruntime", "openvino"),
    devices: Sequence[str] = ("CPU",),
) -> tuple[list[Variant], list[str]]:
    """INT8 variants of ``src`` for each runtime, plus notes (what was done, what failed and why).

    ``feeds`` are ~300 calibration inputs from the module's real data (or a
    function making them, called only when activation quantization needs
    them; weight-only compression does not).  A route that fails (e.g. no
    ``onnx`` package for the QDQ route) is skipped with a note; the other
    route still runs.
    """
    notes: list[str] = []
    try:
        sens = sensitive_ops(src)
    except Exception as e:  # neither OpenVINO nor onnx can read it: no INT8 route can either
        return [], [f"{module}: INT8 skipped: cannot inspect {src.name} ({first_line(e)})"]
    weight_only = bool(sens)
    if weight_only:
        why = (f"{module}: weight-only INT8 (NNCF compress_weights INT8_SYM): the graph has {', '.join(sens)}, "
               "which NNCF and ORT leave in FP32 and which static activation INT8 would hurt; "
               "embedding and output layers are compressed, the recurrent layers stay FP32")
        notes.append(why)
    if not weight_only and callable(feeds):
        feeds = feeds()
    stem = src.stem
    out: list[Variant] = []
    routes = []
    if "onnxruntime" in runtimes:
        routes.append(("onnxruntime", out_dir / f"{stem}.int8.onnx", weights_onnx if weight_only else ptq_onnx,
                       "nncf weight-only int8_sym (ONNX)" if weight_only else "nncf ptq (QDQ ONNX), first conv FP32"))
    if "openvino" in runtimes:
        routes.append(("openvino", out_dir / f"{stem}.int8.xml", weights_ir if weight_only else ptq_ir,
                       "nncf weight-only int8_sym (OpenVINO IR)" if weight_only else "nncf ptq (OpenVINO IR), first conv FP32"))
    for runtime, path, fn, method in routes:
        if path.suffix == ".onnx" and not _have_onnx():
            notes.append(f"{module}: {runtime} INT8 skipped: the `onnx` package is not installed (`pip install onnx`)")
            continue
        try:
            fn(src, path) if weight_only else fn(src, feeds, path)
        except Exception as e:  # NNCF raises many types; one line per failed route
            notes.append(f"{module}: {method} failed ({first_line(e)}); {runtime} keeps FP32")
            log.warning("INT8 route %s failed for %s: %s", method, src, e)
            continue
        for dev in devices if runtime == "openvino" else ("CPU",):
            out.append(Variant(module, Candidate(runtime, dev, "int8"), path, method,
                               "weight-only: recurrent layers stay FP32" if weight_only else ""))
    return out, notes

