"""Drum parts of LMMS projects → General MIDI drum files (channel 10), one per project.

    python -m nomad_muse.training.lmms [--src /usr/share/lmms/projects ...] --out DIR [--parts drums|all] [--json] [--tracks] [--grid PROJECT]

Reads ``.mmp`` (XML) and ``.mmpz`` (4-byte big-endian uncompressed length +
zlib-compressed XML) as LMMS 0.4–1.2 write them, and writes the drum hits of
every project as a type-1 MIDI file (tempo + time signature + one track on
channel 10), so the generator's loaders read them like any MIDI file.

What is a drum track (everything else is ignored and reported):

* ``audiofileprocessor`` playing a drum sample: a sample under ``drums/`` or a
  ``drumsynth/<kit>/`` folder, or any sample whose file or track name says
  kick/bd/snare/sn/clap/hat/hh/tom/crash/cymbal/ride/rim/cowbell/shaker/perc….
  The GM note comes from the sample's file name, then the track name, then
  the folder (``misc_hats`` → closed hat, ``misc_claps`` → clap, an unnamed
  drum → other percussion). Tonal folders (``basses/``, ``instruments/``,
  ``stringsnpads/``, ``drumsynth/instrument``…), sound effects (zap, fx,
  sweep, whoosh…) and whole-loop samples (``beats/*loop*``) are skipped.
* ``kicker`` (LMMS's kick synth) → kick, unless its track name names another
  drum; kicker tracks named like a synth part ("Lead High", "Bass Low") are
  skipped — kicker is often used as a plain synth.
* ``sf2player`` on bank 128 (the GM percussion bank): each note is already a
  GM drum key. LMMS key numbers are not MIDI numbers: the default base note
  is LMMS key 57 (shown as A4) and sounds A440 = MIDI 69, so LMMS 1.2's
  sf2player sends ``MIDI = key - basenote + 69 (+ master pitch when the track
  uses it)`` — with the default base note, LMMS key 57 → MIDI 69 and LMMS key
  69 → MIDI 81, i.e. MIDI = LMMS key + 12.

Timing (checked against LMMS 1.2 sources, ``MidiTime``/``Pattern``/``BBTrack``):
192 ticks per whole note, so **48 ticks per quarter** whatever the time
signature (a bar is ``192 * num / den`` ticks); the MIDI files use 48 ticks
per beat, so every LMMS tick is kept exactly.

* Song-level patterns (``<pattern pos>`` on an instrument track of the song)
  play their notes at ``pattern pos + note pos`` while the note lies inside
  the pattern's length (recomputed like LMMS does on load: melody patterns
  end at their last note, rounded up to bars; step patterns span their steps).
* Beat+Bassline (BB): the k-th ``type="1"`` track of the song plays, from each
  ``<bbtco pos len>``, the k-th pattern (by order in the file; LMMS 1.2 stores
  it at ``pos = k bars``) of every instrument track of the BB container
  (saved inside the first BB track), looped every ``BB length`` = the longest
  k-th pattern of any BB track, rounded up to whole bars; when bbtcos of one
  BB track overlap, the one that started last plays (as in ``BBTrack::play``).
* Muted song tracks, BB tracks, bbtcos, BB instrument tracks and patterns are
  skipped; solo is honoured when a project has soloed tracks.
* Velocity: LMMS note volume 0–200 (100 = default) × 127/200, as LMMS's own
  MIDI export maps it (100 → 64, 200 → 127), clipped to 1–127; volume-0
  notes are silent and dropped. Track volume (a mix setting) is not applied.
* Step notes (negative length, e.g. ``len="-192"``) are one-shots and get a
  16th; every hit ends before the next hit of the same GM note. Two tracks
  hitting the same GM note on the same tick become one hit (the louder).

Nothing here needs LMMS; a project that cannot be read is skipped with its
reason and the batch goes on; a project with no drum hits writes nothing.
"""


from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from pathlib import Path

from nomad_muse.training.lmms.drum_names import classify_kicker, classify_sample
from nomad_muse.training.lmms.project import (
    GM_DRUM_CHANNEL,
    LMMS_DEFAULT_BASE_KEY,
    MIDI_A440,
    ONE_SHOT_TICKS,
    SF2_DRUM_BANK,
    TICKS_PER_QUARTER,
    TICKS_PER_WHOLE,
    ProjectError,
    ProjectReport,
    TrackReport,
    _Hit,
    _instrument_of,
    _int,
    project_events,
    read_project_xml,
)


def classify_drum_track(track: ET.Element, where: str, master_pitch: int, track_id: str = "") -> tuple[TrackReport, object]:
    """The report row and the key → GM mapping (an int, or a function of the LMMS key), or None."""
    name = track.get("name", "")
    inst, it, plugin = _instrument_of(track)
    rep = TrackReport(where=where, name=name, instrument=inst or "?", track_id=track_id)
    if it is None:
        rep.reason = "no instrument"
        return rep, None
    if inst == "audiofileprocessor":
        src = plugin.get("src", "") if plugin is not None else ""
        rep.sample = src
        note, why = classify_sample(src, name)
        rep.gm_note, rep.reason = note, why
        return rep, note
    if inst == "kicker":
        note, why = classify_kicker(name)
        rep.gm_note, rep.reason = note, why
        return rep, note
    if inst == "sf2player":
        bank = _int(plugin, "bank", -1)
        patch = _int(plugin, "patch", 0)
        rep.sample = f"{plugin.get('src', '') if plugin is not None else ''} bank {bank} patch {patch}"
        if bank != SF2_DRUM_BANK:
            rep.reason = f"sf2player on melodic bank {bank}"
            return rep, None
        base = _int(it, "basenote", LMMS_DEFAULT_BASE_KEY)
        shift = MIDI_A440 - base + (master_pitch if _int(it, "usemasterpitch", 1) else 0)
        rep.gm_note = -1
        rep.reason = f"sf2player GM drum bank 128: MIDI note = LMMS key {shift:+d}"
        return rep, (lambda key, _s=shift: key + _s)
    rep.reason = f"{inst or 'unknown'} is not a drum instrument (only audiofileprocessor, kicker, sf2player bank 128)"
    return rep, None


def project_hits(root: ET.Element, report: ProjectReport) -> list[_Hit]:
    """Every drum hit the project plays, in song ticks; fills the track rows of ``report``."""
    return project_events(root, report, classify_drum_track)


def _merge(hits: list[_Hit], report: ProjectReport) -> list[tuple[int, int, int, int]]:
    """(tick, note, velocity, duration) — one hit per note and tick, each ending before the next of its note."""
    best: dict[tuple[int, int], _Hit] = {}
    for h in hits:
        k = (h.tick, h.note)
        if k in best:
            report.merged_duplicates += 1
            if h.velocity > best[k].velocity:
                best[k] = h
        else:
            best[k] = h
    by_note: dict[int, list[_Hit]] = defaultdict(list)
    for h in best.values():
        by_note[h.note].append(h)
    out = []
    for note, hs in by_note.items():
        hs.sort(key=lambda h: h.tick)
        for i, h in enumerate(hs):
            dur = h.length if h.length > 0 else ONE_SHOT_TICKS
            if i + 1 < len(hs):
                dur = min(dur, hs[i + 1].tick - h.tick)
            out.append((h.tick, note, h.velocity, max(1, dur)))
    out.sort()
    return out


def write_drum_midi(events, path: Path, *, bpm: float, time_signature: tuple[int, int]) -> Path:
    """A type-1 MIDI file at 48 ticks per beat (LMMS's own resolution, so no tick moves): conductor
    (tempo, metre) + one channel-10 drum track, written by the generator's own ``write_midi``."""
    from nomad_muse.generator.midi_io import Note, Score, write_midi

    notes = tuple(Note(tick / TICKS_PER_QUARTER, dur / TICKS_PER_QUARTER, note, vel, GM_DRUM_CHANNEL)
                  for tick, note, vel, dur in events)
    num, den = time_signature
    return write_midi(Score(notes, float(bpm), ((0.0, num, den),)), path, ticks_per_beat=TICKS_PER_QUARTER)


def _drum_tokens(path: Path) -> int:
    from nomad_muse.generator.midi_io import read_midi
    from nomad_muse.generator.tokenizer import score_streams

    return sum(len(s.tokens) for s in score_streams(read_midi(path)) if s.mode == "drums")


def writable_meter_and_tempo(rep) -> bool:
    """False (rep marked as an error) for a meter MIDI cannot store; an out-of-range tempo becomes 140 BPM."""
    num, den = rep.time_signature
    if den & (den - 1) or not 1 <= num <= 255:
        rep.status, rep.reason = "error", f"time signature {num}/{den} cannot be written to MIDI"
        return False
    if not 10 <= rep.bpm <= 999:
        rep.warnings.append(f"tempo {rep.bpm} BPM out of range; 140 used")
        rep.bpm = 140.0
    return True


def convert_project(src: str | Path, out: str | Path | None, *, relative: str = "",
                    trim_leading_bars: bool = True) -> ProjectReport:
    """Convert one project; write ``out`` (a .mid path) when it has drum hits. Never raises on bad input.

    With ``trim_leading_bars`` the whole empty bars before the first drum hit are cut (a song whose
    drums enter at bar 95 would otherwise open its token stream with 94 empty bars).
    """
    src = Path(src)
    rep = ProjectReport(source=str(src), relative=relative or src.name)
    try:
        root = read_project_xml(src)
        hits = project_hits(root, rep)
    except ProjectError as e:
        rep.status, rep.reason = "error", str(e)
        return rep
    except Exception as e:  # a malformed project must not stop the batch
        rep.status, rep.reason = "error", f"unexpected {type(e).__name__}: {e}"
        return rep
    if not writable_meter_and_tempo(rep):
        return rep
    num, den = rep.time_signature
    events = _merge(hits, rep)
    if not events:
        rep.status = "no_drums"
        mapped = [t for t in rep.tracks if t.gm_note is not None]
        rep.reason = "drum tracks play no notes" if mapped else "no drum tracks"
        return rep
    tpb = TICKS_PER_WHOLE * num // den
    if trim_leading_bars and events[0][0] >= tpb:
        rep.trimmed_bars = events[0][0] // tpb
        shift = rep.trimmed_bars * tpb
        events = [(t - shift, n, v, d) for t, n, v, d in events]
    rep.drum_notes = len(events)
    rep.bars = events[-1][0] // tpb + 1
    rep.by_note = dict(sorted(Counter(n for _, n, _, _ in events).items()))
    rep.status = "converted"
    if out is not None:
        out = Path(out)
        write_drum_midi(events, out, bpm=rep.bpm, time_signature=rep.time_signature)
        rep.output = str(out)
        try:
            rep.tokens = _drum_tokens(out)
        except Exception as e:  # the check is part of the contract: report, never hide
            rep.warnings.append(f"written file does not read back: {e}")
    return rep

