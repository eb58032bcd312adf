"""The benchmark's HTML report: tables plus inline SVG plots (no JavaScript, no network).

Sections (element ids, so tests can find them): ``#summary``, ``#machine``,
``#latency`` (each cell's median/p95/p99/max on a log axis against its budget
line), ``#int8`` (INT8 and bf16 speed-up over FP32), ``#backends`` (median per
backend per module, with PyTorch eager), ``#fft`` (FFTW vs numpy.fft),
``#realtime`` (the paced simulation), ``#matrix`` (every cell).
"""

from __future__ import annotations

import html
import math
from pathlib import Path

CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#1d2330}
table{border-collapse:collapse;font-size:.85em}td,th{border-bottom:1px solid #dde1e7;padding:.25em .5em;text-align:right}
td:first-child,th:first-child{text-align:left}svg{background:#fff;border:1px solid #dde1e7;max-width:100%;height:auto}
.err{color:#b3261e}small{color:#5f6672}"""

COLORS = {"median": "#1a73e8", "p95": "#7baaf7", "p99": "#e8710a", "max": "#b3261e"}


def _e(x) -> str:
    return html.escape(str(x))


def _label(r: dict) -> str:
    return f"{r['module']} {r['backend']}/{r['device']}/{r['precision']} {r['size']}"


def _tick(us: float) -> str:
    """A decade's label: µs below 1 ms, ms below 1 s, then s."""
    return f"{us:g} µs" if us < 1e3 else f"{us / 1e3:g} ms" if us < 1e6 else f"{us / 1e6:g} s"


def latency_svg(rows: list[dict]) -> str:
    """Horizontal log-scale chart: one line per cell with median, p95, p99 and max marks and its budget line."""
    rows = [r for r in rows if "median_us" in r]
    if not rows:
        return "<p>no cells</p>"
    lo = min(r["median_us"] for r in rows) / 2
    hi = max(max(r["max_us"], r.get("budget_us") or 0) for r in rows) * 2
    lx0, lx1 = math.log10(lo), math.log10(hi)
    w, left, row_h = 1000, 330, 18
    h = 40 + row_h * len(rows)

    def x(v):
        return left + (math.log10(max(v, lo)) - lx0) / (lx1 - lx0) * (w - left - 20)

    s = [f'<svg id="latency-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" font-size="11">']
    for dec in range(math.ceil(lx0), math.floor(lx1) + 1):
        xv = x(10**dec)
        s.append(f'<line x1="{xv:.1f}" y1="20" x2="{xv:.1f}" y2="{h - 10}" stroke="#eee"/>'
                 f'<text x="{xv:.1f}" y="14" text-anchor="middle">{_tick(10**dec)}</text>')
    for i, r in enumerate(rows):
        y = 30 + i * row_h
        s.append(f'<text x="4" y="{y + 4}">{_e(_label(r))}</text>')
        s.append(f'<line x1="{x(r["median_us"]):.1f}" y1="{y}" x2="{x(r["max_us"]):.1f}" y2="{y}" stroke="#999"/>')
        for k, key in (("median", "median_us"), ("p95", "p95_us"), ("p99", "p99_us"), ("max", "max_us")):
            s.append(f'<circle class="mark-{k}" cx="{x(r[key]):.1f}" cy="{y}" r="3.5" fill="{COLORS[k]}"><title>{k} {r[key]:.1f} µs</title></circle>')
        if r.get("budget_us"):
            bx = x(r["budget_us"])
            s.append(f'<line class="budget" x1="{bx:.1f}" y1="{y - 7}" x2="{bx:.1f}" y2="{y + 7}" stroke="#b3261e" stroke-width="2">'
                     f'<title>budget {r["budget_us"]:.0f} µs</title></line>')
    s.append("</svg>")
    legend = " ".join(f'<span style="color:{c}">● {k}</span>' for k, c in COLORS.items())
    return "".join(s) + f"<p><small>{legend} <span style='color:#b3261e'>| budget</span> (log scale)</small></p>"


def bars_svg(svg_id: str, items: list[tuple[str, float]], unit: str, ref: float | None = None) -> str:
    """Simple horizontal bars (linear), with an optional reference line (e.g. 1× = FP32)."""
    if not items:
        return "<p>nothing measured</p>"
    w, left, row_h = 1000, 330, 20
    h = 30 + row_h * len(items)
    top = max(max(v for _, v in items), ref or 0) * 1.1 or 1.0
    s = [f'<svg id="{svg_id}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" font-size="11">']
    for i, (label, v) in enumerate(items):
        y = 15 + i * row_h
        bw = v / top * (w - left - 80)
        s.append(f'<text x="4" y="{y + 12}">{_e(label)}</text><rect class="bar" x="{left}" y="{y}" width="{bw:.1f}" height="14" fill="#1a73e8"/>'
                 f'<text x="{left + bw + 4:.1f}" y="{y + 12}">{v:.2f} {unit}</text>')
    if ref is not None:
        rx = left + ref / top * (w - left - 80)
        s.append(f'<line x1="{rx:.1f}" y1="8" x2="{rx:.1f}" y2="{h - 5}" stroke="#b3261e" stroke-dasharray="4 3"/>')
    s.append("</svg>")
    return "".join(s)


def _table(rows: list[dict], cols: list[tuple[str, str]], table_id: str) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for _, c in cols)
    body = []
    for r in rows:
        cells = []
        for k, _ in cols:
            v = r.get(k, "")
            v = "" if v is None else v
            cells.append(f"<td>{v:.3g}</td>" if isinstance(v, float) else f"<td>{_e(v)}</td>")
        cls = ' class="err"' if "error" in r else ""
        body.append(f"<tr{cls}>{''.join(cells)}</tr>")
    return f'<table id="{table_id}"><tr>{head}</tr>{"".join(body)}</table>'


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
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>muse bench — {_e(m.get('cpu_model'))}</title><style>{CSS}</style></head><body>",
           f"<h1>Nomad Muse Edge benchmark</h1><p>{_e(res['date'])}{' — quick run' if res.get('quick') else ''}</p>",
           "<h2>Summary</h2><ul id='summary'>" + "".join(f"<li>{_e(s)}</li>" for s in res["summary"]) + "</ul>",
           f"<h2>Machine</h2><p id='machine'>{_e(m.get('cpu_model'))} ({_e(m.get('arch'))}), {m.get('physical_cores')} cores, "
           f"{(m.get('ram_bytes') or 0) / 2**30:.1f} GiB, ISA {_e(' '.join(m.get('isa', [])))}<br>fingerprint <code>{_e(m.get('fingerprint'))}</code><br>"
           f"software: {_e(', '.join(f'{k} {v}' for k, v in res['software'].items()))}<br>sizes from: {_e(res['profile'])}</p>",
           "<h2>Latency against the budget</h2>", f"<div id='latency'>{latency_svg(calls)}</div>",
           "<h2>INT8 / bf16 speed-up over FP32 (same run)</h2>",
           f"<div id='int8'>{bars_svg('int8-chart', speedups, '×', ref=1.0) if speedups else '<p>no INT8 variants yet: run <code>muse calibrate</code> to make and gate them</p>'}</div>",
           "<h2>Backends (median µs per call)</h2>", f"<div id='backends'>{bars_svg('backend-chart', per_backend, 'µs')}</div>",
           "<h2>FFT: planned FFTW vs numpy.fft</h2>",
           f"<div id='fft'>{_table(fft, [('n_fft', 'n_fft'), ('dtype', 'dtype'), ('method', 'method'), ('ms', 'ms'), ('ratio_to_numpy', '× numpy.fft')], 'fft-table')}</div>"]
    if rt:
        out.append("<h2>Real-time simulation</h2><div id='realtime'>"
                   f"<p>{rt['blocks']} blocks of {rt['tuned']['block_size']} samples at {rt['tuned']['sample_rate']} Hz "
                   f"(period {rt['period_ms']:.2f} ms), paced for {rt['seconds']:.1f} s at {_e(rt['priority'])}; classifier {_e(rt['backends']['classifier'])}, "
                   f"generator {_e(rt['backends']['generator'])} at {rt['tokens_per_beat']:.1f} tokens/beat and {rt['tempo_bpm']:.0f} BPM.</p>"
                   + _table([{"what": k, **rt[k]} for k in ("block_work", "classifier_push", "generator_step", "analyzer_update")],
                            [("what", "work"), ("n", "n"), ("median_ms", "median ms"), ("p95_ms", "p95 ms"), ("p99_ms", "p99 ms"), ("max_ms", "max ms")], "realtime-table")
                   + f"<p>deadline misses {rt['deadline_misses']} ({rt['deadline_miss_percent']:.3f} %; {rt['cpu_misses']} from the work itself, "
                   f"{rt['late_starts']} late starts), worst block {rt['worst_block_ms']:.2f} ms, "
                   f"headroom {rt['headroom_percent']:.1f} %, CPU {rt['cpu_percent']:.1f} % of one core, RSS {rt['rss_after_mb']:.0f} MB "
                   f"(pipeline {rt['pipeline_mb']:.0f} MB)</p></div>")
    cols = [("module", "module"), ("backend", "backend"), ("device", "device"), ("precision", "precision"), ("size", "size"),
            ("median_us", "median µs"), ("p95_us", "p95 µs"), ("p99_us", "p99 µs"), ("max_us", "max µs"), ("calls_per_s", "calls/s"),
            ("cpu_percent_one_core", "CPU % 1 core"), ("peak_rss_mb", "peak RSS MB"), ("vs_floor", "× floor"), ("vs_fp32", "× FP32"),
            ("vs_torch", "× torch"), ("error", "error")]
    out.append("<h2>Every cell</h2>" + _table(matrix, cols, "matrix") + "</body></html>\n")
    return "".join(out)


def write_bench_html(res: dict, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_bench_html(res))
    return path
