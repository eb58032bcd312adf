"""Stereo correlation/width and dynamics/onsets; the streaming API equals the offline one."""

from __future__ import annotations

import numpy as np
import pytest

from analyzer_signals import bandlimited_noise, pink_noise
from nomad_muse.analyzer import Analyzer, analyze_array

SR = 44100


def _noise(seed=0, n=SR * 4):
    return pink_noise(n=n, rng=np.random.default_rng(seed))[:, 0] * 0.1


@pytest.mark.parametrize("kind,corr,width", [("identical", 1.0, 0.0), ("inverted", -1.0, 1.0),
                                              ("independent", 0.0, 0.5)])
def test_correlation_and_width(kind, corr, width):
    a = _noise(1)
    b = {"identical": a, "inverted": -a, "independent": _noise(2)}[kind]
    s = analyze_array(np.stack([a, b], axis=1), sr=SR).stereo
    assert s.correlation == pytest.approx(corr, abs=0.05)
    assert s.width == pytest.approx(width, abs=0.05)
    assert all(v == pytest.approx(corr, abs=0.15) for v in s.band_correlation.values())


def test_low_end_correlation_separates_mono_bass_from_wide_top():
    rng = np.random.default_rng(3)
    bass = bandlimited_noise(lo=40, hi=120, seconds=4, sr=SR, rng=rng)[:, 0]
    top = bandlimited_noise(lo=1000, hi=8000, seconds=4, sr=SR, rng=rng, channels=2)
    y = np.stack([bass, bass], axis=1) + top
    s = analyze_array(y, sr=SR).stereo
    assert s.low_end_correlation > 0.95
    assert s.band_correlation["high_mid"] < 0.2
    other = bandlimited_noise(lo=40, hi=120, seconds=4, sr=SR, rng=rng)[:, 0]
    wide = np.stack([bass, other - 0.4 * bass], axis=1) + top
    r = analyze_array(wide, sr=SR)
    assert r.stereo.low_end_correlation < -0.1
    assert "bass_not_mono" in {x.kind for x in r.suggestions}
    inverted = np.stack([bass, -bass], axis=1) + top
    kinds = {x.kind for x in analyze_array(inverted, sr=SR).suggestions}
    assert "polarity" in kinds and "bass_not_mono" not in kinds


def test_mono_file_has_no_stereo_section():
    assert analyze_array(_noise(), sr=SR).stereo is None


def test_onset_density_of_a_click_train():
    y = np.random.default_rng(0).standard_normal(SR * 8) * 0.001
    period = SR // 4                          # 4 hits per second
    decay = np.exp(-np.arange(2000) / 300.0)
    for s in range(SR // 8, len(y) - 2000, period):
        y[s : s + 2000] += 0.5 * decay * np.random.default_rng(s).standard_normal(2000)
    d = analyze_array(y, sr=SR).dynamics
    assert d.onset_density_per_s == pytest.approx(4.0, abs=0.4)
    assert d.attack_clarity_db > 20.0
    steady = analyze_array(_noise(5, SR * 8), sr=SR).dynamics
    assert steady.onset_density_per_s < 1.0 and steady.attack_clarity_db != pytest.approx(d.attack_clarity_db, abs=10)


def test_over_compression_flag_follows_plr():
    rng = np.random.default_rng(9)
    y = rng.standard_normal((SR * 4, 2)) * 0.1
    assert not analyze_array(y, sr=SR).dynamics.over_compressed          # PLR ≈ 14 LU
    squashed = np.clip(y * 12, -0.9, 0.9)                               # hard limited: PLR ≈ 3 LU
    r = analyze_array(squashed, sr=SR)
    assert r.dynamics.over_compressed and r.loudness.plr_lu < 8
    assert r.dynamics.crest_factor_median_db < analyze_array(y, sr=SR).dynamics.crest_factor_median_db
    assert "over_compressed" in {s.kind for s in r.suggestions}


def test_streaming_blocks_equal_offline():
    rng = np.random.default_rng(12)
    y = pink_noise(n=SR * 6, rng=rng, channels=2) * np.linspace(0.01, 0.2, SR * 6)[:, None]
    off = analyze_array(y, sr=SR)
    a = Analyzer(sr=SR, channels=2)
    i = 0
    while i < len(y):
        n = int(rng.integers(64, 5000))
        a.push(y[i : i + n])
        i += n
        if i > SR * 3 and i < SR * 3 + 5000:
            mid = a.report()                  # live snapshot mid-stream
            assert mid.duration_s < off.duration_s and np.isfinite(mid.loudness.integrated_lufs)
    on = a.report()
    for k in ("integrated_lufs", "lra_lu", "true_peak_dbtp", "momentary_max_lufs", "short_term_max_lufs"):
        assert getattr(on.loudness, k) == pytest.approx(getattr(off.loudness, k), abs=1e-9)
    np.testing.assert_allclose([b.level_db for b in on.tonal.bands], [b.level_db for b in off.tonal.bands], atol=1e-9)
    assert on.stereo.correlation == pytest.approx(off.stereo.correlation, abs=1e-12)
    assert on.dynamics.onset_count == off.dynamics.onset_count


def test_push_rejects_wrong_shape_and_nan():
    from nomad_muse.errors import InputError, ParameterError

    a = Analyzer(sr=SR, channels=2)
    with pytest.raises(ParameterError, match="must be"):
        a.push(np.zeros((10, 3)))
    with pytest.raises(InputError, match="NaN"):
        a.push(np.full((10, 2), np.nan))
