"""Augmentation: pure functions (gain, noise, EQ tilt, reverb, pitch shift, time stretch, mixing) and their random chain."""

from __future__ import annotations

import time

import numpy as np


# ---------------------------------------------------------------- augmentation
def _db(x: float) -> float:
    return 10.0 ** (x / 20.0)


def gain(y: np.ndarray, db: float) -> np.ndarray:
    """Scale by ``db`` decibels."""
    return (np.asarray(y, dtype=np.float64) * _db(db)).astype(np.float32)


def add_noise(y: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Add white Gaussian noise at ``snr_db`` below the signal's mean power (silent input stays silent)."""
    y = np.asarray(y, dtype=np.float64)
    p = float(np.mean(y**2)) if y.size else 0.0
    if p <= 0:
        return y.astype(np.float32)
    noise = rng.standard_normal(y.shape)
    noise *= np.sqrt(p / 10 ** (snr_db / 10.0) / float(np.mean(noise**2)))
    return (y + noise).astype(np.float32)


def eq_tilt(y: np.ndarray, sr: int, db_per_decade: float, *, pivot_hz: float = 1000.0) -> np.ndarray:
    """Tilt the spectrum by about ``db_per_decade`` around ``pivot_hz`` with a first-order shelf.

    The shelf (one zero, one pole, bilinear transform) spans 2·|dB| in total,
    centred on the pivot with 0 dB there, so the level one decade above the
    pivot differs from the level one decade below by ≈ 2·``db_per_decade``
    (the average slope over 100 Hz–10 kHz for the default pivot).
    """
    from scipy.signal import bilinear, freqz, lfilter

    y = np.asarray(y, dtype=np.float64)
    if abs(db_per_decade) < 1e-6 or y.size == 0:
        return y.astype(np.float32)
    g = _db(2.0 * abs(db_per_decade))  # total shelf gain
    w0 = 2 * np.pi * pivot_hz
    wz, wp = w0 / np.sqrt(g), w0 * np.sqrt(g)  # high shelf: +|2·dB| above the pivot
    if db_per_decade < 0:
        wz, wp = wp, wz  # low-pass-like shelf: −|2·dB| above the pivot
    b, a = bilinear([1 / wz, 1.0], [1 / wp, 1.0], fs=sr)
    _, h = freqz(b, a, worN=[pivot_hz], fs=sr)
    b = b / abs(h[0])  # 0 dB at the pivot
    return lfilter(b, a, y).astype(np.float32)


def reverb(y: np.ndarray, sr: int, rt60: float, wet: float, rng: np.random.Generator) -> np.ndarray:
    """Convolve with exponentially decaying noise (−60 dB after ``rt60`` s); ``wet`` in 0..1, length kept."""
    from scipy.signal import fftconvolve

    y = np.asarray(y, dtype=np.float64)
    if wet <= 0 or y.size == 0:
        return y.astype(np.float32)
    n = max(1, int(rt60 * sr))
    t = np.arange(n) / sr
    ir = rng.standard_normal(n) * np.exp(-6.907755 * t / rt60)  # ln(1000) = 6.9078: −60 dB at rt60
    ir /= np.sqrt(np.sum(ir**2))
    w = fftconvolve(y, ir)[: len(y)]
    return ((1 - wet) * y + wet * w).astype(np.float32)


def _fit(y: np.ndarray, n: int) -> np.ndarray:
    return y[:n] if len(y) >= n else np.pad(y, (0, n - len(y)))


def _ratio(x: float, max_den: int = 200) -> tuple[int, int]:
    from fractions import Fraction

    f = Fraction(x).limit_denominator(max_den)
    return f.numerator, f.denominator


def pitch_shift(y: np.ndarray, semitones: float) -> np.ndarray:
    """Shift pitch (and tempo, as tape does) by ``semitones``; the output keeps the input's length.

    Resampling by 1/r with ``resample_poly`` then playing at the same rate
    multiplies every frequency by r = 2^(semitones/12); the result is cut or
    zero-padded to the original length.
    """
    from scipy.signal import resample_poly

    y = np.asarray(y, dtype=np.float64)
    if abs(semitones) < 1e-6 or y.size == 0:
        return y.astype(np.float32)
    up, down = _ratio(2.0 ** (-semitones / 12.0))  # new length = len * up/down
    return _fit(resample_poly(y, up, down), len(y)).astype(np.float32)


def time_stretch(y: np.ndarray, rate: float) -> np.ndarray:
    """Resampling time stretch: the output has ``len(y) / rate`` samples.

    ``rate`` > 1 shortens (faster), < 1 lengthens; pitch moves with it (as a
    tape speed change does). ``time_stretch(time_stretch(y, r), 1 / r)``
    restores the length (±1 sample). :func:`augment` cuts or pads the result
    back to the clip length.
    """
    from scipy.signal import resample_poly

    y = np.asarray(y, dtype=np.float64)
    if abs(rate - 1.0) < 1e-6 or y.size == 0:
        return y.astype(np.float32)
    up, down = _ratio(1.0 / rate)
    return resample_poly(y, up, down).astype(np.float32)


def mix(y: np.ndarray, other: np.ndarray, rel_db: float) -> np.ndarray:
    """Add ``other`` (cut/padded to ``y``'s length) with its RMS ``rel_db`` dB relative to ``y``'s (rel_db < 0)."""
    y = np.asarray(y, dtype=np.float64)
    o = _fit(np.asarray(other, dtype=np.float64), len(y))
    ry, ro = np.sqrt(np.mean(y**2)) if y.size else 0.0, np.sqrt(np.mean(o**2)) if o.size else 0.0
    if ry <= 0 or ro <= 0:
        return y.astype(np.float32)
    return (y + o * (ry / ro) * _db(rel_db)).astype(np.float32)


def augment(y: np.ndarray, sr: int, rng: np.random.Generator, *, other: np.ndarray | None = None) -> np.ndarray:
    """A random chain of the transforms above; same length as ``y``; the label stays ``y``'s.

    Each transform is applied with some probability: time stretch ±10 % (0.5),
    pitch shift ±2 st (0.5), mixing ``other`` at −15…−6 dB (when given), EQ tilt
    ±6 dB/decade (0.6), reverb RT60 0.2–1.5 s wet 0–40 % (0.5), noise SNR 20–50 dB
    (0.5), gain ±12 dB (always). A result whose peak would pass 1.0 is scaled
    down to peak 0.999 (a limited gain, not hard clipping).
    """
    y = np.asarray(y, dtype=np.float32)
    n = len(y)
    out = y
    if rng.random() < 0.5:
        out = _fit(time_stretch(out, float(rng.uniform(0.9, 1.1))), n)
    if rng.random() < 0.5:
        out = pitch_shift(out, float(rng.uniform(-2.0, 2.0)))
    if other is not None:
        out = mix(out, other, float(rng.uniform(-15.0, -6.0)))
    if rng.random() < 0.6:
        out = eq_tilt(out, sr, float(rng.uniform(-6.0, 6.0)))
    if rng.random() < 0.5:
        out = reverb(out, sr, float(rng.uniform(0.2, 1.5)), float(rng.uniform(0.0, 0.4)), rng)
    if rng.random() < 0.5:
        out = add_noise(out, float(rng.uniform(20.0, 50.0)), rng)
    out = gain(out, float(rng.uniform(-12.0, 12.0)))
    peak = float(np.max(np.abs(out))) if out.size else 0.0
    if peak > 0.999:
        out = out * (0.999 / peak)
    return out.astype(np.float32)
