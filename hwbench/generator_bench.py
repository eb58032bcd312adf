"""Generator step latency per backend (``muse bench generator``).

Each available CPU candidate loads the shipped generator with its state kept
inside the backend, then times single decoding steps (``run`` on one token,
state carried) after a warm-up.  The same run measures each runtime's
per-call floor (``muse bench floor``'s pre-bound no-op call), so the step is
also reported as a multiple of that floor, and one **fully sampled token**
(grammar and key masks, temperature, top-p, state carry: ``Generator.draw``
then ``Generator.feed``, what ``next_chunk`` does per token) is timed token
by token through the Generator as a user runs it, on the in-graph sampler
(``token``) and on the numpy reference sampler (``reference token``).  Bare
steps and tokens alternate in rounds and each keeps its best median, so a
load change on a shared machine hits both; ``token_over_step`` is the
issue-19 ratio (target ≤ 1.3).
"""

from __future__ import annotations

import time

import numpy as np

from nomad_muse.backends.base import Candidate
from nomad_muse.errors import BackendError


def _percentiles(t_us: np.ndarray) -> dict:
    return {"p50_us": float(np.median(t_us)), "p95_us": float(np.percentile(t_us, 95)), "p99_us": float(np.percentile(t_us, 99)), "max_us": float(t_us.max())}


def token_timers(cand: Candidate, path, *, seed: int = 0):
    """``(bare_step, fast_token, reference_token)``: three callables that each time one call (returns ns).

    ``bare_step`` runs the plain model on the next of a fixed random token
    stream (state carried); the token timers draw and feed one token on a
    Generator primed with the tonal C-major header (fast: in-graph sampler;
    reference: ``fast_sampling=False``), restarting at EOS or 4096 tokens.
    Raises BackendError when the candidate cannot load.
    """
    from nomad_muse.backends.registry import get_backend
    from nomad_muse.generator import vocab as V
    from nomad_muse.generator.engine import STATE, Generator, SamplingConfig, header_tokens
    from nomad_muse.runtime import select

    m = get_backend(cand.runtime).load(path, device=cand.device, precision=cand.precision, state=STATE)
    toks = np.random.default_rng(seed).integers(5, 250, size=4096)
    x = np.zeros((1, 1), np.int64)
    pos = [0]

    def bare() -> int:
        x[0, 0] = toks[pos[0] & 4095]
        pos[0] += 1
        t0 = time.perf_counter_ns()
        m.run({"token": x})
        return time.perf_counter_ns() - t0

    head = header_tokens("tonal", "piano", (0, "major"), 120) + [V.BAR]
    cfg = SamplingConfig(seed=seed)

    def token_timer(fast: bool):
        gen = Generator(loaded=select("generator", model=path, candidates=[cand]), fast_sampling=fast)
        if fast and not gen._fast:
            raise BackendError(gen.sampler_note)
        rng = np.random.default_rng(seed)
        gen.prime(head, mode="tonal", key=(0, "major"))

        def one() -> int:
            t0 = time.perf_counter_ns()
            tok, _ = gen.draw(cfg, rng)
            gen.feed(tok)
            dt = time.perf_counter_ns() - t0
            if tok == V.EOS or len(gen.tokens) > 4096:
                gen.prime(head, mode="tonal", key=(0, "major"))
                gen.stats.step_seconds.clear()
            return dt

        return one, gen

    fast, gen_fast = token_timer(True)
    ref, _ = token_timer(False)
    return bare, fast, ref, gen_fast


def measure_token_vs_step(cand: Candidate, path, *, calls: int = 2000, warmup: int = 200, rounds: int = 3) -> dict:
    """Bare step, fast token and reference token medians (µs) in alternating rounds, and their ratios."""
    bare, fast, ref, gen = token_timers(cand, path)
    best: dict[str, dict] = {}
    for _ in range(rounds):
        for name, fn in (("step", bare), ("token", fast), ("reference_token", ref)):
            for _ in range(warmup):
                fn()
            t = np.array([fn() for _ in range(calls)], dtype=np.float64) / 1000.0
            s = _percentiles(t)
            if name not in best or s["p50_us"] < best[name]["p50_us"]:
                best[name] = s
    st = gen.stats
    draws = st.fast_draws + st.reference_draws
    return {
        "step": best["step"],
        "token": best["token"],
        "reference_token": best["reference_token"],
        "token_over_step": best["token"]["p50_us"] / best["step"]["p50_us"],
        "reference_over_step": best["reference_token"]["p50_us"] / best["step"]["p50_us"],
        "head_fallback_percent": 100.0 * st.reference_draws / draws if draws else 0.0,
        "sampler": gen.sampler_note,
    }


def bench_generator(*, steps: int = 2000, warmup: int = 200, rounds: int = 2) -> list[dict]:
    from nomad_muse.generator.engine import default_model_path
    from nomad_muse.hwbench.floor import measure_floor

    path = default_model_path()
    floor = {r["runtime"]: r["median_us"] for r in measure_floor(calls=1000, rounds=1) if "pre-bound" in r["method"]}
    rows = []
    for cand in (Candidate("onnxruntime"), Candidate("openvino"), Candidate("openvino", "CPU", "bf16")):
        try:
            r = measure_token_vs_step(cand, path, calls=steps, warmup=warmup, rounds=rounds)
        except BackendError as e:
            rows.append({"candidate": str(cand), "error": str(e)})
            continue
        best = r["step"]
        rt_floor = floor.get(cand.runtime)
        rows.append(
            {
                "candidate": str(cand),
                **best,
                "floor_us": rt_floor,
                "p50_over_floor": best["p50_us"] / rt_floor if rt_floor else None,
                "sampled_token_us": r["token"]["p50_us"],
                "sampled_token_p99_us": r["token"]["p99_us"],
                "reference_token_us": r["reference_token"]["p50_us"],
                "token_over_step": r["token_over_step"],
                "reference_over_step": r["reference_over_step"],
                "head_fallback_percent": r["head_fallback_percent"],
                "budget_ms": 20.0,
                "p99_share_of_budget": best["p99_us"] / 20000.0,
            }
        )
    return rows
