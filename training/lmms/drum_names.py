"""Sample and track names → General MIDI drum notes (the drum vocabulary of LMMS projects)."""

from __future__ import annotations

import re
from typing import Iterable

GM_NAMES = {
    35: "acoustic bass drum", 36: "kick", 37: "side stick/rim", 38: "snare", 39: "hand clap",
    42: "closed hi-hat", 43: "high floor tom", 44: "pedal hi-hat", 46: "open hi-hat", 47: "low-mid tom",
    49: "crash", 50: "high tom", 51: "ride", 52: "china", 53: "ride bell", 54: "tambourine",
    55: "splash", 56: "cowbell/other perc", 58: "vibraslap", 60: "hi bongo", 63: "open hi conga", 65: "high timbale",
    67: "high agogo", 69: "cabasa", 70: "maracas", 71: "whistle", 73: "guiro", 75: "claves",
    76: "hi wood block", 81: "open triangle",
}
#: the repo's representative note for "other percussion" (nomad_muse.gm.DRUM_CLASS_NOTE)
OTHER_PERC = 56

_EXT_RE = re.compile(r"\.(ogg|wav|flac|mp3|ds|sf2|sf3|gig|aif|aiff|au|raw|spx|voc|xi|xpf)$", re.I)
_TOKEN_RE = re.compile(r"[a-z]+|\d+")

_FX_WORDS = ("zap", "sfx", "fx", "effect", "sweep", "whoosh", "woosh", "riser", "laser", "explode", "scratch", "warp")
_TONAL_WORDS = (
    "lead", "pad", "chord", "arp", "string", "piano", "pno", "synth", "organ", "guitar", "pluck", "melody",
    "sub", "choir", "vox", "voice", "brass", "trumpet", "flute", "oboe", "violin", "sax", "keys", "rhodes",
    "stab", "bell", "chime", "pizzi",
)
_HAT_EXACT = {"hat", "hats", "hihat", "hihats", "hh", "hhat", "chh", "ohh", "hho", "hhc", "oh", "ch"}
_NOT_HAT = {"that", "what", "chat"}
_OPEN = {"open", "opened", "o", "oh", "ohh", "hho", "opn"}
_PEDAL = {"pedal", "foot", "ph"}
_TOM_EXACT = {"tom", "toms", "tomtom", "syntom", "floortom", "tommy"}
_TOM_LOW = {"low", "lo", "l", "floor", "deep"}
_TOM_HIGH = {"hi", "high", "h"}
_SNARE_EXACT = {"sn", "sd", "snr", "snar", "snarre", "brush"}
_KICK_EXACT = {"bd", "kd", "kik", "kck", "bassdrum", "bdrum", "kicker"}


def _tokens(name: str) -> list[str]:
    return _TOKEN_RE.findall(_EXT_RE.sub("", name.strip().lower()).replace("'", ""))


def _is_hat(t: str) -> bool:
    return t in _HAT_EXACT or "hihat" in t or (t.endswith("hat") and t not in _NOT_HAT)


def drum_note_for_name(name: str, *, kit_letters: bool = False) -> tuple[int, str] | None:
    """(GM drum note, matched word) for a sample or track name, or None when it names no drum.

    ``kit_letters``: also read drumsynth's one-letter prefixes (``K_8bit`` kick, ``S_Linn`` snare,
    ``H_open`` hat), only meaningful for files under ``drumsynth/``.
    """
    toks = _tokens(name)
    s = set(toks)
    if not toks:
        return None
    # rim / side stick (before snare: "snare_rim01" is a rimshot)
    for t in toks:
        if t.startswith("rim") or t in ("sidestick", "stick", "stk"):
            return 37, t
    # hi-hats (pedal, open, closed)
    hat = next((t for t in toks if _is_hat(t)), None)
    if hat is None and kit_letters and "h" in s and s & {"closed", "open", "c", "o"}:
        hat = "h"
    if hat is not None:
        if s & _PEDAL:
            return 44, hat
        if s & _OPEN or any(t.startswith("open") for t in toks):
            return 46, hat
        return 42, hat
    for t in toks:
        if "crash" in t or "cymbal" in t or "cym" in t:
            return 49, t
        if t in ("china",):
            return 52, t
        if t in ("splash",):
            return 55, t
        if t == "ride" or t.startswith("ride"):
            return (53 if "bell" in s else 51), t
    for t in toks:
        if t in _TOM_EXACT or (t.startswith("tom") and len(t) <= 5):
            if s & _TOM_LOW:
                return 43, t
            if s & _TOM_HIGH:
                return 50, t
            return 47, t
    for t in toks:
        if "clap" in t or t == "clp":
            return 39, t
    for t in toks:
        if "snare" in t or t in _SNARE_EXACT or "snr" in t:
            return 38, t
    for t in toks:
        if "kick" in t or t in _KICK_EXACT:
            return 36, t
    for a, b in zip(toks, toks[1:]):
        if a == "bass" and b == "drum":
            return 36, "bass drum"
    for t in toks:
        if "cowbell" in t or t == "cow":
            return 56, t
        if t.startswith("tamb"):
            return 54, t
        if t.startswith(("shak", "shaa", "maraca")):
            return 70, t
        if t in ("cab", "cabasa"):
            return 69, t
        if t in ("cga", "conga", "congas") or "cga" in t or t.startswith("conga"):
            return 63, t
        if t.startswith("bongo"):
            return 60, t
        if t.startswith("timbal"):
            return 65, t
        if t.startswith("agogo"):
            return 67, t
        if t.startswith("wood") or t in ("block", "woodblock"):
            return 76, t
        if t.startswith("clav") or t == "clave":
            return 75, t
        if t.startswith("triangle"):
            return 81, t
        if t == "guiro":
            return 73, t
        if t.startswith("vibra"):
            return 58, t
    if kit_letters:
        if "k" in s:
            return 36, "k"
        if "s" in s:
            return 38, "s"
    for t in toks:
        if t.startswith("perc") or t in ("tabla", "taiko", "gamelan", "cuica", "cui"):
            return OTHER_PERC, t
    return None


def _has_word(name: str, words: Iterable[str]) -> str | None:
    """The first token of ``name`` that is one of ``words`` (words of 3+ letters also match as a prefix)."""
    for t in _tokens(name):
        for w in words:
            if t == w or (len(w) >= 3 and t.startswith(w)):
                return t
    return None


def _tonal_word(name: str) -> str | None:
    toks = _tokens(name)
    for i, t in enumerate(toks):
        if t.startswith("bass") and not t.startswith("bassdrum") and toks[i + 1 : i + 2] != ["drum"]:
            return t
    return _has_word(name, _TONAL_WORDS)


# sample folders of lmms-common
_DRUM_FOLDERS = {"drums", "drumsynth"}
_NON_DRUM_FOLDERS = {"basses", "bassloops", "effects", "instruments", "shapes", "stringsnpads", "waveforms", "latin"}
_DRUMSYNTH_NON_DRUM = {"instrument", "misc_bass", "misc_synth", "misc_fx", "effects"}
_FOLDER_HINT = {"misc_hats": (42, "misc_hats folder"), "misc_claps": (39, "misc_claps folder"),
                "misc_perc": (OTHER_PERC, "misc_perc folder")}


def classify_sample(src: str, track_name: str) -> tuple[int | None, str]:
    """GM drum note for an audiofileprocessor track, or (None, why it is not a drum)."""
    parts = [p for p in re.split(r"[\\/]+", src.strip()) if p]
    base = parts[-1] if parts else ""
    folders = [p.lower() for p in parts[:-1]]
    top = folders[0] if folders else ""
    sub = folders[1] if len(folders) > 1 else ""
    drumsynth = top == "drumsynth"
    if top in _NON_DRUM_FOLDERS:
        return None, f"tonal/FX sample folder {top}/"
    if drumsynth and sub in _DRUMSYNTH_NON_DRUM:
        return None, f"non-drum drumsynth folder {top}/{sub}/"
    if top == "beats" and re.search(r"loop|beat|break|jungle", base.lower()):
        return None, "whole drum-loop sample, not single hits"
    hit = drum_note_for_name(base, kit_letters=drumsynth)
    if hit:
        return hit[0], f"sample name {hit[1]!r}"
    fx = _has_word(base, _FX_WORDS) or _has_word(track_name, _FX_WORDS)
    if fx:
        return None, f"sound effect ({fx!r})"
    hit = drum_note_for_name(track_name)
    if hit:
        return hit[0], f"track name {hit[1]!r}"
    if sub in _FOLDER_HINT:
        return _FOLDER_HINT[sub]
    tonal = _tonal_word(base) or _tonal_word(track_name)
    if tonal:
        return None, f"tonal sample ({tonal!r})"
    if top in _DRUM_FOLDERS or top == "beats":
        return OTHER_PERC, f"unnamed drum sample in {top}/ → other percussion"
    return None, "sample is neither in a drum folder nor named like a drum"


def classify_kicker(track_name: str) -> tuple[int | None, str]:
    hit = drum_note_for_name(track_name)
    if hit:
        return hit[0], f"kicker, track name {hit[1]!r}"
    toks = set(_tokens(track_name))
    if not toks or toks <= {"default", "preset", "kicker", "standard", "init"}:
        return 36, "kicker (synth kick), default name"
    return None, f"kicker used as a synth (track name {track_name!r} names no drum)"

