"""Build the shipped real-music evaluation set of the analyzer from the HELD-OUT split only.

    python profiles/genres/real_masters/make_eval_set.py WORK profiles/genres/real_masters/eval

WORK is the folder of profiles/genres/derive_real_masters.py (its WORK/x holds the extracted
packages). Selection is fixed by rule, before any measurement: the held-out tracks of each
package (derive_real_masters.split_of) ordered by sha1 of their path, the first PER_PACKAGE[pkg];
from each, EXCERPT_S seconds of stereo from the middle, written as 16-bit FLAC at the source rate
(all 44.1 kHz here). MANIFEST.json records per excerpt the package, the file inside it, the
excerpt's start, and the copyright and licence of that file from the package's DEP-5
debian/copyright (last matching Files: stanza wins, as DEP-5 says; upstream ``data/`` paths match the
installed ``share/...`` ones; wesnoth's copyright is free-form GPL-2-or-later for the whole package).
"""
import fnmatch
import glob
import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from derive_real_masters import LICENCES, SOURCES, split_of  # noqa: E402

PER_PACKAGE = {"hedgewars-data": 4, "xmoto-data": 3, "supertux-data": 3, "supertuxkart-data": 3,
               "freedroidrpg-data": 2, "wesnoth-1.16-music": 2}
EXCERPT_S = 8.0


def dep5(path: Path) -> list[dict]:
    stanzas, cur, key = [], {}, None
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines() + [""]:
        if not line.strip():
            if cur:
                stanzas.append(cur)
            cur, key = {}, None
        elif line[0] in " \t" and key:
            cur[key] += " " + line.strip()
        elif ":" in line:
            key, v = line.split(":", 1)
            cur[key] = v.strip()
    return [s for s in stanzas if "Files" in s]


def licence_of(stanzas, rel: str) -> dict:
    parts = rel.split("/")
    found = {}
    for s in stanzas:
        for pat in s["Files"].split():
            pats = [pat] + ([pat[5:]] if pat.startswith("data/") else [])  # upstream data/ is installed under share/
            if any(fnmatch.fnmatch("/".join(parts[i:]), q) for i in range(len(parts)) for q in pats):
                found = {"copyright": s.get("Copyright", "").strip(), "licence": s.get("License", "").split(" ")[0]}
    return found


def main(work: Path, out: Path) -> None:
    x = work / "x"
    out.mkdir(parents=True, exist_ok=True)
    manifest = []
    for pkg, k in PER_PACKAGE.items():
        files = sorted(set(glob.glob(str(x / pkg / SOURCES[pkg]), recursive=True)))
        rels = [os.path.relpath(p, x / pkg) for p in files]
        held = sorted((r for r in rels if split_of(pkg, r) == "heldout"), key=lambda r: hashlib.sha1(r.encode()).hexdigest())
        cp = x / pkg / "usr/share/doc" / pkg / "copyright"
        stanzas = dep5(cp) if cp.is_file() else []
        n_done = 0
        for rel in held:
            if n_done == k:
                break
            info = sf.info(str(x / pkg / rel))
            if info.frames < 20 * info.samplerate or info.channels != 2:
                continue
            n = int(EXCERPT_S * info.samplerate)
            start = (info.frames - n) // 2
            y, sr = sf.read(str(x / pkg / rel), start=start, frames=n, always_2d=True)
            name = f"{pkg}/{Path(rel).stem}.flac"
            (out / pkg).mkdir(exist_ok=True)
            sf.write(str(out / name), y, sr, subtype="PCM_16")
            lic = licence_of(stanzas, rel) or {"copyright": "see the package's debian/copyright (not DEP-5)",
                                               "licence": LICENCES[pkg]}
            manifest.append({"file": name, "package": pkg, "source": rel, "start_s": round(start / sr, 3),
                             "seconds": EXCERPT_S, "sr": sr, **lic})
            n_done += 1
    total = sum((out / m["file"]).stat().st_size for m in manifest)
    (out / "MANIFEST.json").write_text(json.dumps({
        "what": "real mastered game-soundtrack excerpts, held-out split of profiles/genres/derive_real_masters.py",
        "rebuild": "python profiles/genres/derive_real_masters.py WORK && "
                   "python profiles/genres/real_masters/make_eval_set.py WORK profiles/genres/real_masters/eval",
        "debian": "bookworm", "total_bytes": total, "excerpts": manifest}, indent=1) + "\n")
    print(len(manifest), "excerpts,", total / 1e6, "MB")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
