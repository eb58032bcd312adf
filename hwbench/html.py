"""The benchmark's HTML report, on the report kit (template ``bench.html``; no JavaScript, no network).

Sections (element ids, so tests can find them): ``#summary``, ``#machine``,
``#latency`` (each cell's median/p95/p99/max on a log axis against its budget
line), ``#int8`` (INT8 and bf16 speed-up over FP32), ``#backends`` (median per
backend per module, with PyTorch eager), ``#fft`` (FFTW vs numpy.fft),
``#realtime`` (the paced simulation), ``#matrix`` (every cell).  Charts:
:func:`nomad_muse.report.plot.log_marks` and :func:`~nomad_muse.report.plot.hbars`.
"""

from __future__ import annotations

from pathlib import Path

from nomad_muse.report import render, write_page
from nomad_muse.report.plot import hbars, log_marks

MARKS = ("median", "p95", "p99", "max")


def _label(r: dict) -> str:
    return f"{r['module']} {r['backend']}/{r['device']}/{r['precision']} {r['size']}"


def latency_svg(rows: list[dict]):
    """Horizontal log-scale chart: one line per cell with median, p95, p99 and max marks and its budget line."""
    rows = [r for r in rows if "median_us" in r]
    if not rows:
        return None
    return log_marks("latency-chart", [(_label(r), {k: r[f"{k}_us"] for k in MARKS}, r.get("budget_us")) for r in rows],
                     marks=MARKS)


def _table(rows: list[dict], cols: list[tuple[str, str]]) -> dict:
    out = []
    for r in rows:
        cells = []
        for k, _ in cols:
            v = r.get(k, "")
            v = "" if v is None else v
            cells.append({"text": f"{v:.3g}", "num": True} if isinstance(v, float) else {"text": str(v), "num": False})
        out.append({"error": "error" in r, "cells": cells})
    return {"rows": out, "cols": cols}


def render_bench_html(res: dict) -> str:
    m = res["machine"]
    matrix = res["matrix"]
    calls = [r for r in matrix if "median_us" in r]
    speedups = [(_label(r), r["vs_fp32"]) for r in calls if r.get("vs_fp32")]
    per_backend = [(_label(r), r["median_us"]) for r in calls if r["unit"] in ("model call", "decoding step (state carried)")]
    torch_rows = res["baselines"].get("torch")
    if isinstance(torch_rows, list):
        per_backend += [(_label(r), r["median_us"]) for r in torch_rows]
    fft = res["baselines"].get("fft") or []
    rt = res.get("realtime") or {}
    rt_ctx = None
    if rt:
        rt_ctx = {
            "head": (f"{rt['blocks']} blocks of {rt['tuned']['block_size']} samples at {rt['tuned']['sample_rate']} Hz "
                     f"(period {rt['period_ms']:.2f} ms), paced for {rt['seconds']:.1f} s at {rt['priority']}; classifier "
                     f"{rt['backends']['classifier']}, generator {rt['backends']['generator']} at {rt['tokens_per_beat']:.1f} "
                     f"tokens/beat and {rt['tempo_bpm']:.0f} BPM."),
            "table": _table([{"what": k, **rt[k]} for k in ("block_work", "classifier_push", "generator_step", "analyzer_update")],
                            [("what", "work"), ("n", "n"), ("median_ms", "median ms"), ("p95_ms", "p95 ms"),
                             ("p99_ms", "p99 ms"), ("max_ms", "max ms")]),
            "tail": (f"deadline misses {rt['deadline_misses']} ({rt['deadline_miss_percent']:.3f} %; {rt['cpu_misses']} from "
                     f"the work itself, {rt['late_starts']} late starts), worst block {rt['worst_block_ms']:.2f} ms, headroom "
                     f"{rt['headroom_percent']:.1f} %, CPU {rt['cpu_percent']:.1f} % of one core, RSS {rt['rss_after_mb']:.0f} MB "
                     f"(pipeline {rt['pipeline_mb']:.0f} MB)"
                     + (f", peak RSS {rt['rss_peak_mb']:.0f} MB ({rt.get('rss_peak_scope', '')}); start-up "
                        f"{rt['startup_s']:.2f} s from the run's start (runtimes, model loads, FFT plans, 1 s unpaced "
                        f"warm-up) to its first paced block" if "rss_peak_mb" in rt else "")),
            "modules": (hbars("module-cpu-chart", [(k, float(v)) for k, v in rt["module_cpu_percent"].items()],
                              "% of one core") if rt.get("module_cpu_percent") else None)}
    cols = [("module", "module"), ("backend", "backend"), ("device", "device"), ("precision", "precision"), ("size", "size"),
            ("median_us", "median µs"), ("p95_us", "p95 µs"), ("p99_us", "p99 µs"), ("max_us", "max µs"), ("calls_per_s", "calls/s"),
            ("cpu_percent_one_core", "CPU % 1 core"), ("peak_rss_mb", "peak RSS MB"), ("vs_floor", "× floor"), ("vs_fp32", "× FP32"),
            ("vs_torch", "× torch"), ("error", "error")]
    return render(
        "bench.html", title=f"muse bench — {m.get('cpu_model')}", wide=True, date=str(res["date"]), quick=bool(res.get("quick")),
        summary=[str(s) for s in res["summary"]],
        machine=(f"{m.get('cpu_model')} ({m.get('arch')}), {m.get('physical_cores')} cores, "
                 f"{(m.get('ram_bytes') or 0) / 2**30:.1f} GiB, ISA {' '.join(m.get('isa', []))}"),
        fingerprint=str(m.get("fingerprint")), software=", ".join(f"{k} {v}" for k, v in res["software"].items()),
        profile=str(res["profile"]), latency=latency_svg(calls),
        int8=hbars("int8-chart", speedups, "×", ref=1.0) if speedups else None,
        backends=hbars("backend-chart", per_backend, "µs"),
        fft=_table(fft, [("n_fft", "n_fft"), ("dtype", "dtype"), ("method", "method"), ("ms", "ms"), ("ratio_to_numpy", "× numpy.fft")]),
        rt=rt_ctx, matrix=_table(matrix, cols))


def write_bench_html(res: dict, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_page(path, render_bench_html(res), what="bench report")
