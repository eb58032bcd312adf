"""ONNX Runtime backend: CPUExecutionProvider, pre-bound IOBinding.

Fastest call path measured here for tiny models (see docs/ARCHITECTURE.md,
``muse bench floor``): numpy buffers wrapped once as OrtValues and bound to
an IOBinding; each call copies the inputs into the bound buffers and runs
``run_with_iobinding`` with no RunOptions (passing RunOptions, or using
``run_with_ort_values``, costs ~45 µs more per call in ORT 1.32).  State
tensors ping-pong between two bindings over one pair of buffers, so the
hidden state never crosses Python.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from nomad_muse.backends.base import (
    Backend,
    BackendInfo,
    CompiledModel,
    TensorSpec,
    check_model_file,
    check_precision_matches_file,
    check_state_pairs,
    first_line,
)
from nomad_muse.errors import BackendError

NAME = "onnxruntime"

_ORT_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8,
    "tensor(bool)": np.bool_,
}


def _spec(node) -> TensorSpec:
    dtype = _ORT_DTYPES.get(node.type)
    if dtype is None:
        raise BackendError(f"onnxruntime: tensor {node.name!r} has unsupported type {node.type}")
    shape = tuple(d if isinstance(d, int) and d >= 0 else None for d in node.shape)
    return TensorSpec(node.name, shape, np.dtype(dtype))


class OrtModel(CompiledModel):
    def __init__(self, session, ort, path: Path, precision: str, threads: int, state: Mapping[str, str] | None):
        self._ort = ort
        self._session = session
        self._path = path
        self._precision = precision
        self._threads = threads
        all_in = tuple(_spec(n) for n in session.get_inputs())
        all_out = tuple(_spec(n) for n in session.get_outputs())
        self._pairs = check_state_pairs(state, all_in, all_out, path)
        state_in = {i.name for i, _ in self._pairs}
        state_out = {o.name for _, o in self._pairs}
        self.inputs = tuple(s for s in all_in if s.name not in state_in)
        self.outputs = tuple(s for s in all_out if s.name not in state_out)
        self.state = tuple(i for i, _ in self._pairs)
        # state buffers: binding k reads _state_bufs[name][k] and writes [1-k]
        self._state_bufs = {i.name: [np.zeros(i.shape, i.dtype), np.zeros(i.shape, i.dtype)] for i, _ in self._pairs}
        self._cur = 0
        self._in_bufs: dict[str, np.ndarray] = {}
        self._out_bufs: dict[str, np.ndarray] = {}
        self._bindings: list = []
        self._keep: list = []  # OrtValues must outlive their bindings
        if all(s.is_static for s in self.inputs):
            self._prepare({s.name: s.shape for s in self.inputs})

    # -- binding ---------------------------------------------------------
    def _prepare(self, shapes: Mapping[str, tuple[int, ...]]) -> None:
        """Allocate input/output buffers for these input shapes and bind them."""
        ort = self._ort
        self._in_bufs = {s.name: np.zeros(shapes[s.name], s.dtype) for s in self.inputs}
        self._out_bufs = {s.name: np.zeros(s.shape, s.dtype) for s in self.outputs if s.is_static}
        self._keep = []
        self._bindings = []
        self._static_out = len(self._out_bufs) == len(self.outputs)
        self._out_items = tuple(self._out_bufs.items())
        for k in range(2 if self._pairs else 1):
            b = self._session.io_binding()
            for name, buf in self._in_bufs.items():
                v = ort.OrtValue.ortvalue_from_numpy(buf)
                self._keep.append(v)
                b.bind_ortvalue_input(name, v)
            for s in self.outputs:
                if s.name in self._out_bufs:
                    v = ort.OrtValue.ortvalue_from_numpy(self._out_bufs[s.name])
                    self._keep.append(v)
                    b.bind_ortvalue_output(s.name, v)
                else:
                    b.bind_output(s.name, "cpu")
            for i, o in self._pairs:
                src, dst = self._state_bufs[i.name][k], self._state_bufs[i.name][1 - k]
                vi = ort.OrtValue.ortvalue_from_numpy(src)
                vo = ort.OrtValue.ortvalue_from_numpy(dst)
                self._keep += [vi, vo]
                b.bind_ortvalue_input(i.name, vi)
                b.bind_ortvalue_output(o.name, vo)
            self._bindings.append(b)

    # -- CompiledModel -----------------------------------------------------
    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        self._stage_inputs(inputs)
        binding = self._bindings[self._cur]
        try:
            self._session.run_with_iobinding(binding)
        except Exception as e:  # ORT raises its own Fail/RuntimeException types
            raise BackendError(f"onnxruntime: running {self._path.name} failed: {first_line(e)}") from e
        if self._pairs:
            self._cur = 1 - self._cur
        if self._static_out:
            if len(self._out_items) == 1:
                ((name, buf),) = self._out_items
                return {name: buf.copy()}
            return {name: buf.copy() for name, buf in self._out_items}
        dynamic = binding.get_outputs()
        names = [s.name for s in self.outputs] + [o.name for _, o in self._pairs]
        out = {}
        for name, value in zip(names, dynamic):
            if name in self._out_bufs:
                out[name] = self._out_bufs[name].copy()
            elif any(name == s.name for s in self.outputs):
                out[name] = value.numpy()
        return out

    def run_views(self, inputs: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
        if not self._static_out:
            return self.run(inputs)
        self._stage_inputs(inputs)
        try:
            self._session.run_with_iobinding(self._bindings[self._cur])
        except Exception as e:
            raise BackendError(f"onnxruntime: running {self._path.name} failed: {first_line(e)}") from e
        if self._pairs:
            self._cur = 1 - self._cur
        return self._out_bufs

    def get_state(self) -> dict[str, np.ndarray]:
        return {name: bufs[self._cur].copy() for name, bufs in self._state_bufs.items()}

    def set_state(self, values: Mapping[str, np.ndarray]) -> None:
        for name, arr in values.items():
            if name not in self._state_bufs:
                raise BackendError(f"{self._path.name}: no state named {name!r}; state is {sorted(self._state_bufs)}")
            buf = self._state_bufs[name][self._cur]
            if arr.shape != buf.shape:
                raise BackendError(f"{self._path.name}: state {name} expects shape {list(buf.shape)}, found {list(arr.shape)}")
            np.copyto(buf, arr)

    def describe(self) -> BackendInfo:
        from nomad_muse.backends.cpuinfo import cpu_model_name

        return BackendInfo(
            runtime=NAME,
            runtime_version=self._ort.__version__,
            device="CPU",
            device_name=cpu_model_name(),
            precision=self._precision,
            threads=self._threads,
            model_path=str(self._path),
            call_path="iobinding-prebound" + ("+state-pingpong" if self._pairs else ""),
            stateful=bool(self._pairs),
        )


class OnnxRuntimeBackend(Backend):
    name = NAME

    def __init__(self) -> None:
        import onnxruntime as ort  # lazy: importing the backend module is cheap

        self._ort = ort

    def version(self) -> str:
        return self._ort.__version__

    def devices(self) -> list[str]:
        return ["CPU"] if "CPUExecutionProvider" in self._ort.get_available_providers() else []

    def providers(self) -> list[str]:
        return list(self._ort.get_available_providers())

    def load(
        self,
        path: str | Path,
        *,
        device: str = "CPU",
        precision: str = "fp32",
        threads: int = 1,
        state: Mapping[str, str] | None = None,
        cache_dir: str | Path | None = None,
    ) -> OrtModel:
        if Path(path).suffix.lower() == ".xml":
            raise BackendError(f"onnxruntime cannot load OpenVINO IR {Path(path).name}: use the .onnx file or the openvino backend")
        p = check_model_file(path, (".onnx",), NAME)
        if device.upper() != "CPU":
            raise BackendError(f"onnxruntime: device {device!r} not available; this backend runs on CPU only")
        if precision not in ("fp32", "int8"):
            raise BackendError(
                f"onnxruntime: precision {precision} not available on CPU (it runs the file's fp32 or int8 weights); use openvino for bf16/fp16"
            )
        if threads < 1:
            raise BackendError(f"onnxruntime: threads={threads} must be >= 1")
        check_precision_matches_file(p, precision, NAME)
        ort = self._ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        try:
            session = ort.InferenceSession(str(p), so, providers=["CPUExecutionProvider"])
        except Exception as e:
            raise BackendError(f"onnxruntime cannot load {p}: {first_line(e)} (is it a valid ONNX model?)") from e
        return OrtModel(session, ort, p, precision, threads, state)


def create() -> OnnxRuntimeBackend:
    return OnnxRuntimeBackend()
