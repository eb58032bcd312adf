"""The generator's event vocabulary (documented in docs/generator.md).

A sequence is ``BOS TRACK KEY TEMPO METER [STYLE]`` followed by bars:
``BAR [METER] (POS [MICRO] (PITCH VEL DUR | DRUM VEL)+)*`` and ``EOS``.

* grid: 16th notes; ``POS_k`` is the 16th within the bar (0–23; bars up to
  24 sixteenths = 6/4 or 12/8); ``METER_n`` the bar length in sixteenths.
* ``MICRO_d``: micro-timing, the onset's offset from the grid in fifths of a
  16th (−2…+2, 0 not written), kept where the data has it (swing).
* ``PITCH_p`` for tonal notes (MIDI 21–108), ``DRUM_c`` for the 12 drum-hit
  classes (no pitch), ``VEL_v`` 16 velocity bins, ``DUR_d`` 1–32 sixteenths
  (tonal notes only).
* context: ``TRACK:DRUMS`` or ``TRACK:TONAL:<family>``; ``KEY:<tonic>:<mode>``
  or ``KEY:none``; ``TEMPO_b``: 12 bins of 10 BPM over 60–180 BPM;
  ``STYLE:<style>`` (optional, last in the header): the music's style, from the
  training source's metadata or the user's ``--style``. The style tokens are the
  last ids of the vocabulary, so a model without them (252 logits) keeps every
  other id and runs without a style token.
"""

from __future__ import annotations

from nomad_muse.gm import DRUM_CLASSES, TONAL_FAMILIES

PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MODES = ("major", "minor")
METERS = tuple(range(1, 25))  # bar length in 16ths: 3/4 = 12, 4/4 = 16, 6/8 = 12, 7/8 = 14, ...
MAX_POS = 24
PITCH_LO, PITCH_HI = 21, 108
N_VEL = 16
N_DUR = 32
TEMPO_LO, TEMPO_HI, N_TEMPO = 60.0, 180.0, 12
MICRO_STEPS = 5  # micro offset unit = 1/5 of a 16th
MICRO_VALUES = (-2, -1, 1, 2)
#: style context (``any`` = not given / not known); labels come from each training source's metadata (docs/generator.md)
STYLES = ("any", "classical", "folk", "popular", "electronic")


def _build() -> list[str]:
    toks = ["PAD", "BOS", "EOS", "BAR"]
    toks += ["TRACK:DRUMS"] + [f"TRACK:TONAL:{f}" for f in TONAL_FAMILIES]
    toks += ["KEY:none"] + [f"KEY:{n}:{m}" for m in MODES for n in PITCH_NAMES]
    toks += [f"TEMPO_{i}" for i in range(N_TEMPO)]
    toks += [f"METER_{n}" for n in METERS]
    toks += [f"POS_{i}" for i in range(MAX_POS)]
    toks += [f"MICRO_{d:+d}" for d in MICRO_VALUES]
    toks += [f"PITCH_{p}" for p in range(PITCH_LO, PITCH_HI + 1)]
    toks += [f"DRUM_{c}" for c in DRUM_CLASSES]
    toks += [f"VEL_{i}" for i in range(N_VEL)]
    toks += [f"DUR_{i}" for i in range(1, N_DUR + 1)]
    toks += [f"STYLE:{s}" for s in STYLES]  # last: the ids before them are those of the 252-token vocabulary
    return toks


TOKENS: tuple[str, ...] = tuple(_build())
INDEX: dict[str, int] = {t: i for i, t in enumerate(TOKENS)}
VOCAB_SIZE = len(TOKENS)

PAD, BOS, EOS, BAR = (INDEX[t] for t in ("PAD", "BOS", "EOS", "BAR"))


def ids(prefix: str) -> list[int]:
    """All token ids whose name starts with ``prefix``."""
    return [i for i, t in enumerate(TOKENS) if t.startswith(prefix)]


TRACK_IDS = ids("TRACK:")
KEY_IDS = ids("KEY:")
TEMPO_IDS = ids("TEMPO_")
METER_IDS = ids("METER_")
POS_IDS = ids("POS_")
MICRO_IDS = ids("MICRO_")
PITCH_IDS = ids("PITCH_")
DRUM_IDS = ids("DRUM_")
VEL_IDS = ids("VEL_")
DUR_IDS = ids("DUR_")
STYLE_IDS = ids("STYLE:")
#: logits of a model trained without style tokens
VOCAB_SIZE_NO_STYLE = STYLE_IDS[0]


def track_token(family: str) -> int:
    return INDEX["TRACK:DRUMS"] if family == "drums" else INDEX[f"TRACK:TONAL:{family}"]


def style_token(style: str) -> int:
    """``STYLE:<style>``; ParameterError naming the value when it is not one of :data:`STYLES`."""
    if style not in STYLES:
        from nomad_muse.errors import ParameterError

        raise ParameterError(f"style={style!r} must be one of auto, {', '.join(STYLES)}", field="style")
    return INDEX[f"STYLE:{style}"]


def style_of_token(tok: int) -> str | None:
    name = TOKENS[tok] if 0 <= tok < len(TOKENS) else ""
    return name[6:] if name.startswith("STYLE:") else None


def key_token(key: tuple[int, str] | None) -> int:
    if key is None:
        return INDEX["KEY:none"]
    tonic, mode = key
    return INDEX[f"KEY:{PITCH_NAMES[tonic % 12]}:{mode}"]


def tempo_bin(bpm: float) -> int:
    """Tempo → bin 0–11 (10 BPM each over 60–180; outside values are clamped)."""
    b = int((min(max(bpm, TEMPO_LO), TEMPO_HI - 1e-6) - TEMPO_LO) // ((TEMPO_HI - TEMPO_LO) / N_TEMPO))
    return b


def tempo_of_bin(b: int) -> float:
    return TEMPO_LO + (b + 0.5) * (TEMPO_HI - TEMPO_LO) / N_TEMPO


def vel_bin(velocity: int) -> int:
    return min(max(int(velocity), 1), 127) * N_VEL // 128


def vel_of_bin(b: int) -> int:
    return int((b + 0.5) * 128 / N_VEL)


def meter_for(sixteenths: int) -> int:
    """The METER value used for a bar of ``sixteenths`` (nearest supported, ≤ 24)."""
    return min(METERS, key=lambda m: (abs(m - sixteenths), m))
