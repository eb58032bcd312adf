"""What the live page shows, as plain JSON-ready dicts built from the running engine (no web code here).

Two kinds of frame, both read from another thread than the engine's (values may be one update old):

* **tick** (every poll, ≤ :data:`~nomad_muse.ui.server.MAX_RATE_HZ` a second): clock, track type, dominant
  family with confidence, the counters with their one-line explanations' keys, the callback load, the
  per-module latency, and the scrolling piano roll as inline SVG drawn by the report kit's
  :func:`nomad_muse.report.plot.piano_roll` (incoming MIDI notes in the prompt colour, generated notes in the
  generator colour, a solid "now" line);
* **report** (when the analyzer published a new report, about once a second, or when the musician switched the
  target or muted a suggestion): the seven bands against the target range and the fine 1/6-octave curve over the
  target's, as the same ``svg#band-chart`` / ``svg#tonal-curve`` the static reports draw
  (:func:`nomad_muse.analyzer.html_report.bands_svg`, ``curve_svg``), the loudness meters, and the suggestions
  with their "why".

Switching the target is a *view*: the measured report is compared with another target here
(:func:`retarget`, then the analyzer's own :func:`~nomad_muse.analyzer.suggest.suggest`), so the engine never
waits for, or is changed by, the page.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from nomad_muse.gm import DRUM_CHANNEL

#: beats of the piano roll behind and ahead of the "now" line (the generator works ``lookahead`` beats ahead)
ROLL_PAST_BEATS = 12.0
ROLL_AHEAD_BEATS = 6.0
#: an incoming note still held (or whose note-off was not seen) is drawn this long (beats)
HELD_NOTE_BEATS = 0.25
#: incoming notes remembered for the roll
INCOMING_KEEP = 512

#: the loudness meters of the page: (key in LoudnessReport, label, unit, scale low, scale high, note)
LOUDNESS_METERS = (
    ("momentary_max_lufs", "momentary (max)", "LUFS", -60.0, 0.0, "400 ms window, loudest in the analysed window"),
    ("short_term_max_lufs", "short-term (max)", "LUFS", -60.0, 0.0, "3 s window, loudest in the analysed window"),
    ("integrated_lufs", "integrated", "LUFS", -60.0, 0.0, "ITU-R BS.1770-4, gated, over the analysed window"),
    ("true_peak_dbtp", "true peak", "dBTP", -60.0, 3.0, "4\u00d7 oversampled"),
    ("lra_lu", "loudness range (LRA)", "LU", 0.0, 20.0, "EBU Tech 3342"),
)


def _fin(x) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


def _copy(seq) -> list:
    """A list copy of a deque/list another thread appends to (retried if it changed mid-copy)."""
    for _ in range(5):
        try:
            return list(seq)
        except RuntimeError:  # deque mutated during iteration
            continue
    return []


class IncomingNotes:
    """Notes played into MIDI in, for the roll: starts from ``MidiInput.received_notes`` (note-ons), durations
    from the phrase ``MidiInput.phrase`` collects (a note there has its note-off).  Public attributes only."""

    def __init__(self) -> None:
        self._seen = 0
        self.notes: list[list] = []  # [start beat, duration beats or None (held), pitch, channel]

    def update(self, engine, midi_in) -> None:
        if midi_in is None:
            return
        rec = midi_in.received_notes
        n = len(rec)
        if n > self._seen:
            for f, ch, pitch in rec[self._seen:n]:
                self.notes.append([engine.clock.beat_at(f), None, int(pitch), int(ch)])
            self._seen = n
            del self.notes[:-INCOMING_KEEP]
        open_ = [x for x in self.notes if x[1] is None]
        if not open_:
            return
        for pn in _copy(midi_in.phrase):
            for x in open_:
                if x[1] is None and x[2] == pn.pitch and x[3] == pn.channel and abs(x[0] - pn.start) < 0.02:
                    x[1] = float(pn.duration)
                    break

    def drawn(self, now_beat: float) -> list[tuple[float, float, int, int]]:
        out = []
        for start, dur, pitch, ch in self.notes:
            if dur is None:  # held, or the phrase went to the generator before we saw its note-off
                dur = min(max(now_beat - start, HELD_NOTE_BEATS), 4.0) if now_beat - start < 4.0 else HELD_NOTE_BEATS
            out.append((start, dur, pitch, ch))
        return out


def roll_svg(engine, incoming: list[tuple[float, float, int, int]]) -> tuple[str, int, int]:
    """The scrolling piano roll (``svg#live-roll``): (svg text, generated notes drawn, incoming notes drawn)."""
    from nomad_muse.report.plot import Note, piano_roll

    now = engine.clock.beat_at(engine.frames)
    b0, b1 = now - ROLL_PAST_BEATS, now + ROLL_AHEAD_BEATS
    gen = _copy(engine.recent_notes)
    notes, n_gen, n_in = [], 0, 0
    pitches = [n.event.pitch for n in gen if n.event.channel != DRUM_CHANNEL] + \
              [p for _, _, p, ch in incoming if ch != DRUM_CHANNEL]
    for s, d, p, ch in incoming:
        if s + d >= b0 and s <= b1:
            notes.append(Note(s, d, p, "prompt-note", ch == DRUM_CHANNEL))
            n_in += 1
    for n in gen:
        if n.beat + n.duration >= b0 and n.beat <= b1:
            notes.append(Note(n.beat, n.duration, n.event.pitch, "gen-note", n.event.channel == DRUM_CHANNEL))
            n_gen += 1
    rng = (min(pitches), max(pitches)) if pitches else (48, 72)
    svg = piano_roll("live-roll", notes, beats=(b0, b1), marker=now, marker_label="now", marker_cls="now",
                     w=940, h=260, title="piano roll: incoming (blue) and generated (red) notes", pitch_range=rng)
    return str(svg), n_gen, n_in


def tick_frame(engine, incoming: IncomingNotes, midi_in=None) -> dict:
    """The fast-changing part of the page."""
    incoming.update(engine, midi_in)
    s = engine.snapshot()
    roll, n_gen, n_in = roll_svg(engine, incoming.drawn(s["beat"]))
    timings = [{"module": t["module"], "p50_ms": round(t["p50_ms"], 3), "p99_ms": round(t["p99_ms"], 3),
                "max_ms": round(t["max_ms"], 3), "budget_ms": round(t["budget_ms"], 2), "misses": t["misses"]}
               for t in s["timings"].values()]
    return {"seconds": round(s["seconds"], 2), "beat": round(s["beat"], 2), "bpm": round(s["bpm"], 1),
            "track_type": s["track_type"], "family": s["family"], "confidence": round(float(s["confidence"]), 3),
            "counters": s["counters"], "cb_load_max": round(s["cb_load_max"], 3), "timings": timings,
            "roll": roll, "roll_generated": n_gen, "roll_incoming": n_in}


# -- the analyzer's report -------------------------------------------------------------------------
def retarget(report, target):
    """The same measured report compared with another target: band ranges and the fine target curve replaced
    (as :func:`nomad_muse.analyzer.tonal.tonal_report` attaches them), suggestions recomputed by the analyzer's
    rules with their default options (what the live analyzer uses)."""
    from nomad_muse.analyzer.suggest import suggest

    tn = report.tonal
    if tn is None:
        return report
    bands = []
    for b in tn.bands:
        t = target.bands.get(b.name)
        bands.append(replace(b, target_p10_db=t[0] if t else None, target_p50_db=t[1] if t else None,
                             target_p90_db=t[2] if t else None))
    tp = (None, None, None)
    if target.curve_hz is not None and target.curve_db is not None:
        tp = tuple(tuple(float(v) for v in np.interp(tn.curve_hz, target.curve_hz, q, left=np.nan, right=np.nan))
                   for q in target.curve_db)
    tn = replace(tn, bands=tuple(bands), target_name=target.name, target_curve_p10_db=tp[0],
                 target_curve_p50_db=tp[1], target_curve_p90_db=tp[2])
    rep = replace(report, tonal=tn)
    return replace(rep, suggestions=suggest(rep))


def suggestion_key(sg) -> str:
    """What a mute names: the rule and the region (``band_high:low-mid 250-500``)."""
    return f"{sg.kind}:{sg.region}"


def report_frame(report, *, target=None, muted=frozenset(), window_s: float) -> dict:
    """Bands, meters and suggestions of the latest analyzer report (``report`` None: nothing yet)."""
    from nomad_muse.analyzer.html_report import bands_svg, curve_svg, num_text

    if report is None:
        return {"ready": False, "target": getattr(target, "name", None)}
    if target is not None and (report.tonal is None or report.tonal.target_name != target.name):
        report = retarget(report, target)
    tn = report.tonal
    bands = []
    if tn is not None:
        for b in tn.bands:
            bands.append({"name": b.name, "level_db": _fin(b.level_db), "p10": b.target_p10_db, "p50": b.target_p50_db,
                          "p90": b.target_p90_db, "deviation_db": b.deviation_db})
    L = report.loudness
    meters = []
    for key, label, unit, lo, hi, note in LOUDNESS_METERS:
        v = _fin(getattr(L, key))
        meters.append({"key": key, "label": label, "value": None if v is None else round(v, 2),
                       "text": num_text(v, "{:.1f}", unit), "lo": lo, "hi": hi, "note": note})
    sugg, hidden = [], 0
    for sg in report.suggestions:
        k = suggestion_key(sg)
        if k in muted:
            hidden += 1
            continue
        sugg.append({"key": k, "kind": sg.kind, "severity": sg.severity, "region": sg.region,
                     "action": sg.action, "why": sg.why})
    return {"ready": True, "target": tn.target_name if tn is not None else getattr(target, "name", None),
            "window_s": round(min(report.duration_s, window_s), 1), "silent": bool(L.silent),
            "bands_svg": str(bands_svg(report)) if tn is not None else "",
            "curve_svg": str(curve_svg(report)) if tn is not None else "", "bands": bands, "meters": meters,
            "suggestions": sugg, "muted": sorted(muted), "muted_hidden": hidden,
            "all_keys": [suggestion_key(sg) for sg in report.suggestions]}
