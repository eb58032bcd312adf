"""Hostile and odd MIDI prompts: bounded while parsing, one clear line, exit 2, nothing overwritten.

Files are built byte by byte (Standard MIDI File 1.0: MThd + MTrk chunks, variable-length deltas)
so every case is exactly the malformation named, not what a writer library would produce.
"""

from __future__ import annotations

import os
import random
import resource
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from nomad_muse.errors import InputError
from nomad_muse.generator import midi_io


def vlq(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def smf(events: bytes, *, division: int = 480, fmt: int = 0) -> bytes:
    """One-track SMF; ``events`` = delta-time + message bytes, without the end-of-track."""
    body = events + b"\x00\xff\x2f\x00"
    return b"MThd" + struct.pack(">IHHH", 6, fmt, 1, division) + b"MTrk" + struct.pack(">I", len(body)) + body


NOTE = b"\x00\x90\x3c\x64" + vlq(480) + b"\x80\x3c\x00"  # one C4 quarter note


def _limited_muse(args, cwd: Path, mem_mb: int = 1500):
    """`muse …` in a child with an address-space limit: hostile input must not take the memory."""
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (mem_mb * 2**20, mem_mb * 2**20))
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "nomad_muse", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, preexec_fn=limit, env=env)


def _one_line(r) -> None:
    assert r.returncode == 2, (r.returncode, r.stderr[-1500:])
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_a_37_byte_delta_bomb_is_refused_while_parsing(tmp_path):
    bomb = smf(b"\x00\x90\x3c\x64" + vlq(0x0FFFFFFF) + b"\x80\x3c\x00", division=1)
    assert len(bomb) <= 40
    (tmp_path / "bomb.mid").write_bytes(bomb)
    out = tmp_path / "existing.mid"
    out.write_bytes(smf(NOTE))
    before = out.read_bytes()
    r = _limited_muse(["generate", "bomb.mid", "-o", str(out), "--bars", "1"], tmp_path)
    _one_line(r)
    assert "longer than" in r.stderr and "beats" in r.stderr
    assert out.read_bytes() == before  # the old output is intact


def test_smpte_division_is_one_line(tmp_path):
    (tmp_path / "smpte.mid").write_bytes(smf(NOTE, division=0xE728))  # -25 fps, 40 ticks per frame
    with pytest.raises(InputError, match="SMPTE"):
        midi_io.read_midi(tmp_path / "smpte.mid")
    _one_line(_limited_muse(["generate", "smpte.mid", "-o", "o.mid", "--bars", "1"], tmp_path))


def test_tempo_zero_is_ignored_with_a_warning(tmp_path):
    (tmp_path / "t0.mid").write_bytes(smf(b"\x00\xff\x51\x03\x00\x00\x00" + NOTE))
    s = midi_io.read_midi(tmp_path / "t0.mid")
    assert s.tempo_bpm == 120.0 and any("0 µs per beat" in w for w in s.warnings)
    r = _limited_muse(["generate", "t0.mid", "-o", "o.mid", "--bars", "1", "--seed", "1"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "note: 1 tempo event(s) of 0 µs per beat ignored" in r.stderr


def test_running_status_and_missing_note_offs(tmp_path):
    # note-on status once, then running status; the second note never gets a note-off
    ev = b"\x00\x90\x3c\x64" + vlq(240) + b"\x3e\x64" + vlq(240) + b"\x3c\x00"
    (tmp_path / "rs.mid").write_bytes(smf(ev))
    s = midi_io.read_midi(tmp_path / "rs.mid")
    assert [n.pitch for n in s.notes] == [60, 62]
    assert any("no note-off" in w for w in s.warnings)


def test_note_ons_without_note_offs_count_towards_the_note_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(midi_io, "MAX_NOTES", 1000)
    ev = b"\x00\x90" + b"".join(bytes([0x30 + (i % 40), 0x64]) + b"\x01" for i in range(1500))[:-1]
    (tmp_path / "open.mid").write_bytes(smf(ev))
    with pytest.raises(InputError, match="more than 1000 notes"):
        midi_io.read_midi(tmp_path / "open.mid")


def test_evaluate_generator_skips_a_bad_file_and_says_so(tmp_path):
    d = tmp_path / "songs"
    d.mkdir()
    (d / "good.mid").write_bytes(smf(NOTE * 16))
    (d / "zero_tempo.mid").write_bytes(smf(b"\x00\xff\x51\x03\x00\x00\x00" + NOTE * 16))
    (d / "bomb.mid").write_bytes(smf(b"\x00\x90\x3c\x64" + vlq(0x0FFFFFFF) + b"\x80\x3c\x00", division=1))
    r = _limited_muse(["evaluate", "generator", str(d), "--json"], tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    import json

    res = json.loads(r.stdout)
    assert [Path(s["file"]).name for s in res["skipped"]] == ["bomb.mid"]


@pytest.mark.parametrize("seed", range(40))
def test_fuzzed_midi_bytes_never_escape_as_a_traceback(tmp_path, seed):
    """Seeded mutations of a valid file: read_midi returns a Score or raises InputError, nothing else."""
    rng = random.Random(seed)
    data = bytearray(smf(b"\x00\xff\x51\x03\x07\xa1\x20" + NOTE * 8 + b"\x00\xc0\x05" + NOTE))
    for _ in range(rng.randint(1, 6)):
        i = rng.randrange(len(data))
        op = rng.random()
        if op < 0.5:
            data[i] = rng.randrange(256)
        elif op < 0.75:
            del data[i: i + rng.randint(1, 8)]
        else:
            data[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    f = tmp_path / "f.mid"
    f.write_bytes(bytes(data))
    try:
        s = midi_io.read_midi(f)
    except InputError as e:
        assert "\n" not in str(e)
    else:
        assert s.end_beats <= midi_io.MAX_BEATS + 1e-6 and len(s.notes) <= midi_io.MAX_NOTES
