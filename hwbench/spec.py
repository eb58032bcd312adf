"""The minimum spec (``profiles/minimum-spec.toml``) and its judgement against measurements.

:func:`judge` is pure: measurements + system facts + spec → one
:class:`~hwbench.syschecks.Check` per criterion, so certification logic is
tested on recorded machines.  Measuring lives in :mod:`hwbench.certify`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nomad_muse.errors import InputError
from nomad_muse.hwbench.syschecks import FAIL, PASS, WARN, Check

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]


@dataclass(frozen=True)
class Spec:
    """Thresholds a machine must meet (units in the names)."""

    name: str
    version: str
    end_to_end_p99_ms: float
    generator_step_p99_ms: float
    classifier_frame_p99_ms: float
    analyzer_update_ms: float
    max_cpu_percent_of_one_core: float
    pipeline_target_mb: float
    process_max_mb: float
    crash_free_minutes: float
    max_deadline_miss_percent: float
    required_isa: tuple[str, ...]
    min_ram_gb: float
    min_cores: int
    cyclictest_warn_us: float
    cyclictest_max_us: float
    cyclictest_seconds: float
    path: str = ""


def default_spec_path() -> Path:
    from nomad_muse.paths import profiles_dir

    return profiles_dir() / "minimum-spec.toml"


_KEYS = {
    "end_to_end_p99_ms": ("latency", "end_to_end_p99_ms"),
    "generator_step_p99_ms": ("latency", "generator_step_p99_ms"),
    "classifier_frame_p99_ms": ("latency", "classifier_frame_p99_ms"),
    "analyzer_update_ms": ("latency", "analyzer_update_ms"),
    "max_cpu_percent_of_one_core": ("cpu", "max_percent_of_one_core"),
    "pipeline_target_mb": ("memory", "pipeline_target_mb"),
    "process_max_mb": ("memory", "process_max_mb"),
    "crash_free_minutes": ("stability", "crash_free_minutes"),
    "max_deadline_miss_percent": ("stability", "max_deadline_miss_percent"),
    "min_ram_gb": ("hardware", "min_ram_gb"),
    "min_cores": ("hardware", "min_cores"),
    "cyclictest_warn_us": ("system", "cyclictest_warn_us"),
    "cyclictest_max_us": ("system", "cyclictest_max_us"),
    "cyclictest_seconds": ("system", "cyclictest_seconds"),
}


def load_spec(path: str | Path | None = None) -> Spec:
    """Read a spec TOML; :class:`InputError` naming the file and the missing or bad key."""
    p = Path(path) if path else default_spec_path()
    if not p.is_file():
        raise InputError(f"spec {p} does not exist; pass an existing --spec file (the shipped one is {default_spec_path()})")
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise InputError(f"spec {p} is not valid TOML ({e}); fix it or start from {default_spec_path()}") from None
    vals: dict = {}
    for field_name, (section, key) in _KEYS.items():
        try:
            v = doc[section][key]
        except (KeyError, TypeError):
            raise InputError(f"spec {p}: [{section}] {key} is missing; copy it from {default_spec_path()}") from None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
            raise InputError(f"spec {p}: [{section}] {key} = {v!r} must be a non-negative number")
        vals[field_name] = v
    isa = doc.get("hardware", {}).get("required_isa", [])
    if not isinstance(isa, list) or not all(isinstance(x, str) for x in isa):
        raise InputError(f"spec {p}: [hardware] required_isa = {isa!r} must be a list of strings, e.g. [\"avx2\"]")
    meta = doc.get("spec", {})
    return Spec(name=str(meta.get("name", p.stem)), version=str(meta.get("version", "")), required_isa=tuple(i.lower() for i in isa),
                path=str(p), **vals)


def _le(name: str, value: float | None, limit: float, unit: str, evidence: str = "", fix: str = "", warn_only: bool = False) -> Check:
    if value is None:
        return Check(name, FAIL if not warn_only else WARN, "not measured", f"≤ {limit:g} {unit}", evidence or "measurement failed", fix)
    ok = value <= limit
    return Check(name, PASS if ok else (WARN if warn_only else FAIL), f"{value:.3g} {unit}", f"≤ {limit:g} {unit}", evidence, "" if ok else fix)


def judge(spec: Spec, m: dict) -> list[Check]:
    """Judge measurements ``m`` against ``spec`` (pure).

    ``m`` keys (missing → "not measured", a FAIL): ``e2e_p99_ms``,
    ``generator_step_p99_ms``, ``classifier_frame_p99_ms``,
    ``analyzer_update_ms``, ``cpu_percent``, ``pipeline_mb``,
    ``process_rss_mb``, ``run_s`` (paced run length survived),
    ``crashed`` (bool or error text), ``deadline_miss_percent``, ``isa`` (list),
    ``arch``, ``ram_gb``, ``cores``, and ``evidence`` (dict of text per key).
    """
    ev = m.get("evidence", {})
    out = [
        _le("end-to-end audio path p99", m.get("e2e_p99_ms"), spec.end_to_end_p99_ms, "ms", ev.get("e2e_p99_ms", ""),
            "raise the block size (muse calibrate --budget-ms …) or use a faster backend"),
        _le("generator step p99", m.get("generator_step_p99_ms"), spec.generator_step_p99_ms, "ms", ev.get("generator_step_p99_ms", ""),
            "run muse calibrate to pick a faster generator backend"),
        _le("classifier frame p99", m.get("classifier_frame_p99_ms"), spec.classifier_frame_p99_ms, "ms", ev.get("classifier_frame_p99_ms", ""),
            "run muse calibrate to pick a faster classifier backend (INT8, iGPU)"),
        _le("analyzer update", m.get("analyzer_update_ms"), spec.analyzer_update_ms, "ms", ev.get("analyzer_update_ms", ""),
            "use a smaller analyzer FFT size or a longer update period"),
        _le("CPU at tuned config", m.get("cpu_percent"), spec.max_cpu_percent_of_one_core, "% of one core", ev.get("cpu_percent", ""),
            "raise the block size and classifier hop (muse calibrate), close other programs"),
        _le("pipeline memory", m.get("pipeline_mb"), spec.pipeline_target_mb, "MB", ev.get("pipeline_mb", ""),
            "a target, not a limit: INT8 model variants (muse calibrate) and a smaller analyzer FFT use less", warn_only=True),
        _le("process memory", m.get("process_rss_mb"), spec.process_max_mb, "MB", ev.get("process_rss_mb", ""),
            "free memory or install only one inference runtime"),
    ]
    need_s = spec.crash_free_minutes * 60
    run_s = m.get("run_s")
    crashed = m.get("crashed")
    if crashed:
        out.append(Check("crash-free run", FAIL, f"crashed after {run_s or 0:.0f} s", f"{need_s:g} s", str(crashed), "see the log; report the error"))
    elif run_s is None or run_s + 1e-6 < need_s:
        out.append(Check("crash-free run", FAIL, f"{run_s or 0:.0f} s", f"{need_s:g} s", "run shorter than the spec requires",
                         f"run muse certify with --minutes ≥ {spec.crash_free_minutes:g}"))
    else:
        out.append(Check("crash-free run", PASS, f"{run_s:.0f} s", f"{need_s:g} s", ev.get("run_s", "")))
    out.append(_le("deadline misses", m.get("deadline_miss_percent"), spec.max_deadline_miss_percent, "%", ev.get("deadline_miss_percent", ""),
                   "see the system checks (governor, preemption) and raise the block size"))

    isa = {i.lower() for i in m.get("isa", [])}
    arch = str(m.get("arch", "")).lower()
    required = set(spec.required_isa)
    if arch in ("aarch64", "arm64") and "avx2" in required:
        required = (required - {"avx2"}) | {"neon"}
    missing = sorted(required - isa)
    out.append(Check("instruction set", FAIL if missing else PASS, " ".join(sorted(isa & (required | {"avx512f", "avx512_vnni", "amx_int8"}))) or "-",
                     " ".join(sorted(required)), f"arch {arch}", f"needs {', '.join(missing)}: this CPU is below the minimum spec" if missing else ""))
    ram = m.get("ram_gb")
    out.append(Check("RAM", PASS if ram is not None and ram >= spec.min_ram_gb else FAIL, f"{ram:.1f} GB" if ram is not None else "unknown",
                     f"≥ {spec.min_ram_gb:g} GB", "", "" if ram is not None and ram >= spec.min_ram_gb else "add memory"))
    cores = m.get("cores")
    out.append(Check("CPU cores", PASS if cores is not None and cores >= spec.min_cores else FAIL, str(cores), f"≥ {spec.min_cores}", "",
                     "" if cores is not None and cores >= spec.min_cores else "a machine with more cores is needed"))
    return out


def overall(checks: list[Check]) -> str:
    """FAIL if any criterion FAILs, else PASS (WARNs are advice: they are counted and listed, not failing)."""
    return FAIL if any(c.status == FAIL for c in checks) else PASS
