"""Temperature and nucleus (top-p) sampling over masked logits (Holtzman et al. 2020)."""

from __future__ import annotations

from bisect import bisect_left, bisect_right

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
    return sample_u(probs, top_p, rng.random())


def sample_u(probs: np.ndarray, top_p: float, u: float) -> int:
    """:func:`sample` with its one uniform draw ``u`` in [0, 1) given."""
    order = np.argsort(probs)[::-1]
    sorted_p = probs[order]
    cum = np.cumsum(sorted_p)
    # float sums may stop just short of top_p = 1: never go past the tokens that have mass
    k = min(int(np.searchsorted(cum, top_p)) + 1, int(np.count_nonzero(probs)))
    pk = sorted_p[:k]
    p = pk / pk.sum()
    cdf = np.cumsum(p)
    cdf /= cdf[-1]
    return int(order[int(cdf.searchsorted(u, side="right"))])


def sample_sorted(cum: list[float], ids, top_p: float, u: float) -> tuple[int, float] | None:
    """The nucleus draw of :func:`sample` over an already sorted head of the distribution.

    ``cum`` is the running sum of the largest probabilities of the masked,
    tempered softmax in descending order (``itertools.accumulate`` of the
    in-graph sampler's head, :mod:`nomad_muse.generator.sampler_graph`) and
    ``ids`` their token ids; ``u`` is the one ``rng.random()`` :func:`sample`
    would draw.  The same rules as :func:`sample`: keep the smallest prefix
    whose cumulative probability reaches ``top_p`` (``searchsorted`` left),
    then the first kept token whose cumulative probability exceeds
    ``u`` × the kept mass (``searchsorted(side="right")`` in the normalised
    CDF).  Returns ``(token, top probability)``, or None when the nucleus is
    wider than the head or runs into tokens without mass (``top_p`` ≈ 1: the
    reference caps the nucleus at the non-zero tokens) — the caller then
    samples the full distribution with the same ``u``.  Two ``bisect`` calls
    on ≤ 32 floats: cheaper than a single numpy call at this size.
    """
    n = len(cum)
    if not n or not cum[-1] > 0.0:  # NaN (a broken model) or no mass: the reference path decides and says so
        return None
    k = bisect_left(cum, top_p) + 1
    if k > n:
        return None  # top_p not reached within the head
    if k > 1 and cum[k - 1] <= cum[k - 2]:
        return None  # the k-th token has no mass: the reference's count_nonzero cap applies
    j = bisect_right(cum, u * cum[k - 1], 0, k)
    return int(ids[j if j < k else k - 1]), cum[0]
