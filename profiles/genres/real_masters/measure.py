"""Usage: python measure.py WORKDIR OUT.json (WORKDIR from derive_real_masters.py). Measure 1/6-oct curves + stereo of real masters (30 s from the middle), split fixed by package and track hash."""
import hashlib, json, sys, glob, os
import numpy as np, soundfile as sf
from nomad_muse.analyzer.engine import analyze_array
import sys
WORK = sys.argv[1]
X = f"{WORK}/x"
SRC = {"wesnoth-1.16-music": "usr/share/games/wesnoth/*/data/core/music/*.ogg",
       "supertux-data": "usr/share/games/supertux2/music/**/*.ogg",
       "supertuxkart-data": "usr/share/games/supertuxkart/data/music/*.ogg",
       "freedroidrpg-data": "usr/share/freedroidrpg/data/sound/music/*.ogg",
       "hedgewars-data": "usr/share/games/hedgewars/Data/Music/*.ogg",
       "lincity-ng-data": "usr/share/games/lincity-ng/**/*.ogg",
       "xmoto-data": "usr/share/games/xmoto/Textures/Musics/*.ogg"}
HELD_PACKAGES = {"hedgewars-data", "xmoto-data"}   # fixed before looking at any measurement
out = {}
for pkg, pat in SRC.items():
    files = sorted(set(glob.glob(f"{X}/{pkg}/{pat}", recursive=True)))
    print(pkg, len(files), flush=True)
    for p in files:
        rel = os.path.relpath(p, f"{X}/{pkg}")
        h = int(hashlib.sha1(rel.encode()).hexdigest(), 16) % 5
        split = "heldout" if pkg in HELD_PACKAGES or h == 0 else "train"
        try:
            info = sf.info(p)
            n = int(30 * info.samplerate)
            start = max(0, (info.frames - n) // 2)
            y, sr = sf.read(p, start=start, frames=n, dtype="float32", always_2d=True)
            if y.shape[0] < sr * 10:
                continue
            if y.shape[1] == 1:
                y = np.repeat(y, 2, axis=1)
            r = analyze_array(y[:, :2], sr=sr)
            out[f"{pkg}:{rel}"] = {"package": pkg, "split": split, "sr": sr, "seconds": y.shape[0] / sr,
                                   "channels": info.channels,
                                   "curve_hz": r.tonal.curve_hz, "curve_db": r.tonal.curve_db,
                                   "bands": {b.name: b.level_db for b in r.tonal.bands},
                                   "corr": r.stereo.correlation if r.stereo else None,
                                   "low_corr": r.stereo.low_end_correlation if r.stereo else None,
                                   "lufs": r.loudness.integrated_lufs}
        except Exception as e:
            print("skip", p, e, flush=True)
    json.dump(out, open(sys.argv[2], "w"))
print("done", len(out))
