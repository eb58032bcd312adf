"""Loaders: a folder-per-family dataset and NSynth."""

from __future__ import annotations

import json
from pathlib import Path

from nomad_muse.errors import InputError
from nomad_muse.gm import FAMILIES

from nomad_muse.training.classifier_data.sources import AUDIO_EXTS

# ---------------------------------------------------------------- loaders
def load_folder_dataset(root, *, notes: list[str] | None = None) -> list[tuple[Path, str]]:
    """(audio path, family) for every audio file under ``root/<family>/`` (recursively).

    Sub-folders must be named exactly as :data:`nomad_muse.gm.FAMILIES`; other
    files and folders are ignored, each with a line appended to ``notes`` when a
    list is given.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"dataset folder {root} does not exist or is not a directory")
    notes = notes if notes is not None else []
    out: list[tuple[Path, str]] = []
    for p in sorted(root.iterdir()):
        if p.name.startswith("."):
            continue
        if p.is_dir() and p.name in FAMILIES:
            files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in AUDIO_EXTS)
            if not files:
                notes.append(f"{p.name}/: no audio files")
            out += [(f, p.name) for f in files]
        elif p.is_dir():
            notes.append(f"ignored folder {p.name}/ (not a family; expected one of {' '.join(FAMILIES)})")
        else:
            notes.append(f"ignored file {p.name} (files go in a family sub-folder)")
    if not out:
        raise InputError(
            f"no audio in {root}: expected sub-folders named {' '.join(FAMILIES)} holding .wav/.flac/.ogg files"
        )
    return out


NSYNTH_FAMILY = {
    "bass": "bass",
    "brass": "brass",
    "flute": "woodwind",
    "guitar": "guitar",
    "keyboard": "piano",
    "mallet": "mallets",
    "organ": "organ",
    "reed": "woodwind",
    "string": "strings",
    "synth_lead": "synth",
    "vocal": "vocals",
}


def load_nsynth(root, split: str | None = None) -> list[tuple[Path, str]]:
    """(wav path, family) for an NSynth split folder (``examples.json`` + ``audio/<note_str>.wav``).

    ``root`` is a split folder (e.g. ``nsynth-test``) or, with ``split``
    ("train"/"valid"/"test"), the folder holding ``nsynth-<split>``. Examples
    whose family has no mapping (NSynth has no drums) or whose WAV is missing
    are skipped; a file with no usable example is an error.
    """
    root = Path(root)
    if split is not None:
        cand = root / f"nsynth-{split}"
        root = cand if cand.is_dir() else root / split if (root / split).is_dir() else cand
    if not root.is_dir():
        raise InputError(f"NSynth folder {root} does not exist")
    ex_path = root / "examples.json"
    if not ex_path.is_file():
        raise InputError(f"NSynth folder {root} has no examples.json")
    try:
        examples = json.loads(ex_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{ex_path} is not valid JSON: {e}") from None
    if not isinstance(examples, dict):
        raise InputError(f"{ex_path}: expected an object of note_str → example, got {type(examples).__name__}")
    out: list[tuple[Path, str]] = []
    for key, ex in examples.items():
        if not isinstance(ex, dict) or "instrument_family_str" not in ex:
            raise InputError(f"{ex_path}: example {key!r} has no instrument_family_str")
        fam = NSYNTH_FAMILY.get(ex["instrument_family_str"])
        if fam is None:
            continue
        wav = root / "audio" / f"{ex.get('note_str', key)}.wav"
        if wav.is_file():
            out.append((wav, fam))
    if not out:
        raise InputError(f"no usable audio in {root}: no examples.json entry has a mapped family and an audio/<note_str>.wav")
    return sorted(out)
