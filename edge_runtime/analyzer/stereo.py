"""Stereo image: phase correlation (overall, over time, per band), mid/side balance, width.

Correlation here is the phase-meter definition
``r = Σ L·R / sqrt(Σ L² · Σ R²)`` (no mean removal): +1 for identical
channels, −1 for inverted, ≈ 0 for independent ones.
"""

from __future__ import annotations

import numpy as np

from nomad_muse.analyzer.report import StereoReport
from nomad_muse.analyzer.tonal import BANDS

LOW_END_CUTOFF_HZ = 150.0


def correlation_from_sums(*, ll, rr, lr):
    """Correlation from energy sums; NaN where either channel is silent."""
    ll, rr, lr = np.asarray(ll, float), np.asarray(rr, float), np.asarray(lr, float)
    den = np.sqrt(ll * rr)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, lr / np.where(den > 0, den, 1.0), np.nan)


def correlation(*, y: np.ndarray) -> float:
    """Overall L/R correlation of a ``(n, 2)`` signal (dimensionless, −1…+1)."""
    return float(correlation_from_sums(ll=np.dot(y[:, 0], y[:, 0]), rr=np.dot(y[:, 1], y[:, 1]),
                                       lr=np.dot(y[:, 0], y[:, 1])))


def band_correlation(*, freqs, cross, psd_l, psd_r, lo_hz: float, hi_hz: float) -> float:
    """Correlation of the L/R components between ``lo_hz`` and ``hi_hz`` from (cross-)spectra.

    ``cross`` is the accumulated ``Re(X_L · conj(X_R))``, ``psd_l``/``psd_r``
    the accumulated ``|X|^2`` (same scaling).  By Parseval this equals the
    time-domain correlation of the band-passed channels.
    """
    m = (freqs >= lo_hz) & (freqs < hi_hz)
    return float(correlation_from_sums(ll=psd_l[m].sum(), rr=psd_r[m].sum(), lr=cross[m].sum()))


def stereo_report(*, ll_sub, rr_sub, lr_sub, freqs, cross, psd_l, psd_r,
                  low_end_cutoff_hz: float = LOW_END_CUTOFF_HZ) -> StereoReport:
    """Stereo measurements from per-100 ms energy sums and accumulated spectra.

    Parameters
    ----------
    ll_sub, rr_sub, lr_sub : np.ndarray [shape=(n_sub,)]
        Σ L², Σ R², Σ L·R per 100 ms sub-block.
    freqs, cross, psd_l, psd_r : np.ndarray
        Bin frequencies (Hz) and accumulated cross/auto spectra.
    """
    ll, rr, lr = float(np.sum(ll_sub)), float(np.sum(rr_sub)), float(np.sum(lr_sub))
    r = float(correlation_from_sums(ll=ll, rr=rr, lr=lr))
    # 400 ms windows (4 sub-blocks, 100 ms hop): the 5th percentile shows the worst moments.
    k = 4
    if len(ll_sub) >= k:
        cs = lambda a: np.convolve(a, np.ones(k), mode="valid")  # noqa: E731
        rw = correlation_from_sums(ll=cs(ll_sub), rr=cs(rr_sub), lr=cs(lr_sub))
        rw = rw[np.isfinite(rw)]
        r05 = float(np.percentile(rw, 5)) if rw.size else float("nan")
    else:
        r05 = r
    mid = (ll + rr + 2 * lr) / 4.0
    side = max((ll + rr - 2 * lr) / 4.0, 0.0)
    s2m = float(10 * np.log10(side / mid)) if side > 0 and mid > 0 else (float("-inf") if side <= 0 else float("inf"))
    width = side / (mid + side) if (mid + side) > 0 else float("nan")
    bc = {name: band_correlation(freqs=freqs, cross=cross, psd_l=psd_l, psd_r=psd_r, lo_hz=lo, hi_hz=hi)
          for name, lo, hi in BANDS if lo < freqs[-1]}
    low = band_correlation(freqs=freqs, cross=cross, psd_l=psd_l, psd_r=psd_r, lo_hz=20.0, hi_hz=low_end_cutoff_hz)
    return StereoReport(correlation=r, correlation_p05=r05, low_end_correlation=low,
                        low_end_cutoff_hz=low_end_cutoff_hz, band_correlation=bc,
                        side_to_mid_db=s2m, width=float(width))
