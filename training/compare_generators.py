"""Compare two exported generators (ONNX, through the runtime) and their trigram baselines per source and split.

    python -m nomad_muse.training.compare_generators --old OLD.onnx --new NEW.onnx \
        [--old-ngram A.json.gz --new-ngram B.json.gz] [--data-dir DIR] [--lmms-projects DIR] [--out compare.json]

Used to decide whether a retrained generator replaces the shipped one. The
decision reads the **validation** split only; the test split is printed for
the record. Sources are :func:`training.generator_data.sources` (music21 scores,
folk, planetblupi, LMMS projects), each split by file with its own stable hash,
so both models are scored on exactly the same streams. A model with STYLE
tokens gets each source's style at the end of every header; a model without
them (252 logits) gets the plain header. Scoring is the runtime's own
(:func:`nomad_muse.generator.evaluate._stream_nll`: one ONNX step per token,
state carried), so the numbers are those ``muse evaluate generator`` gives.
NLL is in nats per predicted token after each stream's header.
Groups: every source, ``multitrack`` (planetblupi + lmms), ``unseen_nc`` (non-classical streams the
shipped model never trained on: :func:`shipped_model_seen`) and ``all``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from nomad_muse.backends.base import Candidate
from nomad_muse.errors import MuseError
from nomad_muse.generator import vocab as V
from nomad_muse.generator.engine import Generator
from nomad_muse.generator.evaluate import _stream_nll
from nomad_muse.generator.midi_io import read_midi
from nomad_muse.generator.ngram import NGram
from nomad_muse.generator.tokenizer import header_len, score_streams
from nomad_muse.training.generator_data import LMMS_PROJECT_DIRS, source_splits, sources

MULTITRACK = ("planetblupi", "lmms")
NON_CLASSICAL = ("folk", "planetblupi", "lmms")


def shipped_model_seen(srcs) -> set[tuple[str, str, str]]:
    """(source, relative path, mode) of the streams the shipped 252-token model trained on, recomputed
    from its own split (models/generator.json: planetblupi's 10 files and the 24 LMMS projects with
    drums, drum parts only, split 80/10/10 by the same hash). music21 is not listed (only classical)."""
    from nomad_muse.training.generator_data import find_midi_files, split_files

    seen = set()
    for src in srcs:
        if src.name == "planetblupi":
            for f in split_files(find_midi_files(src.root), root=src.root)["train"]:
                seen |= {(src.name, str(f.relative_to(src.root)), m) for m in ("tonal", "drums")}
        elif src.name == "lmms":
            with_drums = [f for f in find_midi_files(src.root) if read_midi(f).drum_notes]
            for f in split_files(with_drums, root=src.root)["train"]:
                seen.add((src.name, str(f.relative_to(src.root)), "drums"))
    return seen


def compare(models: dict[str, Generator], ngrams: dict[str, NGram], srcs, splits=("validation", "test")) -> dict:
    """``{split: {group: {name: {"all", "tonal", "drums", "tokens"}}}}``."""
    out: dict = {}
    seen = shipped_model_seen(srcs)
    for split in splits:
        acc: dict = {}
        for src in srcs:
            for f in source_splits(src)[split]:
                try:
                    score = read_midi(f)
                except MuseError:
                    continue
                rel = f.relative_to(src.root)
                plain = score_streams(score)
                styled = score_streams(score, style=src.style_of(rel))
                groups = [src.name, "all"] + (["multitrack"] if src.name in MULTITRACK else [])
                for sp, ss in zip(plain, styled):
                    gs = groups + (["unseen_nc"] if src.name in NON_CLASSICAL and (src.name, str(rel), sp.mode) not in seen else [])
                    for name, gen in models.items():
                        toks = list(ss.tokens if gen.has_style else sp.tokens)
                        _add(acc, gs, name, sp.mode, *_stream_nll(gen, toks))
                    for name, ng in ngrams.items():
                        toks = list(ss.tokens if ng.vocab_size > V.STYLE_IDS[0] else sp.tokens)
                        _add(acc, gs, f"{name} trigram", sp.mode, *ng.nll(toks, skip=header_len(toks)))
        out[split] = {g: {name: {m: (s / n if n else None) for m, (s, n) in v.items()} | {"tokens": v["all"][1]}
                          for name, v in by.items()} for g, by in acc.items()}
    return out


def _add(acc, groups, name, mode, s, n):
    for g in groups:
        v = acc.setdefault(g, {}).setdefault(name, {"all": [0.0, 0], "tonal": [0.0, 0], "drums": [0.0, 0]})
        for m in ("all", mode):
            v[m][0] += s
            v[m][1] += n


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--old", type=Path, required=True, help="the shipped generator.onnx")
    ap.add_argument("--new", type=Path, required=True, help="the retrained generator.onnx")
    ap.add_argument("--old-ngram", type=Path)
    ap.add_argument("--new-ngram", type=Path)
    ap.add_argument("--data-dir", type=Path, default=Path.home() / ".cache" / "nomad-muse-edge" / "training-data")
    ap.add_argument("--lmms-projects", type=Path, nargs="*", default=list(LMMS_PROJECT_DIRS))
    ap.add_argument("--splits", nargs="+", default=["validation", "test"])
    ap.add_argument("--out", type=Path, help="Write the table as JSON (generator_card --comparison reads it).")
    args = ap.parse_args(argv)
    cands = [Candidate("onnxruntime")]
    models = {"old": Generator(args.old, candidates=cands), "new": Generator(args.new, candidates=cands)}
    ngrams = {k: NGram.load(p) for k, p in (("old", args.old_ngram), ("new", args.new_ngram)) if p is not None}
    res = compare(models, ngrams, sources(args.data_dir, lmms_projects=args.lmms_projects), args.splits)
    for split, by_group in res.items():
        for group, by_model in by_group.items():
            for name, v in by_model.items():
                cells = "  ".join(f"{m} {v[m]:.3f}" if v[m] is not None else f"{m}   -  " for m in ("all", "tonal", "drums"))
                print(f"{split:10s} {group:12s} {name:12s} {cells}  ({v['tokens']} tokens)")
    if args.out:
        args.out.write_text(json.dumps({"old": str(args.old), "new": str(args.new), "units": "nats/token", **res}, indent=1) + "\n")
        print("wrote", args.out)


if __name__ == "__main__":
    main()
