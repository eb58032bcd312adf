"""Dynamic temperature from playing intensity (seed §8.2): `--temperature auto`.

The prompt's last ``window_beats`` beats (quarter notes) are measured for their mean MIDI velocity (1–127,
MIDI 1.0 note-on velocity) and their note-onset density (onsets per beat). Each is scaled to [0, 1]
(velocity / 127; density / ``dense_onsets_per_beat``, clipped), and the two are averaged into an
intensity in [0, 1]. The temperature then goes linearly from ``low`` (quiet, sparse playing: stay close to
the model's most likely continuation) to ``high`` (loud, busy playing: more varied continuations), so the
user sets the bounds and the prompt chooses within them.
"""

from __future__ import annotations

from dataclasses import dataclass

from nomad_muse.errors import ParameterError
from nomad_muse.generator.midi_io import Score


@dataclass(frozen=True)
class AutoTemperature:
    low: float = 0.7
    high: float = 1.2
    window_beats: float = 8.0  # two 4/4 bars
    dense_onsets_per_beat: float = 4.0  # sixteenth notes on every step counts as fully dense

    def __post_init__(self) -> None:
        if not 0.05 <= self.low <= self.high <= 5.0:
            raise ParameterError(f"temperature bounds {self.low}–{self.high} must satisfy 0.05 ≤ low ≤ high ≤ 5")
        if self.window_beats <= 0 or self.dense_onsets_per_beat <= 0:
            raise ParameterError("window_beats and dense_onsets_per_beat must be positive")


def playing_intensity(score: Score | None, cfg: AutoTemperature = AutoTemperature()) -> float:
    """Intensity in [0, 1] of the prompt's last ``cfg.window_beats`` beats; 0.5 (neutral) with no notes."""
    if score is None or not score.notes:
        return 0.5
    end = max(n.start + n.duration for n in score.notes)  # where the prompt stops sounding
    t0 = max(0.0, end - cfg.window_beats)
    recent = [n for n in score.notes if n.start >= t0]
    span = max(end - t0, 1.0)  # at least one beat, so a lone chord is not "infinitely dense"
    vel = sum(n.velocity for n in recent) / (127.0 * len(recent))
    onsets = len({round(n.start, 4) for n in recent})
    dens = min(onsets / span / cfg.dense_onsets_per_beat, 1.0)
    return max(0.0, min(1.0, 0.5 * vel + 0.5 * dens))


def auto_temperature(score: Score | None, cfg: AutoTemperature = AutoTemperature()) -> float:
    """Temperature in [cfg.low, cfg.high], linear in :func:`playing_intensity`."""
    return cfg.low + playing_intensity(score, cfg) * (cfg.high - cfg.low)


def parse_temperature(value: str) -> float | None:
    """``'auto'`` → None (dynamic); otherwise a float; a bad value names itself."""
    if value.strip().lower() == "auto":
        return None
    try:
        return float(value)
    except ValueError:
        raise ParameterError(f"--temperature {value!r} must be a number or 'auto'") from None
