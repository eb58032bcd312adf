"""Hostile audio (issue 15 items 2 and 9): streamed reads in bounded memory, truncated files warned about,
``evaluate classifier`` reads what ``analyze`` reads (.mp3 among them)."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import soundfile as sf

from harden_util import limited, muse, sparse_wav
from nomad_muse.audio_io import AUDIO_SUFFIXES, declared_wav_frames, iter_blocks, iter_mono, probe_audio
from nomad_muse.examples import CLASSIFY_EXAMPLES, example_path

LIMIT_MB = 700  # muse classify needs ~450 MiB of address space on a 1 s clip; a whole-file read of BIG needs > 700 more


@pytest.fixture
def big(tmp_path):
    """45 s of 5.1 at 192 kHz: 8.6 M frames, 415 MB as one float64 array (the old read), a hole on disk."""
    return sparse_wav(tmp_path / "big.wav", 45, sr=192000, channels=6)


def test_the_limit_bites_a_whole_file_read(big, tmp_path):
    """Control: under the same limit, reading the file whole (the old path of classify/demo) runs out of memory."""
    r = limited(["-c", f"from nomad_muse.audio_io import read_audio; read_audio({str(big)!r})"], tmp_path, mem_mb=LIMIT_MB)
    assert r.returncode != 0 and ("MemoryError" in r.stderr or "Unable to allocate" in r.stderr), r.stderr[-500:]


def test_classify_streams_a_long_file_in_bounded_memory(big, tmp_path):
    r = muse(["classify", big.name, "--hop-ms", "50", "--json"], tmp_path, mem_mb=LIMIT_MB)
    assert r.returncode == 0, r.stderr[-1500:]
    res = json.loads(r.stdout)
    assert res["family"] is None and res["duration_s"] == pytest.approx(45.0)  # digital silence: no signal, defined


def test_demo_reads_its_clip_block_by_block_in_bounded_memory(big, tmp_path):
    code = ("from nomad_muse.engine.offline import _input_audio\n"
            f"info, blocks = _input_audio({str(big)!r})\n"
            "n = 0\n"
            "for b in blocks:\n"
            "    assert b.dtype.name == 'float32' and b.shape[1] == 2\n"
            "    n += b.shape[0]\n"
            "print(n, info.frames)")
    r = limited(["-c", code], tmp_path, mem_mb=LIMIT_MB)
    assert r.returncode == 0, r.stderr[-1500:]
    n, frames = map(int, r.stdout.split())
    assert n == frames == 45 * 192000


def test_iter_mono_matches_the_channel_mean(tmp_path):
    rng = np.random.default_rng(3)
    y = (rng.standard_normal((50_000, 2)) * 0.1).astype(np.float32)
    sf.write(tmp_path / "a.wav", y, 48000, subtype="FLOAT")
    got = np.concatenate(list(iter_mono(probe_audio(tmp_path / "a.wav", min_duration_s=0), block=4096)))
    assert got.dtype == np.float32 and np.allclose(got, y.mean(axis=1), atol=1e-7)


def test_truncated_wav_is_analysed_with_a_warning(tmp_path, caplog):
    y = (np.random.default_rng(0).standard_normal((5 * 48000, 2)) * 0.1).astype(np.float32)
    sf.write(tmp_path / "full.wav", y, 48000, subtype="PCM_16")
    raw = (tmp_path / "full.wav").read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(raw[: 44 + int(1.7 * 48000) * 4])  # header says 5 s, 1.7 s present
    assert declared_wav_frames(cut) == 5 * 48000
    assert declared_wav_frames(tmp_path / "full.wav") == 5 * 48000 and declared_wav_frames(example_path()) is None  # FLAC: not a WAV header
    with caplog.at_level(logging.WARNING, logger="nomad_muse.audio_io"):
        n = sum(len(b) for b in iter_blocks(probe_audio(cut)))
    assert n == int(1.7 * 48000)
    assert any("truncated" in r.getMessage() and "5.00 s" in r.getMessage() for r in caplog.records)
    r = muse(["analyze", cut.name, "--json"], tmp_path)
    assert r.returncode == 0, r.stderr[-1500:]
    assert "truncated" in r.stderr and "Traceback" not in r.stderr
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="nomad_muse.audio_io"):
        list(iter_blocks(probe_audio(tmp_path / "full.wav")))
    assert not caplog.records  # a whole file: no warning


def test_truncated_flac_keeps_what_decodes_with_a_warning(tmp_path, caplog):
    y = (np.random.default_rng(1).standard_normal((5 * 48000, 2)) * 0.1).astype(np.float32)
    sf.write(tmp_path / "full.flac", y, 48000)
    raw = (tmp_path / "full.flac").read_bytes()
    (tmp_path / "cut.flac").write_bytes(raw[: len(raw) // 3])
    with caplog.at_level(logging.WARNING, logger="nomad_muse.audio_io"):
        n = sum(len(b) for b in iter_blocks(probe_audio(tmp_path / "cut.flac")))
    assert 0.5 * 48000 < n < 5 * 48000
    assert any("truncated" in r.getMessage() for r in caplog.records)


def test_evaluate_classifier_reads_what_analyze_reads(tmp_path):
    from nomad_muse.analyzer.targets import AUDIO_SUFFIXES as ANALYZE_SUFFIXES
    from nomad_muse.classifier.evaluate import AUDIO_SUFFIXES as EVAL_SUFFIXES

    assert set(EVAL_SUFFIXES) == set(ANALYZE_SUFFIXES) == set(AUDIO_SUFFIXES) and ".mp3" in EVAL_SUFFIXES
    (tmp_path / "piano").mkdir()
    y, sr = sf.read(str(example_path(CLASSIFY_EXAMPLES["piano"])), dtype="float32")
    sf.write(tmp_path / "piano" / "a.mp3", y[: sr * 2], sr, format="MP3")
    r = muse(["evaluate", "classifier", str(tmp_path), "--json"], tmp_path)
    assert r.returncode == 0, r.stderr[-1500:]
    res = json.loads(r.stdout)
    assert res["files"] == 1 and res["per_class_files"]["piano"] == 1 and not res["skipped"]


def test_dc_offset_is_flagged(tmp_path):
    from nomad_muse.analyzer import analyze_file

    y, sr = sf.read(str(example_path()), dtype="float32")
    sf.write(tmp_path / "dc.wav", y * 0.4 + 0.5, sr, subtype="FLOAT")  # +0.5 of full scale on both channels
    rep = analyze_file(tmp_path / "dc.wav")
    assert rep.loudness.dc_offset_per_channel == pytest.approx((0.5, 0.5), abs=0.01)
    dc = [s for s in rep.suggestions if s.kind == "dc_offset"]
    assert dc and dc[0].severity == "high" and "high-pass" in dc[0].action
    clean = analyze_file(example_path())
    assert all(abs(v) < 0.01 for v in clean.loudness.dc_offset_per_channel)
    assert not [s for s in clean.suggestions if s.kind == "dc_offset"]
