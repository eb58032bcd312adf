"""Latency of one compiled variant: warm-up, then rounds of calls until the p99 is stable.

Each call goes through ``CompiledModel.run`` — the backends' fastest call
path (ORT: pre-bound IOBinding, state ping-ponging between two bindings;
OpenVINO: pre-bound shared-memory tensors, stateful request), measured at
~1.4 µs above the raw runtime floor (docs/ARCHITECTURE.md).  A round is
``calls`` timed calls; rounds repeat until the two best rounds' p99s agree
within ``tolerance`` (or ``max_rounds``), and the best round is reported.
Results are milliseconds.  Speed is reported, never asserted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Latency:
    """Per-call latency in milliseconds over the ``calls`` calls of the best of ``rounds`` rounds."""

    median_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    calls: int
    rounds: int
    stable: bool

    def as_dict(self) -> dict:
        return {k: (round(v, 5) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def stats_ms(t_ns: np.ndarray, rounds: int = 1, stable: bool = True) -> Latency:
    t = np.asarray(t_ns, dtype=np.float64) / 1e6
    return Latency(float(np.median(t)), float(np.percentile(t, 95)), float(np.percentile(t, 99)), float(t.max()), int(t.size), rounds, stable)


def sample_ns(fn: Callable[[int], object], calls: int, *, start: int = 0) -> np.ndarray:
    """Wall time of each of ``calls`` calls ``fn(start)``, ``fn(start + 1)``, … in nanoseconds (int64).

    The one timing loop of the project: calibration's rounds (``time_calls``)
    and the bench's cells (``hwbench.suite.time_calls``) both sample through it.
    """
    t = np.empty(calls, np.int64)
    for j in range(calls):
        t0 = time.perf_counter_ns()
        fn(start + j)
        t[j] = time.perf_counter_ns() - t0
    return t


def time_calls(fn: Callable[[int], object], *, warmup: int = 200, calls: int = 1000, max_rounds: int = 5, tolerance: float = 0.1) -> Latency:
    """Time ``fn(i)`` (``i`` = call index): ``warmup`` untimed calls, then rounds of ``calls``.

    Rounds repeat (at least two) until the two lowest per-round p99s agree
    within ``tolerance``; the round with the lowest p99 is reported (as
    ``timeit`` reports its minimum): on a shared machine a round that another
    process preempted says more about that process than about the model.
    """
    for i in range(warmup):
        fn(i)
    rounds: list[np.ndarray] = []
    p99s: list[float] = []
    stable = False
    k = warmup
    for _ in range(max(2, max_rounds)):
        t = sample_ns(fn, calls, start=k)
        k += calls
        rounds.append(t)
        p99s.append(float(np.percentile(t, 99)))
        if len(p99s) >= 2:
            lo, nxt = sorted(p99s)[:2]
            if nxt - lo <= tolerance * lo:
                stable = True
                break
    best = rounds[int(np.argmin(p99s))]
    return stats_ms(best, rounds=len(rounds), stable=stable)


def model_latency(model, feed: Mapping[str, np.ndarray] | Callable[[int], Mapping[str, np.ndarray]], **kw) -> Latency:
    """Latency of ``model.run(feed)``; ``feed`` may be a function of the call index (e.g. varying tokens)."""
    if callable(feed):
        return time_calls(lambda i: model.run(feed(i)), **kw)
    return time_calls(lambda i: model.run(feed), **kw)


def generator_feed(tokens: np.ndarray) -> Callable[[int], dict[str, np.ndarray]]:
    """Feeds one real token per call (cycling through ``tokens``), state carried by the backend."""
    buf = np.zeros((1, 1), np.int64)
    n = len(tokens)

    def feed(i: int) -> dict[str, np.ndarray]:
        buf[0, 0] = tokens[i % n]
        return {"token": buf}

    return feed


def classifier_feed(x: np.ndarray) -> Callable[[int], dict[str, np.ndarray]]:
    """Feeds one real validation window per call (cycling through ``x [n,1,128,8]``)."""
    buf = np.zeros((1,) + x.shape[1:], np.float32)
    n = len(x)

    def feed(i: int) -> dict[str, np.ndarray]:
        buf[0] = x[i % n]
        return {"mel": buf}

    return feed
