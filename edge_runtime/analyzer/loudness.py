"""Loudness meters after ITU-R BS.1770-4, EBU R128, EBU Tech 3341 and Tech 3342.

Variable names follow the symbols of BS.1770-4 (``z_ij``, ``l_j``,
``Gamma_a``, ``Gamma_r``, ``G_i``); comments cite its equations.  All
functions are pure and take keyword-only arguments; ``y`` is
``(n_samples, n_channels)`` float in full-scale units (1.0 = 0 dBFS).
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from nomad_muse.audio_io import LAYOUT_BY_CHANNELS  # noqa: F401  (re-exported: the layouts BS.1770 weights)
from nomad_muse.errors import ParameterError

#: BS.1770-4 eq. (2) channel weights G_i by layout (LFE excluded: weight 0).
CHANNEL_WEIGHTS = {
    "mono": (1.0,),
    "stereo": (1.0, 1.0),
    "5.0": (1.0, 1.0, 1.0, 1.41, 1.41),          # L R C Ls Rs
    "5.1": (1.0, 1.0, 1.0, 0.0, 1.41, 1.41),     # L R C LFE Ls Rs (SMPTE/WAV order)
}
ABSOLUTE_GATE_LUFS = -70.0      # Gamma_a, BS.1770-4 §2.8 / eq. (6)
RELATIVE_GATE_LU = -10.0        # BS.1770-4 eq. (6)
LRA_RELATIVE_GATE_LU = -20.0    # EBU Tech 3342 §2
SUB_BLOCK_S = 0.1               # 75 % overlap of 400 ms blocks = 100 ms steps
MOMENTARY_S = 0.4               # EBU R128 / Tech 3341: momentary window
SHORT_TERM_S = 3.0              # EBU R128 / Tech 3341: short-term window

# Analog prototypes of the two K-weighting stages whose bilinear transform at
# 48 kHz gives the coefficients tabulated in BS.1770-4 Tables 1 and 2 (the
# design used by libebur128); used for every sample rate.
_SHELF_F0, _SHELF_G_DB, _SHELF_Q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
_HP_F0, _HP_Q = 38.13547087602444, 0.5003270373238773


def k_weighting_sos(*, sr: float) -> np.ndarray:
    """K-weighting (BS.1770-4 §2.1, Tables 1–2) as second-order sections for sample rate ``sr`` Hz.

    Stage 1 is the "pre-filter" high shelf (+4 dB above ~1.7 kHz), stage 2 the
    RLB high-pass (~38 Hz).  At 48 kHz the coefficients equal the tables
    (b0=1.53512485958697, a1=-1.69065929318241, …, a1=-1.99004745483398).
    """
    if sr <= 2 * _SHELF_F0:
        raise ParameterError(f"sr={sr} Hz is too low for K-weighting (needs > {2 * _SHELF_F0:.0f} Hz)")
    k = np.tan(np.pi * _SHELF_F0 / sr)
    vh = 10.0 ** (_SHELF_G_DB / 20.0)
    vb = vh ** 0.4996667741545416
    a0 = 1.0 + k / _SHELF_Q + k * k
    b1 = [(vh + vb * k / _SHELF_Q + k * k) / a0, 2.0 * (k * k - vh) / a0, (vh - vb * k / _SHELF_Q + k * k) / a0]
    a1 = [1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / _SHELF_Q + k * k) / a0]
    k = np.tan(np.pi * _HP_F0 / sr)
    d = 1.0 + k / _HP_Q + k * k
    b2 = [1.0, -2.0, 1.0]
    a2 = [1.0, 2.0 * (k * k - 1.0) / d, (1.0 - k / _HP_Q + k * k) / d]
    return np.array([b1 + a1, b2 + a2], dtype=np.float64)


def k_weight(*, y: np.ndarray, sr: float) -> np.ndarray:
    """Apply K-weighting along axis 0 (BS.1770-4 §2.1); returns the filtered signal."""
    return signal.sosfilt(k_weighting_sos(sr=sr), y, axis=0)


def channel_weights(*, n_channels: int) -> np.ndarray:
    """G_i of BS.1770-4 eq. (2) for a supported channel count (1, 2, 5 or 6)."""
    layout = LAYOUT_BY_CHANNELS.get(n_channels)
    if layout is None:
        raise ParameterError(f"n_channels={n_channels}: supported layouts are mono, stereo, 5.0 and 5.1")
    return np.array(CHANNEL_WEIGHTS[layout])


def sub_block_mean_squares(*, yk: np.ndarray, sr: float) -> np.ndarray:
    """Mean square per channel of consecutive 100 ms sub-blocks of a K-weighted signal.

    A 400 ms gating block with 75 % overlap (BS.1770-4 §2.8) is the mean of four
    consecutive sub-blocks, so every meter here is built from these.

    Returns
    -------
    np.ndarray [shape=(n_sub_blocks, n_channels)]
        Mean squares (FS^2); an incomplete trailing sub-block is dropped.
    """
    sub = int(round(SUB_BLOCK_S * sr))
    n = yk.shape[0] // sub
    return np.mean(np.square(yk[: n * sub]).reshape(n, sub, -1), axis=1)


def window_mean_squares(*, z_sub: np.ndarray, n_sub: int) -> np.ndarray:
    """Mean squares over sliding windows of ``n_sub`` sub-blocks (hop one sub-block), shape ``(n_windows, ch)``."""
    if z_sub.shape[0] < n_sub:
        return np.empty((0, z_sub.shape[1]))
    c = np.concatenate([np.zeros((1, z_sub.shape[1])), np.cumsum(z_sub, axis=0)])
    return (c[n_sub:] - c[:-n_sub]) / n_sub


def block_loudness(*, z: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Loudness of each block, BS.1770-4 eq. (4): ``l_j = -0.691 + 10·log10(Σ_i G_i·z_ij)`` in LUFS."""
    with np.errstate(divide="ignore"):
        return -0.691 + 10.0 * np.log10(z @ weights)


def gated_loudness(*, z: np.ndarray, weights: np.ndarray) -> float:
    """Integrated loudness from 400 ms block mean squares ``z`` (BS.1770-4 eqs. 4–7), LUFS.

    Absolute gate Gamma_a = -70 LUFS; relative gate Gamma_r = loudness of the
    absolutely-gated blocks − 10 LU (eq. 6); the result is eq. (7) over blocks
    above both gates.  Returns ``-inf`` when no block passes (silence).
    """
    l_j = block_loudness(z=z, weights=weights)
    J_g = l_j > ABSOLUTE_GATE_LUFS
    if not np.any(J_g):
        return float("-inf")
    Gamma_r = block_loudness(z=z[J_g].mean(axis=0, keepdims=True), weights=weights)[0] + RELATIVE_GATE_LU
    J_g &= l_j > Gamma_r
    return float(block_loudness(z=z[J_g].mean(axis=0, keepdims=True), weights=weights)[0])


def loudness_range_from_short_term(*, s: np.ndarray) -> float:
    """Loudness range (LRA) in LU from short-term loudness values, EBU Tech 3342 §2.

    Values below -70 LUFS are discarded (absolute gate), then values below
    (power mean of the rest − 20 LU) (relative gate); LRA is the difference
    between the 95th and 10th percentiles of what remains.  0.0 when fewer
    than two values pass.
    """
    s = s[np.isfinite(s) & (s > ABSOLUTE_GATE_LUFS)]
    if s.size < 2:
        return 0.0
    gate = 10.0 * np.log10(np.mean(10.0 ** (s / 10.0))) + LRA_RELATIVE_GATE_LU
    s = s[s > gate]
    if s.size < 2:
        return 0.0
    lo, hi = np.percentile(s, [10.0, 95.0])
    return float(hi - lo)


def _as_2d(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64)
    return y[:, None] if y.ndim == 1 else y


def integrated_loudness(*, y: np.ndarray, sr: float) -> float:
    """Integrated (gated) loudness, ITU-R BS.1770-4 eqs. (1)–(7), in LUFS (``-inf`` for silence).

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (n, n_channels)]
        Audio, full-scale units; channel order L R C (LFE) Ls Rs.
    sr : float
        Sample rate in Hz.
    """
    y = _as_2d(y)
    z = window_mean_squares(z_sub=sub_block_mean_squares(yk=k_weight(y=y, sr=sr), sr=sr), n_sub=4)
    if z.shape[0] == 0:
        raise ParameterError(f"signal of {y.shape[0] / sr * 1000:.0f} ms is shorter than one 400 ms gating block")
    return gated_loudness(z=z, weights=channel_weights(n_channels=y.shape[1]))


def loudness_range(*, y: np.ndarray, sr: float) -> float:
    """Loudness range (LRA) after EBU Tech 3342, in LU (short-term 3 s windows every 100 ms)."""
    y = _as_2d(y)
    z = window_mean_squares(z_sub=sub_block_mean_squares(yk=k_weight(y=y, sr=sr), sr=sr), n_sub=30)
    return loudness_range_from_short_term(s=block_loudness(z=z, weights=channel_weights(n_channels=y.shape[1])))


def true_peak_filter(*, up: int, taps_per_phase: int = 12) -> np.ndarray:
    """Interpolation FIR for true-peak metering, ``up`` phases of ``taps_per_phase`` taps (for ``upfirdn``).

    BS.1770-4 Annex 2's structure: 4× oversampling (at 48 kHz) by a 48-tap,
    4-phase FIR, 12 taps per phase.  The coefficients are a Kaiser-windowed sinc
    (β = 6, cut-off at the input Nyquist frequency) rather than the Annex's
    example table: measured, the example's phases 1-2 gain +0.22 dB at fs/4,
    which reads Tech 3341 case 17 (fs/4 sine at 60°) at −5.796 dBTP, outside
    its +0.2 dB tolerance; this design is flat to 0.006 dB there and at DC.  The gain ``up`` makes each phase unity at DC (``upfirdn`` does not
    scale).
    """
    n = up * taps_per_phase
    return up * signal.firwin(n, 1.0 / up, window=("kaiser", 6.0))


def oversampling_factor(*, sr: float) -> int:
    """BS.1770-4 Annex 2: 4× at 48 kHz; 2× at 96 kHz; none at 192 kHz (≥ 192 kHz total)."""
    return int(max(1, min(4, np.ceil(192000.0 / sr - 1e-9))))


class TruePeakMeter:
    """Streaming true-peak meter (BS.1770-4 Annex 2): oversample, take max |x|.

    Feed blocks with :meth:`push`; :meth:`finish` flushes the filter tail.
    The result equals one pass over the whole signal (the signal is taken as
    preceded and followed by silence).

    Speed: the polyphase FIR runs through ``scipy.signal.upfirdn`` (only the
    12 non-zero products per output).  A channel's stretch is skipped, exactly,
    when it cannot raise that channel's peak: every interpolated value is at
    most ``max|x| · max_p Σ|h_p|`` over the stretch and its context.  The
    bound is applied per pass and then per 2048-sample stretch inside it,
    largest bound first, so on music only the stretches around the loudest
    peaks are filtered (issue 19).

    The reconstructed waveform passes through every sample, so the sample
    peak is a lower bound of the true peak; a finite FIR's roll-off can read
    below it on content near Nyquist (white noise: 0.9 dB), so each channel's
    result is the larger of the two.
    """

    _SCAN = 1 << 15  # input samples per filter pass
    _CHUNK = 2048  # input samples per bounded stretch inside a pass (only stretches that can raise the peak are filtered)

    def __init__(self, *, sr: float, n_channels: int) -> None:
        self.up = oversampling_factor(sr=sr)
        self.h = true_peak_filter(up=self.up) if self.up > 1 else None
        self.ctx = 0 if self.h is None else len(self.h) // self.up - 1  # input samples an output reaches back
        self.gain = 0.0 if self.h is None else float(np.abs(self.h.reshape(-1, self.up)).sum(axis=0).max())
        self.buf = np.zeros((self.ctx, n_channels))
        self.peak = np.zeros(n_channels)
        self.done = False

    def _scan(self, final: bool) -> None:
        x = self.buf
        if self.h is None:
            if x.shape[0]:
                self.peak = np.maximum(self.peak, np.max(np.abs(x), axis=0))
            self.buf = x[:0]
            return
        if final:
            x = np.concatenate([x, np.zeros((self.ctx, x.shape[1]))])
        n = x.shape[0]
        if n <= self.ctx:
            return
        lo, hi = (len(self.h) // self.up - 1) * self.up, n * self.up  # outputs fully inside x
        ax = np.abs(x)
        amax = np.max(ax, axis=0)
        self.peak = np.maximum(self.peak, amax)
        bound = amax * self.gain
        ctx, step = self.ctx, self._CHUNK
        for c in np.flatnonzero(bound > self.peak):
            # the outputs of input samples [a, b) need inputs [a - ctx, b): filter only the chunks whose
            # bound (max |x| over that span × gain) can still raise the peak, largest bound first;
            # each output is the same sum as in one pass over x, so the maximum is exactly the same
            starts = np.arange(ctx, n, step)
            spans = [(a, min(a + step, n)) for a in starts]
            col = ax[:, c]
            bounds = np.array([col[a - ctx : b].max() for a, b in spans]) * self.gain
            for i in np.argsort(-bounds, kind="stable"):
                if bounds[i] <= self.peak[c]:
                    break
                a, b = spans[i]
                yo = signal.upfirdn(self.h, x[a - ctx : b, c], self.up)
                self.peak[c] = max(self.peak[c], float(np.max(np.abs(yo[lo : (b - a + ctx) * self.up]))))
        self.buf = x[n - self.ctx:]

    def push(self, y: np.ndarray) -> None:
        """Add a block ``(n, n_channels)``."""
        self.buf = np.concatenate([self.buf, y])
        if self.buf.shape[0] >= self._SCAN:
            self._scan(final=False)

    def finish(self) -> np.ndarray:
        """Per-channel true peak (linear, FS) of everything pushed."""
        if not self.done:
            self._scan(final=True)
            self.done = True
        return self.peak


def true_peak(*, y: np.ndarray, sr: float) -> float:
    """Maximum true-peak level over all channels, BS.1770-4 Annex 2, in dBTP (``-inf`` for silence)."""
    y = _as_2d(y)
    m = TruePeakMeter(sr=sr, n_channels=y.shape[1])
    for s in range(0, y.shape[0], 1 << 16):
        m.push(y[s : s + (1 << 16)])
    return to_db(float(np.max(m.finish())))


def to_db(x: float, *, power: bool = False) -> float:
    """20·log10(x) (or 10·log10 for ``power``), ``-inf`` for 0."""
    if x <= 0:
        return float("-inf")
    return float((10.0 if power else 20.0) * np.log10(x))
