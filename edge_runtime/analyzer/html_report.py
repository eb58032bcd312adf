"""A self-contained HTML report of one analysis (``muse analyze --report``), on the report kit.

:func:`render_html` is pure (report in, string out); :func:`write_html`
checks the destination and writes it.  The page is ``analysis.html`` of
:mod:`nomad_muse.report` (one stylesheet, autoescaped: every outside string —
file name, target name/description/provenance, suggestion text, notes — is
escaped); the charts are drawn with :mod:`nomad_muse.report.plot`.  Inline CSS
and SVG only (no scripts, no network).

The two charts and the meter and suggestion rows are public so the demo report
and the live page show the same things the same way.

Element ids/classes the tests rely on (stable):

* ``svg#tonal-curve``: the fine (1/6-octave) curve chart, with
  ``g#target-range`` (``path.target-band`` per contiguous run of the target's
  p10..p90 range), ``g#target-median`` (``polyline.target-median``),
  ``g#measured-curve`` (``polyline.measured``), ``g#x-ticks``/``g#y-ticks``.
* ``svg#band-chart``: ``rect.band-bar`` (measured, one per measured band),
  ``rect.band-range`` (target p10..p90), ``line.band-median``, each with
  ``data-band``; ``text.band-missing`` for a band that was not measured;
  ``text.band-value`` the measured level, placed above both the bar and the
  target range so no target line crosses it.
* ``table#meters`` (cells ``td#m-<key>`` with ``data-value`` = the JSON number),
  ``table#suggestions`` (one ``tr.suggestion`` per suggestion).
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

from markupsafe import Markup

from nomad_muse.errors import ParameterError
from nomad_muse.report import render, write_page
from nomad_muse.report.plot import LinearAxis, LogAxis, Svg, db_range, finite, fmt_hz, pts, runs

#: frequency axis of the curve chart (Hz)
F_LO, F_HI = 20.0, 20000.0
X_TICKS_HZ = (20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000)



def num_text(x, fmt: str = "{:.1f}", unit: str = "") -> str:
    """Formatted number with unit, or an em dash when not measured."""
    if not finite(x):
        return "\u2014"
    return fmt.format(x) + (f" {unit}" if unit else "")


def json_value(x) -> str:
    """The number as ``--json`` prints it (3 decimals, ``null`` when not finite)."""
    return repr(round(float(x), 3)) if finite(x) else "null"


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


def band_ranges(report, target=None):
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


def curve_svg(report, target=None) -> Markup:
    """The fine tonal curve over the target's p10..p90 range and median (``svg#tonal-curve``)."""
    tn = report.tonal
    w, h = 760, 340
    left, right, top, bottom = 58, 16, 14, 46
    tc = _target_curves(report, target)
    branges = band_ranges(report, target)
    vals = list(tn.curve_db) if tn is not None else []
    if tc is not None:
        vals += list(tc[1]) + list(tc[3])
    else:
        vals += [r[3] for r in branges] + [r[5] for r in branges]
    lo, hi, step = db_range(vals)
    x = LogAxis(F_LO, F_HI, left, w - right)
    y = LinearAxis(lo, hi, h - bottom, top)
    s = Svg("tonal-curve", w, h, title="Measured 1/6-octave tonal curve over the target range")
    s.group(id="y-ticks")
    for v in y.ticks(step):
        s.line(left, y(v), w - right, y(v), class_="grid")
        s.text(left - 6, y(v) + 4, f"{v:g}", class_="tick", text_anchor="end")
    s.end().group(id="x-ticks")
    for f in X_TICKS_HZ:
        s.line(x(f), top, x(f), h - bottom, class_="grid")
        s.text(x(f), h - bottom + 15, fmt_hz(f), class_="tick", text_anchor="middle")
    s.end()
    s.line(left, h - bottom, w - right, h - bottom, class_="axis").line(left, top, left, h - bottom, class_="axis")
    s.text(f"{(left + w - right) / 2:.0f}", h - 8, "frequency (Hz)", class_="lbl", text_anchor="middle")
    s.y_label(14, (top + h - bottom) / 2, "level (dB, normalised)")
    s.group(id="target-range")
    if tc is not None:
        hz, p10, p50, p90 = tc
        for run in runs(hz, p10, p90, lo=F_LO, hi=F_HI):
            upper = [(x(hz[i]), y(p90[i])) for i in run]
            lower = [(x(hz[i]), y(p10[i])) for i in reversed(run)]
            s.el("path", class_="target-band", d=f"M{pts(upper)} L{pts(lower)} Z")
    else:
        for name, f0, f1, p10, _, p90 in branges:
            x0, x1 = x(max(f0, F_LO)), x(min(f1, F_HI))
            s.el("path", class_="target-band", data_band=name,
                 d=f"M{x0:.1f},{y(p90):.1f} L{x1:.1f},{y(p90):.1f} L{x1:.1f},{y(p10):.1f} L{x0:.1f},{y(p10):.1f} Z")
    s.end().group(id="target-median")
    if tc is not None:
        hz, _, p50, _ = tc
        for run in runs(hz, p50, lo=F_LO, hi=F_HI):
            if len(run) >= 2:
                s.polyline([(x(hz[i]), y(p50[i])) for i in run], class_="target-median")
    else:
        for name, f0, f1, _, p50, _ in branges:
            s.polyline([(x(max(f0, F_LO)), y(p50)), (x(min(f1, F_HI)), y(p50))], class_="target-median", data_band=name)
    s.end().group(id="measured-curve")
    if tn is not None:
        for run in runs(tn.curve_hz, tn.curve_db, lo=F_LO, hi=F_HI):
            if len(run) >= 2:
                s.polyline([(x(tn.curve_hz[i]), y(tn.curve_db[i])) for i in run], class_="measured")
    s.end()
    s.raw(f'<g class="legend" transform="translate({w - right - 250} {top + 6})">'
          '<rect x="0" y="0" width="244" height="58" fill="#fff" fill-opacity=".85" stroke="#dde1e7"/>'
          '<line class="measured" x1="8" y1="14" x2="36" y2="14"/><text class="tick" x="42" y="18">measured</text>'
          '<rect class="target-band" x="8" y="24" width="28" height="10"/>'
          '<text class="tick" x="42" y="33">target 10th\u201390th percentile</text>'
          '<line class="target-median" x1="8" y1="46" x2="36" y2="46"/>'
          '<text class="tick" x="42" y="50">target median</text></g>')
    return s.markup()


def bands_svg(report, target=None) -> Markup:
    """The 7 bands as bars against the target range (``svg#band-chart``).

    The value label sits above the higher of the bar and the target range, so
    neither the range's top nor its median line runs through it."""
    bands = report.tonal.bands
    ranges = {r[0]: r for r in band_ranges(report, target)}
    vals = [b.level_db for b in bands] + [r[3] for r in ranges.values()] + [r[5] for r in ranges.values()]
    lo, hi, step = db_range(vals, min_span=20.0)
    lo -= step  # room under the lowest bar
    hi += step / 2  # room for a value label above the highest range
    w, h = 760, 300
    left, right, top, bottom = 58, 16, 14, 52
    slot = (w - left - right) / len(bands)
    y = LinearAxis(lo, hi, h - bottom, top)
    s = Svg("band-chart", w, h, title="Tonal bands: measured level against the target range")
    for v in LinearAxis(lo, hi - step / 2, 0, 1).ticks(step):
        s.line(left, y(v), w - right, y(v), class_="grid")
        s.text(left - 6, y(v) + 4, f"{v:g}", class_="tick", text_anchor="end")
    s.line(left, h - bottom, w - right, h - bottom, class_="axis").line(left, top, left, h - bottom, class_="axis")
    s.y_label(14, (top + h - bottom) / 2, "dB")
    for i, b in enumerate(bands):
        x0 = left + i * slot
        cx = x0 + slot / 2
        r = ranges.get(b.name)
        if r is not None:
            s.rect(x0 + slot * 0.12, y(r[5]), slot * 0.76, max(y(r[3]) - y(r[5]), 1.0), class_="band-range",
                   data_band=b.name, tip=f"target {r[3]:.1f} to {r[5]:.1f} dB (median {r[4]:.1f})")
        if finite(b.level_db):
            top_y = y(b.level_db)
            s.rect(x0 + slot * 0.3, top_y, slot * 0.4, max(h - bottom - top_y, 0.0), class_="band-bar",
                   data_band=b.name, tip=f"{b.name}: {b.level_db:.1f} dB")
            label_y = min(top_y, y(r[5]) if r is not None else top_y) - 4
            s.text(cx, label_y, f"{b.level_db:.1f}", class_="band-value", text_anchor="middle")
        else:
            s.text(cx, h - bottom - 8, "not measured", class_="band-missing", data_band=b.name, text_anchor="middle")
        if r is not None:
            s.line(x0 + slot * 0.12, y(r[4]), x0 + slot * 0.88, y(r[4]), class_="band-median", data_band=b.name)
        s.text(cx, h - bottom + 16, b.name, class_="lbl", text_anchor="middle")
        s.text(cx, h - bottom + 31, f"{fmt_hz(b.lo_hz)}\u2013{fmt_hz(b.hi_hz)} Hz", class_="tick", text_anchor="middle")
    return s.markup()


def meter_tuples(report, target_lufs=None):
    """(key, label, value, fmt, unit, note) of every meter."""
    L, st, d = report.loudness, report.stereo, report.dynamics
    rows = [
        ("integrated_lufs", "integrated loudness", L.integrated_lufs, "{:.1f}", "LUFS",
         "ITU-R BS.1770-4, gated" + (f"; delivery target {target_lufs:g} LUFS" if finite(target_lufs) else "")),
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
         f"p10 {num_text(d.crest_factor_p10_db)} / p90 {num_text(d.crest_factor_p90_db)} dB, 1 s windows"),
        ("onset_density_per_s", "onset density", d.onset_density_per_s, "{:.2f}", "/s", f"{d.onset_count} onsets"),
        ("attack_clarity_db", "attack clarity", d.attack_clarity_db, "{:.1f}", "dB", "energy rise at onsets"),
    ]
    return rows


def meter_rows(report, target_lufs=None) -> list[dict]:
    """Every meter as {key, label, value, json, text, note}: what the meter tables and the live page show."""
    return [{"key": k, "label": label, "value": v if finite(v) else None, "json": json_value(v),
             "text": num_text(v, fmt, unit), "note": note}
            for k, label, v, fmt, unit, note in meter_tuples(report, target_lufs)]


def suggestion_rows(suggestions) -> list[dict]:
    """Suggestions as plain rows (kind, severity, region, measured/target text, action, why)."""
    out = []
    for sg in suggestions:
        corr = sg.unit == "correlation"
        mt = f"{num_text(sg.measured, '{:.2f}' if corr else '{:.1f}')} / {num_text(sg.target, '{:.2f}' if corr else '{:g}')} {sg.unit}"
        out.append({"kind": sg.kind, "severity": sg.severity, "region": sg.region, "measured_target": mt,
                    "action": sg.action, "why": sg.why})
    return out


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
    prov = (target.provenance or {}) if (tname and target is not None) else {}
    tonal = None
    if tn is not None:
        rows = []
        for b in tn.bands:
            rng = "\u2014" if b.target_p50_db is None else \
                f"{b.target_p10_db:.1f} / {b.target_p50_db:.1f} / {b.target_p90_db:.1f}"
            dev = b.deviation_db
            rows.append({"name": b.name, "hz": f"{b.lo_hz:g}\u2013{b.hi_hz:g}",
                         "level": num_text(b.level_db) if finite(b.level_db) else "not measured", "range": rng,
                         "deviation": "\u2014" if dev is None else ("in range" if dev == 0 else f"{dev:+.1f} dB")})
        tonal = {"normalised_to": tn.normalised_to_lufs, "curve": curve_svg(report, target),
                 "bands_chart": bands_svg(report, target), "bands": rows}
    notes = []
    if report.stereo is None:
        notes.append({"id": "stereo-missing", "text": "Mono programme: no stereo image to measure."})
    if report.loudness.silent:
        notes.append({"id": None, "text": "Silent: no loudness (the programme never rises above \u221270 LUFS)."})
    notes += [{"id": None, "text": f"note: {n}"} for n in report.notes]
    return render("analysis.html", title=title, source=str(report.source), duration_s=report.duration_s, sr=report.sr,
                  layout=report.layout, channels=report.channels, fft_backend=report.fft_backend, target_name=tname,
                  target_description=target.description if (tname and target is not None) else None,
                  provenance=[(k, str(prov[k])) for k in ("method", "caveat") if prov.get(k)],
                  suggestions=suggestion_rows(report.suggestions), tonal=tonal,
                  meters=meter_rows(report, target_lufs),
                  extra_meters=[{"key": "over_compressed", "label": "over-compressed",
                                 "text": "yes" if report.dynamics.over_compressed else "no", "note": "PLR below 8 LU"}],
                  notes=notes, generated=generated)


def check_report_path(path: str | Path) -> Path:
    """The output path, or ParameterError when it cannot be written (missing folder, a directory)."""
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        raise ParameterError(f"report={str(p)!r}: is a directory; give a file name such as {p / 'report.html'}", field="report")
    if not parent.is_dir():
        raise ParameterError(f"report={str(p)!r}: directory {parent} does not exist; create it or choose another path", field="report")
    return p


def write_html(path: str | Path, report, target=None, **kwargs) -> Path:
    """Render and write the report (UTF-8, atomically); returns the path."""
    p = check_report_path(path)
    return write_page(p, render_html(report, target, **kwargs), what="--report")
