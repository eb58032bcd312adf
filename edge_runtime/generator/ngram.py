"""An n-gram baseline over generator tokens (numpy-free, JSON-serialisable).

Interpolated absolute discounting (Ney, Essen & Kneser 1994, eq. 9), with
discount D = 0.75, recursing down to an add-one unigram, so every token has
non-zero probability and NLLs are finite:

    P(w | h) = max(c(h,w) − D, 0) / c(h) + D · N₁₊(h·) / c(h) · P(w | h′)

where h′ drops the oldest token of h. It is fitted on the generator's own
training split and shipped beside the model so `muse evaluate generator`
can score any directory against it.
"""

from __future__ import annotations

import gzip
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from nomad_muse.errors import InputError

DISCOUNT = 0.75


class NGram:
    def __init__(self, order: int, vocab_size: int):
        self.order = order
        self.vocab_size = vocab_size
        # counts[k][context tuple of length k] = {token: count}
        self.counts: list[dict[tuple[int, ...], dict[int, int]]] = [defaultdict(lambda: defaultdict(int)) for _ in range(order)]

    def fit(self, streams: Iterable[Sequence[int]]) -> "NGram":
        for s in streams:
            s = list(s)
            for i in range(1, len(s)):
                for k in range(self.order):
                    if i - k < 0:
                        break
                    self.counts[k][tuple(s[i - k : i])][s[i]] += 1
        self._finish()
        return self

    def _finish(self) -> None:
        self._totals = [{h: sum(c.values()) for h, c in level.items()} for level in self.counts]
        self._types = [{h: len(c) for h, c in level.items()} for level in self.counts]
        self._n = self._totals[0].get((), 0)

    def prob(self, history: Sequence[int], token: int) -> float:
        p = (self.counts[0].get((), {}).get(token, 0) + 1) / (self._n + self.vocab_size)
        for k in range(1, self.order):
            if len(history) < k:
                break
            h = tuple(history[-k:])
            total = self._totals[k].get(h)
            if not total:
                continue
            c = self.counts[k][h].get(token, 0)
            p = max(c - DISCOUNT, 0) / total + DISCOUNT * self._types[k][h] / total * p
        return p

    def nll(self, tokens: Sequence[int], *, skip: int = 1) -> tuple[float, int]:
        """Summed negative log-likelihood (nats) of tokens[skip:] given their history, and the count."""
        total, n = 0.0, 0
        for i in range(max(skip, 1), len(tokens)):
            total -= math.log(self.prob(tokens[max(0, i - self.order + 1) : i], tokens[i]))
            n += 1
        return total, n

    # -- persistence ------------------------------------------------------
    def save(self, path: Path) -> Path:
        data = {
            "order": self.order,
            "vocab_size": self.vocab_size,
            "discount": DISCOUNT,
            "counts": [
                {",".join(map(str, h)): {str(t): c for t, c in cs.items()} for h, cs in level.items()} for level in self.counts
            ],
        }
        from nomad_muse.paths import atomic_output

        with atomic_output(path, what="n-gram model") as tmp, gzip.open(tmp, "wt") as fh:
            json.dump(data, fh, separators=(",", ":"))
        return path

    @classmethod
    def load(cls, path: Path) -> "NGram":
        try:
            with gzip.open(path, "rt") as fh:
                data = json.load(fh)
        except (OSError, ValueError) as e:
            raise InputError(f"cannot read n-gram baseline {path}: {e}") from e
        m = cls(int(data["order"]), int(data["vocab_size"]))
        for k, level in enumerate(data["counts"]):
            for h, cs in level.items():
                key = tuple(int(x) for x in h.split(",")) if h else ()
                m.counts[k][key] = {int(t): int(c) for t, c in cs.items()}
        m._finish()
        return m
