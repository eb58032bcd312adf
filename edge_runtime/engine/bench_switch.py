"""Measure the GIL question of the live engine: thread switch interval vs inference in a worker process.

``python -m nomad_muse.engine.bench_switch [--seconds 6]`` starts a private
JACK dummy server (48 kHz, 256-sample periods = 5.33 ms), runs the live engine
on it, and loads the interpreter with a stress worker that generates with the
real generator model in a tight loop (Python grammar and sampling between
ONNX Runtime calls: the GIL-heavy part of inference).  For each condition it
reports, per condition (the engine alone, and with the stress worker), the audio callback's start-to-start interval (p50/p99/max ms), the
server's xrun flags, callback overruns, renderer underruns, and the stress
worker's throughput (generator steps/s).  Conditions: the stress worker as a
thread with switch intervals 5 ms (Python's default), 1 ms, 0.5 ms, 0.1 ms;
and as a separate process (default switch interval in the engine).
Results are written to docs/engine.md by hand; speed never goes into tests.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import subprocess
import threading
import time

import numpy as np


def _stress_loop(stop, counter, seconds: float) -> None:
    from nomad_muse.generator.engine import Generator, SamplingConfig, default_model_path
    from nomad_muse.runtime import select
    from nomad_muse.generator.prompt import bundled_prompt, prime, prompt_tokens
    from nomad_muse.generator.midi_io import read_midi

    gen = Generator(loaded=select("generator", model=default_model_path()))  # the shipped model, as before
    p = prompt_tokens(read_midi(bundled_prompt("tonal")), "tonal")
    rng = np.random.default_rng(0)
    cfg = SamplingConfig(seed=0)
    prime(gen, p)
    t_end = time.perf_counter() + seconds
    while not stop.is_set() and time.perf_counter() < t_end:
        gen.next_chunk(cfg, rng, unit="bar")
        if len(gen.tokens) > 1500:
            prime(gen, p)
        with counter.get_lock():
            counter.value = gen.stats.steps


def run_condition(label: str, switch: float | None, stress: str, seconds: float) -> dict:
    from nomad_muse.engine.config import EngineConfig
    from nomad_muse.engine.live import LiveRunner
    from nomad_muse.machine_profile import resolve

    act = resolve()
    cfg = EngineConfig.from_tuned(act.tuned, seed=1)
    r = LiveRunner(cfg, act, midi_in="none", midi_out="none", switch_interval_s=switch)
    ctx = mp.get_context("spawn")
    counter = ctx.Value("l", 0)
    if stress == "thread":
        stop = threading.Event()
        w = threading.Thread(target=_stress_loop, args=(stop, counter, seconds + 5), daemon=True)
    elif stress == "process":
        stop = ctx.Event()
        w = ctx.Process(target=_stress_loop, args=(stop, counter, seconds + 5), daemon=True)
    else:
        stop, w = None, None
    r.start()
    if w is not None:
        w.start()
        time.sleep(1.5)  # model load
    c0 = r.engine.counters.as_dict()
    i0 = r.engine._cb_i
    n0 = counter.value
    time.sleep(seconds)
    i1 = r.engine._cb_i
    n1 = counter.value
    c1 = r.engine.counters.as_dict()
    if stop is not None:
        stop.set()
        w.join(5)
    r.stop("bench")
    e = r.engine
    n = min(i1 - i0, 2047)
    idx = np.arange(i1 - n, i1) & 2047
    starts = e.cb_start[idx]
    iv = np.diff(starts) * 1000
    load = e.cb_load[idx] * cfg.period_s * 1000
    return {"condition": label, "callbacks": int(i1 - i0), "expected": int(seconds / cfg.period_s),
            "interval_p50_ms": float(np.median(iv)), "interval_p99_ms": float(np.percentile(iv, 99)),
            "interval_max_ms": float(iv.max()), "callback_p99_ms": float(np.percentile(load, 99)),
            "callback_max_ms": float(load.max()),
            **{k: c1[k] - c0[k] for k in ("xruns", "callback_overruns", "render_underruns")},
            "stress_steps_per_s": (n1 - n0) / seconds}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=6.0)
    args = ap.parse_args()
    name = f"bench-switch-{os.getpid()}"
    os.environ["JACK_DEFAULT_SERVER"] = name
    jackd = subprocess.Popen(["jackd", "-n", name, "-d", "dummy", "-r", "48000", "-p", "256"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = []
    try:
        subprocess.run(["jack_wait", "-w", "-t", "10"], check=True, capture_output=True, timeout=15)
        conds = [("no stress, switch 5 ms", 0.005, "none"), ("no stress, switch 0.5 ms (the engine as shipped)", 0.0005, "none"),
                 ("thread, switch 5 ms (default)", 0.005, "thread"),
                 ("thread, switch 1 ms", 0.001, "thread"), ("thread, switch 0.5 ms", 0.0005, "thread"),
                 ("thread, switch 0.1 ms", 0.0001, "thread"), ("process, switch 5 ms", 0.005, "process")]
        for label, sw, stress in conds:
            row = run_condition(label, sw, stress, args.seconds)
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        from nomad_muse.engine.live import terminate_portaudio

        terminate_portaudio()
        jackd.terminate()
        try:
            jackd.wait(5)
        except subprocess.TimeoutExpired:
            jackd.kill()
    print("| condition | callbacks (expected) | interval p50 / p99 / max ms | callback p99 / max ms | xruns | overruns | underruns | stress steps/s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['condition']} | {r['callbacks']} ({r['expected']}) | {r['interval_p50_ms']:.2f} / {r['interval_p99_ms']:.2f} / "
              f"{r['interval_max_ms']:.2f} | {r['callback_p99_ms']:.3f} / {r['callback_max_ms']:.3f} | {r['xruns']} | "
              f"{r['callback_overruns']} | {r['render_underruns']} | {r['stress_steps_per_s']:.0f} |")


if __name__ == "__main__":
    main()
