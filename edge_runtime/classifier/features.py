"""Log-mel features for the classifier, defined in seconds so any sample rate works.

A frame is a Hann-windowed FFT of ``WIN_S`` ≈ 46 ms (the nearest power of two
in samples: 1024 at 22.05 kHz, 2048 at 44.1/48 kHz) every ``HOP_S`` = 20 ms;
``N_MELS`` = 128 triangular mel bands (Slaney's mel scale, area-normalised)
from 30 Hz to min(11025 Hz, Nyquist). Bands above Nyquist (8 kHz audio) stay
at the floor: a defined, degraded input rather than an error.

The model sees ``CONTEXT`` = 8 consecutive frames (≈ 186 ms of audio at
22.05 kHz) as one input ``[1, 1, 128, 8]``, standardised per input (zero
mean, unit variance over the window) so the decision does not depend on
level; silence is detected separately from the RMS level.
"""

from __future__ import annotations

import functools

import numpy as np

SR_TRAIN = 22050
WIN_S = 0.046
HOP_S = 0.020
N_MELS = 128
FMIN, FMAX = 30.0, 11025.0
CONTEXT = 8
FLOOR_DB = -100.0


def frame_params(sr: int) -> tuple[int, int]:
    """(n_fft, hop) in samples for a sample rate: n_fft = the power of two nearest 46 ms."""
    n_fft = 1 << int(round(np.log2(WIN_S * sr)))
    return n_fft, int(round(HOP_S * sr))


def _hz_to_mel(f):
    """Slaney mel scale: linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=float)
    f_sp = 200.0 / 3
    mel = f / f_sp
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-9) / min_log_hz) / logstep, mel)


def _mel_to_hz(m):
    m = np.asarray(m, dtype=float)
    f_sp = 200.0 / 3
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


@functools.lru_cache(maxsize=8)
def mel_filterbank(sr: int, n_fft: int) -> np.ndarray:
    """[N_MELS, n_fft//2+1] triangular filters (area-normalised); bands above Nyquist are zero."""
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(FMIN), _hz_to_mel(FMAX), N_MELS + 2))
    fb = np.zeros((N_MELS, freqs.size), np.float32)
    for i in range(N_MELS):
        lo, c, hi = edges[i : i + 3]
        rise = (freqs - lo) / (c - lo)
        fall = (hi - freqs) / (hi - c)
        fb[i] = np.maximum(0, np.minimum(rise, fall)) * (2.0 / (hi - lo))
    fb.setflags(write=False)
    return fb


@functools.lru_cache(maxsize=8)
def _window(n_fft: int) -> np.ndarray:
    w = np.hanning(n_fft + 1)[:-1].astype(np.float32)
    w.setflags(write=False)
    return w


def logmel_frames(y: np.ndarray, sr: int) -> np.ndarray:
    """Log-mel power in dB, shape [n_frames, 128], for mono float audio ``y``.

    Frame i covers samples ``[i*hop, i*hop + n_fft)``; audio shorter than one
    frame is zero-padded to one frame.
    """
    n_fft, hop = frame_params(sr)
    y = np.asarray(y, dtype=np.float32)
    if y.size < n_fft:
        y = np.pad(y, (0, n_fft - y.size))
    n = 1 + (y.size - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n)[:, None]
    spec = np.abs(np.fft.rfft(y[idx] * _window(n_fft), axis=1)) ** 2
    mel = spec @ mel_filterbank(sr, n_fft).T
    return (10.0 * np.log10(np.maximum(mel, 1e-10))).astype(np.float32)


def normalise(window: np.ndarray) -> np.ndarray:
    """[CONTEXT, 128] dB frames → model input [1, 1, 128, CONTEXT], standardised."""
    x = np.maximum(window, window.max() - 80.0)
    x = (x - x.mean()) / (x.std() + 1e-5)
    return np.ascontiguousarray(x.T[None, None], dtype=np.float32)


def rms_dbfs(y: np.ndarray) -> float:
    """RMS level in dBFS (full-scale sine = −3.01 dBFS); −inf for digital silence."""
    r = float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))) if y.size else 0.0
    return 20 * np.log10(r) if r > 0 else float("-inf")
