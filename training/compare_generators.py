"""Compare two generator checkpoints (and their trigram baselines) per source, split and mode.

    python -m nomad_muse.training.compare_generators --old OLD.pt --new NEW.pt \
        [--old-ngram A.json.gz --new-ngram B.json.gz] [--data-dir DIR] [--out compare.json]

Used to decide whether a retrained generator replaces the shipped one. The
decision reads the **validation** split only; the test split is printed for
the record. Sources are :func:`training.generator_data.training_roots`
(music21 export, planetblupi, converted LMMS drums), each split by file with
the same stable hash, so both checkpoints are scored on exactly the same streams.
NLL is in nats per predicted token after each stream's header (as in the model card).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from nomad_muse.generator.ngram import NGram
from nomad_muse.training.generator_data import find_midi_files, load_streams, split_files, training_roots
from nomad_muse.training.generator_model import GeneratorGRU
from nomad_muse.training.train_generator import ngram_nll, stream_nll


def source_roots(data_dir: Path) -> dict[str, Path]:
    """:func:`training.generator_data.training_roots` by name (music21, planetblupi, lmms)."""
    names = {"music21_midi": "music21", "music": "planetblupi", "lmms_drums": "lmms"}
    return {names.get(r.name, r.name): r for r in training_roots(data_dir)}


def load_checkpoint(path: Path) -> GeneratorGRU:
    m = GeneratorGRU()
    m.load_state_dict(torch.load(path, map_location="cpu"))
    return m.eval()


def compare(models: dict[str, GeneratorGRU], ngrams: dict[str, NGram], roots: dict[str, Path]) -> dict:
    """``{split: {source or "all": {name: {"all", "tonal", "drums"}}}}`` for validation and test."""
    out: dict = {}
    for split in ("validation", "test"):
        out[split] = {}
        every = []
        for src, root in roots.items():
            streams = load_streams(split_files(find_midi_files(root), root=root)[split], root)
            every += streams
            out[split][src] = _score(models, ngrams, streams)
        out[split]["all"] = _score(models, ngrams, every)
    return out


def _score(models, ngrams, streams) -> dict:
    res = {name: stream_nll(m, streams, "cpu") for name, m in models.items()}
    res |= {f"{name} trigram": ngram_nll(ng, streams) for name, ng in ngrams.items()}
    # a mode with no streams in a source is None (JSON has no NaN)
    return {k: {m: (v[m] if v.get(m) == v.get(m) else None) for m in ("all", "tonal", "drums")} for k, v in res.items()}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--old", type=Path, required=True)
    ap.add_argument("--new", type=Path, required=True)
    ap.add_argument("--old-ngram", type=Path)
    ap.add_argument("--new-ngram", type=Path)
    ap.add_argument("--data-dir", type=Path, default=Path.home() / ".cache" / "nomad-muse-edge" / "training-data")
    ap.add_argument("--out", type=Path, help="Write the table as JSON (generator_card --comparison reads it).")
    args = ap.parse_args(argv)
    models = {"old": load_checkpoint(args.old), "new": load_checkpoint(args.new)}
    ngrams = {k: NGram.load(p) for k, p in (("old", args.old_ngram), ("new", args.new_ngram)) if p is not None}
    res = compare(models, ngrams, source_roots(args.data_dir))
    for split, by_src in res.items():
        for src, by_model in by_src.items():
            for name, v in by_model.items():
                cells = "  ".join(f"{m} {v[m]:.3f}" if v[m] is not None else f"{m}   -  " for m in ("all", "tonal", "drums"))
                print(f"{split:10s} {src:12s} {name:12s} {cells}")
    if args.out:
        args.out.write_text(json.dumps({"old": str(args.old), "new": str(args.new), "units": "nats/token", **res}, indent=1) + "\n")
        print("wrote", args.out)


if __name__ == "__main__":
    main()
