"""Tune the genre-free default on the TRAINING split only (planted faults into training excerpts).

    python profiles/genres/real_masters/tune.py WORK CACHE.pkl [train]

WORK is the folder of profiles/genres/derive_real_masters.py (WORK/train/<package>/*.flac).
Each clean excerpt is measured once (spectrum + meters, cached); a planted tonal fault of
nomad_muse.analyzer.evaluate.FAULTS is applied in the spectral domain, PSD·|H(f)|² with the
loudness change from the K-weighted PSD (exact for a linear filter up to Welch leakage and
the BS.1770 gate), so the rules can be swept in seconds. The final figures are measured on
audio by `muse evaluate analyzer` (docs/analyzer.md).
"""
import glob
import os
import pickle
import sys
from dataclasses import replace

import numpy as np
import soundfile as sf
from scipy import signal

from nomad_muse.analyzer import tonal
from nomad_muse.analyzer.engine import Analyzer, AnalyzerConfig
from nomad_muse.analyzer.loudness import k_weighting_sos


def measure(work, split="train"):
    out = []
    cfg = AnalyzerConfig(with_dynamics=False)
    for p in sorted(glob.glob(f"{work}/{split}/**/*.flac", recursive=True)):
        y, sr = sf.read(p, dtype="float64", always_2d=True)
        y = y[:, :2]
        a = Analyzer(sr=sr, channels=y.shape[1], config=cfg)
        for s in range(0, y.shape[0], 1 << 16):
            a.push(y[s:s + (1 << 16)])
        rep = a.report(with_suggestions=False)
        f, psd = a.spectrum()
        out.append({"file": p, "package": p.split("/")[-2], "sr": sr, "rep": rep, "f": f, "psd": psd})
        print(len(out), p, flush=True)
    return out


def response_sq(name, f, sr):
    """|H(f)|² of planted fault ``name`` (same filters as nomad_muse.analyzer.evaluate.FAULTS)."""
    imp = np.zeros(1 << 15)
    imp[1 << 14] = 1.0  # centred: the air_lack filter is zero-phase
    from nomad_muse.analyzer.evaluate import FAULTS

    h = FAULTS[name].plant(imp[:, None], sr)[:, 0]
    H = np.fft.rfft(h)
    return np.interp(f, np.fft.rfftfreq(h.size, 1 / sr), np.abs(H) ** 2)


def planted(row, name):
    f, psd, rep, sr = row["f"], row["psd"], row["rep"], row["sr"]
    if name == "clean":
        return rep, psd, rep.loudness.integrated_lufs
    h2 = response_sq(name, f, sr)
    w, k = signal.sosfreqz(k_weighting_sos(sr=sr), worN=f, fs=sr)
    k2 = np.abs(k) ** 2
    d = 10 * np.log10(np.sum(k2 * h2 * psd) / np.sum(k2 * psd))
    return rep, psd * h2, rep.loudness.integrated_lufs + d


def report_for(row, name, target):
    rep, psd, lufs = planted(row, name)
    return replace(rep, tonal=tonal.tonal_report(freqs=row["f"], psd=psd, integrated_lufs=lufs, target=target))


if __name__ == "__main__":
    work, cache = sys.argv[1], sys.argv[2]
    split = sys.argv[3] if len(sys.argv) > 3 else "train"
    if not os.path.exists(cache):
        pickle.dump(measure(work, split), open(cache, "wb"))
