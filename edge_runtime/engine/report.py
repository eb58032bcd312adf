"""``out/report.html`` of ``muse demo``: piano roll of prompt + continuation, tonal balance against the
target, meters, suggestions, classifier result, per-module timings and deadline statistics.

Self-contained (inline CSS and SVG, no scripts).  The analysis sections reuse
:mod:`nomad_muse.analyzer.html_report`.  Stable ids the tests rely on:
``svg#piano-roll`` (``rect.prompt-note``, ``rect.gen-note``), ``svg#tonal-curve``,
``svg#band-chart``, ``table#meters``, ``table#suggestions`` / ``p#suggestions``,
``table#timings`` (one ``tr.timing`` per module, ``data-module``), ``table#counters``
(``td#c-<name>`` with ``data-value``), ``section#classifier``.
"""

from __future__ import annotations

import datetime as _dt
from html import escape as e
from pathlib import Path

from nomad_muse.analyzer import html_report as H
from nomad_muse.errors import ParameterError
from nomad_muse.gm import DRUM_CHANNEL

_EXTRA_CSS = ".prompt-note{fill:#6b8fc7}.gen-note{fill:#d2462b}.split{stroke:#1d2330;stroke-dasharray:4 3}"


def piano_roll_svg(prompt_notes, generated, *, offset_beats: float, w: int = 940, h: int = 300) -> str:
    """Prompt (blue) and continuation (red) over beats; drums (channel 10) in a band at the bottom."""
    notes = [(n, "prompt-note") for n in prompt_notes] + [(n, "gen-note") for n in generated]
    end = max([n.start + n.duration for n, _ in notes] + [offset_beats + 1])
    pitched = [n.pitch for n, _ in notes if n.channel != DRUM_CHANNEL] or [60]
    lo, hi = min(pitched) - 2, max(pitched) + 2
    left, right, top, drum_h = 40, 10, 10, 50
    roll_h = h - top - drum_h - 24
    x = lambda b: left + b / end * (w - left - right)  # noqa: E731
    s = [f'<svg id="piano-roll" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
         'aria-label="piano roll: prompt and continuation">']
    s.append(f'<line class="split" x1="{x(offset_beats):.1f}" y1="{top}" x2="{x(offset_beats):.1f}" y2="{h - 24}"/>')
    for beat in range(0, int(end) + 1, 4):
        s.append(f'<text class="tick" x="{x(beat):.1f}" y="{h - 8}" text-anchor="middle">{beat}</text>')
    for n, cls in notes:
        if n.channel == DRUM_CHANNEL:
            y = top + roll_h + 6 + (n.pitch % 12) * (drum_h - 8) / 12
            hh = 3.0
        else:
            y = top + (hi - n.pitch) / (hi - lo) * roll_h
            hh = max(roll_h / (hi - lo), 2.0)
        s.append(f'<rect class="{cls}" x="{x(n.start):.1f}" y="{y:.1f}" width="{max(x(n.start + n.duration) - x(n.start), 1.5):.1f}" '
                 f'height="{hh:.1f}" data-pitch="{n.pitch}"/>')
    s.append(f'<text class="lbl" x="{left}" y="{h - 8}">beats</text></svg>')
    return "\n".join(s)


def _timings_table(timings: list[dict]) -> str:
    rows = ['<table id="timings"><thead><tr><th>module</th><th>calls</th><th>p50 ms</th><th>p99 ms</th><th>max ms</th>'
            "<th>budget ms (median)</th><th>over budget</th><th>worst / budget</th></tr></thead><tbody>"]
    for t in timings:
        rows.append(f'<tr class="timing" data-module="{e(t["module"])}"><td>{e(t["module"])}</td><td class="num">{t["calls"]}</td>'
                    f'<td class="num">{t["p50_ms"]:.3f}</td><td class="num">{t["p99_ms"]:.3f}</td><td class="num">{t["max_ms"]:.3f}</td>'
                    f'<td class="num">{t["budget_ms"]:.1f}</td><td class="num">{t["misses"]}</td>'
                    f'<td class="num">{t["worst_share"] * 100:.1f} %</td></tr>')
    rows.append("</tbody></table>")
    return "\n".join(rows)


def _counters_table(c: dict) -> str:
    rows = ['<table id="counters"><thead><tr><th>counter</th><th>value</th></tr></thead><tbody>']
    for k, v in c.items():
        rows.append(f'<tr><td>{e(k.replace("_", " "))}</td><td class="num" id="c-{e(k)}" data-value="{int(v)}">{int(v)}</td></tr>')
    rows.append("</tbody></table>")
    return "\n".join(rows)


def render_report(*, summary: dict, prompt, generated, offset_beats: float, analysis, target=None,
                  generated_at: str | None = None) -> str:
    """The whole demo report as one HTML document."""
    generated_at = generated_at or _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    s = summary
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           "<title>Nomad Muse Edge — demo</title>", f"<style>{H._CSS}{_EXTRA_CSS}</style>", "</head>", "<body>", "<main>",
           "<h1>Nomad Muse Edge — demo run</h1>",
           f'<p class="sub">input {e(Path(s["input"]).name)} ({s["seconds"]:.1f} s, {s["sample_rate"]} Hz) · prompt '
           f'{e(Path(s["prompt"]).name)} ({s["prompt_notes"]} notes, {s["tempo_bpm"]:.0f} BPM) · block {s["block_size"]} samples '
           f'({s["block_ms"]:.2f} ms) · lookahead {s["lookahead_beats"]:g} beats in {e(s["chunk"])} chunks · config: {e(s["config_source"])}</p>',
           '<p class="sub">backends: ' + " · ".join(f"{e(k)} {e(v)}" for k, v in s["backends"].items()) + "</p>"]
    for n in s.get("notes", []):
        out.append(f'<p class="note">note: {e(str(n))}</p>')

    out.append("<h2>Prompt and continuation</h2>")
    out.append(f'<p class="note">{s["prompt_notes"]} prompt notes (blue), {s["generated_notes"]} generated notes in '
               f'{e(str(s["mode"]))} mode (red), continuing from beat {offset_beats:g}. Drums sit in the bottom band.</p>')
    out.append(piano_roll_svg(prompt.notes, generated, offset_beats=offset_beats))

    out.append('<section id="classifier"><h2>Classifier</h2>')
    c = s.get("classifier")
    if c is None:
        out.append('<p class="note">Classifier off (no model could be loaded; see the notes above).</p>')
    elif c["family"] is None:
        out.append(f'<p>No signal in any of {c["windows"]} windows.</p>')
    else:
        out.append(f'<p>Detected <b>{e(c["family"])}</b> in {c["family_share"] * 100:.0f} % of {c["windows"]} windows; '
                   f'track type <b>{e(str(c["track_type"]))}</b>.</p>')
        out.append("<table><thead><tr><th>from s</th><th>to s</th><th>family</th><th>confidence</th></tr></thead><tbody>")
        for seg in c["segments"][:30]:
            out.append(f'<tr><td class="num">{seg["start_s"]:.2f}</td><td class="num">{seg["end_s"]:.2f}</td>'
                       f'<td>{e(seg["family"] or "no signal")}</td><td class="num">{seg["mean_confidence"]:.2f}</td></tr>')
        out.append("</tbody></table>")
    out.append("</section>")

    out.append("<h2>Suggestions</h2>")
    if analysis.suggestions:
        out.append('<table id="suggestions"><thead><tr><th>#</th><th>severity</th><th>region</th><th>action</th><th>why</th>'
                   "</tr></thead><tbody>")
        for i, sg in enumerate(analysis.suggestions, 1):
            out.append(f'<tr class="suggestion"><td class="num">{i}</td><td class="sev-{e(sg.severity)}">{e(sg.severity)}</td>'
                       f"<td>{e(sg.region)}</td><td>{e(sg.action)}</td><td>{e(sg.why)}</td></tr>")
        out.append("</tbody></table>")
    else:
        out.append('<p id="suggestions">No suggestions: every rule is within its threshold.</p>')

    out.append("<h2>Tonal balance of the mix bus (input + generated part)</h2>")
    if analysis.tonal is None:
        out.append('<p class="note">Not measured: the mix is below the −70 LUFS gate.</p>')
    else:
        out.append(H.curve_svg(analysis, target))
        out.append(H.bands_svg(analysis, target))
    out.append("<h2>Meters</h2>")
    out.append('<table id="meters"><thead><tr><th>meter</th><th>value</th><th>note</th></tr></thead><tbody>')
    for key, label, val, fmt, unit, note in H._meter_rows(analysis, None):
        out.append(f'<tr><td>{e(label)}</td><td class="num" id="m-{key}" data-value="{H._json_value(val)}">'
                   f"{e(H._num(val, fmt, unit))}</td><td>{e(note)}</td></tr>")
    out.append("</tbody></table>")

    out.append("<h2>Per-module timings and deadlines</h2>")
    out.append(f'<p class="note">Wall time of each step on this machine against the budget it has live: the callback '
               f'and the renderer one period ({s["block_ms"]:.2f} ms), the classifier the audio it consumed, the generator '
               f'its lookahead, one generator step 20 ms, the analyzer its update period. The whole run took '
               f'{s["wall_s"]:.2f} s for {s["seconds"]:.2f} s of audio ({s["seconds"] / max(s["wall_s"], 1e-9):.1f}× real time).</p>')
    out.append(_timings_table(s["timings"]))
    out.append("<h2>Counters</h2>")
    out.append(_counters_table(s["counters"]))
    out.append(f"<footer>Nomad Muse Edge · <code>muse demo</code> · {e(generated_at)} · engine: docs/engine.md</footer>")
    out += ["</main>", "</body>", "</html>", ""]
    return "\n".join(out)


def write_report(path: Path, **kwargs) -> Path:
    p = Path(path)
    try:
        p.write_text(render_report(**kwargs), encoding="utf-8")
    except OSError as err:
        raise ParameterError(f"cannot write {p}: {err.strerror or err}") from None
    return p
