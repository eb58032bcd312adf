"""Tonal balance: the 7 bands of the seed and a 1/6-octave curve, on loudness-normalised audio.

Levels are band *powers* (not densities) in dB after a gain that brings the
programme's integrated loudness (BS.1770-4) to ``normalised_to_lufs``; so a
louder master does not read as "more of every band" — only the balance moves.
"""

from __future__ import annotations

import numpy as np

from nomad_muse.analyzer.fft import band_power, fractional_octave_smooth
from nomad_muse.analyzer.report import BandLevel, TonalReport

#: (name, lo Hz, hi Hz) — the seed's seven bands.
BANDS: tuple[tuple[str, float, float], ...] = (
    ("sub", 20.0, 60.0),
    ("bass", 60.0, 250.0),
    ("low_mid", 250.0, 500.0),
    ("mid", 500.0, 2000.0),
    ("high_mid", 2000.0, 6000.0),
    ("presence", 6000.0, 12000.0),
    ("air", 12000.0, 20000.0),
)
BAND_NAMES = tuple(b[0] for b in BANDS)
NORMALISE_TO_LUFS = -14.0
CURVE_FRACTION = 6


def _db(p: float) -> float:
    return float(10.0 * np.log10(p)) if p > 0 else float("-inf")


def band_levels_db(*, freqs: np.ndarray, psd: np.ndarray, gain_db: float = 0.0) -> dict[str, float]:
    """Power per band in dB (+ ``gain_db``), from a one-sided PSD in FS^2/Hz.

    A band whose lower edge is at or above the Nyquist frequency is NaN
    (not measurable at this sample rate); one that straddles it is measured up
    to Nyquist.
    """
    nyq = float(freqs[-1])
    out = {}
    for name, lo, hi in BANDS:
        if lo >= nyq:
            out[name] = float("nan")
        else:
            out[name] = _db(band_power(freqs, psd, f_lo=lo, f_hi=min(hi, nyq))) + gain_db
    return out


def tonal_report(*, freqs: np.ndarray, psd: np.ndarray, integrated_lufs: float,
                 normalise_to_lufs: float = NORMALISE_TO_LUFS, target=None) -> TonalReport | None:
    """Tonal balance of a programme whose mean PSD (over channels) is ``psd``.

    Parameters
    ----------
    freqs, psd : np.ndarray
        Bin frequencies (Hz) and one-sided PSD (FS^2/Hz), e.g. from Welch.
    integrated_lufs : float
        Integrated loudness (LUFS) used for normalisation; None is returned if not finite.
    target : nomad_muse.analyzer.targets.Target or None
        Genre/reference ranges attached to each band and the curve.
    """
    if not np.isfinite(integrated_lufs):
        return None
    gain_db = normalise_to_lufs - integrated_lufs
    levels = band_levels_db(freqs=freqs, psd=psd, gain_db=gain_db)
    curve = fractional_octave_smooth(freqs, psd, fraction=CURVE_FRACTION)
    curve_db = curve.level_db + gain_db
    bands = []
    for name, lo, hi in BANDS:
        t = target.bands.get(name) if target is not None else None
        bands.append(BandLevel(name=name, lo_hz=lo, hi_hz=hi, level_db=levels[name],
                               target_p10_db=t[0] if t else None, target_p50_db=t[1] if t else None,
                               target_p90_db=t[2] if t else None))
    tp = (None, None, None)
    if target is not None and target.curve_hz is not None:
        tp = tuple(tuple(float(v) for v in np.interp(curve.freqs_hz, target.curve_hz, q, left=np.nan, right=np.nan))
                   for q in target.curve_db)
    return TonalReport(normalised_to_lufs=normalise_to_lufs, bands=tuple(bands),
                       curve_hz=tuple(float(f) for f in curve.freqs_hz), curve_db=tuple(float(v) for v in curve_db),
                       target_name=target.name if target is not None else None,
                       target_curve_p10_db=tp[0], target_curve_p50_db=tp[1], target_curve_p90_db=tp[2])
