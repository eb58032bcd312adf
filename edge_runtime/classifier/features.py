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
import hashlib

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
def hann(n_fft: int) -> np.ndarray:
    """Periodic Hann window of ``n_fft`` samples (the DFT-even form used for STFT analysis)."""
    w = np.hanning(n_fft + 1)[:-1].astype(np.float32)
    w.setflags(write=False)
    return w


def logmel_frame(seg: np.ndarray, sr: int = SR_TRAIN) -> np.ndarray:
    """THE log-mel frame: dB mel power of ``seg`` (``[..., n_fft]`` samples, one frame per row).

    Training (:func:`logmel_frames`), calibration timing and the streaming
    classifier all call this one function, so their frames cannot drift apart.
    """
    n_fft = seg.shape[-1]
    spec = np.abs(np.fft.rfft(seg * hann(n_fft), axis=-1)) ** 2
    mel = spec @ mel_filterbank(sr, n_fft).T
    return (10.0 * np.log10(np.maximum(mel, 1e-10))).astype(np.float32)


def logmel_frames(y: np.ndarray, sr: int = SR_TRAIN) -> np.ndarray:
    """Log-mel power in dB, shape [n_frames, 128], for mono float audio ``y``.

    Frame i covers samples ``[i*hop, i*hop + n_fft)``; audio shorter than one
    frame is zero-padded to one frame.
    """
    return logmel_frame(_frames(y, sr), sr)


def window_level_dbfs(mean_squares) -> float:
    """Level of a context window in dBFS from its frames' mean squares (the silence gate's input)."""
    ms = float(np.mean(mean_squares)) if len(mean_squares) else 0.0
    return 10 * np.log10(ms) if ms > 0 else float("-inf")


def frame_mean_squares(y: np.ndarray, sr: int = SR_TRAIN) -> np.ndarray:
    """Mean square of each frame's samples (same framing as :func:`logmel_frames`)."""
    return np.mean(np.square(_frames(y, sr), dtype=np.float64), axis=1)


def _frames(y: np.ndarray, sr: int) -> np.ndarray:
    """``[n_frames, n_fft]`` float32 view-copy of ``y``: frame i = samples ``[i*hop, i*hop + n_fft)``,
    audio shorter than one frame zero-padded to one frame (the framing of both functions above)."""
    n_fft, hop = frame_params(sr)
    y = np.asarray(y, dtype=np.float32)
    if y.size < n_fft:
        y = np.pad(y, (0, n_fft - y.size))
    n = 1 + (y.size - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n)[:, None]
    return y[idx]


def context_windows(y: np.ndarray, *, step: int = 1, silence_dbfs: float | None = None, sr: int = SR_TRAIN) -> list[tuple[int, np.ndarray]]:
    """THE windowing: (index of the window's last frame, model input [1,128,CONTEXT]) for audio ``y``.

    Window k holds frames ``[k, k+CONTEXT)``; every ``step``-th window is
    kept; windows whose level (:func:`window_level_dbfs`) is below
    ``silence_dbfs`` are dropped. The streaming classifier with a 20 ms hop
    classifies exactly these windows (step 1) of the same audio.
    """
    frames = logmel_frames(y, sr)
    ms = frame_mean_squares(y, sr)
    out = []
    for s in range(0, max(1, len(frames) - CONTEXT + 1), step):
        w = frames[s : s + CONTEXT]
        if silence_dbfs is not None and window_level_dbfs(ms[s : s + CONTEXT]) < silence_dbfs:
            continue
        if len(w) < CONTEXT:
            w = np.concatenate([w, np.full((CONTEXT - len(w), w.shape[1]), FLOOR_DB, np.float32)])
        out.append((s + CONTEXT - 1, normalise(w)[0]))
    return out


def split_of(key: str, validation: float = 0.1) -> str:
    """THE train/validation split: "validation" for a stable ``validation`` share of keys, else "train".

    ``key`` is a clip's path relative to its data root (training) or to the
    user's folder (``muse adapt classifier``): SHA-256 of the key, first 32
    bits as a fraction of 2**32 − 1.
    """
    u = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "validation" if u < validation else "train"


@functools.lru_cache(maxsize=8)
def _resample_design(sr_in: int, sr_out: int) -> tuple[int, int, np.ndarray]:
    from math import gcd

    from scipy.signal import firwin

    g = gcd(sr_in, sr_out)
    up, down = sr_out // g, sr_in // g
    if up == down:
        return 1, 1, np.ones(1)
    # the same Kaiser(5.0) low-pass scipy.signal.resample_poly designs, gain ``up``
    half = 10 * max(up, down)
    h = (firwin(2 * half + 1, 1.0 / max(up, down), window=("kaiser", 5.0)) * up).astype(np.float64)
    h.setflags(write=False)
    return up, down, h


def _polyphase_filter(h: np.ndarray, up: int, down: int):
    """``x ↦ scipy.signal.upfirdn(h, x, up, down)`` for float64 ``x``, with scipy's polyphase filter object
    built once (``upfirdn`` rebuilds it every call, a third of a 20 ms hop's resampling cost); the
    public function where scipy's private class is not there."""
    try:
        from scipy.signal._upfirdn import _UpFIRDn

        return _UpFIRDn(h, np.float64, up, down).apply_filter
    except (ImportError, AttributeError, TypeError):  # pragma: no cover - another scipy's internals
        from scipy.signal import upfirdn

        return functools.partial(upfirdn, h, up=up, down=down)


class Resampler:
    """Stateful rational resampler ``sr_in`` → ``sr_out`` (polyphase FIR, the filter of ``scipy.signal.resample_poly``).

    Output m is ``sum_n x[n]·h[m·down + c − n·up]`` with ``c`` the filter's
    centre, so the output is aligned with the input (no group delay); each
    output is produced once all the input it needs has arrived. Pushing a
    signal in any block sizes gives the same samples as :func:`resample` of
    the whole signal (which is this class with one push). The streaming
    bookkeeping is hand-written because scipy has no streaming polyphase
    resampler; the filter design is scipy's (``firwin``, Kaiser β = 5, as
    ``resample_poly``) and each push's sum is one ``scipy.signal.upfirdn``
    call over the samples it needs (issue 19: 2–3× cheaper than gathering a
    window per output).
    """

    def __init__(self, sr_in: int, sr_out: int = SR_TRAIN):
        up, down, h = _resample_design(int(sr_in), int(sr_out))
        self.up, self.down, self.identity = up, down, up == down
        self._c = (h.size - 1) // 2
        self._k = -(-h.size // up)  # taps per phase
        # scipy.signal.upfirdn computes sum_i xs[i]·h[j·down − i·up] for a segment xs starting at input s;
        # that is output m = j + (s·up − c)/down when s·up ≡ c (mod down): segments start in that class
        self._s_res = (self._c * pow(up, -1, down)) % down if down > 1 else 0
        self._fir = _polyphase_filter(h, up, down)
        self._buf = np.zeros(self._k, np.float64)  # x[n < 0] = 0
        self._s0 = -self._k  # absolute input index of _buf[0]
        self._n = 0  # input samples received
        self._m = 0  # next output index

    def _emit(self, m_end: int) -> np.ndarray:
        up, down, k = self.up, self.down, self._k
        lo = (self._m * down + self._c) // up - (k - 1)  # first input output _m needs (absolute)
        hi = ((m_end - 1) * down + self._c) // up  # newest input output m_end − 1 needs
        s = lo - (lo - self._s_res) % down  # segment start ≤ lo in the aligned class; earlier samples meet no tap
        x = self._buf[max(0, s - self._s0) : hi + 1 - self._s0]
        pad_l, pad_r = max(0, self._s0 - s), max(0, hi + 1 - (self._s0 + self._buf.size))
        if pad_l or pad_r:
            x = np.concatenate([np.zeros(pad_l), x, np.zeros(pad_r)])
        j0 = self._m - (s * up - self._c) // down
        out = self._fir(x)[j0 : j0 + m_end - self._m]
        self._m = m_end
        keep_from = (self._m * down + self._c) // up - k + 1 - self._s0
        if keep_from > 0:
            self._buf, self._s0 = self._buf[keep_from:], self._s0 + keep_from
        return out.astype(np.float32)

    def push(self, x: np.ndarray, *, last: bool = False) -> np.ndarray:
        """Resample the next block; ``last=True`` ends the input (zeros after it) and emits the tail."""
        x = np.asarray(x, dtype=np.float32)
        if self.identity:
            return x
        self._buf = np.concatenate([self._buf, x.astype(np.float64)])
        self._n += x.size
        if last:
            m_end = -(-self._n * self.up // self.down)
        else:  # outputs whose newest input sample has arrived
            m_end = max(self._m, ((self._n - 1) * self.up - self._c) // self.down + 1) if self._n else self._m
            while m_end > self._m and ((m_end - 1) * self.down + self._c) // self.up > self._n - 1:
                m_end -= 1
        if m_end <= self._m:
            return np.zeros(0, np.float32)
        return self._emit(m_end)


def resample(y: np.ndarray, sr: int, sr_out: int = SR_TRAIN) -> np.ndarray:
    """``y`` at ``sr`` → ``sr_out`` (unchanged when equal): :class:`Resampler` over the whole signal."""
    return Resampler(sr, sr_out).push(y, last=True)


def normalise(window: np.ndarray) -> np.ndarray:
    """[CONTEXT, 128] dB frames → model input [1, 1, 128, CONTEXT], standardised."""
    x = np.maximum(window, window.max() - 80.0)
    d = x - x.mean()
    d /= np.sqrt(np.mean(np.square(d))) + 1e-5  # x.std() spelled out: the mean is computed once
    return np.ascontiguousarray(d.T[None, None], dtype=np.float32)


def rms_dbfs(y: np.ndarray) -> float:
    """RMS level in dBFS (full-scale sine = −3.01 dBFS); −inf for digital silence."""
    r = float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))) if y.size else 0.0
    return 20 * np.log10(r) if r > 0 else float("-inf")
