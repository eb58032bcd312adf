"""MIDI ↔ event tokens (see :mod:`nomad_muse.generator.vocab` for the grammar).

The grid is the 16th note; onsets keep a micro-timing offset in fifths of a
16th, so a round trip moves an onset by at most 1/10 of a 16th and a
duration by at most half a 16th (durations are capped at 32 sixteenths).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

from nomad_muse.errors import InputError
from nomad_muse.generator import vocab as V
from nomad_muse.generator.keys import estimate_key
from nomad_muse.generator.midi_io import Note, Score
from nomad_muse.gm import DRUM_CHANNEL, DRUM_CLASS_NOTE, DRUM_CLASSES, DRUM_MAP, PROGRAM_FAMILY

HEADER_LEN = 5  # BOS TRACK KEY TEMPO METER (a STYLE token may follow: header_len)


def header_len(tokens: Sequence[int]) -> int:
    """5, or 6 when the header ends with a ``STYLE`` token (``BOS TRACK KEY TEMPO METER STYLE``)."""
    return HEADER_LEN + 1 if len(tokens) > HEADER_LEN and V.style_of_token(tokens[HEADER_LEN]) else HEADER_LEN


def with_style(tokens: Sequence[int], style: str | None) -> list[int]:
    """The stream with its header's STYLE token set to ``style`` (added, replaced, or removed for None)."""
    toks = list(tokens)
    body = toks[header_len(toks):]
    return toks[:HEADER_LEN] + ([V.style_token(style)] if style else []) + body


@dataclass(frozen=True)
class Stream:
    """One token stream of a score: its mode, family, key and tokens."""

    mode: str  # "drums" | "tonal"
    family: str
    key: tuple[int, str] | None
    tokens: tuple[int, ...]
    style: str | None = None


def _bars(score: Score, end16: float) -> tuple[list[int], list[int]]:
    """Bar starts and lengths in 16ths up to ``end16`` (bars over 24 are split)."""
    starts, lengths = [], []
    sigs = list(score.time_signatures)
    pos = 0
    for i, (beat, num, den) in enumerate(sigs):
        seg_end = sigs[i + 1][0] * 4 if i + 1 < len(sigs) else max(end16, beat * 4) + 1
        length = max(1, round(num * 16 / den))
        pieces = []
        while length > V.MAX_POS:
            pieces.append(16)
            length -= 16
        pieces.append(length)
        pos = round(beat * 4)
        while pos < seg_end:
            for piece in pieces:
                starts.append(pos)
                lengths.append(piece)
                pos += piece
    return starts, lengths


def encode_notes(
    notes: Sequence[Note], score: Score, *, mode: str, family: str, key: tuple[int, str] | None, style: str | None = None
) -> list[int]:
    """Tokens for ``notes`` (one stream) on the score's bar grid, with its header."""
    end16 = max((n.start * 4 for n in notes), default=0.0)
    starts, lengths = _bars(score, end16)
    groups: dict[tuple[int, int], list[tuple[int, Note]]] = {}
    for n in notes:
        on16 = n.start * 4
        grid = round(on16)
        micro = max(-2, min(2, round((on16 - grid) * V.MICRO_STEPS)))
        b = bisect.bisect_right(starts, grid) - 1
        pos = grid - starts[b]
        if pos >= lengths[b]:
            b, pos = b + 1, 0
        groups.setdefault((b, pos), []).append((micro, n))
    first_len = lengths[0]
    toks = [V.BOS, V.track_token(family), V.key_token(key if mode == "tonal" else None),
            V.INDEX[f"TEMPO_{V.tempo_bin(score.tempo_bpm)}"], V.INDEX[f"METER_{first_len}"]]
    if style:
        toks.append(V.style_token(style))
    last_bar = max((b for b, _ in groups), default=-1)
    prev_len = first_len
    for b in range(last_bar + 1):
        toks.append(V.BAR)
        if lengths[b] != prev_len:
            toks.append(V.INDEX[f"METER_{lengths[b]}"])
            prev_len = lengths[b]
        for pos in range(lengths[b]):
            items = groups.get((b, pos))
            if not items:
                continue
            toks.append(V.INDEX[f"POS_{pos}"])
            if mode == "drums":
                seen = set()
                for micro, n in sorted(items, key=lambda it: DRUM_CLASSES.index(DRUM_MAP[it[1].pitch])):
                    cls = DRUM_MAP[n.pitch]
                    if cls in seen:
                        continue
                    seen.add(cls)
                    if micro:
                        toks.append(V.INDEX[f"MICRO_{micro:+d}"])
                    toks += [V.INDEX[f"DRUM_{cls}"], V.INDEX[f"VEL_{V.vel_bin(n.velocity)}"]]
            else:
                for micro, n in sorted(items, key=lambda it: it[1].pitch):
                    pitch = n.pitch
                    while pitch < V.PITCH_LO:
                        pitch += 12
                    while pitch > V.PITCH_HI:
                        pitch -= 12
                    dur = max(1, min(V.N_DUR, round(n.duration * 4)))
                    if micro:
                        toks.append(V.INDEX[f"MICRO_{micro:+d}"])
                    toks += [V.INDEX[f"PITCH_{pitch}"], V.INDEX[f"VEL_{V.vel_bin(n.velocity)}"], V.INDEX[f"DUR_{dur}"]]
    toks.append(V.EOS)
    return toks


def dominant_family(notes: Sequence[Note]) -> str:
    counts: dict[str, int] = {}
    for n in notes:
        fam = PROGRAM_FAMILY.get(n.program)
        if fam and fam != "drums":
            counts[fam] = counts.get(fam, 0) + 1
    return max(counts, key=counts.get) if counts else "piano"


def score_streams(score: Score, *, key: tuple[int, str] | None = None, style: str | None = None) -> list[Stream]:
    """The drum stream (channel 10) and the tonal stream (all other pitched channels) of a score;
    with ``style`` each header ends with that STYLE token."""
    out = []
    drums = score.drum_notes
    tonal = [n for n in score.tonal_notes if PROGRAM_FAMILY.get(n.program) not in (None, "drums")]
    if tonal:
        k = key or estimate_key([n.pitch for n in tonal], [n.duration for n in tonal])
        fam = dominant_family(tonal)
        out.append(Stream("tonal", fam, k, tuple(encode_notes(tonal, score, mode="tonal", family=fam, key=k, style=style)), style))
    if drums:
        out.append(Stream("drums", "drums", None, tuple(encode_notes(drums, score, mode="drums", family="drums", key=None, style=style)), style))
    return out


@dataclass(frozen=True)
class Decoded:
    notes: tuple[Note, ...]
    tempo_bpm: float
    time_signatures: tuple[tuple[float, int, int], ...]
    mode: str
    family: str
    key: tuple[int, str] | None


def _sig_of(length16: int) -> tuple[int, int]:
    return (length16 // 4, 4) if length16 % 4 == 0 else ((length16 // 2, 8) if length16 % 2 == 0 else (length16, 16))


def decode(tokens: Sequence[int], *, channel: int | None = None, program: int | None = None) -> Decoded:
    """Tokens → notes (beats). Tokens that break the grammar are skipped, never guessed."""
    toks = list(tokens)
    mode, family, key, tempo, meter = "tonal", "piano", None, 120.0, 16
    names = [V.TOKENS[t] if 0 <= t < V.VOCAB_SIZE else "?" for t in toks]
    for name in names[:HEADER_LEN + 1]:
        if name == "TRACK:DRUMS":
            mode, family = "drums", "drums"
        elif name.startswith("TRACK:TONAL:"):
            mode, family = "tonal", name.split(":")[2]
        elif name.startswith("KEY:") and name != "KEY:none":
            _, tn, md = name.split(":")
            key = (V.PITCH_NAMES.index(tn), md)
        elif name.startswith("TEMPO_"):
            tempo = V.tempo_of_bin(int(name[6:]))
    ch = DRUM_CHANNEL if mode == "drums" else (0 if channel is None else channel)
    prog = 0 if program is None else program
    if program is None and mode == "tonal":
        prog = {"piano": 0, "mallets": 11, "organ": 19, "guitar": 24, "bass": 33, "strings": 48, "vocals": 52,
                "brass": 61, "woodwind": 73, "synth": 81}.get(family, 0)
    notes: list[Note] = []
    bar_start, bar_len = -1, None
    sigs: list[tuple[float, int, int]] = []
    onset = None
    micro = 0
    pending: tuple[str, int] | None = None  # ("pitch"|"drum", value) awaiting VEL
    vel = 64
    for name in names:
        if name == "BAR":
            bar_start = bar_start + (bar_len or meter) if bar_start >= 0 else 0
            bar_len = meter
            if not sigs or sigs[-1][1:] != _sig_of(meter):
                sigs.append((bar_start / 4, *_sig_of(meter)))
            onset, pending = None, None
        elif name.startswith("METER_"):
            meter = int(name[6:])
            if bar_start >= 0:
                bar_len = meter
                if sigs and abs(sigs[-1][0] - bar_start / 4) < 1e-9:
                    sigs[-1] = (bar_start / 4, *_sig_of(meter))
                elif not sigs or sigs[-1][1:] != _sig_of(meter):
                    sigs.append((bar_start / 4, *_sig_of(meter)))
        elif name.startswith("POS_") and bar_start >= 0:
            onset, micro, pending = bar_start + int(name[4:]), 0, None
        elif name.startswith("MICRO_"):
            micro = int(name[6:])
        elif name.startswith("PITCH_") and onset is not None and mode == "tonal":
            pending = ("pitch", int(name[6:]))
        elif name.startswith("DRUM_") and onset is not None and mode == "drums":
            pending = ("drum", DRUM_CLASS_NOTE[name[5:]])
        elif name.startswith("VEL_") and pending is not None:
            vel = V.vel_of_bin(int(name[4:]))
            if pending[0] == "drum":
                start = (onset + micro / V.MICRO_STEPS) / 4
                notes.append(Note(start, 0.25, pending[1], vel, ch, 0))
                pending, micro = None, 0
        elif name.startswith("DUR_") and pending is not None and pending[0] == "pitch":
            start = (onset + micro / V.MICRO_STEPS) / 4
            notes.append(Note(start, int(name[4:]) / 4, pending[1], vel, ch, prog))
            pending, micro = None, 0
        elif name == "EOS":
            break
    if not sigs:
        sigs = [(0.0, *_sig_of(meter))]
    return Decoded(tuple(notes), tempo, tuple(sigs), mode, family, key)


def decoded_score(dec: Decoded) -> Score:
    return Score(dec.notes, dec.tempo_bpm, dec.time_signatures)


def require_stream(score: Score, mode: str, *, style: str | None = None) -> Stream:
    """The score's stream for ``mode``; InputError if it has none (e.g. tonal asked of a drums-only file)."""
    for s in score_streams(score, style=style):
        if s.mode == mode:
            return s
    other = "drum (channel 10)" if mode == "tonal" else "pitched (non-channel-10)"
    raise InputError(f"{score.source or 'prompt'}: no {mode} notes to continue; the file has only {other} notes — use --mode {'drums' if mode == 'tonal' else 'tonal'} or another prompt")
