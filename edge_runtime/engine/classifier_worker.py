"""The classifier worker: input ring → streaming classifier → the engine's track type (and the capture worker)."""

from __future__ import annotations

import time

import numpy as np

from nomad_muse.engine.core import Engine


class ClassifierWorker:
    """Input ring → streaming classifier → ``engine.track_type`` / ``family`` / ``confidence``."""

    name = "classifier"

    def __init__(self, engine: Engine, model, *, keep_results: bool = False, capture: bool = False) -> None:
        from nomad_muse.classifier.stream import ClassifierConfig, StreamingClassifier

        cfg = engine.cfg
        self.e = engine
        self.sc = StreamingClassifier(cfg.sample_rate, model, ClassifierConfig(
            hop_ms=cfg.classifier_hop_ms, vote_ms=cfg.classifier_vote_ms, max_infer_per_push=cfg.classifier_max_infer,
            skip_stable=engine.realtime))  # live skips while stable; offline demo classifies like the file classifier
        self.results: list = [] if keep_results else None
        self.captured: list[np.ndarray] | None = [] if capture else None
        self._backlog_blocks = max(2, int(cfg.classifier_backlog_ms / 1000 / cfg.period_s))
        self._t = engine.timing(self.name)

    def step(self) -> bool:
        e, ring = self.e, self.e.in_ring
        avail = ring.available()
        if not avail:
            return False
        if e.realtime and avail > self._backlog_blocks:  # late: skip the oldest audio, keep the last result
            e.counters.classifier_skipped_blocks += ring.drop(avail - self._backlog_blocks)
            avail = ring.available()
        t0 = time.perf_counter()
        n = 0
        blk = ring.peek()
        while blk is not None and n < avail:
            x = blk.copy() if self.captured is not None else blk
            res = self.sc.push(x)
            if self.captured is not None:
                self.captured.append(x)
            ring.release()
            n += 1
            if res:
                last = res[-1]
                e.track_type = last.track_type
                if last.family is not None:
                    e.family, e.confidence = last.family, last.confidence
                if self.results is not None:
                    self.results.extend(res)
            blk = ring.peek()
        e.counters.classifier_reused = self.sc.stats.skipped
        e.counters.classifier_stable_skips = self.sc.stats.stable_skipped
        self._t.add((time.perf_counter() - t0) * 1000, n * e.cfg.period_s * 1000)
        return True


class CaptureWorker:
    """Keeps a copy of the input (tests, and runs without a classifier that still want the audio)."""

    name = "capture"

    def __init__(self, engine: Engine) -> None:
        self.e = engine
        self.captured: list[np.ndarray] = []

    def step(self) -> bool:
        did = False
        blk = self.e.in_ring.peek()
        while blk is not None:
            self.captured.append(blk.copy())
            self.e.in_ring.release()
            did = True
            blk = self.e.in_ring.peek()
        return did
