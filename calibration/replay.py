"""Proof of a tuned configuration: replay the pipeline's per-block work for N blocks, count misses.

For every audio block (``block_size`` samples of a stereo test mix: tones,
a drum-like noise pattern and a bass line, so the classifier is never in its
silence gate) the replay does, on one thread and timed as one unit:

1. the audio callback's copy into a pre-allocated ring buffer;
2. the streaming classifier's work: ``StreamingClassifier.push`` (mel frames
   as they fall due, a model call every ``classifier_hop_ms``) on the chosen
   classifier variant;
3. the generator steps due in this block at the densest measured token rate
   (``tokens_per_beat`` at ``tempo_bpm``, accumulated fractionally): a model
   step on the chosen generator variant plus the grammar mask and sampling
   (the same calls ``Generator.next_chunk`` makes per token);
4. the analyzer's ingest, **amortised**: the analyzer thread reads the ring
   once per Welch hop (``analyzer_fft_size/2`` samples) and runs
   ``Analyzer.push`` (K-weighting, meters, true peak, a Welch frame, onsets)
   on it; that real, timed cost is charged in equal shares to the blocks of
   the next hop.

The replay is **paced** like an audio thread: each block starts at its
period boundary (the thread sleeps in between), at real-time priority
(``SCHED_FIFO``) where the OS allows it — as the live engine's audio thread
runs — else at normal priority (recorded in :attr:`ReplayResult.priority`).
A block misses its deadline when its work plus its analyzer share takes
longer than the block period.  Thread CPU time is recorded too, so a report
can tell work that is too slow from preemption by other processes.  The analyzer's report update runs on its own thread with its own
deadline (the update period) and is measured separately
(:func:`analyzer_update_ms`).  Everything is real: real models, real DSP.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nomad_muse.backends.base import Candidate
from nomad_muse.machine_profile import TunedConfig


@dataclass(frozen=True)
class ReplayResult:
    """Per-block work (ms) over ``blocks`` blocks and the deadline misses (work > period)."""

    blocks: int
    misses: int
    period_ms: float
    median_ms: float
    p99_ms: float
    max_ms: float
    classifier_calls: int
    generator_steps: int
    cpu_misses: int = 0  # blocks whose thread CPU time alone exceeded the period
    priority: str = "normal"
    wall_s: float = 0.0
    p95_ms: float = 0.0
    late_starts: int = 0  # blocks that began more than a period after their slot (the sleep overshot)
    classifier_median_ms: float = 0.0  # classifier push on blocks with a model call
    classifier_p99_ms: float = 0.0
    generator_step_median_ms: float = 0.0  # one sampled token (model step + mask + sampling)
    generator_step_p99_ms: float = 0.0
    cpu_work_s: float = 0.0  # thread CPU time of all blocks' work (pacing sleeps and spins excluded)
    # thread CPU time (s) per module over the paced blocks, each part timed with time.thread_time_ns() around it:
    # callback (ring copy), classifier (push), generator (steps due), analyzer (ingest push, on its own hop),
    # other (the rest of the blocks' timed work: loop bookkeeping and the timers themselves)
    module_cpu_s: dict = field(default_factory=dict)
    first_block_ns: int = 0  # time.perf_counter_ns() when the first paced block began

    @property
    def ok(self) -> bool:
        return self.misses == 0

    def as_dict(self) -> dict:
        d = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}
        d["ok"] = self.ok
        d.pop("first_block_ns")  # a perf_counter reading: only meaningful inside this process
        return d


def replay_mix(sr: int, seconds: float = 4.0, seed: int = 0) -> np.ndarray:
    """A deterministic stereo mix ``(n, 2)`` float32: chord tones, a noise-burst beat, a bass line."""
    rng = np.random.default_rng(seed)
    n = int(sr * seconds)
    t = np.arange(n) / sr
    y = np.zeros((n, 2), np.float64)
    for f, pan in ((220.0, 0.3), (277.2, 0.5), (329.6, 0.7)):
        s = 0.08 * np.sin(2 * np.pi * f * t) * (1 + 0.3 * np.sin(2 * np.pi * 0.5 * t))
        y[:, 0] += s * (1 - pan)
        y[:, 1] += s * pan
    beat = int(sr * 0.25)
    env = np.exp(-np.arange(beat) / (0.03 * sr))
    for s in range(0, n - beat, beat):
        y[s : s + beat] += (0.2 * rng.standard_normal(beat) * env)[:, None]
    y += 0.1 * np.sin(2 * np.pi * 55.0 * t)[:, None]
    return y.astype(np.float32)


def _generator_stepper(model_path: Path, cand: Candidate, adapter_for: Path | None = None, seed: int = 0) -> Callable[[], None]:
    """One sampled token per call on the real Generator (model step + grammar mask + top-p sampling).

    With the user's generator adapter (``muse adapt generator``) for ``adapter_for`` (the shipped file a
    variant was made from; default ``model_path``) applied, as the commands run it: timings cover it."""
    from nomad_muse.generator import vocab as V
    from nomad_muse.generator.engine import Generator, SamplingConfig, header_tokens

    gen = Generator(model_path, candidates=[cand], adapter_for=adapter_for)  # explicit candidate: no policy
    cfg = SamplingConfig(seed=seed)
    rng = np.random.default_rng(seed)
    head = header_tokens("tonal", "piano", (0, "major"), 120) + [V.BAR]

    def restart() -> None:
        gen.prime(head, mode="tonal", key=(0, "major"))
        gen.stats.step_seconds.clear()

    restart()

    def step() -> None:
        tok, _ = gen.draw(cfg, rng)
        if tok == V.EOS or len(gen.tokens) > 4096:
            restart()
            return
        gen.feed(tok)

    return step


def replay(
    config: TunedConfig,
    *,
    classifier: tuple[Path, Candidate] | None,
    generator: tuple[Path, Candidate] | None,
    tokens_per_beat: float,
    tempo_bpm: float = 180.0,
    blocks: int = 10_000,
    progress: Callable[[int], None] | None = None,
) -> ReplayResult:
    """Replay ``blocks`` blocks of per-block work at ``config``; see the module docstring.

    ``classifier`` / ``generator`` are (model file, candidate) of the chosen
    variants; None leaves that module out (its model is missing here).
    """
    from nomad_muse.backends.registry import get_backend
    from nomad_muse.analyzer.engine import Analyzer, AnalyzerConfig
    from nomad_muse.classifier.stream import ClassifierConfig, StreamingClassifier

    sr, b = config.sample_rate, config.block_size
    mix = replay_mix(sr)
    n_blocks_mix = mix.shape[0] // b
    ring = np.zeros((b * 8, 2), np.float32)
    sc = None
    if classifier is not None:
        from nomad_muse.classifier.adapter import with_source_adapter

        path, cand, *src = classifier  # (variant, candidate[, shipped source: its adapter runs too])
        model = with_source_adapter(get_backend(cand.runtime).load(path, device=cand.device, precision=cand.precision), (src or [None])[0])
        sc = StreamingClassifier(sr, model, ClassifierConfig(hop_ms=config.classifier_hop_ms, vote_ms=config.classifier_vote_ms))
    step = _generator_stepper(*generator) if generator is not None else None
    an = Analyzer(sr=sr, channels=2, config=AnalyzerConfig(n_fft=config.analyzer_fft_size))
    hop_a = config.analyzer_fft_size // 2
    a_buf = np.zeros((hop_a, 2), np.float32)
    a_fill = 0
    steps_per_block = tokens_per_beat * tempo_bpm / 60.0 * b / sr
    # warm-up: one second of blocks, untimed (plans, first calls); the first analyzer share estimate
    for i in range(max(1, sr // b)):
        blk = mix[(i % n_blocks_mix) * b : (i % n_blocks_mix + 1) * b]
        if sc is not None:
            sc.push(blk)
        if step is not None:
            step()
    t0 = time.perf_counter_ns()
    an.push(mix[:hop_a])
    share = (time.perf_counter_ns() - t0) * b / hop_a
    period_ns = 1e9 * b / sr
    t = np.empty(blocks, np.int64)
    cpu = np.empty(blocks, np.int64)
    acc = 0.0
    n_steps = 0
    calls0 = sc.stats.inferences if sc is not None else 0
    cls_ns: list[int] = []
    step_ns: list[int] = []
    late = 0
    mod_ns = {"callback": 0, "classifier": 0, "generator": 0, "analyzer": 0}
    tt = time.thread_time_ns
    blk_ns = 0
    gc.collect()
    priority, restore = _realtime_priority()
    start = time.perf_counter_ns()
    try:
        for i in range(blocks):
            wake = start + int(i * period_ns)
            while (now := time.perf_counter_ns()) < wake:
                if wake - now > 200_000:
                    time.sleep((wake - now - 100_000) / 1e9)
            if now - wake > period_ns:
                late += 1
            j = i % n_blocks_mix
            blk = mix[j * b : (j + 1) * b]
            c0 = time.thread_time_ns()
            t0 = time.perf_counter_ns()
            ring[(i % 8) * b : (i % 8 + 1) * b] = blk  # 1. callback → ring buffer
            mod_ns["callback"] += tt() - c0
            if sc is not None:  # 2. classifier
                n0 = sc.stats.inferences
                cc = tt()
                tc = time.perf_counter_ns()
                sc.push(blk)
                if sc.stats.inferences > n0:
                    cls_ns.append(time.perf_counter_ns() - tc)
                mod_ns["classifier"] += tt() - cc
            if step is not None:  # 3. generator steps due
                acc += steps_per_block
                while acc >= 1.0:
                    cs = tt()
                    ts = time.perf_counter_ns()
                    step()
                    step_ns.append(time.perf_counter_ns() - ts)
                    mod_ns["generator"] += tt() - cs
                    acc -= 1.0
                    n_steps += 1
            t[i] = time.perf_counter_ns() - t0
            cpu[i] = time.thread_time_ns() - c0
            blk_ns += int(cpu[i])
            # 4. analyzer thread: reads the ring once per Welch hop; its time is spread over the next hop's blocks
            k = min(b, hop_a - a_fill)
            a_buf[a_fill : a_fill + k] = blk[:k]
            a_fill += k
            if a_fill == hop_a:
                ca = tt()
                ta = time.perf_counter_ns()
                an.push(a_buf)
                share = (time.perf_counter_ns() - ta) * b / hop_a
                mod_ns["analyzer"] += tt() - ca
                a_buf[: b - k] = blk[k:]
                a_fill = b - k
            t[i] += int(share)
            cpu[i] += int(share)
            if progress is not None and i % 500 == 499:
                progress(500)
    finally:
        restore()
    wall_s = (time.perf_counter_ns() - start) / 1e9
    # "other": the blocks' timed CPU (before the analyzer share is added) less the three parts timed inside it
    mod_ns["other"] = max(0, blk_ns - mod_ns["callback"] - mod_ns["classifier"] - mod_ns["generator"])
    ms = t / 1e6
    c_ms = np.asarray(cls_ns, float) / 1e6
    g_ms = np.asarray(step_ns, float) / 1e6

    def q(x: np.ndarray, p: float) -> float:
        return float(np.percentile(x, p)) if x.size else 0.0

    return ReplayResult(
        blocks=blocks,
        misses=int(np.sum(t > period_ns)),
        period_ms=period_ns / 1e6,
        median_ms=float(np.median(ms)),
        p99_ms=float(np.percentile(ms, 99)),
        max_ms=float(ms.max()),
        classifier_calls=(sc.stats.inferences - calls0) if sc is not None else 0,
        generator_steps=n_steps,
        cpu_misses=int(np.sum(cpu > period_ns)),
        priority=priority,
        wall_s=wall_s,
        p95_ms=q(ms, 95),
        late_starts=late,
        classifier_median_ms=q(c_ms, 50),
        classifier_p99_ms=q(c_ms, 99),
        generator_step_median_ms=q(g_ms, 50),
        generator_step_p99_ms=q(g_ms, 99),
        cpu_work_s=float(cpu.sum()) / 1e9,
        module_cpu_s={k: v / 1e9 for k, v in mod_ns.items()},
        first_block_ns=start,
    )


def _realtime_priority() -> tuple[str, Callable[[], None]]:
    """Run this thread at SCHED_FIFO (as an audio thread does) if the OS allows; returns (label, restore)."""
    import os

    try:
        old_policy = os.sched_getscheduler(0)
        old_param = os.sched_getparam(0)
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
    except (AttributeError, OSError):
        return "normal (real-time priority not permitted)", lambda: None

    def restore() -> None:
        try:
            os.sched_setscheduler(0, old_policy, old_param)
        except OSError:
            pass

    return "SCHED_FIFO 10", restore


def analyzer_update_ms(sr: int, n_fft: int, *, seconds: float = 10.0, repeats: int = 5) -> float:
    """Worst of ``repeats`` analyzer updates (``Analyzer.report``) after ``seconds`` of the test mix (ms)."""
    from nomad_muse.analyzer.engine import Analyzer, AnalyzerConfig

    an = Analyzer(sr=sr, channels=2, config=AnalyzerConfig(n_fft=n_fft))
    mix = replay_mix(sr, seconds=seconds)
    an.push(mix)
    worst = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        an.report()
        worst = max(worst, time.perf_counter() - t0)
    return 1000.0 * worst
