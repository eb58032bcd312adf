"""Generator: tokenizer round trip on real files, MIDI edge cases, grammar/mode/key constraints,
seeded determinism, backend equivalence of the shipped model, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from nomad_muse.backends import Candidate, get_backend
from nomad_muse.errors import InputError, ParameterError
from nomad_muse.generator import vocab as V
from nomad_muse.generator.keys import estimate_key, parse_key, scale_pitch_classes
from nomad_muse.generator.midi_io import Note, Score, read_midi, write_midi
from nomad_muse.generator.tokenizer import decode, require_stream, score_streams
from nomad_muse.gm import DRUM_MAP, PROGRAM_FAMILY, family_of
from nomad_muse.paths import models_dir

PLANETBLUPI = Path("/usr/share/planetblupi/music")
PROMPTS = models_dir() / "prompts"
MODEL = models_dir() / "generator.onnx"
needs_model = pytest.mark.skipif(not MODEL.is_file(), reason="generator model not built yet")


def real_midis() -> list[Path]:
    files = sorted(PLANETBLUPI.glob("*.mid"))[:3] if PLANETBLUPI.is_dir() else []
    return files + sorted(PROMPTS.glob("*.mid"))


def test_vocabulary_size_and_uniqueness():
    assert len(set(V.TOKENS)) == V.VOCAB_SIZE == 257
    # the STYLE tokens come last: a 252-logit model (trained before them) keeps every other id
    assert V.STYLE_IDS == list(range(252, 257)) and V.VOCAB_SIZE_NO_STYLE == 252
    assert len(V.DRUM_IDS) == 12 and len(V.VEL_IDS) == 16 and len(V.DUR_IDS) == 32


def test_gm_tables_cover_every_program_and_drum_key():
    assert all(p in PROGRAM_FAMILY for p in range(120))
    assert family_of(0, channel=9) == "drums" and family_of(33) == "bass" and family_of(40) == "strings"
    assert DRUM_MAP[36] == "kick" and DRUM_MAP[38] == "snare" and DRUM_MAP[42] == "closed_hat" and DRUM_MAP[81] == "other_perc"


@pytest.mark.parametrize("path", real_midis(), ids=lambda p: p.name)
def test_round_trip_keeps_every_note_within_grid_resolution(path):
    score = read_midi(path)
    for stream in score_streams(score):
        dec = decode(stream.tokens)
        got = defaultdict(list)
        for n in dec.notes:
            key = DRUM_MAP[n.pitch] if stream.mode == "drums" else n.pitch
            got[key].append((n.start, n.duration))
        if stream.mode == "drums":
            orig = [(DRUM_MAP[n.pitch], n.start, None) for n in score.drum_notes]
        else:
            orig = []
            for n in score.tonal_notes:
                if PROGRAM_FAMILY.get(n.program) in (None, "drums"):
                    continue
                p = n.pitch
                while p < V.PITCH_LO:
                    p += 12
                while p > V.PITCH_HI:
                    p -= 12
                orig.append((p, n.start, n.duration))
        for key, start, dur in orig:
            cands = got[key]
            assert cands, (path.name, key)
            # onset: within a tenth of a 16th (micro-timing resolution) = 0.025 beats;
            # duration: within half a 16th (0.125 beats), at least one 16th, capped at 32 16ths
            near = [c for c in cands if abs(c[0] - start) <= 0.025 + 1e-9]
            assert near, (path.name, key, start)
            if dur is not None:
                want = min(max(dur, 0.25), 8.0)
                assert any(abs(c[1] - want) <= 0.125 + 1e-9 for c in near), (path.name, key, start, dur, near)


def test_round_trip_through_midi_file(tmp_path):
    score = read_midi(PROMPTS / "tonal_c_major.mid")
    (stream,) = score_streams(score)
    out = write_midi(Score(decode(stream.tokens).notes, score.tempo_bpm, score.time_signatures), tmp_path / "rt.mid")
    again = read_midi(out)
    assert sorted((n.start, n.pitch, n.duration) for n in again.notes) == sorted((n.start, n.pitch, n.duration) for n in score.notes)
    assert score_streams(again)[0].tokens == stream.tokens


def test_an_onset_pushed_before_beat_zero_is_written_at_tick_zero(tmp_path):
    """A negative micro-timing offset on the first onset (seen with `muse generate --seed 6 --family bass`)."""
    score = Score((Note(-0.05, 0.25, 41, 116, 0, 33), Note(1.0, 0.5, 43, 100, 0, 33)), 95.0, ((0.0, 4, 4),))
    back = read_midi(write_midi(score, tmp_path / "early.mid"))
    assert [(n.start, n.pitch) for n in back.notes] == [(0.0, 41), (1.0, 43)]


def test_time_signature_changes_and_tempo(tmp_path):
    notes = tuple(Note(b * 1.0, 1.0, 60 + b % 5, 80, 0) for b in range(14))
    score = Score(notes, 90.0, ((0.0, 4, 4), (4.0, 3, 4), (7.0, 6, 8)))
    p = write_midi(score, tmp_path / "ts.mid")
    back = read_midi(p)
    assert back.time_signatures == score.time_signatures and abs(back.tempo_bpm - 90.0) < 1e-3  # tempo is stored in whole µs per beat
    (stream,) = score_streams(back)
    names = [V.TOKENS[t] for t in stream.tokens]
    assert names[4] == "METER_16" and "METER_12" in names
    dec = decode(stream.tokens)
    assert [n.start for n in dec.notes] == [n.start for n in notes]


def test_type0_running_status_file(tmp_path):
    import mido

    mf = mido.MidiFile(type=0, ticks_per_beat=96)
    tr = mido.MidiTrack()
    tr.append(mido.Message("program_change", program=33, channel=1, time=0))
    for i in range(8):
        tr.append(mido.Message("note_on", note=40 + i, velocity=90, channel=1, time=0 if i == 0 else 0))
        tr.append(mido.Message("note_on", note=40 + i, velocity=0, channel=1, time=48))
    for i in range(4):
        tr.append(mido.Message("note_on", note=36, velocity=100, channel=9, time=0))
        tr.append(mido.Message("note_off", note=36, velocity=0, channel=9, time=96))
    mf.tracks.append(tr)
    p = tmp_path / "t0.mid"
    mf.save(p)
    raw = p.read_bytes()
    assert raw.count(b"\x91") < 16  # mido writes running status: repeated status bytes are omitted
    score = read_midi(p)
    assert len(score.tonal_notes) == 8 and len(score.drum_notes) == 4
    modes = {s.mode: s for s in score_streams(score)}
    assert modes["tonal"].family == "bass" and "drums" in modes


def test_corrupt_empty_missing_and_noteless_midi(tmp_path):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"MThd\x00\x00\x00\x06garbage-not-midi" * 3)
    with pytest.raises(InputError, match=r"cannot read MIDI file .*bad\.mid: .*Standard MIDI File"):
        read_midi(bad)
    empty = tmp_path / "empty.mid"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match=r"MIDI file is empty: .*empty\.mid"):
        read_midi(empty)
    with pytest.raises(InputError, match=r"MIDI file not found"):
        read_midi(tmp_path / "nope.mid")
    import mido

    mf = mido.MidiFile()
    mf.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000)]))
    silent = tmp_path / "silent.mid"
    mf.save(silent)
    with pytest.raises(InputError, match=r"has no notes"):
        read_midi(silent)


def test_absurd_tempo_is_clamped_with_a_warning(tmp_path):
    import mido

    mf = mido.MidiFile()
    tr = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(2000)), mido.Message("note_on", note=60, velocity=80),
                         mido.Message("note_off", note=60, velocity=0, time=480)])
    mf.tracks.append(tr)
    p = tmp_path / "fast.mid"
    mf.save(p)
    s = read_midi(p)
    assert s.tempo_bpm == 400.0 and "clamped" in s.warnings[0]
    assert V.TOKENS[score_streams(s)[0].tokens[3]] == "TEMPO_11"


def test_huge_file_refused(tmp_path, monkeypatch):
    from nomad_muse.generator import midi_io

    monkeypatch.setattr(midi_io, "MAX_FILE_BYTES", 100)
    with pytest.raises(InputError, match=r"MIDI file too large"):
        read_midi(PROMPTS / "tonal_c_major.mid")


def test_drums_only_file_asked_for_tonal():
    score = read_midi(PROMPTS / "drums_rock.mid")
    with pytest.raises(InputError, match=r"no tonal notes to continue; the file has only drum \(channel 10\) notes — use --mode drums"):
        require_stream(score, "tonal")


def test_key_estimation_and_parsing():
    c_major = [60, 62, 64, 65, 67, 69, 71, 72, 64, 67, 60]
    assert estimate_key(c_major) == (0, "major")
    a_minor = [57, 59, 60, 62, 64, 65, 68, 69, 57, 64, 60, 57]
    assert estimate_key(a_minor) == (9, "minor")
    assert estimate_key([60, 60]) is None
    assert parse_key("C:minor") == (0, "minor") and parse_key("F#:maj") == (6, "major") and parse_key("bb") == (10, "minor")
    with pytest.raises(ParameterError, match=r"key='H:dorian' not understood"):
        parse_key("H:dorian")


# ------------------------------------------------------------ the shipped model
def _gen(rt="onnxruntime"):
    from nomad_muse.generator.engine import Generator

    return Generator(candidates=[Candidate(rt)])


@needs_model
def test_backends_give_same_logits_for_same_state():
    a = get_backend("onnxruntime").load(MODEL, state={"h": "h_out"})
    b = get_backend("openvino").load(MODEL, state={"h": "h_out"})
    tokens = score_streams(read_midi(PROMPTS / "tonal_c_major.mid"))[0].tokens[:64]
    for t in tokens:
        x = {"token": np.array([[t]], np.int64)}
        la, lb = a.run(x)["logits"], b.run(x)["logits"]
        np.testing.assert_allclose(la, lb, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(a.get_state()["h"], b.get_state()["h"], rtol=1e-4, atol=1e-4)


@needs_model
def test_tonal_mode_with_key_is_all_in_scale():
    from nomad_muse.generator.engine import SamplingConfig, header_tokens

    g = _gen()
    key = (2, "minor")
    h = header_tokens("tonal", "piano", key, 100)
    g.prime(h, mode="tonal", key=key)
    new = g.generate(8, SamplingConfig(seed=5, temperature=1.3, top_p=1.0, confidence_threshold=0.0))
    notes = decode(h + new).notes
    assert len(notes) > 10
    assert {n.pitch % 12 for n in notes} <= scale_pitch_classes(key)


@needs_model
def test_drum_mode_emits_only_channel_10_drum_hits():
    from nomad_muse.generator.engine import SamplingConfig, header_tokens

    g = _gen("openvino")
    h = header_tokens("drums", "drums", None, 120)
    g.prime(h, mode="drums", key=None)
    new = g.generate(4, SamplingConfig(seed=2, confidence_threshold=0.0))
    assert not any(V.TOKENS[t].startswith(("PITCH_", "DUR_")) for t in new)
    notes = decode(h + new).notes
    assert notes and all(n.channel == 9 for n in notes)


@needs_model
def test_same_seed_same_output_and_both_backends_agree():
    from nomad_muse.generator.engine import SamplingConfig

    prompt = score_streams(read_midi(PROMPTS / "drums_rock.mid"))[0].tokens[:-1]
    runs = []
    for rt in ("onnxruntime", "onnxruntime", "openvino"):
        g = _gen(rt)
        g.prime(list(prompt), mode="drums", key=None)
        runs.append(g.generate(2, SamplingConfig(seed=11)))
    assert runs[0] == runs[1] == runs[2]
    g = _gen()
    g.prime(list(prompt), mode="drums", key=None)
    assert g.generate(2, SamplingConfig(seed=12)) != runs[0]


@needs_model
def test_prompt_runs_once_then_one_step_per_token():
    from nomad_muse.generator.engine import SamplingConfig

    prompt = list(score_streams(read_midi(PROMPTS / "tonal_c_major.mid"))[0].tokens[:-1])
    g = _gen()
    g.prime(prompt, mode="tonal", key=(0, "major"))
    assert g.stats.steps == len(prompt)
    # no confidence fallback here: a fallback rewinds and feeds its replacement (more steps than kept tokens)
    new = g.generate(2, SamplingConfig(seed=1, confidence_threshold=0.0))
    assert g.stats.steps == len(prompt) + len(g.tokens) - len(prompt)
    assert len(g.tokens) >= len(prompt) + len(new)


@needs_model
def test_fallback_below_confidence_threshold_is_counted():
    from nomad_muse.generator.engine import SamplingConfig, header_tokens

    g = _gen()
    h = header_tokens("tonal", "piano", (0, "major"), 120)
    g.prime(h, mode="tonal", key=(0, "major"))
    g.generate(2, SamplingConfig(seed=3, temperature=5.0, confidence_threshold=0.99))
    assert g.stats.fallbacks == g.stats.chunks > 0


def test_sampling_config_validation():
    from nomad_muse.generator.engine import SamplingConfig

    with pytest.raises(ParameterError, match=r"top_p=0 must be within"):
        SamplingConfig(top_p=0)
    with pytest.raises(ParameterError, match=r"temperature=0.0 must be within"):
        SamplingConfig(temperature=0.0)


# ------------------------------------------------------------ CLI
def muse(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "nomad_muse", *args], capture_output=True, text=True, timeout=300, cwd=cwd)


@needs_model
@pytest.mark.parametrize("args", [["--mode", "drums"], ["--mode", "tonal", "--key", "A:minor"], [str(PROMPTS / "drums_rock.mid")], [str(PROMPTS / "tonal_c_major.mid")]])
def test_cli_generate(tmp_path, args):
    out = tmp_path / "g.mid"
    r = muse("generate", *args, "--bars", "2", "--seed", "4", "-o", str(out), "--json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert out.is_file() and summary["new_notes"] > 0
    s = read_midi(out)
    assert len(s.notes) == summary["new_notes"] + summary["prompt_notes"]
    if summary["mode"] == "drums":
        assert all(n.channel == 9 for n in s.notes[-summary["new_notes"]:]) or s.drum_notes


def test_cli_generate_errors(tmp_path):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"not midi at all")
    r = muse("generate", str(bad), "-o", str(tmp_path / "x.mid"))
    assert r.returncode == 2 and "Traceback" not in r.stderr and "cannot read MIDI file" in r.stderr
    r = muse("generate", str(PROMPTS / "drums_rock.mid"), "--mode", "tonal", "-o", str(tmp_path / "x.mid"))
    assert r.returncode == 2 and "no tonal notes to continue" in r.stderr
    r = muse("generate", "--mode", "jazz")
    assert r.returncode == 2 and "--mode 'jazz' must be auto, drums or tonal" in r.stderr


@needs_model
def test_cli_evaluate_generator(tmp_path):
    d = tmp_path / "user"
    d.mkdir()
    for p in PROMPTS.glob("*.mid"):
        sub = d / ("rock" if "drums" in p.name else "pop")
        sub.mkdir(exist_ok=True)
        (sub / p.name).write_bytes(p.read_bytes())
    (d / "broken.mid").write_bytes(b"xx")
    r = muse("evaluate", "generator", str(d), "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["files"] == 3 and res["files_used"] == 2 and len(res["skipped"]) == 1
    assert res["tokens"] > 0 and res["model"]["perplexity"] > 1 and res["ngram"]["perplexity"] > 1
    assert res["perplexity_ratio"] == pytest.approx(res["model"]["perplexity"] / res["ngram"]["perplexity"])
    assert set(res["by_mode"]) == {"tonal", "drums"}
    assert set(res["by_style"]) == {"rock", "pop"} and "drums" in res["by_track"]
    for part in ("by_style", "by_track"):
        assert sum(v["tokens"] for v in res[part].values()) == res["tokens"]
    assert res["by_style"]["rock"]["model"] == res["by_mode"]["drums"]["model"]  # the only drum file is under rock/
    r = muse("evaluate", "generator", str(d))
    assert r.returncode == 0 and "style rock" in r.stdout and "track drums" in r.stdout, r.stdout + r.stderr
    r = muse("evaluate", "generator", str(tmp_path / "nothing"))
    assert r.returncode == 2 and "not a directory" in r.stderr


def test_nucleus_sampling_keeps_only_the_top_mass():
    from nomad_muse.generator.sampling import masked_probs, sample

    rng = np.random.default_rng(0)
    logits = np.array([5.0, 4.0, 0.0, -1.0, 3.0])
    mask = np.array([True, True, True, False, True])
    p = masked_probs(logits, mask, 1.0)
    assert p[3] == 0 and abs(p.sum() - 1) < 1e-12
    draws = {sample(p, 0.5, rng) for _ in range(200)}
    assert draws == {0}  # token 0 alone holds more than half the mass
    draws = {sample(p, 1.0, rng) for _ in range(2000)}
    assert 3 not in draws and {0, 1, 4} <= draws  # top_p = 1 never draws a masked token
