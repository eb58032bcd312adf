"""Real-time simulation for ``muse bench`` and ``muse certify``: the auto-tuner's replay, for a set duration.

The per-block work is exactly what ``muse calibrate`` proves a configuration
with (:func:`calibration.replay.replay`): every audio period
(``block_size / sample_rate``) the callback's ring copy, the classifier's
streaming push (a model call every hop), the generator steps due at the
densest measured token rate and 180 BPM, and the analyzer thread's ingest
charged in shares — paced at real time, at SCHED_FIFO where allowed.  Around
it this module measures what the replay does not: the pipeline's CPU — the
blocks' work in thread CPU time (the pacing's sleeps and spins excluded) plus
one analyzer report per update period — as % of one core of wall time,
resident memory before and after the pipeline loads, and the analyzer's
report update (its own thread, its own deadline).

Backends and sizes come from the machine profile
(:func:`nomad_muse.machine_profile.resolve`) or, without one, the policy's
first working candidate and the default sizes.
"""

from __future__ import annotations

import gc
import os
import resource
import time

import numpy as np
from dataclasses import asdict, dataclass
from pathlib import Path

from nomad_muse.machine_profile import ActiveConfig, TunedConfig


def rss_mb() -> float:
    """Current resident set size (MB) from /proc/self/statm, or the peak from getrusage elsewhere."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) to the current RSS (Linux ``/proc/self/clear_refs`` ← 5); False if refused."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    """Peak resident set size (MB): VmHWM from /proc/self/status, else getrusage's ru_maxrss (peak since launch)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _warm_runtimes() -> None:
    """Load each runtime's CPU code (a no-op model compiled once), so its libraries count as runtime, not pipeline."""
    from nomad_muse.backends.registry import get_backend
    from nomad_muse.errors import MuseError
    from nomad_muse.hwbench.floor import MODEL

    for rt in ("onnxruntime", "openvino"):
        try:
            get_backend(rt).load(MODEL)
        except MuseError:
            pass


def _warm_analyzer(t: TunedConfig) -> None:
    """Make the analyzer's FFT plans before the timed run (from the stored FFTW wisdom after `muse calibrate`,
    by measuring otherwise): the engine plans on its analyzer thread at start-up, never on the audio path."""
    from nomad_muse.calibration.replay import replay_mix
    from nomad_muse.analyzer.engine import Analyzer, AnalyzerConfig

    an = Analyzer(sr=t.sample_rate, channels=2, config=AnalyzerConfig(n_fft=t.analyzer_fft_size))
    an.push(replay_mix(t.sample_rate, seconds=2.0))
    an.report()


def _ms(n: int, median: float, p95: float | None, p99: float, mx: float | None) -> dict:
    return {"n": n, "median_ms": median, "p95_ms": p95, "p99_ms": p99, "max_ms": mx}


@dataclass(frozen=True)
class SimResult:
    tuned: dict
    block_size: int  # samples per block of this run (the profile's, or ``muse bench --block-size``)
    backends: dict
    seconds: float  # wall time of the paced run (s)
    blocks: int
    period_ms: float
    priority: str
    tokens_per_beat: float
    tempo_bpm: float
    block_work: dict  # n, median_ms, p95_ms, p99_ms, max_ms of the whole per-block work
    classifier_push: dict  # blocks with a model call
    generator_step: dict
    analyzer_update: dict
    deadline_misses: int
    deadline_miss_percent: float
    cpu_misses: int  # misses whose thread CPU time alone exceeded the period (the work itself, not preemption)
    late_starts: int
    worst_block_ms: float
    headroom_percent: float  # 100 − p99 work as % of the period
    cpu_percent: float  # (work's thread CPU time + analyzer reports) / wall time, % of one core
    rss_interpreter_mb: float  # Python with this package imported, no runtime initialised
    rss_before_mb: float  # runtimes initialised (a no-op model compiled on each), before the replay loads its models
    rss_after_mb: float
    pipeline_mb: float
    rss_peak_mb: float  # peak RSS (VmHWM) from the start of this run (mark reset first) to its end; see rss_peak_scope
    rss_peak_scope: str  # "this run" when the mark was reset at its start, else "process since launch"
    module_cpu_percent: dict  # thread CPU time per module over the paced run, % of one core of its wall time
    startup_s: float  # simulate() entry → first paced block: runtimes, model loads, FFT plans, 1 s unpaced warm-up
    classifier_calls: int
    generator_steps: int
    notes: tuple[str, ...]

    def as_dict(self) -> dict:
        return asdict(self)


def _pick(module: str, active: ActiveConfig, notes: list[str]):
    """(model path, candidate) the profile chose, else the policy's first candidate that loads here."""
    from nomad_muse.runtime import load, choose

    choice = choose(module, active=active)
    loaded = load(choice)
    path = choice.path
    notes += [f"{module} fallback: {f}" for f in loaded.fallbacks]
    cand = loaded.candidate
    del loaded  # the replay loads its own; this one only found the candidate that works here
    return Path(path), cand


def simulate(seconds: float = 10.0, *, active: ActiveConfig | None = None, tuned: TunedConfig | None = None,
             progress=None) -> SimResult:
    """Replay the per-block work paced at real time for ``seconds`` of audio; see the module docstring."""
    from nomad_muse.calibration import data, replay
    from nomad_muse.calibration.autotune import Budget
    from nomad_muse.machine_profile import resolve

    t_enter = time.perf_counter_ns()
    scope = "this run" if reset_peak_rss() else "process since launch"
    rss_interp = rss_mb()
    _warm_runtimes()
    active = active or resolve()
    t = tuned or active.tuned
    notes = list(active.notes)
    cls = _pick("classifier", active, notes)
    gen = _pick("generator", active, notes)
    gsets = data.generator_sets()
    tpb = data.tokens_per_beat(list(gsets.calib) + list(gsets.val))
    del gsets
    gc.collect()
    rss0 = rss_mb()
    tempo = Budget().max_tempo_bpm
    blocks = max(1, int(np.ceil(seconds * t.sample_rate / t.block_size)))
    _warm_analyzer(t)
    rr = replay.replay(t, classifier=cls, generator=gen, tokens_per_beat=tpb, tempo_bpm=tempo, blocks=blocks,
                       progress=(lambda k: progress(k / blocks)) if progress else None)
    rss1 = rss_mb()
    upd = replay.analyzer_update_ms(t.sample_rate, t.analyzer_fft_size)
    # the pipeline's CPU: the blocks' work (thread CPU time, pacing excluded) + one analyzer report per period
    reports_s = (rr.wall_s / t.analyzer_period_s) * upd / 1000.0
    cpu_s = rr.cpu_work_s + reports_s
    mod = dict(rr.module_cpu_s)
    mod["analyzer"] = mod.get("analyzer", 0.0) + reports_s  # ingest (thread CPU) + one report per update period
    mod_pct = {k: 100.0 * v / rr.wall_s if rr.wall_s > 0 else float("nan") for k, v in mod.items()}
    return SimResult(
        tuned=asdict(t),
        block_size=t.block_size,
        backends={"classifier": str(cls[1]), "generator": str(gen[1])},
        seconds=rr.wall_s,
        blocks=rr.blocks,
        period_ms=rr.period_ms,
        priority=rr.priority,
        tokens_per_beat=tpb,
        tempo_bpm=tempo,
        block_work=_ms(rr.blocks, rr.median_ms, rr.p95_ms, rr.p99_ms, rr.max_ms),
        classifier_push=_ms(rr.classifier_calls, rr.classifier_median_ms, None, rr.classifier_p99_ms, None),
        generator_step=_ms(rr.generator_steps, rr.generator_step_median_ms, None, rr.generator_step_p99_ms, None),
        analyzer_update=_ms(5, upd, None, upd, upd),
        deadline_misses=rr.misses,
        deadline_miss_percent=100.0 * rr.misses / rr.blocks,
        cpu_misses=rr.cpu_misses,
        late_starts=rr.late_starts,
        worst_block_ms=rr.max_ms,
        headroom_percent=100.0 - 100.0 * rr.p99_ms / rr.period_ms,
        cpu_percent=100.0 * cpu_s / rr.wall_s if rr.wall_s > 0 else float("nan"),
        rss_interpreter_mb=rss_interp,
        rss_before_mb=rss0,
        rss_after_mb=rss1,
        pipeline_mb=max(0.0, rss1 - rss0),
        rss_peak_mb=peak_rss_mb(),
        rss_peak_scope=scope,
        module_cpu_percent=mod_pct,
        startup_s=(rr.first_block_ns - t_enter) / 1e9 if rr.first_block_ns else float("nan"),
        classifier_calls=rr.classifier_calls,
        generator_steps=rr.generator_steps,
        notes=tuple(notes),
    )
