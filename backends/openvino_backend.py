"""OpenVINO backend: CPU, and GPU when an Intel GPU is present.

Compiled with ``PERFORMANCE_HINT=LATENCY``, ``INFERENCE_NUM_THREADS`` (CPU),
an explicit ``INFERENCE_PRECISION_HINT`` (OpenVINO's CPU default is bf16 on
CPUs that have it, so an unconfigured "fp32" model would silently run in
bf16) and a compiled-model ``CACHE_DIR``.  One infer request is reused.

Fastest call path measured here for tiny models: numpy buffers wrapped once
as ``ov.Tensor(..., shared_memory=True)`` and set on the request; each call
copies inputs into them and calls ``req.infer()`` with no arguments
(``req.infer(dict)`` copies inputs and costs ~50 µs more).  Stateful models
are made stateful (``apply_make_stateful_transformation``) so the state
stays inside the request between calls.
"""

from __future__ import annotations

import functools
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

NAME = "openvino"

_HINTS = {"fp32": "f32", "bf16": "bf16", "fp16": "f16", "int8": "f32"}
_CAPABILITY = {"fp32": "FP32", "bf16": "BF16", "fp16": "FP16", "int8": "INT8"}


@functools.lru_cache(maxsize=1)
def _core():
    import openvino as ov

    return ov.Core()


def _spec(port) -> TensorSpec:
    ps = port.get_partial_shape()
    shape = tuple(d.get_length() if d.is_static else None for d in ps) if ps.rank.is_static else ()
    return TensorSpec(port.get_any_name(), shape, np.dtype(port.get_element_type().to_dtype()))


def compile_config(device: str, precision: str, threads: int, cache_dir: str | Path | None) -> tuple[dict[str, object], list[str]]:
    """The ``compile_model`` properties for a device and precision, plus notes on workarounds.

    CPU: LATENCY hint, ``INFERENCE_NUM_THREADS``, an explicit precision hint
    (never OpenVINO's implicit bf16). GPU: LATENCY hint and precision hint
    only (threads are a CPU property; fp16 is the iGPU's native precision).
    """
    config: dict[str, object] = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": _HINTS[precision]}
    notes: list[str] = []
    if device.startswith("CPU"):
        config["INFERENCE_NUM_THREADS"] = threads
        if _HINTS[precision] == "f32":
            # OpenVINO 2026.4 can segfault compiling attention graphs in f32 with one
            # thread (shared/notes/inference-runtimes.md, gotcha 1); snippets off avoids it.
            config["SNIPPETS_MODE"] = "DISABLE"
            notes.append("SNIPPETS_MODE=DISABLE (f32 compile-crash workaround)")
    if cache_dir is not None:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        config["CACHE_DIR"] = str(cache_dir)
    return config, notes


def device_property(device: str, name: str, default=None):
    """A device property, or ``default`` if the device does not report it."""
    try:
        return _core().get_property(device, name)
    except Exception:
        return default


class OvModel(CompiledModel):
    def __init__(self, compiled, ov, path: Path, device: str, precision: str, threads: int, state_pairs, notes):
        self._ov = ov
        self._compiled = compiled
        self._path = path
        self._device = device
        self._precision = precision
        self._threads = threads
        self._notes = tuple(notes)
        self._pairs = state_pairs
        self.inputs = tuple(_spec(p) for p in compiled.inputs)
        self.outputs = tuple(_spec(p) for p in compiled.outputs)
        self.state = tuple(i for i, _ in state_pairs)
        self._req = compiled.create_infer_request()
        # map our state input names to OpenVINO variable states
        self._states = {}
        variables = list(self._req.query_state())
        for i_spec, o_spec in state_pairs:
            match = [v for v in variables if v.name in (i_spec.name + o_spec.name, i_spec.name, o_spec.name)]
            if len(match) != 1:
                raise BackendError(f"openvino: cannot find the state variable for {i_spec.name}->{o_spec.name} in {path.name}")
            self._states[i_spec.name] = match[0]
        self._in_bufs: dict[str, np.ndarray] = {}
        self._out_bufs: dict[str, np.ndarray] = {}
        if all(s.is_static for s in self.inputs):
            self._prepare({s.name: s.shape for s in self.inputs})
        self._req.reset_state()

    def _prepare(self, shapes: Mapping[str, tuple[int, ...]]) -> None:
        ov = self._ov
        self._in_bufs = {s.name: np.zeros(shapes[s.name], s.dtype) for s in self.inputs}
        for name, buf in self._in_bufs.items():
            self._req.set_tensor(name, ov.Tensor(buf, shared_memory=True))
        static_out = all(s.is_static for s in self.outputs) and all(s.is_static for s in self.inputs)
        self._out_bufs = {}
        if static_out:
            for idx, s in enumerate(self.outputs):
                buf = np.zeros(s.shape, s.dtype)
                self._req.set_output_tensor(idx, ov.Tensor(buf, shared_memory=True))
                self._out_bufs[s.name] = buf

    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        self._stage_inputs(inputs)
        try:
            self._req.infer()
        except Exception as e:
            raise BackendError(f"openvino: running {self._path.name} on {self._device} failed: {first_line(e)}") from e
        if self._out_bufs:
            return {name: buf.copy() for name, buf in self._out_bufs.items()}
        return {s.name: self._req.get_output_tensor(i).data.copy() for i, s in enumerate(self.outputs)}

    def run_views(self, inputs: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
        if not self._out_bufs:
            return self.run(inputs)
        self._stage_inputs(inputs)
        try:
            self._req.infer()
        except Exception as e:
            raise BackendError(f"openvino: running {self._path.name} on {self._device} failed: {first_line(e)}") from e
        return self._out_bufs

    def reset_state(self) -> None:
        self._req.reset_state()

    def get_state(self) -> dict[str, np.ndarray]:
        return {name: v.state.data.copy() for name, v in self._states.items()}

    def set_state(self, values: Mapping[str, np.ndarray]) -> None:
        for name, arr in values.items():
            if name not in self._states:
                raise BackendError(f"{self._path.name}: no state named {name!r}; state is {sorted(self._states)}")
            spec = next(s for s in self.state if s.name == name)
            if tuple(arr.shape) != spec.shape:
                raise BackendError(f"{self._path.name}: state {name} expects shape {list(spec.shape)}, found {list(arr.shape)}")
            self._states[name].state = self._ov.Tensor(np.ascontiguousarray(arr, dtype=spec.dtype).copy())

    def describe(self) -> BackendInfo:
        return BackendInfo(
            runtime=NAME,
            runtime_version=self._ov.get_version(),
            device=self._device,
            device_name=str(device_property(self._device, "FULL_DEVICE_NAME", self._device)),
            precision=self._precision,
            threads=self._threads,
            model_path=str(self._path),
            call_path="prebound-shared-tensors" + ("+stateful" if self._pairs else ""),
            stateful=bool(self._pairs),
            notes=self._notes,
        )


class OpenVinoBackend(Backend):
    name = NAME

    def __init__(self) -> None:
        import openvino as ov

        self._ov = ov

    def version(self) -> str:
        return self._ov.get_version()

    def devices(self) -> list[str]:
        return list(_core().available_devices)

    def _resolve_device(self, device: str) -> str:
        available = self.devices()
        want = device.upper()
        if want in available:
            return want
        family = [d for d in available if d.split(".")[0] == want]
        if family:
            return family[0]
        raise BackendError(f"openvino: device {device!r} not available here; available: {', '.join(available) or 'none'}")

    def load(
        self,
        path: str | Path,
        *,
        device: str = "CPU",
        precision: str = "fp32",
        threads: int = 1,
        state: Mapping[str, str] | None = None,
        cache_dir: str | Path | None = None,
    ) -> OvModel:
        p = check_model_file(path, (".onnx", ".xml"), NAME)
        if p.suffix.lower() == ".xml" and not p.with_suffix(".bin").is_file():
            raise BackendError(f"openvino: IR weights {p.with_suffix('.bin')} missing next to {p.name}")
        dev = self._resolve_device(device)
        if precision not in _HINTS:
            raise BackendError(f"openvino: precision {precision!r} unknown; use one of {', '.join(_HINTS)}")
        caps = device_property(dev, "OPTIMIZATION_CAPABILITIES", []) or []
        if _CAPABILITY[precision] not in caps:
            raise BackendError(f"openvino: {dev} does not support {precision} (capabilities: {', '.join(caps) or 'none reported'})")
        if threads < 1:
            raise BackendError(f"openvino: threads={threads} must be >= 1")
        check_precision_matches_file(p, precision, NAME)
        core = _core()
        try:
            model = core.read_model(str(p))
        except Exception as e:
            raise BackendError(f"openvino cannot load {p}: {first_line(e)} (is it a valid ONNX/IR model?)") from e
        all_in = tuple(_spec(x) for x in model.inputs)
        all_out = tuple(_spec(x) for x in model.outputs)
        pairs = check_state_pairs(state, all_in, all_out, p)
        if pairs:
            from openvino._offline_transformations import apply_make_stateful_transformation

            apply_make_stateful_transformation(model, {i.name: o.name for i, o in pairs})
        config, notes = compile_config(dev, precision, threads, cache_dir)
        try:
            compiled = core.compile_model(model, dev, config)
        except Exception as e:
            raise BackendError(f"openvino cannot compile {p.name} for {dev}: {first_line(e)}") from e
        return OvModel(compiled, self._ov, p, dev, precision, threads if dev.startswith("CPU") else 0, pairs, notes)


def create() -> OpenVinoBackend:
    return OpenVinoBackend()
