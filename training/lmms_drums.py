"""Drum parts of LMMS projects → General MIDI drum files (channel 10), one per project.

    python -m nomad_muse.training.lmms_drums [--src /usr/share/lmms/projects ...] --out DIR [--json] [--tracks] [--grid PROJECT]

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

import argparse
import json
import re
import sys
import xml.etree.ElementTree as ET
import zlib
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable

#: bump when the conversion changes, so cached outputs are rebuilt
CONVERTER_VERSION = 2  # 2: leading empty bars trimmed
#: Debian lmms-common's demo projects
LMMS_PROJECTS_DIR = Path("/usr/share/lmms/projects")
PROJECT_SUFFIXES = (".mmp", ".mmpz")
MAX_PROJECT_BYTES = 64 * 2**20  # decompressed XML

TICKS_PER_WHOLE = 192  # LMMS DefaultTicksPerBar (a 4/4 bar)
TICKS_PER_QUARTER = TICKS_PER_WHOLE // 4  # 48
TICKS_PER_STEP = 12  # DefaultTicksPerBar / DefaultStepsPerBar (16)
ONE_SHOT_TICKS = TICKS_PER_QUARTER // 4  # a 16th
LMMS_DEFAULT_BASE_KEY = 57  # LMMS's "A4"
MIDI_A440 = 69
GM_DRUM_CHANNEL = 9  # mido numbering (channel 10)
SF2_DRUM_BANK = 128

# ------------------------------------------------------------------ naming → GM drum note
GM_NAMES = {
    35: "acoustic bass drum", 36: "kick", 37: "side stick/rim", 38: "snare", 39: "hand clap",
    42: "closed hi-hat", 43: "high floor tom", 44: "pedal hi-hat", 46: "open hi-hat", 47: "low-mid tom",
    49: "crash", 50: "high tom", 51: "ride", 52: "china", 53: "ride bell", 54: "tambourine",
    55: "splash", 56: "cowbell/other perc", 58: "vibraslap", 60: "hi bongo", 63: "open hi conga", 65: "high timbale",
    67: "high agogo", 69: "cabasa", 70: "maracas", 71: "whistle", 73: "guiro", 75: "claves",
    76: "hi wood block", 81: "open triangle",
}
#: the repo's representative note for "other percussion" (nomad_muse.gm.DRUM_CLASS_NOTE)
OTHER_PERC = 56

_EXT_RE = re.compile(r"\.(ogg|wav|flac|mp3|ds|sf2|sf3|gig|aif|aiff|au|raw|spx|voc|xi|xpf)$", re.I)
_TOKEN_RE = re.compile(r"[a-z]+|\d+")

_FX_WORDS = ("zap", "sfx", "fx", "effect", "sweep", "whoosh", "woosh", "riser", "laser", "explode", "scratch", "warp")
_TONAL_WORDS = (
    "lead", "pad", "chord", "arp", "string", "piano", "pno", "synth", "organ", "guitar", "pluck", "melody",
    "sub", "choir", "vox", "voice", "brass", "trumpet", "flute", "oboe", "violin", "sax", "keys", "rhodes",
    "stab", "bell", "chime", "pizzi",
)
_HAT_EXACT = {"hat", "hats", "hihat", "hihats", "hh", "hhat", "chh", "ohh", "hho", "hhc", "oh", "ch"}
_NOT_HAT = {"that", "what", "chat"}
_OPEN = {"open", "opened", "o", "oh", "ohh", "hho", "opn"}
_PEDAL = {"pedal", "foot", "ph"}
_TOM_EXACT = {"tom", "toms", "tomtom", "syntom", "floortom", "tommy"}
_TOM_LOW = {"low", "lo", "l", "floor", "deep"}
_TOM_HIGH = {"hi", "high", "h"}
_SNARE_EXACT = {"sn", "sd", "snr", "snar", "snarre", "brush"}
_KICK_EXACT = {"bd", "kd", "kik", "kck", "bassdrum", "bdrum", "kicker"}


def _tokens(name: str) -> list[str]:
    return _TOKEN_RE.findall(_EXT_RE.sub("", name.strip().lower()).replace("'", ""))


def _is_hat(t: str) -> bool:
    return t in _HAT_EXACT or "hihat" in t or (t.endswith("hat") and t not in _NOT_HAT)


def drum_note_for_name(name: str, *, kit_letters: bool = False) -> tuple[int, str] | None:
    """(GM drum note, matched word) for a sample or track name, or None when it names no drum.

    ``kit_letters``: also read drumsynth's one-letter prefixes (``K_8bit`` kick, ``S_Linn`` snare,
    ``H_open`` hat), only meaningful for files under ``drumsynth/``.
    """
    toks = _tokens(name)
    s = set(toks)
    if not toks:
        return None
    # rim / side stick (before snare: "snare_rim01" is a rimshot)
    for t in toks:
        if t.startswith("rim") or t in ("sidestick", "stick", "stk"):
            return 37, t
    # hi-hats (pedal, open, closed)
    hat = next((t for t in toks if _is_hat(t)), None)
    if hat is None and kit_letters and "h" in s and s & {"closed", "open", "c", "o"}:
        hat = "h"
    if hat is not None:
        if s & _PEDAL:
            return 44, hat
        if s & _OPEN or any(t.startswith("open") for t in toks):
            return 46, hat
        return 42, hat
    for t in toks:
        if "crash" in t or "cymbal" in t or "cym" in t:
            return 49, t
        if t in ("china",):
            return 52, t
        if t in ("splash",):
            return 55, t
        if t == "ride" or t.startswith("ride"):
            return (53 if "bell" in s else 51), t
    for t in toks:
        if t in _TOM_EXACT or (t.startswith("tom") and len(t) <= 5):
            if s & _TOM_LOW:
                return 43, t
            if s & _TOM_HIGH:
                return 50, t
            return 47, t
    for t in toks:
        if "clap" in t or t == "clp":
            return 39, t
    for t in toks:
        if "snare" in t or t in _SNARE_EXACT or "snr" in t:
            return 38, t
    for t in toks:
        if "kick" in t or t in _KICK_EXACT:
            return 36, t
    for a, b in zip(toks, toks[1:]):
        if a == "bass" and b == "drum":
            return 36, "bass drum"
    for t in toks:
        if "cowbell" in t or t == "cow":
            return 56, t
        if t.startswith("tamb"):
            return 54, t
        if t.startswith(("shak", "shaa", "maraca")):
            return 70, t
        if t in ("cab", "cabasa"):
            return 69, t
        if t in ("cga", "conga", "congas") or "cga" in t or t.startswith("conga"):
            return 63, t
        if t.startswith("bongo"):
            return 60, t
        if t.startswith("timbal"):
            return 65, t
        if t.startswith("agogo"):
            return 67, t
        if t.startswith("wood") or t in ("block", "woodblock"):
            return 76, t
        if t.startswith("clav") or t == "clave":
            return 75, t
        if t.startswith("triangle"):
            return 81, t
        if t == "guiro":
            return 73, t
        if t.startswith("vibra"):
            return 58, t
    if kit_letters:
        if "k" in s:
            return 36, "k"
        if "s" in s:
            return 38, "s"
    for t in toks:
        if t.startswith("perc") or t in ("tabla", "taiko", "gamelan", "cuica", "cui"):
            return OTHER_PERC, t
    return None


def _has_word(name: str, words: Iterable[str]) -> str | None:
    """The first token of ``name`` that is one of ``words`` (words of 3+ letters also match as a prefix)."""
    for t in _tokens(name):
        for w in words:
            if t == w or (len(w) >= 3 and t.startswith(w)):
                return t
    return None


def _tonal_word(name: str) -> str | None:
    toks = _tokens(name)
    for i, t in enumerate(toks):
        if t.startswith("bass") and not t.startswith("bassdrum") and toks[i + 1 : i + 2] != ["drum"]:
            return t
    return _has_word(name, _TONAL_WORDS)


# sample folders of lmms-common
_DRUM_FOLDERS = {"drums", "drumsynth"}
_NON_DRUM_FOLDERS = {"basses", "bassloops", "effects", "instruments", "shapes", "stringsnpads", "waveforms", "latin"}
_DRUMSYNTH_NON_DRUM = {"instrument", "misc_bass", "misc_synth", "misc_fx", "effects"}
_FOLDER_HINT = {"misc_hats": (42, "misc_hats folder"), "misc_claps": (39, "misc_claps folder"),
                "misc_perc": (OTHER_PERC, "misc_perc folder")}


def classify_sample(src: str, track_name: str) -> tuple[int | None, str]:
    """GM drum note for an audiofileprocessor track, or (None, why it is not a drum)."""
    parts = [p for p in re.split(r"[\\/]+", src.strip()) if p]
    base = parts[-1] if parts else ""
    folders = [p.lower() for p in parts[:-1]]
    top = folders[0] if folders else ""
    sub = folders[1] if len(folders) > 1 else ""
    drumsynth = top == "drumsynth"
    if top in _NON_DRUM_FOLDERS:
        return None, f"tonal/FX sample folder {top}/"
    if drumsynth and sub in _DRUMSYNTH_NON_DRUM:
        return None, f"non-drum drumsynth folder {top}/{sub}/"
    if top == "beats" and re.search(r"loop|beat|break|jungle", base.lower()):
        return None, "whole drum-loop sample, not single hits"
    hit = drum_note_for_name(base, kit_letters=drumsynth)
    if hit:
        return hit[0], f"sample name {hit[1]!r}"
    fx = _has_word(base, _FX_WORDS) or _has_word(track_name, _FX_WORDS)
    if fx:
        return None, f"sound effect ({fx!r})"
    hit = drum_note_for_name(track_name)
    if hit:
        return hit[0], f"track name {hit[1]!r}"
    if sub in _FOLDER_HINT:
        return _FOLDER_HINT[sub]
    tonal = _tonal_word(base) or _tonal_word(track_name)
    if tonal:
        return None, f"tonal sample ({tonal!r})"
    if top in _DRUM_FOLDERS or top == "beats":
        return OTHER_PERC, f"unnamed drum sample in {top}/ → other percussion"
    return None, "sample is neither in a drum folder nor named like a drum"


def classify_kicker(track_name: str) -> tuple[int | None, str]:
    hit = drum_note_for_name(track_name)
    if hit:
        return hit[0], f"kicker, track name {hit[1]!r}"
    toks = set(_tokens(track_name))
    if not toks or toks <= {"default", "preset", "kicker", "standard", "init"}:
        return 36, "kicker (synth kick), default name"
    return None, f"kicker used as a synth (track name {track_name!r} names no drum)"


# ------------------------------------------------------------------ reading projects
class ProjectError(Exception):
    """A project that cannot be read; the message is the reason."""


def read_project_xml(path: str | Path) -> ET.Element:
    """The root element of an LMMS project (.mmp XML or .mmpz compressed), checking the header."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise ProjectError(f"cannot read file: {e.strerror or e}") from e
    if not data.strip():
        raise ProjectError("empty file")
    head = data.lstrip()[:1]
    if head != b"<" and not data.startswith(b"\xef\xbb\xbf"):
        # .mmpz (Qt's qCompress): 4-byte big-endian expected length, then a zlib stream
        if len(data) < 6:
            raise ProjectError("too short for an .mmpz project (4-byte length + zlib stream)")
        expected = int.from_bytes(data[:4], "big")
        if data[4] != 0x78:
            raise ProjectError(f"not an LMMS project: neither XML nor a qCompress header (byte 5 is 0x{data[4]:02x}, zlib needs 0x78)")
        if expected > MAX_PROJECT_BYTES:
            raise ProjectError(f"header says {expected} bytes uncompressed, over the {MAX_PROJECT_BYTES // 2**20} MiB limit")
        d = zlib.decompressobj()
        try:
            xml = d.decompress(data[4:], MAX_PROJECT_BYTES + 1)
            if not d.eof:
                raise ProjectError("truncated zlib stream (corrupt .mmpz)")
        except zlib.error as e:
            raise ProjectError(f"corrupt zlib stream: {e}") from e
        if len(xml) > MAX_PROJECT_BYTES:
            raise ProjectError(f"more than {MAX_PROJECT_BYTES // 2**20} MiB of XML")
        data = xml
    try:
        root = ET.fromstring(data)
    except ET.ParseError as e:
        raise ProjectError(f"XML parse error: {e}") from e
    if root.tag not in ("lmms-project", "multimedia-project"):
        raise ProjectError(f"root element <{root.tag}> is not an LMMS project")
    song = root.find("song")
    if song is None or song.find("trackcontainer") is None:
        raise ProjectError("no <song><trackcontainer>: not a song project")
    return root


def _int(e: ET.Element | None, attr: str, default: int = 0) -> int:
    if e is None:
        return default
    v = e.get(attr)
    if v is None:
        return default
    try:
        return int(round(float(v)))
    except ValueError:
        return default


def _model_value(elem: ET.Element, name: str, default: float) -> float:
    """An LMMS model saved as an attribute, or as a child element with ``value`` (when automated)."""
    v = elem.get(name)
    if v is None:
        child = elem.find(name)
        v = child.get("value") if child is not None else None
    try:
        return float(v) if v is not None else default
    except ValueError:
        return default


@dataclass
class TrackReport:
    where: str  # "song" or "bb <k> '<name>'"
    name: str
    instrument: str
    sample: str = ""
    gm_note: int | None = None  # None: not converted; -1: sf2 bank 128 (per-note keys)
    reason: str = ""
    notes: int = 0  # hits this track contributed (before merging)
    keys: int = 0  # distinct LMMS keys it plays
    track_id: str = ""  # "song:<i>" / "bb:<i>": the track's place in its container (a BB track has one row per BB)


@dataclass
class ProjectReport:
    source: str
    relative: str
    status: str = "no_drums"  # converted | no_drums | error
    reason: str = ""
    output: str | None = None
    creator: str = ""
    bpm: float = 0.0
    time_signature: tuple[int, int] = (4, 4)
    bars: int = 0
    drum_notes: int = 0
    merged_duplicates: int = 0
    by_note: dict[int, int] = field(default_factory=dict)
    tracks: list[TrackReport] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    tokens: int = 0  # drum-stream tokens after reading the written file back (score_streams)
    trimmed_bars: int = 0  # empty bars before the first drum hit, cut from the written file

    def to_dict(self) -> dict:
        d = asdict(self)
        d["by_note"] = {str(k): v for k, v in sorted(self.by_note.items())}
        return d


@dataclass
class _Hit:
    tick: int
    note: int
    velocity: int
    length: int  # LMMS ticks; <= 0 = one-shot
    track: int


def _velocity(vol: int) -> int:
    return max(1, min(127, round(vol * 127 / 200)))


def _pattern_length(pat: ET.Element, tpb: int) -> int:
    """A pattern's length in ticks, recomputed as LMMS 1.2 does on load (Pattern::updateLength)."""
    notes = [(_int(n, "pos"), _int(n, "len")) for n in pat.findall("note")]
    steps_per_bar = max(1, tpb // TICKS_PER_STEP)
    if any(ln > 0 for _, ln in notes):  # melody pattern: up to its last note
        end = max([tpb] + [p + ln for p, ln in notes if ln > 0])
    else:  # beat pattern: its steps
        end = max([tpb] + [p + 1 for p, ln in notes if ln < 0])
        steps = _int(pat, "steps", steps_per_bar) or steps_per_bar
        if steps != steps_per_bar:
            end = steps * tpb // steps_per_bar
    return -(-end // tpb) * tpb


def _automation_length(ap: ET.Element, tpb: int) -> int:
    times = [_int(t, "pos") for t in ap.findall("time")]
    return -(-max(times) // tpb) * tpb if times else 0


def _instrument_of(track: ET.Element) -> tuple[str, ET.Element | None, ET.Element | None]:
    it = track.find("instrumenttrack")
    if it is None:
        return "", None, None
    ins = it.find("instrument")
    name = ins.get("name", "") if ins is not None else ""
    plugin = None
    if ins is not None:
        plugin = ins.find(name) if name else None
        if plugin is None and len(ins):
            plugin = list(ins)[0]
    return name, it, plugin


def _classify_track(track: ET.Element, where: str, master_pitch: int, track_id: str = "") -> tuple[TrackReport, object]:
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


def _song_tracks_playing(tracks: list[ET.Element]) -> list[ET.Element]:
    soloed = [t for t in tracks if t.get("solo") == "1"]
    return soloed if soloed else tracks


def project_hits(root: ET.Element, report: ProjectReport) -> list[_Hit]:
    """Every drum hit the project plays, in song ticks; fills the track rows of ``report``."""
    head = root.find("head")
    head = head if head is not None else ET.Element("head")
    num = int(_model_value(head, "timesig_numerator", 4)) or 4
    den = int(_model_value(head, "timesig_denominator", 4)) or 4
    report.bpm = _model_value(head, "bpm", 140.0)
    report.time_signature = (num, den)
    report.creator = f"{root.get('creator', 'LMMS')} {root.get('creatorversion', '')}".strip()
    master_pitch = int(_model_value(head, "masterpitch", 0))
    tpb = max(1, TICKS_PER_WHOLE * num // den)
    song_tc = root.find("song").find("trackcontainer")
    song_tracks = song_tc.findall("track")
    if any(t.get("solo") == "1" for t in song_tracks):
        report.warnings.append("soloed tracks: only they are converted")
    playing = {id(t) for t in _song_tracks_playing(song_tracks)}
    hits: list[_Hit] = []

    def add_track(rep: TrackReport, mapping, events: list[tuple[int, int, int, int]]) -> None:
        rep.keys = len({k for _, k, _, _ in events})
        idx = len(report.tracks)
        report.tracks.append(rep)
        if mapping is None:
            return
        for tick, key, vol, length in events:
            note = mapping(key) if callable(mapping) else mapping
            if not 0 <= note <= 127:
                report.warnings.append(f"{rep.name}: key {key} gives MIDI note {note}; dropped")
                continue
            if vol <= 0:
                continue
            hits.append(_Hit(tick, note, _velocity(vol), length, idx))
            rep.notes += 1

    # ---- song-level instrument tracks
    for i, t in enumerate(song_tracks):
        if t.get("type") != "0":
            continue
        rep, mapping = _classify_track(t, "song", master_pitch, f"song:{i}")
        if t.get("muted") == "1" or id(t) not in playing:
            rep.gm_note, rep.reason = None, "muted track" if t.get("muted") == "1" else "not soloed"
            add_track(rep, None, [])
            continue
        events = []
        for pat in t.findall("pattern"):
            if pat.get("muted") == "1":
                continue
            p0, plen = _int(pat, "pos"), _pattern_length(pat, tpb)
            for n in pat.findall("note"):
                pos, ln = _int(n, "pos"), _int(n, "len")
                if ln == 0 or not 0 <= pos < plen:
                    continue
                events.append((p0 + pos, _int(n, "key", LMMS_DEFAULT_BASE_KEY), _int(n, "vol", 100), ln))
        add_track(rep, mapping, events)

    # ---- Beat+Bassline tracks
    bb_tracks = [t for t in song_tracks if t.get("type") == "1"]
    bb_tc = None
    for t in bb_tracks:
        bbt = t.find("bbtrack")
        if bbt is not None and bbt.find("trackcontainer") is not None:
            bb_tc = bbt.find("trackcontainer")
            break
    if bb_tracks and bb_tc is None:
        report.warnings.append("BB tracks but no BB track container")
    if bb_tc is None:
        return hits
    inner = bb_tc.findall("track")
    # the k-th TCO of each BB-container track belongs to BB k (Track::getTCO(k), file order)
    tcos_of = {}
    for t in inner:
        kind = {"0": "pattern", "5": "automationpattern", "2": "sampletco"}.get(t.get("type", ""), "")
        tcos_of[id(t)] = t.findall(kind) if kind else []
    for k, bbt in enumerate(bb_tracks):
        lengths = [tpb]
        for t in inner:
            tcos = tcos_of[id(t)]
            if k < len(tcos):
                tco = tcos[k]
                if tco.tag == "pattern":
                    lengths.append(_pattern_length(tco, tpb))
                    if _int(tco, "pos", k * tpb) != k * tpb:
                        report.warnings.append(f"BB {k}: pattern of {t.get('name')!r} at pos {tco.get('pos')} (expected {k * tpb}); used by index")
                elif tco.tag == "automationpattern":
                    lengths.append(_automation_length(tco, tpb))
        bb_len = -(-max(lengths) // tpb) * tpb
        bbtcos = [(_int(b, "pos"), _int(b, "len")) for b in bbt.findall("bbtco") if b.get("muted") != "1"]
        where = f"bb {k} {bbt.get('name', '')!r}"
        bb_off = bbt.get("muted") == "1" or id(bbt) not in playing
        for i, t in enumerate(inner):
            if t.get("type") != "0":
                continue
            rep, mapping = _classify_track(t, where, master_pitch, f"bb:{i}")
            if bb_off or t.get("muted") == "1":
                why = "muted BB track" if bbt.get("muted") == "1" else ("not soloed" if bb_off else "muted track")
                rep.gm_note, rep.reason = None, why
                add_track(rep, None, [])
                continue
            tcos = tcos_of[id(t)]
            pat = tcos[k] if k < len(tcos) else None
            if pat is None or pat.get("muted") == "1" or not bbtcos:
                add_track(rep, mapping, [])
                continue
            notes = [(_int(n, "pos"), _int(n, "key", LMMS_DEFAULT_BASE_KEY), _int(n, "vol", 100), _int(n, "len"))
                     for n in pat.findall("note")]
            notes = [n for n in notes if n[3] != 0 and 0 <= n[0] < bb_len]
            events = []
            for i, (s, ln) in enumerate(bbtcos):
                for r in range(0, max(ln, 0), bb_len):
                    for pos, key, vol, nlen in notes:
                        tick = s + r + pos
                        if tick - s >= ln:
                            continue
                        # BBTrack::play: the bbtco in range that started last plays (ranges are inclusive)
                        owner = max((j for j, (s2, l2) in enumerate(bbtcos) if s2 <= tick <= s2 + l2),
                                    key=lambda j: bbtcos[j][0])
                        if bbtcos[owner][0] != s:
                            continue
                        events.append((tick, key, vol, nlen))
            add_track(rep, mapping, events)
    return hits


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
    num, den = rep.time_signature
    if den & (den - 1) or not 1 <= num <= 255:
        rep.status, rep.reason = "error", f"time signature {num}/{den} cannot be written to MIDI"
        return rep
    if not 10 <= rep.bpm <= 999:
        rep.warnings.append(f"tempo {rep.bpm} BPM out of range; 140 used")
        rep.bpm = 140.0
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


def find_projects(src: Path) -> list[Path]:
    src = Path(src)
    if src.is_file():
        return [src]
    return sorted(p for p in src.rglob("*") if p.suffix.lower() in PROJECT_SUFFIXES and p.is_file())


def convert_projects(src_dirs, out_dir: str | Path) -> list[ProjectReport]:
    """Convert every .mmp/.mmpz under ``src_dirs`` into ``out_dir/<relative path>.mid``.

    With several source folders each gets its own sub-folder (its name). Returns one report per project.
    """
    if isinstance(src_dirs, (str, Path)):
        src_dirs = [src_dirs]
    src_dirs = [Path(s) for s in src_dirs]
    out_dir = Path(out_dir)
    reports = []
    for src in src_dirs:
        base = src.parent if src.is_file() else src
        prefix = Path(src.name) if len(src_dirs) > 1 and src.is_dir() else Path()
        for p in find_projects(src):
            rel = prefix / p.relative_to(base)
            reports.append(convert_project(p, out_dir / rel.with_suffix(".mid"), relative=str(rel)))
    return reports


# ------------------------------------------------------------------ reporting
def gm_class(note: int) -> str:
    from nomad_muse.gm import DRUM_MAP

    return DRUM_MAP.get(note, "other_perc")


def summary(reports: list[ProjectReport]) -> dict:
    conv = [r for r in reports if r.status == "converted"]
    by_note: Counter = Counter()
    for r in conv:
        by_note.update(r.by_note)
    by_class: Counter = Counter()
    for n, c in by_note.items():
        by_class[gm_class(n)] += c
    skipped_tracks: Counter = Counter()
    for r in reports:  # each track once per reason (a BB-container track has a row per BB)
        for tid, why in {(t.track_id, re.sub(r"\(.*|'.*", "", t.reason).strip()) for t in r.tracks if t.gm_note is None}:
            skipped_tracks[why] += 1
    return {
        "converter_version": CONVERTER_VERSION,
        "projects": len(reports),
        "converted": len(conv),
        "drum_notes": sum(r.drum_notes for r in conv),
        "bars": sum(r.bars for r in conv),
        "drum_stream_tokens": sum(r.tokens for r in conv),
        "by_note": {str(k): v for k, v in sorted(by_note.items())},
        "by_class": dict(by_class.most_common()),
        "no_drums": [{"project": r.relative, "reason": r.reason} for r in reports if r.status == "no_drums"],
        "errors": [{"project": r.relative, "reason": r.reason} for r in reports if r.status == "error"],
        "skipped_tracks_by_reason": dict(skipped_tracks.most_common()),
    }


def _mapped_text(r: ProjectReport) -> str:
    if r.status != "converted":
        return r.reason
    mapped = list(dict.fromkeys((t.name[:18], "sf2" if t.gm_note == -1 else t.gm_note)
                                for t in r.tracks if t.gm_note is not None and t.notes))
    txt = ", ".join(f"{name}→{note}" for name, note in mapped[:6])
    return txt + (f" +{len(mapped) - 6} more" if len(mapped) > 6 else "")


def format_report(reports: list[ProjectReport], *, tracks: bool = False) -> str:
    """The summary table (and with ``tracks`` every track: mapped to what, or skipped and why)."""
    lines = [f"{'project':<52} {'status':<9} {'bpm':>5} {'sig':>4} {'bars':>5} {'notes':>6} {'tokens':>7}  drum tracks → GM note"]
    for r in reports:
        sig = f"{r.time_signature[0]}/{r.time_signature[1]}"
        lines.append(f"{r.relative[:52]:<52} {r.status:<9} {r.bpm:>5.0f} {sig:>4} {r.bars:>5} {r.drum_notes:>6} {r.tokens:>7}  {_mapped_text(r)}")
        if tracks:
            for t in r.tracks:
                if t.where != "song" and not t.notes and not t.keys:
                    continue  # this BB's pattern of the track is empty
                tgt = "skip" if t.gm_note is None else ("sf2 keys" if t.gm_note == -1 else f"{t.gm_note} {GM_NAMES.get(t.gm_note, '')}")
                lines.append(f"    [{t.where}] {t.name[:30]!r:<32} {t.instrument[:18]:<18} {t.sample[:40]:<40} → {tgt:<22} "
                             f"{t.notes:>5} hits {t.keys:>2} keys  {t.reason}")
            lines += [f"    ! {w}" for w in r.warnings]
    s = summary(reports)
    lines += ["", f"projects {s['projects']}, converted {s['converted']}, drum notes {s['drum_notes']}, "
                  f"bars {s['bars']}, drum-stream tokens (score_streams) {s['drum_stream_tokens']}",
              "per GM note: " + ", ".join(f"{k} {GM_NAMES.get(int(k), '')}: {v}" for k, v in s["by_note"].items()),
              "per class:   " + ", ".join(f"{k}: {v}" for k, v in s["by_class"].items())]
    lines += [f"skipped project {r['project']}: {r['reason']}" for r in s["no_drums"] + s["errors"]]
    lines.append("skipped tracks: " + "; ".join(f"{k} ×{v}" for k, v in s["skipped_tracks_by_reason"].items()))
    return "\n".join(lines)


def format_grid(path: str | Path, *, first_bar: int | None = None, bars: int = 2) -> str:
    """A 16th-note grid of a written drum file, one row per GM note, for checking by eye.

    Starts at ``first_bar`` (0-based; default: the first bar with a hit). ``X`` velocity >= 80,
    ``x`` >= 40, ``o`` below; the ruler shows beat numbers."""
    from nomad_muse.generator.midi_io import read_midi

    score = read_midi(path)
    _, num, den = score.time_signatures[0]
    per_bar = max(1, round(num * 16 / den))
    if first_bar is None:
        first_bar = min((round(n.start * 4) // per_bar for n in score.drum_notes), default=0)
    rows: dict[int, list[str]] = {}
    for n in score.drum_notes:
        b, step = divmod(round(n.start * 4), per_bar)
        if first_bar <= b < first_bar + bars:
            row = rows.setdefault(n.pitch, ["."] * (per_bar * bars))
            row[(b - first_bar) * per_bar + step] = "X" if n.velocity >= 80 else ("x" if n.velocity >= 40 else "o")
    ruler = "".join(str(i // 4 + 1)[-1] if i % 4 == 0 else " " for i in range(per_bar))
    out = [f"{Path(path).name}: {score.tempo_bpm:g} BPM {num}/{den}, bars {first_bar + 1}-{first_bar + bars}",
           f"{'':<20}|" + "|".join([ruler] * bars) + "|"]
    for note in sorted(rows, reverse=True):
        cells = rows[note]
        name = f"{note} {GM_NAMES.get(note, gm_class(note))}"
        out.append(f"{name[:20]:<20}|" + "|".join("".join(cells[b * per_bar:(b + 1) * per_bar]) for b in range(bars)) + "|")
    return "\n".join(out)


def lmms_common_version() -> str:
    """The installed Debian lmms-common version (for provenance), or "unknown"."""
    import subprocess

    try:
        r = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "lmms-common"], capture_output=True, text=True, timeout=10)
        return r.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def provenance(n_projects: int, version: str) -> str:
    """The model card's provenance line for the converted LMMS drums."""
    return (f"Debian package lmms-common {version}: {n_projects} demo projects (licences per "
            "/usr/share/doc/lmms-common/copyright), drum tracks converted to GM channel-10 MIDI by training.lmms_drums")


def ensure_converted(out_dir: Path, src_dirs=(LMMS_PROJECTS_DIR,)) -> Path | None:
    """The converted folder (converting when missing or made by another converter version), or None
    when there are no LMMS projects or no drums in them. Writes ``out_dir/lmms_drums.json`` (the reports)."""
    src_dirs = [Path(s) for s in src_dirs if Path(s).is_dir()]
    if not src_dirs:
        return None
    out_dir = Path(out_dir)
    meta = out_dir / "lmms_drums.json"
    if meta.is_file() and any(out_dir.rglob("*.mid")):
        try:
            if json.loads(meta.read_text()).get("summary", {}).get("converter_version") == CONVERTER_VERSION:
                return out_dir
        except (OSError, ValueError):
            pass
    if out_dir.is_dir():
        for old in out_dir.rglob("*.mid"):  # our own earlier output
            old.unlink()
    reports = convert_projects(src_dirs, out_dir)
    s = summary(reports)
    out_dir.mkdir(parents=True, exist_ok=True)
    meta.write_text(json.dumps({"sources": [str(d) for d in src_dirs], "lmms_common_version": lmms_common_version(), "summary": s,
                                "projects": [r.to_dict() for r in reports]}, indent=1))
    return out_dir if s["converted"] else None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", type=Path, nargs="+", default=[LMMS_PROJECTS_DIR], help="folders (or files) of .mmp/.mmpz projects")
    ap.add_argument("--out", type=Path, required=True, help="output folder for the .mid files")
    ap.add_argument("--json", action="store_true", help="print the reports as JSON instead of the table")
    ap.add_argument("--tracks", action="store_true", help="list every track: mapped to what, or skipped and why")
    ap.add_argument("--grid", metavar="PROJECT", help="print the first bars of this converted project (relative path or name) as a step grid")
    ap.add_argument("--bars", type=int, default=2)
    args = ap.parse_args(argv)
    missing = [s for s in args.src if not s.exists()]
    if missing:
        print(f"error: not found: {', '.join(map(str, missing))}", file=sys.stderr)
        return 2
    reports = convert_projects(args.src, args.out)
    if args.json:
        print(json.dumps({"summary": summary(reports), "projects": [r.to_dict() for r in reports]}, indent=1))
    else:
        print(format_report(reports, tracks=args.tracks))
    if args.grid:
        for r in reports:
            if r.output and args.grid in (r.relative, Path(r.relative).stem, Path(r.relative).name):
                print()
                print(format_grid(r.output, bars=args.bars))
    return 0


if __name__ == "__main__":
    sys.exit(main())
