"""Train the instrument-family classifier from scratch, export it, write its model card.

    python -m nomad_muse.training.train_classifier --clips DIR [--minutes 8 | --epochs N]

DIR is what ``python -m nomad_muse.training.classifier_data render DIR`` writes:
``DIR/<source>/<family>/*.wav``. The ``timgm6mb`` source (TimGM6mb
soundfont) is **held out** as the test split; ``fluidr3`` (FluidR3_GM) is
split by file into train (90 %) and validation (10 %, model selection).
Each training clip is used clean plus ``--augment`` augmented copies (gain,
noise, EQ tilt, reverb, pitch shift, time stretch, mixing with a clip of
another family). Windows of 8 log-mel frames; silent windows (below the
streaming classifier's −60 dBFS "no signal" gate) are dropped. Sampling is
class-balanced. CUDA is used when present.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from torch import nn

from nomad_muse.classifier.features import SR_TRAIN, context_windows, resample, split_of
from nomad_muse.classifier.stream import ClassifierConfig
from nomad_muse.gm import FAMILIES
from nomad_muse.training.classifier_model import FamilyCNN, count_params, export_onnx

ROOT = Path(__file__).resolve().parents[1]
TEST_SOURCE = "timgm6mb"
WIN_HOP = 2  # frames between training windows


def list_clips(clips: Path) -> dict[str, list[tuple[Path, int]]]:
    out: dict[str, list[tuple[Path, int]]] = {"train": [], "validation": [], "test": []}
    for src in sorted(p for p in clips.iterdir() if p.is_dir()):
        for fam_dir in sorted(p for p in src.iterdir() if p.is_dir() and p.name in FAMILIES):
            label = FAMILIES.index(fam_dir.name)
            for f in sorted(fam_dir.glob("*.wav")):
                if src.name == TEST_SOURCE:
                    out["test"].append((f, label))
                else:
                    out[split_of(str(f.relative_to(clips)))].append((f, label))
    return out


def windows_of(y: np.ndarray, silence_dbfs: float) -> list[np.ndarray]:
    """Training windows of a 22.05 kHz clip: the serving path's windows (features.context_windows), every WIN_HOP-th."""
    return [w for _, w in context_windows(y, step=WIN_HOP, silence_dbfs=silence_dbfs)]


def load_audio(path: Path) -> np.ndarray:
    """Mono float audio at 22.05 kHz (resampled with the serving path's resampler when the file differs)."""
    y, sr = sf.read(str(path), dtype="float32", always_2d=True)
    return resample(y.mean(axis=1), sr, SR_TRAIN)


def build(items, *, augment: int, rng: np.random.Generator, silence_dbfs: float):
    """(windows [N,1,128,8], labels [N], clip ids [N])."""
    from nomad_muse.training.classifier_data import augment as augment_fn

    audio = [(load_audio(p), lab) for p, lab in items]
    by_label: dict[int, list[int]] = {}
    for i, (_, lab) in enumerate(audio):
        by_label.setdefault(lab, []).append(i)
    X, Y, C = [], [], []
    for i, (y, lab) in enumerate(audio):
        versions = [y]
        for _ in range(augment):
            others = [j for L, idx in by_label.items() if L != lab for j in idx]
            other = audio[int(rng.choice(others))][0] if others and rng.random() < 0.3 else None
            versions.append(augment_fn(y, SR_TRAIN, rng, other=other).astype(np.float32))
        for v in versions:
            for w in windows_of(v, silence_dbfs):
                X.append(w)
                Y.append(lab)
                C.append(i)
    return np.stack(X).astype(np.float32), np.array(Y), np.array(C)


@torch.no_grad()
def predict(model, X, device, batch=2048) -> np.ndarray:
    model.eval()
    out = []
    for i in range(0, len(X), batch):
        out.append(torch.softmax(model(torch.from_numpy(X[i : i + batch]).to(device)), -1).cpu().numpy())
    return np.concatenate(out)


def metrics(probs: np.ndarray, y: np.ndarray, clips: np.ndarray | None = None) -> dict:
    n = len(FAMILIES)
    pred = probs.argmax(1)
    cm = np.zeros((n, n), int)
    for t, p in zip(y, pred):
        cm[t, p] += 1
    per_class = {FAMILIES[i]: (cm[i, i] / cm[i].sum() if cm[i].sum() else None) for i in range(n)}
    present = [v for v in per_class.values() if v is not None]
    d_true, d_pred = y == 0, pred == 0
    tp = int(np.sum(d_true & d_pred))
    res = {
        "windows": int(len(y)),
        "accuracy": float(np.mean(pred == y)),
        "balanced_accuracy": float(np.mean(present)),
        "per_class_accuracy": per_class,
        "drums_vs_tonal": {
            "accuracy": float(np.mean(d_true == d_pred)),
            "drums_precision": tp / max(1, int(d_pred.sum())),
            "drums_recall": tp / max(1, int(d_true.sum())),
        },
        "confusion_matrix": {"labels": list(FAMILIES), "rows_true_cols_pred": cm.tolist()},
    }
    if clips is not None:  # vote per clip: mean probability over its windows
        cp, cy = [], []
        for c in np.unique(clips):
            m = clips == c
            cp.append(probs[m].mean(0))
            cy.append(y[m][0])
        cp, cy = np.array(cp), np.array(cy)
        res["clip_vote"] = {"clips": int(len(cy)), "accuracy": float(np.mean(cp.argmax(1) == cy)),
                            "balanced_accuracy": float(np.mean([np.mean(cp.argmax(1)[cy == k] == k) for k in np.unique(cy)]))}
    return res


UNSEEN_SEED = 777  # a render seed training never used: new notes, phrases and grooves


def unseen_content_check(onnx_path: Path, clips_per_family: int = 20) -> dict:
    """Clip-level metrics on a fresh TimGM6mb render with an unused seed (unseen sound set AND unseen content).

    Reported in the card after training; never used for training or selection.
    """
    import tempfile

    from nomad_muse.backends import get_backend
    from nomad_muse.classifier.evaluate import evaluate_dir
    from nomad_muse.training.classifier_data import SOUNDFONTS, render_dataset

    with tempfile.TemporaryDirectory() as tmp:
        render_dataset(tmp, soundfonts={"timgm6mb": SOUNDFONTS["timgm6mb"]}, seed=UNSEEN_SEED, clips_per_family=clips_per_family)
        res = evaluate_dir(Path(tmp) / "timgm6mb", get_backend("onnxruntime").load(onnx_path))
    keep = ("accuracy", "balanced_accuracy", "per_class_accuracy", "drums_vs_tonal_accuracy", "confusion_matrix", "per_class_files")
    return {"what": f"muse evaluate classifier on a TimGM6mb render with seed {UNSEEN_SEED} ({clips_per_family} clips per family), "
                    "one vote per clip: unseen soundfont and unseen content",
            "reproduce": f"python -m nomad_muse.training.classifier_data render DIR --clips-per-family {clips_per_family} --seed {UNSEEN_SEED} "
                         "--soundfont timgm6mb=/usr/share/sounds/sf2/TimGM6mb.sf2 && muse evaluate classifier DIR/timgm6mb --json",
            **{k: res[k] for k in keep}}


def main(argv=None) -> None:
    if argv is None and len(sys.argv) > 2 and sys.argv[1] == "--unseen-check":
        card_dir = Path(sys.argv[2])
        card_path = card_dir / "classifier.json"
        card = json.loads(card_path.read_text())
        card["metrics"]["held_out_unseen_content"] = unseen_content_check(card_dir / "classifier.onnx")
        card_path.write_text(json.dumps(card, indent=1) + "\n")
        print(json.dumps({k: card["metrics"]["held_out_unseen_content"][k] for k in ("balanced_accuracy", "drums_vs_tonal_accuracy")}))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=Path, default=Path.home() / ".cache" / "nomad-muse-edge" / "classifier_clips")
    ap.add_argument("--out", type=Path, default=ROOT / "models")
    ap.add_argument("--minutes", type=float, default=8.0)
    ap.add_argument("--epochs", type=int, default=None, help="Train exactly this many epochs (overrides --minutes).")
    ap.add_argument("--augment", type=int, default=2, help="Augmented copies per training clip.")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    silence = ClassifierConfig().silence_dbfs
    t0 = time.time()
    items = list_clips(args.clips)
    Xtr, Ytr, _ = build(items["train"], augment=args.augment, rng=rng, silence_dbfs=silence)
    Xva, Yva, Cva = build(items["validation"], augment=0, rng=rng, silence_dbfs=silence)
    Xte, Yte, Cte = build(items["test"], augment=0, rng=rng, silence_dbfs=silence)
    prep_s = time.time() - t0
    print(f"windows train {len(Xtr)} val {len(Xva)} test {len(Xte)} ({prep_s:.0f}s)", flush=True)

    model = FamilyCNN().to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-3)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.05)
    counts = np.bincount(Ytr, minlength=len(FAMILIES)).astype(float)
    w = 1.0 / np.maximum(counts[Ytr], 1)
    w /= w.sum()
    per_epoch = len(Xtr) // args.batch
    budget = args.minutes * 60
    t_train = time.time()
    best, best_state, history, epoch = -1.0, None, [], 0
    while (epoch < args.epochs) if args.epochs else (time.time() - t_train < budget):
        model.train()
        idx = rng.choice(len(Xtr), size=per_epoch * args.batch, p=w)  # class-balanced sampling
        for b in range(per_epoch):
            sel = idx[b * args.batch : (b + 1) * args.batch]
            x = torch.from_numpy(Xtr[sel]).to(device)
            y = torch.from_numpy(Ytr[sel]).to(device)
            loss = loss_fn(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        epoch += 1
        va = metrics(predict(model, Xva, device), Yva)
        history.append({"epoch": epoch, "seconds": round(time.time() - t_train), "loss": float(loss), "val_balanced_accuracy": va["balanced_accuracy"]})
        print(history[-1], flush=True)
        if va["balanced_accuracy"] > best:  # selection on validation only, never on the held-out source
            best, best_state = va["balanced_accuracy"], {k: v.detach().clone() for k, v in model.state_dict().items()}
        for g in opt.param_groups:
            g["lr"] = args.lr * (0.5 * (1 + math.cos(math.pi * min(1.0, (time.time() - t_train) / budget if not args.epochs else epoch / args.epochs))) * 0.9 + 0.1)
    model.load_state_dict(best_state)
    model = model.cpu()
    args.out.mkdir(parents=True, exist_ok=True)
    onnx_path = args.out / "classifier.onnx"
    export_onnx(model, onnx_path)
    val = metrics(predict(model, Xva, "cpu"), Yva, Cva)
    test = metrics(predict(model, Xte, "cpu"), Yte, Cte)
    manifest = json.loads((args.clips / "manifest.json").read_text()) if (args.clips / "manifest.json").is_file() else {}
    card = {
        "name": "classifier",
        "file": "classifier.onnx",
        "sha256": hashlib.sha256(onnx_path.read_bytes()).hexdigest(),
        "size_bytes": onnx_path.stat().st_size,
        "task": "instrument family of a ~186 ms log-mel window (11 GM families); drums vs tonal derived from the family",
        "architecture": "3 x (conv3x3 + BN + ReLU) 32-64-128, max-pool after the first two, global average pooling, FC 128-256-64-11",
        "parameters": count_params(model),
        "classes": list(FAMILIES),
        "class_mapping": "edge_runtime/gm.py (GM program -> family)",
        "inputs": {"mel": "float32 [1,1,128,8]: 8 frames of 128-band log-mel (46 ms window, 20 ms hop), standardised per window"},
        "outputs": {"logits": "float32 [1,11]"},
        "data": {
            "clips_dir_layout": "<source>/<family>/*.wav, 22.05 kHz mono, rendered by training.classifier_data",
            "train_validation_source": "fluidr3: FluidR3_GM.sf2 (Debian fluid-soundfont-gm, MIT), rendered with FluidSynth",
            "held_out_test_source": "timgm6mb: TimGM6mb.sf2 (Debian timgm6mb-soundfont, GPL-2), never used for training or selection; it plays the same generated MIDI content as fluidr3, so the test measures generalisation to an unseen sound set (timbre), not to unseen notes",
            "reserved_never_used": ["freepats", "sonic-pi-samples", "hydrogen-drumkits*", "hydrogen-data",
                                    "lmms-common samples", "chuck-data"],
            "clips": {k: len(v) for k, v in items.items()},
            "windows": {"train": int(len(Xtr)), "validation": int(len(Xva)), "test": int(len(Xte))},
            "augmentation": f"{args.augment} augmented copies per training clip (gain, noise, EQ tilt, reverb, pitch shift, time stretch, 30 % mixed with another family)",
            "render_manifest_summary": manifest.get("summary", {}),
        },
        "training": {"epochs": epoch, "seconds": round(time.time() - t_train), "prep_seconds": round(prep_s), "device": device,
                     "selection": "best validation balanced accuracy (fluidr3 validation files)", "history": history,
                     "args": {k: str(v) for k, v in vars(args).items()}},
        "metrics": {"validation": val, "test_held_out_soundfont": test},
        "baseline": {"chance_balanced_accuracy": 1 / len(FAMILIES)},
        "reproduce": f"pip install '.[training]' && apt-get install fluidsynth fluid-soundfont-gm timgm6mb-soundfont && python -m nomad_muse.training.classifier_data render DIR && python -m nomad_muse.training.train_classifier --clips DIR --epochs {epoch}",
    }
    card["metrics"]["held_out_unseen_content"] = unseen_content_check(onnx_path)
    (args.out / "classifier.json").write_text(json.dumps(card, indent=1) + "\n")
    print(json.dumps({"params": card["parameters"], "test": {k: test[k] for k in ("accuracy", "balanced_accuracy", "drums_vs_tonal", "clip_vote")}}, indent=1))


if __name__ == "__main__":
    main()
