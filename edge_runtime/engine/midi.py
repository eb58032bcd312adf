"""MIDI in and out through python-rtmidi on JACK.

* In: read by **polling** a large queue (``queue_size_limit=8192``) — rtmidi
  callbacks run in JACK's process thread and wait for the GIL, which drops
  messages in bursts (measured in ../shared/notes/realtime-io.md: 3000/3000
  polled vs ~2545/3000 with a callback).  Notes become the live prompt when
  the musician pauses; MIDI clock (0xF8) drives the tempo when followed.
* Out: a virtual port; each generated note is sent when the playhead reaches
  it (JACK delivers on the next period).
"""

from __future__ import annotations

import heapq
import math
import queue
import time

from nomad_muse.engine.clock import MidiClockFollower
from nomad_muse.errors import InputError

QUEUE_SIZE = 8192


def _rtmidi():
    try:
        import rtmidi
    except ImportError as e:  # pragma: no cover - a dependency of the package
        raise InputError("python-rtmidi is not installed; `pip install python-rtmidi`") from e
    return rtmidi


def _open(port_obj, port: str | None, kind: str, virtual_name: str):
    """Open a virtual port (``port`` None) or connect to the first existing port whose name contains ``port``."""
    if port is None:
        port_obj.open_virtual_port(virtual_name)
        return f"{virtual_name} (virtual)"
    names = port_obj.get_ports()
    for i, n in enumerate(names):
        if port.lower() in n.lower():
            port_obj.open_port(i)
            return n
    raise InputError(f"midi_{kind}={port!r}: no such MIDI port; ports here: {', '.join(names) or 'none'} "
                     f"(or leave it out for a virtual port, or pass 'none')", field=f"midi_{kind}")


def _jack_error(e: Exception, what: str) -> InputError:
    msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return InputError(f"{what}: {msg} — is a JACK server running? (`jackd -d dummy -r 48000 -p 256`); "
                      "or run without MIDI (midi_in='none', midi_out='none')")


def frame_now(engine) -> float:
    """The playhead (samples) now, between callbacks: last callback position + time since."""
    if engine.last_cb_time == 0.0:
        return float(engine.frames)
    return engine.frames + (time.perf_counter() - engine.last_cb_time) * engine.cfg.sample_rate


class MidiInput:
    """Polled JACK MIDI input → live prompt (and MIDI clock → tempo)."""

    name = "midi in"

    def __init__(self, engine, generator_worker, *, port: str | None = None, client: str = "muse") -> None:
        rtmidi = _rtmidi()
        self.e, self.gw = engine, generator_worker
        try:
            self.mi = rtmidi.MidiIn(rtapi=rtmidi.API_UNIX_JACK, name=f"{client}-in", queue_size_limit=QUEUE_SIZE)
        except (SystemError, rtmidi.RtMidiError) as e:
            raise _jack_error(e, "MIDI in") from None
        self.mi.ignore_types(sysex=True, timing=not engine.cfg.follow_midi_clock, active_sense=True)
        self.port = _open(self.mi, port, "in", "in")
        self.follower = MidiClockFollower()
        self._open: dict[tuple[int, int], tuple[float, int]] = {}
        self._program: dict[int, int] = {}
        self.phrase: list = []
        self._last_note_beat = -math.inf
        self.received_notes: list[tuple[float, int, int]] = []  # (frame, channel, pitch) of every note-on

    def step(self) -> bool:
        from nomad_muse.generator.midi_io import Note

        e = self.e
        did = False
        while True:
            m = self.mi.get_message()
            if m is None:
                break
            did = True
            msg, _delta = m
            e.counters.midi_in_messages += 1
            if not msg:
                continue
            st = msg[0]
            if st == 0xF8:
                bpm = self.follower.pulse()
                if bpm is not None:
                    e.clock.set_tempo(bpm, int(frame_now(e)))
                continue
            if st in (0xFA, 0xFC):
                self.follower.reset()
                continue
            kind, ch = st & 0xF0, st & 0x0F
            f = frame_now(e)
            beat = e.clock.beat_at(f)
            if kind == 0xC0 and len(msg) > 1:
                self._program[ch] = msg[1]
            elif kind == 0x90 and len(msg) > 2 and msg[2] > 0:
                self._open[(ch, msg[1])] = (beat, msg[2])
                self.received_notes.append((f, ch, msg[1]))
                self._last_note_beat = beat
            elif (kind == 0x80 or (kind == 0x90 and len(msg) > 2 and msg[2] == 0)) and len(msg) > 1:
                o = self._open.pop((ch, msg[1]), None)
                if o is not None:
                    self.phrase.append(Note(o[0], max(beat - o[0], 0.05), msg[1], o[1], ch, self._program.get(ch, 0)))
                    self._last_note_beat = max(self._last_note_beat, beat)
        self._maybe_prompt()
        return did

    def _maybe_prompt(self) -> None:
        from nomad_muse.generator.midi_io import Score

        e = self.e
        if not self.phrase or self._open:
            return
        if e.clock.beat_at(frame_now(e)) - self._last_note_beat < e.cfg.prompt_idle_beats:
            return
        bpb = e.clock.beats_per_bar
        shift = math.floor(min(n.start for n in self.phrase) / bpb) * bpb
        notes = tuple(sorted((type(n)(n.start - shift, n.duration, n.pitch, n.velocity, n.channel, n.program)
                              for n in self.phrase), key=lambda n: (n.start, n.channel, n.pitch)))
        e.counters.prompt_notes += len(notes)
        self.phrase = []
        self.gw.set_prompt(Score(notes, e.clock.bpm, ((0.0, 4, 4),), source="MIDI in"))

    def close(self) -> None:
        try:
            self.mi.close_port()
            self.mi.delete()
        except Exception:  # noqa: BLE001 - the server may be gone already
            pass


class MidiOutput:
    """Generated notes → a JACK MIDI port, each sent when the playhead reaches it."""

    name = "midi out"

    def __init__(self, engine, *, port: str | None = None, client: str = "muse") -> None:
        rtmidi = _rtmidi()
        self.e = engine
        try:
            self.mo = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name=f"{client}-out")
        except (SystemError, rtmidi.RtMidiError) as e:
            raise _jack_error(e, "MIDI out") from None
        self.port = _open(self.mo, port, "out", "out")
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        engine.midi_out_queue = self.queue
        self._heap: list[tuple] = []  # (frame, 0 off / 1 on, ch, pitch, vel, id, event)
        self._epoch_seen = 0
        self._sounding: set[tuple[int, int]] = set()
        self.sent: list[tuple[int, float, list[int]]] = []  # (scheduled frame, frame sent, message), bounded
        self._late_frames = 2 * engine.cfg.block_size

    def step(self) -> bool:
        e = self.e
        while True:
            try:
                ev = self.queue.get_nowait()
            except queue.Empty:
                break
            heapq.heappush(self._heap, (ev.start, 1, ev.channel, ev.pitch, ev.velocity, id(ev), ev))
            heapq.heappush(self._heap, (ev.end, 0, ev.channel, ev.pitch, 0, id(ev), ev))
        if e.cut[0] != self._epoch_seen:  # a re-prime: drop the old generation's notes that have not started
            self._epoch_seen = e.cut[0]
            self._heap = [h for h in self._heap if not e.cancelled(h[-1])]
            heapq.heapify(self._heap)
        now = frame_now(e)
        did = False
        while self._heap and self._heap[0][0] <= now:
            frame, on, ch, pitch, vel, _, _ = heapq.heappop(self._heap)
            msg = [(0x90 if on else 0x80) | ch, pitch, vel]
            self.mo.send_message(msg)
            (self._sounding.add if on else self._sounding.discard)((ch, pitch))
            e.counters.midi_out_sent += 1
            if now - frame > self._late_frames:
                e.counters.midi_out_late += 1
            if len(self.sent) < 100_000:
                self.sent.append((frame, now, msg))
            did = True
        return did

    def close(self) -> None:
        try:
            for ch, pitch in list(self._sounding):
                self.mo.send_message([0x80 | ch, pitch, 0])
            self.mo.close_port()
            self.mo.delete()
        except Exception:  # noqa: BLE001 - the server may be gone already
            pass
