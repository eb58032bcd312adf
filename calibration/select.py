"""Per-module backend choice by measurement (pure: tested on recorded tables).

Input: one row per variant a calibration tried —
``{"candidate": "openvino/CPU/int8", "path": ..., "method": ..., "error": str?,
"gate": {"passed": bool, "reason": str, ...}?, "latency": {"p99_ms": ..., "median_ms": ...}?}``.

Only rows that loaded, passed the accuracy gate and were timed compete.  The
order comes from :func:`nomad_muse.policy.plan_backends` with their
measured p99s, so measurement outranks the defaults while the policy's
reasons (GPU offload, ISA) stay visible; the winner is the fastest p99.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from nomad_muse.backends.base import Candidate
from nomad_muse.policy import plan_backends
from nomad_muse.probe import ProbeRecord


@dataclass(frozen=True)
class Selection:
    """The chosen row (None when nothing survived), why, and the rejected rows with their reasons."""

    module: str
    chosen: Mapping | None
    why: str
    rejected: tuple[tuple[str, str], ...]


def rejection(row: Mapping) -> str | None:
    """Why a row cannot be chosen, or None if it can."""
    if row.get("error"):
        return f"failed: {row['error']}"
    gate = row.get("gate")
    if gate is None:
        return "not gated"
    if not gate.get("passed"):
        return f"rejected by the accuracy gate: {gate.get('reason', '')}"
    if not row.get("latency"):
        return "not timed"
    return None


def choose(module: str, probe: ProbeRecord, rows: Sequence[Mapping]) -> Selection:
    """The fastest gate-passing variant for ``module`` (ordered through the policy), and why."""
    ok = {r["candidate"]: r for r in rows if rejection(r) is None}
    rejected = tuple((r["candidate"], rejection(r)) for r in rows if rejection(r) is not None)
    if not ok:
        return Selection(module, None, f"{module}: no variant survived (" + "; ".join(f"{c}: {w}" for c, w in rejected) + ")", rejected)
    meas = {c: float(r["latency"]["p99_ms"]) for c, r in ok.items()}
    plan = plan_backends(module, probe, measurements=meas)
    order = [str(c) for c in plan.candidates if str(c) in ok]
    # candidates the probe's policy does not list (e.g. a device it missed) still compete by p99
    order += sorted((c for c in ok if c not in order), key=meas.get)
    order.sort(key=meas.get)
    best = order[0]
    why = f"fastest p99 of {len(ok)} gate-passing variant{'s' if len(ok) > 1 else ''}: {meas[best]:.3f} ms"
    if len(order) > 1:
        nxt = order[1]
        why += f"; next {nxt} {meas[nxt]:.3f} ms (×{meas[nxt] / meas[best]:.2f})"
    if Candidate.parse(best).device != "CPU":
        why += "; also takes the work off the CPU that runs the audio thread"
    return Selection(module, ok[best], why, rejected)


def int8_speedups(rows: Sequence[Mapping]) -> list[dict]:
    """INT8 (and bf16/fp16) speed-up over FP32 of the same runtime and device, measured in one run.

    Ratios are FP32 time / variant time (> 1: faster), for the median and the p99.
    """
    timed = {r["candidate"]: r["latency"] for r in rows if r.get("latency") and not r.get("error")}
    out = []
    for cand, lat in timed.items():
        c = Candidate.parse(cand)
        if c.precision == "fp32":
            continue
        ref = timed.get(str(Candidate(c.runtime, c.device, "fp32")))
        if not ref:
            continue
        gate = next((r.get("gate") for r in rows if r["candidate"] == cand), None) or {}
        out.append({
            "candidate": cand,
            "vs": str(Candidate(c.runtime, c.device, "fp32")),
            "median_speedup": round(ref["median_ms"] / lat["median_ms"], 3),
            "p99_speedup": round(ref["p99_ms"] / lat["p99_ms"], 3),
            "gate_passed": bool(gate.get("passed")),
        })
    return out
