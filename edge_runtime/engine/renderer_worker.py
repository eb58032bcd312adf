"""The renderer worker: generated notes → audio blocks in the output ring, a few blocks ahead of the callback."""

from __future__ import annotations

import queue
import time

import numpy as np

from nomad_muse.engine.core import Engine
from nomad_muse.engine.synth import NoteEvent


class RenderWorker:
    """Generated notes → audio blocks in the output ring, ``render_ahead_blocks`` ahead of the callback."""

    name = "renderer"

    def __init__(self, engine: Engine, renderer, *, backing: np.ndarray | None = None,
                 gen_horizon_frame=None) -> None:
        self.e, self.synth = engine, renderer
        self.pos = 0  # samples rendered
        self.backing = None if backing is None else np.asarray(backing, np.float32)
        self._pending: list[NoteEvent] = []
        self._gen_horizon_frame = gen_horizon_frame
        self._queue: queue.SimpleQueue | None = None
        self._t = engine.timing(self.name)

    def attach(self, q: queue.SimpleQueue) -> None:
        self._queue = q

    def step(self) -> bool:
        e, cfg = self.e, self.e.cfg
        bs = cfg.block_size
        did = False
        if e.realtime and e.out_ring.available() == 0 and self.pos < e.frames:
            self.pos = e.frames  # the callback underran: skip what is gone, stay aligned with the playhead
        while True:
            if e.realtime and self.pos >= e.frames + cfg.render_ahead_blocks * bs:
                break
            if not e.realtime and self._gen_horizon_frame is not None and self._gen_horizon_frame() < self.pos + bs:
                break  # offline: wait for the generator to cover this block
            slot = e.out_ring.write_slot()
            if slot is None:
                break
            t0 = time.perf_counter()
            if self._queue is not None:
                while True:
                    try:
                        self._pending.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
            if e.cut[0] > 0:
                self._pending = [ev for ev in self._pending if not e.cancelled(ev)]
            due = [ev for ev in self._pending if ev.start < self.pos + bs]
            if due:
                self._pending = [ev for ev in self._pending if ev.start >= self.pos + bs]
            self.synth.render(slot, self.pos, due)
            if cfg.render_gain != 1.0:
                slot *= cfg.render_gain
            if self.backing is not None and self.pos < self.backing.shape[0]:
                seg = self.backing[self.pos:self.pos + bs]
                slot[: seg.shape[0]] += seg
            e.out_ring.commit()
            self.pos += bs
            self._t.add((time.perf_counter() - t0) * 1000, cfg.period_s * 1000)
            did = True
        return did
