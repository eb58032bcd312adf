"""Train the MIDI generator from scratch, export it, fit the n-gram baseline, write the model card.

    python -m nomad_muse.training.train_generator [--minutes 14 | --steps N] [--extra DIR ...]

Data: music21's bundled corpus exported as MIDI (tonal; reserved collections
refused), the Debian package ``planetblupi-music-midi`` (GM multitrack
with channel-10 drums) and, when ``lmms-common`` is installed, the drum parts
of its demo projects converted to GM drum MIDI (``training.lmms``,
cached in ``DATA_DIR/lmms_drums``), plus any ``--extra`` directories of MIDI files.
Split by file; augmentation ±2 semitones (tonal only) and ±10 % tempo.
Runs on CUDA when available, else CPU.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from nomad_muse.generator import vocab as V
from nomad_muse.generator.ngram import NGram
from nomad_muse.generator.tokenizer import HEADER_LEN
from nomad_muse.training.generator_data import (
    DEFAULT_MUSIC21,
    export_music21_corpus,
    find_midi_files,
    load_streams,
    scale_tempo,
    split_files,
    training_roots,
    transpose_tokens,
    windows,
)
from nomad_muse.training.generator_model import GeneratorGRU, count_params, export_step_onnx

ROOT = Path(__file__).resolve().parents[1]


def collect(data_dir: Path, extra: list[Path]) -> dict[str, list]:
    m21 = data_dir / "music21_midi"
    if not any(m21.rglob("*.mid")) if m21.exists() else True:
        print("exporting music21 corpus to", m21)
        export_music21_corpus(m21, DEFAULT_MUSIC21)
    roots = training_roots(data_dir) + list(extra)
    splits = {"train": [], "validation": [], "test": []}
    sources = []
    for root in roots:
        files = find_midi_files(root)
        sp = split_files(files, root=root)
        sources.append({"root": str(root), "files": len(files), **{k: len(v) for k, v in sp.items()}})
        for k, fl in sp.items():
            splits[k] += load_streams(fl, root)
    splits["sources"] = sources
    return splits


@torch.no_grad()
def stream_nll(model: GeneratorGRU, streams, device) -> dict[str, float]:
    """NLL per token (nats) over whole streams, state carried, targets after the header."""
    model.eval()
    tot = {"all": [0.0, 0], "tonal": [0.0, 0], "drums": [0.0, 0]}
    for _, mode, toks in streams:
        x = torch.tensor(toks, dtype=torch.long, device=device)[None]
        logits, _ = model(x[:, :-1])
        lp = torch.log_softmax(logits.float(), -1)[0]
        tgt = x[0, 1:]
        nll = -lp[torch.arange(len(tgt)), tgt][HEADER_LEN - 1 :]
        for k in ("all", mode):
            tot[k][0] += float(nll.sum())
            tot[k][1] += int(nll.numel())
    return {k: (v[0] / v[1] if v[1] else float("nan")) for k, v in tot.items()} | {f"n_{k}": v[1] for k, v in tot.items()}


def ngram_nll(ng: NGram, streams) -> dict[str, float]:
    tot = {"all": [0.0, 0], "tonal": [0.0, 0], "drums": [0.0, 0]}
    for _, mode, toks in streams:
        s, n = ng.nll(toks, skip=HEADER_LEN)
        for k in ("all", mode):
            tot[k][0] += s
            tot[k][1] += n
    return {k: (v[0] / v[1] if v[1] else float("nan")) for k, v in tot.items()}


def make_batch(pool, batch, rng, p_drums, augment=True):
    out = []
    for _ in range(batch):
        mode = "drums" if (rng.random() < p_drums and pool["drums"]) else "tonal"
        w = list(pool[mode][rng.integers(len(pool[mode]))])
        if augment:
            if mode == "tonal":
                t = transpose_tokens(w, int(rng.integers(-2, 3)))
                w = t if t is not None else w
            w = scale_tempo(w, float(rng.uniform(0.9, 1.1)))
        out.append(w)
    return torch.tensor(np.array(out), dtype=torch.long)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=Path.home() / ".cache" / "nomad-muse-edge" / "training-data")
    ap.add_argument("--extra", type=Path, nargs="*", default=[])
    ap.add_argument("--out", type=Path, default=ROOT / "models")
    ap.add_argument("--minutes", type=float, default=14.0, help="Wall-clock training budget.")
    ap.add_argument("--steps", type=int, default=None, help="Train exactly this many steps (reproducible on any machine; overrides --minutes).")
    ap.add_argument("--seq-len", type=int, default=192)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--p-drums", type=float, default=0.1, help="Share of drum batches (0.1 measured best; docs/generator.md).")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    random.seed(args.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    t0 = time.time()
    data = collect(args.data_dir, args.extra)
    print({k: len(v) for k, v in data.items() if k != "sources"}, f"{time.time() - t0:.0f}s")
    pool = {"tonal": [], "drums": []}
    for _, mode, toks in data["train"]:
        pool[mode] += list(windows(toks, args.seq_len, stride=args.seq_len // 2))
    print("train windows", {k: len(v) for k, v in pool.items()})

    model = GeneratorGRU().to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    loss_fn = nn.CrossEntropyLoss(ignore_index=V.PAD)
    budget = args.minutes * 60
    t_train = time.time()
    step, best, best_state, history = 0, math.inf, None, []
    # a one-mode model (--p-drums 1 or 0) is selected on its own mode's validation NLL
    select_on = "drums" if args.p_drums >= 1 else "tonal" if args.p_drums <= 0 else "all"
    def more() -> bool:
        return step < args.steps if args.steps else time.time() - t_train < budget

    while more():
        model.train()
        x = make_batch(pool, args.batch, rng, args.p_drums).to(device)
        logits, _ = model(x[:, :-1])
        tgt = x[:, 1:].clone()
        tgt[:, : HEADER_LEN - 1] = V.PAD  # the header is given, not predicted
        loss = loss_fn(logits.reshape(-1, V.VOCAB_SIZE), tgt.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        frac = step / args.steps if args.steps else (time.time() - t_train) / budget
        for g in opt.param_groups:
            g["lr"] = args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))
        opt.step()
        step += 1
        if step % 200 == 0:
            val = stream_nll(model, data["validation"], device)
            history.append({"step": step, "seconds": round(time.time() - t_train), "train_loss": float(loss), "val_nll": val["all"]})
            print(history[-1], flush=True)
            if val[select_on] < best:  # model selection on the validation split only
                best, best_state = val[select_on], {k: v.detach().clone() for k, v in model.state_dict().items()}
    if best_state is not None:
        model.load_state_dict(best_state)
    model = model.cpu()
    train_seconds = time.time() - t_train

    args.out.mkdir(parents=True, exist_ok=True)
    onnx_path = args.out / "generator.onnx"
    export_step_onnx(model, onnx_path)
    torch.save(model.state_dict(), args.data_dir / "generator.pt")

    ng = NGram(3, V.VOCAB_SIZE).fit(toks for _, _, toks in data["train"])
    ng_path = ng.save(args.out / "generator_ngram.json.gz")
    val = stream_nll(model, data["validation"], "cpu")
    test = stream_nll(model, data["test"], "cpu")
    ng_val, ng_test = ngram_nll(ng, data["validation"]), ngram_nll(ng, data["test"])
    stats = {
        "params": count_params(model),
        "train_steps": step,
        "train_seconds": round(train_seconds),
        "device": device,
        "history": history,
        "sources": data["sources"],
        "streams": {k: {"files": len({f for f, _, _ in data[k]}), "streams": len(data[k]), "tokens": sum(len(t) for _, _, t in data[k])} for k in ("train", "validation", "test")},
        "validation": val,
        "test": test,
        "ngram_validation": ng_val,
        "ngram_test": ng_test,
        "args": {k: (str(v) if isinstance(v, Path) else [str(x) for x in v] if isinstance(v, list) else v) for k, v in vars(args).items()},
    }
    (args.data_dir / "generator_train_stats.json").write_text(json.dumps(stats, indent=1))
    print(json.dumps({k: stats[k] for k in ("params", "train_steps", "validation", "test", "ngram_test")}, indent=1))
    print("wrote", onnx_path, ng_path)


if __name__ == "__main__":
    main()
