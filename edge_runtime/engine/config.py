"""Engine configuration: frozen, built from the machine profile's tuned sizes plus command-line flags."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from nomad_muse.errors import ParameterError

#: interpreter thread switch interval the engine sets (s); measured in docs/engine.md
SWITCH_INTERVAL_S = 0.0005


@dataclass(frozen=True)
class EngineConfig:
    """Everything the engine needs to run, in one value.

    Attributes
    ----------
    sample_rate : int
        Hz.  Live: the audio server's rate wins (a JACK server runs at one rate).
    block_size : int
        Samples per audio callback (64–1024); ``block_size / sample_rate`` is the period.
    channels : int
        Audio channels in and out (1 or 2).
    tempo_bpm : float
        Internal clock tempo (BPM) until a MIDI clock or a prompt says otherwise.
    lookahead_beats : float
        How far (beats) the generator runs ahead of the render position.
    chunk : str
        Generator request size, ``"beat"`` or ``"bar"``.
    classifier_hop_ms, classifier_vote_ms : float
        Classification hop (20–50 ms) and vote window (100–200 ms).
    classifier_max_infer : int
        Model calls per classifier step at most; older pending windows reuse the last result.
    classifier_backlog_ms : float
        Live: audio waiting for the classifier beyond this is skipped (counted).
    analyzer_fft_size : int
        Analyzer Welch segment (samples).
    analyzer_period_s : float
        Seconds of audio between analyzer updates (0.5–2).
    analyzer_window_s : float
        The live analyzer reports on about the last ``analyzer_window_s`` seconds (its cost stays flat).
    render_ahead_blocks : int
        Blocks the renderer keeps ready ahead of the callback.
    ring_ms : float
        Capacity (ms) of the input and mix rings.
    mode : str
        Generator mode: ``auto`` (the prompt's mode, else the classifier's track type), ``drums``, ``tonal``.
    key : str or None
        Key for tonal mode (``A:minor``); None = the prompt's estimate.
    style : str
        Generator style context: ``auto`` (inferred from the prompt by the model,
        :mod:`nomad_muse.generator.style`) or one of ``generator.vocab.STYLES``.
    temperature, top_p : float
        Sampling settings.  seed : int or None.
    render_gain : float
        Linear gain of the generated part in the output and the mix bus (0 mutes the built-in synth).
    input_gain : float
        Linear gain of the audio input on the mix bus.
    follow_midi_clock : bool
        Follow incoming MIDI clock (0xF8) instead of the internal tempo.
    prompt_idle_beats : float
        Live: a MIDI prompt counts as finished after this many beats without a new note.
    genre : str
        Analyzer target (a shipped genre name or a target file).
    renderer : str
        ``auto`` (FluidSynth with a GM soundfont when both are installed, else the built-in numpy
        synth, which needs no soundfont), ``builtin`` or ``fluidsynth``.
    max_infer_s : float
        Generator chunks slower than this (s) count as late even offline (deadline statistics).
    """

    sample_rate: int = 48000
    block_size: int = 256
    channels: int = 2
    tempo_bpm: float = 120.0
    lookahead_beats: float = 2.0
    chunk: str = "beat"
    classifier_hop_ms: float = 20.0
    classifier_vote_ms: float = 160.0
    classifier_max_infer: int = 4
    classifier_backlog_ms: float = 250.0
    analyzer_fft_size: int = 8192
    analyzer_period_s: float = 1.0
    analyzer_window_s: float = 10.0
    render_ahead_blocks: int = 3
    ring_ms: float = 2000.0
    mode: str = "auto"
    key: str | None = None
    style: str = "auto"
    temperature: float = 1.0
    top_p: float = 0.95
    seed: int | None = None
    render_gain: float = 1.0
    input_gain: float = 1.0
    follow_midi_clock: bool = False
    prompt_idle_beats: float = 1.0
    genre: str = "pop"
    renderer: str = "auto"

    def __post_init__(self) -> None:
        if not 8000 <= self.sample_rate <= 192000:
            raise ParameterError(f"sample rate {self.sample_rate} Hz must be within 8000–192000")
        if not 64 <= self.block_size <= 1024:
            raise ParameterError(f"--block-size {self.block_size} must be within 64–1024 samples")
        if self.channels not in (1, 2):
            raise ParameterError(f"channels={self.channels} must be 1 or 2")
        if self.chunk not in ("beat", "bar"):
            raise ParameterError(f"chunk={self.chunk!r} must be 'beat' or 'bar'")
        if not 0.25 <= self.lookahead_beats <= 16:
            raise ParameterError(f"--lookahead {self.lookahead_beats} must be within 0.25–16 beats")
        if self.mode not in ("auto", "drums", "tonal"):
            raise ParameterError(f"--mode {self.mode!r} must be auto, drums or tonal")
        from nomad_muse.generator.style import resolve_style

        resolve_style(self.style)
        if not 0.5 <= self.analyzer_period_s <= 2.0:
            raise ParameterError(f"analyzer period {self.analyzer_period_s} s must be within 0.5–2 s")
        if self.render_ahead_blocks < 1 or self.classifier_max_infer < 1:
            raise ParameterError("render_ahead_blocks and classifier_max_infer must be >= 1")
        if self.ring_ms < 200:
            raise ParameterError(f"ring_ms={self.ring_ms} must be >= 200 ms")
        if not 0.0 <= self.render_gain <= 4.0 or not 0.0 <= self.input_gain <= 4.0:
            raise ParameterError("render_gain and input_gain must be within 0–4 (linear)")

    @property
    def period_s(self) -> float:
        """Audio period (s)."""
        return self.block_size / self.sample_rate

    def ring_blocks(self) -> int:
        return max(4, int(self.ring_ms / 1000 * self.sample_rate / self.block_size))

    def replace(self, **changes: Any) -> "EngineConfig":
        """A copy with ``changes``; ``None`` values are ignored so CLI flags pass straight through."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_tuned(cls, tuned, **flags: Any) -> "EngineConfig":
        """From a :class:`~nomad_muse.machine_profile.TunedConfig`, then ``flags`` (None = keep)."""
        base = cls(sample_rate=tuned.sample_rate, block_size=tuned.block_size,
                   classifier_hop_ms=tuned.classifier_hop_ms, classifier_vote_ms=tuned.classifier_vote_ms,
                   chunk=tuned.generator_chunk, lookahead_beats=tuned.generator_lookahead_beats,
                   analyzer_fft_size=tuned.analyzer_fft_size, analyzer_period_s=tuned.analyzer_period_s)
        known = {f.name for f in fields(cls)}
        bad = set(flags) - known
        if bad:
            raise ParameterError(f"unknown engine settings: {', '.join(sorted(bad))}")
        return base.replace(**flags)
