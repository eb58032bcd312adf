"""General MIDI in one place: program → instrument family, and the GM drum
map folded onto the generator's drum-hit vocabulary.

Both the classifier (its 11 classes) and the generator (its track-type
context tokens) use these tables; nothing else may define them.

Family by GM program (0-based), as the classifier issue fixes them:
piano 0–7, mallets (chromatic percussion) 8–15, organ 16–20, guitar 24–31,
bass 32–39, strings 40–46 and ensembles 48–51, vocals (choir/voice) 52–54,
brass 56–63, woodwind (reed + pipe) 64–79, synth (lead + pad) 80–95.
Programs the issue leaves open are placed by how they sound: 21–23
(accordion, harmonica, bandoneon: free reeds) → woodwind; 47 timpani →
mallets; 55 orchestra hit and 96–103 synth effects → synth; 104–107
(sitar, banjo, shamisen, koto) → guitar; 108 kalimba and 112–114 (bells,
agogo, steel drums) → mallets; 109 bagpipe and 111 shanai → woodwind; 110
fiddle → strings; 115–119 (woodblock, taiko, melodic tom, synth drum,
reverse cymbal) → drums; 120–127 (sound effects) → no family.
"""

from __future__ import annotations

FAMILIES = ("drums", "bass", "guitar", "piano", "mallets", "organ", "strings", "vocals", "brass", "woodwind", "synth")
TONAL_FAMILIES = FAMILIES[1:]

_RANGES = [
    (0, 7, "piano"),
    (8, 15, "mallets"),
    (16, 20, "organ"),
    (21, 23, "woodwind"),
    (24, 31, "guitar"),
    (32, 39, "bass"),
    (40, 46, "strings"),
    (47, 47, "mallets"),
    (48, 51, "strings"),
    (52, 54, "vocals"),
    (55, 55, "synth"),
    (56, 63, "brass"),
    (64, 79, "woodwind"),
    (80, 103, "synth"),
    (104, 107, "guitar"),
    (108, 108, "mallets"),
    (109, 109, "woodwind"),
    (110, 110, "strings"),
    (111, 111, "woodwind"),
    (112, 114, "mallets"),
    (115, 119, "drums"),
]

PROGRAM_FAMILY: dict[int, str] = {p: fam for lo, hi, fam in _RANGES for p in range(lo, hi + 1)}

DRUM_CHANNEL = 9  # MIDI channel 10, 0-based


def family_of(program: int, channel: int = 0) -> str | None:
    """The instrument family of a GM program on a channel (channel 10 → drums)."""
    if channel == DRUM_CHANNEL:
        return "drums"
    return PROGRAM_FAMILY.get(program)


# ---------------------------------------------------------------- drums
#: the generator's drum-hit vocabulary, and the GM key each class is written back as
DRUM_CLASSES = (
    "kick",
    "snare",
    "rim_clap",
    "closed_hat",
    "pedal_hat",
    "open_hat",
    "low_tom",
    "mid_tom",
    "high_tom",
    "crash",
    "ride",
    "other_perc",
)
DRUM_CLASS_NOTE = {
    "kick": 36,
    "snare": 38,
    "rim_clap": 39,
    "closed_hat": 42,
    "pedal_hat": 44,
    "open_hat": 46,
    "low_tom": 43,
    "mid_tom": 47,
    "high_tom": 50,
    "crash": 49,
    "ride": 51,
    "other_perc": 56,
}
_DRUM_KEYS = {
    "kick": (35, 36),
    "snare": (38, 40),
    "rim_clap": (37, 39),
    "closed_hat": (42,),
    "pedal_hat": (44,),
    "open_hat": (46,),
    "low_tom": (41, 43),
    "mid_tom": (45, 47),
    "high_tom": (48, 50),
    "crash": (49, 52, 55, 57),
    "ride": (51, 53, 59),
}
#: every MIDI key 0–127 on channel 10 → drum class (GM 35–81 by the table above; the rest → other_perc)
DRUM_MAP: dict[int, str] = {k: "other_perc" for k in range(128)}
for _cls, _keys in _DRUM_KEYS.items():
    for _k in _keys:
        DRUM_MAP[_k] = _cls
