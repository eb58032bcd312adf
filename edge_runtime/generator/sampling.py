"""Temperature and nucleus (top-p) sampling over masked logits (Holtzman et al. 2020)."""

from __future__ import annotations

import numpy as np


def masked_probs(logits: np.ndarray, mask: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax of ``logits / temperature`` restricted to ``mask`` (other tokens get 0)."""
    z = np.where(mask, logits.astype(np.float64) / max(temperature, 1e-4), -np.inf)
    z -= z.max()
    p = np.exp(z, out=z)
    p /= p.sum()
    return p


def sample(probs: np.ndarray, top_p: float, rng: np.random.Generator) -> int:
    """Draw from the smallest set of tokens whose probability reaches ``top_p``.

    The draw is exactly ``Generator.choice(k, p=...)`` (one ``rng.random()``
    searched in the normalised CDF, as numpy does it; checked draw for draw in
    tests/test_sampling_speed.py) without ``choice``'s argument validation,
    which cost half of this function (~45 µs of ~80 µs, measured).
    """
    order = np.argsort(probs)[::-1]
    sorted_p = probs[order]
    cum = np.cumsum(sorted_p)
    # float sums may stop just short of top_p = 1: never go past the tokens that have mass
    k = min(int(np.searchsorted(cum, top_p)) + 1, int(np.count_nonzero(probs)))
    pk = sorted_p[:k]
    p = pk / pk.sum()
    cdf = np.cumsum(p)
    cdf /= cdf[-1]
    return int(order[int(cdf.searchsorted(rng.random(), side="right"))])
