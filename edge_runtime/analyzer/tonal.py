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


#: Self-reference: width (octaves) of the running median that estimates the mix's own trend, the
#: running mean that smooths it, and the frequency span judged (edges are the target's job: a
#: running fit cannot tell a shelf at the very end of the spectrum from the mix's own roll-off).
SELF_MEDIAN_OCTAVES = 4.0
SELF_MEAN_OCTAVES = 1.0
SELF_SPAN_HZ = (35.0, 14000.0)
SELF_ITERATIONS = 4
SELF_CLIP_DB = 1.5
#: Fitted on the training split of real masters (profiles/genres/derive_real_masters.py): with 1/3-octave
#: smoothing, ≥ 3 points and 8 dB, 114 training tracks gave 0.18 self-reference regions per clean track.
SELF_MIN_POINTS = 3
SELF_TOLERANCE_DB = 8.0
#: A region is "empty" (no instrument plays there) when its curve lies this far below the curve's maximum.
EMPTY_BELOW_MAX_DB = 45.0


def _running(x: np.ndarray, v: np.ndarray, width_oct: float, fn) -> np.ndarray:
    half = width_oct / 2.0
    return np.array([fn(v[np.abs(x - xi) <= half + 1e-9]) for xi in x])


def self_trend_db(curve_hz, curve_db) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The mix's own smooth trend (its tilt) and the residual of the curve against it.

    A running median ``SELF_MEDIAN_OCTAVES`` wide on a log2-frequency axis
    (robust: a resonance or dip narrower than half the window does not move it),
    then a running mean ``SELF_MEAN_OCTAVES`` wide, repeated ``SELF_ITERATIONS``
    times on the curve clipped to ±``SELF_CLIP_DB`` around the last trend (so a
    broad bell does not lift its own reference); only finite points inside
    ``SELF_SPAN_HZ`` are used. Hand-written because scipy's median filters work
    on sample counts, not on an axis with holes (NaN above Nyquist).

    Returns ``(freqs_hz, trend_db, residual_db)`` of the judged points.
    """
    f = np.asarray(curve_hz, dtype=float)
    v = np.asarray(curve_db, dtype=float)
    m = np.isfinite(v) & (f >= SELF_SPAN_HZ[0]) & (f <= SELF_SPAN_HZ[1])
    f, v = f[m], v[m]
    if f.size < 6:
        return f, v, np.zeros_like(v)
    x = np.log2(f)
    w = v
    for _ in range(SELF_ITERATIONS):
        trend = _running(x, _running(x, w, SELF_MEDIAN_OCTAVES, np.median), SELF_MEAN_OCTAVES, np.mean)
        w = np.clip(v, trend - SELF_CLIP_DB, trend + SELF_CLIP_DB)
    return f, trend, v - trend


def third_octave_db(curve_db) -> np.ndarray:
    """The 1/6-octave curve smoothed to ~1/3 octave: power mean of each point and its two neighbours."""
    p = np.power(10.0, np.asarray(curve_db, dtype=float) / 10.0)
    ok = np.isfinite(p)
    k = np.convolve(np.where(ok, p, 0.0), np.ones(3), mode="same") / np.maximum(np.convolve(ok.astype(float), np.ones(3), mode="same"), 1.0)
    with np.errstate(divide="ignore"):
        return np.where(ok, 10.0 * np.log10(k), np.nan)


def self_regions(curve_hz, curve_db, *, tolerance_db: float, min_points: int = SELF_MIN_POINTS,
                 spread=None) -> list[dict]:
    """Resonances (+) and dips (−) of the curve against its own trend (:func:`self_trend_db`).

    The curve is first smoothed to 1/3 octave (:func:`third_octave_db`: single
    notes of tonal music make 1/6-octave peaks). A region is a run of at least
    ``min_points`` consecutive points (1/6 octave apart, so 1/2 octave by default) whose residual exceeds
    ``tolerance_db`` with one sign, bounded on both sides by points that do
    not (a run touching the ends of the judged span is the spectrum's own
    roll-off, not a local feature; shelves there are the target's job). Each dict: ``sign`` (+1/−1), ``lo_hz``,
    ``hi_hz``, ``peak_hz``, ``peak_db`` (signed residual at the extreme).

    ``spread`` — ``(freqs_hz, up_db, down_db)`` learned from clean real masters (an alternative measured on the
    training split and not used by default, docs/analyzer.md)
    (:func:`self_spread`): the threshold at each point is then that point's
    normal upward (downward) residual plus ``tolerance_db`` as a margin,
    instead of ``tolerance_db`` alone. Runs touching the ends of the judged
    span are then kept too (``edge`` = "low"/"high": a shelf), since the
    learned threshold there already holds the normal roll-off of real masters;
    without ``spread`` they are dropped (``edge`` is None for kept runs).
    """
    f, _, r = self_trend_db(curve_hz, third_octave_db(curve_db))
    out = []
    thr = {1.0: np.full(f.shape, tolerance_db), -1.0: np.full(f.shape, tolerance_db)}
    if spread is not None and f.size:
        sf_, up, down = (np.asarray(a, dtype=float) for a in spread)
        thr[1.0] = tolerance_db + np.interp(np.log2(f), np.log2(sf_), up)
        thr[-1.0] = tolerance_db + np.interp(np.log2(f), np.log2(sf_), down)
    for sign in (1.0, -1.0):
        hit = sign * r > thr[sign]
        i = 0
        while i < len(hit):
            if not hit[i]:
                i += 1
                continue
            j = i
            while j + 1 < len(hit) and hit[j + 1]:
                j += 1
            inner = i > 0 and j < len(hit) - 1
            if j - i + 1 >= min_points and (inner or spread is not None):
                k = i + int(np.argmax(sign * r[i:j + 1]))
                out.append({"sign": int(sign), "lo_hz": float(f[i]), "hi_hz": float(f[j]),
                            "peak_hz": float(f[k]), "peak_db": float(r[k]),
                            "edge": None if inner else ("low" if i == 0 else "high")})
            i = j + 1
    return out


def self_spread(curves, *, q: float = 95.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-point normal self-residual of clean masters: ``(freqs_hz, up_db, down_db)``.

    ``curves`` is a sequence of ``(curve_hz, curve_db)`` of clean, mastered
    tracks; ``up_db`` is the ``q``-th percentile of the positive residual
    (:func:`self_trend_db` of the 1/3-octave curve) at each judged frequency,
    ``down_db`` the same for the negative residual (as a positive number).
    """
    acc: dict[float, list[float]] = {}
    for hz, db in curves:
        f, _, r = self_trend_db(hz, third_octave_db(db))
        for fi, ri in zip(f, r):
            acc.setdefault(round(float(fi), 2), []).append(float(ri))
    fs = np.array(sorted(acc))
    up = np.array([np.percentile(np.maximum(acc[k], 0.0), q) for k in fs])
    down = np.array([np.percentile(np.maximum(-np.asarray(acc[k]), 0.0), q) for k in fs])
    return fs, up, down


def empty_edges_hz(curve_hz, curve_db, *, below_max_db: float = EMPTY_BELOW_MAX_DB) -> tuple[float | None, float | None]:
    """``(below_hz, above_hz)``: the mix has nothing below / above these frequencies (None: not empty).

    "Nothing" means every 1/6-octave point beyond the edge lies more than
    ``below_max_db`` under the curve's maximum — the arrangement has no
    instrument there, and an EQ boost would only raise noise.
    """
    f = np.asarray(curve_hz, dtype=float)
    v = np.asarray(curve_db, dtype=float)
    m = np.isfinite(v)
    f, v = f[m], v[m]
    if f.size == 0:
        return None, None
    alive = v > v.max() - below_max_db
    idx = np.flatnonzero(alive)
    below = float(f[idx[0]]) if idx[0] > 0 else None
    above = float(f[idx[-1]]) if idx[-1] < f.size - 1 else None
    return below, above
