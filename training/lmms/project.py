"""Reading LMMS projects: the file format, the XML model and where every note of every track plays.

One concern: an ``.mmp``/``.mmpz`` file → (track, tick, key, volume, length) events in song ticks.
What a track *is* (drum, bass, lead…) is decided by the callers (:mod:`.drums`, :mod:`.melodic`).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

#: bump when the conversion changes, so cached outputs are rebuilt
CONVERTER_VERSION = 3  # 2: leading empty bars trimmed; 3: package split, melodic tracks (training.lmms.melodic)
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
    melodic_notes: int = 0  # --parts all: notes of the melodic tracks (training.lmms.melodic)
    tonal_tokens: int = 0  # --parts all: tonal-stream tokens after reading the written file back
    melodic_tracks: list[TrackReport] = field(default_factory=list)  # --parts all: melodic rows (gm_note = GM program)

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



def _song_tracks_playing(tracks: list[ET.Element]) -> list[ET.Element]:
    soloed = [t for t in tracks if t.get("solo") == "1"]
    return soloed if soloed else tracks


def project_events(root: ET.Element, report: ProjectReport, classify) -> list[_Hit]:
    """Every note the project plays on the tracks ``classify`` maps, in song ticks; fills the track rows of ``report``.

    ``classify(track, where, master_pitch, track_id)`` returns ``(TrackReport, mapping)``: mapping is
    None (track skipped), an int (every key plays that MIDI note) or a function LMMS key → MIDI note.
    The placement rules (song patterns, Beat+Bassline looping, mutes, solo) are in the package docstring."""
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
        rep, mapping = classify(t, "song", master_pitch, f"song:{i}")
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
            rep, mapping = classify(t, where, master_pitch, f"bb:{i}")
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

