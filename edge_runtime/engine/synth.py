"""The built-in renderer: a light synth in numpy (drum one-shots and simple tonal voices),
so the default needs no soundfont; FluidSynth with a GM soundfont when it is installed.

Both renderers take :class:`NoteEvent` objects (start and end in samples) and
fill stereo float32 blocks in order; they run on the renderer worker, never in
the audio callback.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import signal

from nomad_muse.errors import ParameterError
from nomad_muse.gm import DRUM_CHANNEL, DRUM_MAP
from nomad_muse.settings import check, rule

log = logging.getLogger(__name__)

SOUNDFONT_PATHS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
    "/usr/share/soundfonts/default.sf2",
)


@dataclass(frozen=True)
class NoteEvent:
    """One note on the engine's sample timeline.

    start, end : int
        Note-on and note-off positions (samples from the stream start), end > start.
    pitch : int
        MIDI key 0–127.  velocity : int 1–127.  channel : int 0–15 (9 = GM drums).
    program : int
        GM program (0-based) of the channel.
    epoch : int
        Generation the note belongs to; a re-prime starts a new one and cancels the old one's future notes.
    """

    start: int
    end: int
    pitch: int
    velocity: int
    channel: int
    program: int = 0
    epoch: int = 0


def _drum_kit(sr: int, seed: int = 7) -> dict[str, np.ndarray]:
    """One-shot samples (mono float32, peak ≈ 1) for the generator's 12 drum classes, made once per rate."""
    rng = np.random.default_rng(seed)

    def t(sec):
        return np.arange(int(sec * sr)) / sr

    def hp(x, hz):
        return signal.sosfilt(signal.butter(2, min(hz, 0.45 * sr), "highpass", fs=sr, output="sos"), x)

    def bp(x, lo, hi):
        return signal.sosfilt(signal.butter(2, [lo, min(hi, 0.45 * sr)], "bandpass", fs=sr, output="sos"), x)

    def tom(base, sec=0.35):
        x = t(sec)
        ph = 2 * np.pi * (base * x + base * 0.5 * 0.05 * (1 - np.exp(-x / 0.05)))
        return np.sin(ph) * np.exp(-x / 0.12)

    x = t(0.45)
    kick = np.sin(2 * np.pi * (48 * x + 100 * 0.03 * (1 - np.exp(-x / 0.03)))) * np.exp(-x / 0.16)
    x = t(0.3)
    snare = 0.6 * np.sin(2 * np.pi * 190 * x) * np.exp(-x / 0.06) + bp(rng.standard_normal(x.size), 1200, 9000) * np.exp(-x / 0.09)
    x = t(0.12)
    clap = bp(rng.standard_normal(x.size), 900, 5000) * (np.exp(-x / 0.03) + 0.5 * np.exp(-np.maximum(x - 0.02, 0) / 0.02) * (x > 0.02))
    hat_noise = hp(rng.standard_normal(int(1.6 * sr)), 7000)
    kit = {
        "kick": kick,
        "snare": snare,
        "rim_clap": clap,
        "closed_hat": hat_noise[: int(0.09 * sr)] * np.exp(-t(0.09) / 0.025),
        "pedal_hat": hat_noise[: int(0.06 * sr)] * np.exp(-t(0.06) / 0.015),
        "open_hat": hat_noise[: int(0.45 * sr)] * np.exp(-t(0.45) / 0.15),
        "low_tom": tom(95),
        "mid_tom": tom(135),
        "high_tom": tom(185),
        "crash": hp(rng.standard_normal(int(1.6 * sr)), 4000) * np.exp(-t(1.6) / 0.5),
        "ride": (hp(rng.standard_normal(int(1.0 * sr)), 6000) * 0.6 + 0.3 * np.sin(2 * np.pi * 3100 * t(1.0))) * np.exp(-t(1.0) / 0.35),
        "other_perc": np.sin(2 * np.pi * 820 * t(0.12)) * np.exp(-t(0.12) / 0.03),
    }
    gains = {"kick": 1.0, "snare": 0.8, "rim_clap": 0.6, "closed_hat": 0.35, "pedal_hat": 0.3, "open_hat": 0.35,
             "low_tom": 0.8, "mid_tom": 0.8, "high_tom": 0.8, "crash": 0.35, "ride": 0.3, "other_perc": 0.5}
    out = {}
    for k, v in kit.items():
        v = v / max(float(np.max(np.abs(v))), 1e-9) * gains[k]
        fade = min(64, v.size)
        v[-fade:] *= np.linspace(1, 0, fade)  # no click at the end
        out[k] = v.astype(np.float32)
    return out


#: tonal timbre per GM program range: harmonic amplitudes
def _harmonics(program: int) -> tuple[float, ...]:
    if 32 <= program <= 39:  # bass: strong fundamental
        return (1.0, 0.35, 0.1)
    if 16 <= program <= 23:  # organ: drawbar-like
        return (1.0, 0.6, 0.0, 0.35, 0.0, 0.2)
    if 80 <= program <= 95:  # synth: saw-ish
        return tuple(0.7 / k for k in range(1, 8))
    return (1.0, 0.45, 0.2, 0.1)  # piano and everything else: a soft plucked tone


class NumpySynth:
    """The default renderer: drum one-shots and additive tonal voices, all in numpy.

    Parameters
    ----------
    sr : int
        Sample rate (Hz).
    max_voices : int
        Voices sounding at once; the oldest is stolen beyond this.
    gain : float
        Output gain (linear) applied to every voice.
    """

    name = "builtin"

    def __init__(self, sr: int, *, max_voices: int = 32, gain: float = 0.35) -> None:
        if not 8000 <= sr <= 192000:
            raise ParameterError(f"sr={sr} must be within 8000–192000 Hz")
        self.sr, self.max_voices, self.gain = int(sr), int(max_voices), float(gain)
        self.kit = _drum_kit(self.sr)
        self._release = int(0.08 * sr)
        self._attack = max(1, int(0.004 * sr))
        self._voices: list[NoteEvent] = []
        self.stolen = 0

    def _tonal(self, ev: NoteEvent, a: int, b: int) -> np.ndarray:
        """Samples [a, b) (relative to note start) of a tonal note."""
        n = np.arange(a, b, dtype=np.float64)
        f = 440.0 * 2 ** ((ev.pitch - 69) / 12)
        x = np.zeros(b - a)
        for k, amp in enumerate(_harmonics(ev.program), 1):
            if amp and f * k < 0.45 * self.sr:
                x += amp * np.sin(2 * np.pi * f * k * n / self.sr)
        gate = ev.end - ev.start
        env = np.minimum(n / self._attack, 1.0) * (0.35 + 0.65 * np.exp(-n / (0.35 * self.sr)))
        rel = n >= gate
        env[rel] *= np.maximum(0.0, 1.0 - (n[rel] - gate) / self._release)
        return x * env * 0.25

    def voice_len(self, ev: NoteEvent) -> int:
        if ev.channel == DRUM_CHANNEL:
            return self.kit[DRUM_MAP[ev.pitch]].size
        return ev.end - ev.start + self._release

    def render(self, out: np.ndarray, start: int, events: list[NoteEvent]) -> None:
        """Fill ``out`` ``(n, channels)`` with the block that starts at sample ``start``.

        ``events`` are new notes (start within or before this block); earlier
        notes keep sounding from the voice list."""
        n = out.shape[0]
        out[:] = 0.0
        for ev in events:
            self._voices.append(ev)
        if len(self._voices) > self.max_voices:
            self.stolen += len(self._voices) - self.max_voices
            self._voices = self._voices[-self.max_voices:]
        mono = np.zeros(n)
        keep = []
        for ev in self._voices:
            a = max(start - ev.start, 0)           # position in the voice at block start
            off = max(ev.start - start, 0)          # where in the block the voice starts
            if off >= n:
                keep.append(ev)
                continue
            length = self.voice_len(ev)
            b = min(length, a + n - off)
            if b > a:
                vel = (ev.velocity / 127.0) ** 1.5
                if ev.channel == DRUM_CHANNEL:
                    mono[off:off + b - a] += vel * self.kit[DRUM_MAP[ev.pitch]][a:b]
                else:
                    mono[off:off + b - a] += vel * self._tonal(ev, a, b)
            if b < length:
                keep.append(ev)
        self._voices = keep
        out += (self.gain * mono)[:, None]

    def reset(self) -> None:
        self._voices = []


class FluidSynthRenderer:
    """FluidSynth (pyfluidsynth + a GM soundfont) behind the same ``render`` interface."""

    name = "fluidsynth"

    def __init__(self, sr: int, soundfont: str | Path, *, gain: float = 0.5) -> None:
        import contextlib
        import io

        # pyfluidsynth prints "'fluidsynth' was found at ..." on stdout when $CI is set;
        # stdout carries our --json output and stderr our one-line errors, so the chatter is dropped.
        with contextlib.redirect_stdout(io.StringIO()):
            import fluidsynth  # optional: `pip install pyfluidsynth` plus the system libfluidsynth

        self.sr = int(sr)
        self.fs = fluidsynth.Synth(samplerate=float(sr), gain=gain)
        self.sfid = self.fs.sfload(str(soundfont))
        if self.sfid < 0:
            raise ParameterError(f"FluidSynth could not load the soundfont {soundfont}")
        self._pending: list[tuple[int, int, NoteEvent]] = []  # (frame, 1 on / 0 off, event)
        self._programs: dict[int, int] = {}

    def _seg(self, out: np.ndarray, a: int, b: int) -> None:
        if b > a:
            s = np.asarray(self.fs.get_samples(b - a), dtype=np.float32).reshape(-1, 2)[: b - a] / 32768.0
            if out.shape[1] == 1:
                out[a:b, 0] = s.mean(axis=1)  # a mono engine gets the sum of FluidSynth's stereo pair
            else:
                out[a:b, :2] = s

    def render(self, out: np.ndarray, start: int, events: list[NoteEvent]) -> None:
        n = out.shape[0]
        for ev in events:
            self._pending.append((ev.start, 1, ev))
            self._pending.append((ev.end, 0, ev))
        self._pending.sort(key=lambda p: (p[0], p[1]))
        pos = 0
        while self._pending and self._pending[0][0] < start + n:
            frame, on, ev = self._pending.pop(0)
            at = min(max(frame - start, 0), n)
            self._seg(out, pos, at)
            pos = at
            if on:
                if ev.channel != DRUM_CHANNEL and self._programs.get(ev.channel) != ev.program:
                    self.fs.program_select(ev.channel, self.sfid, 0, ev.program)
                    self._programs[ev.channel] = ev.program
                elif ev.channel == DRUM_CHANNEL and DRUM_CHANNEL not in self._programs:
                    self.fs.program_select(DRUM_CHANNEL, self.sfid, 128, 0)
                    self._programs[DRUM_CHANNEL] = 0
                self.fs.noteon(ev.channel, ev.pitch, ev.velocity)
            else:
                self.fs.noteoff(ev.channel, ev.pitch)
        self._seg(out, pos, n)

    def reset(self) -> None:
        self._pending = []


def find_soundfont() -> Path | None:
    for p in SOUNDFONT_PATHS:
        if Path(p).is_file():
            return Path(p)
    return None


def make_renderer(kind: str, sr: int):
    """``builtin``, ``fluidsynth`` (error if unavailable) or ``auto`` (FluidSynth when installed, else builtin)."""
    check("renderer", kind, rule("renderer"))
    if kind in ("auto", "fluidsynth"):
        sf = find_soundfont()
        try:
            if sf is None:
                raise ImportError("no GM soundfont found (apt install fluid-soundfont-gm or timgm6mb-soundfont)")
            return FluidSynthRenderer(sr, sf)
        except (ImportError, OSError) as e:
            if kind == "fluidsynth":
                raise ParameterError(f"renderer='fluidsynth' is not available here: {e}; install pyfluidsynth, "
                                     "libfluidsynth3 and a GM soundfont, or use renderer='builtin'", field="renderer") from None
            log.info("FluidSynth not available (%s); using the built-in synth", e)
    return NumpySynth(sr)
