"""Bad inputs give one clear InputError line (or a well-defined result); formats and rates that must work."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from nomad_muse.analyzer import analyze_file
from nomad_muse.audio_io import probe_audio
from nomad_muse.errors import InputError

SR = 48000


def _noise(n, ch=2, seed=0):
    return np.random.default_rng(seed).standard_normal((n, ch)) * 0.1


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        analyze_file(tmp_path / "nope.wav")


def test_directory(tmp_path):
    with pytest.raises(InputError, match="is a directory"):
        analyze_file(tmp_path)


def test_empty_file(tmp_path):
    p = tmp_path / "empty.wav"
    p.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        analyze_file(p)


def test_not_audio(tmp_path):
    p = tmp_path / "notes.wav"
    p.write_text("these are not samples\n" * 50)
    with pytest.raises(InputError, match="not a readable audio file"):
        analyze_file(p)


def test_truncated_header(tmp_path):
    p = tmp_path / "t.wav"
    sf.write(p, _noise(SR), SR)
    p.write_bytes(p.read_bytes()[:30])
    with pytest.raises(InputError, match="not a readable audio file|no audio frames"):
        analyze_file(p)


def test_truncated_data_is_measured_or_refused_cleanly(tmp_path):
    p = tmp_path / "t.wav"
    sf.write(p, _noise(SR * 2), SR)
    b = p.read_bytes()
    p.write_bytes(b[: len(b) // 2])
    try:
        rep = analyze_file(p)
    except InputError as e:
        assert "t.wav" in str(e)
    else:
        assert 0.9 < rep.duration_s <= 2.0


def test_all_zero(tmp_path):
    p = tmp_path / "z.wav"
    sf.write(p, np.zeros((SR, 2)), SR)
    with pytest.raises(InputError, match="digital silence"):
        analyze_file(p)


def test_below_gate_is_a_defined_result(tmp_path):
    p = tmp_path / "q.wav"
    sf.write(p, _noise(SR * 2) * 1e-5, SR, subtype="FLOAT")
    rep = analyze_file(p)
    assert rep.loudness.silent and rep.tonal is None
    assert any(n.startswith("silent") for n in rep.notes)
    assert rep.to_dict()["loudness"]["integrated_lufs"] is None


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_inf_samples(tmp_path, bad):
    y = _noise(SR)
    y[1234, 1] = bad
    p = tmp_path / "n.wav"
    sf.write(p, y, SR, subtype="FLOAT")
    with pytest.raises(InputError, match="NaN or infinite samples \\(first at sample 1234\\)"):
        analyze_file(p)


def test_one_sample_long(tmp_path):
    p = tmp_path / "one.wav"
    sf.write(p, np.array([[0.5, 0.5]]), SR)
    with pytest.raises(InputError, match="is 0 ms long \\(1 samples\\)"):
        analyze_file(p)


@pytest.mark.parametrize("ch", [3, 8, 16])
def test_unsupported_layouts(tmp_path, ch):
    p = tmp_path / f"c{ch}.wav"
    sf.write(p, _noise(SR, ch), SR)
    with pytest.raises(InputError, match=f"has {ch} channels; supported layouts are mono, stereo, 5.0 and 5.1"):
        analyze_file(p)


def test_rate_out_of_range(tmp_path):
    p = tmp_path / "r.wav"
    sf.write(p, _noise(4000), 4000)
    with pytest.raises(InputError, match="sample rate 4000 Hz"):
        probe_audio(p)


@pytest.mark.parametrize("sr,subtype,fmt,ch", [
    (8000, "PCM_16", "wav", 1), (11025, "PCM_24", "flac", 2), (22050, "PCM_16", "aiff", 2),
    (44100, "VORBIS", "ogg", 2), (48000, "PCM_32", "wav", 6), (96000, "FLOAT", "wav", 5), (192000, "PCM_24", "wav", 2),
])
def test_formats_rates_layouts(tmp_path, sr, subtype, fmt, ch):
    p = tmp_path / f"x.{fmt}"
    sf.write(p, _noise(int(sr * 1.5), ch), sr, subtype=subtype)
    rep = analyze_file(p)
    assert rep.sr == sr and rep.channels == ch and np.isfinite(rep.loudness.integrated_lufs)
    assert (rep.stereo is None) == (ch == 1)
