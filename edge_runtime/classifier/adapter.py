"""On-device adaptation: a new final layer fitted on the user's labelled folder (``muse adapt classifier``).

The shipped model exposes its 64-d penultimate activations as the ONNX output
``embedding``; its logits are ``W0·e + b0``. An adapter is a replacement
``(W, b)`` fitted with numpy/scipy (no torch):

* data: the folder layout ``muse evaluate classifier`` takes (one sub-folder
  per family, plus ``--map folder=family``); clips are split by
  :func:`features.split_of` of their path relative to the folder
  (``VALIDATION`` share held out), so the split is stable between runs;
* features: the serving path's windows (:func:`features.context_windows`
  after :func:`features.resample`, silence gate applied), at most
  ``MAX_WINDOWS_PER_CLIP`` per clip, each run through the shipped model;
* fit: multinomial logistic regression (softmax cross-entropy, classes
  weighted by inverse frequency) with an L2 penalty ``λ·‖(W, b) − (W0, b0)‖²``
  toward the shipped head, so classes the folder lacks keep their shipped
  weights (scipy L-BFGS). ``(W0, b0)`` are recovered exactly from the model by
  least squares on (embedding, logits) pairs;
* keep: only if the adapted head's clip accuracy on the held-out clips beats
  the shipped head's (ties keep the shipped head).

The adapter file is ``<data dir>/adapters/classifier-<model sha256[:16]>.npz``:
it applies only to the model file it was fitted on (storage, hash tie, the
L-BFGS fit and the head recovery are shared with the generator's adapter in
:mod:`nomad_muse.adapters`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nomad_muse import adapters
from nomad_muse.adapters import NO_ADAPTER_ENV  # noqa: F401  (re-exported: cli_live sets it)
from nomad_muse.errors import InputError, ParameterError
from nomad_muse.gm import FAMILIES

VALIDATION = 0.3
MAX_WINDOWS_PER_CLIP = 24
L2_TOWARD_SHIPPED = 1e-2


def model_sha256(path: Path) -> str:
    return adapters.model_sha256(path)


def adapter_path(model_path: Path) -> Path:
    return adapters.adapter_path("classifier", model_path)


@dataclass(frozen=True)
class Adapter:
    W: np.ndarray  # [11, 64]
    b: np.ndarray  # [11]
    info: dict

    def logits(self, emb: np.ndarray) -> np.ndarray:
        return emb @ self.W.T + self.b


class AdaptedModel:
    """A loaded classifier model whose logits come from the adapter's head on the model's ``embedding``."""

    def __init__(self, model, adapter: Adapter):
        self.model, self.adapter = model, adapter

    def run(self, feeds):
        out = self.model.run(feeds)
        emb = out["embedding"]
        return {"logits": self.adapter.logits(emb.astype(np.float64)).astype(np.float32), "embedding": emb}

    def describe(self):
        return self.model.describe()

    def __getattr__(self, name):
        return getattr(self.model, name)


def load_adapter(model_path: Path) -> Adapter | None:
    """The adapter stored for this exact model file, or None (none, or turned off with MUSE_NO_ADAPTER=1)."""
    got = adapters.load("classifier", model_path)
    return Adapter(*got) if got is not None else None


def with_source_adapter(model, source: Path | None):
    """``model`` (a variant, e.g. calibration's INT8) with the user's adapter for the shipped file ``source``
    it was made from, as :func:`nomad_muse.runtime.load` runs it; ``model`` itself when there is none."""
    ad = load_adapter(source) if source is not None else None
    return AdaptedModel(model, ad) if ad is not None else model


def adapter_summary(model_path: Path) -> dict | None:
    """What ``muse profile show`` prints: file, when, clips, held-out accuracies."""
    return adapters.summary("classifier", model_path, ("created", "clips", "held_out_accuracy_shipped", "held_out_accuracy_adapted"))


def labelled_files(directory: Path, mapping: dict[str, str] | None = None) -> list[tuple[Path, int]]:
    """(file, family index) for each audio file under a family folder (or a folder ``mapping`` names)."""
    from nomad_muse.classifier.evaluate import AUDIO_SUFFIXES

    d = Path(directory)
    if not d.is_dir():
        raise InputError(f"not a directory: {d}")
    mapping = dict(mapping or {})
    for k, v in mapping.items():
        if v not in FAMILIES:
            raise ParameterError(f"adapter_map={k}={v}: {v!r} is not a family ({' '.join(FAMILIES)})", field="adapter_map")
    out = []
    for sub in sorted(p for p in d.iterdir() if p.is_dir()):
        fam = mapping.get(sub.name, sub.name if sub.name in FAMILIES else mapping.get(sub.name.lower()))
        if fam is None:
            continue
        out += [(f, FAMILIES.index(fam)) for f in sorted(sub.rglob("*")) if f.is_file() and f.suffix.lower() in AUDIO_SUFFIXES]
    if not out:
        raise InputError(f"{d}: no audio in family folders ({' '.join(FAMILIES)}) or folders named by --map")
    return out


def clip_embeddings(path: Path, model, silence_dbfs: float = -60.0) -> tuple[np.ndarray, np.ndarray]:
    """(embeddings [n,64], shipped logits [n,11]) of a clip's non-silent serving windows (n may be 0)."""
    from nomad_muse.audio_io import iter_mono, probe_audio
    from nomad_muse.classifier.features import SR_TRAIN, context_windows, resample

    info = probe_audio(path, min_duration_s=0.0)
    mono = np.concatenate(list(iter_mono(info)))  # float32 mono: a quarter of a float64 stereo read
    wins = context_windows(resample(mono, info.sr, SR_TRAIN), step=1, silence_dbfs=silence_dbfs)
    if len(wins) > MAX_WINDOWS_PER_CLIP:
        pick = np.linspace(0, len(wins) - 1, MAX_WINDOWS_PER_CLIP).round().astype(int)
        wins = [wins[i] for i in pick]
    E, L = [], []
    for _, w in wins:
        o = model.run({"mel": w[None]})
        E.append(o["embedding"][0])
        L.append(o["logits"][0])
    return (np.array(E, np.float64).reshape(-1, 64), np.array(L, np.float64).reshape(-1, len(FAMILIES)))


shipped_head = adapters.shipped_head


def fit_head(E: np.ndarray, y: np.ndarray, W0: np.ndarray, b0: np.ndarray, lam: float = L2_TOWARD_SHIPPED) -> tuple[np.ndarray, np.ndarray]:
    """Class-weighted softmax regression on embeddings, L2-regularised toward (W0, b0) (scipy L-BFGS)."""
    k = W0.shape[0]
    counts = np.bincount(y, minlength=k).astype(float)
    cw = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / max(1, (counts > 0).sum()), 0.0)
    return adapters.fit_softmax_head(E, y, W0, b0, lam=lam, sample_weight=cw[y] / len(y))


def clip_accuracy(clips: list[tuple[np.ndarray, int]], W: np.ndarray, b: np.ndarray) -> float:
    """Accuracy of the clip decision (argmax of mean window probability, as ``muse evaluate classifier``)."""
    ok = 0
    for E, lab in clips:
        Z = E @ W.T + b
        P = np.exp(Z - Z.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        ok += int(np.argmax(P.mean(axis=0)) == lab)
    return ok / len(clips) if clips else float("nan")


def adapt(directory: Path, model, model_path: Path, *, mapping=None, progress=None, save: bool = True) -> dict:
    """Fit, validate and (if it wins on the held-out clips) store an adapter; returns the report."""
    import time

    from nomad_muse.classifier.features import split_of

    d = Path(directory)
    files = labelled_files(d, mapping)
    t0 = time.perf_counter()
    parts: dict[str, list] = {"train": [], "validation": []}
    pairs_E, pairs_L, skipped, silent = [], [], [], 0
    from nomad_muse.errors import MuseError

    for f, lab in files:
        try:
            E, L = clip_embeddings(f, model)
        except MuseError as e:
            skipped.append({"file": str(f), "error": str(e)})
            E = None
        if progress:
            progress()
        if E is None:
            continue
        if not len(E):
            silent += 1
            continue
        parts[split_of(str(f.relative_to(d)), VALIDATION)].append((E, lab))
        if len(pairs_E) < 400:
            pairs_E.append(E)
            pairs_L.append(L)
    if len(parts["train"]) < 2 or not parts["validation"]:
        raise InputError(f"{d}: {len(parts['train'])} training and {len(parts['validation'])} held-out clips with signal; "
                         "adaptation needs at least 2 and 1 (add clips)")
    W0, b0 = shipped_head(np.vstack(pairs_E), np.vstack(pairs_L))
    Etr = np.vstack([E for E, _ in parts["train"]])
    ytr = np.concatenate([np.full(len(E), lab) for E, lab in parts["train"]])
    W, b = fit_head(Etr, ytr, W0, b0)
    acc0 = clip_accuracy(parts["validation"], W0, b0)
    acc1 = clip_accuracy(parts["validation"], W, b)
    keep = acc1 > acc0
    info = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "directory": str(d.resolve()),
        "model_sha256": model_sha256(model_path),
        "clips": {"train": len(parts["train"]), "validation": len(parts["validation"]), "silent": silent, "skipped": len(skipped)},
        "held_out_accuracy_shipped": acc0,
        "held_out_accuracy_adapted": acc1,
        "l2_toward_shipped": L2_TOWARD_SHIPPED,
        "validation_share": VALIDATION,
    }
    kept_file = str(adapters.save("classifier", model_path, W, b, info)) if keep and save else None
    return {**info, "kept": keep, "adapter_file": kept_file, "skipped": skipped, "seconds": time.perf_counter() - t0}


def reset(model_path: Path) -> bool:
    """Remove this model's adapter; True if there was one."""
    return adapters.reset("classifier", model_path)
