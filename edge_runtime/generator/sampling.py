"""Temperature and nucleus (top-p) sampling over masked logits (Holtzman et al. 2020)."""

from __future__ import annotations

import numpy as np


def masked_probs(logits: np.ndarray, mask: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax of ``logits / temperature`` restricted to ``mask`` (other tokens get 0)."""
    z = np.where(mask, logits.astype(np.float64) / max(temperature, 1e-4), -np.inf)
    z -= z.max()
    p = np.exp(z)
    return p / p.sum()


def sample(probs: np.ndarray, top_p: float, rng: np.random.Generator) -> int:
    """Draw from the smallest set of tokens whose probability reaches ``top_p``."""
    order = np.argsort(probs)[::-1]
    cum = np.cumsum(probs[order])
    # float sums may stop just short of top_p = 1: never go past the tokens that have mass
    k = min(int(np.searchsorted(cum, top_p)) + 1, int(np.count_nonzero(probs)))
    keep = order[:k]
    p = probs[keep] / probs[keep].sum()
    return int(keep[rng.choice(k, p=p)])
