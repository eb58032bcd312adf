"""What the on-device adapters share (``muse adapt classifier`` / ``muse adapt generator``).

Both adapters replace a shipped model's final linear layer ``logits = W0·e + b0``
(``e``: a feature the model exposes — the classifier's ``embedding`` output,
the generator's top GRU state) by a head ``(W, b)`` fitted on the user's own
files with numpy/scipy (no torch).  Common to both, and only here:

* **storage**: ``<data dir>/adapters/<module>-<model sha256[:16]>.npz`` holding
  ``W``, ``b`` (float32) and ``info`` (JSON), written atomically
  (:func:`nomad_muse.paths.atomic_output`); an adapter applies only to the
  exact model file it was fitted on (the hash tie), so a new model never runs
  an old head;
* **switch**: ``MUSE_NO_ADAPTER=1`` (what ``--no-adapter`` sets for ``muse
  demo``/``live``) turns every adapter off; :func:`reset` removes one;
* **recovering the shipped head** by least squares on (feature, logits) pairs
  the runtime itself produced (:func:`shipped_head`: exact up to float32
  rounding, needs no ONNX parser and reads the head of whatever backend ran);
* **the fit**: softmax regression with per-sample weights and an L2 penalty
  ``λ·‖(W, b) − (W0, b0)‖²`` toward the shipped head, by scipy L-BFGS
  (:func:`fit_softmax_head`), so classes the user's data lacks keep their
  shipped weights.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

NO_ADAPTER_ENV = "MUSE_NO_ADAPTER"


def model_sha256(path: Path) -> str:
    from nomad_muse.paths import sha256_file

    return sha256_file(path)


def adapter_path(module: str, model_path: Path) -> Path:
    """Where ``module``'s adapter for this exact model file lives (whether or not it exists)."""
    from nomad_muse.paths import data_dir

    return data_dir() / "adapters" / f"{module}-{model_sha256(model_path)[:16]}.npz"


def disabled() -> bool:
    """True when ``MUSE_NO_ADAPTER`` turns adapters off for this process."""
    return os.environ.get(NO_ADAPTER_ENV, "") not in ("", "0")


def save(module: str, model_path: Path, W: np.ndarray, b: np.ndarray, info: dict) -> Path:
    """Write the adapter atomically (an existing one stays intact on failure); returns its path."""
    from nomad_muse.paths import atomic_output

    out = adapter_path(module, model_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(out, what=f"{module} adapter") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, W=np.asarray(W, np.float32), b=np.asarray(b, np.float32), info=np.array(json.dumps(info)))
    return out


def load(module: str, model_path: Path) -> tuple[np.ndarray, np.ndarray, dict] | None:
    """(W, b, info) stored for this exact model file, or None (none stored, or MUSE_NO_ADAPTER set)."""
    if disabled():
        return None
    p = adapter_path(module, model_path)
    if not p.is_file():
        return None
    with np.load(p, allow_pickle=False) as z:
        return z["W"].astype(np.float64), z["b"].astype(np.float64), json.loads(str(z["info"]))


def summary(module: str, model_path: Path, keys: tuple[str, ...]) -> dict | None:
    """``{"file": …, <keys present in info>}`` for ``muse profile show``, or None when there is none."""
    p = adapter_path(module, model_path)
    if not p.is_file():
        return None
    with np.load(p, allow_pickle=False) as z:
        info = json.loads(str(z["info"]))
    return {"file": str(p), **{k: info[k] for k in keys if k in info}}


def reset(module: str, model_path: Path) -> bool:
    """Remove ``module``'s adapter for this model file; True if there was one."""
    p = adapter_path(module, model_path)
    if p.is_file():
        p.unlink()
        return True
    return False


def shipped_head(E: np.ndarray, L: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(W0, b0) with L = E·W0ᵀ + b0, by least squares (exact up to float32 rounding)."""
    A = np.hstack([E, np.ones((len(E), 1))])
    sol, *_ = np.linalg.lstsq(A, L, rcond=None)
    return sol[:-1].T, sol[-1]


def softmax_nll(E: np.ndarray, y: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-sample negative log-likelihood (nats) of labels ``y`` under ``softmax(E·Wᵀ + b)``."""
    Z = E @ W.T + b
    m = Z.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(Z - m).sum(axis=1))
    return lse - Z[np.arange(len(y)), y]


def fit_softmax_head(E: np.ndarray, y: np.ndarray, W0: np.ndarray, b0: np.ndarray, *, lam: float,
                     sample_weight: np.ndarray | None = None, maxiter: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """Softmax regression of ``y`` on ``E`` minimising ``Σ wᵢ·NLLᵢ + λ‖θ − θ0‖²`` (θ = (W, b)), from θ0 (scipy L-BFGS).

    ``sample_weight`` defaults to ``1/n`` each (mean NLL)."""
    from scipy.optimize import minimize

    k, d = W0.shape
    sw = np.full(len(y), 1.0 / len(y)) if sample_weight is None else np.asarray(sample_weight, np.float64)
    theta0 = np.concatenate([W0.ravel(), b0]).astype(np.float64)
    rows = np.arange(len(y))

    E32 = np.ascontiguousarray(E, np.float32)  # the products in float32 (2x faster; the sums stay float64)
    sw32 = sw.astype(np.float32)

    def f(theta):
        W, b = theta[: k * d].reshape(k, d).astype(np.float32), theta[k * d :].astype(np.float32)
        Z = E32 @ W.T + b
        Z -= Z.max(axis=1, keepdims=True)
        P = np.exp(Z)
        s = P.sum(axis=1, keepdims=True)
        P /= s
        loss = float(np.sum(sw * (np.log(s[:, 0].astype(np.float64)) - Z[rows, y])))
        P[rows, y] -= 1.0
        G = P * sw32[:, None]
        diff = theta - theta0
        grad = np.concatenate([(G.T @ E32).ravel(), G.sum(axis=0, dtype=np.float64)]).astype(np.float64) + 2 * lam * diff
        return loss + lam * float(diff @ diff), grad

    res = minimize(f, theta0, jac=True, method="L-BFGS-B", options={"maxiter": maxiter})
    return res.x[: k * d].reshape(k, d), res.x[k * d :]
