"""The generator worker: timed notes ``lookahead_beats`` ahead of the render position, re-primed on a new prompt or track type."""

from __future__ import annotations

import math
import queue
import time
from collections import deque

import numpy as np

from nomad_muse.engine.core import Engine, PlayedNote
from nomad_muse.engine.synth import NoteEvent
from nomad_muse.engine.timing import TokenTimeline
from nomad_muse.gm import DRUM_CHANNEL


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
        from nomad_muse.generator.prompt import prompt_mode

        cfg = self.e.cfg
        if cfg.mode != "auto":
            return cfg.mode
        if self.prompt is not None:
            return prompt_mode(self.prompt)
        return self.e.track_type or "tonal"

    def prime(self, at_beat: float) -> None:
        from nomad_muse.generator import vocab as V
        from nomad_muse.generator.keys import parse_key
        from nomad_muse.generator.midi_io import read_midi
        from nomad_muse.generator.prompt import FAMILY_PROGRAM, apply_style, bundled_prompt, prime, prompt_tokens

        mode = self._want_mode()
        score = self.prompt if self.prompt is not None else read_midi(bundled_prompt(mode))
        if self.prompt is not None and not (score.drum_notes if mode == "drums" else score.tonal_notes):
            score = read_midi(bundled_prompt(mode))  # the prompt has nothing in this mode
        p = prompt_tokens(score, mode, key=parse_key(self.e.cfg.key) if self.e.cfg.key else None,
                          tempo_bpm=self.e.clock.bpm)
        p, self.style, _ = apply_style(self.gen, p, self.e.cfg.style, from_score=self.prompt is not None)
        fed = prime(self.gen, p, on_bar=True)
        self.prompt_channels = {n.channel for n in score.notes}
        ch = next((c for c in range(16) if c != DRUM_CHANNEL and c not in self.prompt_channels), 0)
        self.timeline = TokenTimeline(fed[:5], channel=ch, program=FAMILY_PROGRAM.get(p.family, 0))
        self.timeline.feed([V.BAR])
        self.mode, self.key, self.family = p.mode, p.key, p.family
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
