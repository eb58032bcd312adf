"""The one interface every inference runtime implements.

A backend turns a model file into a :class:`CompiledModel` for one device,
precision and thread count.  The facade never branches on the runtime: every
compiled model has the same ``run(inputs) -> outputs`` call over plain numpy
arrays keyed by the model's own tensor names, the same specs and the same
``describe()``.  Pre- and post-processing (framing, features, sampling) live
with the modules in ``edge_runtime``, never here: backends only move tensors.

Stateful models (the generator's recurrent hidden state or KV cache) are
first-class: pass ``state={"h": "h_out"}`` at load time and the backend keeps
the state between calls itself, without copying it through Python where the
runtime allows (ONNX Runtime: two IOBindings ping-ponging one pair of
buffers; OpenVINO: the model made stateful, the state living in the infer
request).  ``run`` then takes and returns only the non-state tensors.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nomad_muse.errors import BackendError, ParameterError

PRECISIONS = ("fp32", "fp16", "bf16", "int8")


@dataclass(frozen=True)
class TensorSpec:
    """Name, shape and dtype of one model input or output.

    ``shape`` holds ints for static dimensions and ``None`` for dynamic ones.
    """

    name: str
    shape: tuple[int | None, ...]
    dtype: np.dtype

    @property
    def is_static(self) -> bool:
        return all(d is not None for d in self.shape)

    def matches(self, array: np.ndarray) -> bool:
        """True if ``array`` has this spec's dtype, rank and static dimensions."""
        if array.dtype != self.dtype or array.ndim != len(self.shape):
            return False
        return all(d is None or d == a for d, a in zip(self.shape, array.shape))

    def __str__(self) -> str:
        dims = ",".join("?" if d is None else str(d) for d in self.shape)
        return f"{self.name}: {np.dtype(self.dtype).name}[{dims}]"


@dataclass(frozen=True)
class Candidate:
    """One way to run a model: runtime + device + precision."""

    runtime: str
    device: str = "CPU"
    precision: str = "fp32"

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ParameterError(f"precision={self.precision!r} must be one of {', '.join(PRECISIONS)}")

    def __str__(self) -> str:
        return f"{self.runtime}/{self.device}/{self.precision}"

    @classmethod
    def parse(cls, text: str) -> "Candidate":
        """Parse ``runtime[/device[/precision]]``, e.g. ``openvino/GPU/fp16``."""
        parts = [p for p in text.replace(":", "/").split("/") if p]
        if not 1 <= len(parts) <= 3:
            raise ParameterError(f"backend {text!r} must look like runtime[/device[/precision]], e.g. onnxruntime/CPU/fp32")
        runtime = parts[0].lower()
        device = parts[1].upper() if len(parts) > 1 else "CPU"
        precision = parts[2].lower() if len(parts) > 2 else "fp32"
        return cls(runtime, device, precision)


@dataclass(frozen=True)
class BackendInfo:
    """What ``CompiledModel.describe()`` reports: enough to reproduce a measurement."""

    runtime: str
    runtime_version: str
    device: str
    device_name: str
    precision: str
    threads: int
    model_path: str
    call_path: str
    stateful: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict:
        return {
            "runtime": self.runtime,
            "runtime_version": self.runtime_version,
            "device": self.device,
            "device_name": self.device_name,
            "precision": self.precision,
            "threads": self.threads,
            "model_path": self.model_path,
            "call_path": self.call_path,
            "stateful": self.stateful,
            "notes": list(self.notes),
        }


class CompiledModel(abc.ABC):
    """A model compiled for one device; call :meth:`run` as often as needed.

    Not thread-safe: one compiled model belongs to one worker thread.
    """

    #: the tensors the caller passes to :meth:`run` (state inputs excluded)
    inputs: tuple[TensorSpec, ...]
    #: the tensors :meth:`run` returns (state outputs excluded)
    outputs: tuple[TensorSpec, ...]
    #: the state tensors kept between calls, by input name (empty if stateless)
    state: tuple[TensorSpec, ...] = ()

    @abc.abstractmethod
    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run once. Returns fresh arrays keyed by output name.

        Raises :class:`BackendError` when an input is missing, unexpected, or
        has the wrong dtype or shape.
        """

    def run_views(self, inputs: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
        """Run once, returning the bound output buffers themselves instead of fresh copies.

        For hot loops (the generator's per-token step) that read every output
        before the next call: the arrays are overwritten by the next
        :meth:`run`/:meth:`run_views` and must not be written to.  Backends
        without bound outputs return :meth:`run`'s fresh arrays.
        """
        return self.run(inputs)

    @abc.abstractmethod
    def describe(self) -> BackendInfo:
        """Runtime name and version, device, precision, threads, call path."""

    def reset_state(self) -> None:
        """Zero every state tensor (a new sequence starts)."""
        if self.state:
            self.set_state({s.name: np.zeros(s.shape, s.dtype) for s in self.state})

    def get_state(self) -> dict[str, np.ndarray]:
        """Copy of the current state tensors, keyed by state input name."""
        return {}

    def set_state(self, values: Mapping[str, np.ndarray]) -> None:
        """Overwrite state tensors (e.g. to restore a saved branch)."""
        if values:
            raise BackendError(f"model {self.describe().model_path} has no state; got {sorted(values)}")

    # -- helpers shared by implementations -------------------------------
    #: pre-allocated input buffers bound to the runtime, by input name (set by ``_prepare``)
    _in_bufs: dict[str, np.ndarray] = {}

    def _prepare(self, shapes: Mapping[str, tuple[int, ...]]) -> None:
        """Allocate and bind input/output buffers for these concrete input shapes."""
        raise NotImplementedError

    #: ``(in_bufs, ((name, buf, shape, dtype), ...))`` for the fast path; rebuilt when ``_in_bufs`` is replaced
    _staged: tuple = ({}, ())

    def _stage_inputs(self, inputs: Mapping[str, np.ndarray]) -> None:
        """Copy ``inputs`` into the bound buffers (fast path); on any mismatch,
        validate (raising BackendError) and rebind for the new dynamic shapes.

        The fast path is what every call of a bound model pays, so it is kept
        to a name look-up, a shape and dtype compare and ``buf[...] = src`` per
        input (measured: ``np.copyto`` costs 0.5 µs a call, the slice
        assignment 0.16 µs); the full validation runs only on a mismatch.
        """
        bound, items = self._staged
        if bound is not self._in_bufs:
            bound = self._in_bufs
            items = tuple((n, b, b.shape, b.dtype) for n, b in bound.items())
            self._staged = (bound, items)
        if items and len(inputs) == len(items):  # every input is bound, so this is len(self.inputs)
            try:
                for name, buf, shape, dtype in items:
                    src = inputs[name]
                    if src.shape != shape or src.dtype != dtype:
                        break
                    buf[...] = src
                else:
                    return
            except (KeyError, AttributeError):
                pass
        self._check_inputs(inputs)
        self._prepare({name: arr.shape for name, arr in inputs.items()})
        for name, buf in self._in_bufs.items():
            np.copyto(buf, inputs[name])

    def _check_inputs(self, inputs: Mapping[str, np.ndarray]) -> None:
        """Validate names, dtypes and static dims; raise one clear BackendError."""
        expected = {s.name for s in self.inputs}
        given = set(inputs)
        path = self.describe().model_path
        if given != expected:
            missing = sorted(expected - given)
            extra = sorted(given - expected)
            parts = []
            if missing:
                parts.append(f"missing {missing}")
            if extra:
                parts.append(f"unexpected {extra}")
            wanted = "; ".join(str(s) for s in self.inputs)
            raise BackendError(f"{Path(path).name}: inputs {' and '.join(parts)}; the model expects {wanted}")
        for spec in self.inputs:
            arr = inputs[spec.name]
            if not isinstance(arr, np.ndarray) or not spec.matches(arr):
                found = (
                    f"{arr.dtype.name}{list(arr.shape)}" if isinstance(arr, np.ndarray) else type(arr).__name__
                )
                raise BackendError(f"{Path(path).name}: input {spec} expected, found {found}")


#: Largest model file (ONNX, or an IR's .xml/.bin) any backend opens; checked with stat() before a byte is
#: read.  The shipped models are a few MB; a bigger file is refused in one line instead of read whole.
MAX_MODEL_BYTES = 1 << 30


def check_model_file(path: str | Path, suffixes: tuple[str, ...], runtime: str) -> Path:
    """Return ``path`` as a Path if it exists with one of ``suffixes`` and at most
    :data:`MAX_MODEL_BYTES` (an IR's weights file too), else raise BackendError."""
    p = Path(path)
    if not p.is_file():
        raise BackendError(f"model file not found: {p} (check the path, or reinstall the package to restore shipped models)")
    if p.suffix.lower() not in suffixes:
        raise BackendError(
            f"{runtime} cannot load {p.name}: expected a {' or '.join(suffixes)} file, found {p.suffix or 'no suffix'}"
        )
    if p.stat().st_size == 0:
        raise BackendError(f"model file is empty: {p} (re-export or reinstall it)")
    for f in (p, p.with_suffix(".bin")) if p.suffix.lower() == ".xml" else (p,):
        if f.is_file() and f.stat().st_size > MAX_MODEL_BYTES:
            raise BackendError(f"model file {f} is {f.stat().st_size / 2**20:.0f} MiB, over the {MAX_MODEL_BYTES >> 20} MiB "
                               "limit for a model (the shipped ones are a few MiB); is it the right file?")
    return p


def first_line(exc: BaseException) -> str:
    """The first non-empty line of an exception's message, for one-line errors."""
    for line in str(exc).splitlines():
        line = line.strip()
        if line:
            return line[:300]
    return type(exc).__name__


class Backend(abc.ABC):
    """A runtime that can compile model files. One module per runtime implements it."""

    name: str

    @abc.abstractmethod
    def version(self) -> str:
        """The runtime's version string."""

    @abc.abstractmethod
    def devices(self) -> list[str]:
        """Devices this runtime can use here, e.g. ``["CPU", "GPU"]``."""

    @abc.abstractmethod
    def load(
        self,
        path: str | Path,
        *,
        device: str = "CPU",
        precision: str = "fp32",
        threads: int = 1,
        state: Mapping[str, str] | None = None,
        cache_dir: str | Path | None = None,
    ) -> CompiledModel:
        """Compile the model file at ``path``; raise :class:`BackendError` on failure."""


_QUANTIZED_ONNX_OPS = (b"QuantizeLinear", b"DequantizeLinear", b"MatMulInteger", b"ConvInteger", b"QLinear")
_QUANTIZED_IR_MARKERS = ('type="FakeQuantize"', 'element_type="i8"', 'element_type="u8"', 'element_type="i4"', 'element_type="u4"')


def file_is_quantized(path: Path) -> bool:
    """True if an ONNX or OpenVINO IR file holds integer-quantized operations.

    ONNX stores op types as plain strings in its protobuf, and IR ``.xml``
    names layer types and constant element types in text, so a byte scan is
    exact enough to tell an INT8 variant (NNCF/ORT QDQ, FakeQuantize, or
    weight-only int8 constants) from an FP32 one without loading ``onnx``.
    """
    markers = ([m.encode() for m in _QUANTIZED_IR_MARKERS] if path.suffix.lower() == ".xml" else list(_QUANTIZED_ONNX_OPS))
    keep = max(len(m) for m in markers) - 1
    tail = b""
    with open(path, "rb") as f:  # in 8 MiB chunks (a marker split across two is still found): bounded memory
        while chunk := f.read(8 << 20):
            buf = tail + chunk
            if any(m in buf for m in markers):
                return True
            tail = buf[-keep:]
    return False


def check_precision_matches_file(path: Path, precision: str, runtime: str) -> None:
    """Refuse a precision label that the model file contradicts (INT8 ⇔ quantized file)."""
    quantized = file_is_quantized(path)
    if precision == "int8" and not quantized:
        raise BackendError(
            f"{runtime}: precision int8 requested but {path.name} has no quantized ops "
            "(load the INT8 variant that `muse calibrate` writes, or ask for fp32)"
        )
    if precision != "int8" and quantized:
        raise BackendError(f"{runtime}: {path.name} is an INT8 (quantized) model but precision {precision} was requested; ask for int8")


def check_state_pairs(
    state: Mapping[str, str] | None,
    inputs: tuple[TensorSpec, ...],
    outputs: tuple[TensorSpec, ...],
    path: Path,
) -> tuple[tuple[TensorSpec, TensorSpec], ...]:
    """Validate ``{state_input: state_output}`` against the model's specs.

    Each pair must name an existing input and output with the same dtype and
    the same static shape; returns the pairs as ``(in_spec, out_spec)``.
    """
    if not state:
        return ()
    ins = {s.name: s for s in inputs}
    outs = {s.name: s for s in outputs}
    pairs = []
    for i_name, o_name in state.items():
        if i_name not in ins:
            raise BackendError(f"{path.name}: state input {i_name!r} not found; inputs are {sorted(ins)}")
        if o_name not in outs:
            raise BackendError(f"{path.name}: state output {o_name!r} not found; outputs are {sorted(outs)}")
        i_spec, o_spec = ins[i_name], outs[o_name]
        if not i_spec.is_static or i_spec.shape != o_spec.shape or i_spec.dtype != o_spec.dtype:
            raise BackendError(
                f"{path.name}: state {i_name}->{o_name} needs equal static shapes and dtypes, found {i_spec} and {o_spec}"
            )
        pairs.append((i_spec, o_spec))
    return tuple(pairs)
