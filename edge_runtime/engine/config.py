"""Engine configuration: frozen, built from the machine profile's tuned sizes plus command-line flags."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from nomad_muse.errors import ParameterError
from nomad_muse.settings import default, validate

#: interpreter thread switch interval the engine sets (s); measured in docs/engine.md
SWITCH_INTERVAL_S = 0.0005

#: engine fields that hold a tuned size under a shorter name
_CANONICAL = {"chunk": "generator_chunk", "lookahead_beats": "generator_lookahead_beats"}


@dataclass(frozen=True)
class EngineConfig:
    """Everything the engine needs to run, in one value.

    The tuned sizes (sample rate, block, classifier hop/vote, generator chunk
    and lookahead, analyzer FFT/period) take their defaults and rules from
    :data:`nomad_muse.settings.SETTINGS` — the same ones the machine profile's
    ``TunedConfig`` uses — and the run settings their rules from
    :data:`nomad_muse.settings.RUN_RULES`; :func:`nomad_muse.settings.validate`
    checks them all.

    Attributes
    ----------
    sample_rate : int
        Hz.  Live: the audio server's rate wins (a JACK server runs at one rate).
    block_size : int
        Samples per audio callback (one of ``settings.BLOCK_SIZES``); ``block_size / sample_rate`` is the period.
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

    sample_rate: int = default("sample_rate")
    block_size: int = default("block_size")
    channels: int = 2
    tempo_bpm: float = 120.0
    lookahead_beats: float = default("generator_lookahead_beats")
    chunk: str = default("generator_chunk")
    classifier_hop_ms: float = default("classifier_hop_ms")
    classifier_vote_ms: float = default("classifier_vote_ms")
    classifier_max_infer: int = 4
    classifier_backlog_ms: float = 250.0
    analyzer_fft_size: int = default("analyzer_fft_size")
    analyzer_period_s: float = default("analyzer_period_s")
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
        validate(self, _CANONICAL)
        from nomad_muse.generator.style import resolve_style

        resolve_style(self.style)

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
        inv = {v: k for k, v in _CANONICAL.items()}
        base = cls(**{inv.get(f.name, f.name): getattr(tuned, f.name) for f in fields(tuned)})
        known = {f.name for f in fields(cls)}
        bad = set(flags) - known
        if bad:
            raise ParameterError(f"unknown engine settings: {', '.join(sorted(bad))}")
        return base.replace(**flags)
