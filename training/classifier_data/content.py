"""General MIDI content of one clip (notes, phrases, chords, drum patterns, one-shots), from (seed, family, index) only."""

from __future__ import annotations

import hashlib

import numpy as np

from nomad_muse.gm import DRUM_CHANNEL, DRUM_MAP

from nomad_muse.training.classifier_data.augment import mix
from nomad_muse.training.classifier_data.sources import CLIP_MAX_S, CLIP_MIN_S, PREROLL_MAX_S, _MIX_BASS, _MIX_DRUMS, _MIX_TONAL, _ONESHOT_PIECES, _OTHER_DRUM_KEYS, _RANGE_BY_PROGRAM, family_programs

# ---------------------------------------------------------------- content generation
SCALES = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "penta_major": (0, 2, 4, 7, 9),
    "penta_minor": (0, 3, 5, 7, 10),
    "blues": (0, 3, 5, 6, 7, 10),
}
CHORDS = {
    "maj": (0, 4, 7),
    "min": (0, 3, 7),
    "maj7": (0, 4, 7, 11),
    "min7": (0, 3, 7, 10),
    "dom7": (0, 4, 7, 10),
    "sus4": (0, 5, 7),
    "sus2": (0, 2, 7),
    "dim": (0, 3, 6),
    "add9": (0, 4, 7, 14),
    "power": (0, 7, 12),
}


def _clip_seed(seed: int, family: str, index: int) -> int:
    h = hashlib.sha256(f"{seed}:{family}:{index}".encode()).digest()
    return int.from_bytes(h[:4], "little")


def _kind_for(family: str, index: int, n: int) -> str:
    """Deterministic kind of clip ``index`` of ``n`` (shares per family, interleaved)."""
    mix = _MIX_DRUMS if family == "drums" else _MIX_BASS if family == "bass" else _MIX_TONAL
    kinds = list(mix)
    # a low-discrepancy assignment: cumulative shares over a golden-ratio sequence
    u = (index * 0.6180339887498949) % 1.0
    acc = 0.0
    for k in kinds:
        acc += mix[k]
        if u < acc:
            return k
    return kinds[-1]


def _note(ev, t, dur, pitch, vel, ch=0):
    vel = int(np.clip(vel, 1, 127))
    ev.append((t, ("note_on", ch, int(np.clip(pitch, 0, 127)), vel)))
    ev.append((t + max(0.02, dur), ("note_off", ch, int(np.clip(pitch, 0, 127)), 0)))


def _scale_pitches(lo, hi, root, scale):
    return [p for p in range(lo, hi + 1) if (p - root) % 12 in SCALES[scale]]


def make_clip(family: str, index: int, n: int, seed: int, *, kits: list[int], programs_available: set[int] | None = None):
    """One clip's content: (spec dict for the manifest, events [(t_s, msg)], clip length s).

    Times are relative to the clip start and may be negative (pre-roll). ``msg`` is
    (type, channel, a, b). Channel 9 is the GM drum channel.
    """
    cs = _clip_seed(seed, family, index)
    rng = np.random.default_rng(cs)
    kind = _kind_for(family, index, n)
    length = float(np.round(rng.uniform(CLIP_MIN_S, CLIP_MAX_S), 3))
    ev: list = []
    spec: dict = {"family": family, "kind": kind, "seed": cs, "length_s": length}
    if family == "drums" and kind in ("pattern", "oneshot"):
        kit = kits[index % len(kits)] if kits else 0
        spec["kit"] = kit
        ev.append((None, ("program_change", DRUM_CHANNEL, kit, 0)))
        if kind == "oneshot":
            k = index // 2  # alternate: a named kit piece, another GM key
            if index % 2 == 0 or not _OTHER_DRUM_KEYS:
                piece, key = _ONESHOT_PIECES[(k) % len(_ONESHOT_PIECES)]
            else:
                key = _OTHER_DRUM_KEYS[k % len(_OTHER_DRUM_KEYS)]
                piece = DRUM_MAP[key]
            onset = float(rng.uniform(0.0, 0.25))
            vel = int(rng.integers(40, 128))
            _note(ev, onset, 0.1, key, vel, DRUM_CHANNEL)
            spec.update(drum_notes=[key], drum_piece=piece, onset_s=round(onset, 3), velocity=vel)
        else:
            style, notes, tempo = _drum_pattern(rng, ev, length)
            spec.update(style=style, drum_notes=notes, tempo=tempo)
        return spec, ev, length

    progs = family_programs(family)
    if family == "drums":
        progs = [p for p in progs if p >= 115]
    if programs_available is not None:
        progs = [p for p in progs if p in programs_available] or progs
    prog = progs[index % len(progs)]
    lo, hi = _RANGE_BY_PROGRAM[prog]
    spec["program"] = prog
    ev.append((None, ("program_change", 0, prog, 0)))
    if kind == "perc_note":
        kind = "note" if index % 3 else "phrase"
        spec["kind"] = kind
    if kind == "note":
        # stratified across the range: the index walks the range in a scrambled order
        span = hi - lo + 1
        pitch = lo + int(((index // len(progs)) * 0.7548776662 + rng.uniform(0, 0.1)) % 1.0 * span)
        pitch = int(np.clip(pitch, lo, hi))
        vel = int(rng.choice([35, 55, 75, 95, 115, 127]) + rng.integers(-8, 1))
        onset = float(rng.uniform(0.0, 0.25))
        dur = float(rng.uniform(0.1, min(1.6, length - onset)))
        _note(ev, onset, dur, pitch, vel)
        spec.update(pitches=[pitch], velocity=vel, onset_s=round(onset, 3), duration_s=round(dur, 3))
    elif kind == "phrase":
        pitches, tempo, key, scale = _phrase(rng, ev, length, lo, hi, bass=(family == "bass"))
        spec.update(pitches=pitches, tempo=tempo, key=key, scale=scale)
    else:  # chord
        pitches, name, style = _chords(rng, ev, length, lo, hi, family)
        spec.update(pitches=pitches, chord=name, style=style)
    return spec, ev, length


def _phrase(rng, ev, length, lo, hi, *, bass: bool):
    root = int(rng.integers(0, 12))
    scale = str(rng.choice(list(SCALES)))
    pool = _scale_pitches(lo, hi, root, scale)
    tempo = int(rng.integers(70, 171))
    beat = 60.0 / tempo
    grid = [0.25, 0.5, 0.5, 1.0, 1.0, 0.75, 1.5, 2.0] if not bass else [0.5, 0.5, 1.0, 0.25, 0.75, 1.0]
    pre = float(rng.uniform(0.05, PREROLL_MAX_S)) if rng.random() < 0.5 else 0.0
    t = -pre + (float(rng.uniform(0, 0.15)) if pre == 0 else 0.0)
    i = int(rng.integers(len(pool) // 4, max(len(pool) // 4 + 1, 3 * len(pool) // 4)))
    legato = float(rng.uniform(0.5, 1.0))
    base_vel = int(rng.integers(45, 120))
    pitches = []
    while t < length:
        d = float(rng.choice(grid)) * beat
        if bass and rng.random() < 0.3:
            step = int(rng.choice([-7, -4, 4, 7, -3, 3])) if len(pool) > 8 else 0
        else:
            step = int(rng.choice([-2, -1, -1, 1, 1, 2, 0, 3, -3, 4, -4]))
        i = int(np.clip(i + step, 0, len(pool) - 1))
        vel = int(np.clip(base_vel + rng.integers(-15, 16), 20, 127))
        if not pitches or rng.random() > 0.08:  # occasional rest, never the first note
            _note(ev, t, d * legato, pool[i], vel)
            pitches.append(pool[i])
        t += d
    return pitches, tempo, root, scale


def _chords(rng, ev, length, lo, hi, family):
    root_pc = int(rng.integers(0, 12))
    name = str(rng.choice(list(CHORDS)))
    if family in ("vocals", "woodwind", "brass") and name in ("power", "add9"):
        name = "maj"
    ivs = CHORDS[name]
    # bottom note in the lower-middle of the range so the voicing fits
    top_room = max(ivs) + 12
    lo_b, hi_b = lo, max(lo, hi - top_room)
    bottom = int(rng.integers(lo_b, hi_b + 1))
    bottom = bottom - ((bottom - root_pc) % 12)
    if bottom < lo:
        bottom += 12
    pitches = sorted({bottom + iv for iv in ivs} | ({bottom + 12} if rng.random() < 0.4 else set()))
    pitches = [p for p in pitches if lo <= p <= hi] or [int(np.clip(bottom, lo, hi))]
    styles = ["block", "strum", "arpeggio", "comp"]
    if family in ("organ", "strings", "vocals", "brass", "woodwind"):
        styles = ["block", "block", "arpeggio"]
    style = str(rng.choice(styles))
    vel = int(rng.integers(40, 125))
    pre = float(rng.uniform(0.05, PREROLL_MAX_S)) if rng.random() < 0.5 else 0.0
    if style in ("block", "strum") and family in ("piano", "guitar", "mallets"):
        pre = min(pre, 0.1)  # a struck chord begun long before the clip has decayed away
    t0 = -pre if pre else float(rng.uniform(0, 0.15))
    if style == "block":
        for p in pitches:
            _note(ev, t0, length - t0 - float(rng.uniform(0, 0.3)), p, vel + int(rng.integers(-6, 7)))
    elif style == "strum":
        step = float(rng.uniform(0.008, 0.035))
        order = pitches if rng.random() < 0.7 else pitches[::-1]
        for j, p in enumerate(order):
            _note(ev, t0 + j * step, length - t0, p, vel - 2 * j)
    elif style == "arpeggio":
        d = float(rng.uniform(0.08, 0.3))
        t, j = t0, 0
        seq = pitches + pitches[-2:0:-1] if len(pitches) > 2 else pitches
        while t < length:
            _note(ev, t, d * 1.5, seq[j % len(seq)], vel + int(rng.integers(-10, 11)))
            t += d
            j += 1
    else:  # comp: repeated short chords
        beat = 60.0 / float(rng.integers(80, 150))
        t = t0
        while t < length:
            dur = beat * float(rng.choice([0.25, 0.5, 0.9]))
            for p in pitches:
                _note(ev, t, dur, p, vel + int(rng.integers(-10, 6)))
            t += beat * float(rng.choice([0.5, 1.0, 1.0, 1.5]))
    return pitches, name, style


# 16-step patterns: key → string of velocity codes per 16th ('.' rest, 'x' normal, 'X' accent, 'g' ghost)
_GROOVES = {
    "rock": {36: "x.......x.x.....", 38: "....X.......X...", 42: "x.x.x.x.x.x.x.x."},
    "rock8": {36: "x......xx.......", 38: "....X.......X..g", 42: "xxxxxxxxxxxxxxxx"},
    "funk": {36: "x..x..x...x..x..", 38: "....X..g.g..X..g", 42: "xxxxxxxxxxxxxxxx", 46: "......x........."},
    "hiphop": {36: "x.....x...x.....", 38: "....X.......X...", 42: "x.x.x.x.x.xxx.x."},
    "disco": {36: "x...x...x...x...", 38: "....X.......X...", 42: "x.x.x.x.x.x.x.x.", 46: "..x...x...x...x."},
    "shuffle": {36: "x.....x.x.......", 38: "....X.......X...", 42: "x..xx..xx..xx..x"},
    "jazz": {51: "x...x.xx x...x.xx".replace(" ", "")[:16], 44: "....x.......x...", 36: "x..........g....", 38: "......g.....g..."},
    "reggae": {36: "........X.......", 38: "........x.......", 42: "x.x.x.x.x.x.x.x.", 37: "..x.......x....."},
    "bossa": {36: "x..xx..xx..xx..x", 37: "x..x..x...x..x..", 42: "xxxxxxxxxxxxxxxx"},
    "halftime": {36: "x.....x.........", 38: "........X.......", 42: "x.x.x.x.x.x.x.x.", 51: "x...x...x...x..."},
    "breakbeat": {36: "x.x.......xx....", 38: "....X..g.g..X..g", 42: "x.x.x.x.x.x.x.x.", 46: "..............x."},
    "metal": {36: "xxxxxxxxxxxxxxxx", 38: "....X.......X...", 49: "x.......x.......", 42: "x.x.x.x.x.x.x.x."},
    "trap": {36: "x......x..x.....", 39: "........X.......", 42: "xxxxxxxxxxxx.xxx", 46: "..............x."},
    "toms": {41: "........x.x.....", 45: "....x.x.........", 48: "x.x.............", 36: "x.......x...x...", 38: "............X.X."},
}


def _drum_pattern(rng, ev, length):
    style = str(rng.choice(list(_GROOVES)))
    pat = dict(_GROOVES[style])
    tempo = int(rng.integers(70, 161)) if style not in ("trap", "halftime") else int(rng.integers(120, 161))
    # kit-piece variety: hats ↔ ride, snare ↔ rim/clap, optional crash on the one, optional fill
    if rng.random() < 0.3 and 42 in pat:
        pat[51 if rng.random() < 0.6 else 44] = pat.pop(42)
    if rng.random() < 0.2 and 38 in pat:
        pat[int(rng.choice([37, 39, 40]))] = pat.pop(38)
    if rng.random() < 0.35:
        pat[int(rng.choice([49, 57, 52, 55]))] = "x" + "." * 15
    fill = rng.random() < 0.3
    if rng.random() < 0.25:
        pat[int(rng.choice([54, 56, 69, 70, 75, 62, 63, 64]))] = "".join(
            "x" if rng.random() < 0.3 else "." for _ in range(16)
        )
    step = 60.0 / tempo / 4
    swing = float(rng.uniform(0.0, 0.33)) * step if style in ("shuffle", "jazz") or rng.random() < 0.15 else 0.0
    pre = float(rng.uniform(0.05, PREROLL_MAX_S)) if rng.random() < 0.5 else 0.0
    start_step = int(rng.integers(0, 16))  # begin anywhere in the bar
    t0 = -pre if pre else float(rng.uniform(0, 0.1))
    notes = set()
    s, t = start_step, t0
    base = int(rng.integers(70, 121))
    while t < length:
        bar_step = s % 16
        last_bar_half = fill and (t > length * 0.6)
        for key, line in pat.items():
            c = line[bar_step]
            if last_bar_half and key in (42, 44, 51, 46):
                continue
            if c == ".":
                continue
            v = {"x": base, "X": min(127, base + 20), "g": max(15, base - 55)}[c]
            v = int(np.clip(v + rng.integers(-10, 11), 10, 127))
            tt = t + (swing if bar_step % 2 else 0.0) + float(rng.normal(0, 0.004))
            _note(ev, tt, 0.1, key, v, DRUM_CHANNEL)
            notes.add(key)
        if last_bar_half and bar_step % 2 == 0:
            key = int(rng.choice([41, 43, 45, 47, 48, 50, 38]))
            _note(ev, t, 0.1, key, int(rng.integers(70, 128)), DRUM_CHANNEL)
            notes.add(key)
        s += 1
        t += step
    return style, sorted(notes), tempo
