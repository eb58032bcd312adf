"""The engine's tempo clock: beats ↔ samples, and a follower for incoming MIDI clock.

Beats are quarter notes; sample positions count from the start of the stream.
The mapping is piecewise linear: a tempo change at sample ``f`` keeps the beat
position continuous.  The current segment is one immutable tuple swapped in a
single assignment, so readers on other threads never see a torn state.
"""

from __future__ import annotations

import math
import time
from collections import deque

from nomad_muse.errors import ParameterError

TEMPO_RANGE_BPM = (20.0, 400.0)
CLOCK_PPQN = 24  # MIDI timing clock: 24 pulses per quarter note


class TempoClock:
    """Beat position of a sample stream at a tempo that may change.

    Parameters
    ----------
    sr : int
        Sample rate (Hz).
    bpm : float
        Initial tempo (beats per minute, 20–400).
    beats_per_bar : float
        Bar length in beats (4 for 4/4).
    """

    def __init__(self, sr: int, bpm: float, beats_per_bar: float = 4.0) -> None:
        self.sr = int(sr)
        self.beats_per_bar = float(beats_per_bar)
        self._seg = (0, 0.0, self._check(bpm))  # (frame0, beat0, bpm)

    @staticmethod
    def _check(bpm: float) -> float:
        lo, hi = TEMPO_RANGE_BPM
        if not (lo <= bpm <= hi) or not math.isfinite(bpm):
            raise ParameterError(f"tempo {bpm} BPM must be within {lo:g}–{hi:g} BPM")
        return float(bpm)

    @property
    def bpm(self) -> float:
        return self._seg[2]

    def samples_per_beat(self) -> float:
        return self.sr * 60.0 / self._seg[2]

    def beat_at(self, frame: float) -> float:
        """Beat position (quarter notes) of sample ``frame``."""
        f0, b0, bpm = self._seg
        return b0 + (frame - f0) * bpm / (60.0 * self.sr)

    def frame_at(self, beat: float) -> int:
        """Sample position of ``beat`` under the current tempo (rounded to the nearest sample)."""
        f0, b0, bpm = self._seg
        return int(round(f0 + (beat - b0) * 60.0 * self.sr / bpm))

    def set_tempo(self, bpm: float, at_frame: int) -> None:
        """Change the tempo from sample ``at_frame`` on (beat position stays continuous)."""
        bpm = self._check(bpm)
        self._seg = (int(at_frame), self.beat_at(at_frame), bpm)

    def next_bar(self, beat: float) -> float:
        """The first bar line at or after ``beat``."""
        return math.ceil(beat / self.beats_per_bar - 1e-9) * self.beats_per_bar


class MidiClockFollower:
    """Tempo from incoming MIDI timing clock (0xF8, 24 per quarter note).

    The tempo is the mean pulse interval over the last ``window`` pulses,
    leaving out intervals more than 50 % away from their median (a late or
    lost pulse).  The mean, not the median, because pulses arrive quantised
    to the audio server's period (26.7 or 32 ms for a 27.8 ms pulse at
    5.33 ms periods): the median would snap to one of them.  The clock
    changes only when the estimate moves by more than ``tolerance_bpm``.
    """

    def __init__(self, window: int = 48, tolerance_bpm: float = 0.5) -> None:
        self._t: deque[float] = deque(maxlen=window + 1)
        self.tolerance_bpm = tolerance_bpm
        self.bpm: float | None = None
        self.pulses = 0

    def pulse(self, t: float | None = None) -> float | None:
        """Record one clock pulse at ``t`` (seconds, default now); returns the tempo when it changed."""
        self._t.append(time.perf_counter() if t is None else t)
        self.pulses += 1
        if len(self._t) < 8:
            return None
        ts = list(self._t)
        d = [b - a for a, b in zip(ts, ts[1:])]
        med = sorted(d)[len(d) // 2]
        if med <= 0:
            return None
        good = [x for x in d if abs(x - med) <= 0.5 * med]
        bpm = 60.0 / (sum(good) / len(good) * CLOCK_PPQN)
        lo, hi = TEMPO_RANGE_BPM
        if not lo <= bpm <= hi:
            return None
        if self.bpm is None or abs(bpm - self.bpm) > self.tolerance_bpm:
            self.bpm = bpm
            return bpm
        return None

    def reset(self) -> None:
        self._t.clear()
