"""FFT engine (pyFFTW plans, wisdom), Welch, smoothing and tonal bands."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from analyzer_signals import bandlimited_noise, pink_noise, sine
from nomad_muse.analyzer import analyze_array, fft, tonal

SR = 48000


@pytest.mark.parametrize("dtype,rtol", [("float64", 1e-9), ("float32", 2e-4)])
@pytest.mark.parametrize("window", ["hann", "blackmanharris"])
def test_welch_matches_scipy(dtype, rtol, window):
    y = np.random.default_rng(0).standard_normal(SR * 2)
    f, p = fft.welch_psd(y, sr=SR, n_fft=4096, window=window, dtype=dtype)
    f2, p2 = signal.welch(y, fs=SR, window=window, nperseg=4096, noverlap=2048, detrend=False)
    np.testing.assert_allclose(f, f2)
    np.testing.assert_allclose(p, p2, rtol=rtol)


def test_plans_are_real_fftw_and_cached():
    pytest.importorskip("pyfftw")
    a = fft.get_plan(2048, 4, "float32")
    assert a is fft.get_plan(2048, 4, "float32") and a.planned
    assert a.input.dtype == np.float32 and a.output.dtype == np.complex64
    import pyfftw

    assert pyfftw.is_byte_aligned(a.input)
    x = np.random.default_rng(1).standard_normal((4, 2048)).astype(np.float32)
    a.input[...] = x
    np.testing.assert_allclose(a.execute(), np.fft.rfft(x, axis=-1), rtol=1e-3, atol=1e-3)


def test_wisdom_is_exported_and_imported(tmp_path, monkeypatch):
    pytest.importorskip("pyfftw")
    monkeypatch.setenv("MUSE_HOME", str(tmp_path / "home"))
    fft.get_plan.cache_clear()
    fft.get_plan(1536, 1, "float64")       # a size no other test plans
    paths = fft.wisdom_paths()
    assert all(p.is_file() and str(p).startswith(str(tmp_path)) for p in paths.values())
    assert paths["double"].stat().st_size > 0
    assert fft.import_wisdom() is True
    paths["double"].write_bytes(b"garbage")
    assert fft.import_wisdom() is False     # unreadable wisdom is ignored, not fatal


def test_bad_n_fft_is_a_parameter_error():
    from nomad_muse.errors import ParameterError

    with pytest.raises(ParameterError, match="n_fft=100"):
        fft.get_plan(100)


def test_pink_noise_is_flat_in_sixth_octaves():
    y = pink_noise(n=SR * 8, rng=np.random.default_rng(2))[:, 0]
    f, p = fft.welch_psd(y, sr=SR, n_fft=8192)
    c = fft.fractional_octave_smooth(f, p, fraction=6)
    m = (c.freqs_hz > 60) & (c.freqs_hz < 16000)
    assert np.ptp(c.level_db[m]) < 2.0
    c3 = fft.fractional_octave_smooth(f, p, fraction=3)
    # a 1/3-octave band holds twice the power of a 1/6-octave band: +3 dB
    assert np.median(c3.level_db[(c3.freqs_hz > 100) & (c3.freqs_hz < 10000)]) - np.median(c.level_db[m]) == pytest.approx(3.0, abs=0.5)


@pytest.mark.parametrize("band", tonal.BANDS, ids=[b[0] for b in tonal.BANDS])
def test_bandlimited_noise_lands_in_its_band(band):
    name, lo, hi = band
    rng = np.random.default_rng(7)
    y = bandlimited_noise(lo=lo * 1.15, hi=hi / 1.15, seconds=4, sr=SR, rng=rng, channels=2) * 0.2
    t = analyze_array(y, sr=SR).tonal
    levels = {b.name: b.level_db for b in t.bands}
    others = [v for k, v in levels.items() if k != name]
    assert levels[name] - max(others) > 15.0


def test_two_tones_relative_level():
    y = sine(freq=100, dbfs=-12, seconds=4, sr=SR) + sine(freq=4000, dbfs=-18, seconds=4, sr=SR)
    t = analyze_array(y, sr=SR).tonal
    assert t.band("bass").level_db - t.band("high_mid").level_db == pytest.approx(6.0, abs=0.2)


def test_tonal_is_level_independent():
    y = pink_noise(n=SR * 4, rng=np.random.default_rng(4), channels=2) * 0.05
    a = analyze_array(y, sr=SR).tonal
    b = analyze_array(y * 4.0, sr=SR).tonal
    np.testing.assert_allclose([x.level_db for x in a.bands], [x.level_db for x in b.bands], atol=1e-6)


def test_air_band_above_nyquist_is_not_measured():
    y = pink_noise(n=16000 * 3, rng=np.random.default_rng(4)) * 0.1
    t = analyze_array(y, sr=16000).tonal
    assert np.isnan(t.band("air").level_db) and np.isfinite(t.band("high_mid").level_db)
