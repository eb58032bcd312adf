"""Keys and scales: Krumhansl–Schmuckler key estimation and scale masks.

Key profiles: Krumhansl & Kessler (1982) probe-tone ratings, as used by the
Krumhansl–Schmuckler algorithm (Krumhansl 1990, *Cognitive Foundations of
Musical Pitch*, ch. 4): the key whose rotated profile correlates best
(Pearson) with the duration-weighted pitch-class histogram wins.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from nomad_muse.errors import ParameterError
from nomad_muse.generator.vocab import PITCH_NAMES

KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])

#: scale steps in semitones from the tonic (natural minor plus the raised 7th of harmonic minor)
SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10, 11)}

_ALIASES = {"c#": 1, "db": 1, "d#": 3, "eb": 3, "f#": 6, "gb": 6, "g#": 8, "ab": 8, "a#": 10, "bb": 10, "cb": 11, "e#": 5, "fb": 4, "b#": 0}


def estimate_key(pitches: Iterable[int], weights: Iterable[float] | None = None) -> tuple[int, str] | None:
    """Krumhansl–Schmuckler: (tonic pitch class, "major"|"minor"), or None with < 3 distinct pitch classes."""
    p = np.asarray(list(pitches), dtype=int)
    if p.size == 0:
        return None
    w = np.ones(p.size) if weights is None else np.asarray(list(weights), dtype=float)
    hist = np.bincount(p % 12, weights=w, minlength=12)
    if np.count_nonzero(hist) < 3:
        return None
    best, best_r = None, -2.0
    for mode, prof in (("major", KK_MAJOR), ("minor", KK_MINOR)):
        for tonic in range(12):
            r = np.corrcoef(hist, np.roll(prof, tonic))[0, 1]
            if r > best_r:
                best, best_r = (tonic, mode), r
    return best


def parse_key(text: str) -> tuple[int, str]:
    """Parse ``C:minor``, ``F#:major``, ``Bb:min``, ``a`` (lower case = minor) into (tonic, mode)."""
    t = text.strip()
    if ":" in t:
        name, mode = t.split(":", 1)
    else:
        name, mode = t, ("minor" if t[:1].islower() else "major")
    mode = {"maj": "major", "major": "major", "min": "minor", "minor": "minor", "m": "minor"}.get(mode.strip().lower())
    n = name.strip().lower()
    tonic = _ALIASES.get(n, {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}.get(n))
    if tonic is None or mode is None:
        raise ParameterError(f"key={text!r} not understood; use TONIC:MODE such as C:minor, F#:major, Bb:major")
    return tonic, mode


def key_name(key: tuple[int, str] | None) -> str:
    return "none" if key is None else f"{PITCH_NAMES[key[0]]}:{key[1]}"


def scale_pitch_classes(key: tuple[int, str]) -> frozenset[int]:
    tonic, mode = key
    return frozenset((tonic + s) % 12 for s in SCALES[mode])
