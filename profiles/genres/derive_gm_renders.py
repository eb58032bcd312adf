"""Re-derive the shipped genre targets from General-MIDI renders made on this machine.

What this does, exactly (and all it does):
1. writes N procedurally generated multitrack MIDI arrangements per genre
   (instrumentation, tempo range, drum pattern and register typical of the
   genre; chords, key, tempo, part levels and seeds vary per arrangement);
2. renders each with the FluidSynth CLI and the FluidR3_GM soundfont
   (Debian packages ``fluidsynth`` and ``fluid-soundfont-gm``) at 44.1 kHz,
   then peak-normalises it to -1 dBFS (no EQ, compression or limiting);
3. measures them with ``muse profiles build`` (nomad_muse.analyzer.targets.build_target)
   and writes ``profiles/genres/GENRE.toml`` with the provenance stated.

These are NOT measurements of commercial mixes: they describe unmastered GM
arrangements of each genre's typical instrumentation.  Use your own
references (`muse profiles build NAME FOLDER`) for a real target.

Usage:  python profiles/genres/derive_gm_renders.py [--n 8] [--seconds 20] [--work DIR]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

import mido
import numpy as np
import soundfile as sf

SF2 = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
SR = 44100
MAJOR_PROGS = [[0, 5, 3, 4], [0, 3, 4, 4], [5, 3, 0, 4], [0, 4, 5, 3], [1, 4, 0, 0]]
SCALE = [0, 2, 4, 5, 7, 9, 11]

# genre: tempo range (bpm), swing, drum style, [(role, GM program, octave, level 0-127)]
GENRES = {
    "pop": ((96, 124), 0.0, "backbeat", [("bass", 33, 2, 100), ("chords", 0, 4, 80), ("pad", 89, 4, 60),
                                         ("lead", 53, 5, 95)]),
    "rock": ((110, 150), 0.0, "rock", [("bass", 34, 2, 105), ("chords", 30, 3, 100), ("chords", 29, 4, 80),
                                       ("lead", 30, 5, 85)]),
    "edm": ((122, 130), 0.0, "four", [("bass", 38, 1, 110), ("chords", 81, 4, 80), ("pad", 90, 4, 70),
                                      ("lead", 80, 5, 85)]),
    "hiphop": ((80, 96), 0.1, "hiphop", [("bass", 38, 1, 118), ("chords", 4, 4, 75), ("lead", 11, 5, 70),
                                          ("pad", 88, 4, 55)]),
    "jazz": ((120, 170), 0.2, "jazz", [("walk", 32, 2, 100), ("chords", 0, 4, 80), ("lead", 66, 4, 90)]),
    "classical": ((60, 96), 0.0, None, [("walk", 42, 2, 90), ("chords", 48, 4, 90), ("lead", 40, 5, 90),
                                         ("lead2", 73, 5, 70), ("pad", 60, 3, 60)]),
    "acoustic": ((76, 112), 0.0, "shaker", [("walk", 32, 2, 90), ("arp", 25, 3, 95), ("lead", 73, 5, 75)]),
}


def drums(track, style, beats, tpb, rng, swing):
    """Append a GM drum part (channel 10 = index 9) in `style`."""
    ev = []
    for b in range(beats):
        t0 = b * tpb
        bar_pos = b % 4
        def hit(note, vel, off=0.0):
            o = off
            if swing and abs(off - 0.5) < 1e-9:
                o += swing
            ev.append((int(t0 + o * tpb), note, int(np.clip(vel + rng.integers(-8, 8), 1, 127))))
        if style in ("backbeat", "rock", "hiphop"):
            if bar_pos in (0, 2) or (style == "rock" and rng.random() < 0.3):
                hit(36, 110)
            if style == "hiphop" and rng.random() < 0.4:
                hit(36, 100, 0.75)
            if bar_pos in (1, 3):
                hit(38, 105)
            for o in (0.0, 0.5):
                hit(42 if style != "rock" else 46 if rng.random() < 0.2 else 42, 75, o)
            if style == "rock" and bar_pos == 0 and b % 16 == 0:
                hit(49, 110)
        elif style == "four":
            hit(36, 120)
            hit(46 if True else 42, 80, 0.5)
            if bar_pos in (1, 3):
                hit(39, 100)
            for o in (0.25, 0.75):
                hit(42, 60, o)
        elif style == "jazz":
            hit(51, 80)
            if bar_pos in (1, 3):
                hit(44, 70)
                hit(51, 70, 0.5 + 0.16)
            if rng.random() < 0.2:
                hit(38, 50, 0.5)
        elif style == "shaker":
            for o in (0.0, 0.25, 0.5, 0.75):
                hit(70, 60 if o else 80, o)
            if bar_pos in (1, 3):
                hit(75, 70)
    emit(track, ev, channel=9, dur=tpb // 4)


def emit(track, events, *, channel, dur):
    """Write (tick, note, vel) events as note on/off pairs with absolute → delta times."""
    msgs = []
    for t, n, v in events:
        msgs.append((t, mido.Message("note_on", channel=channel, note=int(n), velocity=int(v))))
        msgs.append((t + max(1, int(dur if np.isscalar(dur) else dur)), mido.Message("note_off", channel=channel, note=int(n), velocity=0)))
    msgs.sort(key=lambda m: (m[0], m[1].type == "note_on"))
    last = 0
    for t, m in msgs:
        track.append(m.copy(time=t - last))
        last = t


def arrangement(genre: str, seed: int, seconds: float, path: Path) -> None:
    rng = np.random.default_rng(seed)
    (lo, hi), swing, drum_style, parts = GENRES[genre]
    bpm = float(rng.uniform(lo, hi))
    tpb = 480
    beats = int(seconds * bpm / 60)
    mid = mido.MidiFile(ticks_per_beat=tpb)
    meta = mido.MidiTrack()
    meta.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm)))
    mid.tracks.append(meta)
    key = int(rng.integers(0, 12))
    prog = MAJOR_PROGS[int(rng.integers(len(MAJOR_PROGS)))]
    for ch, (role, program, octave, level) in enumerate(parts):
        tr = mido.MidiTrack()
        level = int(np.clip(level + rng.integers(-15, 15), 20, 127))
        tr.append(mido.Message("program_change", channel=ch, program=program))
        tr.append(mido.Message("control_change", channel=ch, control=7, value=level))
        tr.append(mido.Message("control_change", channel=ch, control=10, value=int(np.clip(64 + rng.integers(-40, 40), 0, 127))))
        ev = []
        for b in range(beats):
            deg = prog[(b // 4) % len(prog)]
            root = 12 * (octave + 1) + key + SCALE[deg]
            triad = [root, root + SCALE[(deg + 2) % 7] - SCALE[deg] + (12 if (deg + 2) >= 7 else 0),
                     root + SCALE[(deg + 4) % 7] - SCALE[deg] + (12 if (deg + 4) >= 7 else 0)]
            v = int(np.clip(90 + rng.integers(-15, 15), 1, 127))
            t = b * tpb
            if role == "bass" and b % 2 == 0:
                ev.append((t, root, v))
            elif role == "walk":
                ev.append((t, root + [0, 4, 7, 5][b % 4] - (12 if b % 4 == 2 else 0), v))
            elif role in ("chords", "pad") and b % 4 == 0:
                ev.extend((t, n, v - 10) for n in triad)
            elif role == "arp":
                for k in range(2):
                    ev.append((t + k * tpb // 2, triad[(b * 2 + k) % 3] + (12 if k else 0), v))
            elif role.startswith("lead") and rng.random() < 0.6:
                ev.append((t, 12 * (octave + 1) + key + SCALE[int(rng.integers(0, 7))], v))
        dur = {"bass": tpb * 2 - 20, "walk": tpb - 20, "chords": tpb * 4 - 40, "pad": tpb * 4 - 40,
               "arp": tpb // 2 - 10}.get(role, tpb - 30)
        emit(tr, ev, channel=ch, dur=dur)
        mid.tracks.append(tr)
    if drum_style:
        tr = mido.MidiTrack()
        drums(tr, drum_style, beats, tpb, rng, swing)
        mid.tracks.append(tr)
    mid.save(path)


def render(mid: Path, wav: Path) -> None:
    subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.4", "-r", str(SR), "-F", str(wav), "-T", "wav", SF2, str(mid)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    y, sr = sf.read(wav, dtype="float64", always_2d=True)
    y = y / max(np.max(np.abs(y)), 1e-9) * 10 ** (-1 / 20)
    sf.write(wav, y, sr, subtype="PCM_24")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent)
    a = ap.parse_args()
    if shutil.which("fluidsynth") is None or not Path(SF2).is_file():
        raise SystemExit("needs: apt-get install fluidsynth fluid-soundfont-gm")
    from nomad_muse.analyzer.targets import build_target, save_target

    work = a.work or Path(tempfile.mkdtemp(prefix="muse-gm-"))
    fs_ver = subprocess.run(["fluidsynth", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    for g, (tempo, swing, drum_style, parts) in GENRES.items():
        d = work / g
        d.mkdir(parents=True, exist_ok=True)
        for i in range(a.n):
            m = d / f"{g}{i}.mid"
            arrangement(g, 1000 * (list(GENRES).index(g) + 1) + i, a.seconds, m)
            render(m, m.with_suffix(".wav"))
        instruments = ", ".join(f"{role}=GM{prog}" for role, prog, _, _ in parts) + (f", drums={drum_style}" if drum_style else "")
        t, skipped = build_target(
            name=g, paths=[d], description=f"{g}: GM render of typical instrumentation (not commercial mixes)",
            provenance={
                "method": (f"measured with `muse profiles build` from {a.n} procedurally generated {g} arrangements "
                           f"({a.seconds:g} s each) rendered on this machine with FluidSynth + FluidR3_GM"),
                "source": f"profiles/genres/derive_gm_renders.py; {fs_ver}; soundfont {SF2}; 44.1 kHz; peak-normalised to -1 dBFS",
                "instrumentation": f"tempo {tempo[0]}-{tempo[1]} bpm; {instruments}",
                "caveat": ("NOT measurements of commercial recordings: unmastered General-MIDI renders with no EQ, "
                           "compression or limiting. The ranges show the spread across arrangements, not across "
                           "professional mixes. Build a target from your own references for real work."),
                "files": [],
            })
        assert not skipped, skipped
        p = save_target(t, a.out / f"{g}.toml")
        print(f"{g}: {t.n_tracks} renders -> {p}")


if __name__ == "__main__":
    main()
