"""Default backend policy: which candidates each module tries, in which order.

A pure function of a :class:`~nomad_muse.probe.ProbeRecord` (plus optional
measurements and an override), so it is tested with recorded probes of
machines we do not have.  Calibration later passes measured p99 latencies,
which outrank these defaults.

Rules, and why:

* Only runtimes the probe saw importing are candidates; OpenVINO's CPU
  plugin needs SSE4.2 on x86.
* CPU first for the **generator**, ONNX Runtime before OpenVINO: one decoding
  step is a few tens of µs, so the per-call floor dominates, and ORT's
  pre-bound IOBinding floor is the lowest measured (docs/ARCHITECTURE.md).
* For the **classifier** (a CNN over a log-mel frame) an Intel GPU goes first
  when present: it takes the convolutions off the CPU that runs the audio
  thread.  On CPU, OpenVINO first when the CPU has INT8/BF16 matrix
  instructions (AVX-512 VNNI/BF16, AMX), where its kernels lead on convs;
  otherwise ORT.
* The generator tries the GPU last: a recurrent step is tiny and sequential,
  so the iGPU dispatch cost (hundreds of µs) outweighs any gain.
* FP32 comes first at each place because it always exists; bf16 (OpenVINO
  on CPUs with AVX-512 BF16 or AMX) and int8 (after `muse calibrate` writes
  the INT8 variant) follow, and measurements reorder everything.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from nomad_muse.backends.base import Candidate
from nomad_muse.errors import ParameterError
from nomad_muse.probe import ProbeRecord

MODULES = ("generator", "classifier")


@dataclass(frozen=True)
class BackendPlan:
    """Ordered candidates for one module, with the reasons behind the order."""

    module: str
    candidates: tuple[Candidate, ...]
    reasons: tuple[str, ...]

    @property
    def choice(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


def _cpu_candidates(module: str, probe: ProbeRecord, reasons: list[str]) -> list[Candidate]:
    have_ort = "onnxruntime" in probe.runtimes and "CPUExecutionProvider" in probe.ort_providers
    cpu_dev = next((d for d in probe.ov_devices if d.name == "CPU"), None)
    x86 = probe.arch.lower() in ("x86_64", "amd64", "i686", "x86")
    have_ov = "openvino" in probe.runtimes and cpu_dev is not None and (not x86 or probe.has("sse4_2"))
    if "openvino" in probe.runtimes and cpu_dev is not None and not have_ov:
        reasons.append("OpenVINO CPU skipped: this x86 CPU lacks SSE4.2")
    matrix_isa = [f for f in ("avx512_vnni", "avx512_bf16", "amx_int8", "amx_bf16", "avx_vnni") if probe.has(f)]
    ov_first = module == "classifier" and bool(matrix_isa)
    order: list[str] = []
    if ov_first and have_ov:
        order = ["openvino"] + (["onnxruntime"] if have_ort else [])
        reasons.append(f"classifier: OpenVINO CPU first — CPU has {', '.join(matrix_isa)} for its conv kernels")
    else:
        order = (["onnxruntime"] if have_ort else []) + (["openvino"] if have_ov else [])
        if have_ort:
            reasons.append(f"{module}: ONNX Runtime CPU first — lowest per-call floor (pre-bound IOBinding)")
    cands = [Candidate(rt, "CPU", "fp32") for rt in order]
    bf16 = have_ov and cpu_dev is not None and "BF16" in cpu_dev.capabilities and (probe.has("avx512_bf16") or probe.has("amx_bf16"))
    if bf16:
        cands.append(Candidate("openvino", "CPU", "bf16"))
        reasons.append("openvino/CPU/bf16 added: native BF16 instructions present")
    int8_isa = probe.has("avx512_vnni") or probe.has("avx_vnni") or probe.has("amx_int8") or probe.has("dotprod")
    if int8_isa:
        cands += [Candidate(rt, "CPU", "int8") for rt in order]
        reasons.append("int8 variants added (used once `muse calibrate` has written and gated them)")
    return cands


def _gpu_candidates(probe: ProbeRecord) -> list[Candidate]:
    if "openvino" not in probe.runtimes:
        return []
    out = []
    for gpu in probe.intel_gpus:
        prec = "fp16" if "FP16" in gpu.capabilities or not gpu.capabilities else "fp32"
        out.append(Candidate("openvino", gpu.name, prec))
    return out


def plan_backends(
    module: str,
    probe: ProbeRecord,
    *,
    measurements: Mapping[str, float] | None = None,
    override: str | None = None,
) -> BackendPlan:
    """Ordered backend candidates for ``module`` on the probed machine.

    Parameters
    ----------
    module : ``"generator"`` or ``"classifier"``
    probe : the machine's probe record
    measurements : optional ``{str(candidate): p99 latency in ms}``; measured
        candidates go first, fastest first, ahead of unmeasured ones
    override : optional ``runtime[/device[/precision]]`` forced to the front
        (e.g. from ``MUSE_BACKEND``); the rest stay behind it as fallbacks
    """
    if module not in MODULES:
        raise ParameterError(f"module={module!r} must be one of {', '.join(MODULES)}")
    reasons: list[str] = []
    cpu = _cpu_candidates(module, probe, reasons)
    gpu = _gpu_candidates(probe)
    if gpu:
        names = ", ".join(f"{g.name} ({g.full_name})" for g in probe.intel_gpus)
        if module == "classifier":
            cands = gpu + cpu
            reasons.insert(0, f"classifier: Intel GPU {names} first — offloads the conv frames from the audio CPU")
        else:
            cands = cpu + gpu
            reasons.append(f"generator: Intel GPU {names} last — per-step dispatch outweighs a tiny recurrent step")
    else:
        cands = cpu
    if measurements:
        measured = sorted((c for c in cands if str(c) in measurements), key=lambda c: measurements[str(c)])
        rest = [c for c in cands if str(c) not in measurements]
        cands = measured + rest
        if measured:
            reasons.insert(0, "measured order: " + ", ".join(f"{c} p99 {measurements[str(c)]:.3f} ms" for c in measured))
    if override:
        forced = Candidate.parse(override)
        cands = [forced] + [c for c in cands if c != forced]
        reasons.insert(0, f"override: {forced} forced first")
    if not cands:
        reasons.append("no runtime usable here: install onnxruntime or openvino")
    return BackendPlan(module, tuple(cands), tuple(reasons))


def env_override(module: str, environ: Mapping[str, str] | None = None) -> str | None:
    """``MUSE_<MODULE>_BACKEND`` or ``MUSE_BACKEND`` from the environment, if set."""
    return env_override_source(module, environ)[1]


def env_override_source(module: str, environ: Mapping[str, str] | None = None) -> tuple[str | None, str | None]:
    """(variable name, value) of the environment override for ``module``: the module's own variable
    ``MUSE_<MODULE>_BACKEND`` beats ``MUSE_BACKEND``; (None, None) when neither is set."""
    env = os.environ if environ is None else environ
    for var in (f"MUSE_{module.upper()}_BACKEND", "MUSE_BACKEND"):
        if env.get(var):
            return var, env[var]
    return None, None


def forced_candidates(module: str, probe: ProbeRecord, override: str, *, field: str) -> tuple[list[Candidate], tuple[str, ...]]:
    """(candidates, reasons) when ``override`` is forced first: checked against this machine
    (:func:`check_override`), the policy's order behind it as fallbacks, INT8 only if forced
    (the shipped model is FP32; other INT8 candidates have no file to run)."""
    forced = check_override(module, probe, override, field=field)
    plan = plan_backends(module, probe, override=str(forced))
    return [c for c in plan.candidates if c.precision != "int8" or c == forced], plan.reasons


def check_override(module: str, probe: ProbeRecord, override: str, *, field: str = "backend") -> Candidate:
    """The parsed override if this machine can run it, else :class:`ParameterError` naming ``field``
    (``MUSE_BACKEND``, ``--backend`` …) and what this machine supports for ``module``.

    Possible means: the default policy would consider it here — the runtime is
    installed, the device exists, the precision has native support (bf16 needs
    AVX-512 BF16/AMX and OpenVINO's BF16 capability; int8 needs VNNI/AMX/dot-product).
    """
    try:
        forced = Candidate.parse(override)
    except ParameterError as e:
        raise ParameterError(f"{field}={override!r}: {e}") from None
    possible = plan_backends(module, probe).candidates
    if forced not in possible:
        supported = ", ".join(str(c) for c in possible) or "nothing (install onnxruntime or openvino)"
        raise ParameterError(f"{field}={override}: not possible for the {module} on this machine; supported here: {supported}")
    return forced


def default_candidates(module: str, probe: ProbeRecord, environ: Mapping[str, str] | None = None) -> list[Candidate]:
    """The candidates a module tries without a machine profile: the policy's order (environment
    override first), INT8 left out because no INT8 variant exists before ``muse calibrate``."""
    plan = plan_backends(module, probe, override=env_override(module, environ))
    return [c for c in plan.candidates if c.precision != "int8"] or list(plan.candidates)
