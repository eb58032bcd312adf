"""``muse bench``: the benchmark matrix, its same-run baselines, and the real-time simulation.

Result (JSON schema ``nomad-muse-edge/bench/1``, documented in docs/hwbench.md)::

    {"schema", "date", "quick", "machine": {...probe...}, "software": {...},
     "profile": source of the tuned sizes,
     "floor":    [{runtime, method, median_us, p99_us, ratio_to_fastest}],
     "matrix":   [{module, backend, device, precision, size, unit, median_us, p95_us, p99_us, max_us,
                   calls_per_s, cpu_percent_one_core, peak_rss_mb, budget_us, vs_floor, vs_fp32, vs_torch, error?}],
     "baselines": {"torch": [...] or {"skipped": why}, "fft": [...measure_fft rows...]},
     "realtime": SimResult dict (hwbench.rtsim),
     "summary":  [one line per finding]}

Cell timing: warm-up calls, then timed calls, median/p95/p99/max in µs.
``cpu_percent_one_core`` is the duty cycle the cell would cost at its
real-time rate (mean call time × calls needed per second ÷ 1 s): classifier
frames at the tuned hop, generator steps at 120 BPM with the prompt's token
density, analyzer updates at the tuned period.  ``peak_rss_mb`` is the
process's peak resident size after the cell (getrusage).  Ratios compare
cells measured in the same run: ``vs_floor`` = median ÷ the runtime's no-op
call floor, ``vs_fp32`` = the FP32 cell's median ÷ this cell's (speed-up),
``vs_torch`` = PyTorch eager median ÷ this cell's.
"""

from __future__ import annotations

import platform
import resource
import time
from pathlib import Path

import numpy as np

from nomad_muse.backends.base import Candidate
from nomad_muse.errors import MuseError
from nomad_muse.settings import BLOCK_SIZES

SCHEMA = "nomad-muse-edge/bench/1"
TOKENS_PER_BEAT = 4.0  # measured density of the bundled tonal prompt is stored in the row; this is the fallback


def _stats(t_ns: np.ndarray) -> dict:
    t = t_ns / 1000.0
    return {"median_us": float(np.median(t)), "p95_us": float(np.percentile(t, 95)), "p99_us": float(np.percentile(t, 99)),
            "max_us": float(t.max()), "calls_per_s": float(1e6 / t.mean())}


def time_calls(fn, calls: int, warmup: int) -> dict:
    """Warm up, then time ``calls`` calls of ``fn()`` one by one: µs statistics (``_stats``) of one round.

    Samples through calibration's one timing loop (``measure.sample_ns``); only
    the unit (µs) and the single round differ from calibration's ``time_calls``.
    """
    from nomad_muse.calibration.measure import sample_ns

    for _ in range(warmup):
        fn()
    return _stats(sample_ns(lambda _i: fn(), calls))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def int8_variants(module: str) -> list[tuple[Candidate, Path]]:
    """INT8 variants `muse calibrate` wrote for ``module`` (``<data dir>/models/<module>/*.int8.{onnx,xml}``):
    the QDQ ONNX file on ONNX Runtime, the IR on OpenVINO CPU."""
    from nomad_muse.paths import data_dir

    d = data_dir() / "models" / module
    if not d.is_dir():
        return []
    out = [(Candidate("onnxruntime", "CPU", "int8"), p) for p in sorted(d.glob("*.int8.onnx"))]
    return out + [(Candidate("openvino", "CPU", "int8"), p) for p in sorted(d.glob("*.int8.xml"))]


def _candidates(module: str, default_path: Path) -> list[tuple[Candidate, Path]]:
    from nomad_muse.runtime import bench_candidates

    return [(c, default_path) for c in bench_candidates(module)] + int8_variants(module)


def _prompt_density() -> float:
    """Tokens per beat in the bundled tonal prompt (what the generator must produce in real time)."""
    from nomad_muse.generator import vocab as V
    from nomad_muse.generator.midi_io import read_midi
    from nomad_muse.generator.prompt import bundled_prompt
    from nomad_muse.generator.tokenizer import HEADER_LEN, require_stream

    toks = require_stream(read_midi(bundled_prompt("tonal")), "tonal").tokens[HEADER_LEN:]
    bars = max(1, sum(1 for t in toks if t == V.BAR))
    return len(toks) / (bars * 4)


def bench_generator_cells(calls: int, warmup: int) -> list[dict]:
    from nomad_muse.backends.registry import get_backend
    from nomad_muse.generator.engine import STATE, default_model_path
    from nomad_muse.hwbench.generator_bench import measure_token_vs_step

    density = _prompt_density()
    steps_per_s = density * 120 / 60
    rows = []
    toks = np.random.default_rng(0).integers(5, 250, size=calls + warmup)
    for cand, path in _candidates("generator", default_model_path()):
        row = {"module": "generator", "backend": cand.runtime, "device": cand.device, "precision": cand.precision,
               "size": "1 step", "unit": "decoding step (state carried)", "model": path.name, "budget_us": 20000.0}
        try:
            m = get_backend(cand.runtime).load(path, device=cand.device, precision=cand.precision, state=STATE)
        except MuseError as e:
            rows.append({**row, "error": str(e)})
            continue
        x = np.zeros((1, 1), np.int64)
        it = iter(np.tile(toks, 2))

        def step():
            x[0, 0] = next(it)
            m.run({"token": x})

        s = time_calls(step, calls, warmup)
        rows.append({**row, **s, "cpu_percent_one_core": 100.0 * steps_per_s / s["calls_per_s"], "peak_rss_mb": peak_rss_mb(),
                     "rate": f"{steps_per_s:.1f} steps/s ({density:.1f} tokens/beat at 120 BPM)"})
        if cand.precision == "int8":
            continue
        # one fully sampled token against the bare step, alternating rounds in this run (issue 19: <= 1.3x)
        try:
            tv = measure_token_vs_step(cand, path, calls=calls, warmup=warmup, rounds=2 if calls < 1000 else 3)
        except MuseError as e:
            rows.append({**row, "size": "1 token", "unit": "sampled token (draw + feed)", "error": str(e)})
            continue
        tk = tv["token"]
        rows.append({**row, "size": "1 token", "unit": "sampled token (draw + feed)", "median_us": tk["p50_us"], "p95_us": tk["p95_us"],
                     "p99_us": tk["p99_us"], "max_us": tk["max_us"], "calls_per_s": 1e6 / tk["p50_us"],
                     "cpu_percent_one_core": 100.0 * steps_per_s * tk["p50_us"] / 1e6, "peak_rss_mb": peak_rss_mb(),
                     "rate": f"{steps_per_s:.1f} tokens/s", "vs_step": tv["token_over_step"], "step_median_us": tv["step"]["p50_us"],
                     "reference_token_us": tv["reference_token"]["p50_us"], "reference_vs_step": tv["reference_over_step"],
                     "head_fallback_percent": tv["head_fallback_percent"], "sampler": tv["sampler"]})
    return rows


def bench_classifier_cells(calls: int, warmup: int, block_sizes: tuple[int, ...], hops_ms: tuple[float, ...]) -> list[dict]:
    from nomad_muse.backends.registry import get_backend
    from nomad_muse.classifier.stream import ClassifierConfig, StreamingClassifier, default_model_path

    rows = []
    x = np.random.default_rng(0).standard_normal((1, 1, 128, 8)).astype(np.float32)
    sr = 48000
    audio = (np.random.default_rng(1).standard_normal(sr * 4) * 0.1).astype(np.float32)
    frames_per_s = 1000.0 / hops_ms[0]
    for cand, path in _candidates("classifier", default_model_path()):
        base = {"module": "classifier", "backend": cand.runtime, "device": cand.device, "precision": cand.precision,
                "model": path.name, "budget_us": 10000.0}
        try:
            m = get_backend(cand.runtime).load(path, device=cand.device, precision=cand.precision)
        except MuseError as e:
            rows.append({**base, "size": "[1,1,128,8]", "unit": "model call", "error": str(e)})
            continue
        s = time_calls(lambda: m.run({"mel": x}), calls, warmup)
        rows.append({**base, **s, "size": "[1,1,128,8]", "unit": "model call",
                     "cpu_percent_one_core": 100.0 * frames_per_s / s["calls_per_s"], "peak_rss_mb": peak_rss_mb(),
                     "rate": f"{frames_per_s:.0f} frames/s (hop {hops_ms[0]:g} ms)"})
        # one hop that calls the model (20 ms of audio at 48 kHz: resample, one mel frame, standardise, call, vote)
        # against the bare call, same run (issue 19: <= 1.3x)
        hop_n = int(0.02 * sr)
        sc = StreamingClassifier(sr, m, ClassifierConfig(hop_ms=20.0))
        sc.push(audio[: hop_n * 10])
        at = [hop_n * 10]

        def hop():
            i = at[0] % (audio.size - hop_n)
            sc.push(audio[i : i + hop_n])
            at[0] += hop_n

        h = time_calls(hop, calls, warmup)
        rows.append({**base, **h, "size": "1 hop (20 ms at 48 kHz)", "unit": "classifier hop (resample + mel frame + standardise + call + vote)",
                     "cpu_percent_one_core": 100.0 * 50.0 / h["calls_per_s"], "peak_rss_mb": peak_rss_mb(), "rate": "50 hops/s",
                     "vs_call": h["median_us"] / s["median_us"], "model_calls": sc.stats.inferences})
        for n, hop_ms in ((n, h) for h in hops_ms for n in block_sizes):
            sc = StreamingClassifier(sr, m, ClassifierConfig(hop_ms=hop_ms))
            pos = [0]

            def push():
                i = pos[0] % (audio.size - n)
                sc.push(audio[i : i + n])
                pos[0] += n

            blocks = max(calls, int(0.5 * sr / n))
            s = time_calls(push, blocks, max(warmup, int(0.2 * sr / n)))
            rows.append({**base, **s, "size": f"block {n}, hop {hop_ms:g} ms", "unit": "streaming push (mel + model when a hop is due + vote)",
                         "budget_us": 1e6 * n / sr, "cpu_percent_one_core": 100.0 * (sr / n) / s["calls_per_s"],
                         "peak_rss_mb": peak_rss_mb(), "rate": f"{sr / n:.0f} blocks/s at {sr} Hz"})
    return rows


def bench_analyzer_cells(fft_sizes: tuple[int, ...], period_s: float, repeat: int) -> list[dict]:
    from nomad_muse.analyzer.engine import AnalyzerConfig, analyze_array

    rows = []
    sr = 48000
    y = (np.random.default_rng(2).standard_normal((int(3 * sr), 2)) * 0.1).astype(np.float32)
    for n in fft_sizes:
        cfg = AnalyzerConfig(n_fft=n, with_dynamics=False)
        s = time_calls(lambda: analyze_array(y, sr=sr, config=cfg), repeat, 1)
        rows.append({"module": "analyzer", "backend": "pyfftw", "device": "CPU", "precision": "fp64", "model": "-",
                     "size": f"fft {n}", "unit": "update over the last 3 s (spectra, loudness, suggestions)", **s,
                     "budget_us": 2e6, "cpu_percent_one_core": 100.0 * (1 / period_s) / s["calls_per_s"], "peak_rss_mb": peak_rss_mb(),
                     "rate": f"one update per {period_s:g} s"})
    return rows


def _ratios(matrix: list[dict], floor: list[dict], torch_rows) -> None:
    fl = {r["runtime"]: r["median_us"] for r in floor if "pre-bound" in r["method"]}
    fp32 = {(r["module"], r["backend"], r["device"], r["size"]): r["median_us"] for r in matrix if r.get("precision") == "fp32" and "median_us" in r}
    th = {(r["module"], r["size"]): r["median_us"] for r in torch_rows} if isinstance(torch_rows, list) else {}
    for r in matrix:
        if "median_us" not in r:
            continue
        if r["backend"] in fl and r["unit"] in ("model call", "decoding step (state carried)"):
            r["vs_floor"] = r["median_us"] / fl[r["backend"]]
        ref = fp32.get((r["module"], r["backend"], r["device"], r["size"]))
        if ref and r["precision"] != "fp32":
            r["vs_fp32"] = ref / r["median_us"]
        t = th.get((r["module"], r["size"]))
        if t:
            r["vs_torch"] = t / r["median_us"]


def _summary(res: dict) -> list[str]:
    out = []
    for mod in ("generator", "classifier"):
        cells = [r for r in res["matrix"] if r["module"] == mod and r.get("unit") in ("model call", "decoding step (state carried)") and "median_us" in r]
        if cells:
            best = min(cells, key=lambda r: r["p99_us"])
            out.append(f"{mod}: fastest p99 {best['p99_us']:.1f} µs on {best['backend']}/{best['device']}/{best['precision']}"
                       + (f", {best['vs_torch']:.1f}× PyTorch eager" if best.get("vs_torch") else ""))
        for r in res["matrix"]:
            if r["module"] == mod and r.get("vs_call"):
                out.append(f"{mod}: one hop {r['vs_call']:.2f}x the bare model call on {r['backend']}/{r['device']}/{r['precision']} (target <= 1.3x)")
            if r["module"] == mod and r.get("vs_step"):
                out.append(f"{mod}: sampled token {r['vs_step']:.2f}x the bare step on {r['backend']}/{r['device']}/{r['precision']} "
                           f"(reference sampler {r['reference_vs_step']:.2f}x; target <= 1.3x)")
        for r in cells:
            if r.get("vs_fp32"):
                out.append(f"{mod}: {r['backend']} {r['precision']} is {r['vs_fp32']:.2f}× the FP32 speed")
    fft = res["baselines"].get("fft") or []
    if fft:
        planned = [r for r in fft if r["method"] == "pyfftw-planned"]
        if planned:
            b = max(planned, key=lambda r: r["ratio_to_numpy"])
            out.append(f"analyzer FFT: planned FFTW up to {b['ratio_to_numpy']:.2f}× numpy.fft (n_fft {b['n_fft']}, {b['dtype']})")
    av = res["baselines"].get("analyze_vs_pyloudnorm") or {}
    if av.get("ratio"):
        out.append(f"analyzer: muse analyze (every meter) {av['analyze_cpu_s']:.2f} s CPU vs the pyloudnorm process {av['pyloudnorm_cpu_s']:.2f} s "
                   f"on {av['seconds']:g} s stereo = {av['ratio']:.2f}x (target <= 1.0)")
    rt = res.get("realtime")
    if rt:
        out.append(f"real time: {rt['blocks']} blocks of {rt['tuned']['block_size']} at {rt['tuned']['sample_rate']} Hz, "
                   f"p99 work {rt['block_work']['p99_ms']:.3f} ms of {rt['period_ms']:.2f} ms (headroom {rt['headroom_percent']:.1f} %), "
                   f"{rt['deadline_misses']} deadline misses, CPU {rt['cpu_percent']:.1f} % of one core")
        mods = rt.get("module_cpu_percent") or {}
        if mods:
            out.append("real time CPU per module (% of one core): " + ", ".join(
                f"{k} {v:.1f}" for k, v in sorted(mods.items(), key=lambda kv: -kv[1]))
                + f"; peak RSS {rt['rss_peak_mb']:.0f} MB; start-up to first paced block {rt['startup_s']:.2f} s")
    return out


def run_suite(*, quick: bool = False, realtime_s: float | None = None, block_size: int | None = None, progress=None) -> dict:
    """Run the whole benchmark; returns the result dict (see the module docstring).

    ``block_size`` sets the block of the real-time run (default: the active profile's)."""
    import numpy
    import onnxruntime
    import openvino

    from nomad_muse import __version__
    from nomad_muse.machine_profile import resolve
    from nomad_muse.settings import check, rule
    from nomad_muse.probe import probe
    from nomad_muse.hwbench.fft_bench import measure_fft
    from nomad_muse.hwbench.floor import measure_floor
    from nomad_muse.hwbench.rtsim import simulate

    def say(msg):
        if progress:
            progress(msg)

    if block_size is not None:  # refused before the matrix runs, not after
        check("block_size", block_size, rule("block_size"))
    calls, warmup = (300, 50) if quick else (3000, 300)
    active = resolve()
    t = active.tuned
    rec = probe()
    res: dict = {"schema": SCHEMA, "date": time.strftime("%Y-%m-%d %H:%M:%S %z"), "quick": quick, "machine": rec.to_dict(),
                 "software": {"nomad-muse-edge": __version__, "python": platform.python_version(), "onnxruntime": onnxruntime.__version__,
                              "openvino": openvino.get_version(), "numpy": numpy.__version__},
                 "profile": active.source, "profile_notes": list(active.notes), "tuned": t.__dict__ if hasattr(t, "__dict__") else {}}
    say("per-call floor")
    res["floor"] = measure_floor(calls=1000 if quick else 3000, rounds=1 if quick else 3)
    say("generator cells")
    matrix = bench_generator_cells(calls, warmup)
    say("classifier cells")
    hops = (t.classifier_hop_ms,) if quick else tuple(sorted({t.classifier_hop_ms, 20.0, 50.0}))
    matrix += bench_classifier_cells(calls, warmup, (t.block_size,) if quick else BLOCK_SIZES, hops)
    say("analyzer cells")
    matrix += bench_analyzer_cells((t.analyzer_fft_size,) if quick else (2048, 4096, 8192, 16384), t.analyzer_period_s, 3 if quick else 10)
    say("baselines: PyTorch eager, numpy.fft vs FFTW")
    from nomad_muse.hwbench.torch_baseline import bench_torch  # the one seam to the training extra

    torch_rows = bench_torch(calls, warmup, time_calls)
    fft = measure_fft(seconds=5.0 if quick else 30.0, repeat=2 if quick else 5, sizes=(t.analyzer_fft_size,) if quick else (2048, 4096, 8192, 16384))
    say("muse analyze vs the pyloudnorm process")
    from nomad_muse.hwbench.analyze_bench import bench_analyze_vs_pyloudnorm

    res["baselines"] = {"torch": torch_rows, "fft": fft, "analyze_vs_pyloudnorm": bench_analyze_vs_pyloudnorm(30.0 if quick else 180.0)}
    _ratios(matrix, res["floor"], torch_rows)
    res["matrix"] = matrix
    secs = realtime_s if realtime_s is not None else (5.0 if quick else 60.0)
    say(f"real-time simulation, {secs:g} s paced")
    from dataclasses import replace

    rt = simulate(secs, active=active, tuned=replace(t, block_size=block_size) if block_size else None).as_dict()
    rt["notes"] = list(rt["notes"]) + ["memory figures here follow the matrix in the same process; "
                                       "`muse certify` measures the pipeline's own footprint in a fresh process"]
    res["realtime"] = rt
    res["summary"] = _summary(res)
    return res


def compare(a: dict, b: dict) -> list[dict]:
    """Cell-by-cell change from run ``a`` to run ``b`` (same module/backend/device/precision/size): p50 and p99 ratios b/a."""
    key = lambda r: (r["module"], r["backend"], r["device"], r["precision"], r["size"])  # noqa: E731
    ia = {key(r): r for r in a.get("matrix", []) if "median_us" in r}
    out = []
    for r in b.get("matrix", []):
        if "median_us" not in r or key(r) not in ia:
            continue
        o = ia[key(r)]
        out.append({"cell": "/".join(key(r)), "a_median_us": o["median_us"], "b_median_us": r["median_us"],
                    "median_ratio": r["median_us"] / o["median_us"], "a_p99_us": o["p99_us"], "b_p99_us": r["p99_us"],
                    "p99_ratio": r["p99_us"] / o["p99_us"]})
    ra, rb = a.get("realtime"), b.get("realtime")
    if ra and rb:
        out.append({"cell": "realtime/block work", "a_median_us": ra["block_work"]["median_ms"] * 1000, "b_median_us": rb["block_work"]["median_ms"] * 1000,
                    "median_ratio": rb["block_work"]["median_ms"] / ra["block_work"]["median_ms"],
                    "a_p99_us": ra["block_work"]["p99_ms"] * 1000, "b_p99_us": rb["block_work"]["p99_ms"] * 1000,
                    "p99_ratio": rb["block_work"]["p99_ms"] / ra["block_work"]["p99_ms"]})
    return out
