"""Files in, results out: classify one file, or score the shipped model on a labelled folder.

``muse evaluate classifier DIR --json`` keys:

* ``files`` (scored), ``skipped`` (``[{file, error}]``), ``notes`` (ignored names)
* ``accuracy``, ``balanced_accuracy`` (mean of per-class accuracies over classes present)
* ``per_class_accuracy`` (``{family: value or null}``), ``per_class_files``
* ``drums_vs_tonal_accuracy``
* ``confusion_matrix``: ``{labels, rows_true_cols_pred}``
* ``silent_files``: files with no signal above the gate (counted wrong)
* ``backend``: what ran the model (``describe()``)

A file's prediction is the family with the highest mean probability over
its non-silent windows (the offline path of the streaming classifier).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nomad_muse.audio_io import AUDIO_SUFFIXES, iter_mono, probe_audio
from nomad_muse.classifier.stream import ClassifierConfig, classify_blocks, summarise
from nomad_muse.errors import InputError, MuseError
from nomad_muse.gm import FAMILIES

__all__ = ["AUDIO_SUFFIXES", "check_dataset_dir", "classify_file", "evaluate_dir"]  # AUDIO_SUFFIXES: the same list analyze reads


def classify_file(path: Path, model, config: ClassifierConfig | None = None) -> dict:
    """Timeline + summary for one audio file (any length; a 50 ms one-shot is fine)."""
    info = probe_audio(path, min_duration_s=0.0)
    results, stats = classify_blocks(iter_mono(info), info.sr, model, config)  # streamed: one block in memory
    summary = summarise(results)
    return {
        "file": str(path),
        "sample_rate": info.sr,
        "duration_s": info.duration_s,
        **summary,
        "track_type_switches": stats.switch_times_s,
        "stats": {"windows": stats.windows, "inferences": stats.inferences, "skipped": stats.skipped, "silent": stats.silent},
        "timeline": [{"time_s": r.time_s, "family": r.family, "confidence": r.confidence, "track_type": r.track_type} for r in results],
    }


def check_dataset_dir(directory: Path) -> Path:
    """The folder-per-family directory, or InputError naming what is wrong."""
    d = Path(directory)
    if not d.is_dir():
        raise InputError(f"not a directory: {d} (expected one sub-folder per family: {' '.join(FAMILIES)})")
    if not any((d / f).is_dir() for f in FAMILIES):
        raise InputError(f"{d} has none of the family sub-folders ({' '.join(FAMILIES)})")
    return d


def evaluate_dir(directory: Path, model, *, max_files_per_class: int = 500, progress=None) -> dict:
    d = check_dataset_dir(directory)
    notes = [f"ignored {p.name}: not one of the family folders" for p in sorted(d.iterdir()) if p.name not in FAMILIES]
    n = len(FAMILIES)
    cm = np.zeros((n, n), int)
    skipped, silent = [], 0
    for label, fam in enumerate(FAMILIES):
        fd = d / fam
        if not fd.is_dir():
            continue
        files = sorted(p for p in fd.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)[:max_files_per_class]
        for f in files:
            try:
                info = probe_audio(f, min_duration_s=0.0)
                results, _ = classify_blocks(iter_mono(info), info.sr, model)
            except MuseError as e:
                skipped.append({"file": str(f), "error": str(e)})
                continue
            voiced = [r.probs for r in results if r.family is not None]
            if not voiced:
                silent += 1
                pred = (label + 1) % n  # no signal: counted as wrong, never as a lucky guess
            else:
                pred = int(np.argmax(np.mean(voiced, axis=0)))
            cm[label, pred] += 1
            if progress:
                progress()
    total = int(cm.sum())
    if total == 0:
        raise InputError(f"no readable audio in the family folders of {d} ({len(skipped)} files skipped)")
    per = {FAMILIES[i]: (float(cm[i, i] / cm[i].sum()) if cm[i].sum() else None) for i in range(n)}
    present = [v for v in per.values() if v is not None]
    dvt = (cm[0, 0] + cm[1:, 1:].sum()) / total
    return {
        "directory": str(d),
        "files": total,
        "skipped": skipped,
        "notes": notes,
        "accuracy": float(np.trace(cm) / total),
        "balanced_accuracy": float(np.mean(present)),
        "per_class_accuracy": per,
        "per_class_files": {FAMILIES[i]: int(cm[i].sum()) for i in range(n)},
        "drums_vs_tonal_accuracy": float(dvt),
        "confusion_matrix": {"labels": list(FAMILIES), "rows_true_cols_pred": cm.tolist()},
        "silent_files": silent,
        "backend": model.describe().as_dict(),
    }
