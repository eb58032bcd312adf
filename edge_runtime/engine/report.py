"""``out/report.html`` of ``muse demo``: piano roll of prompt + continuation, tonal balance against the
target, meters, suggestions, classifier decision, per-module timings and deadline statistics.

Content only: the page is ``demo.html`` of the report kit (:mod:`nomad_muse.report`), the charts come from
:mod:`nomad_muse.report.plot` and the analyzer's public chart/meter functions.  Self-contained (inline CSS and
SVG, no scripts).  Stable ids the tests rely on: ``svg#piano-roll`` (``rect.prompt-note``, ``rect.gen-note``),
``svg#tonal-curve``, ``svg#band-chart``, ``table#meters``, ``table#suggestions`` / ``p#suggestions``,
``table#timings`` (one ``tr.timing`` per module, ``data-module``), ``table#counters`` (``td#c-<name>`` with
``data-value``), ``section#classifier`` (``#track-type``, ``#family``, ``#family-strip``, ``table#family-timeline``;
the raw timeline folded in a ``<details>``).
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

from nomad_muse.analyzer.html_report import bands_svg, curve_svg, meter_rows, suggestion_rows
from nomad_muse.gm import DRUM_CHANNEL
from nomad_muse.report import render, write_page
from nomad_muse.report.plot import Note, piano_roll

#: one line per engine counter, shown beside its value (report and live page)
COUNTER_HELP = {
    "xruns": "the audio server flagged an input overflow or output underflow (a glitch you may hear)",
    "callback_overruns": "the audio callback took longer than one period (deadline miss)",
    "render_underruns": "no rendered block was ready, so silence played (deadline miss)",
    "generator_late": "generated chunks that came too late: a rest was played and the generator re-anchored (fallback)",
    "generator_low_confidence": "chunks below the confidence floor, replaced by the last valid one (fallback)",
    "classifier_skipped_blocks": "audio blocks the classifier skipped because it was behind (fallback)",
    "classifier_reused": "classifier windows that reused the last result under overload (fallback)",
    "classifier_stable_skips": "classifier windows that reused the last result because the track type was stable and the signal unchanged (no model call; by design, not a fallback)",
    "in_ring_full": "input blocks the classifier's ring buffer could not take",
    "analyzer_paused": "analyzer updates skipped while the CPU was short (fallback)",
    "mix_ring_full": "mix blocks the analyzer's ring buffer could not take",
    "midi_in_messages": "MIDI messages received",
    "prompt_notes": "notes in the generator's prompt (played in or loaded)",
    "reprimes": "times the generator was primed afresh from the prompt (at start, after a late chunk, on new input)",
    "midi_out_sent": "MIDI events sent",
    "midi_out_late": "MIDI events sent more than one period after their time",
    "deadline_misses": "callback overruns + render underruns: periods the audio was not ready in time",
    "fallbacks": "times a module degraded gracefully instead of missing a deadline",
}

#: window of the piano roll for a long prompt: this many beats of prompt before the continuation
ROLL_CONTEXT_BEATS = 32.0
_FAMILY_COLORS = ("#2f6db5", "#d2462b", "#137333", "#a15c00", "#7b3fa0", "#0f7b7b", "#8a5a44", "#5a6272")


def roll_window(prompt_notes, generated, offset_beats: float) -> tuple[float, float]:
    """Beats shown: the whole piece when the prompt is short, else the last ``ROLL_CONTEXT_BEATS`` of the
    prompt and the whole continuation (a 20-minute prompt would otherwise squeeze the continuation to a line)."""
    end = max([n.start + n.duration for n in list(prompt_notes) + list(generated)] + [offset_beats + 1])
    start = max(0.0, offset_beats - ROLL_CONTEXT_BEATS)
    return (0.0 if start <= 8.0 else float(int(start // 4) * 4)), end


def family_runs(segments, seconds: float, bin_s: float) -> list[dict]:
    """Dominant family per ``bin_s`` seconds (the family holding most of the bin's time, its time-weighted mean
    confidence), neighbouring bins with the same family merged.  ``segments``: dicts with start_s, end_s, family,
    mean_confidence."""
    n = max(1, int(-(-seconds // bin_s)))
    bins = []
    for i in range(n):
        a, b = i * bin_s, min((i + 1) * bin_s, seconds)
        share: dict = {}
        for sg in segments:
            ov = min(b, sg["end_s"]) - max(a, sg["start_s"])
            if ov > 0:
                t, c = share.get(sg["family"], (0.0, 0.0))
                share[sg["family"]] = (t + ov, c + ov * sg["mean_confidence"])
        if not share:
            bins.append((a, b, None, 0.0))
            continue
        fam, (t, c) = max(share.items(), key=lambda kv: kv[1][0])
        bins.append((a, b, fam, c / t))
    out: list[dict] = []
    for a, b, fam, conf in bins:
        if out and out[-1]["family"] == fam:
            prev = out[-1]
            w0, w1 = prev["end_s"] - prev["start_s"], b - a
            prev["confidence"] = (prev["confidence"] * w0 + conf * w1) / (w0 + w1)
            prev["end_s"] = b
        else:
            out.append({"start_s": a, "end_s": b, "family": fam, "confidence": conf})
    return out


def _classifier_context(c: dict | None, seconds: float):
    if c is None or c["family"] is None:
        return c and {"family": None, "windows": c["windows"]}
    bin_s = 2.0 if seconds <= 120 else round(seconds / 60)
    runs = family_runs(c["segments"], seconds, bin_s)
    fams = sorted({r["family"] for r in runs if r["family"]})
    color = {f: _FAMILY_COLORS[i % len(_FAMILY_COLORS)] for i, f in enumerate(fams)}
    total = max(seconds, 1e-9)
    strip = [{"width": f"{(r['end_s'] - r['start_s']) / total * 100:.2f}", "color": color.get(r["family"], "#dde1e7"),
              "opacity": f"{0.35 + 0.65 * r['confidence']:.2f}", "label": r["family"] or "",
              "tip": f"{r['start_s']:.1f}–{r['end_s']:.1f} s: {r['family'] or 'no signal'}, confidence {r['confidence']:.2f}"}
             for r in runs]
    return {"family": c["family"], "track_type": str(c["track_type"]), "windows": c["windows"],
            "share": f"{c['family_share'] * 100:.0f} %", "bin_s": f"{bin_s:g}", "strip": strip,
            "runs": [{"start": f"{r['start_s']:.1f}", "end": f"{r['end_s']:.1f}", "family": r["family"] or "no signal",
                      "conf": f"{r['confidence']:.2f}"} for r in runs],
            "segments": [{"start": f"{s['start_s']:.2f}", "end": f"{s['end_s']:.2f}", "family": s["family"] or "no signal",
                          "conf": f"{s['mean_confidence']:.2f}"} for s in c["segments"]]}


def render_report(*, summary: dict, prompt, generated, offset_beats: float, analysis, target=None,
                  generated_at: str | None = None) -> str:
    """The whole demo report as one HTML document."""
    generated_at = generated_at or _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    s = summary
    b0, b1 = roll_window(prompt.notes, generated, offset_beats)
    notes = [Note(n.start, n.duration, n.pitch, "prompt-note", n.channel == DRUM_CHANNEL) for n in prompt.notes]
    notes += [Note(n.start, n.duration, n.pitch, "gen-note", n.channel == DRUM_CHANNEL) for n in generated]
    roll_note = (f'{s["prompt_notes"]} prompt notes (blue), {s["generated_notes"]} generated notes in {s["mode"]} mode (red), '
                 f"continuing from beat {offset_beats:g} (dashed line). Drums sit in the bottom lane.")
    if b0 > 0:
        roll_note += f" Showing beats {b0:g}–{b1:.0f}: the last {offset_beats - b0:g} beats of the prompt and the continuation."
    counters = dict(s["counters"])
    rows = [{"key": k, "label": k.replace("_", " "), "value": int(v), "explain": COUNTER_HELP.get(k, "")}
            for k, v in counters.items()]
    timings_note = (f'Wall time of each step on this machine against the budget it has live: the callback and the renderer '
                    f'one period ({s["block_ms"]:.2f} ms), the classifier the audio it consumed, the generator its lookahead, '
                    f'one generator step 20 ms, the analyzer its update period. The whole run took {s["wall_s"]:.2f} s for '
                    f'{s["seconds"]:.2f} s of audio ({s["seconds"] / max(s["wall_s"], 1e-9):.1f}× real time).')
    tonal = None if analysis.tonal is None else {"curve": curve_svg(analysis, target), "bands_chart": bands_svg(analysis, target)}
    return render(
        "demo.html", title="Nomad Muse Edge — demo", generated_at=generated_at,
        sub=(f'input {Path(s["input"]).name} ({s["seconds"]:.1f} s, {s["sample_rate"]} Hz) · prompt {Path(s["prompt"]).name} '
             f'({s["prompt_notes"]} notes, {s["tempo_bpm"]:.0f} BPM) · block {s["block_size"]} samples ({s["block_ms"]:.2f} ms) · '
             f'lookahead {s["lookahead_beats"]:g} beats in {s["chunk"]} chunks · config: {s["config_source"]}'),
        backends=" · ".join(f"{k} {v}" for k, v in s["backends"].items()), notes=[str(n) for n in s.get("notes", [])],
        roll=piano_roll("piano-roll", notes, beats=(b0, b1), marker=offset_beats, marker_label="continuation",
                        title="piano roll: prompt and continuation"),
        roll_note=roll_note, classifier=_classifier_context(s.get("classifier"), s["seconds"]),
        suggestions=suggestion_rows(analysis.suggestions), tonal=tonal, meters=meter_rows(analysis, None),
        timings=[{"module": t["module"], "calls": t["calls"], "p50": f'{t["p50_ms"]:.3f}', "p99": f'{t["p99_ms"]:.3f}',
                  "max": f'{t["max_ms"]:.3f}', "budget": f'{t["budget_ms"]:.1f}', "misses": t["misses"],
                  "worst": f'{t["worst_share"] * 100:.1f} %'} for t in s["timings"]],
        timings_note=timings_note, counters=rows)


def write_report(path: Path, **kwargs) -> Path:
    return write_page(path, render_report(**kwargs), what="demo report")
