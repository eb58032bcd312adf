"""Generator tokens → timed notes, incrementally (one chunk at a time).

The generator writes bars of ``POS … PITCH VEL DUR`` tokens (see
:mod:`nomad_muse.generator.vocab`).  :class:`TokenTimeline` keeps only the
tokens of the current bar and decodes them with the tokenizer's own
:func:`~nomad_muse.generator.tokenizer.decode`, so a long live session
costs the same per chunk as a short one.  Times are in beats from the first
generated bar line (beat 0); the engine maps them onto its tempo clock.
"""

from __future__ import annotations

from dataclasses import replace

from nomad_muse.generator import vocab as V
from nomad_muse.generator.midi_io import Note
from nomad_muse.generator.tokenizer import HEADER_LEN, decode


class TokenTimeline:
    """Notes of a growing token stream, each returned once, with start times in beats.

    Parameters
    ----------
    header : list of int
        The stream's 5 header tokens (``BOS TRACK KEY TEMPO METER``).
    channel, program : int or None
        MIDI channel and GM program of tonal notes (drums always go to channel 10).
    """

    def __init__(self, header: list[int], *, channel: int | None = None, program: int | None = None) -> None:
        self.header = list(header[:HEADER_LEN])
        name = V.TOKENS[self.header[4]]
        self.bar_len16 = int(name[6:]) if name.startswith("METER_") else 16
        self.channel, self.program = channel, program
        self.bar_start = 0.0  # beats, start of the current bar
        self._bar: list[int] = []
        self._emitted = 0
        self._bars = 0

    @property
    def bar_end(self) -> float:
        """End of the current bar (beats)."""
        return self.bar_start + self.bar_len16 / 4

    def _flush(self) -> list[Note]:
        if not self._bar:
            return []
        head = self.header[:4] + [V.INDEX[f"METER_{self.bar_len16}"]]
        dec = decode(head + self._bar, channel=self.channel, program=self.program)
        new = dec.notes[self._emitted:]
        self._emitted = len(dec.notes)
        return [replace(n, start=n.start + self.bar_start) for n in new]

    def feed(self, tokens: list[int]) -> list[Note]:
        """Add tokens; returns the notes completed by them (start in beats from the first bar line)."""
        out: list[Note] = []
        for t in tokens:
            if t == V.BAR:
                if self._bar:
                    out += self._flush()
                    self.bar_start += self.bar_len16 / 4
                self._bar, self._emitted = [t], 0
                self._bars += 1
            elif self._bar:
                name = V.TOKENS[t]
                if name.startswith("METER_") and len(self._bar) == 1:
                    self.bar_len16 = int(name[6:])
                self._bar.append(t)
        return out + self._flush()

    def horizon(self, pos16: int, unit: str) -> float:
        """Beat before which no further note can appear, after a chunk that ended at grammar
        position ``pos16`` (16ths in the bar, -1 before the first POS) in chunks of ``unit``."""
        if unit == "bar":
            return self.bar_end
        beat_end16 = (max(pos16, 0) // 4 + 1) * 4
        return self.bar_start + min(beat_end16, self.bar_len16) / 4
