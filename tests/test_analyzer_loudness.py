"""Loudness meters against EBU Tech 3341/3342 signals, analytic values and pyloudnorm."""

from __future__ import annotations

import numpy as np
import pytest

from analyzer_signals import pink_noise, sine, tone_sequence
from nomad_muse.analyzer import analyze_array, loudness

SR = 48000


def test_k_weighting_matches_bs1770_tables_at_48k():
    sos = loudness.k_weighting_sos(sr=48000)
    # ITU-R BS.1770-4 Table 1 (pre-filter) and Table 2 (RLB filter)
    np.testing.assert_allclose(sos[0], [1.53512485958697, -2.69169618940638, 1.19839281085285,
                                        1.0, -1.69065929318241, 0.73248077421585], atol=1e-9)
    np.testing.assert_allclose(sos[1], [1.0, -2.0, 1.0, 1.0, -1.99004745483398, 0.99007225036621], atol=1e-9)


@pytest.mark.parametrize("sr", [44100, 48000, 96000])
@pytest.mark.parametrize("dbfs", [-23.0, -33.0])
def test_tech3341_cases_1_2_sine_reads_its_level(sr, dbfs):
    # Tech 3341 cases 1-2: stereo 1 kHz sine at X dBFS per channel reads X LUFS (±0.1 LU)
    y = sine(freq=1000, dbfs=dbfs, seconds=20, sr=sr)
    assert loudness.integrated_loudness(y=y, sr=sr) == pytest.approx(dbfs, abs=0.1)


@pytest.mark.parametrize("parts", [
    [(-36, 10), (-23, 60), (-36, 10)],                       # Tech 3341 case 3 (relative gate)
    [(-72, 10), (-36, 10), (-23, 60), (-36, 10), (-72, 10)],  # case 4 (absolute + relative gate)
    [(-26, 20), (-20, 20.1), (-26, 20)],                     # case 5
])
def test_tech3341_gating_cases(parts):
    y = tone_sequence(parts, sr=SR)
    assert loudness.integrated_loudness(y=y, sr=SR) == pytest.approx(-23.0, abs=0.1)


def test_997hz_sine_mono_is_3db_below_stereo():
    m = loudness.integrated_loudness(y=sine(freq=997, dbfs=-20, seconds=5, sr=SR, channels=1), sr=SR)
    s = loudness.integrated_loudness(y=sine(freq=997, dbfs=-20, seconds=5, sr=SR, channels=2), sr=SR)
    assert s - m == pytest.approx(10 * np.log10(2), abs=0.01)


@pytest.mark.parametrize("parts,lra", [
    ([(-20, 20), (-30, 20)], 10),                             # Tech 3342 case 1
    ([(-20, 20), (-15, 20)], 5),                              # case 2
    ([(-40, 20), (-20, 20)], 20),                             # case 3
    ([(-50, 20), (-35, 20), (-20, 20), (-35, 20), (-50, 20)], 15),  # case 4
])
def test_tech3342_loudness_range(parts, lra):
    y = tone_sequence(parts, sr=SR)
    assert loudness.loudness_range(y=y, sr=SR) == pytest.approx(lra, abs=1.0)


@pytest.mark.parametrize("phase_deg", [0.0, 45.0, 60.0, 67.5])
def test_tech3341_true_peak_quarter_fs_sine(phase_deg):
    # Tech 3341 cases 15-18: fs/4 sine, -6 dBFS peak, various phases: -6.0 dBTP (+0.2/-0.4 dB)
    sr = 48000
    y = sine(freq=sr / 4, dbfs=-6.0, seconds=1.0, sr=sr, phase=np.deg2rad(phase_deg))
    fade = np.minimum(1.0, np.minimum(np.arange(len(y)), np.arange(len(y))[::-1]) / 2400)[:, None]
    y = y * fade
    tp = loudness.true_peak(y=y, sr=sr)
    assert -6.4 <= tp <= -5.8
    if phase_deg == 45.0:  # samples hit ±0.707 of the peak: sample peak misses 3 dB that true peak finds
        assert 20 * np.log10(np.max(np.abs(y))) == pytest.approx(-9.03, abs=0.05)


def test_true_peak_streaming_equals_single_pass():
    rng = np.random.default_rng(3)
    y = rng.standard_normal((SR * 2, 2)) * 0.3
    m = loudness.TruePeakMeter(sr=SR, n_channels=2)
    i = 0
    for n in rng.integers(1, 9000, size=1000):
        m.push(y[i : i + n])
        i += n
        if i >= len(y):
            break
    m.push(y[i:])
    one = loudness.TruePeakMeter(sr=SR, n_channels=2)
    one.push(y)
    np.testing.assert_allclose(m.finish(), one.finish(), rtol=1e-12)


def test_sine_rms_sample_peak_plr():
    r = analyze_array(sine(freq=997, dbfs=-10, seconds=4, sr=SR), sr=SR).loudness
    assert r.sample_peak_dbfs == pytest.approx(-10.0, abs=0.01)
    assert r.true_peak_dbtp == pytest.approx(-10.0, abs=0.05)
    assert r.rms_dbfs == pytest.approx(-13.01, abs=0.02)
    assert r.crest_factor_db == pytest.approx(3.01, abs=0.03)
    assert r.plr_lu == pytest.approx(r.true_peak_dbtp - r.integrated_lufs, abs=1e-9)
    assert r.integrated_lufs == pytest.approx(-10.0, abs=0.1)


def _varied_signals():
    rng = np.random.default_rng(11)
    yield "white stereo", rng.standard_normal((SR * 6, 2)) * 0.1, SR
    yield "pink mono 44.1k", pink_noise(n=44100 * 6, rng=rng) * 0.05, 44100
    env = np.repeat(rng.uniform(0.01, 0.5, 30), 44100 * 8 // 30 + 1)[: 44100 * 8, None]
    yield "gated noise bursts", rng.standard_normal((44100 * 8, 2)) * env, 44100
    y = pink_noise(n=SR * 5, rng=rng, channels=5) * np.array([0.1, 0.1, 0.05, 0.03, 0.03])
    yield "5.0 pink", y, SR
    yield "stereo 96k sines", sine(freq=220, dbfs=-18, seconds=4, sr=96000) + sine(freq=5000, dbfs=-24, seconds=4, sr=96000), 96000


@pytest.mark.parametrize("name,y,sr", list(_varied_signals()), ids=lambda v: v if isinstance(v, str) else "")
def test_agrees_with_pyloudnorm(name, y, sr):
    pyln = pytest.importorskip("pyloudnorm")
    ref = pyln.Meter(sr).integrated_loudness(y)
    assert loudness.integrated_loudness(y=y, sr=sr) == pytest.approx(ref, abs=0.1)
    rep = analyze_array(y, sr=sr)
    assert rep.loudness.integrated_lufs == pytest.approx(loudness.integrated_loudness(y=y, sr=sr), abs=1e-6)


def test_surround_lfe_is_excluded_and_surrounds_weighted():
    base = pink_noise(n=SR * 3, rng=np.random.default_rng(5), channels=1)[:, 0] * 0.1
    z = np.zeros_like(base)
    lfe_only = np.stack([z, z, z, base, z, z], axis=1)
    assert analyze_array(lfe_only, sr=SR).loudness.silent
    front = loudness.integrated_loudness(y=np.stack([base, z, z, z, z, z], axis=1), sr=SR)
    surround = loudness.integrated_loudness(y=np.stack([z, z, z, z, base, z], axis=1), sr=SR)
    assert surround - front == pytest.approx(10 * np.log10(1.41), abs=0.01)   # G_i = 1.41 (BS.1770-4 eq. 2)


def test_momentary_and_short_term_max():
    y = tone_sequence([(-30, 5), (-10, 0.5), (-30, 5)], sr=SR)
    L = analyze_array(y, sr=SR).loudness
    assert L.momentary_max_lufs == pytest.approx(-10.0, abs=0.1)     # a 400 ms window fits inside the burst
    # 3 s window: 0.5 s at -10 plus 2.5 s at -30 (power mean)
    expect = 10 * np.log10((0.5 * 10 ** -1 + 2.5 * 10 ** -3) / 3)
    assert L.short_term_max_lufs == pytest.approx(expect, abs=0.15)


def test_true_peak_skipping_is_exact_and_never_below_sample_peak():
    # the meter skips stretches that cannot raise the peak; it must equal one full polyphase pass
    from scipy import signal as sps
    rng = np.random.default_rng(4)
    y = rng.standard_normal((SR * 3, 2)) * np.linspace(0.02, 0.3, SR * 3)[:, None]
    y[SR // 2, 0] = 0.95  # an early spike, so later quiet stretches are skipped
    h = loudness.true_peak_filter(up=4)
    full = [max(np.max(np.abs(sps.upfirdn(h, y[:, c], 4))), np.max(np.abs(y[:, c]))) for c in range(2)]
    m = loudness.TruePeakMeter(sr=SR, n_channels=2)
    for s in range(0, len(y), 1000):
        m.push(y[s:s + 1000])
    assert np.allclose(m.finish(), full, rtol=0, atol=1e-12)
    assert h.shape == (48,) and np.allclose(h.reshape(12, 4).sum(axis=0), 1.0, atol=1e-3)
