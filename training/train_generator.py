"""Train the MIDI generator from scratch, export it, fit the n-gram baseline, write the training statistics.

    python -m nomad_muse.training.train_generator [--minutes 14 | --steps N] [--extra DIR ...]

Data (:func:`training.generator_data.sources`, each with a STYLE label from its metadata):
music21's scores exported as MIDI (classical; joplin/leadSheet popular; the reserved
collections refused), music21's ABC folk collections and abcmidi's examples converted by
abc2midi (folk), Debian ``planetblupi-music-midi`` (popular: GM multitrack game music) and
Debian ``lmms-common``'s projects, drums and melodic tracks (electronic; ``training.lmms``,
cached in ``DATA_DIR/lmms_midi``), plus any ``--extra`` directories (style ``any``).
Split by file per source; batches are drawn by **style weight** (``--style-weights``), not
by file count; the STYLE token is replaced by ``STYLE:any`` with probability ``--p-any`` so
the model also serves users who give no style. Augmentation ±2 semitones (tonal) and
±10 % tempo. Checkpoints are selected on the style-weighted validation NLL. Runs on CUDA
when available, else CPU.
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
from nomad_muse.generator.tokenizer import header_len, with_style
from nomad_muse.training.generator_data import (
    LMMS_PROJECT_DIRS,
    MUSIC21_SCORES,
    export_abc_folk,
    export_music21_corpus,
    load_streams,
    scale_tempo,
    source_splits,
    sources,
    transpose_tokens,
    windows,
)
from nomad_muse.training.generator_model import GeneratorGRU, count_params, export_step_onnx

ROOT = Path(__file__).resolve().parents[1]
#: batch share per style (by style, not by file count; docs/generator.md)
DEFAULT_STYLE_WEIGHTS = {"classical": 0.25, "folk": 0.2, "popular": 0.3, "electronic": 0.25}
#: the held-out set of the card's headline perplexity: non-classical multitrack sources, test split
HEADLINE_SOURCES = ("planetblupi", "lmms")


def collect(data_dir: Path, extra: list[Path], lmms_projects=LMMS_PROJECT_DIRS) -> dict:
    """Streams per split, each ``(source/rel, mode, tokens)`` with its header's STYLE token, plus
    ``meta[file] = (source, sub-source, style)`` and per-source file counts."""
    m21 = data_dir / "music21_midi"
    if not (m21.exists() and any(m21.rglob("*.mid"))):
        print("exporting music21 scores to", m21)
        export_music21_corpus(m21, MUSIC21_SCORES)
    folk = data_dir / "folk_midi"
    if not (folk.exists() and any(folk.rglob("*.mid"))):
        print("converting the ABC folk collections to", folk)
        export_abc_folk(folk)
    from nomad_muse.training.generator_data import Source

    srcs = sources(data_dir, lmms_projects=lmms_projects) + [Source(Path(e).name, Path(e), "any") for e in extra]
    splits: dict = {"train": [], "validation": [], "test": [], "meta": {}, "sources": []}
    for src in srcs:
        sp = source_splits(src)
        splits["sources"].append({"name": src.name, "root": str(src.root), "style": src.style, "licence": src.licence,
                                  "files": sum(len(v) for v in sp.values()), **{k: len(v) for k, v in sp.items()}})
        for k, fl in sp.items():
            for rel, mode, toks in load_streams(fl, src.root, style=src.style_of):
                key = f"{src.name}/{rel}"
                splits[k].append((key, mode, toks))
                splits["meta"][key] = (src.name, src.sub_source(rel), src.style_of(rel))
    return splits


def _nll_sums(model: GeneratorGRU, toks, device) -> tuple[float, int]:
    x = torch.tensor(toks, dtype=torch.long, device=device)[None]
    logits, _ = model(x[:, :-1])
    lp = torch.log_softmax(logits.float(), -1)[0]
    tgt = x[0, 1:]
    nll = -lp[torch.arange(len(tgt)), tgt][header_len(toks) - 1 :]
    return float(nll.sum()), int(nll.numel())


@torch.no_grad()
def stream_nll(model: GeneratorGRU, streams, device, *, style: str | None = "keep") -> dict[str, float]:
    """NLL per token (nats) over whole streams, state carried, targets after the header.

    ``style``: "keep" the streams' STYLE tokens, or set every header's to this style (None: none)."""
    model.eval()
    tot = {"all": [0.0, 0], "tonal": [0.0, 0], "drums": [0.0, 0]}
    for _, mode, toks in streams:
        toks = toks if style == "keep" else with_style(toks, style)
        s, n = _nll_sums(model, toks, device)
        for k in ("all", mode):
            tot[k][0] += s
            tot[k][1] += n
    return {k: (v[0] / v[1] if v[1] else float("nan")) for k, v in tot.items()} | {f"n_{k}": v[1] for k, v in tot.items()}


@torch.no_grad()
def grouped_nll(model: GeneratorGRU | None, ng: NGram | None, streams, meta, device="cpu", *, style: str | None = "keep") -> dict:
    """``{group: {tokens, nll, perplexity}}`` with groups ``all``, ``mode/<m>``, ``style/<s>``, ``source/<src>``,
    ``sub/<src/folder>`` and ``headline`` (planetblupi + lmms); the model's (``model`` given) or the n-gram's."""
    if model is not None:
        model.eval()
    acc: dict[str, list] = {}
    for key, mode, toks in streams:
        toks = toks if style == "keep" else with_style(toks, style)
        s, n = _nll_sums(model, toks, device) if model is not None else ng.nll(toks, skip=header_len(toks))
        src, sub, sty = meta[key]
        groups = ["all", f"mode/{mode}", f"style/{sty}", f"source/{src}", f"sub/{sub}"]
        if src in HEADLINE_SOURCES:
            groups += ["headline", f"headline/{mode}"]
        for g in groups:
            a = acc.setdefault(g, [0.0, 0])
            a[0] += s
            a[1] += n
    return {g: {"tokens": n, "nll": s / n, "perplexity": math.exp(s / n)} for g, (s, n) in sorted(acc.items()) if n}


def ngram_nll(ng: NGram, streams) -> dict[str, float]:
    tot = {"all": [0.0, 0], "tonal": [0.0, 0], "drums": [0.0, 0]}
    for _, mode, toks in streams:
        s, n = ng.nll(toks, skip=header_len(toks))
        for k in ("all", mode):
            tot[k][0] += s
            tot[k][1] += n
    return {k: (v[0] / v[1] if v[1] else float("nan")) for k, v in tot.items()}


def make_batch(pool, batch, rng, weights: dict[str, float], p_drums: float, p_any: float, augment=True):
    """``batch`` windows: style by ``weights``, then drums with ``p_drums`` when the style has drum
    windows, the STYLE token replaced by ``STYLE:any`` with ``p_any``."""
    styles = [s for s in weights if any(pool.get(s, {}).values())]
    w = np.array([weights[s] for s in styles], float)
    w /= w.sum()
    any_tok = V.style_token("any")
    out = []
    for _ in range(batch):
        st = styles[int(rng.choice(len(styles), p=w))]
        modes = pool[st]
        mode = "drums" if (modes.get("drums") and (rng.random() < p_drums or not modes.get("tonal"))) else "tonal"
        win = list(modes[mode][rng.integers(len(modes[mode]))])
        if augment:
            if mode == "tonal":
                t = transpose_tokens(win, int(rng.integers(-2, 3)))
                win = t if t is not None else win
            win = scale_tempo(win, float(rng.uniform(0.9, 1.1)))
        if rng.random() < p_any and V.style_of_token(win[5]):
            win[5] = any_tok
        out.append(win)
    return torch.tensor(np.array(out), dtype=torch.long)


def selection_subset(streams, meta, max_tokens: int) -> list:
    """Up to ``max_tokens`` tokens of validation streams per style (in file-hash order), for checkpoint selection."""
    import hashlib

    by_style: dict[str, list] = {}
    for st in sorted(streams, key=lambda s: hashlib.sha256(s[0].encode()).hexdigest()):
        by_style.setdefault(meta[st[0]][2], []).append(st)
    out = []
    for sty, lst in by_style.items():
        n = 0
        for st in lst:
            if n >= max_tokens:
                break
            out.append(st)
            n += len(st[2])
    return out


def weighted_style_nll(model, streams, meta, weights, device) -> tuple[float, dict]:
    g = grouped_nll(model, None, streams, meta, device)
    per = {s: g[f"style/{s}"]["nll"] for s in weights if f"style/{s}" in g}
    tot = sum(weights[s] for s in per)
    return sum(weights[s] * v for s, v in per.items()) / tot, per


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
    ap.add_argument("--p-drums", type=float, default=0.3, help="Share of drum windows within a style that has drums.")
    ap.add_argument("--style-weights", default=",".join(f"{k}={v}" for k, v in DEFAULT_STYLE_WEIGHTS.items()),
                    help="Batch share per style, e.g. classical=0.25,folk=0.2,popular=0.3,electronic=0.25.")
    ap.add_argument("--p-any", type=float, default=0.2, help="Probability that a window's STYLE token is replaced by STYLE:any.")
    ap.add_argument("--val-tokens", type=int, default=40000, help="Validation tokens per style scored for checkpoint selection.")
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--lmms-projects", type=Path, nargs="*", default=list(LMMS_PROJECT_DIRS), help="Folders of LMMS projects (lmms-common).")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    random.seed(args.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    t0 = time.time()
    weights = {k: float(v) for k, v in (kv.split("=") for kv in args.style_weights.split(","))}
    data = collect(args.data_dir, args.extra, args.lmms_projects)
    meta = data["meta"]
    print({k: len(data[k]) for k in ("train", "validation", "test")}, f"{time.time() - t0:.0f}s", flush=True)
    pool: dict[str, dict[str, list]] = {}
    for key, mode, toks in data["train"]:
        pool.setdefault(meta[key][2], {"tonal": [], "drums": []})[mode] += list(windows(toks, args.seq_len, stride=args.seq_len // 2))
    for st in pool:
        weights.setdefault(st, 0.0)
    print("train windows", {s: {m: len(v) for m, v in d.items()} for s, d in pool.items()}, flush=True)
    sel = selection_subset(data["validation"], meta, args.val_tokens)
    print("selection streams", len(sel), "tokens", sum(len(t) for _, _, t in sel), flush=True)

    model = GeneratorGRU().to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    loss_fn = nn.CrossEntropyLoss(ignore_index=V.PAD)
    budget = args.minutes * 60
    t_train = time.time()
    step, best, best_state, history = 0, math.inf, None, []
    def more() -> bool:
        return step < args.steps if args.steps else time.time() - t_train < budget

    while more():
        model.train()
        x = make_batch(pool, args.batch, rng, weights, args.p_drums, args.p_any).to(device)
        logits, _ = model(x[:, :-1])
        tgt = x[:, 1:].clone()
        tgt[:, : header_len(x[0].tolist()) - 1] = V.PAD  # the header (with its STYLE token) is given, not predicted
        loss = loss_fn(logits.reshape(-1, V.VOCAB_SIZE), tgt.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        frac = step / args.steps if args.steps else (time.time() - t_train) / budget
        for g in opt.param_groups:
            g["lr"] = args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))
        opt.step()
        step += 1
        if step % args.eval_every == 0 or not more():
            score, per = weighted_style_nll(model, sel, meta, weights, device)
            history.append({"step": step, "seconds": round(time.time() - t_train), "train_loss": float(loss.detach()),
                            "val_weighted_nll": score, "val_by_style": per})
            print(history[-1], flush=True)
            if score < best:  # model selection on the validation split only
                best, best_state = score, {k: v.detach().clone() for k, v in model.state_dict().items()}
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
    grouped = {
        "validation": grouped_nll(model, None, data["validation"], meta),
        "test": grouped_nll(model, None, data["test"], meta),
        "test_style_any": grouped_nll(model, None, data["test"], meta, style="any"),
        "ngram_validation": grouped_nll(None, ng, data["validation"], meta),
        "ngram_test": grouped_nll(None, ng, data["test"], meta),
    }
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
        "grouped": grouped,
        "style_weights": weights,
        "test_files": sorted({k for k, _, _ in data["test"]}),
        "validation_files": sorted({k for k, _, _ in data["validation"]}),
        "args": {k: (str(v) if isinstance(v, Path) else [str(x) for x in v] if isinstance(v, list) else v) for k, v in vars(args).items()},
    }
    (args.data_dir / "generator_train_stats.json").write_text(json.dumps(stats, indent=1))
    print(json.dumps({k: stats[k] for k in ("params", "train_steps", "validation", "test", "ngram_test")}, indent=1))
    print(json.dumps({k: {g: round(v["nll"], 3) for g, v in d.items()} for k, d in grouped.items()}, indent=1))
    print("wrote", onnx_path, ng_path)


if __name__ == "__main__":
    main()
