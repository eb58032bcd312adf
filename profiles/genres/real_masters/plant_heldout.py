"""Planted faults on the held-out excerpts, no genre (docs/analyzer.md figures). Usage: python plant_heldout.py WORK (run from the repo root)."""
import sys, glob, json, numpy as np, soundfile as sf
sys.path.insert(0, "tests")
from analyzer_signals import peaking_eq, low_shelf
from scipy import signal
from nomad_muse.analyzer.engine import analyze_array
from nomad_muse.analyzer.suggest import SuggestOptions
o = SuggestOptions(lufs_tolerance_lu=99, max_suggestions=20)
def hishelf(y, sr):  # -12 dB above 9 kHz: y - (1-g)*highpassed
    sos = signal.butter(4, 9000, "high", fs=sr, output="sos"); return y - (1 - 10 ** (-12 / 20)) * signal.sosfilt(sos, y, axis=0)
F = {"mud": lambda y, sr: peaking_eq(y, sr=sr, f0=300, gain_db=7, q=1.0),
     "harsh": lambda y, sr: peaking_eq(y, sr=sr, f0=4500, gain_db=8, q=1.0),
     "low_end_excess": lambda y, sr: low_shelf(y, sr=sr, f0=120, gain_db=8),
     "air_lack": hishelf}
res = {"clean": []} | {k: [] for k in F}
TON = {"low_end_excess","low_end_lack","mud","low_mid_lack","mid_excess","mid_lack","harsh","high_mid_lack","presence_lack","air_excess","air_lack","empty_region"}
for p in sorted(glob.glob(sys.argv[1] + "/heldout/**/*.flac", recursive=True)):
    y, sr = sf.read(p, dtype="float64", always_2d=True)
    k0 = [s.kind for s in analyze_array(y, sr=sr, options=o).suggestions if s.kind in TON]
    res["clean"].append(len(k0))
    for k, f in F.items():
        z = f(y, sr); z *= np.sqrt(np.mean(y ** 2) / np.mean(z ** 2))
        res[k].append(k in [s.kind for s in analyze_array(z, sr=sr, options=o).suggestions])
    print(p.split("/")[4], k0, {k: res[k][-1] for k in F}, flush=True)
print("N", len(res["clean"]), "clean tonal/track", np.mean(res["clean"]), {k: float(np.mean(v)) for k, v in res.items() if k != "clean"})
