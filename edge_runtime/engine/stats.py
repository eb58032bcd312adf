"""What the engine counts: fallbacks and misses (:class:`Counters`), and each module's step times (:class:`Timing`)."""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass

import numpy as np


@dataclass
class Counters:
    """Everything that went wrong, counted (live and offline)."""

    xruns: int = 0                    # the audio server flagged input overflow / output underflow
    callback_overruns: int = 0        # the callback itself took longer than one period
    render_underruns: int = 0         # no rendered block ready: silence played (deadline miss)
    generator_late: int = 0           # chunks that came too late: rest + re-anchor (fallback)
    generator_low_confidence: int = 0  # chunks replaced by the last valid one (fallback)
    classifier_skipped_blocks: int = 0  # audio blocks skipped because the classifier was behind (fallback)
    classifier_reused: int = 0        # windows that reused the last result under overload (fallback)
    classifier_stable_skips: int = 0  # windows that reused the last result: type stable, signal unchanged (no model call; not a fallback)
    in_ring_full: int = 0             # input blocks the classifier ring could not take
    analyzer_paused: int = 0          # analyzer updates skipped while the CPU was short (fallback)
    mix_ring_full: int = 0            # mix blocks the analyzer ring could not take
    midi_in_messages: int = 0
    prompt_notes: int = 0
    reprimes: int = 0
    midi_out_sent: int = 0
    midi_out_late: int = 0            # MIDI events sent more than one period after their time

    @property
    def deadline_misses(self) -> int:
        return self.callback_overruns + self.render_underruns

    @property
    def fallbacks(self) -> int:
        return (self.generator_late + self.generator_low_confidence + self.classifier_skipped_blocks
                + self.classifier_reused + self.analyzer_paused)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["deadline_misses"] = self.deadline_misses
        d["fallbacks"] = self.fallbacks
        return d


class Timing:
    """Wall time of one module's steps (ms) against its real-time budget."""

    def __init__(self, name: str, keep: int = 100_000) -> None:
        self.name = name
        self.ms: deque[float] = deque(maxlen=keep)
        self.budget_ms: deque[float] = deque(maxlen=keep)
        self.count = 0
        self.misses = 0

    def add(self, ms: float, budget_ms: float) -> None:
        self.ms.append(ms)
        self.budget_ms.append(budget_ms)
        self.count += 1
        if ms > budget_ms:
            self.misses += 1

    def _arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the recent values; safe while the owning worker keeps appending."""
        for _ in range(5):
            try:
                a, b = np.array(self.ms), np.array(self.budget_ms)
                break
            except RuntimeError:  # deque mutated during iteration: try again
                continue
        else:
            return np.zeros(1), np.ones(1)
        n = min(a.size, b.size)
        return (a[:n], b[:n]) if n else (np.zeros(1), np.ones(1))

    def summary(self) -> dict:
        a, b = self._arrays()
        return {"module": self.name, "calls": self.count, "p50_ms": float(np.median(a)),
                "p99_ms": float(np.percentile(a, 99)), "max_ms": float(a.max()),
                "budget_ms": float(np.median(b)), "misses": self.misses,
                "worst_share": float(np.max(a / np.maximum(b, 1e-9))) if self.count else 0.0}
