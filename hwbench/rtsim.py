"""Real-time simulation: the whole pipeline's per-block work, paced at the audio period.

Used by ``muse bench`` (the real-time section) and ``muse certify`` (latency,
CPU, memory and crash-free criteria).  Each audio period of
``block_size / sample_rate`` seconds (ms in the results) the simulation does,
on one thread, the work the live engine has to finish per block:

* the classifier's streaming push (log-mel frame + model call + vote when a
  hop is due),
* the generator's chunk when the playhead reaches the lookahead horizon
  (one beat or bar of decoding steps, state carried),
* the analyzer's block ingest,

then sleeps until the next period.  The serial sum is conservative: the
engine spreads the model work over worker threads.  A block whose work ends
after its deadline (start + period) is a **deadline miss**.  The analyzer
update (loudness, spectra and suggestions over the last few seconds) runs
every ``analyzer_period_s`` and is timed apart, as the engine runs it on its
own thread.

The audio is the bundled example mix, looped; the generator continues the
bundled tonal prompt at 120 BPM.  Backends and sizes come from the machine
profile (:func:`edge_runtime.machine_profile.resolve`) unless given.
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import asdict, dataclass

import numpy as np

from edge_runtime.machine_profile import ActiveConfig, TunedConfig


def rss_mb() -> float:
    """Current resident set size (MB) from /proc/self/statm, or the peak from getrusage elsewhere."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _warm_runtimes() -> None:
    """Load each runtime's CPU code (a no-op model compiled once), so its libraries count as runtime, not pipeline."""
    from backends.registry import get_backend
    from edge_runtime.errors import MuseError
    from hwbench.floor import MODEL

    for rt in ("onnxruntime", "openvino"):
        try:
            get_backend(rt).load(MODEL)
        except MuseError:
            pass


def pct(x: np.ndarray, q: float) -> float:
    return float(np.percentile(x, q)) if x.size else float("nan")


def summary_ms(x_ms: np.ndarray) -> dict:
    """median, p95, p99, max (ms) and the count."""
    x = np.asarray(x_ms, dtype=float)
    return {"n": int(x.size), "median_ms": pct(x, 50), "p95_ms": pct(x, 95), "p99_ms": pct(x, 99),
            "max_ms": float(x.max()) if x.size else float("nan")}


@dataclass(frozen=True)
class SimResult:
    tuned: dict
    backends: dict
    seconds: float  # wall time simulated (s)
    blocks: int
    period_ms: float
    block_work: dict  # summary_ms of the whole per-block work
    classifier_push: dict  # blocks with a model call
    generator_chunk: dict
    generator_step: dict
    analyzer_ingest: dict
    analyzer_update: dict
    deadline_misses: int
    deadline_miss_percent: float
    late_starts: int  # blocks that began after their slot (the sleep overshot)
    worst_block_ms: float
    headroom_percent: float  # 100 − p99 work as % of the period
    cpu_percent: float  # process CPU time / wall time, % of one core
    rss_interpreter_mb: float  # Python with this package imported, no runtime initialised
    rss_before_mb: float  # runtimes imported and initialised (a tiny model compiled on each), before the models load
    rss_after_mb: float
    pipeline_mb: float
    classifier_inferences: int
    classifier_skipped: int
    generator_fallbacks: int
    notes: tuple[str, ...]

    def as_dict(self) -> dict:
        return asdict(self)


def simulate(seconds: float = 10.0, *, active: ActiveConfig | None = None, tuned: TunedConfig | None = None,
             paced: bool = True, progress=None) -> SimResult:
    """Run the pipeline's per-block work for ``seconds`` of audio (paced at real time unless ``paced=False``)."""
    rss_interp = rss_mb()
    _warm_runtimes()  # runtimes imported and initialised (CPU plugin loaded): counted apart from the pipeline

    from edge_runtime.analyzer.audio_io import read_audio
    from edge_runtime.analyzer.engine import Analyzer, AnalyzerConfig, analyze_array
    from edge_runtime.classifier.stream import ClassifierConfig, StreamingClassifier, load_classifier_model
    from edge_runtime.examples import example_path
    from edge_runtime.generator.engine import Generator, SamplingConfig
    from edge_runtime.generator.midi_io import read_midi
    from edge_runtime.generator.session import bundled_prompt, prompt_tail
    from edge_runtime.generator.tokenizer import require_stream
    from edge_runtime.machine_profile import resolve

    active = active or resolve()
    t = tuned or active.tuned
    notes = list(active.notes)
    rss0 = rss_mb()

    y, info = read_audio(example_path())
    sr_file = info.sr
    y = np.asarray(y, np.float32)
    y = y[:, None] if y.ndim == 1 else y
    if sr_file != t.sample_rate:
        from scipy.signal import resample_poly

        g = np.gcd(sr_file, t.sample_rate)
        y = resample_poly(y, t.sample_rate // g, sr_file // g, axis=0).astype(np.float32)
    sr, n = t.sample_rate, t.block_size

    c_cands, c_path = active.backend_for("classifier")
    cl = load_classifier_model(c_path, c_cands)
    notes += [f"classifier fallback: {f}" for f in cl.fallbacks]
    sc = StreamingClassifier(sr, cl.model, ClassifierConfig(hop_ms=t.classifier_hop_ms, vote_ms=t.classifier_vote_ms))
    g_cands, g_path = active.backend_for("generator")
    gen = Generator(g_path, candidates=g_cands)
    notes += [f"generator fallback: {f}" for f in gen.loaded.fallbacks]
    stream = require_stream(read_midi(bundled_prompt("tonal")), "tonal")
    gen.prime(prompt_tail([x for x in stream.tokens]), mode="tonal", key=stream.key)
    cfg = SamplingConfig(seed=0)
    rng = np.random.default_rng(0)
    ana = Analyzer(sr=sr, channels=y.shape[1], config=AnalyzerConfig(n_fft=t.analyzer_fft_size, with_dynamics=False))
    window = int(max(3.0, 2 * t.analyzer_period_s) * sr)
    recent = np.zeros((window, y.shape[1]), np.float32)
    rss1 = rss_mb()

    beat_s = 60.0 / 120.0
    chunk_s = beat_s * (4 if t.generator_chunk == "bar" else 1)
    n_blocks = max(1, int(np.ceil(seconds * sr / n)))
    period = n / sr
    work = np.empty(n_blocks)
    cls_t, gen_t, ana_t, upd_t = [], [], [], []
    steps_before = len(gen.stats.step_seconds)
    generated_until = 0.0  # seconds of music generated ahead
    misses = late = 0
    pos = 0
    next_update = t.analyzer_period_s
    cpu0, wall0 = time.process_time(), time.perf_counter()
    slot = wall0
    for i in range(n_blocks):
        if paced:
            now = time.perf_counter()
            if now < slot:
                time.sleep(slot - now)
            elif now - slot > period:
                late += 1
        start = time.perf_counter()
        idx = (np.arange(pos, pos + n)) % y.shape[0]
        block = y[idx]
        pos += n
        t0 = time.perf_counter()
        inf0 = sc.stats.inferences
        sc.push(block.mean(axis=1))
        t1 = time.perf_counter()
        if sc.stats.inferences > inf0:
            cls_t.append(t1 - t0)
        playhead = (i + 1) * period
        while generated_until < playhead + t.generator_lookahead_beats * beat_s:
            g0 = time.perf_counter()
            gen.next_chunk(cfg, rng, unit=t.generator_chunk)
            gen_t.append(time.perf_counter() - g0)
            generated_until += chunk_s
        t2 = time.perf_counter()
        ana.push(block)
        ana_t.append(time.perf_counter() - t2)
        recent = np.roll(recent, -n, axis=0)
        recent[-n:] = block
        end = time.perf_counter()
        work[i] = end - start
        deadline = (slot if paced else start) + period
        if end > deadline:
            misses += 1
        if playhead >= next_update:  # the analyzer thread's update, timed apart
            u0 = time.perf_counter()
            analyze_array(recent, sr=sr, config=AnalyzerConfig(n_fft=t.analyzer_fft_size, with_dynamics=False))
            upd_t.append(time.perf_counter() - u0)
            next_update += t.analyzer_period_s
        slot += period
        if progress and i % 200 == 0:
            progress(i / n_blocks)
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    steps = np.array(gen.stats.step_seconds[steps_before:]) * 1000
    w_ms = work * 1000
    if not paced:
        notes.append("unpaced: CPU % is of back-to-back work, not of real time")
    return SimResult(
        tuned=asdict(t),
        backends={"classifier": str(cl.candidate), "generator": str(gen.loaded.candidate)},
        seconds=wall,
        blocks=n_blocks,
        period_ms=period * 1000,
        block_work=summary_ms(w_ms),
        classifier_push=summary_ms(np.array(cls_t) * 1000),
        generator_chunk=summary_ms(np.array(gen_t) * 1000),
        generator_step=summary_ms(steps),
        analyzer_ingest=summary_ms(np.array(ana_t) * 1000),
        analyzer_update=summary_ms(np.array(upd_t) * 1000),
        deadline_misses=misses,
        deadline_miss_percent=100.0 * misses / n_blocks,
        late_starts=late,
        worst_block_ms=float(w_ms.max()),
        headroom_percent=100.0 - 100.0 * pct(w_ms, 99) / (period * 1000),
        cpu_percent=100.0 * cpu / wall if wall > 0 else float("nan"),
        rss_interpreter_mb=rss_interp,
        rss_before_mb=rss0,
        rss_after_mb=rss_mb(),
        pipeline_mb=max(0.0, rss_mb() - rss0),
        classifier_inferences=sc.stats.inferences,
        classifier_skipped=sc.stats.skipped,
        generator_fallbacks=gen.stats.fallbacks,
        notes=tuple(notes),
    )
