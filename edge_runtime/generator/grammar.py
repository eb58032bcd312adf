"""Which tokens may come next: the token grammar plus mode and key constraints.

Masks are boolean arrays over the vocabulary; the sampler never draws a
token outside the mask, so drum mode cannot emit a pitch, tonal mode with a
key cannot emit an out-of-scale pitch, and positions only move forward
within the bar.
"""

from __future__ import annotations

import numpy as np

from nomad_muse.generator import vocab as V
from nomad_muse.generator.keys import scale_pitch_classes

_POS = np.array(V.POS_IDS)
_PITCH_VALUES = np.array([int(V.TOKENS[i][6:]) for i in V.PITCH_IDS])


def _kinds() -> tuple[tuple[str, int], ...]:
    """Per token id: (kind, value) for :meth:`Grammar.feed` — the name parsed once, not per token."""
    out = []
    for name in V.TOKENS:
        if name == "BAR" or name == "EOS":
            out.append((name, 0))
        else:
            for prefix in ("METER_", "POS_", "MICRO_", "PITCH_", "DRUM_", "VEL_", "DUR_", "STYLE:"):
                if name.startswith(prefix):
                    rest = name[len(prefix) :]
                    out.append((prefix[:-1], int(rest) if prefix in ("METER_", "POS_") else 0))  # "STYLE:" -> "STYLE"
                    break
            else:
                out.append(("OTHER", 0))
    return tuple(out)


_KIND = _kinds()


class Grammar:
    """Tracks where a sequence is (bar, position, inside a note) and gives the next-token mask."""

    def __init__(self, mode: str, key: tuple[int, str] | None = None, *, constrained: bool = True):
        """``constrained=False`` keeps only the grammar (any pitch or drum hit may
        start a note, whatever the mode): used to *measure* how well the model
        alone respects mode and key."""
        self.mode = mode
        self.meter = 16
        self.pos = -1  # last POS in this bar, -1 before any
        self.state = "header"  # header | bar | pos | micro | note_vel | note_dur | after_note | end
        self.header_left = 5
        self.bars = 0
        self.last_note = -1  # token id of the last note started at this position
        n = V.VOCAB_SIZE
        self._note_start = np.zeros(n, bool)
        if not constrained:
            self._note_start[V.DRUM_IDS] = True
            self._note_start[V.PITCH_IDS] = True
        elif mode == "drums":
            self._note_start[V.DRUM_IDS] = True
        else:
            allowed = V.PITCH_IDS
            if key is not None:
                pcs = scale_pitch_classes(key)
                allowed = [i for i, p in zip(V.PITCH_IDS, _PITCH_VALUES) if p % 12 in pcs]
            self._note_start[allowed] = True
        self._vel = np.zeros(n, bool)
        self._vel[V.VEL_IDS] = True
        self._dur = np.zeros(n, bool)
        self._dur[V.DUR_IDS] = True
        self._micro = np.zeros(n, bool)
        self._micro[V.MICRO_IDS] = True

    def feed(self, tok: int) -> None:
        kind, value = _KIND[tok]
        if kind == "STYLE":  # the header's optional last token: context only
            return
        if self.state == "header":
            self.header_left -= 1
            if kind == "METER":
                self.meter = value
            if self.header_left <= 0:
                self.state = "bar"
            return
        if kind == "BAR":
            self.state, self.pos, self.bars, self.last_note = "bar", -1, self.bars + 1, -1
        elif kind == "METER":
            self.meter = value
        elif kind == "POS":
            self.pos, self.state, self.last_note = value, "pos", -1
        elif kind == "MICRO":
            self.state = "micro"
        elif kind == "PITCH":
            self.state, self.last_note = "note_vel_t", tok
        elif kind == "DRUM":
            self.state, self.last_note = "note_vel_d", tok
        elif kind == "VEL":
            self.state = "note_dur" if self.state == "note_vel_t" else "after_note"
        elif kind == "DUR":
            self.state = "after_note"
        elif kind == "EOS":
            self.state = "end"

    def feed_reference(self, tok: int) -> None:
        """:meth:`feed` as it parsed token names per call (kept to test the table against)."""
        name = V.TOKENS[tok]
        if name.startswith("STYLE:"):  # the header's optional last token: context only
            return
        if self.state == "header":
            self.header_left -= 1
            if name.startswith("METER_"):
                self.meter = int(name[6:])
            if self.header_left <= 0:
                self.state = "bar"
            return
        if name == "BAR":
            self.state, self.pos, self.bars, self.last_note = "bar", -1, self.bars + 1, -1
        elif name.startswith("METER_"):
            self.meter = int(name[6:])
        elif name.startswith("POS_"):
            self.pos, self.state, self.last_note = int(name[4:]), "pos", -1
        elif name.startswith("MICRO_"):
            self.state = "micro"
        elif name.startswith("PITCH_"):
            self.state, self.last_note = "note_vel_t", tok
        elif name.startswith("DRUM_"):
            self.state, self.last_note = "note_vel_d", tok
        elif name.startswith("VEL_"):
            self.state = "note_dur" if self.state == "note_vel_t" else "after_note"
        elif name.startswith("DUR_"):
            self.state = "after_note"
        elif name == "EOS":
            self.state = "end"

    def _later_notes(self) -> np.ndarray:
        """Note starts after the last one at this position: pitches ascend and drum
        classes follow their table order, as the tokenizer writes them (this also
        bounds the notes at one position)."""
        m = self._note_start.copy()
        m[: self.last_note + 1] = False
        return m

    _MASK_CACHE_MAX = 2048  # masks kept per grammar (252 B + 1 KB bias each); cleared when full

    def mask(self, *, allow_eos: bool = False) -> np.ndarray:
        """The next-token mask (read-only; one array per grammar state, built once and reused).

        The mask depends only on ``(state, pos, meter, last_note, allow_eos)``
        and on the constructor's fixed sets, so it is cached on that key: the
        per-token cost is a dict look-up instead of an allocation and up to
        five vector ORs (issue 19: masks precomputed per grammar state).
        """
        return self._cached(allow_eos)[0]

    def bias(self, width: int | None = None, *, allow_eos: bool = False) -> np.ndarray:
        """The mask as an additive float32 ``[1, width]`` bias: 0 where allowed, -inf elsewhere (read-only, cached).

        What the in-graph sampler adds to the logits before its softmax
        (:mod:`nomad_muse.generator.sampler_graph`); ``width`` is the model's
        logit count (default: the whole vocabulary; a model trained before
        the STYLE tokens has fewer logits, and the mask is cut to them)."""
        pair = self._cached(allow_eos)
        b = pair[1]
        if width is None or width == b.shape[1]:
            return b
        cut = pair[2].get(width)
        if cut is None:
            cut = pair[2][width] = np.ascontiguousarray(b[:, :width])
            cut.setflags(write=False)
        return cut

    def _cached(self, allow_eos: bool) -> tuple[np.ndarray, np.ndarray, dict]:
        k = (self.state, self.pos, self.meter, self.last_note, allow_eos)
        cache = self.__dict__.setdefault("_masks", {})
        pair = cache.get(k)
        if pair is None:
            if len(cache) >= self._MASK_CACHE_MAX:
                cache.clear()
            m = self._build_mask(allow_eos=allow_eos)
            m.setflags(write=False)
            b = np.where(m, np.float32(0.0), np.float32(-np.inf)).astype(np.float32).reshape(1, -1)
            b.setflags(write=False)
            pair = cache[k] = (m, b, {})
        return pair

    def _build_mask(self, *, allow_eos: bool) -> np.ndarray:
        m = np.zeros(V.VOCAB_SIZE, bool)
        s = self.state
        if s in ("bar", "after_note"):
            later = _POS[self.pos + 1 : self.meter]
            m[later] = True
            m[V.BAR] = True
            if s == "bar" and self.pos == -1:
                m[V.METER_IDS] = True
            if s == "after_note":
                m |= self._later_notes()
                m |= self._micro
            m[V.EOS] = allow_eos
        elif s == "pos":
            m |= self._note_start | self._micro
        elif s == "micro":
            m |= self._later_notes()
        elif s in ("note_vel_t", "note_vel_d"):
            m |= self._vel
        elif s == "note_dur":
            m |= self._dur
        if not m.any():  # nothing fits (e.g. header) — let the bar advance
            m[V.BAR] = True
        return m
