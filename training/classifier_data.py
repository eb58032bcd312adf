"""Training data for the instrument-family classifier: rendering, augmentation, loaders.

    python -m nomad_muse.training.classifier_data render OUT_DIR [--clips-per-family N] [--workers 2]

**Rendering.** General MIDI content written with ``mido`` and rendered with the
``fluidsynth`` CLI (Debian ``fluidsynth``) through two soundfonts, each one a
*source*: ``fluidr3`` (``fluid-soundfont-gm``, FluidR3_GM.sf2) and ``timgm6mb``
(``timgm6mb-soundfont``). Output: ``OUT_DIR/<source>/<family>/<name>.wav``,
mono 22 050 Hz float WAV, 1.0–2.0 s each, plus ``OUT_DIR/manifest.json``.
Families and programs come from :mod:`nomad_muse.gm` only (every program of
a family, round-robin; 120–127 have no family and are never used).

Content per clip (``kind`` in the manifest):

- ``note``: one note of a program, pitch stratified across that program's
  usable range, velocity 30–127, duration 0.1–1.6 s, onset 0–250 ms into the clip.
- ``phrase``: a random melodic line in a key (major/minor/dorian/pentatonic/
  blues), 70–170 BPM, steps and leaps; bass lines favour chord tones.
- ``chord``: triads/sevenths, block, strummed or arpeggiated (every tonal
  family but bass).
- ``pattern`` (drums): a channel-10 groove (rock, funk, hip-hop, disco, shuffle,
  jazz ride, reggae one-drop, bossa, half-time, breakbeat, metal, trap) with
  kick/snare/hats/toms/cymbals, ghost notes and fills, on any GM kit the
  soundfont has.
- ``oneshot`` (drums): a single channel-10 hit; every piece of
  ``DRUM_CLASS_NOTE`` in turn, plus other GM keys 35–81. A one-shot is short
  in time (a kick is ~0.1 s): the hit starts 0–250 ms into the clip and the
  rest is its natural decay, then silence.
- ``note``/``phrase`` on the drums family's melodic-percussion programs 115–119.

Phrases, chords and patterns start up to 0.6 s *before* the clip in half the
cases, so a clip can begin mid-sound as a streaming frame does.

Many clips are rendered in one fluidsynth call (one MIDI file of slots, each
slot = clip + 2 s gap, All Sound Off at the clip's end) and cut apart, which
keeps soundfont loads rare; the calls run in a process pool. Clips whose
peak is below −60 dBFS (a preset the soundfont lacks) are dropped and listed
in the manifest's ``dropped``. The MIDI content depends on (seed, family,
index) only, so both soundfonts play the same scores.

**Reserved soundfonts.** MuseScore General, freepats, avldrums,
sonic-pi-samples, hydrogen-drumkits*, hydrogen-data, lmms-common and
chuck-data are for independent evaluation only: :func:`render_dataset`
refuses them.

**Augmentation.** :func:`augment` chains random gain, additive noise, EQ tilt,
reverb, pitch shift, time stretch and (with ``other``) mixing a second clip
6–15 dB below. Each transform is a pure function of its arguments.

**Loaders.** :func:`load_folder_dataset` (one sub-folder per family) and
:func:`load_nsynth` (``examples.json`` + ``audio/<note_str>.wav``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Callable

import numpy as np

from nomad_muse.errors import InputError, ParameterError
from nomad_muse.gm import DRUM_CHANNEL, DRUM_CLASS_NOTE, DRUM_MAP, FAMILIES, PROGRAM_FAMILY

SR = 22050
CLIP_MIN_S, CLIP_MAX_S = 1.0, 2.0
GAP_S = 2.0  # silence between slots in one render (release and reverb tails die here)
PREROLL_MAX_S = 0.6
SILENT_PEAK = 1e-3  # −60 dBFS
CLIPS_PER_SLICE = 60  # clips per fluidsynth call
DEFAULT_CLIPS_PER_FAMILY = 400
TPB = 1000  # ticks per beat; with a 1 s beat (tempo 1e6 µs) one tick is 1 ms

SOUNDFONTS: dict[str, Path] = {
    "fluidr3": Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
    "timgm6mb": Path("/usr/share/sounds/sf2/TimGM6mb.sf2"),
}
#: name fragments of data reserved for independent evaluation (never train or select on it)
RESERVED_PATTERNS = (
    "musescore",
    "freepats",
    "avldrums",
    "sonic-pi-samples",
    "sonic_pi",
    "hydrogen-drumkits",
    "hydrogen-data",
    "hydrogen",
    "lmms-common",
    "lmms",
    "chuck-data",
    "chuck",
    "black_pearl_4_lv2",
    "red_zeppelin_4_lv2",
)

AUDIO_EXTS = {".wav", ".flac", ".ogg", ".aiff", ".aif", ".mp3"}

# ---------------------------------------------------------------- programs and ranges
#: usable MIDI pitch range per GM program (inclusive), from the instruments' real ranges
_RANGE_BY_PROGRAM: dict[int, tuple[int, int]] = {
    0: (28, 100), 1: (28, 100), 2: (28, 100), 3: (28, 100), 4: (33, 96), 5: (33, 96), 6: (36, 89), 7: (36, 93),
    8: (60, 100), 9: (72, 105), 10: (60, 96), 11: (53, 89), 12: (45, 96), 13: (62, 105), 14: (60, 77), 15: (48, 84),
    16: (36, 96), 17: (36, 96), 18: (36, 96), 19: (33, 96), 20: (48, 84),
    21: (53, 89), 22: (60, 84), 23: (48, 84),
    24: (40, 84), 25: (40, 84), 26: (40, 86), 27: (40, 86), 28: (40, 84), 29: (40, 84), 30: (40, 84), 31: (40, 76),
    32: (28, 60), 33: (28, 60), 34: (28, 60), 35: (28, 60), 36: (28, 60), 37: (28, 60), 38: (28, 64), 39: (28, 64),
    40: (55, 93), 41: (48, 84), 42: (36, 76), 43: (28, 55), 44: (40, 84), 45: (36, 84), 46: (24, 100), 47: (40, 57),
    48: (36, 93), 49: (36, 93), 50: (36, 93), 51: (36, 93),
    52: (48, 79), 53: (48, 79), 54: (48, 84), 55: (48, 72),
    56: (54, 82), 57: (40, 72), 58: (28, 55), 59: (54, 82), 60: (41, 77), 61: (40, 80), 62: (36, 84), 63: (36, 84),
    64: (56, 87), 65: (49, 81), 66: (44, 75), 67: (36, 69), 68: (58, 91), 69: (52, 81), 70: (34, 72), 71: (50, 91),
    72: (74, 102), 73: (60, 96), 74: (60, 96), 75: (60, 96), 76: (60, 84), 77: (55, 84), 78: (60, 79), 79: (60, 84),
    **{p: (36, 96) for p in range(80, 96)},
    **{p: (36, 84) for p in range(96, 104)},
    104: (48, 77), 105: (48, 84), 106: (50, 79), 107: (55, 90), 108: (48, 84), 109: (55, 77), 110: (55, 93),
    111: (60, 84), 112: (72, 96), 113: (60, 84), 114: (52, 76),
    115: (60, 84), 116: (36, 60), 117: (40, 70), 118: (36, 72), 119: (48, 72),
}
#: GM drum kits (bank 128 presets) to rotate through when the soundfont has them
_KITS = (0, 8, 16, 24, 25, 32, 40, 48)
#: families that get chords (bass never does)
CHORD_FAMILIES = {"piano", "guitar", "organ", "strings", "brass", "synth", "mallets", "woodwind", "vocals"}
#: content mix per family: kind → share
_MIX_TONAL = {"note": 0.45, "phrase": 0.35, "chord": 0.20}
_MIX_BASS = {"note": 0.5, "phrase": 0.5}
_MIX_DRUMS = {"pattern": 0.45, "oneshot": 0.40, "perc_note": 0.15}
_ONESHOT_PIECES = tuple(DRUM_CLASS_NOTE.items())  # every kit piece the generator/classifier knows
_OTHER_DRUM_KEYS = tuple(k for k in range(35, 82) if k not in DRUM_CLASS_NOTE.values())


def family_programs(family: str) -> list[int]:
    """Every GM program of a family (programs 120–127 have none)."""
    return sorted(p for p, f in PROGRAM_FAMILY.items() if f == family and p < 120)


# ---------------------------------------------------------------- soundfont checks
def check_reserved(path) -> None:
    """InputError when a path or name matches data reserved for independent evaluation."""
    low = str(path).lower()
    for pat in RESERVED_PATTERNS:
        if pat in low:
            raise InputError(
                f"soundfont {path} matches reserved evaluation data ({pat!r}); MuseScore General, freepats, avldrums, "
                "sonic-pi-samples, hydrogen-*, lmms-common and chuck-data are never used for training"
            )


def check_soundfont(path: Path) -> None:
    """InputError for a reserved or missing soundfont."""
    check_reserved(path)
    check_reserved(Path(path).resolve())  # a link to a reserved file is refused too
    if not Path(path).is_file():
        raise InputError(f"soundfont {path} not found (apt-get install fluid-soundfont-gm timgm6mb-soundfont)")


def sf2_presets(path: Path) -> set[tuple[int, int]]:
    """(bank, program) of every preset in an SF2 file, read from its ``phdr`` chunk."""
    with open(path, "rb") as f:
        head = f.read(12)
        if head[:4] != b"RIFF" or head[8:12] != b"sfbk":
            raise InputError(f"soundfont {path} is not an SF2 file (no RIFF sfbk header)")
        size = struct.unpack("<I", head[4:8])[0]
        pos = 12
        while pos < size + 8:
            f.seek(pos)
            ck = f.read(12)
            if len(ck) < 8:
                break
            cid, csz = ck[:4], struct.unpack("<I", ck[4:8])[0]
            if cid == b"LIST" and ck[8:12] == b"pdta":
                sub, end = pos + 12, pos + 8 + csz
                while sub < end:
                    f.seek(sub)
                    sid, ssz = f.read(4), struct.unpack("<I", f.read(4))[0]
                    if sid == b"phdr":
                        data = f.read(ssz)
                        out = set()
                        for i in range(0, len(data) - 38, 38):  # the last record is the EOP terminator
                            prog, bank = struct.unpack("<HH", data[i + 20 : i + 24])
                            out.add((bank, prog))
                        return out
                    sub += 8 + ssz + (ssz & 1)
            pos += 8 + csz + (csz & 1)
    raise InputError(f"soundfont {path}: no preset table (phdr) found")


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


# ---------------------------------------------------------------- MIDI + render
def _slice_midi(clips, path: Path) -> list[tuple[float, float]]:
    """Write clips as consecutive slots in one MIDI file; return each clip's (start s, length s)."""
    import mido

    mid = mido.MidiFile(type=0, ticks_per_beat=TPB)
    tr = mido.MidiTrack()
    mid.tracks.append(tr)
    tr.append(mido.MetaMessage("set_tempo", tempo=1_000_000, time=0))  # 1 tick = 1 ms
    abs_msgs = []
    slots = []
    t = 0.5 + PREROLL_MAX_S
    for spec, ev, length in clips:
        slots.append((t, length))
        first = min([tt for tt, _ in ev if tt is not None] + [0.0])
        for tt, m in ev:
            if tt is None:  # setup at the slot's earliest time
                abs_msgs.append((t + first - 0.05, 0, m))
            else:
                abs_msgs.append((t + tt, 1 if m[0] == "note_on" else 0, m))
        end = t + length
        for ch in (0, DRUM_CHANNEL):
            abs_msgs.append((end, 2, ("control_change", ch, 120, 0)))  # all sound off
            abs_msgs.append((end, 2, ("control_change", ch, 123, 0)))  # all notes off
            abs_msgs.append((end + 0.01, 2, ("control_change", ch, 121, 0)))  # reset controllers
        t = end + GAP_S + PREROLL_MAX_S
    abs_msgs.append((t, 3, ("control_change", 0, 121, 0)))
    abs_msgs.sort(key=lambda x: (x[0], x[1]))
    last = 0
    for tt, _, m in abs_msgs:
        tick = max(last, int(round(tt * 1000)))
        typ, ch, a, b = m
        if typ == "note_on":
            msg = mido.Message("note_on", channel=ch, note=a, velocity=b)
        elif typ == "note_off":
            msg = mido.Message("note_off", channel=ch, note=a, velocity=0)
        elif typ == "program_change":
            msg = mido.Message("program_change", channel=ch, program=a)
        else:
            msg = mido.Message("control_change", channel=ch, control=a, value=b)
        msg.time = tick - last
        tr.append(msg)
        last = tick
    tr.append(mido.MetaMessage("end_of_track", time=0))
    mid.save(str(path))
    return slots


def _render_slice(job: dict) -> dict:
    """Worker: render one slice of clips through fluidsynth, cut it, write the WAVs."""
    import soundfile as sf

    out_dir = Path(job["out_dir"])
    clips = [
        make_clip(job["family"], i, job["n"], job["seed"], kits=job["kits"], programs_available=set(job["programs"]))
        for i in job["indices"]
    ]
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="muse_render_") as td:
        mid_path, wav_path = Path(td) / "in.mid", Path(td) / "out.wav"
        slots = _slice_midi(clips, mid_path)
        cmd = [
            job["fluidsynth"], "-ni", "-q", "-g", "0.7", "-r", str(SR), "-O", "float",
            "-F", str(wav_path), "-T", "wav", str(job["soundfont"]), str(mid_path),
        ]  # fmt: skip
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0 or not wav_path.exists():
            raise RuntimeError(f"fluidsynth failed ({r.returncode}): {r.stderr.strip()[:300]}")
        y, sr = sf.read(str(wav_path), dtype="float32", always_2d=True)
    if sr != SR:
        raise RuntimeError(f"fluidsynth wrote {sr} Hz, expected {SR}")
    y = y.mean(axis=1)
    entries, dropped = [], []
    fam_dir = out_dir / job["source"] / job["family"]
    fam_dir.mkdir(parents=True, exist_ok=True)
    for (spec, _, _), (start, length), i in zip(clips, slots, job["indices"]):
        a, n = int(round(start * SR)), int(round(length * SR))
        clip = y[a : a + n]
        if len(clip) < n:
            clip = np.pad(clip, (0, n - len(clip)))
        peak = float(np.max(np.abs(clip))) if clip.size else 0.0
        name = f"{job['source']}_{job['family']}_{i:04d}_{spec['kind']}"
        if peak < SILENT_PEAK:
            dropped.append({"name": name, "source": job["source"], **spec, "reason": f"peak {peak:.2e} < -60 dBFS"})
            continue
        if peak > 0.99:
            clip = clip * (0.99 / peak)
        rel = Path(job["source"]) / job["family"] / f"{name}.wav"
        sf.write(str(out_dir / rel), clip.astype(np.float32), SR, subtype="FLOAT")
        entries.append({"path": str(rel), "source": job["source"], **spec, "peak": round(min(peak, 0.99), 4)})
    return {"entries": entries, "dropped": dropped, "seconds": time.perf_counter() - t0}


def render_dataset(
    out_dir,
    *,
    soundfonts: dict[str, Path] | None = None,
    seed: int = 0,
    clips_per_family: int = DEFAULT_CLIPS_PER_FAMILY,
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
    families: tuple[str, ...] = FAMILIES,
) -> dict:
    """Render the classifier's training clips; return (and write) the manifest.

    ``soundfonts`` maps a source's short name to an SF2 path (default: fluidr3 +
    timgm6mb). ``progress(done_clips, total_clips)`` is called as slices finish.
    """
    if soundfonts is None:
        soundfonts = dict(SOUNDFONTS)
    if clips_per_family < 1:
        raise ParameterError(f"clips_per_family must be >= 1, got {clips_per_family}")
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        raise ParameterError(f"unknown families {unknown}; expected some of {list(FAMILIES)}")
    for name, p in soundfonts.items():
        check_reserved(name)  # a reserved name as the short name is refused too
        check_soundfont(Path(p))
    fs = shutil.which("fluidsynth")
    if fs is None:
        raise InputError("fluidsynth not found on PATH (apt-get install --no-install-recommends fluidsynth)")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = []
    for source, sf2 in soundfonts.items():
        presets = sf2_presets(Path(sf2))
        kits = [k for k in _KITS if (128, k) in presets] or [0]
        programs = sorted(p for b, p in presets if b == 0)
        for fam in families:
            idx = list(range(clips_per_family))
            for s in range(0, len(idx), CLIPS_PER_SLICE):
                jobs.append(
                    {
                        "out_dir": str(out_dir), "source": source, "soundfont": str(sf2), "family": fam,
                        "indices": idx[s : s + CLIPS_PER_SLICE], "n": clips_per_family, "seed": seed,
                        "kits": kits, "programs": programs, "fluidsynth": fs,
                    }
                )  # fmt: skip
    # big soundfonts first so the pool's tail is short
    jobs.sort(key=lambda j: -os.path.getsize(j["soundfont"]))
    total = sum(len(j["indices"]) for j in jobs)
    t0 = time.perf_counter()
    entries, dropped, done = [], [], 0
    if progress:
        progress(0, total)
    if workers <= 1:
        results = (_render_slice(j) for j in jobs)
        for j, r in zip(jobs, results):
            entries += r["entries"]
            dropped += r["dropped"]
            done += len(j["indices"])
            if progress:
                progress(done, total)
    else:
        with ProcessPoolExecutor(max_workers=workers) as ex:
            futs = {ex.submit(_render_slice, j): j for j in jobs}
            for fut in as_completed(futs):
                r = fut.result()
                entries += r["entries"]
                dropped += r["dropped"]
                done += len(futs[fut]["indices"])
                if progress:
                    progress(done, total)
    entries.sort(key=lambda e: e["path"])
    counts: dict[str, dict[str, int]] = {}
    for e in entries:
        counts.setdefault(e["source"], {f: 0 for f in families})[e["family"]] += 1
    manifest = {
        "format": "nomad-muse-edge classifier clips v1",
        "sample_rate": SR,
        "channels": 1,
        "subtype": "FLOAT",
        "clip_seconds": [CLIP_MIN_S, CLIP_MAX_S],
        "seed": seed,
        "clips_per_family": clips_per_family,
        "sources": {k: str(v) for k, v in soundfonts.items()},
        "families": list(families),
        "counts": counts,
        "render_seconds": round(time.perf_counter() - t0, 1),
        "workers": workers,
        "renderer": "fluidsynth -ni -q -g 0.7 -r 22050 -O float -T wav (FluidSynth CLI), mono = mean of L/R",
        "clips": entries,
        "dropped": dropped,
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


# ---------------------------------------------------------------- augmentation
def _db(x: float) -> float:
    return 10.0 ** (x / 20.0)


def gain(y: np.ndarray, db: float) -> np.ndarray:
    """Scale by ``db`` decibels."""
    return (np.asarray(y, dtype=np.float64) * _db(db)).astype(np.float32)


def add_noise(y: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Add white Gaussian noise at ``snr_db`` below the signal's mean power (silent input stays silent)."""
    y = np.asarray(y, dtype=np.float64)
    p = float(np.mean(y**2)) if y.size else 0.0
    if p <= 0:
        return y.astype(np.float32)
    noise = rng.standard_normal(y.shape)
    noise *= np.sqrt(p / 10 ** (snr_db / 10.0) / float(np.mean(noise**2)))
    return (y + noise).astype(np.float32)


def eq_tilt(y: np.ndarray, sr: int, db_per_decade: float, *, pivot_hz: float = 1000.0) -> np.ndarray:
    """Tilt the spectrum by about ``db_per_decade`` around ``pivot_hz`` with a first-order shelf.

    The shelf (one zero, one pole, bilinear transform) spans 2·|dB| in total,
    centred on the pivot with 0 dB there, so the level one decade above the
    pivot differs from the level one decade below by ≈ 2·``db_per_decade``
    (the average slope over 100 Hz–10 kHz for the default pivot).
    """
    from scipy.signal import bilinear, freqz, lfilter

    y = np.asarray(y, dtype=np.float64)
    if abs(db_per_decade) < 1e-6 or y.size == 0:
        return y.astype(np.float32)
    g = _db(2.0 * abs(db_per_decade))  # total shelf gain
    w0 = 2 * np.pi * pivot_hz
    wz, wp = w0 / np.sqrt(g), w0 * np.sqrt(g)  # high shelf: +|2·dB| above the pivot
    if db_per_decade < 0:
        wz, wp = wp, wz  # low-pass-like shelf: −|2·dB| above the pivot
    b, a = bilinear([1 / wz, 1.0], [1 / wp, 1.0], fs=sr)
    _, h = freqz(b, a, worN=[pivot_hz], fs=sr)
    b = b / abs(h[0])  # 0 dB at the pivot
    return lfilter(b, a, y).astype(np.float32)


def reverb(y: np.ndarray, sr: int, rt60: float, wet: float, rng: np.random.Generator) -> np.ndarray:
    """Convolve with exponentially decaying noise (−60 dB after ``rt60`` s); ``wet`` in 0..1, length kept."""
    from scipy.signal import fftconvolve

    y = np.asarray(y, dtype=np.float64)
    if wet <= 0 or y.size == 0:
        return y.astype(np.float32)
    n = max(1, int(rt60 * sr))
    t = np.arange(n) / sr
    ir = rng.standard_normal(n) * np.exp(-6.907755 * t / rt60)  # ln(1000) = 6.9078: −60 dB at rt60
    ir /= np.sqrt(np.sum(ir**2))
    w = fftconvolve(y, ir)[: len(y)]
    return ((1 - wet) * y + wet * w).astype(np.float32)


def _fit(y: np.ndarray, n: int) -> np.ndarray:
    return y[:n] if len(y) >= n else np.pad(y, (0, n - len(y)))


def _ratio(x: float, max_den: int = 200) -> tuple[int, int]:
    from fractions import Fraction

    f = Fraction(x).limit_denominator(max_den)
    return f.numerator, f.denominator


def pitch_shift(y: np.ndarray, semitones: float) -> np.ndarray:
    """Shift pitch (and tempo, as tape does) by ``semitones``; the output keeps the input's length.

    Resampling by 1/r with ``resample_poly`` then playing at the same rate
    multiplies every frequency by r = 2^(semitones/12); the result is cut or
    zero-padded to the original length.
    """
    from scipy.signal import resample_poly

    y = np.asarray(y, dtype=np.float64)
    if abs(semitones) < 1e-6 or y.size == 0:
        return y.astype(np.float32)
    up, down = _ratio(2.0 ** (-semitones / 12.0))  # new length = len * up/down
    return _fit(resample_poly(y, up, down), len(y)).astype(np.float32)


def time_stretch(y: np.ndarray, rate: float) -> np.ndarray:
    """Resampling time stretch: the output has ``len(y) / rate`` samples.

    ``rate`` > 1 shortens (faster), < 1 lengthens; pitch moves with it (as a
    tape speed change does). ``time_stretch(time_stretch(y, r), 1 / r)``
    restores the length (±1 sample). :func:`augment` cuts or pads the result
    back to the clip length.
    """
    from scipy.signal import resample_poly

    y = np.asarray(y, dtype=np.float64)
    if abs(rate - 1.0) < 1e-6 or y.size == 0:
        return y.astype(np.float32)
    up, down = _ratio(1.0 / rate)
    return resample_poly(y, up, down).astype(np.float32)


def mix(y: np.ndarray, other: np.ndarray, rel_db: float) -> np.ndarray:
    """Add ``other`` (cut/padded to ``y``'s length) with its RMS ``rel_db`` dB relative to ``y``'s (rel_db < 0)."""
    y = np.asarray(y, dtype=np.float64)
    o = _fit(np.asarray(other, dtype=np.float64), len(y))
    ry, ro = np.sqrt(np.mean(y**2)) if y.size else 0.0, np.sqrt(np.mean(o**2)) if o.size else 0.0
    if ry <= 0 or ro <= 0:
        return y.astype(np.float32)
    return (y + o * (ry / ro) * _db(rel_db)).astype(np.float32)


def augment(y: np.ndarray, sr: int, rng: np.random.Generator, *, other: np.ndarray | None = None) -> np.ndarray:
    """A random chain of the transforms above; same length as ``y``; the label stays ``y``'s.

    Each transform is applied with some probability: time stretch ±10 % (0.5),
    pitch shift ±2 st (0.5), mixing ``other`` at −15…−6 dB (when given), EQ tilt
    ±6 dB/decade (0.6), reverb RT60 0.2–1.5 s wet 0–40 % (0.5), noise SNR 20–50 dB
    (0.5), gain ±12 dB (always). A result whose peak would pass 1.0 is scaled
    down to peak 0.999 (a limited gain, not hard clipping).
    """
    y = np.asarray(y, dtype=np.float32)
    n = len(y)
    out = y
    if rng.random() < 0.5:
        out = _fit(time_stretch(out, float(rng.uniform(0.9, 1.1))), n)
    if rng.random() < 0.5:
        out = pitch_shift(out, float(rng.uniform(-2.0, 2.0)))
    if other is not None:
        out = mix(out, other, float(rng.uniform(-15.0, -6.0)))
    if rng.random() < 0.6:
        out = eq_tilt(out, sr, float(rng.uniform(-6.0, 6.0)))
    if rng.random() < 0.5:
        out = reverb(out, sr, float(rng.uniform(0.2, 1.5)), float(rng.uniform(0.0, 0.4)), rng)
    if rng.random() < 0.5:
        out = add_noise(out, float(rng.uniform(20.0, 50.0)), rng)
    out = gain(out, float(rng.uniform(-12.0, 12.0)))
    peak = float(np.max(np.abs(out))) if out.size else 0.0
    if peak > 0.999:
        out = out * (0.999 / peak)
    return out.astype(np.float32)


# ---------------------------------------------------------------- loaders
def load_folder_dataset(root, *, notes: list[str] | None = None) -> list[tuple[Path, str]]:
    """(audio path, family) for every audio file under ``root/<family>/`` (recursively).

    Sub-folders must be named exactly as :data:`nomad_muse.gm.FAMILIES`; other
    files and folders are ignored, each with a line appended to ``notes`` when a
    list is given.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"dataset folder {root} does not exist or is not a directory")
    notes = notes if notes is not None else []
    out: list[tuple[Path, str]] = []
    for p in sorted(root.iterdir()):
        if p.name.startswith("."):
            continue
        if p.is_dir() and p.name in FAMILIES:
            files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in AUDIO_EXTS)
            if not files:
                notes.append(f"{p.name}/: no audio files")
            out += [(f, p.name) for f in files]
        elif p.is_dir():
            notes.append(f"ignored folder {p.name}/ (not a family; expected one of {' '.join(FAMILIES)})")
        else:
            notes.append(f"ignored file {p.name} (files go in a family sub-folder)")
    if not out:
        raise InputError(
            f"no audio in {root}: expected sub-folders named {' '.join(FAMILIES)} holding .wav/.flac/.ogg files"
        )
    return out


NSYNTH_FAMILY = {
    "bass": "bass",
    "brass": "brass",
    "flute": "woodwind",
    "guitar": "guitar",
    "keyboard": "piano",
    "mallet": "mallets",
    "organ": "organ",
    "reed": "woodwind",
    "string": "strings",
    "synth_lead": "synth",
    "vocal": "vocals",
}


def load_nsynth(root, split: str | None = None) -> list[tuple[Path, str]]:
    """(wav path, family) for an NSynth split folder (``examples.json`` + ``audio/<note_str>.wav``).

    ``root`` is a split folder (e.g. ``nsynth-test``) or, with ``split``
    ("train"/"valid"/"test"), the folder holding ``nsynth-<split>``. Examples
    whose family has no mapping (NSynth has no drums) or whose WAV is missing
    are skipped; a file with no usable example is an error.
    """
    root = Path(root)
    if split is not None:
        cand = root / f"nsynth-{split}"
        root = cand if cand.is_dir() else root / split if (root / split).is_dir() else cand
    if not root.is_dir():
        raise InputError(f"NSynth folder {root} does not exist")
    ex_path = root / "examples.json"
    if not ex_path.is_file():
        raise InputError(f"NSynth folder {root} has no examples.json")
    try:
        examples = json.loads(ex_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{ex_path} is not valid JSON: {e}") from None
    if not isinstance(examples, dict):
        raise InputError(f"{ex_path}: expected an object of note_str → example, got {type(examples).__name__}")
    out: list[tuple[Path, str]] = []
    for key, ex in examples.items():
        if not isinstance(ex, dict) or "instrument_family_str" not in ex:
            raise InputError(f"{ex_path}: example {key!r} has no instrument_family_str")
        fam = NSYNTH_FAMILY.get(ex["instrument_family_str"])
        if fam is None:
            continue
        wav = root / "audio" / f"{ex.get('note_str', key)}.wav"
        if wav.is_file():
            out.append((wav, fam))
    if not out:
        raise InputError(f"no usable audio in {root}: no examples.json entry has a mapped family and an audio/<note_str>.wav")
    return sorted(out)


# ---------------------------------------------------------------- CLI
def _progress_bar(done: int, total: int, t0=[None]) -> None:  # noqa: B006 (start time, once per process)
    if t0[0] is None or done == 0:
        t0[0] = time.perf_counter()
    el = time.perf_counter() - t0[0]
    frac = done / max(1, total)
    eta = el / frac - el if frac > 0 else float("nan")
    bar = "#" * int(30 * frac)
    sys.stderr.write(f"\r[{bar:<30}] {done}/{total} clips  {el:5.0f} s  eta {eta:5.0f} s")
    if done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m nomad_muse.training.classifier_data", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("render", help="Render the classifier's training clips with FluidSynth.")
    r.add_argument("out_dir", type=Path)
    r.add_argument("--clips-per-family", type=int, default=DEFAULT_CLIPS_PER_FAMILY)
    r.add_argument("--workers", type=int, default=2)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument(
        "--soundfont", action="append", metavar="NAME=SF2",
        help="A source as short-name=path (repeatable); default fluidr3 and timgm6mb.",
    )  # fmt: skip
    a = ap.parse_args(argv)
    sfs = None
    if a.soundfont:
        sfs = {}
        for s in a.soundfont:
            if "=" not in s:
                ap.error(f"--soundfont wants NAME=PATH, got {s!r}")
            k, v = s.split("=", 1)
            sfs[k] = Path(v)
    try:
        m = render_dataset(
            a.out_dir, soundfonts=sfs, seed=a.seed, clips_per_family=a.clips_per_family, workers=a.workers,
            progress=_progress_bar,
        )  # fmt: skip
    except (InputError, ParameterError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for src, c in m["counts"].items():
        print(f"{src}: {sum(c.values())} clips  " + " ".join(f"{f}={n}" for f, n in c.items()))
    print(f"dropped {len(m['dropped'])}; {m['render_seconds']} s; manifest {Path(a.out_dir) / 'manifest.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
