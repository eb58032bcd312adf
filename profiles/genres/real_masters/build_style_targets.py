"""Per-style targets from real masters (training split only), with honest style labels.

    python profiles/genres/real_masters/build_style_targets.py WORK

Only styles we can name from what the tracks are: ``orchestral`` = the Battle for Wesnoth
soundtrack (wesnoth-1.16-music: orchestral fantasy scores, GPL-2). The other packages mix
electronic, rock, chiptune and ambient pieces with no per-track labels, so no style target
is made from them (they stay in ``all-styles``).
"""
import sys
from pathlib import Path

import numpy as np

from nomad_muse.analyzer.targets import BAND_NAMES, build_target, save_target

STYLES = {
    "orchestral": {"packages": ["wesnoth-1.16-music"], "licences": "wesnoth-1.16-music GPL-2 (debian/copyright)",
                   "styles": "orchestral: the Battle for Wesnoth soundtrack (orchestral fantasy scores)"},
}


def main(work: Path) -> None:
    for name, s in STYLES.items():
        paths = [work / "train" / p for p in s["packages"]]
        t, skipped = build_target(name=name, paths=paths, description=f"{name}: real mastered game soundtrack ({', '.join(s['packages'])}), training split, 30-s excerpts",
                                  provenance={"source": f"Debian bookworm {', '.join(s['packages'])}, training split of profiles/genres/derive_real_masters.py",
                                              "licences": s["licences"], "styles": s["styles"],
                                              "rebuild": "python profiles/genres/derive_real_masters.py WORK && python profiles/genres/real_masters/build_style_targets.py WORK"})
        spread = "; ".join(f"{b} {t.bands[b][2] - t.bands[b][0]:.1f}" for b in BAND_NAMES)
        t.provenance["spread_p90_minus_p10_db"] = spread
        t.provenance["files"] = [str(Path(f).relative_to(work / "train")) for f in t.provenance["files"]]
        out = Path(__file__).resolve().parents[1] / f"{name}.toml"
        save_target(t, out)
        print(name, t.n_tracks, "tracks; spread", spread, "->", out, "skipped", skipped)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
