"""Generator step latency per backend (``muse bench generator``).

Each available CPU candidate loads the shipped generator with its state kept
inside the backend, then times single decoding steps (``run`` on one token,
state carried) after a warm-up, in interleaved rounds.  The same run measures
each runtime's per-call floor (``muse bench floor``'s pre-bound no-op call),
so the step is also reported as a multiple of that floor, and the full
sampling step (mask + temperature + top-p in numpy) is timed through the
Generator as a user runs it.
"""

from __future__ import annotations

import time

import numpy as np

from nomad_muse.backends.base import Candidate
from nomad_muse.errors import BackendError


def _percentiles(t_us: np.ndarray) -> dict:
    return {"p50_us": float(np.median(t_us)), "p95_us": float(np.percentile(t_us, 95)), "p99_us": float(np.percentile(t_us, 99)), "max_us": float(t_us.max())}


def bench_generator(*, steps: int = 2000, warmup: int = 200, rounds: int = 2) -> list[dict]:
    from nomad_muse.backends.registry import get_backend
    from nomad_muse.generator.engine import STATE, Generator, SamplingConfig, default_model_path, header_tokens
    from nomad_muse.hwbench.floor import measure_floor
    from nomad_muse.runtime import select

    path = default_model_path()
    floor = {r["runtime"]: r["median_us"] for r in measure_floor(calls=1000, rounds=1) if "pre-bound" in r["method"]}
    rows = []
    rng = np.random.default_rng(0)
    toks = rng.integers(5, 250, size=steps + warmup)
    for cand in (Candidate("onnxruntime"), Candidate("openvino"), Candidate("openvino", "CPU", "bf16")):
        try:
            m = get_backend(cand.runtime).load(path, device=cand.device, precision=cand.precision, state=STATE)
        except BackendError as e:
            rows.append({"candidate": str(cand), "error": str(e)})
            continue
        x = np.zeros((1, 1), np.int64)
        best = None
        for _ in range(rounds):
            m.reset_state()
            t = np.empty(steps)
            for i, tok in enumerate(toks):
                x[0, 0] = tok
                t0 = time.perf_counter_ns()
                m.run({"token": x})
                if i >= warmup:
                    t[i - warmup] = time.perf_counter_ns() - t0
            stats = _percentiles(t / 1000)
            if best is None or stats["p50_us"] < best["p50_us"]:
                best = stats
        gen = Generator(loaded=select("generator", model=path, candidates=[cand]))
        h = header_tokens("tonal", "piano", (0, "major"), 120)
        gen.prime(h, mode="tonal", key=(0, "major"))
        t0 = time.perf_counter()
        new = gen.generate(16, SamplingConfig(seed=0, confidence_threshold=0.0))
        per_token = (time.perf_counter() - t0) / max(len(new), 1) * 1e6
        rt_floor = floor.get(cand.runtime)
        rows.append(
            {
                "candidate": str(cand),
                **best,
                "floor_us": rt_floor,
                "p50_over_floor": best["p50_us"] / rt_floor if rt_floor else None,
                "sampled_token_us": per_token,
                "budget_ms": 20.0,
                "p99_share_of_budget": best["p99_us"] / 20000.0,
            }
        )
    return rows
