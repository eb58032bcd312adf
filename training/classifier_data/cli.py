"""``python -m nomad_muse.training.classifier_data render OUT_DIR``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from nomad_muse.errors import InputError, ParameterError

from nomad_muse.training.classifier_data.render import render_dataset
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
    a = ap.parse_args(argv)
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
            progress=_progress_bar,
        )  # fmt: skip
    except (InputError, ParameterError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for src, c in m["counts"].items():
        print(f"{src}: {sum(c.values())} clips  " + " ".join(f"{f}={n}" for f, n in c.items()))
    print(f"dropped {len(m['dropped'])}; {m['render_seconds']} s; manifest {Path(a.out_dir) / 'manifest.json'}")
    return 0
