"""Accuracy gate: a variant (INT8, bf16, another runtime's FP32) must stay close to FP32.

Thresholds (issue 7):

* classifier — accuracy on the labelled validation set may drop at most
  ``max_drop_pts`` = 1 percentage point against FP32;
* generator — top-1 (argmax) agreement with FP32 on the validation token
  streams ≥ ``min_top1`` = 97 %, and next-token NLL (nats) may rise at most
  ``max_nll_increase`` = 2 % (relative).

The verdicts (:func:`classifier_gate`, :func:`generator_gate`) are pure
functions of logits and labels; :func:`classifier_logits` and
:func:`generator_logits` run a compiled model over the validation set to get
those logits (each stream from a reset state, state carried by the backend).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

HEADER_LEN = 5  # BOS TRACK KEY TEMPO METER: targets after the header are scored

MAX_DROP_PTS = 1.0
MIN_TOP1 = 0.97
MAX_NLL_INCREASE = 0.02


@dataclass(frozen=True)
class GateResult:
    """Verdict for one variant: ``passed``, the metrics behind it and, if rejected, why (one line)."""

    passed: bool
    metrics: dict = field(default_factory=dict)
    reason: str = ""


def classifier_gate(ref_logits: np.ndarray, logits: np.ndarray, labels: np.ndarray, *, max_drop_pts: float = MAX_DROP_PTS) -> GateResult:
    """Accuracy drop (percentage points) of ``logits`` against ``ref_logits`` on ``labels``.

    Parameters
    ----------
    ref_logits, logits : np.ndarray [shape=(n, classes)]
        FP32 reference and variant outputs on the same validation inputs.
    labels : np.ndarray [shape=(n,)]
        True class indices.
    """
    ref_logits, logits, labels = np.asarray(ref_logits), np.asarray(logits), np.asarray(labels)
    if ref_logits.shape != logits.shape or len(labels) != len(logits) or len(labels) == 0:
        return GateResult(False, {}, f"outputs do not match the reference (shapes {ref_logits.shape} vs {logits.shape}, {len(labels)} labels)")
    if not np.all(np.isfinite(logits)):
        return GateResult(False, {}, "non-finite outputs")
    acc_ref = float(np.mean(ref_logits.argmax(1) == labels))
    acc = float(np.mean(logits.argmax(1) == labels))
    drop = 100.0 * (acc_ref - acc)
    m = {
        "accuracy_fp32": round(acc_ref, 4),
        "accuracy": round(acc, 4),
        "drop_pts": round(drop, 2),
        "agreement": round(float(np.mean(ref_logits.argmax(1) == logits.argmax(1))), 4),
        "max_abs_logit_diff": float(np.max(np.abs(ref_logits - logits))),
        "samples": int(len(labels)),
    }
    if drop > max_drop_pts:
        return GateResult(False, m, f"accuracy {100 * acc:.1f}% vs FP32 {100 * acc_ref:.1f}%: drop {drop:.2f} pts > {max_drop_pts:g}")
    return GateResult(True, m)


def _nll(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    x = logits.astype(np.float64)
    m = x.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(x - m).sum(axis=1))
    return lse - x[np.arange(len(targets)), targets]


def generator_gate(
    ref_logits: np.ndarray,
    logits: np.ndarray,
    targets: np.ndarray,
    *,
    min_top1: float = MIN_TOP1,
    max_nll_increase: float = MAX_NLL_INCREASE,
) -> GateResult:
    """Top-1 agreement and relative NLL increase of ``logits`` against ``ref_logits``.

    Parameters
    ----------
    ref_logits, logits : np.ndarray [shape=(n, vocab)]
        Next-token logits at the scored positions, FP32 and variant.
    targets : np.ndarray [shape=(n,)]
        The true next tokens at those positions.
    """
    ref_logits, logits, targets = np.asarray(ref_logits), np.asarray(logits), np.asarray(targets)
    if ref_logits.shape != logits.shape or len(targets) != len(logits) or len(targets) == 0:
        return GateResult(False, {}, f"outputs do not match the reference (shapes {ref_logits.shape} vs {logits.shape})")
    if not np.all(np.isfinite(logits)):
        return GateResult(False, {}, "non-finite outputs")
    top1 = float(np.mean(ref_logits.argmax(1) == logits.argmax(1)))
    nll_ref = float(np.mean(_nll(ref_logits, targets)))
    nll = float(np.mean(_nll(logits, targets)))
    inc = (nll - nll_ref) / nll_ref if nll_ref > 0 else 0.0
    m = {
        "top1_agreement": round(top1, 4),
        "nll_fp32": round(nll_ref, 4),
        "nll": round(nll, 4),
        "nll_increase": round(inc, 4),
        "max_abs_logit_diff": float(np.max(np.abs(ref_logits - logits))),
        "positions": int(len(targets)),
    }
    why = []
    if top1 < min_top1:
        why.append(f"top-1 agreement {100 * top1:.1f}% < {100 * min_top1:g}%")
    if inc > max_nll_increase:
        why.append(f"NLL +{100 * inc:.2f}% > {100 * max_nll_increase:g}%")
    return GateResult(not why, m, "; ".join(why))


def classifier_logits(model, x: np.ndarray) -> np.ndarray:
    """Logits ``[n, classes]`` of a compiled classifier over inputs ``x [n,1,128,8]``."""
    buf = np.zeros((1,) + x.shape[1:], np.float32)
    out = []
    for xi in x:
        buf[0] = xi
        out.append(model.run({"mel": buf})["logits"][0])
    return np.stack(out)


def generator_logits(model, streams: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(logits at scored positions, targets) of a stateful compiled generator over token ``streams``.

    Each stream starts from a reset state; position ``i`` predicts token
    ``i+1`` and is scored from the last header token on (as the model card's NLL).
    """
    tok = np.zeros((1, 1), np.int64)
    out, tg = [], []
    for s in streams:
        model.reset_state()
        for i in range(len(s) - 1):
            tok[0, 0] = s[i]
            lo = model.run({"token": tok})["logits"][0]
            if i + 1 >= HEADER_LEN:
                out.append(lo)
                tg.append(int(s[i + 1]))
    return np.stack(out), np.array(tg, np.int64)
