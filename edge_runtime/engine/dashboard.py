"""The ``muse live`` terminal dashboard (rich): track type, generated notes as a scrolling mini piano
roll, the seven tonal-balance bars against the target, loudness meters, suggestions, per-module latency,
and the xrun / deadline-miss / fallback counters.  Rendered from :meth:`Engine.snapshot` on the main
thread, a few times a second; it never touches the audio path."""

from __future__ import annotations

import math

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from nomad_muse.gm import DRUM_CHANNEL

ROLL_BEATS = 8  # beats shown in the piano roll
ROLL_COLS = 48


def _bar(value: float, lo: float, hi: float, width: int = 24) -> str:
    if not math.isfinite(value):
        return " " * width
    k = int(round((min(max(value, lo), hi) - lo) / (hi - lo) * width))
    return "█" * k + "·" * (width - k)


def piano_roll(engine, rows: int = 10) -> Text:
    """The last ROLL_BEATS beats of generated notes around the playhead, one text row per pitch band."""
    now = engine.clock.beat_at(engine.frames)
    lo_b = now - ROLL_BEATS / 2
    notes = [n for n in list(engine.recent_notes) if n.beat + n.duration >= lo_b and n.beat <= lo_b + ROLL_BEATS]
    grid = [[" "] * ROLL_COLS for _ in range(rows)]
    pitched = [n.event.pitch for n in notes if n.event.channel != DRUM_CHANNEL]
    p_lo, p_hi = (min(pitched), max(pitched) + 1) if pitched else (48, 72)
    for n in notes:
        c0 = int((n.beat - lo_b) / ROLL_BEATS * ROLL_COLS)
        c1 = max(c0 + 1, int((n.beat + n.duration - lo_b) / ROLL_BEATS * ROLL_COLS))
        r = rows - 1 if n.event.channel == DRUM_CHANNEL else int((p_hi - 1 - n.event.pitch) / max(p_hi - p_lo, 1) * (rows - 2))
        for c in range(max(c0, 0), min(c1, ROLL_COLS)):
            grid[r][c] = "▇" if n.event.channel != DRUM_CHANNEL else "x"
    mid = ROLL_COLS // 2
    t = Text()
    for r in range(rows):
        line = "".join(grid[r][:mid]) + "│" + "".join(grid[r][mid:])
        t.append(line + "\n", style="dim" if r == rows - 1 else "bold red")
    return t


def render(engine, *, title: str = "muse live", ports: dict | None = None) -> Group:
    s = engine.snapshot()
    c = s["counters"]
    head = Table.grid(padding=(0, 2))
    head.add_row(Text(title, style="bold"), f"{s['seconds']:.1f} s", f"beat {s['beat']:.1f} @ {s['bpm']:.1f} BPM",
                 f"track type: [bold]{s['track_type'] or '—'}[/]",
                 f"{s['family'] or '—'} ({s['confidence'] * 100:.0f} %)" if s["family"] else "classifier: waiting")
    roll = Panel(piano_roll(engine), title="generated (│ = now)", width=ROLL_COLS + 6)

    rep = engine.report
    tonal = Table(title="tonal balance vs target (dB)", show_header=True, box=None)
    for col in ("band", "level", "", "target p10–p90"):
        tonal.add_column(col)
    meters = Table(title="meters", show_header=False, box=None)
    sugg = Text()
    if rep is not None:
        if rep.tonal is not None:
            for b in rep.tonal.bands:
                rng = "—" if b.target_p50_db is None else f"{b.target_p10_db:+.1f}…{b.target_p90_db:+.1f}"
                dev = b.deviation_db
                style = "green" if not dev else ("red" if abs(dev) > 3 else "yellow")
                tonal.add_row(b.name, f"{b.level_db:+.1f}" if math.isfinite(b.level_db) else "—",
                              Text(_bar(b.level_db, -30, 10, 20), style=style), rng)
        L = rep.loudness
        meters.add_row("short-term max", f"{L.short_term_max_lufs:.1f} LUFS", _bar(L.short_term_max_lufs, -60, 0, 16))
        meters.add_row("integrated (window)", f"{L.integrated_lufs:.1f} LUFS", _bar(L.integrated_lufs, -60, 0, 16))
        meters.add_row("true peak", f"{L.true_peak_dbtp:.1f} dBTP", _bar(L.true_peak_dbtp, -60, 0, 16))
        meters.add_row("LRA", f"{L.lra_lu:.1f} LU", "")
        for sg in rep.suggestions[:4]:
            sugg.append(f"• [{sg.severity}] {sg.action}\n")
    if not sugg:
        sugg.append("no suggestions yet" if rep is None else "no suggestions: every rule within its threshold")

    lat = Table(title="per-module latency (ms)", box=None)
    for col in ("module", "p50", "p99", "max", "budget", "over"):
        lat.add_column(col, justify="right")
    lat.add_row("callback (load)", "", f"{s['cb_load_max'] * 100:.0f} %", "", f"{engine.cfg.period_s * 1000:.2f}", "")
    for t in s["timings"].values():
        lat.add_row(t["module"], f"{t['p50_ms']:.2f}", f"{t['p99_ms']:.2f}", f"{t['max_ms']:.2f}", f"{t['budget_ms']:.1f}", str(t["misses"]))
    cnt = Table(title="counters", show_header=False, box=None)
    cnt.add_row("xruns", str(c["xruns"]), "deadline misses", str(c["deadline_misses"]), "fallbacks", str(c["fallbacks"]))
    cnt.add_row("gen late", str(c["generator_late"]), "gen low-conf", str(c["generator_low_confidence"]),
                "cls skipped", str(c["classifier_skipped_blocks"] + c["classifier_reused"]))
    cnt.add_row("analyzer paused", str(c["analyzer_paused"]), "MIDI in", str(c["midi_in_messages"]), "MIDI out", str(c["midi_out_sent"]))
    top = Table.grid(padding=(0, 2))
    top.add_row(roll, tonal, meters)
    bottom = Table.grid(padding=(0, 2))
    bottom.add_row(lat, cnt)
    foot = f"MIDI in: {ports.get('in') or 'off'} · MIDI out: {ports.get('out') or 'off'} · Ctrl-C to stop" if ports else "Ctrl-C to stop"
    return Group(head, top, Panel(sugg, title="suggestions"), bottom, Text(foot, style="dim"))
