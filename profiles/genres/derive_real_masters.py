"""Rebuild the real-master targets (issue 16) from Debian game-soundtrack packages.

    python profiles/genres/derive_real_masters.py WORKDIR        # download, extract, cut excerpts
    muse profiles build all-styles WORKDIR/train --out profiles/genres/all-styles.toml \
        --description "all styles: real mastered game soundtracks (Debian)"

Only these packages are used (issue 16); each one's licence is in its Debian
``copyright`` file, recorded per package in :data:`LICENCES`. The split is
fixed by rule, before any measurement: packages in :data:`HELD_PACKAGES` are
held out whole, and in the other packages every track whose
``sha1(relative path) % 5 == 0`` is held out too. Excerpts: 30 s from the
middle of each track, written as 16-bit FLAC (soundfile/libsndfile decode the
OGG Vorbis originals).
"""

from __future__ import annotations

import glob
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import soundfile as sf

#: package → glob of its music (inside the extracted package)
SOURCES = {
    "wesnoth-1.16-music": "usr/share/games/wesnoth/*/data/core/music/*.ogg",
    "supertux-data": "usr/share/games/supertux2/music/**/*.ogg",
    "supertuxkart-data": "usr/share/games/supertuxkart/data/music/*.ogg",
    "freedroidrpg-data": "usr/share/freedroidrpg/data/sound/music/*.ogg",
    "hedgewars-data": "usr/share/games/hedgewars/Data/Music/*.ogg",
    "lincity-ng-data": "usr/share/games/lincity-ng/**/*.ogg",
    "xmoto-data": "usr/share/games/xmoto/Textures/Musics/*.ogg",
}
#: Licences of the music, from each package's /usr/share/doc/PKG/copyright (Debian bookworm).
LICENCES = {
    "wesnoth-1.16-music": "GPL-2 (debian/copyright)",
    "supertux-data": "per file: GPL-2+, CC-BY-SA-3.0/4.0, CC0 (debian/copyright, data/music/*)",
    "supertuxkart-data": "per file: CC-BY-SA-3.0, CC-BY-SA-4.0, CC-BY-3.0 (debian/copyright, data/music/*)",
    "freedroidrpg-data": "GPL-2+ (debian/copyright)",
    "hedgewars-data": "per file: GPL-2, CC-BY-SA-3.0 (debian/copyright)",
    "lincity-ng-data": "GPL-2+ (debian/copyright)",
    "xmoto-data": "GPL-2+ (debian/copyright)",
}
#: Not used: nexuiz-music (one .pk3 archive), warzone2100-music (Opus), neverball-data (no music in bookworm's package).
HELD_PACKAGES = frozenset({"hedgewars-data", "xmoto-data"})
EXCERPT_S = 30.0


def split_of(package: str, rel: str) -> str:
    """"heldout" or "train", by the fixed rule in the module docstring."""
    if package in HELD_PACKAGES:
        return "heldout"
    return "heldout" if int(hashlib.sha1(rel.encode()).hexdigest(), 16) % 5 == 0 else "train"


def main(work: Path) -> None:
    x = work / "x"
    for pkg in SOURCES:
        if not (x / pkg).is_dir():
            subprocess.run(["apt-get", "download", pkg], cwd=work, check=True)
            deb = next(work.glob(f"{pkg}_*.deb"))
            subprocess.run(["dpkg-deb", "-x", str(deb), str(x / pkg)], check=True)
    for pkg, pat in SOURCES.items():
        for p in sorted(set(glob.glob(str(x / pkg / pat), recursive=True))):
            rel = os.path.relpath(p, x / pkg)
            info = sf.info(p)
            n = int(EXCERPT_S * info.samplerate)
            if info.frames < info.samplerate * 10:
                continue
            y, sr = sf.read(p, start=max(0, (info.frames - n) // 2), frames=n, always_2d=True)
            out = work / split_of(pkg, rel) / pkg / (rel.replace("/", "__").rsplit(".", 1)[0] + ".flac")
            out.parent.mkdir(parents=True, exist_ok=True)
            sf.write(str(out), y, sr, subtype="PCM_16")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
