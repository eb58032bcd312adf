"""Spectral engine: FFTW-planned real FFTs, windows, Welch averaging, fractional-octave smoothing.

One :class:`RealFFT` plan is made per ``(n_fft, batch, dtype)`` and cached
(``functools.lru_cache``), with SIMD-aligned input/output buffers allocated
once, so the hot path is a copy into the aligned buffer and ``execute()``.

FFTW "wisdom" (the planner's measurements) is imported from
``data_dir()/fftw_wisdom.{double,single,longdouble}`` before the first plan
and exported after a new plan is made, so a machine that has planned once
starts fast.  When pyFFTW cannot be imported, the engine falls back to
``numpy.fft`` (stated by :func:`backend_name` and logged once).
"""

from __future__ import annotations

import functools
import logging
import threading
from dataclasses import dataclass

import numpy as np

from nomad_muse.errors import ParameterError

log = logging.getLogger(__name__)

#: Frame sizes the analyzer plans for (samples).
MIN_N_FFT = 256
MAX_N_FFT = 32768
#: Frames transformed per FFTW execute (2-D plan over the last axis).
DEFAULT_BATCH = 32
_WISDOM_KINDS = ("double", "single", "longdouble")
_lock = threading.Lock()
_wisdom_loaded = False


def _pyfftw():
    """Return the ``pyfftw`` module, or None when it cannot be loaded (numpy fallback)."""
    try:
        import pyfftw  # noqa: PLC0415
    except Exception as e:  # pragma: no cover - exercised only without pyfftw
        if not getattr(_pyfftw, "_warned", False):
            log.warning("pyfftw unavailable (%s); the analyzer falls back to numpy.fft", e)
            _pyfftw._warned = True  # type: ignore[attr-defined]
        return None
    return pyfftw


def backend_name() -> str:
    """``"pyfftw <version> (FFTW_MEASURE plans)"`` or ``"numpy.fft (fallback)"``."""
    m = _pyfftw()
    return f"pyfftw {m.__version__} (FFTW_MEASURE plans)" if m is not None else "numpy.fft (fallback: pyfftw not importable)"


def wisdom_paths():
    """Paths of the FFTW wisdom files in the user data directory."""
    from nomad_muse.paths import data_dir

    d = data_dir()
    return {k: d / f"fftw_wisdom.{k}" for k in _WISDOM_KINDS}


def import_wisdom() -> bool:
    """Import saved FFTW wisdom (if any); returns True when some was imported."""
    m = _pyfftw()
    if m is None:
        return False
    paths = wisdom_paths()
    if not all(p.is_file() for p in paths.values()):
        return False
    try:
        ok = m.import_wisdom(tuple(paths[k].read_bytes() for k in _WISDOM_KINDS))
    except Exception as e:  # corrupt file: replan and overwrite it later
        log.warning("ignoring unreadable FFTW wisdom in %s: %s", paths["double"].parent, e)
        return False
    return bool(all(ok))


def export_wisdom() -> None:
    """Write the current FFTW wisdom to the user data directory (best effort)."""
    m = _pyfftw()
    if m is None:
        return
    from nomad_muse.errors import MuseError
    from nomad_muse.paths import atomic_output

    paths = wisdom_paths()
    try:
        paths["double"].parent.mkdir(parents=True, exist_ok=True)
        for k, blob in zip(_WISDOM_KINDS, m.export_wisdom()):
            with atomic_output(paths[k], what="FFTW wisdom") as tmp:  # own temp name: two runs never share one
                tmp.write_bytes(blob)
    except (OSError, MuseError) as e:
        log.warning("could not save FFTW wisdom to %s: %s", paths["double"].parent, e)


class RealFFT:
    """A planned batched real FFT: ``(batch, n_fft)`` real → ``(batch, n_fft//2+1)`` complex.

    Parameters
    ----------
    n_fft : int > 0
        Frame length in samples.
    batch : int > 0
        Number of frames transformed per :meth:`execute`.
    dtype : {np.float32, np.float64}
        Precision of the input frames (output is complex64/complex128).
    """

    def __init__(self, *, n_fft: int, batch: int = 1, dtype=np.float64) -> None:
        self.n_fft = int(n_fft)
        self.batch = int(batch)
        self.dtype = np.dtype(dtype)
        cdtype = np.complex64 if self.dtype == np.float32 else np.complex128
        m = _pyfftw()
        self.planned = m is not None
        if m is not None:
            self.input = m.empty_aligned((self.batch, self.n_fft), dtype=self.dtype)
            self.output = m.empty_aligned((self.batch, self.n_fft // 2 + 1), dtype=cdtype)
            self.input[...] = 0
            self._plan = m.FFTW(self.input, self.output, axes=(-1,), direction="FFTW_FORWARD",
                                flags=("FFTW_MEASURE",), threads=1)
        else:  # pragma: no cover
            self.input = np.zeros((self.batch, self.n_fft), dtype=self.dtype)
            self.output = np.zeros((self.batch, self.n_fft // 2 + 1), dtype=cdtype)
            self._plan = None

    def execute(self) -> np.ndarray:
        """Transform the frames currently in :attr:`input`; returns :attr:`output` (reused buffer)."""
        if self._plan is not None:
            self._plan.execute()
        else:  # pragma: no cover
            self.output[...] = np.fft.rfft(self.input, axis=-1)
        return self.output


@functools.lru_cache(maxsize=64)
def get_plan(n_fft: int, batch: int = 1, dtype: str = "float64") -> RealFFT:
    """The cached :class:`RealFFT` for ``(n_fft, batch, dtype)``; plans (and saves wisdom) on first use.

    Plans are shared: use a plan from one thread at a time.
    """
    global _wisdom_loaded
    if not (MIN_N_FFT <= n_fft <= MAX_N_FFT):
        raise ParameterError(f"n_fft={n_fft} must be between {MIN_N_FFT} and {MAX_N_FFT} samples")
    with _lock:
        if not _wisdom_loaded:
            import_wisdom()
            _wisdom_loaded = True
        plan = RealFFT(n_fft=n_fft, batch=batch, dtype=np.dtype(dtype))
        export_wisdom()
    return plan


def get_window(name: str, *, n_fft: int) -> np.ndarray:
    """A periodic analysis window (``"hann"`` or ``"blackmanharris"``) of ``n_fft`` samples."""
    from scipy.signal import get_window as _gw

    if name not in ("hann", "blackmanharris"):
        raise ParameterError(f"window={name!r} must be 'hann' or 'blackmanharris'")
    return _gw(name, n_fft, fftbins=True).astype(np.float64)


def frames_power(frames: np.ndarray, *, window: np.ndarray, dtype: str = "float64",
                 batch: int = DEFAULT_BATCH, want_complex: bool = False):
    """Windowed power spectra ``|X|^2`` of frames through the planned FFT.

    Parameters
    ----------
    frames : np.ndarray [shape=(n_frames, n_fft)]
        Real frames (not yet windowed).
    window : np.ndarray [shape=(n_fft,)]
        Analysis window.
    want_complex : bool
        Also return the complex spectra (copied out of the plan's buffer).

    Returns
    -------
    power : np.ndarray [shape=(n_frames, n_fft//2+1)]
        ``|X_k|^2`` (linear, full-scale units squared).
    spec : np.ndarray or None
        Complex spectra when ``want_complex``.
    """
    n_frames, n_fft = frames.shape
    plan = get_plan(n_fft, batch, dtype)
    power = np.empty((n_frames, n_fft // 2 + 1), dtype=np.float64)
    spec = np.empty((n_frames, n_fft // 2 + 1), dtype=plan.output.dtype) if want_complex else None
    for s in range(0, n_frames, batch):
        e = min(s + batch, n_frames)
        k = e - s
        np.multiply(frames[s:e], window, out=plan.input[:k], casting="unsafe")
        if k < batch:
            plan.input[k:] = 0
        out = plan.execute()
        power[s:e] = out[:k].real ** 2 + out[:k].imag ** 2
        if spec is not None:
            spec[s:e] = out[:k]
    return power, spec


def frame_signal(y: np.ndarray, *, n_fft: int, hop_length: int) -> np.ndarray:
    """Frames of a 1-D signal as a strided view ``(n_frames, n_fft)`` (no padding; partial tail dropped)."""
    if y.shape[0] < n_fft:
        return np.empty((0, n_fft), dtype=y.dtype)
    return np.lib.stride_tricks.sliding_window_view(y, n_fft)[::hop_length]


def welch_psd(y: np.ndarray, *, sr: float, n_fft: int = 8192, hop_length: int | None = None,
              window: str = "hann", dtype: str = "float64") -> tuple[np.ndarray, np.ndarray]:
    """One-sided power spectral density by Welch's method (mean of periodograms).

    Matches ``scipy.signal.welch(y, fs=sr, window=window, nperseg=n_fft,
    noverlap=n_fft-hop_length, detrend=False, scaling="density")``.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono signal, full-scale units.
    sr : float > 0
        Sample rate in Hz.
    n_fft : int
        Segment length in samples (8192 ≈ 171 ms at 48 kHz).
    hop_length : int or None
        Hop in samples (default ``n_fft // 2``, 50 % overlap).

    Returns
    -------
    freqs : np.ndarray [shape=(n_fft//2+1,)]
        Bin frequencies in Hz.
    psd : np.ndarray [shape=(n_fft//2+1,)]
        Power spectral density in FS^2/Hz.
    """
    hop_length = hop_length or n_fft // 2
    w = get_window(window, n_fft=n_fft)
    frames = frame_signal(np.asarray(y, dtype=np.float64), n_fft=n_fft, hop_length=hop_length)
    if frames.shape[0] == 0:
        raise ParameterError(f"signal of {y.shape[0]} samples is shorter than n_fft={n_fft}")
    power, _ = frames_power(frames, window=w, dtype=dtype)
    return np.fft.rfftfreq(n_fft, 1.0 / sr), density_scale(power.mean(axis=0), window=w, sr=sr)


def density_scale(power: np.ndarray, *, window: np.ndarray, sr: float) -> np.ndarray:
    """Scale mean ``|X|^2`` to a one-sided PSD in FS^2/Hz (DC and, for even n_fft, Nyquist not doubled)."""
    psd = power / (sr * float(np.sum(window ** 2)))
    psd = psd.copy()
    n_fft = window.shape[0]
    if n_fft % 2 == 0:
        psd[..., 1:-1] *= 2.0
    else:
        psd[..., 1:] *= 2.0
    return psd


@dataclass(frozen=True)
class SmoothedCurve:
    """Power per fractional-octave band: ``freqs_hz`` band centres, ``level_db`` 10·log10(power in band)."""

    freqs_hz: np.ndarray
    level_db: np.ndarray


def octave_centres(*, fraction: int, f_lo: float = 20.0, f_hi: float = 20000.0) -> np.ndarray:
    """Base-2 fractional-octave centre frequencies (Hz) anchored at 1 kHz (cf. IEC 61260-1)."""
    k_lo = int(np.ceil(fraction * np.log2(f_lo / 1000.0)))
    k_hi = int(np.floor(fraction * np.log2(f_hi / 1000.0)))
    return 1000.0 * 2.0 ** (np.arange(k_lo, k_hi + 1) / fraction)


def band_power(freqs: np.ndarray, psd: np.ndarray, *, f_lo: float, f_hi: float) -> float:
    """Power (FS^2) of a PSD between ``f_lo`` and ``f_hi`` Hz, with fractional edge bins."""
    df = freqs[1] - freqs[0]
    lo_edge = freqs - df / 2
    hi_edge = freqs + df / 2
    overlap = np.clip(np.minimum(hi_edge, f_hi) - np.maximum(lo_edge, f_lo), 0.0, None)
    return float(np.sum(psd * overlap))


def fractional_octave_smooth(freqs: np.ndarray, psd: np.ndarray, *, fraction: int = 6,
                             f_lo: float = 20.0, f_hi: float = 20000.0) -> SmoothedCurve:
    """Integrate a PSD over 1/``fraction``-octave bands (1/3 or 1/6 octave smoothing).

    Each band spans ``fc·2^(±1/(2·fraction))``.  Pink noise gives a flat curve.
    Bands above the Nyquist frequency are dropped.

    Returns
    -------
    SmoothedCurve
        ``level_db`` is 10·log10 of the band power in FS^2 (dB re full scale).
    """
    if fraction not in (1, 3, 6, 12, 24):
        raise ParameterError(f"fraction={fraction} must be one of 1, 3, 6, 12, 24")
    nyq = freqs[-1]
    fc = octave_centres(fraction=fraction, f_lo=f_lo, f_hi=f_hi)
    half = 2.0 ** (1.0 / (2 * fraction))
    fc = fc[fc * half <= nyq * 1.0001]
    p = np.array([band_power(freqs, psd, f_lo=f / half, f_hi=f * half) for f in fc])
    with np.errstate(divide="ignore"):
        return SmoothedCurve(freqs_hz=fc, level_db=10.0 * np.log10(np.maximum(p, 1e-30)))
