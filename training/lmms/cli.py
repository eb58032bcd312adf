"""``python -m nomad_muse.training.lmms``: convert LMMS projects and print what was mapped or skipped."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from nomad_muse.training.lmms import __doc__ as PACKAGE_DOC
from nomad_muse.training.lmms.convert import PARTS, convert_projects
from nomad_muse.training.lmms.project import LMMS_PROJECTS_DIR
from nomad_muse.training.lmms.report import format_grid, format_report, summary


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=PACKAGE_DOC, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", type=Path, nargs="+", default=[LMMS_PROJECTS_DIR], help="folders (or files) of .mmp/.mmpz projects")
    ap.add_argument("--out", type=Path, required=True, help="output folder for the .mid files")
    ap.add_argument("--json", action="store_true", help="print the reports as JSON instead of the table")
    ap.add_argument("--tracks", action="store_true", help="list every track: mapped to what, or skipped and why")
    ap.add_argument("--grid", metavar="PROJECT", help="print the first bars of this converted project (relative path or name) as a step grid")
    ap.add_argument("--bars", type=int, default=2)
    ap.add_argument("--parts", choices=PARTS, default="drums", help="drums: channel-10 drum files; all: drums + melodic tracks in one GM multitrack file")
    args = ap.parse_args(argv)
    missing = [s for s in args.src if not s.exists()]
    if missing:
        print(f"error: not found: {', '.join(map(str, missing))}", file=sys.stderr)
        return 2
    reports = convert_projects(args.src, args.out, parts=args.parts)
    if args.json:
        print(json.dumps({"summary": summary(reports), "projects": [r.to_dict() for r in reports]}, indent=1))
    else:
        print(format_report(reports, tracks=args.tracks))
    if args.grid:
        for r in reports:
            if r.output and args.grid in (r.relative, Path(r.relative).stem, Path(r.relative).name):
                print()
                print(format_grid(r.output, bars=args.bars))
    return 0
