"""Pure calibration logic on recorded measurement tables of machines we do not have.

Tables: tests/data/measurements/*.json (variant rows per module + the
auto-tuner's timings); probes: tests/data/probes/*.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import load_probe

from nomad_muse.calibration import autotune, gate
from nomad_muse.calibration.calibrate import candidates_for
from nomad_muse.calibration.select import choose, int8_speedups, rejection
from nomad_muse.errors import ParameterError

MEAS = Path(__file__).parent / "data" / "measurements"


def table(name: str) -> dict:
    return json.loads((MEAS / f"{name}.json").read_text())


def timings(name: str) -> autotune.Timings:
    return autotune.Timings.from_dict(table(name)["timings"])


# ----------------------------------------------------------------- candidates per machine
def test_candidates_follow_the_probe():
    laptop = {str(c) for c in candidates_for(load_probe("intel_irisxe_laptop"))}
    assert {"openvino/GPU/fp32", "openvino/GPU/fp16", "openvino/GPU/int8", "onnxruntime/CPU/int8", "openvino/CPU/int8"} <= laptop
    assert "openvino/CPU/bf16" not in laptop  # no BF16 on a Tiger Lake CPU
    xeon = {str(c) for c in candidates_for(load_probe("xeon_amx_2core"))}
    assert "openvino/CPU/bf16" in xeon and not any("GPU" in c for c in xeon)
    mini = {str(c) for c in candidates_for(load_probe("avx2_minipc"))}
    assert not any("GPU" in c or "bf16" in c for c in mini)


# ----------------------------------------------------------------- backend choice by measurement
def test_laptop_puts_the_classifier_on_the_igpu_and_the_generator_on_ort():
    t = table("intel_irisxe_laptop")
    probe = load_probe("intel_irisxe_laptop")
    cls = choose("classifier", probe, t["variants"]["classifier"])
    assert cls.chosen["candidate"] == "openvino/GPU/fp16"
    assert "off the CPU" in cls.why and "0.210 ms" in cls.why
    gen = choose("generator", probe, t["variants"]["generator"])
    assert gen.chosen["candidate"] == "onnxruntime/CPU/fp32"


def test_minipc_keeps_fp32_when_int8_is_slower_without_vnni():
    t = table("avx2_minipc")
    sel = choose("classifier", load_probe("avx2_minipc"), t["variants"]["classifier"])
    assert sel.chosen["candidate"] == "onnxruntime/CPU/fp32"
    sp = {r["candidate"]: r for r in int8_speedups(t["variants"]["classifier"])}
    assert sp["onnxruntime/CPU/int8"]["median_speedup"] == pytest.approx(1.20 / 1.80, abs=1e-3)
    assert sp["onnxruntime/CPU/int8"]["median_speedup"] < 1 < sp["openvino/CPU/int8"]["median_speedup"]


def test_a_gate_rejected_variant_is_never_chosen_even_when_fastest():
    t = table("too_slow_box")
    rows = t["variants"]["classifier"]
    sel = choose("classifier", load_probe("arm_box"), rows)
    assert sel.chosen["candidate"] == "onnxruntime/CPU/fp32"
    rejected = dict(sel.rejected)
    assert rejected["onnxruntime/CPU/int8"].startswith("rejected by the accuracy gate: accuracy 71.0%")
    assert rejected["openvino/CPU/fp32"].startswith("failed: openvino")
    # make the rejected INT8 variant the fastest: still not chosen
    fast = [dict(r) for r in rows]
    fast[1]["latency"] = {"median_ms": 1.0, "p99_ms": 1.5}
    assert choose("classifier", load_probe("arm_box"), fast).chosen["candidate"] == "onnxruntime/CPU/fp32"


def test_nothing_survives_gives_no_choice_and_says_why():
    rows = [{"candidate": "onnxruntime/CPU/fp32", "error": "model file not found"},
            {"candidate": "onnxruntime/CPU/int8", "gate": {"passed": False, "reason": "top-1 agreement 90.0% < 97%"}}]
    sel = choose("generator", load_probe("avx2_minipc"), rows)
    assert sel.chosen is None and "no variant survived" in sel.why and "top-1 agreement" in sel.why
    assert rejection({"candidate": "x", "gate": {"passed": True}}) == "not timed"


# ----------------------------------------------------------------- auto-tuner
def test_laptop_gets_the_smallest_block():
    r = autotune.tune(timings("intel_irisxe_laptop"))
    assert r.ok and r.config.block_size == 64
    assert r.config.classifier_hop_ms == 20.0 and r.config.generator_chunk == "beat"
    assert r.prediction.e2e_ms <= 20.0
    chosen = [row for row in r.table if row["chosen"] and row["part"] == "audio"]
    assert len(chosen) == 1 and chosen[0]["candidate"].startswith("block 64 ")


def test_minipc_needs_a_larger_block():
    r = autotune.tune(timings("avx2_minipc"))
    assert r.ok and r.config.block_size == 256
    rows = {row["candidate"].split(" (")[0]: row for row in r.table if row["part"] == "audio"}
    assert "> block period" in rows["block 64"]["why"] and "> block period" in rows["block 128"]["why"]
    assert "end-to-end" in rows["block 512"]["why"]  # 2 × 10.7 ms of buffering alone exceeds 20 ms
    # the predicted per-block work at the chosen size, with the margin, fits its period
    p = r.prediction
    assert p.block_work_ms * 1.5 <= p.block_period_ms and p.e2e_ms <= 20.0


def test_a_machine_where_nothing_fits_does_not_meet_the_budget():
    r = autotune.tune(timings("too_slow_box"))
    assert not r.ok and r.config is None
    assert r.reason.startswith("does not meet the budget")
    assert "classifier p99 14.90 ms" in r.reason
    assert any(row["part"] == "classifier" and not row["chosen"] for row in r.table)


def test_a_bigger_budget_or_margin_moves_the_choice_the_right_way():
    t = timings("avx2_minipc")
    assert autotune.tune(t, autotune.Budget(e2e_ms=40.0)).config.block_size == 256  # latency first, not the budget's edge
    assert autotune.tune(t, autotune.Budget(margin=0.0)).config.block_size == 128
    assert not autotune.tune(t, autotune.Budget(e2e_ms=8.0)).ok  # 2 × 5.3 ms of buffering alone > 8 ms


def test_step_back_goes_to_the_next_larger_block():
    t = timings("intel_irisxe_laptop")
    r = autotune.tune(t, exclude_blocks=[64])
    assert r.ok and r.config.block_size == 128
    assert any("stepped back" in row["why"] for row in r.table)
    assert autotune.tune(t, exclude_blocks=[64, 128, 256]).ok is False  # 512 is over the budget


def test_generator_lookahead_and_analyzer_period():
    r = autotune.tune(timings("intel_irisxe_laptop"))
    assert r.config.generator_lookahead_beats == 1.5 and r.config.analyzer_fft_size == 8192 and r.config.analyzer_period_s == 0.5
    slow = table("intel_irisxe_laptop")["timings"] | {"generator_step_ms": 10.0,
                                                      "analyzer_update_ms": {"4096": 400.0, "8192": 600.0, "16384": 900.0}}
    r2 = autotune.tune(autotune.Timings.from_dict(slow), autotune.Budget(e2e_ms=80.0))
    # 13 tokens × 10 ms × 1.5 = 195 ms per beat chunk: needs 2 beats of slack at 180 BPM (333 ms/beat), not 0.5
    assert r2.ok and r2.config.generator_lookahead_beats == 2.0
    assert r2.config.analyzer_period_s == 1.0  # 600 ms × 1.5 > 0.5 s


def test_malformed_tables_and_budgets_are_refused():
    with pytest.raises(ParameterError, match="incomplete or malformed"):
        autotune.Timings.from_dict({"sample_rate": 48000})
    with pytest.raises(ParameterError, match="--budget-ms"):
        autotune.Budget(e2e_ms=0.5)


# ----------------------------------------------------------------- the gate's verdicts
def _logits(rng, n, k, labels, strength=3.0):
    x = rng.standard_normal((n, k))
    x[np.arange(n), labels] += strength
    return x


def test_classifier_gate_thresholds():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 11, 1000)
    ref = _logits(rng, 1000, 11, y)
    assert gate.classifier_gate(ref, ref + 1e-3, y).passed
    bad = ref.copy()
    wrong = np.flatnonzero(ref.argmax(1) == y)[:20]  # 20 of 1000 correct answers turned wrong: −2 points
    bad[wrong, y[wrong]] = -10
    r = gate.classifier_gate(ref, bad, y)
    assert not r.passed and r.metrics["drop_pts"] == pytest.approx(2.0) and "drop 2.00 pts > 1" in r.reason
    assert gate.classifier_gate(ref, bad, y, max_drop_pts=2.5).passed
    assert not gate.classifier_gate(ref, np.full_like(ref, np.nan), y).passed


def test_generator_gate_thresholds():
    rng = np.random.default_rng(1)
    t = rng.integers(0, 50, 2000)
    ref = _logits(rng, 2000, 50, t, strength=2.0)
    assert gate.generator_gate(ref, ref.copy(), t).passed
    flipped = ref.copy()
    idx = np.arange(80)  # 4 % of positions change their argmax
    flipped[idx, (ref[idx].argmax(1) + 1) % 50] = ref[idx].max(1) + 1
    r = gate.generator_gate(ref, flipped, t)
    assert not r.passed and "top-1 agreement 96.0% < 97%" in r.reason
    hotter = ref * 0.7  # same argmax everywhere, flatter distribution: NLL rises
    r2 = gate.generator_gate(ref, hotter, t)
    assert r2.metrics["top1_agreement"] == 1.0 and not r2.passed and "NLL +" in r2.reason


def test_this_machine_recorded_by_muse_calibrate():
    """The table `muse calibrate` recorded here (a loaded 2-core VM): choices, INT8 ratios, replay step-back."""
    t = table("xeon_amx_2core")
    probe = load_probe("xeon_amx_2core")
    assert choose("classifier", probe, t["variants"]["classifier"]).chosen["candidate"] == "openvino/CPU/int8"
    assert choose("generator", probe, t["variants"]["generator"]).chosen["candidate"] == "onnxruntime/CPU/fp32"
    sp = {r["candidate"]: r for r in int8_speedups(t["variants"]["classifier"])}
    assert sp["openvino/CPU/int8"]["median_speedup"] > 1 and sp["onnxruntime/CPU/int8"]["median_speedup"] > 1  # VNNI/AMX
    gen = {r["candidate"]: r for r in int8_speedups(t["variants"]["generator"])}
    assert gen["onnxruntime/CPU/int8"]["median_speedup"] < 1  # weight-only on a GRU: no gain, as NNCF leaves the GRU FP32
    tm = autotune.Timings.from_dict(t["timings"])
    r = autotune.tune(tm)
    assert r.ok and r.config.block_size == 64
    missed = [x["block_size"] for x in t["replay"] if x["misses"]]
    assert missed == [64, 128, 256]
    r2 = autotune.tune(tm, exclude_blocks=missed)
    assert not r2.ok and "missed deadlines in the replay" in r2.reason
    rows = {row["candidate"].split(" (")[0]: row for row in r2.table if row["part"] == "audio"}
    assert rows["block 1024"]["why"] == "no measurement at this size"
