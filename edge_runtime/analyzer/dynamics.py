"""Dynamics and transients: crest factor over time, onsets, attack clarity, over-compression.

Onsets use the log-magnitude spectral flux (Böck, Krebs & Schedl, "Evaluating
the online capabilities of onset detection methods", ISMIR 2012, eq. 1–3
without the filterbank) with an adaptive median threshold.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage, signal

from nomad_muse.analyzer.report import DynamicsReport

#: PLR below this (LU) flags a master as over-compressed (streaming guidance of ~8–9 LU).
OVER_COMPRESSED_PLR_LU = 8.0
SILENT_WINDOW_DBFS = -60.0


def crest_over_time_db(*, peak_sub: np.ndarray, ms_sub: np.ndarray, n_sub: int = 10, hop: int = 5) -> np.ndarray:
    """Crest factor (peak dBFS − RMS dBFS, in dB) of 1 s windows every 0.5 s from 100 ms sub-block stats.

    ``peak_sub`` and ``ms_sub`` are per-sub-block sample peak and mean square
    (max / mean over channels).  Windows quieter than -60 dBFS RMS are skipped.
    """
    n = len(ms_sub)
    if n < n_sub:
        n_sub, hop = max(n, 1), 1
    out = []
    for s in range(0, max(n - n_sub, 0) + 1, hop):
        ms = float(np.mean(ms_sub[s : s + n_sub]))
        pk = float(np.max(peak_sub[s : s + n_sub])) if n else 0.0
        if ms > 0 and 10 * np.log10(ms) > SILENT_WINDOW_DBFS and pk > 0:
            out.append(20 * np.log10(pk) - 10 * np.log10(ms))
    return np.asarray(out)


def pick_onsets(*, flux: np.ndarray, frame_rate: float) -> np.ndarray:
    """Frame indices of onsets: local maxima of ``flux`` above a moving median + 3·MAD, ≥ 50 ms apart."""
    if flux.size < 3 or not np.any(flux > 0):
        return np.empty(0, dtype=int)
    size = max(3, int(round(0.5 * frame_rate)) | 1)
    base = ndimage.median_filter(flux, size=size, mode="nearest")
    mad = float(np.median(np.abs(flux - np.median(flux)))) * 1.4826
    spread = max(mad, 0.05 * float(np.max(flux)))
    peaks, _ = signal.find_peaks(flux, height=base + 3.0 * spread, distance=max(1, int(round(0.05 * frame_rate))))
    return peaks


def attack_clarity_db(*, energy_db: np.ndarray, onsets: np.ndarray, frame_rate: float) -> float:
    """Mean rise (dB) from the 50 ms before each onset to the peak in the 50 ms after it; NaN without onsets."""
    k = max(1, int(round(0.05 * frame_rate)))
    rises = []
    for t in onsets:
        if t - k < 0 or t + k > energy_db.size:
            continue
        rises.append(np.max(energy_db[t : t + k]) - np.min(energy_db[t - k : t]))
    return float(np.mean(rises)) if rises else float("nan")


def dynamics_report(*, peak_sub, ms_sub, flux, energy_db, frame_rate: float, duration_s: float,
                    plr_lu: float, over_compressed_plr_lu: float = OVER_COMPRESSED_PLR_LU) -> DynamicsReport:
    """Dynamics from 100 ms sub-block stats and the onset-detection function (``frame_rate`` in frames/s)."""
    crest = crest_over_time_db(peak_sub=np.asarray(peak_sub), ms_sub=np.asarray(ms_sub))
    q = np.percentile(crest, [10, 50, 90]) if crest.size else [float("nan")] * 3
    on = pick_onsets(flux=np.asarray(flux), frame_rate=frame_rate)
    return DynamicsReport(
        crest_factor_median_db=float(q[1]), crest_factor_p10_db=float(q[0]), crest_factor_p90_db=float(q[2]),
        onset_count=int(on.size), onset_density_per_s=float(on.size / duration_s) if duration_s > 0 else 0.0,
        attack_clarity_db=attack_clarity_db(energy_db=np.asarray(energy_db), onsets=on, frame_rate=frame_rate),
        over_compressed=bool(np.isfinite(plr_lu) and plr_lu < over_compressed_plr_lu),
    )
