"""A self-contained HTML report of one analysis: inline SVG and CSS only (no scripts, no network).

:func:`render_html` is pure (report in, string out); :func:`write_html`
checks the destination and writes it. Every piece of text that comes from
outside this module (file name, target name/description/provenance,
suggestion text, notes) goes through :func:`html.escape`.

Element ids/classes the tests rely on (stable):

* ``svg#tonal-curve``: the fine (1/6-octave) curve chart, with
  ``g#target-range`` (``path.target-band`` per contiguous run of the target's
  p10..p90 range), ``g#target-median`` (``polyline.target-median``),
  ``g#measured-curve`` (``polyline.measured``), ``g#x-ticks``/``g#y-ticks``.
* ``svg#band-chart``: ``rect.band-bar`` (measured, one per measured band),
  ``rect.band-range`` (target p10..p90), ``line.band-median``, each with
  ``data-band``; ``text.band-missing`` for a band that was not measured.
* ``table#meters`` (cells ``td#m-<key>`` with ``data-value`` = the JSON number),
  ``table#suggestions`` (one ``tr.suggestion`` per suggestion).
"""

from __future__ import annotations

import datetime as _dt
import math
from html import escape
from pathlib import Path

from nomad_muse.errors import ParameterError

#: frequency axis of the curve chart (Hz)
F_LO, F_HI = 20.0, 20000.0
X_TICKS_HZ = (20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000)

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
main{max-width:980px;margin:0 auto;padding:18px 22px 40px}
h1{font-size:22px;margin:6px 0 2px}h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #d5d9e0;padding-bottom:3px}
.sub{color:#5a6272;margin:0 0 6px}
table{border-collapse:collapse;width:100%;background:#fff;margin:6px 0}
th,td{border:1px solid #dde1e7;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef1f5;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
svg{background:#fff;border:1px solid #dde1e7;max-width:100%;height:auto}
.axis{stroke:#5a6272;stroke-width:1}.grid{stroke:#e3e6eb;stroke-width:1}
.tick{font-size:11px;fill:#5a6272}.lbl{font-size:12px;fill:#1d2330}
.target-band{fill:#8fb8e8;fill-opacity:.45;stroke:none}
.target-median{fill:none;stroke:#2f6db5;stroke-width:1.5;stroke-dasharray:5 3}
.measured{fill:none;stroke:#d2462b;stroke-width:2.2}
.band-range{fill:#8fb8e8;fill-opacity:.55}.band-median{stroke:#2f6db5;stroke-width:2}
.band-bar{fill:#d2462b;fill-opacity:.8}.band-missing{font-size:11px;fill:#8a919e}
.sev-high{color:#b3261e;font-weight:700}.sev-medium{color:#a15c00;font-weight:700}.sev-low{color:#2b6a9e;font-weight:700}
.legend rect,.legend line{vector-effect:non-scaling-stroke}
.note{color:#5a6272}
footer{margin-top:28px;color:#8a919e;font-size:12px}
"""


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _num(x, fmt: str = "{:.1f}", unit: str = "") -> str:
    """Formatted number with unit, or an em dash when not measured."""
    if not _finite(x):
        return "\u2014"
    return fmt.format(x) + (f" {unit}" if unit else "")


def _json_value(x) -> str:
    """The number as ``--json`` prints it (3 decimals, ``null`` when not finite)."""
    return repr(round(float(x), 3)) if _finite(x) else "null"


def _fmt_hz(f: float) -> str:
    return f"{f / 1000:g}k" if f >= 1000 else f"{f:g}"


def _y_axis(values, *, min_span: float = 30.0) -> tuple[float, float, float]:
    """(lo, hi, step) of a dB axis covering the finite ``values``."""
    v = [x for x in values if _finite(x)]
    if not v:
        return -60.0, 0.0, 10.0
    lo, hi = min(v), max(v)
    if hi - lo < min_span:
        mid = (hi + lo) / 2
        lo, hi = mid - min_span / 2, mid + min_span / 2
    step = 10.0 if hi - lo > 25 else 5.0
    return math.floor(lo / step) * step, math.ceil(hi / step) * step, step


def _runs(xs, *series):
    """Contiguous runs of indices where x and every series value are finite."""
    out, cur = [], []
    for i, x in enumerate(xs):
        if _finite(x) and F_LO <= x <= F_HI and all(_finite(s[i]) for s in series):
            cur.append(i)
        elif cur:
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


class _Plot:
    """Log-frequency x, dB y mapping of a chart area."""

    def __init__(self, *, w: int, h: int, left: int, right: int, top: int, bottom: int, y_lo: float, y_hi: float):
        self.w, self.h, self.l, self.r, self.t, self.b = w, h, left, right, top, bottom
        self.y_lo, self.y_hi = y_lo, y_hi

    def x(self, f: float) -> float:
        a = (math.log10(f) - math.log10(F_LO)) / (math.log10(F_HI) - math.log10(F_LO))
        return self.l + a * (self.w - self.l - self.r)

    def y(self, db: float) -> float:
        db = min(max(db, self.y_lo), self.y_hi)
        a = (db - self.y_lo) / (self.y_hi - self.y_lo)
        return self.h - self.b - a * (self.h - self.t - self.b)


def _pts(points) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in points)


def _target_curves(report, target):
    """(hz, p10, p50, p90) of the target's fine curve, or None.

    Prefer the curve interpolated onto the measured grid (what the suggestions
    compare against); else the target's own curve.
    """
    tn = report.tonal
    if tn is not None and tn.target_curve_p50_db is not None:
        return tn.curve_hz, tn.target_curve_p10_db, tn.target_curve_p50_db, tn.target_curve_p90_db
    if target is not None and getattr(target, "curve_hz", None) is not None and target.curve_db is not None:
        return (target.curve_hz, *target.curve_db)
    return None


def _band_ranges(report, target):
    """[(name, lo_hz, hi_hz, p10, p50, p90)] from the report's bands or the target's."""
    out = []
    if report.tonal is None:
        return out
    for b in report.tonal.bands:
        if b.target_p10_db is not None:
            out.append((b.name, b.lo_hz, b.hi_hz, b.target_p10_db, b.target_p50_db, b.target_p90_db))
        elif target is not None and b.name in getattr(target, "bands", {}):
            p10, p50, p90 = target.bands[b.name]
            out.append((b.name, b.lo_hz, b.hi_hz, p10, p50, p90))
    return out


def curve_svg(report, target=None) -> str:
    """The fine tonal curve over the target's p10..p90 range and median (``svg#tonal-curve``)."""
    tn = report.tonal
    w, h = 760, 340
    tc = _target_curves(report, target)
    branges = _band_ranges(report, target)
    vals = list(tn.curve_db) if tn is not None else []
    if tc is not None:
        vals += list(tc[1]) + list(tc[3])
    else:
        vals += [r[3] for r in branges] + [r[5] for r in branges]
    lo, hi, step = _y_axis(vals)
    p = _Plot(w=w, h=h, left=58, right=16, top=14, bottom=46, y_lo=lo, y_hi=hi)
    s = [f'<svg id="tonal-curve" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
         'role="img" aria-labelledby="tonal-curve-title">',
         '<title id="tonal-curve-title">Measured 1/6-octave tonal curve over the target range</title>']
    # grid and ticks
    s.append('<g id="y-ticks">')
    v = lo
    while v <= hi + 1e-9:
        y = p.y(v)
        s.append(f'<line class="grid" x1="{p.l}" y1="{y:.1f}" x2="{w - p.r}" y2="{y:.1f}"/>')
        s.append(f'<text class="tick" x="{p.l - 6}" y="{y + 4:.1f}" text-anchor="end">{v:g}</text>')
        v += step
    s.append("</g>")
    s.append('<g id="x-ticks">')
    for f in X_TICKS_HZ:
        x = p.x(f)
        s.append(f'<line class="grid" x1="{x:.1f}" y1="{p.t}" x2="{x:.1f}" y2="{h - p.b}"/>')
        s.append(f'<text class="tick" x="{x:.1f}" y="{h - p.b + 15}" text-anchor="middle">{_fmt_hz(f)}</text>')
    s.append("</g>")
    s.append(f'<line class="axis" x1="{p.l}" y1="{h - p.b}" x2="{w - p.r}" y2="{h - p.b}"/>')
    s.append(f'<line class="axis" x1="{p.l}" y1="{p.t}" x2="{p.l}" y2="{h - p.b}"/>')
    s.append(f'<text class="lbl" x="{(p.l + w - p.r) / 2:.0f}" y="{h - 8}" text-anchor="middle">frequency (Hz)</text>')
    s.append(f'<text class="lbl" x="14" y="{(p.t + h - p.b) / 2:.0f}" text-anchor="middle" '
             f'transform="rotate(-90 14 {(p.t + h - p.b) / 2:.0f})">level (dB, normalised)</text>')
    # target range band and median
    s.append('<g id="target-range">')
    if tc is not None:
        hz, p10, p50, p90 = tc
        for run in _runs(hz, p10, p90):
            upper = [(p.x(hz[i]), p.y(p90[i])) for i in run]
            lower = [(p.x(hz[i]), p.y(p10[i])) for i in reversed(run)]
            s.append(f'<path class="target-band" d="M{_pts(upper)} L{_pts(lower)} Z"/>')
    else:
        for name, f0, f1, p10, _, p90 in branges:
            x0, x1 = p.x(max(f0, F_LO)), p.x(min(f1, F_HI))
            s.append(f'<path class="target-band" data-band="{escape(name)}" d="M{x0:.1f},{p.y(p90):.1f} '
                     f'L{x1:.1f},{p.y(p90):.1f} L{x1:.1f},{p.y(p10):.1f} L{x0:.1f},{p.y(p10):.1f} Z"/>')
    s.append("</g>")
    s.append('<g id="target-median">')
    if tc is not None:
        hz, _, p50, _ = tc
        for run in _runs(hz, p50):
            if len(run) >= 2:
                s.append(f'<polyline class="target-median" points="{_pts((p.x(hz[i]), p.y(p50[i])) for i in run)}"/>')
    else:
        for name, f0, f1, _, p50, _ in branges:
            s.append(f'<polyline class="target-median" data-band="{escape(name)}" '
                     f'points="{p.x(max(f0, F_LO)):.1f},{p.y(p50):.1f} {p.x(min(f1, F_HI)):.1f},{p.y(p50):.1f}"/>')
    s.append("</g>")
    s.append('<g id="measured-curve">')
    if tn is not None:
        for run in _runs(tn.curve_hz, tn.curve_db):
            if len(run) >= 2:
                pts = _pts((p.x(tn.curve_hz[i]), p.y(tn.curve_db[i])) for i in run)
                s.append(f'<polyline class="measured" points="{pts}"/>')
    s.append("</g>")
    # legend
    lx = w - p.r - 250
    s.append(f'<g class="legend" transform="translate({lx} {p.t + 6})">'
             '<rect x="0" y="0" width="244" height="58" fill="#fff" fill-opacity=".85" stroke="#dde1e7"/>'
             '<line class="measured" x1="8" y1="14" x2="36" y2="14"/><text class="tick" x="42" y="18">measured</text>'
             '<rect class="target-band" x="8" y="24" width="28" height="10"/>'
             '<text class="tick" x="42" y="33">target 10th\u201390th percentile</text>'
             '<line class="target-median" x1="8" y1="46" x2="36" y2="46"/>'
             '<text class="tick" x="42" y="50">target median</text></g>')
    s.append("</svg>")
    return "\n".join(s)


def bands_svg(report, target=None) -> str:
    """The 7 bands as bars against the target range (``svg#band-chart``)."""
    bands = report.tonal.bands
    ranges = {r[0]: r for r in _band_ranges(report, target)}
    vals = [b.level_db for b in bands] + [r[3] for r in ranges.values()] + [r[5] for r in ranges.values()]
    lo, hi, step = _y_axis(vals, min_span=20.0)
    lo -= step  # room under the lowest bar
    w, h = 760, 300
    left, right, top, bottom = 58, 16, 14, 52
    slot = (w - left - right) / len(bands)

    def y(db):
        db = min(max(db, lo), hi)
        return h - bottom - (db - lo) / (hi - lo) * (h - top - bottom)

    s = [f'<svg id="band-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
         'role="img" aria-labelledby="band-chart-title">',
         '<title id="band-chart-title">Tonal bands: measured level against the target range</title>']
    v = lo
    while v <= hi + 1e-9:
        s.append(f'<line class="grid" x1="{left}" y1="{y(v):.1f}" x2="{w - right}" y2="{y(v):.1f}"/>')
        s.append(f'<text class="tick" x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:g}</text>')
        v += step
    s.append(f'<line class="axis" x1="{left}" y1="{h - bottom}" x2="{w - right}" y2="{h - bottom}"/>')
    s.append(f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{h - bottom}"/>')
    s.append(f'<text class="lbl" x="14" y="{(top + h - bottom) / 2:.0f}" text-anchor="middle" '
             f'transform="rotate(-90 14 {(top + h - bottom) / 2:.0f})">dB</text>')
    for i, b in enumerate(bands):
        x0 = left + i * slot
        cx = x0 + slot / 2
        name = escape(b.name)
        r = ranges.get(b.name)
        if r is not None:
            s.append(f'<rect class="band-range" data-band="{name}" x="{x0 + slot * 0.12:.1f}" y="{y(r[5]):.1f}" '
                     f'width="{slot * 0.76:.1f}" height="{max(y(r[3]) - y(r[5]), 1.0):.1f}">'
                     f'<title>target {r[3]:.1f} to {r[5]:.1f} dB (median {r[4]:.1f})</title></rect>')
        if _finite(b.level_db):
            top_y = y(b.level_db)
            s.append(f'<rect class="band-bar" data-band="{name}" x="{x0 + slot * 0.3:.1f}" y="{top_y:.1f}" '
                     f'width="{slot * 0.4:.1f}" height="{max(h - bottom - top_y, 0.0):.1f}">'
                     f'<title>{name}: {b.level_db:.1f} dB</title></rect>')
            s.append(f'<text class="tick" x="{cx:.1f}" y="{top_y - 4:.1f}" text-anchor="middle">{b.level_db:.1f}</text>')
        else:
            s.append(f'<text class="band-missing" data-band="{name}" x="{cx:.1f}" y="{h - bottom - 8}" '
                     'text-anchor="middle">not measured</text>')
        if r is not None:
            s.append(f'<line class="band-median" data-band="{name}" x1="{x0 + slot * 0.12:.1f}" y1="{y(r[4]):.1f}" '
                     f'x2="{x0 + slot * 0.88:.1f}" y2="{y(r[4]):.1f}"/>')
        s.append(f'<text class="lbl" x="{cx:.1f}" y="{h - bottom + 16}" text-anchor="middle">{name}</text>')
        s.append(f'<text class="tick" x="{cx:.1f}" y="{h - bottom + 31}" text-anchor="middle">'
                 f'{_fmt_hz(b.lo_hz)}\u2013{_fmt_hz(b.hi_hz)} Hz</text>')
    s.append("</svg>")
    return "\n".join(s)


def _meter_rows(report, target_lufs):
    """(key, label, value, fmt, unit, note) of every meter."""
    L, st, d = report.loudness, report.stereo, report.dynamics
    rows = [
        ("integrated_lufs", "integrated loudness", L.integrated_lufs, "{:.1f}", "LUFS",
         "ITU-R BS.1770-4, gated" + (f"; delivery target {target_lufs:g} LUFS" if _finite(target_lufs) else "")),
        ("momentary_max_lufs", "momentary max", L.momentary_max_lufs, "{:.1f}", "LUFS", "400 ms window"),
        ("short_term_max_lufs", "short-term max", L.short_term_max_lufs, "{:.1f}", "LUFS", "3 s window"),
        ("lra_lu", "loudness range (LRA)", L.lra_lu, "{:.1f}", "LU", "EBU Tech 3342"),
        ("true_peak_dbtp", "true peak", L.true_peak_dbtp, "{:.1f}", "dBTP", f"{L.oversampling}\u00d7 oversampled"),
        ("sample_peak_dbfs", "sample peak", L.sample_peak_dbfs, "{:.1f}", "dBFS", ""),
        ("plr_lu", "peak-to-loudness ratio (PLR)", L.plr_lu, "{:.1f}", "LU", "true peak \u2212 integrated"),
        ("rms_dbfs", "RMS", L.rms_dbfs, "{:.1f}", "dBFS", "unweighted"),
        ("crest_factor_db", "crest factor", L.crest_factor_db, "{:.1f}", "dB", "sample peak \u2212 RMS"),
    ]
    if st is not None:
        rows += [
            ("correlation", "stereo correlation", st.correlation, "{:+.2f}", "", "+1 mono, 0 unrelated, \u22121 out of phase"),
            ("correlation_p05", "correlation, 5th percentile", st.correlation_p05, "{:+.2f}", "", "of 400 ms windows"),
            ("low_end_correlation", "low-end correlation", st.low_end_correlation, "{:+.2f}", "",
             f"below {st.low_end_cutoff_hz:g} Hz"),
            ("side_to_mid_db", "side / mid", st.side_to_mid_db, "{:.1f}", "dB", ""),
            ("width", "width", st.width, "{:.2f}", "", "side share: 0 mono, 0.5 uncorrelated"),
        ]
    rows += [
        ("crest_factor_median_db", "crest factor over time (median)", d.crest_factor_median_db, "{:.1f}", "dB",
         f"p10 {_num(d.crest_factor_p10_db)} / p90 {_num(d.crest_factor_p90_db)} dB, 1 s windows"),
        ("onset_density_per_s", "onset density", d.onset_density_per_s, "{:.2f}", "/s", f"{d.onset_count} onsets"),
        ("attack_clarity_db", "attack clarity", d.attack_clarity_db, "{:.1f}", "dB", "energy rise at onsets"),
    ]
    return rows


def render_html(report, target=None, *, target_lufs: float | None = None, title: str | None = None,
                generated: str | None = None) -> str:
    """The whole report as one HTML document (inline CSS and SVG, no scripts).

    Parameters
    ----------
    report : nomad_muse.analyzer.report.AnalysisReport
        What :func:`~nomad_muse.analyzer.analyze_file` returned.
    target : nomad_muse.analyzer.targets.Target or None
        The target the report was compared with (name, description, provenance
        and, when the report lacks it, its curve).
    target_lufs : float or None
        Delivery loudness the suggestions used (shown next to the integrated value).
    title : str or None
        Page title (default: "Mix analysis: <file name>").
    generated : str or None
        Timestamp text for the footer (default: now, UTC, to the minute).
    """
    tn = report.tonal
    src_name = Path(str(report.source)).name or str(report.source)
    title = title if title is not None else f"Mix analysis: {src_name}"
    generated = generated if generated is not None else _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    tname = (tn.target_name if tn is not None else None) or (target.name if target is not None else None)
    e = escape
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{e(title)}</title>", f"<style>{_CSS}</style>", "</head>", "<body>", "<main>",
           f"<h1>{e(title)}</h1>",
           f'<p class="sub">{e(str(report.source))} \u00b7 {report.duration_s:.1f} s \u00b7 {report.sr} Hz \u00b7 '
           f"{e(report.layout)} ({report.channels} ch) \u00b7 FFT: {e(report.fft_backend)}</p>"]
    if tname:
        out.append(f'<p class="sub" id="target-name">Target: <b>{e(tname)}</b>'
                   + (f" \u2014 {e(target.description)}" if target is not None and target.description else "") + "</p>")
        if target is not None:
            prov = target.provenance or {}
            for k in ("method", "caveat"):
                if prov.get(k):
                    out.append(f'<p class="note">{e(k)}: {e(str(prov[k]))}</p>')
    else:
        out.append('<p class="note" id="target-name">No target: pass <code>--genre NAME</code> or '
                   "<code>--target FILE</code> to compare the tonal balance with a range.</p>")

    # suggestions first: it is what the musician reads
    out.append("<h2>Suggestions</h2>")
    if report.suggestions:
        out.append('<table id="suggestions"><thead><tr><th>#</th><th>severity</th><th>kind</th><th>region</th>'
                   "<th>measured / target</th><th>action</th><th>why</th></tr></thead><tbody>")
        for i, sg in enumerate(report.suggestions, 1):
            sev = e(sg.severity)
            mt = f"{_num(sg.measured, '{:.2f}' if sg.unit == 'correlation' else '{:.1f}')} / " \
                 f"{_num(sg.target, '{:.2f}' if sg.unit == 'correlation' else '{:g}')} {e(sg.unit)}"
            out.append(f'<tr class="suggestion" data-kind="{e(sg.kind)}"><td class="num">{i}</td>'
                       f'<td class="sev-{sev}">{sev}</td><td><code>{e(sg.kind)}</code></td><td>{e(sg.region)}</td>'
                       f'<td class="num">{mt}</td><td>{e(sg.action)}</td><td>{e(sg.why)}</td></tr>')
        out.append("</tbody></table>")
    else:
        out.append('<p id="suggestions">No suggestions: every rule is within its threshold.</p>')

    out.append("<h2>Tonal balance</h2>")
    if tn is None:
        out.append('<p class="note" id="tonal-missing">Not measured: the programme is below the \u221270 LUFS gate '
                   "(silent).</p>")
    else:
        out.append(f'<p class="note">Fine curve: 1/6-octave band powers after normalising to '
                   f"{tn.normalised_to_lufs:g} LUFS integrated, so level does not read as balance.</p>")
        out.append(curve_svg(report, target))
        out.append(bands_svg(report, target))
        out.append('<table id="bands"><thead><tr><th>band</th><th>Hz</th><th>level (dB)</th>'
                   "<th>target p10 / p50 / p90 (dB)</th><th>outside range</th></tr></thead><tbody>")
        for b in tn.bands:
            rng = "\u2014" if b.target_p50_db is None else \
                f"{b.target_p10_db:.1f} / {b.target_p50_db:.1f} / {b.target_p90_db:.1f}"
            dev = b.deviation_db
            devs = "\u2014" if dev is None else ("in range" if dev == 0 else f"{dev:+.1f} dB")
            lvl = _num(b.level_db) if _finite(b.level_db) else "not measured"
            out.append(f'<tr data-band="{e(b.name)}"><td>{e(b.name)}</td><td>{b.lo_hz:g}\u2013{b.hi_hz:g}</td>'
                       f'<td class="num">{lvl}</td><td class="num">{rng}</td><td class="num">{devs}</td></tr>')
        out.append("</tbody></table>")

    out.append("<h2>Meters</h2>")
    out.append('<table id="meters"><thead><tr><th>meter</th><th>value</th><th>note</th></tr></thead><tbody>')
    for key, label, val, fmt, unit, note in _meter_rows(report, target_lufs):
        out.append(f'<tr><td>{e(label)}</td><td class="num" id="m-{key}" data-value="{_json_value(val)}">'
                   f"{e(_num(val, fmt, unit))}</td><td>{e(note)}</td></tr>")
    oc = "yes" if report.dynamics.over_compressed else "no"
    out.append(f'<tr><td>over-compressed</td><td class="num" id="m-over_compressed">{oc}</td>'
               "<td>PLR below 8 LU</td></tr>")
    out.append("</tbody></table>")
    if report.stereo is None:
        out.append('<p class="note" id="stereo-missing">Mono programme: no stereo image to measure.</p>')
    if report.loudness.silent:
        out.append('<p class="note">Silent: no loudness (the programme never rises above \u221270 LUFS).</p>')
    for n in report.notes:
        out.append(f'<p class="note">note: {e(str(n))}</p>')
    out.append(f"<footer>Nomad Muse Edge \u00b7 <code>muse analyze</code> \u00b7 {e(generated)} \u00b7 "
               "meters and rules: docs/analyzer.md</footer>")
    out += ["</main>", "</body>", "</html>", ""]
    return "\n".join(out)


def check_report_path(path: str | Path) -> Path:
    """The output path, or ParameterError when it cannot be written (missing folder, a directory)."""
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        raise ParameterError(f"--report {p}: is a directory; give a file name such as {p / 'report.html'}")
    if not parent.is_dir():
        raise ParameterError(f"--report {p}: directory {parent} does not exist; create it or choose another path")
    return p


def write_html(path: str | Path, report, target=None, **kwargs) -> Path:
    """Render and write the report (UTF-8); returns the path."""
    p = check_report_path(path)
    try:
        p.write_text(render_html(report, target, **kwargs), encoding="utf-8")
    except OSError as e:
        raise ParameterError(f"--report {p}: cannot write ({e.strerror or e})") from None
    return p
