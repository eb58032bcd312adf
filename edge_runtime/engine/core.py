"""The engine: one audio callback and four workers, joined by pre-allocated ring buffers.

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

Fallbacks (seed §7.3), each counted in :class:`Counters` and shown:

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

import logging
import math
import queue
import time
from collections import deque
from dataclasses import asdict, dataclass

import numpy as np

from nomad_muse.engine.clock import TempoClock
from nomad_muse.engine.config import EngineConfig
from nomad_muse.engine.ring import BlockRing, recent_max
from nomad_muse.engine.synth import NoteEvent
from nomad_muse.engine.timing import TokenTimeline
from nomad_muse.errors import ParameterError
from nomad_muse.gm import DRUM_CHANNEL

log = logging.getLogger(__name__)

CPU_SHORT_LOAD = 0.7  # callback time / period above which the CPU counts as short


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


# ---------------------------------------------------------------------------------------------
class ClassifierWorker:
    """Input ring → streaming classifier → ``engine.track_type`` / ``family`` / ``confidence``."""

    name = "classifier"

    def __init__(self, engine: Engine, model, *, keep_results: bool = False, capture: bool = False) -> None:
        from nomad_muse.classifier.stream import ClassifierConfig, StreamingClassifier

        cfg = engine.cfg
        self.e = engine
        self.sc = StreamingClassifier(cfg.sample_rate, model, ClassifierConfig(
            hop_ms=cfg.classifier_hop_ms, vote_ms=cfg.classifier_vote_ms, max_infer_per_push=cfg.classifier_max_infer))
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


# ---------------------------------------------------------------------------------------------
class GeneratorWorker:
    """Keeps generated notes ``lookahead_beats`` ahead of the render position.

    Mode: ``cfg.mode`` if fixed; in ``auto``, the prompt's mode, or without a
    prompt the classifier's track type (tonal until it decides).  A new live
    prompt, or a change of track type in auto mode without a prompt, re-primes
    the model; the continuation then starts on the next bar line.
    """

    name = "generator"

    def __init__(self, engine: Engine, generator, *, prompt=None, render_pos=lambda: 0) -> None:
        self.e, self.gen = engine, generator
        self.render_pos = render_pos
        self.unit = engine.cfg.chunk
        self._rng = np.random.default_rng(engine.cfg.seed)
        from nomad_muse.generator.engine import SamplingConfig

        self.sampling = SamplingConfig(temperature=engine.cfg.temperature, top_p=engine.cfg.top_p, seed=engine.cfg.seed)
        self.prompt = prompt           # Score or None
        self._pending_prompt = None    # Score from MIDI in, waiting to be primed
        self.mode: str | None = None
        self.timeline: TokenTimeline | None = None
        self.anchor_beat = 0.0         # engine beat of the stream's first generated bar line
        self.horizon = 0.0             # stream beats covered so far
        self.events: list[NoteEvent] = []   # everything scheduled (offline keeps it for the MIDI file)
        self.render_queue: queue.SimpleQueue = queue.SimpleQueue()
        self.generated_notes = 0
        self.prompt_channels: set[int] = set()
        self.epoch = 0
        self._t = engine.timing(self.name)
        self._t_step = engine.timing("generator step")
        self._steps_seen = 0
        self._fallbacks_seen = 0

    # -- priming -----------------------------------------------------------------------------
    def _want_mode(self) -> str:
        cfg = self.e.cfg
        if cfg.mode != "auto":
            return cfg.mode
        if self.prompt is not None:
            return "drums" if len(self.prompt.drum_notes) > len(self.prompt.tonal_notes) else "tonal"
        return self.e.track_type or "tonal"

    def prime(self, at_beat: float) -> None:
        from nomad_muse.generator import vocab as V
        from nomad_muse.generator.keys import parse_key
        from nomad_muse.generator.midi_io import read_midi
        from nomad_muse.generator.session import FAMILY_PROGRAM, bundled_prompt, prompt_tail
        from nomad_muse.generator.tokenizer import require_stream

        mode = self._want_mode()
        score = self.prompt if self.prompt is not None else read_midi(bundled_prompt(mode))
        if self.prompt is not None and not (score.drum_notes if mode == "drums" else score.tonal_notes):
            score = read_midi(bundled_prompt(mode))  # the prompt has nothing in this mode
        stream = require_stream(score, mode)
        tokens = [t for t in stream.tokens if t != V.EOS]
        key = None
        if mode == "tonal":
            key = parse_key(self.e.cfg.key) if self.e.cfg.key else stream.key
            tokens[2] = V.key_token(key)
        tokens[3] = V.INDEX[f"TEMPO_{V.tempo_bin(self.e.clock.bpm)}"]
        tokens = prompt_tail(tokens) + [V.BAR]
        self.gen.prime(tokens, mode=mode, key=key)
        self.prompt_channels = {n.channel for n in score.notes}
        ch = next((c for c in range(16) if c != DRUM_CHANNEL and c not in self.prompt_channels), 0)
        self.timeline = TokenTimeline(tokens[:5], channel=ch, program=FAMILY_PROGRAM.get(stream.family, 0))
        self.timeline.feed([V.BAR])
        self.mode, self.key, self.family = mode, key, stream.family
        self.anchor_beat, self.horizon = float(at_beat), 0.0
        self.epoch += 1
        # the previous continuation stops where this one starts (its notes from there on are dropped)
        cut = self.e.clock.frame_at(at_beat)
        self.e.cut = (self.epoch, cut)
        self.events = [ev for ev in self.events if ev.start < cut]
        self.e.recent_notes = deque((n for n in self.e.recent_notes if n.event.start < cut), maxlen=256)
        self.e.counters.reprimes += 1

    def set_prompt(self, score) -> None:
        """A new prompt from MIDI in (another thread): primed at the next step."""
        self._pending_prompt = score

    # -- generation --------------------------------------------------------------------------
    def _need_until(self) -> float:
        return self.e.clock.beat_at(self.render_pos()) + self.e.cfg.lookahead_beats

    def step(self) -> bool:
        e = self.e
        now_beat = e.clock.beat_at(self.render_pos())
        if self._pending_prompt is not None:
            self.prompt, self._pending_prompt = self._pending_prompt, None
            self.prime(e.clock.next_bar(now_beat + 0.25))
        elif self.timeline is None or (e.cfg.mode == "auto" and self.prompt is None and e.track_type
                                       and e.track_type != self.mode):
            self.prime(e.clock.next_bar(now_beat + (0.25 if e.realtime else 0.0)) if self.timeline else
                       (e.clock.next_bar(now_beat + 0.25) if e.realtime else now_beat))
        did = False
        while self.anchor_beat + self.horizon < self._need_until() and not e.stop_requested:
            self._chunk()
            did = True
        return did

    def _chunk(self) -> None:
        e = self.e
        t0 = time.perf_counter()
        deadline_frame = e.clock.frame_at(self.anchor_beat + self.horizon)  # first sample this chunk may need
        toks = self.gen.next_chunk(self.sampling, self._rng, unit=self.unit)
        notes = self.timeline.feed(toks)
        self.horizon = max(self.horizon, self.timeline.horizon(self.gen.grammar.pos, self.unit))
        dt = time.perf_counter() - t0
        # budget: the time left between the request and the first sample the chunk covers
        budget_s = max(deadline_frame - self.render_pos(), 0) / e.cfg.sample_rate
        self._t.add(dt * 1000, budget_s * 1000 if e.realtime else self._offline_budget_ms())
        st = self.gen.stats
        for s in st.step_seconds[self._steps_seen:]:
            self._t_step.add(s * 1000, 20.0)
        self._steps_seen = len(st.step_seconds)
        if len(st.step_seconds) > 50_000:  # the generator keeps every step time: bound it
            del st.step_seconds[:-1000]
            self._steps_seen = len(st.step_seconds)
        if st.fallbacks != self._fallbacks_seen:
            e.counters.generator_low_confidence += st.fallbacks - self._fallbacks_seen
            self._fallbacks_seen = st.fallbacks
        limit = self.render_pos()
        late = False
        for n in notes:
            beat = self.anchor_beat + n.start
            start = e.clock.frame_at(beat)
            if start < limit:
                late = True
                continue
            end = max(e.clock.frame_at(beat + n.duration), start + 1)
            ev = NoteEvent(start, end, n.pitch, n.velocity, n.channel, n.program, self.epoch)
            self.events.append(ev)
            self.render_queue.put(ev)
            if e.midi_out_queue is not None:
                e.midi_out_queue.put(ev)
            e.recent_notes.append(PlayedNote(beat, n.duration, ev))
            self.generated_notes += 1
        if late and e.realtime:
            e.counters.generator_late += 1
            # re-anchor: skip the beats already gone, continue on the next whole beat ahead
            behind = e.clock.beat_at(limit) - (self.anchor_beat + self.horizon)
            if behind > 0:
                self.anchor_beat += math.ceil(behind)
            self.unit = "beat"
        if len(self.events) > 100_000:
            del self.events[:-10_000]

    def _offline_budget_ms(self) -> float:
        # offline: the chunk had the lookahead to be computed in (what live would have given it)
        return self.e.cfg.lookahead_beats * 60_000.0 / self.e.clock.bpm


# ---------------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------------
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


def check_channels(n: int) -> int:
    if n not in (1, 2):
        raise ParameterError(f"{n} audio channels: the engine takes mono or stereo")
    return n
