"""Test signals for the analyzer tests, generated from their published definitions."""

from __future__ import annotations

import numpy as np
from scipy import signal

from nomad_muse.analyzer.evaluate import low_shelf, peaking_eq  # the same filters muse evaluate analyzer plants


def sine(*, freq: float, dbfs: float, seconds: float, sr: int, channels: int = 2, phase: float = 0.0) -> np.ndarray:
    """A sine of peak level ``dbfs`` on every channel, ``(n, channels)``."""
    t = np.arange(int(round(seconds * sr))) / sr
    y = 10 ** (dbfs / 20) * np.sin(2 * np.pi * freq * t + phase)
    return np.repeat(y[:, None], channels, axis=1)


def tone_sequence(parts, *, sr: int, freq: float = 1000.0) -> np.ndarray:
    """Concatenated stereo 1 kHz sines ``[(dbfs, seconds), ...]`` (EBU Tech 3341/3342 style)."""
    return np.concatenate([sine(freq=freq, dbfs=d, seconds=s, sr=sr) for d, s in parts])


def pink_noise(*, n: int, rng: np.random.Generator, channels: int = 1) -> np.ndarray:
    """Pink (1/f power) noise by spectral shaping of white noise, unit RMS per channel."""
    out = []
    for _ in range(channels):
        X = np.fft.rfft(rng.standard_normal(n))
        f = np.fft.rfftfreq(n)
        f[0] = f[1]
        x = np.fft.irfft(X / np.sqrt(f), n)
        out.append(x / np.sqrt(np.mean(x**2)))
    return np.stack(out, axis=1)


def bandlimited_noise(*, lo: float, hi: float, seconds: float, sr: int, rng, channels: int = 1) -> np.ndarray:
    """White noise through an 8th-order Butterworth band-pass lo–hi Hz."""
    sos = signal.butter(8, [lo, hi], btype="bandpass", fs=sr, output="sos")
    return signal.sosfilt(sos, rng.standard_normal((int(seconds * sr), channels)), axis=0)
