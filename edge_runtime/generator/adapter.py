"""On-device adaptation of the generator to the user's own MIDI (``muse adapt generator DIR``), without torch.

The shipped step model is embedding → 2-layer GRU → linear head, and its
logits are ``W0·h + b0`` with ``h`` the top GRU layer of the state it
returns (``h_out[-1]``; the backend keeps it as state ``h``, read with
``get_state()``).  An adapter is a replacement head ``(W, b)``:

* **data**: every ``.mid``/``.midi``/``.kar`` under DIR, tokenized like
  ``muse evaluate generator`` (one drum and one tonal stream per file, the
  first ``MAX_TOKENS_PER_STREAM`` tokens of each);
* **split by file**: files ordered by SHA-256 of their path relative to DIR,
  the first ``VALIDATION`` share (at least one) held out, the rest fitted —
  stable between runs, never one file on both sides;
* **features**: the shipped ONNX model run step by step on the runtime
  (state carried over each stream, as ``evaluate``), collecting ``h`` and the
  shipped logits at every scored position (after the 5-token header);
* **shipped head**: recovered exactly (float32 rounding) by least squares on
  (h, logits) pairs the runtime produced — no ONNX parser at run time and it
  reads the head of whichever backend ran (:func:`nomad_muse.adapters.shipped_head`);
* **fit**: softmax regression of the next token on ``h`` with an L2 penalty
  toward the shipped head, ``λ = L2_TOWARD_SHIPPED`` (scipy L-BFGS,
  :func:`nomad_muse.adapters.fit_softmax_head`), on at most
  ``MAX_FIT_POSITIONS`` training positions (a random share of every fitted
  file; the held-out NLLs on at most ``MAX_VALIDATION_POSITIONS``, a share of
  every held-out file), so memory is bounded whatever the folder's size;
* **keep**: only if the held-out files' NLL per token is lower with the
  adapted head than with the shipped one (both printed).

Stored as ``<data dir>/adapters/generator-<model sha256[:16]>.npz``
(:mod:`nomad_muse.adapters`): it applies only to the model file it was fitted
on.  :func:`with_adapter` wraps a loaded model so ``run`` returns
``W·h + b`` after the model call: every consumer of the logits (``generate``,
``evaluate generator``, ``demo``, ``live``, calibration's replay) gets it.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from nomad_muse import adapters
from nomad_muse.errors import InputError, MuseError

MODULE = "generator"
VALIDATION = 0.3
MAX_TOKENS_PER_STREAM = 1536
MAX_FIT_POSITIONS = 10_000
MAX_VALIDATION_POSITIONS = 50_000
PAIRS = {"fit": 4096, "validation": 2048}  # (h, logits) rows kept to recover / check the shipped head
L2_TOWARD_SHIPPED = 3e-3
MAX_ITER = 40
STATE_INPUT = "h"
SUMMARY_KEYS = ("created", "files", "positions", "held_out_nll_shipped", "held_out_nll_adapted")


@dataclass(frozen=True)
class Adapter:
    W: np.ndarray  # [vocab, hidden]
    b: np.ndarray  # [vocab]
    info: dict

    def logits(self, h: np.ndarray) -> np.ndarray:
        return h @ self.W.T + self.b


class AdaptedStepModel:
    """A loaded stateful generator model whose ``logits`` are the adapter's head on the top GRU state."""

    def __init__(self, model, adapter: Adapter):
        self.model, self.adapter = model, adapter
        self._Wt = np.ascontiguousarray(adapter.W.T, np.float32)
        self._b = adapter.b.astype(np.float32)

    def run(self, feeds):
        out = self.model.run(feeds)
        h = self.model.get_state()[STATE_INPUT]  # [layers, 1, hidden] after this step
        return {**out, "logits": h[-1] @ self._Wt + self._b}

    def __getattr__(self, name):
        return getattr(self.model, name)


def load_adapter(model_path: Path) -> Adapter | None:
    """The adapter stored for this exact model file, or None (none, or MUSE_NO_ADAPTER=1)."""
    got = adapters.load(MODULE, model_path)
    return Adapter(*got) if got is not None else None


def with_adapter(res, model_path: Path):
    """``res`` (a LoadResult) with the user's adapter for this exact file applied after each model call, if any."""
    ad = load_adapter(model_path)
    if ad is None or isinstance(res.model, AdaptedStepModel):
        return res
    return replace(res, model=AdaptedStepModel(res.model, ad))


def adapter_summary(model_path: Path) -> dict | None:
    """What ``muse profile show`` prints: file, when, files, held-out NLLs."""
    return adapters.summary(MODULE, model_path, SUMMARY_KEYS)


def reset(model_path: Path) -> bool:
    return adapters.reset(MODULE, model_path)


def midi_files(directory: Path) -> list[Path]:
    """The MIDI files under ``directory`` (sorted); InputError for a missing folder or fewer than 2 files."""
    from nomad_muse.generator.evaluate import MIDI_SUFFIXES

    d = Path(directory)
    if not d.is_dir():
        raise InputError(f"not a directory: {d} (point at a folder of your .mid/.midi files)")
    files = sorted(p for p in d.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES and p.is_file())
    if len(files) < 2:
        raise InputError(f"{d}: {len(files)} MIDI file(s); adaptation needs at least 2 (one to fit, one to check)")
    return files


def split_files(files: list[Path], root: Path, validation: float = VALIDATION) -> tuple[list[Path], list[Path]]:
    """(fit, held out): by file, ordered by SHA-256 of the path relative to ``root``; both non-empty for ≥ 2 files."""
    keyed = sorted(files, key=lambda f: hashlib.sha256(str(f.relative_to(root)).encode()).hexdigest())
    n_val = min(len(keyed) - 1, max(1, round(validation * len(keyed))))
    return sorted(keyed[n_val:]), sorted(keyed[:n_val])


def file_positions(path: Path, model, max_tokens: int = MAX_TOKENS_PER_STREAM, *,
                   style: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(h [n, hidden] float32, targets [n], shipped logits [n, vocab] float32) at a file's scored positions.

    Each stream starts from a reset state; position ``i`` (from the last header token on) predicts token ``i+1``.
    ``style``: the STYLE header token to give each stream (a model with style tokens; None: none)."""
    from nomad_muse.generator.midi_io import read_midi
    from nomad_muse.generator.tokenizer import header_len, score_streams, with_style

    H, T, L = [], [], []
    tok = np.zeros((1, 1), np.int64)
    for s in score_streams(read_midi(path)):
        toks = with_style(s.tokens, style)[: max_tokens + 1]
        first = header_len(toks)
        model.reset_state()
        for i, t in enumerate(toks[:-1]):
            tok[0, 0] = t
            lo = model.run({"token": tok})["logits"]
            if i + 1 >= first:
                H.append(model.get_state()[STATE_INPUT][-1, 0].copy())
                L.append(lo[0].copy())
                T.append(toks[i + 1])
    if not T:
        return np.zeros((0, 0), np.float32), np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
    return np.array(H, np.float32), np.array(T, np.int64), np.array(L, np.float32)


def per_position_nll(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    """NLL (nats) of each target under the given logits (the shipped model's own)."""
    z = logits.astype(np.float64)
    m = z.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(z - m).sum(axis=1))
    return lse - z[np.arange(len(y)), y]


def adapt(directory: Path, model, model_path: Path, *, progress=None, save: bool = True, seed: int = 0,
          style: str | None = None) -> dict:
    """Collect, fit, validate and (if it lowers the held-out NLL) store an adapter; returns the report.

    ``progress``: called with no argument per file read, and with a message when the fit starts.
    ``model``: the loaded shipped model (stateful, no adapter applied); ``style``: the STYLE header token
    for a model with style tokens (``any`` from the command), None for one without."""
    d = Path(directory)
    files = midi_files(d)
    fit_files, val_files = split_files(files, d)
    t0 = time.perf_counter()
    parts: dict[str, list] = {"fit": [], "validation": []}
    skipped = []
    rng = np.random.default_rng(seed)
    # memory stays bounded whatever the folder's size: each file keeps a random share of its positions
    cap = {"fit": max(64, -(-4 * MAX_FIT_POSITIONS // len(fit_files))),
           "validation": max(64, -(-MAX_VALIDATION_POSITIONS // len(val_files)))}
    pairs: dict[str, list] = {"fit": [], "validation": []}  # (h, shipped logits) rows for the head recovery / check
    for part, group in (("fit", fit_files), ("validation", val_files)):
        for f in group:
            try:
                H, y, L = file_positions(f, model, style=style)
            except MuseError as e:
                skipped.append({"file": str(f), "error": str(e)})
                H = None
            if progress:
                progress()
            if H is None or not len(y):
                continue
            have = sum(len(h) for h, _ in pairs[part])
            if have < PAIRS[part]:
                pairs[part].append((H[: PAIRS[part] - have], L[: PAIRS[part] - have]))
            if len(y) > cap[part]:
                idx = np.sort(rng.choice(len(y), size=cap[part], replace=False))
                H, y, L = H[idx], y[idx], L[idx]
            parts[part].append((f, H, y, per_position_nll(L, y)))
    t_collect = time.perf_counter() - t0
    if not parts["fit"] or not parts["validation"]:
        raise InputError(f"{d}: {len(parts['fit'])} file(s) to fit and {len(parts['validation'])} to check have notes "
                         f"({len(skipped)} unreadable); adaptation needs at least one of each")
    Hf = np.vstack([p[1] for p in parts["fit"]])
    yf = np.concatenate([p[2] for p in parts["fit"]])
    Hv = np.vstack([p[1] for p in parts["validation"]]).astype(np.float64)
    yv = np.concatenate([p[2] for p in parts["validation"]])
    # the shipped head, from the runtime's own (h, logits) pairs of the fitted files; checked on held-out pairs
    W0, b0 = adapters.shipped_head(np.vstack([h for h, _ in pairs["fit"]]).astype(np.float64),
                                   np.vstack([lo for _, lo in pairs["fit"]]).astype(np.float64))
    Hc, Lc = np.vstack([h for h, _ in pairs["validation"]]), np.vstack([lo for _, lo in pairs["validation"]])
    head_err = float(np.max(np.abs(Hc @ W0.T + b0 - Lc)))
    if len(yf) > MAX_FIT_POSITIONS:
        sub = np.sort(rng.choice(len(yf), size=MAX_FIT_POSITIONS, replace=False))
        Hf, yf = Hf[sub], yf[sub]
    if progress:
        progress(f"fitting the output layer on {len(yf)} positions")
    t1 = time.perf_counter()
    W, b = adapters.fit_softmax_head(Hf.astype(np.float64), yf, W0, b0, lam=L2_TOWARD_SHIPPED, maxiter=MAX_ITER)
    t_fit = time.perf_counter() - t1
    nll0 = float(np.mean(np.concatenate([p[3] for p in parts["validation"]])))
    nll1 = float(np.mean(adapters.softmax_nll(Hv, yv, W, b)))
    keep = nll1 < nll0
    info = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "directory": str(d.resolve()),
        "model_sha256": adapters.model_sha256(model_path),
        "files": {"fit": len(parts["fit"]), "validation": len(parts["validation"]), "skipped": len(skipped)},
        "positions": {"fit": int(len(yf)), "validation": int(len(yv))},
        "held_out_nll_shipped": nll0,
        "held_out_nll_adapted": nll1,
        "held_out_perplexity_shipped": math.exp(nll0),
        "held_out_perplexity_adapted": math.exp(nll1),
        "shipped_head_max_abs_error": head_err,
        "l2_toward_shipped": L2_TOWARD_SHIPPED,
        "validation_share": VALIDATION,
        "max_tokens_per_stream": MAX_TOKENS_PER_STREAM,
        "style": style,
        "validation_files": [str(p[0].relative_to(d)) for p in parts["validation"]],
    }
    kept_file = str(adapters.save(MODULE, model_path, W, b, info)) if keep and save else None
    return {**info, "kept": keep, "adapter_file": kept_file, "skipped": skipped,
            "seconds": time.perf_counter() - t0, "seconds_collect": t_collect, "seconds_fit": t_fit}
