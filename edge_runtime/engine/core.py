"""The engine: one audio callback and its workers, joined by pre-allocated ring buffers.

::

    audio in ─► [in ring] ─► classifier worker ─► track type (one attribute)
                                                        │
    MIDI in ─► prompt ─────────────────────────► generator worker ─► timed notes ─► MIDI out
                                                        │
                                                   renderer worker ─► [out ring] ─► audio out
    audio in + rendered ─► [mix ring] ─► analyzer worker (every 0.5–2 s) ─► report / suggestions ─► UI

:meth:`Engine.process` is the audio callback.  It only copies between the
caller's buffers and pre-allocated rings, adds two blocks with ``out=``, bumps
integer counters and stores two floats: no allocation of buffers, no model,
no lock a worker can hold, no logging.  Every worker exposes ``step()`` (do
the work that is due, return whether it did any); live, each runs on its own
thread (:mod:`.live`); offline, :mod:`.offline` calls the steps in order
block by block, so both modes run the same code.

The workers live one per file: :mod:`.generator_worker`, :mod:`.renderer_worker`,
:mod:`.classifier_worker`, :mod:`.analyzer_worker`, MIDI in/out in :mod:`.midi`;
the counters and step timings in :mod:`.stats`.

Fallbacks (seed §7.3), each counted in :class:`~nomad_muse.engine.stats.Counters` and shown:

* generator late (a chunk's notes would start before the render position) →
  those notes are dropped (a rest), the stream re-anchors on the next beat
  ahead, and bar chunks become beat chunks (a shorter lookahead of work);
  a low-confidence chunk is replaced by the last valid one (the generator's
  own fallback, counted here too);
* classifier late (its backlog exceeds ``classifier_backlog_ms``) → the
  oldest audio is skipped and the last result stands; older pending windows
  beyond ``classifier_max_infer`` reuse the last result;
* analyzer → pauses (its audio is discarded) while the CPU is short: the
  callback's load is high, the renderer is about to underrun, or the
  classifier is behind.
"""

from __future__ import annotations

import queue
import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from nomad_muse.engine.clock import TempoClock
from nomad_muse.engine.config import EngineConfig
from nomad_muse.engine.ring import BlockRing, recent_max
from nomad_muse.engine.stats import Counters, Timing
from nomad_muse.engine.synth import NoteEvent
from nomad_muse.errors import ParameterError

CPU_SHORT_LOAD = 0.7  # callback time / period above which the CPU counts as short


@dataclass(frozen=True)
class PlayedNote:
    """A generated note as it was scheduled (beats on the engine clock, and samples)."""

    beat: float
    duration: float
    event: NoteEvent


# ---------------------------------------------------------------------------------------------
class Engine:
    """The pipeline's shared state, rings and callback; the workers hang off it.

    Parameters
    ----------
    cfg : EngineConfig
    realtime : bool
        Live (rings drop and count when full; workers never wait) or offline
        (the driver waits for the workers, nothing is dropped).
    """

    def __init__(self, cfg: EngineConfig, *, realtime: bool) -> None:
        self.cfg, self.realtime = cfg, realtime
        bs, ch = cfg.block_size, cfg.channels
        n = cfg.ring_blocks()
        self.in_ring = BlockRing(n, bs, ch)
        self.mix_ring = BlockRing(n, bs, ch)
        self.out_ring = BlockRing(cfg.render_ahead_blocks + 1, bs, ch)
        self._mix = np.zeros((bs, ch), np.float32)
        self.clock = TempoClock(cfg.sample_rate, cfg.tempo_bpm)
        self.counters = Counters()
        self.frames = 0               # samples through the callback (the playhead)
        self.last_cb_time = 0.0       # perf_counter() at the last callback start
        self.cb_load = np.zeros(2048, np.float64)  # callback time / period, ring of the last 2048
        self.cb_start = np.zeros(2048, np.float64)  # callback start times (perf_counter s), same ring
        self._cb_i = 0
        self._period = cfg.period_s
        self.track_type: str | None = None   # written by the classifier worker only
        self.family: str | None = None
        self.confidence = 0.0
        self.stop_requested = False
        self.workers: list = []
        self.timings: dict[str, Timing] = {"callback": Timing("callback")}
        self.midi_out_queue: queue.SimpleQueue | None = None  # set when a MIDI output is attached
        self.recent_notes: deque[PlayedNote] = deque(maxlen=256)  # for the dashboard's piano roll
        self.report = None            # latest analyzer report (windowed live)
        self.feed_classifier = True   # False when there is no classifier: the input ring stays idle
        # a re-prime cancels the previous generation's notes from ``cut_frame`` on: (epoch, cut_frame), one tuple
        self.cut: tuple[int, int] = (0, 0)
        self.status_line = ""

    # -- the audio callback (real-time) ----------------------------------------------------------
    def process(self, indata: np.ndarray, outdata: np.ndarray, frames: int, time_info, status) -> None:
        """sounddevice callback signature.  Real-time: copies and counters only."""
        t0 = time.perf_counter()
        self.last_cb_time = t0
        if status:
            self.counters.xruns += 1
        if frames != self.cfg.block_size:  # PortAudio keeps a fixed blocksize; never seen, still safe
            outdata.fill(0)
            self.counters.render_underruns += 1
            self.frames += frames
            return
        self.process_block(indata, outdata)
        dt = time.perf_counter() - t0
        load = dt / self._period
        self.cb_load[self._cb_i & 2047] = load
        self.cb_start[self._cb_i & 2047] = t0
        self._cb_i += 1
        if load > 1.0:
            self.counters.callback_overruns += 1

    def process_block(self, indata: np.ndarray, outdata: np.ndarray) -> None:
        """One block: input → classifier ring; rendered block → output; input + rendered → mix ring."""
        c = self.counters
        if self.feed_classifier and not self.in_ring.write(indata):
            c.in_ring_full += 1
        rendered = self.out_ring.peek()
        if rendered is None:
            outdata.fill(0)
            c.render_underruns += 1
            np.multiply(indata, self.cfg.input_gain, out=self._mix)
        else:
            np.copyto(outdata, rendered)
            np.multiply(indata, self.cfg.input_gain, out=self._mix)
            np.add(self._mix, rendered, out=self._mix)
            self.out_ring.release()
        if not self.mix_ring.write(self._mix):
            c.mix_ring_full += 1
        self.frames += self.cfg.block_size

    # -- shared helpers (workers) ----------------------------------------------------------------
    def cpu_short(self) -> bool:
        """The CPU is short: high callback load, the renderer nearly dry, or the classifier behind."""
        if not self.realtime:
            return False
        recent = recent_max(self.cb_load, written=self._cb_i, n=256)
        dry = self.out_ring.available() == 0 and self.frames > 0
        behind = self.in_ring.available() > self.in_ring.n_blocks // 2
        return recent > CPU_SHORT_LOAD or dry or behind

    def cancelled(self, ev: NoteEvent) -> bool:
        """True for a note of an older generation that starts at or after the last re-prime's cut."""
        epoch, cut = self.cut
        return ev.epoch < epoch and ev.start >= cut

    def timing(self, name: str) -> Timing:
        if name not in self.timings:  # live keeps the recent steps only (the dashboard reads them 4×/s)
            self.timings[name] = Timing(name, keep=4096 if self.realtime else 1_000_000)
        return self.timings[name]

    def snapshot(self) -> dict:
        """What the dashboard shows (read from another thread; values may be one update old)."""
        n = min(self._cb_i, 2048)
        return {
            "frames": self.frames, "seconds": self.frames / self.cfg.sample_rate,
            "beat": self.clock.beat_at(self.frames), "bpm": self.clock.bpm,
            "track_type": self.track_type, "family": self.family, "confidence": self.confidence,
            "counters": self.counters.as_dict(),
            "cb_load_max": float(self.cb_load[:n].max()) if n else 0.0,
            "timings": {k: t.summary() for k, t in list(self.timings.items()) if t.count},
        }


def check_channels(n: int) -> int:
    if n not in (1, 2):
        raise ParameterError(f"{n} audio channels: the engine takes mono or stereo")
    return n
