"""Run seeded hostile cases of one kind inside this (memory-limited) process; print one JSON line.

``python fuzz_child.py KIND SEED N DIR``: writes N cases into DIR, feeds each to the parser the
commands use, and records per case ``ok`` (parsed), ``refused`` (a MuseError: the one-line path) or
``crash`` (any other exception: a traceback the user would see).  The parent test asserts no crash.
"""

from __future__ import annotations

import json
import random
import sqlite3
import struct
import sys
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


def vlq(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def smf(body: bytes, division: int, fmt: int = 0, ntracks: int = 1) -> bytes:
    body = body + b"\x00\xff\x2f\x00"
    return b"MThd" + struct.pack(">IHHH", 6, fmt, ntracks, division) + b"MTrk" + struct.pack(">I", len(body)) + body


def midi_case(rng: random.Random) -> bytes:
    """A hostile SMF: huge deltas, tempo 0, SMPTE division, running status, missing note-offs, byte flips."""
    ev = bytearray()
    division = rng.choice([1, 96, 480, 0x7FFF, 0xE728, 0xE250, 0x8000, 0])
    for _ in range(rng.randint(1, 60)):
        r = rng.random()
        delta = rng.choice([0, 1, 120, 480, 0x0FFFFFFF, rng.randint(0, 1 << 20)])
        if r < 0.15:
            ev += vlq(delta) + b"\xff\x51\x03" + rng.choice([b"\x00\x00\x00", b"\x00\x00\x01", b"\xff\xff\xff", b"\x07\xa1\x20"])
        elif r < 0.3:  # running status: a note-on then bare data pairs
            ev += vlq(delta) + bytes([0x90 | rng.randint(0, 15), rng.randint(0, 127), rng.randint(1, 127)])
            for _ in range(rng.randint(1, 20)):
                ev += vlq(rng.randint(0, 100)) + bytes([rng.randint(0, 127), rng.randint(0, 127)])
        elif r < 0.6:  # note-on, often without its note-off
            ev += vlq(delta) + bytes([0x90 | rng.randint(0, 15), rng.randint(0, 127), rng.randint(1, 127)])
        elif r < 0.75:
            ev += vlq(delta) + bytes([0x80 | rng.randint(0, 15), rng.randint(0, 127), 0])
        elif r < 0.85:
            ev += vlq(delta) + b"\xff\x58\x04" + bytes([rng.randint(0, 40), rng.randint(0, 8), 24, 8])
        else:
            ev += vlq(delta) + bytes([rng.randint(0x80, 0xFF)]) + bytes(rng.randint(0, 255) for _ in range(rng.randint(0, 4)))
    data = bytearray(smf(bytes(ev), division, fmt=rng.choice([0, 0, 1, 2]), ntracks=rng.choice([1, 1, 2, 0xFFFF])))
    for _ in range(rng.choice([0, 0, 1, 3])):
        data[rng.randrange(len(data))] = rng.randrange(256)
    if rng.random() < 0.2:
        data = data[: rng.randint(4, len(data))]
    return bytes(data)


def _valid_audio(fmt: str) -> bytes:
    import io

    import numpy as np
    import soundfile as sf

    y = (np.sin(np.arange(24000) * 0.05)[:, None] * [0.3, 0.2]).astype(np.float32)
    b = io.BytesIO()
    sf.write(b, y, 48000, format=fmt, subtype="PCM_16")
    return b.getvalue()


def audio_case(rng: random.Random, base: bytes, fmt: str) -> bytes:
    """A WAV/FLAC whose header fields (rate, channels, sizes, block align, chunk ids) are mutated."""
    data = bytearray(base)
    head = 64 if fmt == "WAV" else 128
    for _ in range(rng.randint(1, 6)):
        i = rng.randrange(min(head, len(data)))
        data[i] = rng.choice([0, 0xFF, rng.randrange(256)])
    if fmt == "WAV" and rng.random() < 0.5:  # a size field set to a huge or zero value
        off = rng.choice([4, 40, 16, 24, 28])
        data[off:off + 4] = struct.pack("<I", rng.choice([0, 0xFFFFFFFF, 0x7FFFFFFF, rng.randrange(1 << 32)]))
    if rng.random() < 0.3:
        data = data[: rng.randint(8, len(data))]
    return bytes(data)


def profile_case(rng: random.Random) -> str:
    from nomad_muse.machine_profile.profile import PROFILE_VERSION

    def junk(depth=0):
        r = rng.random()
        if depth > 3 or r < 0.3:
            return rng.choice([None, True, -1, 0, 100.5, 1e308, "fp64", "", "x" * 50, [], {}, 10 ** rng.randint(1, 40)])
        if r < 0.6:
            return [junk(depth + 1) for _ in range(rng.randint(0, 3))]
        return {rng.choice(["tuned", "block_size", "precision", "model", "runtime", "x"]): junk(depth + 1) for _ in range(rng.randint(0, 3))}

    d = {"version": rng.choice([PROFILE_VERSION] * 4 + [0, "1", None]), "fingerprint": rng.choice(["x", 3, None]),
         "created": "now", "modules": rng.choice([{}, [], {"classifier": junk()}, {"generator": {"runtime": "onnxruntime", "device": "CPU",
                                                                                                  "precision": junk(), "model": junk()}}]),
         "tuned": rng.choice([{}, [], junk(), {"block_size": junk()}, {"classifier_hop_ms": junk(), "generator_chunk": junk()}]),
         "fftw_wisdom": rng.choice([None, "/etc/passwd", junk()]), "measurements": junk(), "unproven": junk()}
    for k in list(d):
        if rng.random() < 0.1:
            del d[k]
    text = json.dumps(d)
    r = rng.random()
    if r < 0.1:
        text = "[" * rng.choice([1000, 100_000]) + "]" * rng.choice([0, 1000])
    elif r < 0.2:
        text = text[: rng.randrange(len(text))]
    return text


def history_case(rng: random.Random, path: Path) -> None:
    """A history.sqlite: valid, another schema, random bytes, a truncated or byte-flipped database."""
    r = rng.random()
    if r < 0.2:
        path.write_bytes(bytes(rng.randrange(256) for _ in range(rng.choice([0, 10, 100, 5000]))))
        return
    con = sqlite3.connect(path)
    if r < 0.4:
        con.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, other TEXT)")
    else:
        con.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, created TEXT NOT NULL, "
                    "fingerprint TEXT, summary TEXT, payload TEXT NOT NULL)")
        for i in range(rng.randint(0, 30)):
            con.execute("INSERT INTO runs (kind, created, fingerprint, summary, payload) VALUES (?,?,?,?,?)",
                        ("bench", "now", "x", "s", rng.choice(["{}", "[" * 5000, "not json", '{"a": 1}'])))
    con.commit()
    con.close()
    data = bytearray(path.read_bytes())
    if r > 0.7:
        for _ in range(rng.randint(1, 20)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif r > 0.6:
        data = data[: rng.randrange(len(data))]
    path.write_bytes(bytes(data))


def run(kind: str, seed: int, n: int, d: Path) -> dict:
    from nomad_muse.errors import MuseError

    rng = random.Random(seed)
    counts = {"ok": 0, "refused": 0, "crash": 0}
    crashes = []
    base = {"wav": _valid_audio("WAV"), "flac": _valid_audio("FLAC")}.get(kind)
    for i in range(n):
        try:
            if kind == "midi":
                from nomad_muse.generator.midi_io import read_midi

                p = d / f"c{i}.mid"
                p.write_bytes(midi_case(rng))
                read_midi(p)
            elif kind in ("wav", "flac"):
                from nomad_muse.audio_io import iter_blocks, probe_audio

                p = d / f"c{i}.{kind}"
                p.write_bytes(audio_case(rng, base, kind.upper()))
                for _ in iter_blocks(probe_audio(p, min_duration_s=0.0), min_duration_s=0.0):
                    pass
            elif kind == "profile":
                from nomad_muse.machine_profile.profile import read_profile

                p = d / f"c{i}.json"
                p.write_text(profile_case(rng))
                read_profile(p)
            elif kind == "history":
                from nomad_muse.machine_profile.history import RunStore

                p = d / f"h{i}" / "history.sqlite"
                p.parent.mkdir()
                history_case(rng, p)
                with RunStore(p, timeout=1.0) as s:
                    for row in s.list():
                        s.get(row["id"])
            counts["ok"] += 1
        except MuseError:
            counts["refused"] += 1
        except Exception:  # noqa: BLE001 - the point: anything else is a crash
            counts["crash"] += 1
            crashes.append({"case": i, "traceback": traceback.format_exc()[-1200:]})
    return {"counts": counts, "crashes": crashes[:3]}


if __name__ == "__main__":
    kind, seed, n, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
    print(json.dumps(run(kind, seed, n, d)))
