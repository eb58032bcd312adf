"""Reading and writing Standard MIDI Files (through mido) as beat-timed notes.

Times are in beats (quarter notes), so tempo changes do not move notes on
the grid; the first tempo and every time-signature change are kept.
Type 0 and 1 files are merged across tracks (a program change in one track
applies to its channel everywhere); running status is handled by mido.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path

from nomad_muse.errors import InputError
from nomad_muse.gm import DRUM_CHANNEL

#: Limits on what a MIDI file may hold, checked while it is read (docs/generator.md, "Limits"):
#: a song longer than MAX_BEATS (about 7 hours at 120 BPM) or with more than MAX_NOTES notes
#: (open and closed together) or MAX_EVENTS messages is refused in one line. Without the beat
#: limit a 37-byte file with one huge delta time makes every later step (tokens, piano roll,
#: render) grow with its length: 0x0FFFFFFF ticks at 1 tick per beat is 268 million beats.
MAX_FILE_BYTES = 8 * 2**20
MAX_NOTES = 500_000
MAX_EVENTS = 2_000_000
MAX_BEATS = 50_000.0
TEMPO_RANGE = (20.0, 400.0)


@dataclass(frozen=True)
class Note:
    start: float  # beats (quarter notes) from the start
    duration: float  # beats
    pitch: int  # MIDI key
    velocity: int  # 1–127
    channel: int  # 0–15 (9 = GM drums)
    program: int = 0  # GM program (0-based) in force at the note's start


@dataclass(frozen=True)
class Score:
    notes: tuple[Note, ...]
    tempo_bpm: float = 120.0
    #: (start in beats, numerator, denominator), first at 0
    time_signatures: tuple[tuple[float, int, int], ...] = ((0.0, 4, 4),)
    source: str = ""
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def drum_notes(self) -> tuple[Note, ...]:
        return tuple(n for n in self.notes if n.channel == DRUM_CHANNEL)

    @property
    def tonal_notes(self) -> tuple[Note, ...]:
        return tuple(n for n in self.notes if n.channel != DRUM_CHANNEL)

    @property
    def end_beats(self) -> float:
        return max((n.start + n.duration for n in self.notes), default=0.0)


def read_midi(path: str | Path) -> Score:
    """Read a .mid/.midi file; raise InputError with one clear line if it can't be used."""
    import mido

    p = Path(path)
    if not p.is_file():
        raise InputError(f"MIDI file not found: {p}")
    size = p.stat().st_size
    if size == 0:
        raise InputError(f"MIDI file is empty: {p}")
    if size > MAX_FILE_BYTES:
        raise InputError(f"MIDI file too large: {p} is {size / 2**20:.0f} MiB (limit {MAX_FILE_BYTES // 2**20} MiB); split it first")
    try:
        mf = mido.MidiFile(str(p), clip=True)
    except Exception as e:  # mido raises OSError/EOFError/ValueError/KeyError on bad data
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise InputError(f"cannot read MIDI file {p}: {msg} (is it a Standard MIDI File?)") from e
    if mf.type == 2:
        raise InputError(f"{p}: MIDI type 2 (independent sequences) is not supported; export it as type 0 or 1")
    tpb = mf.ticks_per_beat or 480
    if tpb < 0 or tpb >= 0x8000:  # mido reads the division signed: bit 15 of the header's division: SMPTE frames x ticks per frame, not ticks per beat
        raise InputError(f"{p}: SMPTE time division (frames per second) is not supported; export the file with "
                         "ticks per quarter note (the usual 'PPQ' setting)")
    warnings: list[str] = []
    tempo = None
    sigs: list[tuple[float, int, int]] = []
    program = defaultdict(int)
    open_notes: dict[tuple[int, int], deque] = defaultdict(deque)
    notes: list[Note] = []
    tick = 0
    n_events = sum(len(tr) for tr in mf.tracks)
    if n_events > MAX_EVENTS:
        raise InputError(f"{p}: {n_events} MIDI events (limit {MAX_EVENTS}); split the file first")
    n_open = 0
    bad_tempo = 0
    for msg in mido.merge_tracks(mf.tracks):
        tick += msg.time
        beat = tick / tpb
        if beat > MAX_BEATS:
            raise InputError(f"{p}: the song is longer than {MAX_BEATS:.0f} beats (an event at beat {beat:.0f}); "
                             "a corrupt delta time? trim or split the file first")
        t = msg.type
        if t == "set_tempo":
            if msg.tempo <= 0:  # 0 µs per beat: no tempo at all (mido.tempo2bpm would divide by zero)
                bad_tempo += 1
            elif tempo is None:
                tempo = mido.tempo2bpm(msg.tempo)
        elif t == "time_signature":
            if sigs and abs(sigs[-1][0] - beat) < 1e-9:
                sigs[-1] = (beat, msg.numerator, msg.denominator)
            elif not sigs or (sigs[-1][1], sigs[-1][2]) != (msg.numerator, msg.denominator):
                sigs.append((beat, msg.numerator, msg.denominator))
        elif t == "program_change":
            program[msg.channel] = msg.program
        elif t == "note_on" and msg.velocity > 0:
            open_notes[(msg.channel, msg.note)].append((beat, msg.velocity, program[msg.channel]))
            n_open += 1
            if n_open + len(notes) > MAX_NOTES:
                raise InputError(f"{p}: more than {MAX_NOTES} notes; split the file first")
        elif t == "note_off" or (t == "note_on" and msg.velocity == 0):
            q = open_notes.get((msg.channel, msg.note))
            if q:
                start, vel, prog = q.popleft()
                n_open -= 1
                notes.append(Note(start, max(beat - start, 0.0), msg.note, vel, msg.channel, prog))
                if len(notes) > MAX_NOTES:
                    raise InputError(f"{p}: more than {MAX_NOTES} notes; split the file first")
    end = tick / tpb
    dangling = sum(len(q) for q in open_notes.values())
    for (ch, key), q in open_notes.items():
        for start, vel, prog in q:
            notes.append(Note(start, max(end - start, 0.25), key, vel, ch, prog))
    if dangling:
        warnings.append(f"{dangling} notes had no note-off; closed at the end of the file")
    if bad_tempo:
        warnings.append(f"{bad_tempo} tempo event(s) of 0 µs per beat ignored")
    if not notes:
        raise InputError(f"{p}: the MIDI file has no notes")
    if tempo is None:
        tempo = 120.0
    lo, hi = TEMPO_RANGE
    if not lo <= tempo <= hi:
        warnings.append(f"tempo {tempo:.1f} BPM is outside {lo:.0f}–{hi:.0f} BPM; clamped")
        tempo = min(max(tempo, lo), hi)
    if not sigs or sigs[0][0] > 0:
        sigs.insert(0, (0.0, 4, 4))
    notes.sort(key=lambda n: (n.start, n.channel, n.pitch))
    return Score(tuple(notes), float(tempo), tuple(sigs), str(p), tuple(warnings))


def write_midi(score: Score, path: str | Path, *, ticks_per_beat: int = 480) -> Path:
    """Write a type-1 file: a conductor track, then one track per channel used."""
    import mido

    p = Path(path)
    mf = mido.MidiFile(type=1, ticks_per_beat=ticks_per_beat)
    conductor = mido.MidiTrack()
    conductor.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(score.tempo_bpm), time=0))
    last = 0
    for beat, num, den in score.time_signatures:
        t = round(beat * ticks_per_beat)
        conductor.append(mido.MetaMessage("time_signature", numerator=num, denominator=den, time=t - last))
        last = t
    mf.tracks.append(conductor)
    by_channel: dict[int, list[Note]] = defaultdict(list)
    for n in score.notes:
        by_channel[n.channel].append(n)
    for ch in sorted(by_channel):
        track = mido.MidiTrack()
        events = []
        first_prog = by_channel[ch][0].program
        if ch != DRUM_CHANNEL:
            events.append((0, 0, mido.Message("program_change", channel=ch, program=first_prog)))
        for n in by_channel[ch]:
            # a micro-timing offset can put the first onset a fraction before beat 0; a file starts at tick 0
            on = max(round(n.start * ticks_per_beat), 0)
            off = max(round((n.start + n.duration) * ticks_per_beat), on + 1)
            events.append((on, 2, mido.Message("note_on", channel=ch, note=n.pitch, velocity=n.velocity)))
            events.append((off, 1, mido.Message("note_off", channel=ch, note=n.pitch, velocity=0)))
        events.sort(key=lambda e: (e[0], e[1]))
        last = 0
        for t, _, msg in events:
            track.append(msg.copy(time=t - last))
            last = t
        mf.tracks.append(track)
    from nomad_muse.paths import atomic_output

    with atomic_output(p, what="MIDI output") as tmp:  # temp file + rename: an old file survives a crash
        mf.save(str(tmp))
    return p
