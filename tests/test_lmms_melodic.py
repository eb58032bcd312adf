"""LMMS melodic tracks (training.lmms.melodic) and the drums + melodic multitrack files (convert, parts="all"),
on real lmms-common projects (tests/data/lmms/)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from nomad_muse.generator.midi_io import read_midi
from nomad_muse.generator.tokenizer import score_streams
from nomad_muse.training.lmms import (
    classify_melodic_track,
    convert_project,
    convert_project_all,
    ensure_converted,
    program_for,
    read_project_xml,
)

DATA = Path(__file__).parent / "data" / "lmms"
CRUNK = DATA / "Crunk(Demo).mmp"  # BB: drums + a sample bass + a papu synth
GRESHZ = DATA / "Greshz-CoolSnip.mmpz"
NO_DRUMS = DATA / "editing_note_volumes.mmp"  # a BB with only a tripleoscillator


def test_program_from_the_track_name_then_the_plugin():
    assert program_for("Bass", "audiofileprocessor")[0] == 38
    assert program_for("Lead High", "tripleoscillator")[0] == 81
    assert program_for("Warm pad", "zynaddsubfx")[0] == 89
    assert program_for("Rhodes", "tripleoscillator")[0] == 4
    assert program_for("Default preset", "lb302")[0] == 38  # the plugin when the name says nothing
    assert program_for("Default preset", "tripleoscillator")[0] == 81


def test_drum_tracks_are_not_melodic_and_synths_are():
    root = read_project_xml(CRUNK)
    rows = {}
    for t in root.iter("track"):
        if t.find("instrumenttrack") is not None:
            rep, mapping = classify_melodic_track(t, "bb", 0)
            rows[t.get("name")] = (rep.gm_note, mapping)
    assert rows["Bass"][0] == 38 and rows["Synth"][0] == 81
    assert rows["Kick 01"][1] is None and rows["Clap 04"][1] is None  # drums: training.lmms.drums' business
    # default base note (LMMS key 57 = A4 = MIDI 69): MIDI = LMMS key + 12
    assert rows["Synth"][1](57) == 69


def test_multitrack_file_holds_the_same_drums_and_the_melodic_parts(tmp_path):
    rep = convert_project_all(CRUNK, tmp_path / "all.mid")
    drums_only = convert_project(CRUNK, tmp_path / "drums.mid")
    assert rep.status == "converted" and rep.melodic_notes == 56 and rep.drum_notes == drums_only.drum_notes
    a, d = read_midi(tmp_path / "all.mid"), read_midi(tmp_path / "drums.mid")
    assert [(n.start, n.pitch) for n in a.drum_notes] == [(n.start, n.pitch) for n in d.drum_notes]
    programs = {n.program for n in a.tonal_notes}
    assert programs == {38, 81}
    streams = {s.mode: s for s in score_streams(a)}
    assert set(streams) == {"tonal", "drums"} and len(streams["tonal"].tokens) == rep.tonal_tokens
    # the LMMS keys of the synth's pattern, +12, are the MIDI pitches written
    root = read_project_xml(CRUNK)
    synth = next(t for t in root.iter("track") if t.get("name") == "Synth")
    keys = {int(n.get("key")) for n in synth.iter("note")}
    assert {n.pitch for n in a.tonal_notes if n.program == 81} <= {k + 12 for k in keys}


def test_a_project_without_drums_still_gives_its_melody(tmp_path):
    rep = convert_project_all(NO_DRUMS, tmp_path / "m.mid")
    assert rep.status == "converted" and rep.drum_notes == 0 and rep.melodic_notes == 160
    assert convert_project(NO_DRUMS, tmp_path / "d.mid").status == "no_drums"


def test_unreadable_project_is_reported_not_raised(tmp_path):
    bad = tmp_path / "bad.mmpz"
    bad.write_bytes(b"\x00\x00\x10\x00garbage-not-zlib")
    rep = convert_project_all(bad, tmp_path / "bad.mid")
    assert rep.status == "error" and "qCompress" in rep.reason and not (tmp_path / "bad.mid").exists()


def test_muted_melodic_track_is_skipped(tmp_path):
    root = read_project_xml(CRUNK)
    for t in root.iter("track"):
        if t.get("name") == "Synth":
            t.set("muted", "1")
    p = tmp_path / "muted.mmp"
    ET.ElementTree(root).write(p, encoding="utf-8", xml_declaration=True)
    rep = convert_project_all(p, tmp_path / "muted.mid")
    assert {n.program for n in read_midi(tmp_path / "muted.mid").tonal_notes} == {38}
    assert rep.melodic_notes == 32


def test_ensure_converted_all_parts_writes_its_report(tmp_path):
    src = tmp_path / "projects"
    src.mkdir()
    for f in (CRUNK, GRESHZ, NO_DRUMS):
        (src / f.name).write_bytes(f.read_bytes())
    out = ensure_converted(tmp_path / "lmms_midi", [src], parts="all")
    meta = json.loads((out / "lmms_midi.json").read_text())
    assert meta["parts"] == "all" and meta["summary"]["converted"] == 3
    assert meta["summary"]["melodic_notes"] == 56 + 65 + 160
    assert len(list(out.rglob("*.mid"))) == 3
