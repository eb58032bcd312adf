"""The one description of every tunable size: its legal set, its default, and the one validator.

The machine profile's :class:`~nomad_muse.machine_profile.TunedConfig` (what
``muse calibrate`` chooses), the engine's
:class:`~nomad_muse.engine.config.EngineConfig` (the tuned sizes plus the run
settings), the classifier's :class:`~nomad_muse.classifier.stream.ClassifierConfig`,
the auto-tuner's candidates and the benchmark's sizes all take their ranges,
legal sets and defaults from here, so they cannot disagree.

Errors name the *field* (``block_size=100 must be one of 64, 128, 256, 512,
1024 samples``) and carry it as :attr:`ParameterError.field`; the CLI
(:mod:`nomad_muse.app.flags`) maps fields to its flags.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

from nomad_muse.errors import ParameterError

#: audio blocks (samples per callback): powers of two, as JACK periods are; the auto-tuner and
#: ``muse bench`` measure exactly these
BLOCK_SIZES = (64, 128, 256, 512, 1024)
CHANNELS = (1, 2)
CHUNKS = ("beat", "bar")
GENERATOR_MODES = ("auto", "drums", "tonal")
RENDERERS = ("auto", "builtin", "fluidsynth")


@dataclass(frozen=True)
class Rule:
    """What values a setting accepts: a closed range ``lo``–``hi`` (``hi_open``: up to, not including,
    ``hi``), a set of ``choices``, or powers of two within the range (``pow2``)."""

    unit: str = ""
    lo: float | None = None
    hi: float | None = None
    choices: tuple | None = None
    pow2: bool = False
    hi_open: bool = False

    def problem(self, value) -> str | None:
        """Why ``value`` is not accepted (the end of the error message), or None when it is."""
        u = f" {self.unit}" if self.unit else ""
        if self.choices is not None:
            if value in self.choices:
                return None
            return f"must be one of {', '.join(_fmt(c) for c in self.choices)}{u}"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"must be a number{u}"
        above = value >= self.hi if self.hi_open else value > self.hi
        if self.hi == float("inf") and value < self.lo:
            return f"must be >= {_fmt(self.lo)}{u}"
        if value < self.lo or above:
            if self.hi_open:
                return f"must be within [{_fmt(self.lo)}, {_fmt(self.hi)}){u}"
            return f"must be {'a power of two ' if self.pow2 else ''}within {_fmt(self.lo)}–{_fmt(self.hi)}{u}"
        if self.pow2 and (int(value) != value or int(value) & (int(value) - 1)):
            return f"must be a power of two within {_fmt(self.lo)}–{_fmt(self.hi)}{u}"
        return None


def _fmt(x) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


@dataclass(frozen=True)
class Setting:
    """One tunable size: its canonical name (as in the profile file), default and rule."""

    name: str
    default: object
    rule: Rule
    doc: str


#: every size the tuner, the profile and the engine share, by canonical name (``profile.json``'s ``tuned`` keys)
SETTINGS: dict[str, Setting] = {s.name: s for s in (
    Setting("sample_rate", 48000, Rule("Hz", 8000, 192000), "audio sample rate of the live engine"),
    Setting("block_size", 256, Rule("samples", choices=BLOCK_SIZES), "samples per audio callback"),
    Setting("classifier_hop_ms", 20.0, Rule("ms", 20.0, 50.0), "time between classifications"),
    Setting("classifier_vote_ms", 160.0, Rule("ms", 100.0, 200.0), "classifier vote window"),
    Setting("generator_chunk", "beat", Rule(choices=CHUNKS), "how much the generator writes per request"),
    Setting("generator_lookahead_beats", 2.0, Rule("beats", 0.25, 16.0), "how far the generator runs ahead"),
    Setting("analyzer_fft_size", 8192, Rule("samples", 256, 65536, pow2=True), "analyzer FFT (Welch) segment"),
    Setting("analyzer_period_s", 1.0, Rule("s", 0.5, 2.0), "seconds of audio between analyzer updates"),
)}

#: run settings of the engine that no profile tunes (rules only; their defaults stay with EngineConfig)
RUN_RULES: dict[str, Rule] = {
    "channels": Rule(choices=CHANNELS),
    "mode": Rule(choices=GENERATOR_MODES),
    "chunk": SETTINGS["generator_chunk"].rule,
    "renderer": Rule(choices=RENDERERS),
    "render_gain": Rule("(linear)", 0.0, 4.0),
    "input_gain": Rule("(linear)", 0.0, 4.0),
    "ring_ms": Rule("ms", 200.0, float("inf")),
    "render_ahead_blocks": Rule("", 1, float("inf")),
    "classifier_max_infer": Rule("", 1, float("inf")),
}


def default(name: str):
    """The default of the tuned size ``name`` (canonical name)."""
    return SETTINGS[name].default


def rule(name: str) -> Rule:
    """The rule of a tuned size (canonical name) or of an engine run setting."""
    return SETTINGS[name].rule if name in SETTINGS else RUN_RULES[name]


def check(field: str, value, r: Rule):
    """``value`` if ``r`` accepts it, else ParameterError naming ``field`` (and carrying it)."""
    why = r.problem(value)
    if why is not None:
        raise ParameterError(f"{field}={value!r} {why}", field=field)
    return value


def validate(obj, names: Mapping[str, str] | None = None) -> None:
    """The one validator: every field of the dataclass ``obj`` that has a rule is checked.

    ``names`` maps a field of ``obj`` to the canonical setting it holds when the
    names differ (the engine's ``lookahead_beats`` is ``generator_lookahead_beats``);
    the error names ``obj``'s own field.
    """
    names = names or {}
    for f in fields(obj):
        canon = names.get(f.name, f.name)
        if canon in SETTINGS or canon in RUN_RULES:
            check(f.name, getattr(obj, f.name), rule(canon))
