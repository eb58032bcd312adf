"""Classifier per-frame latency per backend (``muse bench classifier``).

One model call on a [1,1,128,8] log-mel window, and the whole per-frame work
of the streaming classifier (mel frame + standardisation + model + vote), on
each CPU candidate at FP32 (plus OpenVINO bf16 where the CPU has it), after
a warm-up, best of interleaved rounds; ratios to the runtime's per-call floor
measured in the same run.  ``hop_over_call`` is the issue-19 ratio: one
streaming hop that calls the model (a 20 ms block at 48 kHz: resampling to
22.05 kHz, one log-mel frame, standardisation, model call, vote) ÷ the bare
model call (target ≤ 1.3).  ``stable_skip_percent`` is the share of windows
of the shipped piano-then-drums examples that ``skip_stable`` answers
without a model call, and ``stable_mean_push_ratio`` the mean push time with
it ÷ without it, same run.
"""

from __future__ import annotations

import time

import numpy as np

from nomad_muse.backends.base import Candidate
from nomad_muse.errors import BackendError


def bench_classifier(*, calls: int = 2000, warmup: int = 200, rounds: int = 2) -> list[dict]:
    from nomad_muse.backends.registry import get_backend
    from nomad_muse.classifier.stream import StreamingClassifier, default_model_path
    from nomad_muse.hwbench.floor import measure_floor

    path = default_model_path()
    floor = {r["runtime"]: r["median_us"] for r in measure_floor(calls=1000, rounds=1) if "pre-bound" in r["method"]}
    x = np.random.default_rng(0).standard_normal((1, 1, 128, 8)).astype(np.float32)
    sr = 48000
    hop = int(0.02 * sr)
    audio = (np.random.default_rng(1).standard_normal(hop * (calls + warmup + 16)) * 0.1).astype(np.float32)
    rows = []
    for cand in (Candidate("onnxruntime"), Candidate("openvino"), Candidate("openvino", "CPU", "bf16")):
        try:
            m = get_backend(cand.runtime).load(path, device=cand.device, precision=cand.precision)
        except BackendError as e:
            rows.append({"candidate": str(cand), "error": str(e)})
            continue
        best = None
        for _ in range(rounds):
            t = np.empty(calls)
            for i in range(calls + warmup):
                t0 = time.perf_counter_ns()
                m.run({"mel": x})
                if i >= warmup:
                    t[i - warmup] = time.perf_counter_ns() - t0
            t /= 1000
            stats = {"p50_us": float(np.median(t)), "p95_us": float(np.percentile(t, 95)), "p99_us": float(np.percentile(t, 99)), "max_us": float(t.max())}
            if best is None or stats["p50_us"] < best["p50_us"]:
                best = stats
        sc = StreamingClassifier(sr, m)
        sc.push(audio[: hop * (warmup + 16)])
        per = np.empty(calls)
        off = hop * (warmup + 16)
        for i in range(calls):
            t0 = time.perf_counter_ns()
            sc.push(audio[off + i * hop : off + (i + 1) * hop])
            per[i] = time.perf_counter_ns() - t0
        per /= 1000
        rt_floor = floor.get(cand.runtime)
        stable = _stable_skip(m)
        rows.append({"candidate": str(cand), **best, "floor_us": rt_floor, "p50_over_floor": best["p50_us"] / rt_floor if rt_floor else None,
                     "frame_p50_us": float(np.median(per)), "frame_p99_us": float(np.percentile(per, 99)),
                     "hop_over_call": float(np.median(per)) / best["p50_us"], **stable,
                     "budget_ms": 10.0, "frame_p99_share_of_budget": float(np.percentile(per, 99)) / 10000.0})
    return rows


def _stable_skip(model) -> dict:
    """Windows skipped by ``skip_stable`` on the shipped piano then drums examples, and the mean push time ratio."""
    import soundfile as sf

    from nomad_muse.classifier.stream import ClassifierConfig, StreamingClassifier
    from nomad_muse.examples import CLASSIFY_EXAMPLES, example_path

    parts = [sf.read(str(example_path(CLASSIFY_EXAMPLES[k])), dtype="float32") for k in ("piano", "drums")]
    sr = parts[0][1]
    y = np.concatenate([p[0] if p[0].ndim == 1 else p[0].mean(axis=1) for p in parts])
    blk = int(0.02 * sr)
    out = {}
    mean = {}
    for skip in (False, True):
        sc = StreamingClassifier(sr, model, ClassifierConfig(skip_stable=skip))
        t0 = time.perf_counter_ns()
        for i in range(0, y.size - blk, blk):
            sc.push(y[i : i + blk])
        mean[skip] = time.perf_counter_ns() - t0
        if skip:
            out["stable_skip_percent"] = 100.0 * sc.stats.stable_skipped / max(sc.stats.windows, 1)
    out["stable_mean_push_ratio"] = mean[True] / mean[False]
    return out
