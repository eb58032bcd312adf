"""LMMS projects → GM drum MIDI (training.lmms), on real lmms-common projects (tests/data/lmms/).

Needs neither LMMS nor /usr/share/lmms: the samples are copies (see tests/data/lmms/README.md);
variants (muted, sf2player, kicker, corrupt) are made from them in tmp_path.
"""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
import zlib
from collections import Counter, defaultdict
from pathlib import Path

import mido
import pytest

from nomad_muse.generator import vocab as V
from nomad_muse.generator.midi_io import read_midi
from nomad_muse.generator.tokenizer import HEADER_LEN, score_streams
from nomad_muse.training.lmms import (
    CONVERTER_VERSION,
    LMMS_PROJECTS_DIR,
    ProjectError,
    ProjectReport,
    classify_kicker,
    classify_sample,
    convert_project,
    convert_projects,
    drum_note_for_name,
    ensure_converted,
    format_grid,
    main,
    project_hits,
    read_project_xml,
)
from nomad_muse.training.lmms.project import _automation_length, _int, _pattern_length

DATA = Path(__file__).parent / "data" / "lmms"
GRESHZ = DATA / "Greshz-CoolSnip.mmpz"  # LMMS 0.4.5, compressed, song-level patterns
CRUNK = DATA / "Crunk(Demo).mmp"  # LMMS 1.2.0, XML, Beat+Bassline
NO_DRUMS = DATA / "editing_note_volumes.mmp"  # a BB with only a tripleoscillator


def _ticks(score, pitch):
    return sorted(round(n.start * 48) for n in score.drum_notes if n.pitch == pitch)


def _variant(tmp_path: Path, edit, name="variant.mmp", base: Path = CRUNK) -> Path:
    """A real project (Crunk(Demo).mmp by default) with ``edit(root)`` applied, written as plain XML."""
    root = read_project_xml(base)
    edit(root)
    p = tmp_path / name
    ET.ElementTree(root).write(p, encoding="utf-8", xml_declaration=True)
    return p


def _bb_track(root, name):
    return next(t for t in root.iter("track") if t.get("name") == name)


# ------------------------------------------------------------------ reading
def test_both_formats_parse():
    raw = GRESHZ.read_bytes()
    assert int.from_bytes(raw[:4], "big") == len(zlib.decompress(raw[4:]))  # the qCompress header
    z = read_project_xml(GRESHZ)
    x = read_project_xml(CRUNK)
    assert z.tag == "multimedia-project" and z.find("head").get("bpm") == "140"
    assert x.tag == "lmms-project" and x.find("head").get("bpm") == "130"


@pytest.mark.parametrize("payload, reason", [
    (b"", "empty file"),
    (b"   \n", "empty file"),
    (b"\x00\x00\x4f\xf1\x78\x9c" + b"\x00" * 40, "corrupt zlib"),
    (b"\x00\x00\x10\x00garbage-not-zlib", "neither XML nor a qCompress header"),
    (b"<?xml version='1.0'?><lmms-project><head", "XML parse error"),
    (b"<html><body>hi</body></html>", "not an LMMS project"),
])
def test_unreadable_projects_are_skipped_with_a_reason(tmp_path, payload, reason):
    p = tmp_path / "bad.mmpz"
    p.write_bytes(payload)
    with pytest.raises(ProjectError, match=reason):
        read_project_xml(p)
    rep = convert_project(p, tmp_path / "bad.mid")
    assert rep.status == "error" and reason in rep.reason
    assert not (tmp_path / "bad.mid").exists()


def test_truncated_real_mmpz_is_skipped_and_the_batch_goes_on(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(GRESHZ, src)
    shutil.copy(CRUNK, src)
    (src / "truncated.mmpz").write_bytes(GRESHZ.read_bytes()[:1000])
    (src / "empty.mmp").write_bytes(b"")
    reports = {r.relative: r for r in convert_projects(src, tmp_path / "out")}
    assert reports["truncated.mmpz"].status == "error" and "truncated" in reports["truncated.mmpz"].reason
    assert reports["empty.mmp"].status == "error" and reports["empty.mmp"].reason == "empty file"
    assert reports["Greshz-CoolSnip.mmpz"].status == reports["Crunk(Demo).mmp"].status == "converted"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["Crunk(Demo).mid", "Greshz-CoolSnip.mid"]


# ------------------------------------------------------------------ placement
def test_song_level_patterns_land_on_their_ticks(tmp_path):
    rep = convert_project(GRESHZ, tmp_path / "g.mid", trim_leading_bars=False)
    assert rep.status == "converted" and rep.bpm == 140 and rep.time_signature == (4, 4)
    score = read_midi(tmp_path / "g.mid")
    # patterns at pos 192/576/960, quarter notes from pattern-relative 96/0/0: every quarter 288…1296
    assert _ticks(score, 36) == list(range(288, 1297, 48))
    assert {n.pitch for n in score.drum_notes} == {36} and rep.by_note == {36: 22}
    assert all(n.velocity == 64 and n.duration == 1.0 for n in score.drum_notes)  # vol 100 → 64; len 48 = a beat
    assert rep.bars == 7  # last kick at tick 1296 = bar 7


def test_leading_empty_bars_are_trimmed(tmp_path):
    # Greshz's first kick is at tick 288 (bar 1, beat 3): one empty bar is cut, everything moves by 192
    rep = convert_project(GRESHZ, tmp_path / "g.mid")
    assert rep.trimmed_bars == 1 and rep.bars == 6
    assert _ticks(read_midi(tmp_path / "g.mid"), 36) == list(range(96, 1297 - 192, 48))
    # Crunk starts on the downbeat of bar 0: nothing to cut
    rep = convert_project(CRUNK, tmp_path / "c.mid")
    assert rep.trimmed_bars == 0 and _ticks(read_midi(tmp_path / "c.mid"), 36)[0] == 0


def test_bb_patterns_repeat_per_bbtco(tmp_path):
    rep = convert_project(CRUNK, tmp_path / "c.mid")
    score = read_midi(tmp_path / "c.mid")
    bars = range(8)  # two bbtcos of 4 bars each, a one-bar BB pattern
    assert _ticks(score, 36) == sorted(b * 192 + t for b in bars for t in (0, 120))  # kick on 1 and the "and" of 3
    assert _ticks(score, 39) == sorted(b * 192 + t for b in bars for t in (48, 144))  # clap on 2 and 4
    assert _ticks(score, 36)[0] == 0
    assert rep.drum_notes == 32 and rep.bars == 8
    assert all(n.duration == 0.25 for n in score.drum_notes)  # len="-192" step notes → a 16th


def test_tonal_tracks_are_ignored_with_reasons(tmp_path):
    rep = convert_project(CRUNK, tmp_path / "c.mid")
    rows = {t.name: t for t in rep.tracks}
    assert rows["Kick 01"].gm_note == 36 and rows["Clap 04"].gm_note == 39
    assert rows["Bass"].gm_note is None and "basses/" in rows["Bass"].reason
    assert rows["Synth"].gm_note is None and "papu" in rows["Synth"].reason
    g = convert_project(GRESHZ, tmp_path / "g.mid")
    assert {t.name: t.gm_note for t in g.tracks} == {"Default preset": None, "bassdrum03.ogg": 36}
    assert {n.channel for n in read_midi(tmp_path / "c.mid").notes} == {9}


def test_project_without_drums_writes_nothing(tmp_path):
    reports = convert_projects([NO_DRUMS], tmp_path / "out")
    assert [(r.status, r.reason) for r in reports] == [("no_drums", "no drum tracks")]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.mid"))


def test_tempo_and_time_signature_are_written(tmp_path):
    convert_project(CRUNK, tmp_path / "c.mid")
    mf = mido.MidiFile(tmp_path / "c.mid")
    assert mf.type == 1 and mf.ticks_per_beat == 48  # LMMS ticks kept exactly
    meta = {m.type: m for m in mf.tracks[0]}
    assert mido.tempo2bpm(meta["set_tempo"].tempo) == pytest.approx(130, abs=1e-3)  # whole µs per beat
    assert (meta["time_signature"].numerator, meta["time_signature"].denominator) == (4, 4)
    score = read_midi(tmp_path / "c.mid")
    assert score.tempo_bpm == pytest.approx(130, abs=1e-3) and score.time_signatures == ((0.0, 4, 4),)


def test_time_signature_sets_the_bar_length(tmp_path):
    def three_four(root):
        root.find("head").set("timesig_numerator", "3")
        for p in root.iter("pattern"):
            p.set("steps", "12")  # what LMMS saves for a one-bar step pattern in 3/4
    rep = convert_project(_variant(tmp_path, three_four), tmp_path / "v.mid")
    score = read_midi(tmp_path / "v.mid")
    assert rep.time_signature == (3, 4) and score.time_signatures == ((0.0, 3, 4),)
    # a 3/4 bar is 144 ticks; the clap step at tick 144 now lies in bar 2, so the BB is 2 bars
    # (288 ticks) long and loops at 0, 288, 576 inside each 768-tick bbtco
    starts = [s + r for s in (0, 768) for r in (0, 288, 576)]
    assert _ticks(score, 36) == sorted(t + k for t in starts for k in (0, 120))
    assert _ticks(score, 39) == sorted(t + k for t in starts for k in (48, 144) if t + k < (768 if t < 768 else 1536))


def test_round_trip_through_the_tokenizer_gives_a_drum_stream(tmp_path):
    rep = convert_project(CRUNK, tmp_path / "c.mid")
    streams = score_streams(read_midi(tmp_path / "c.mid"))
    assert [s.mode for s in streams] == ["drums"]
    toks = [V.TOKENS[t] for t in streams[0].tokens]
    assert toks[:HEADER_LEN] == ["BOS", "TRACK:DRUMS", "KEY:none", f"TEMPO_{V.tempo_bin(130)}", "METER_16"]
    first_bar = toks[HEADER_LEN + 1 : toks.index("BAR", HEADER_LEN + 1)]
    vel = f"VEL_{V.vel_bin(64)}"
    assert first_bar == ["POS_0", "DRUM_kick", vel, "POS_4", "DRUM_rim_clap", vel,
                         "POS_10", "DRUM_kick", vel, "POS_12", "DRUM_rim_clap", vel]
    assert toks.count("BAR") == 8 and toks[-1] == "EOS"
    assert rep.tokens == len(toks)


# ------------------------------------------------------------------ cross-check: LMMS's playback, tick by tick
def _simulate_lmms(path) -> Counter:
    """(tick, track name) → hits, by stepping through the song one tick at a time the way LMMS 1.2
    plays it (BBTrack::play: the non-muted bbtco in range that started last; BBTrackContainer::play:
    position modulo the BB's length; InstrumentTrack::play: notes whose pos equals the position) —
    independent of the converter's closed-form placement."""
    root = read_project_xml(path)
    head = root.find("head")
    tpb = 192 * int(head.get("timesig_numerator", 4)) // int(head.get("timesig_denominator", 4))
    tracks = root.find("song/trackcontainer").findall("track")

    def notes_by_pos(pat):
        d = defaultdict(list)
        for n in pat.findall("note"):
            if _int(n, "len") != 0 and _int(n, "vol", 100) > 0:
                d[_int(n, "pos")].append(n)
        return d

    song = [(t.get("name"), _int(p, "pos"), _pattern_length(p, tpb), notes_by_pos(p))
            for t in tracks if t.get("type") == "0" and t.get("muted") != "1"
            for p in t.findall("pattern") if p.get("muted") != "1"]
    ends = [s + ln + 1 for _, s, ln, _ in song] + [0]
    bbs = [t for t in tracks if t.get("type") == "1"]
    tc = next((b.find("bbtrack/trackcontainer") for b in bbs if b.find("bbtrack/trackcontainer") is not None), None)
    inner = tc.findall("track") if tc is not None else []
    bb_info = []
    for k, b in enumerate(bbs):
        lens, pats = [tpb], []
        for t in inner:
            kind = {"0": "pattern", "5": "automationpattern"}.get(t.get("type"))
            tcos = t.findall(kind) if kind else []
            if k < len(tcos):
                lens.append(_pattern_length(tcos[k], tpb) if kind == "pattern" else _automation_length(tcos[k], tpb))
                if kind == "pattern" and t.get("muted") != "1" and tcos[k].get("muted") != "1":
                    pats.append((t.get("name"), notes_by_pos(tcos[k])))
        bbtcos = [(_int(x, "pos"), _int(x, "len"), x.get("muted") == "1") for x in b.findall("bbtco")]
        ends += [s + ln + 1 for s, ln, _ in bbtcos]
        if b.get("muted") != "1":
            bb_info.append((-(-max(lens) // tpb) * tpb, bbtcos, pats))
    out: Counter = Counter()
    for tick in range(max(ends)):
        for name, s, ln, notes in song:
            if s <= tick <= s + ln:
                out[(tick, name)] += len(notes.get(tick - s, ()))
        for bb_len, bbtcos, pats in bb_info:
            last_pos, last_len = 0, 0
            for s, ln, muted in bbtcos:
                if s <= tick <= s + ln and not muted and s >= last_pos:
                    last_pos, last_len = s, ln
            if tick - last_pos < last_len:
                for name, notes in pats:
                    out[(tick, name)] += len(notes.get((tick - last_pos) % bb_len, ()))
    return +out


def _converter_hits(path) -> Counter:
    rep = ProjectReport(source=str(path), relative=str(path))
    hits = project_hits(read_project_xml(path), rep)
    mapped = {t.name for t in rep.tracks if t.gm_note is not None}
    return Counter((h.tick, rep.tracks[h.track].name) for h in hits), mapped


def _same_as_lmms(path):
    mine, mapped = _converter_hits(path)
    theirs = Counter({k: v for k, v in _simulate_lmms(path).items() if k[1] in mapped})
    assert mine == theirs and sum(mine.values()) > 0


def test_placement_matches_a_tick_by_tick_playback_simulation(tmp_path):
    _same_as_lmms(GRESHZ)
    _same_as_lmms(CRUNK)

    def overlapping_bbtcos_and_odd_lengths(root):
        bb = _bb_track(root, "Drum")
        for b in bb.findall("bbtco"):
            if b.get("pos") == "768":
                b.set("pos", "600")  # overlaps the first: from 600 on the later one plays
                b.set("len", "500")
        ET.SubElement(bb, "bbtco", pos="2000", len="100", muted="1")
        ET.SubElement(bb, "bbtco", pos="2400", len="300", muted="0")
    _same_as_lmms(_variant(tmp_path, overlapping_bbtcos_and_odd_lengths))


@pytest.mark.slow
@pytest.mark.skipif(not LMMS_PROJECTS_DIR.is_dir(), reason="lmms-common not installed")
def test_all_lmms_common_projects_match_the_playback_simulation():
    projects = sorted(p for p in LMMS_PROJECTS_DIR.rglob("*") if p.suffix in (".mmp", ".mmpz"))
    for p in projects:
        mine, mapped = _converter_hits(p)
        theirs = Counter({k: v for k, v in _simulate_lmms(p).items() if k[1] in mapped})
        assert mine == theirs, p


# ------------------------------------------------------------------ muting, velocity, instruments
def test_muted_tracks_patterns_and_bbtcos_are_skipped(tmp_path):
    def mute_kick(root):
        _bb_track(root, "Kick 01").set("muted", "1")
    convert_project(_variant(tmp_path, mute_kick, "a.mmp"), tmp_path / "a.mid")
    assert {n.pitch for n in read_midi(tmp_path / "a.mid").drum_notes} == {39}

    def mute_bb(root):
        _bb_track(root, "Drum").set("muted", "1")
    assert convert_project(_variant(tmp_path, mute_bb, "b.mmp"), tmp_path / "b.mid").status == "no_drums"

    def mute_first_bbtco(root):
        next(b for b in _bb_track(root, "Drum").findall("bbtco") if b.get("pos") == "0").set("muted", "1")
    convert_project(_variant(tmp_path, mute_first_bbtco, "c.mmp"), tmp_path / "c.mid", trim_leading_bars=False)
    assert _ticks(read_midi(tmp_path / "c.mid"), 36)[0] == 768

    def mute_pattern(root):
        _bb_track(root, "Clap 04").find("pattern").set("muted", "1")
    convert_project(_variant(tmp_path, mute_pattern, "d.mmp"), tmp_path / "d.mid")
    assert _ticks(read_midi(tmp_path / "d.mid"), 39) == []

    def mute_song_track(root):
        _bb_track(root, "bassdrum03.ogg").set("muted", "1")
    rep = convert_project(_variant(tmp_path, mute_song_track, "e.mmp", base=GRESHZ), tmp_path / "e.mid")
    assert rep.status == "no_drums" and not (tmp_path / "e.mid").exists()

    def mute_song_pattern(root):
        next(p for p in _bb_track(root, "bassdrum03.ogg").findall("pattern") if p.get("pos") == "192").set("muted", "1")
    convert_project(_variant(tmp_path, mute_song_pattern, "f.mmp", base=GRESHZ), tmp_path / "f.mid",
                    trim_leading_bars=False)
    assert _ticks(read_midi(tmp_path / "f.mid"), 36) == list(range(576, 1297, 48))


def test_velocity_follows_note_volume(tmp_path):
    def volumes(root):
        notes = _bb_track(root, "Kick 01").find("pattern").findall("note")
        notes[0].set("vol", "200")  # tick 0 → 127
        notes[1].set("vol", "0")  # silent: dropped
    convert_project(_variant(tmp_path, volumes), tmp_path / "v.mid")
    kicks = [n for n in read_midi(tmp_path / "v.mid").drum_notes if n.pitch == 36]
    assert [round(n.start * 48) % 192 for n in kicks] == [0] * 8 and {n.velocity for n in kicks} == {127}


def test_sf2player_on_the_drum_bank_maps_lmms_keys_to_gm_notes(tmp_path):
    def sf2(root):
        it = _bb_track(root, "Kick 01").find("instrumenttrack")
        ins = it.find("instrument")
        ins.set("name", "sf2player")
        for c in list(ins):
            ins.remove(c)
        ET.SubElement(ins, "sf2player", src="/usr/share/sounds/sf2/FluidR3_GM.sf2", bank="128", patch="0")
        n0, n1 = _bb_track(root, "Kick 01").find("pattern").findall("note")
        n0.set("key", "24")  # default base note 57: MIDI = key - 57 + 69 = 36 (kick)
        n1.set("key", "26")  # → 38 (snare)
    rep = convert_project(_variant(tmp_path, sf2), tmp_path / "s.mid")
    score = read_midi(tmp_path / "s.mid")
    assert _ticks(score, 36)[:2] == [0, 192] and _ticks(score, 38)[:2] == [120, 312]
    assert "sf2player GM drum bank 128" in next(t.reason for t in rep.tracks if t.name == "Kick 01")

    def sf2_melodic(root):
        sf2(root)
        _bb_track(root, "Kick 01").find("instrumenttrack/instrument/sf2player").set("bank", "0")
    rep = convert_project(_variant(tmp_path, sf2_melodic, "m.mmp"), tmp_path / "m.mid")
    assert next(t for t in rep.tracks if t.name == "Kick 01").gm_note is None


def test_kicker_is_a_kick_unless_named_like_a_synth():
    assert classify_kicker("Default Kicker Preset")[0] == 36
    assert classify_kicker("Kick hi")[0] == 36
    assert classify_kicker("hats1")[0] == 42
    assert classify_kicker("build snare main")[0] == 38
    assert classify_kicker("Lead High")[0] is None and classify_kicker("Bass Low")[0] is None


@pytest.mark.parametrize("src, track, note", [
    ("drums/hihat_closed03.ogg", "", 42),
    ("drums/hihat_opened02.ogg", "", 46),
    ("drums/hihat_foot_pedal01.ogg", "", 44),
    ("drums/snare_rim01.ogg", "", 37),
    ("drums/bassdrum03.ogg", "", 36),
    ("drums/tom_low01.ogg", "", 43),
    ("drums/tom_hi01.ogg", "", 50),
    ("drums/crash02.ogg", "", 49),
    ("drums/ride01.ogg", "", 51),
    ("drums/shaker01.ogg", "", 70),
    ("drumsynth/tr606/TR606_Tom_L.ds", "", 43),
    ("drumsynth/tr808/Hat_o.ds", "", 46),
    ("drumsynth/electro/K_8bit.ds", "", 36),
    ("drumsynth/misc/it's_like_that_snare.ds", "", 38),
    ("drumsynth/misc_hats/sleepy_1.ds", "Sleepy HH", 42),
    ("drumsynth/misc_claps/u_don't_kno.ds", "U don't know - Snare", 38),
    ("drumsynth/misc_perc/weird_1.ds", "", 56),
    ("/home/me/samples/MyKick.wav", "", 36),
    ("basses/bass_hard01.ogg", "Bass", None),
    ("drumsynth/instrument/mute_bass.ds", "", None),
    ("drums/zap03.ogg", "FX 1 Zip", None),
    ("beats/house_loop01.ogg", "Loop", None),
    ("misc/hit01.ogg", "hit01.ogg", None),
])
def test_sample_names_map_to_gm_drum_notes(src, track, note):
    assert classify_sample(src, track)[0] == note


def test_drum_words_do_not_match_inside_other_words():
    assert drum_note_for_name("custom_bottom_atom") is None
    assert drum_note_for_name("that_pride") is None
    assert drum_note_for_name("Strings") is None


# ------------------------------------------------------------------ batch, cache, CLI
def test_convert_projects_keeps_the_relative_layout(tmp_path):
    src = tmp_path / "projects"
    (src / "shorties").mkdir(parents=True)
    (src / "tutorials").mkdir()
    shutil.copy(GRESHZ, src / "shorties")
    shutil.copy(CRUNK, src / "shorties")
    shutil.copy(NO_DRUMS, src / "tutorials")
    reports = convert_projects(src, tmp_path / "out")
    assert [(r.relative, r.status) for r in reports] == [
        ("shorties/Crunk(Demo).mmp", "converted"), ("shorties/Greshz-CoolSnip.mmpz", "converted"),
        ("tutorials/editing_note_volumes.mmp", "no_drums")]
    assert sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*.mid")) == [
        "shorties/Crunk(Demo).mid", "shorties/Greshz-CoolSnip.mid"]


def test_ensure_converted_caches_and_reconverts(tmp_path):
    src = tmp_path / "projects"
    src.mkdir()
    shutil.copy(CRUNK, src)
    out = tmp_path / "lmms_drums"
    assert ensure_converted(out, [src]) == out
    mid = out / "Crunk(Demo).mid"
    meta = json.loads((out / "lmms_drums.json").read_text())
    assert meta["summary"]["converter_version"] == CONVERTER_VERSION and meta["summary"]["converted"] == 1
    stamp = mid.stat().st_mtime_ns
    assert ensure_converted(out, [src]) == out and mid.stat().st_mtime_ns == stamp  # cached
    meta["summary"]["converter_version"] = -1
    (out / "lmms_drums.json").write_text(json.dumps(meta))
    (out / "stale.mid").write_bytes(mid.read_bytes())
    assert ensure_converted(out, [src]) == out and not (out / "stale.mid").exists()  # rebuilt
    assert ensure_converted(tmp_path / "x", [tmp_path / "missing"]) is None


def test_cli_prints_the_summary_and_a_grid(tmp_path, capsys):
    assert main(["--src", str(CRUNK), str(GRESHZ), "--out", str(tmp_path / "o"), "--grid", "Crunk(Demo)"]) == 0
    out = capsys.readouterr().out
    assert "projects 2, converted 2, drum notes 54" in out
    assert "36 kick" in out and "|x.........x.....|" in out  # the grid row of the kick
    grid = format_grid(tmp_path / "o" / "Crunk(Demo).mid", bars=1)
    assert grid.splitlines()[2:] == [f"{'39 hand clap':<20}|....x.......x...|", f"{'36 kick':<20}|x.........x.....|"]
