"""`muse bench`: the quick suite writes JSON and HTML with every section; history keeps runs; compare shows deltas."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nomad_muse.hwbench.html import render_bench_html
from nomad_muse.hwbench.suite import SCHEMA, compare, time_calls

ROOT = Path(__file__).parents[1]
needs_classifier = pytest.mark.skipif(not (ROOT / "models" / "classifier.onnx").exists(), reason="models/classifier.onnx not trained yet")


def _muse(args, env, cwd):
    return subprocess.run([sys.executable, "-m", "nomad_muse", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=600)


def test_time_calls_counts_and_orders_percentiles():
    n = [0]

    def f():
        n[0] += 1

    s = time_calls(f, 200, 20)
    assert n[0] == 220
    assert 0 < s["median_us"] <= s["p95_us"] <= s["p99_us"] <= s["max_us"]


def _cell(**kw):
    base = {"module": "classifier", "backend": "onnxruntime", "device": "CPU", "precision": "fp32", "size": "[1,1,128,8]",
            "unit": "model call", "median_us": 100.0, "p95_us": 110.0, "p99_us": 120.0, "max_us": 300.0, "budget_us": 10000.0}
    return {**base, **kw}


def test_compare_matches_cells_and_gives_ratios():
    a = {"matrix": [_cell(), _cell(precision="int8", median_us=50.0, p99_us=60.0)]}
    b = {"matrix": [_cell(median_us=80.0, p99_us=90.0), _cell(backend="openvino", median_us=10.0)]}
    rows = compare(a, b)
    assert len(rows) == 1
    assert rows[0]["cell"] == "classifier/onnxruntime/CPU/fp32/[1,1,128,8]"
    assert rows[0]["median_ratio"] == pytest.approx(0.8) and rows[0]["p99_ratio"] == pytest.approx(0.75)


def test_html_has_budget_lines_and_int8_section_from_a_recorded_result():
    res = {"date": "2026-11-24", "quick": True, "summary": ["x"], "machine": {"cpu_model": "cpu", "isa": ["avx2"], "fingerprint": "f"},
           "software": {"python": "3.11"}, "profile": "defaults",
           "matrix": [_cell(), _cell(precision="int8", median_us=40.0, vs_fp32=2.5), {**{k: v for k, v in _cell(backend="openvino").items() if not k.endswith("_us")}, "error": "OpenVINO missing"}],
           "baselines": {"torch": {"skipped": "no torch"}, "fft": []}, "realtime": None}
    html = render_bench_html(res)
    assert html.count('class="budget"') == 2 and 'id="int8-chart"' in html and "2.50 ×" in html
    assert "OpenVINO missing" in html


@pytest.mark.slow
@needs_classifier
def test_quick_bench_writes_json_html_history_and_compare(tmp_path):
    env = dict(os.environ, MUSE_HOME=str(tmp_path / "home"))
    for i in (1, 2):
        r = _muse(["bench", "--quick", "--realtime-s", "2", "--out", str(tmp_path / f"b{i}")], env, tmp_path)
        assert r.returncode == 0, r.stdout + r.stderr
    res = json.loads((tmp_path / "b1" / "bench.json").read_text())
    assert res["schema"] == SCHEMA
    for key in ("machine", "software", "floor", "matrix", "baselines", "realtime", "summary"):
        assert res[key], key
    mods = {(r["module"], r["backend"]) for r in res["matrix"] if "median_us" in r}
    assert {("generator", "onnxruntime"), ("generator", "openvino"), ("classifier", "onnxruntime"), ("classifier", "openvino"),
            ("analyzer", "pyfftw")} <= mods
    for r in res["matrix"]:
        if "median_us" in r:
            assert r["median_us"] <= r["p95_us"] <= r["p99_us"] <= r["max_us"]
            assert r["cpu_percent_one_core"] > 0 and r["peak_rss_mb"] > 0
    assert any("vs_floor" in r for r in res["matrix"])
    # issue 19's same-run ratio cells: sampled token vs bare step, classifier hop vs call, analyze vs pyloudnorm
    tok = [r for r in res["matrix"] if r["module"] == "generator" and r["size"] == "1 token" and "median_us" in r]
    assert tok and all(r["vs_step"] > 0 and r["reference_vs_step"] > 0 for r in tok)
    assert any(r["backend"] == "onnxruntime" and "in-graph" in r["sampler"] for r in tok)
    hop = [r for r in res["matrix"] if r["module"] == "classifier" and r["size"].startswith("1 hop") and "median_us" in r]
    assert hop and all(r["vs_call"] > 0 and r["model_calls"] > 0 for r in hop)
    av = res["baselines"]["analyze_vs_pyloudnorm"]
    assert av["ratio"] > 0 and av["analyze_cpu_s"] > 0 and av["pyloudnorm_cpu_s"] > 0, av
    assert any(line.startswith("analyzer: muse analyze") for line in res["summary"])
    assert {r["method"] for r in res["baselines"]["fft"]} >= {"numpy.fft", "pyfftw-planned"}
    rt = res["realtime"]
    assert rt["blocks"] > 100 and rt["deadline_misses"] >= 0 and 0 < rt["cpu_percent"]
    html = (tmp_path / "b1" / "bench.html").read_text()
    for sec in ("summary", "machine", "latency", "int8", "backends", "fft", "realtime", "matrix"):
        assert f"id='{sec}'" in html or f'id="{sec}"' in html, sec
    hist = json.loads(_muse(["bench", "history", "--json"], env, tmp_path).stdout)
    assert [h["kind"] for h in hist] == ["bench", "bench"]
    ids = sorted(h["id"] for h in hist)
    cmp = _muse(["bench", "compare", str(ids[0]), str(ids[1]), "--json"], env, tmp_path)
    assert cmp.returncode == 0, cmp.stderr
    rows = json.loads(cmp.stdout)
    assert any(r["cell"].startswith("generator/onnxruntime") for r in rows) and all(r["median_ratio"] > 0 for r in rows)
    bad = _muse(["bench", "compare", str(ids[0]), "999"], env, tmp_path)
    assert bad.returncode == 2 and "run 999" in bad.stderr and "Traceback" not in bad.stderr
