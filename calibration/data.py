"""The shipped calibration/validation sets, as feed iterators for NNCF and the gate.

The sets live in ``models/calibration/`` (made by :mod:`calibration.make_calib_data`,
provenance in ``calibration.json``), so calibration works on a fresh install
with no corpus and no network.  Following ONNX Runtime's
``CalibrationDataReader`` protocol, each calibration set is an iterable of
feed dicts ``{input name: array}``; :func:`nncf_dataset` adapts one to
``nncf.Dataset``.

* classifier: model inputs ``[1, 1, 128, 8]`` float32 with family labels;
  ``calib`` from the fluidr3 *train* clips, ``val`` from the fluidr3
  *validation* clips (never the held-out timgm6mb test source).
* generator: token streams from the generator's *train* split (calib) and
  *validation* split (val).  NNCF needs the recurrent state too, so the
  calibration feeds ``{"token", "h"}`` are recorded by running the FP32 model
  over the streams (:func:`generator_calib_feeds`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nomad_muse.errors import InputError


def calib_dir() -> Path:
    """``models/calibration/`` inside the installed package."""
    from nomad_muse.paths import models_dir

    return models_dir() / "calibration"


def _load(name: str) -> dict[str, np.ndarray]:
    p = calib_dir() / name
    if not p.is_file():
        raise InputError(f"calibration set {p} is missing; reinstall the package (it ships models/calibration/*.npz)")
    try:
        with np.load(p, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise InputError(f"calibration set {p} is unreadable ({e}); reinstall the package") from None


def card() -> dict:
    """Provenance card of the shipped sets (``calibration.json``)."""
    p = calib_dir() / "calibration.json"
    return json.loads(p.read_text()) if p.is_file() else {}


@dataclass(frozen=True)
class ClassifierSets:
    """Calibration inputs ``[N,1,128,8]`` and a separate labelled validation set."""

    calib_x: np.ndarray
    val_x: np.ndarray
    val_y: np.ndarray

    def calib_feeds(self, limit: int = 300) -> list[dict[str, np.ndarray]]:
        return [{"mel": x[None]} for x in self.calib_x[:limit]]


def classifier_sets() -> ClassifierSets:
    d = _load("classifier.npz")
    return ClassifierSets(
        np.ascontiguousarray(d["calib_x"], np.float32),
        np.ascontiguousarray(d["val_x"], np.float32),
        d["val_y"].astype(np.int64),
    )


def _unpack(tokens: np.ndarray, offsets: np.ndarray) -> list[np.ndarray]:
    return [tokens[offsets[i] : offsets[i + 1]].astype(np.int64) for i in range(len(offsets) - 1)]


@dataclass(frozen=True)
class GeneratorSets:
    """Token streams (each starts with the 5 header tokens)."""

    calib: tuple[np.ndarray, ...]
    val: tuple[np.ndarray, ...]


def generator_sets() -> GeneratorSets:
    d = _load("generator.npz")
    return GeneratorSets(tuple(_unpack(d["calib_tokens"], d["calib_offsets"])), tuple(_unpack(d["val_tokens"], d["val_offsets"])))


def generator_calib_feeds(model, streams, *, n: int = 300) -> list[dict[str, np.ndarray]]:
    """``n`` feeds ``{"token": [1,1] int64, "h": [2,1,H] float32}`` with the real states.

    ``model`` is the FP32 generator loaded *without* backend-kept state (so
    ``h`` goes in and ``h_out`` comes out); steps are taken evenly over all
    streams so early, mid and late states are all represented.
    """
    h_spec = next(s for s in model.inputs if s.name == "h")
    total = sum(len(s) for s in streams)
    every = max(1, total // n)
    feeds, k = [], 0
    for s in streams:
        h = np.zeros(h_spec.shape, np.float32)
        for t in s:
            tok = np.array([[t]], np.int64)
            if k % every == 0 and len(feeds) < n:
                feeds.append({"token": tok, "h": h.copy()})
            h = model.run({"token": tok, "h": h})["h_out"]
            k += 1
    return feeds


def tokens_per_beat(streams, *, q: float = 95.0) -> float:
    """The ``q``-th percentile of tokens per beat over the bars of ``streams`` (a density the generator must keep up with)."""
    from nomad_muse.generator import vocab as V

    meters = {V.INDEX[f"METER_{m}"]: m for m in V.METERS}
    dens = []
    for s in streams:
        meter16, count = 16, 0
        for t in s[5:]:
            t = int(t)
            if t == V.BAR:
                if count:
                    dens.append(count / (meter16 / 4))
                count = 0
                continue
            if t in meters:
                meter16 = meters[t]
            count += 1
    return float(np.percentile(dens, q)) if dens else 8.0


def nncf_dataset(feeds) -> "object":
    """``nncf.Dataset`` over feed dicts (ORT ``CalibrationDataReader`` style: name → array)."""
    import nncf

    return nncf.Dataset(list(feeds))
