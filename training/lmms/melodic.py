"""Melodic parts of LMMS projects (bass lines, leads, chords, pads) → General MIDI tracks.

Which tracks are melodic (the others are reported with the reason):

* every track that :mod:`.drums` does **not** map to a drum note and that
  plays pitches: LMMS's synths (``tripleoscillator``, ``lb302``, ``monstro``,
  ``zynaddsubfx``, ``sid``, ``organic``, ``bitinvader``, ``watsyn``,
  ``vibedstrings``, ``malletsstk``, ``papu``/``freeboy``, ``nes``,
  ``opulenz``, ``vestige``…), ``kicker`` when it is used as a synth,
  ``sf2player`` on a melodic bank, and ``audiofileprocessor`` playing a
  pitched sample (``basses/``, ``instruments/``, ``stringsnpads/``, or a file
  or track name with a tonal word such as bass, lead, pad, piano);
* skipped: drum tracks (they are :mod:`.drums`' business), sound effects
  (``sfxr``, names with zap/fx/sweep…), whole loops (``beats/``,
  ``bassloops/``), unpitched or unnamed samples.

Pitch: LMMS 1.2 sounds key ``k`` at ``440 Hz · 2^((k − basenote + masterpitch)/12)``
(``NotePlayHandle::updateFrequency``; master pitch only when the track uses it), so
``MIDI = k − basenote + 69 (+ master pitch)``. For synths that is the sounding pitch;
for a sample it is the pitch relative to the sample's own (recorded at the
base note), the absolute octave of a sample is not known.

GM program (so the generator's TRACK family is right): an ``sf2player`` on bank
0 keeps its patch; otherwise the track name's first instrument word
(bass → 38 synth bass, lead/arp/pluck → 81 saw lead, pad → 89 warm pad,
piano/keys → 0, rhodes/epiano → 4, organ → 16, string → 48, guitar → 27,
brass → 61, trumpet → 56, flute → 73, sax → 65, choir/vox → 52, bell → 14,
marimba/mallet → 12, chord → 89), then the plugin (``lb302`` → 38,
``organic`` → 16, ``malletsstk`` → 12, ``vibedstrings`` → 45), then 81.

Known limit: LMMS's per-track arpeggiator and chord creator expand notes at
playback; they are not expanded here (the written notes are the notes in the
patterns).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from nomad_muse.training.lmms.drum_names import _EXT_RE, _FX_WORDS, _tokens
from nomad_muse.training.lmms.drums import classify_drum_track
from nomad_muse.training.lmms.project import (
    GM_DRUM_CHANNEL,
    LMMS_DEFAULT_BASE_KEY,
    MIDI_A440,
    ONE_SHOT_TICKS,
    SF2_DRUM_BANK,
    ProjectReport,
    TrackReport,
    _Hit,
    _instrument_of,
    _int,
    project_events,
)

#: track-name word → GM program (0-based); the first word found wins
NAME_PROGRAMS: tuple[tuple[tuple[str, ...], int], ...] = (
    (("rhodes", "epiano", "ep"), 4),
    (("piano", "pno", "keys", "key"), 0),
    (("organ",), 16),
    (("bass", "bassline", "sub", "subbass", "303"), 38),
    (("pad", "pads", "chord", "chords", "stab", "atmo", "ambient"), 89),
    (("string", "strings", "violin", "cello", "pizzi", "pizz"), 48),
    (("guitar", "gtr", "git"), 27),
    (("trumpet",), 56),
    (("brass", "horn", "horns"), 61),
    (("flute",), 73),
    (("sax",), 65),
    (("oboe",), 68),
    (("choir", "vox", "voice", "vocal"), 52),
    (("bell", "bells", "chime", "chimes"), 14),
    (("marimba", "mallet", "xylo", "vibes"), 12),
    (("lead", "arp", "pluck", "melody", "synth", "saw", "square"), 81),
)
PLUGIN_PROGRAMS = {"lb302": 38, "organic": 16, "malletsstk": 12, "vibedstrings": 45}
DEFAULT_PROGRAM = 81
NON_MELODIC_PLUGINS = {"sfxr": "sfxr makes sound effects"}
_PITCHED_FOLDERS = {"basses", "instruments", "stringsnpads"}
_LOOP_FOLDERS = {"beats", "bassloops", "effects", "latin"}
_TONAL_NAME_WORDS = {w for words, _ in NAME_PROGRAMS for w in words}


def program_for(track_name: str, plugin: str) -> tuple[int, str]:
    """(GM program, why) for a melodic track from its name, else its plugin."""
    toks = _tokens(track_name)
    for words, prog in NAME_PROGRAMS:
        for t in toks:
            if t in words:
                return prog, f"name word {t!r}"
    if plugin in PLUGIN_PROGRAMS:
        return PLUGIN_PROGRAMS[plugin], f"plugin {plugin}"
    return DEFAULT_PROGRAM, "default synth lead"


def _sample_is_pitched(src: str, track_name: str) -> tuple[bool, str]:
    parts = [p.lower() for p in re.split(r"[\\/]", src) if p]
    top = parts[0] if len(parts) > 1 else ""
    words = set(_tokens(_EXT_RE.sub("", parts[-1]) if parts else "")) | set(_tokens(track_name))
    if any(w in words or any(w in t for t in words) for w in _FX_WORDS if len(w) > 2):
        return False, "sound effect sample"
    if top in _LOOP_FOLDERS or "loop" in " ".join(words):
        return False, f"loop sample ({top or 'loop'}/)"
    if top in _PITCHED_FOLDERS:
        return True, f"pitched sample in {top}/"
    if words & _TONAL_NAME_WORDS:
        return True, "tonal word in the sample or track name"
    return False, "sample of unknown pitch (no tonal folder or word)"


def classify_melodic_track(track: ET.Element, where: str, master_pitch: int, track_id: str = "") -> tuple[TrackReport, object]:
    """The report row and the LMMS key → MIDI note mapping of a melodic track, or (row, None) if it is not one.

    ``rep.gm_note`` holds the GM *program* for a melodic track (None when skipped)."""
    drum_rep, drum_map = classify_drum_track(track, where, master_pitch, track_id)
    name = track.get("name", "")
    inst, it, plugin = _instrument_of(track)
    rep = TrackReport(where=where, name=name, instrument=inst or "?", track_id=track_id, sample=drum_rep.sample)
    if it is None:
        rep.reason = "no instrument"
        return rep, None
    if drum_map is not None:
        rep.reason = "drum track (training.lmms.drums)"
        return rep, None
    if inst in NON_MELODIC_PLUGINS:
        rep.reason = NON_MELODIC_PLUGINS[inst]
        return rep, None
    if inst == "audiofileprocessor":
        ok, why = _sample_is_pitched(plugin.get("src", "") if plugin is not None else "", name)
        if not ok:
            rep.reason = why
            return rep, None
    base = _int(it, "basenote", LMMS_DEFAULT_BASE_KEY)
    shift = MIDI_A440 - base + (master_pitch if _int(it, "usemasterpitch", 1) else 0)
    if inst == "sf2player":
        bank = _int(plugin, "bank", 0)
        if bank == SF2_DRUM_BANK:  # classify_drum_track maps these; defensive
            rep.reason = "sf2player drum bank"
            return rep, None
        prog, why = (min(max(_int(plugin, "patch", 0), 0), 127), f"sf2 bank {bank} patch") if bank == 0 else program_for(name, inst)
    else:
        prog, why = program_for(name, inst)
    rep.gm_note = prog
    rep.reason = f"melodic: program {prog} ({why}); MIDI note = LMMS key {shift:+d}"
    return rep, (lambda key, _s=shift: key + _s)


def project_melodic_notes(root: ET.Element, report: ProjectReport) -> list[_Hit]:
    """Every note of the project's melodic tracks, in song ticks (``_Hit.track`` indexes ``report.tracks``)."""
    return project_events(root, report, classify_melodic_track)


def merge_melodic(hits: list[_Hit], report: ProjectReport) -> list[tuple[int, int, int, int, int]]:
    """(tick, MIDI note, velocity, duration, track index): one note per track, key and tick (the louder),
    each ending before the next onset of the same key on its track; step notes get a 16th."""
    best: dict[tuple[int, int, int], _Hit] = {}
    for h in hits:
        k = (h.track, h.tick, h.note)
        if k not in best or h.velocity > best[k].velocity:
            best[k] = h
    by_key: dict[tuple[int, int], list[_Hit]] = {}
    for h in best.values():
        by_key.setdefault((h.track, h.note), []).append(h)
    out = []
    for (track, note), hs in by_key.items():
        hs.sort(key=lambda h: h.tick)
        for i, h in enumerate(hs):
            dur = h.length if h.length > 0 else ONE_SHOT_TICKS
            if i + 1 < len(hs):
                dur = min(dur, hs[i + 1].tick - h.tick)
            out.append((h.tick, note, h.velocity, max(1, dur), track))
    out.sort()
    return out


def channels_for(programs: list[int]) -> dict[int, int]:
    """GM program → MIDI channel (0-based, never the drum channel); programs past 15 share the last channel."""
    chans = [c for c in range(16) if c != GM_DRUM_CHANNEL]
    return {p: chans[min(i, len(chans) - 1)] for i, p in enumerate(sorted(set(programs)))}
