"""Make the shipped calibration and validation sets (``models/calibration/*.npz`` + card).

    python -m nomad_muse.training.make_calib_data [--clips /work/data/classifier_clips] [--midi /work/data/music21_midi]

A fresh install has neither the rendered clips nor the MIDI corpus, so
``muse calibrate`` quantizes and gates on these small real sets instead:

* ``classifier.npz`` — model inputs ``[N, 1, 128, 8]`` (standardised log-mel
  windows, float16) with family labels, from the **fluidr3** source only,
  split exactly as ``training/train_classifier.py`` splits it (stable hash of
  the relative path: < 0.1 → validation, else train).  ``calib_*`` (~300
  windows) come from the *train* clips, ``val_*`` from the *validation*
  clips, so the gate measures on clips calibration never saw.  The
  held-out test source (timgm6mb) and every reserved soundfont are never read.
* ``generator.npz`` — token streams (int16, concatenated + offsets) from the
  generator's *train* split (calibration) and *validation* split (gate),
  split exactly as ``training/generator_data.split_files`` does; the test
  split is never read.

Deterministic (fixed seed, sorted files); writes ``calibration.json`` with
provenance, counts and SHA-256 of each file.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np

from nomad_muse.classifier.features import SR_TRAIN, context_windows
from nomad_muse.gm import FAMILIES

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "models" / "calibration"
TEST_SOURCE = "timgm6mb"  # the classifier's held-out test source: never read here
ALLOWED_SOURCES = ("fluidr3",)
SILENCE_DBFS = -60.0  # the streaming classifier's "no signal" gate
CALIB_PER_FAMILY = 28  # 11 families -> 308 calibration windows
VAL_PER_FAMILY = 80  # -> 880 validation windows
GEN_CALIB_STREAMS = 24
GEN_VAL_STREAMS = 24
GEN_STREAM_TOKENS = 384


def _u(rel: str) -> float:
    return int(hashlib.sha256(rel.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


def classifier_split(clips: Path) -> dict[str, list[tuple[Path, int]]]:
    """fluidr3 clips split as training/train_classifier.py does (validation: hash < 0.1)."""
    out: dict[str, list[tuple[Path, int]]] = {"train": [], "validation": []}
    for src in ALLOWED_SOURCES:
        for fam_dir in sorted(p for p in (clips / src).iterdir() if p.is_dir() and p.name in FAMILIES):
            label = FAMILIES.index(fam_dir.name)
            for f in sorted(fam_dir.glob("*.wav")):
                out["validation" if _u(str(f.relative_to(clips))) < 0.1 else "train"].append((f, label))
    return out


def clip_windows(path: Path) -> list[np.ndarray]:
    """Non-silent model inputs [1,128,8] of one clip, every 2nd frame (as in training)."""
    import soundfile as sf

    y, sr = sf.read(str(path), dtype="float32", always_2d=True)
    if sr != SR_TRAIN:
        raise ValueError(f"{path}: {sr} Hz, expected {SR_TRAIN}")
    return [w for _, w in context_windows(y.mean(axis=1), step=2, silence_dbfs=SILENCE_DBFS)]


def sample_windows(items, per_family: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``per_family`` windows per family, at most 3 per clip, clips in random order."""
    X, Y = [], []
    for label in range(len(FAMILIES)):
        files = [p for p, lab in items if lab == label]
        rng.shuffle(files)
        got = 0
        for f in files:
            ws = clip_windows(f)
            if not ws:
                continue
            pick = rng.choice(len(ws), size=min(3, len(ws), per_family - got), replace=False)
            for i in sorted(pick):
                X.append(ws[i])
                Y.append(label)
            got += len(pick)
            if got >= per_family:
                break
    return np.stack(X).astype(np.float16), np.array(Y, np.int8)


def generator_streams(srcs, split: str, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``n`` token streams of ``split`` (training.generator_data.sources, each source's own split, its
    STYLE token in every header), about 1/6 of them drum streams."""
    from nomad_muse.training.generator_data import load_streams, source_splits

    pool = []
    for src in srcs:
        files = source_splits(src)[split]
        for _, mode, tokens in load_streams(files, src.root, min_body_tokens=64, style=src.style_of):
            pool.append((src.name, mode, np.asarray(tokens[:GEN_STREAM_TOKENS], np.int16)))
    drums = [p for p in pool if p[1] == "drums"]
    tonal = [p for p in pool if p[1] != "drums"]
    n_drums = min(len(drums), max(2, n // 6))
    pick = [drums[i] for i in rng.choice(len(drums), n_drums, replace=False)] if drums else []
    pick += [tonal[i] for i in rng.choice(len(tonal), min(len(tonal), n - len(pick)), replace=False)]
    return [p[2] for p in pick]


def _pack(streams: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.cumsum([0] + [len(s) for s in streams]).astype(np.int64)
    return np.concatenate(streams).astype(np.int16), offsets


def _classifier_entry(cpath: Path, cx, vx) -> dict:
    return {
        "file": cpath.name,
        "sha256": sha256(cpath),
        "source": "FluidR3_GM renders (fluidr3) only; split by stable SHA-256 hash of the clip path as training/train_classifier.py (validation < 0.1)",
        "never_used": ["timgm6mb (held-out test source)", "MuseScore General", "freepats", "avldrums", "sonic-pi-samples", "hydrogen*", "lmms-common (audio samples)", "chuck-data"],
        "input": "standardised log-mel windows [1,128,8] (nomad_muse.classifier.features), float16",
        "calib": {"split": "train", "windows": int(len(cx)), "per_family": CALIB_PER_FAMILY},
        "val": {"split": "validation", "windows": int(len(vx)), "per_family": VAL_PER_FAMILY},
        "families": list(FAMILIES),
    }


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=Path, default=Path("/work/data/classifier_clips"))
    ap.add_argument("--midi", type=Path, default=Path("/work/data/music21_midi"))
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", choices=("classifier", "generator"), help="Remake one set; the other's entry in calibration.json is kept.")
    ap.add_argument("--lmms-projects", type=Path, nargs="*", default=None, help="LMMS project folders (default: lmms-common's)")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    old = json.loads((args.out / "calibration.json").read_text()) if (args.out / "calibration.json").is_file() else {}

    if args.only != "generator":
        sp = classifier_split(args.clips)
        cx, cy = sample_windows(sp["train"], CALIB_PER_FAMILY, rng)
        vx, vy = sample_windows(sp["validation"], VAL_PER_FAMILY, rng)
        cpath = args.out / "classifier.npz"
        np.savez_compressed(cpath, calib_x=cx, calib_y=cy, val_x=vx, val_y=vy, families=np.array(FAMILIES))
    if args.only == "classifier":
        card = {**old, "classifier": _classifier_entry(cpath, cx, vx)}
        (args.out / "calibration.json").write_text(json.dumps(card, indent=1) + "\n")
        return

    from nomad_muse.training.generator_data import LMMS_PROJECT_DIRS, sources

    srcs = sources(args.midi.parent, music21_dir=args.midi, lmms_projects=args.lmms_projects or LMMS_PROJECT_DIRS)
    roots = [s.root for s in srcs]
    cal = generator_streams(srcs, "train", GEN_CALIB_STREAMS, rng)
    val = generator_streams(srcs, "validation", GEN_VAL_STREAMS, rng)
    gpath = args.out / "generator.npz"
    ct, co = _pack(cal)
    vt, vo = _pack(val)
    np.savez_compressed(gpath, calib_tokens=ct, calib_offsets=co, val_tokens=vt, val_offsets=vo)

    card = {
        "made_by": "python -m nomad_muse.training.make_calib_data",
        "seed": args.seed,
        "classifier": old.get("classifier") if args.only == "generator" else _classifier_entry(cpath, cx, vx),
        "generator": {
            "file": gpath.name,
            "sha256": sha256(gpath),
            "source": [str(r) for r in roots],
            "split": "training/generator_data.source_splits (by file per source, stable hash; 80/10/10, planetblupi and lmms 70/10/20); each header ends with its source's STYLE token; the test split is never read",
            "calib": {"split": "train", "streams": len(cal), "tokens": int(len(ct))},
            "val": {"split": "validation", "streams": len(val), "tokens": int(len(vt))},
            "max_tokens_per_stream": GEN_STREAM_TOKENS,
        },
    }
    (args.out / "calibration.json").write_text(json.dumps(card, indent=1) + "\n")
    print(json.dumps({k: card[k] for k in ("classifier", "generator")}, indent=1))


if __name__ == "__main__":
    main()
