"""The analyzer worker: mix ring → mix analyzer on a recent window → ``engine.report``; pauses while the CPU is short."""

from __future__ import annotations

import time

import numpy as np

from nomad_muse.engine.core import Engine


class AnalyzerWorker:
    """Mix ring → analyzer every ``analyzer_period_s`` of audio → ``engine.report`` (recent window).

    Two staggered analyzers cover the last ``analyzer_window_s`` seconds, so a
    report costs the same after an hour as after a minute; offline, a third
    one (``full=True``) sees the whole run for the final report.
    """

    name = "analyzer"

    def __init__(self, engine: Engine, *, target=None, full: bool = False) -> None:
        from nomad_muse.analyzer.engine import AnalyzerConfig

        cfg = engine.cfg
        self.e, self.target = engine, target
        self.acfg = AnalyzerConfig(n_fft=cfg.analyzer_fft_size)
        self._period_blocks = max(1, int(round(cfg.analyzer_period_s / cfg.period_s)))
        self._batch = np.zeros((self._period_blocks * cfg.block_size, cfg.channels), np.float32)
        self._n = 0
        self._win: list = [self._new()]
        self.full = self._new() if full else None
        self.updates = 0
        self._t = engine.timing(self.name)

    def _new(self):
        from nomad_muse.analyzer.engine import Analyzer

        return Analyzer(sr=self.e.cfg.sample_rate, channels=self.e.cfg.channels, config=self.acfg,
                        target=self.target, source="mix bus")

    def step(self) -> bool:
        e, bs = self.e, self.e.cfg.block_size
        did = False
        while True:
            blk = e.mix_ring.peek()
            if blk is None:
                break
            np.copyto(self._batch[self._n * bs:(self._n + 1) * bs], blk)
            e.mix_ring.release()
            self._n += 1
            did = True
            if self._n == self._period_blocks:
                self._n = 0
                if e.cpu_short():
                    e.counters.analyzer_paused += 1
                    continue
                self._update(self._batch)
        return did

    def _update(self, y: np.ndarray) -> None:
        t0 = time.perf_counter()
        for a in self._win:
            a.push(y)
        if self.full is not None:
            self.full.push(y)
        oldest = self._win[0]
        self.e.report = oldest.report()
        if oldest.duration_s >= self.e.cfg.analyzer_window_s:
            self._win.pop(0)
        if self._win[-1].duration_s >= self.e.cfg.analyzer_window_s / 2:
            self._win.append(self._new())
        self.updates += 1
        self._t.add((time.perf_counter() - t0) * 1000, self.e.cfg.analyzer_period_s * 1000)

    def finish(self) -> None:
        """Push the partial last period (offline end of input)."""
        if self._n:
            self._update(self._batch[: self._n * self.e.cfg.block_size].copy())
            self._n = 0

    def final_report(self):
        return self.full.report() if self.full is not None else self.e.report
