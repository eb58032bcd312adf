"""Per-package self-reference and stereo figures of docs/analyzer.md from the cached curves (train and held-out)."""
import json, numpy as np, collections
from nomad_muse.analyzer.tonal import self_regions, SELF_TOLERANCE_DB
import gzip, sys
d = json.load(gzip.open(sys.argv[1] if len(sys.argv) > 1 else "profiles/genres/real_masters/curves.json.gz"))
for split in ("train", "heldout"):
    tr = [v for v in d.values() if v["split"] == split]
    print(split, len(tr))
    for pkg in sorted({v["package"] for v in tr}):
        vs = [v for v in tr if v["package"] == pkg]
        n = [len(self_regions(v["curve_hz"], v["curve_db"], tolerance_db=SELF_TOLERANCE_DB)) for v in vs]
        lc = np.array([v["low_corr"] for v in vs]); c = np.array([v["corr"] for v in vs])
        print(f"  {pkg:20s} n={len(vs):3d} self/track={np.mean(n):.2f} clean stereo_phase={np.mean(c < -0.2):.2f} bass_not_mono={np.mean(lc < -0.1):.2f} | inverted: polarity={np.mean(-lc < -0.5):.2f} polarity-or-phase={np.mean((-lc < -0.5) | (-c < -0.2)):.2f}")
