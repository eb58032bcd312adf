"""Fuzz suite (issue 15 "done when"): hostile WAV/FLAC headers, MIDI (huge deltas, tempo 0, SMPTE,
running status, missing note-offs, byte flips), profile JSON and history databases.

Each kind is checked twice, both seeded (reproducible):
* in bulk, 150 cases in one child process under an address-space limit (tests/fuzz_child.py): every case
  parses or is refused with a MuseError (the one-line path) — no other exception, no memory blow-up;
* through the real command, a few cases each: exit 0 or 2, on 2 one stderr line without a traceback,
  and no pre-existing file changed (SHA-256 before/after; a damaged history is moved aside intact).
Plus a hypothesis property over profile dicts (derandomized).
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harden_util import limited, muse, tree_hashes

sys.path.insert(0, str(Path(__file__).parent))
import fuzz_child  # noqa: E402

CHILD = Path(__file__).with_name("fuzz_child.py")
MEM_MB = 1500


@pytest.mark.parametrize("kind", ["midi", "wav", "flac", "profile", "history"])
def test_bulk_cases_parse_or_are_refused_in_bounded_memory(tmp_path, kind):
    r = limited([str(CHILD), kind, "15", "150", str(tmp_path)], tmp_path, mem_mb=MEM_MB, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res["counts"]["crash"] == 0, res["crashes"]
    assert res["counts"]["refused"] > 0 and res["counts"]["ok"] > 0, res["counts"]  # both paths were exercised


def _check(r, before: dict, after: dict) -> None:
    assert r.returncode in (0, 2), (r.returncode, r.stderr[-2000:])
    assert "Traceback" not in r.stderr, r.stderr[-2000:]
    if r.returncode == 2:
        errors = [ln for ln in r.stderr.strip().splitlines() if ln.startswith("error:")]
        assert len(errors) == 1 and r.stderr.strip().splitlines()[-1] == errors[0], r.stderr[-2000:]
    changed = {k for k in before if after.get(k) != before[k]}  # new files (the data dir's FFTW wisdom) may appear
    assert not changed, f"pre-existing files changed: {sorted(changed)}"


def _keep(tmp_path) -> dict:
    (tmp_path / "keep.mid").write_bytes(fuzz_child.smf(b"\x00\x90\x3c\x64\x83\x60\x80\x3c\x00", 480))
    (tmp_path / "keep.html").write_text("old report")
    return tree_hashes(tmp_path)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_midi_through_generate(tmp_path, seed):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "c.mid").write_bytes(fuzz_child.midi_case(random.Random(seed)))
    before = _keep(tmp_path)
    r = muse(["generate", "in/c.mid", "-o", "keep.mid", "--bars", "1", "--seed", "1"], tmp_path, mem_mb=MEM_MB)
    after = tree_hashes(tmp_path)
    if r.returncode == 0:  # a prompt that parsed: the output was replaced, whole (it must read back)
        from nomad_muse.generator.midi_io import read_midi

        read_midi(tmp_path / "keep.mid")
        after["keep.mid"] = before["keep.mid"]
    _check(r, before, after)


@pytest.mark.parametrize("fmt,seed", [("wav", 1), ("wav", 2), ("flac", 1), ("flac", 2)])
def test_audio_headers_through_analyze(tmp_path, fmt, seed):
    base = fuzz_child._valid_audio(fmt.upper())
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / f"c.{fmt}").write_bytes(fuzz_child.audio_case(random.Random(seed), base, fmt.upper()))
    before = _keep(tmp_path)
    r = muse(["analyze", f"in/c.{fmt}", "--report", "keep.html"], tmp_path, mem_mb=MEM_MB)
    after = tree_hashes(tmp_path)
    if r.returncode == 0:
        assert (tmp_path / "keep.html").read_text().startswith("<!DOCTYPE html>")
        after["keep.html"] = before["keep.html"]
    _check(r, before, after)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_profile_json_through_import(tmp_path, seed):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "p.json").write_text(fuzz_child.profile_case(random.Random(seed)))
    before = _keep(tmp_path)
    r = muse(["profile", "import", "in/p.json"], tmp_path, mem_mb=MEM_MB)
    after = {k: v for k, v in tree_hashes(tmp_path).items() if not k.startswith("muse-home/")}
    _check(r, before, after)


@pytest.mark.parametrize("seed", [1, 2, 4, 5])
def test_history_db_through_bench_history(tmp_path, seed):
    home = tmp_path / "home"
    (home / "data").mkdir(parents=True)
    db = home / "data" / "history.sqlite"
    fuzz_child.history_case(random.Random(seed), db)
    before = tree_hashes(tmp_path)
    r = muse(["bench", "history"], tmp_path, mem_mb=MEM_MB, env={"MUSE_HOME": str(home)})
    after = tree_hashes(tmp_path)
    key = "home/data/history.sqlite"
    aside = [k for k in after if k.startswith("home/data/history.sqlite.corrupt-")]
    if aside:  # only a file failing the integrity check is moved aside, and it is kept byte for byte
        assert after[aside[0]] == before[key]
        after = {k: v for k, v in after.items() if k not in aside and k != key}
        before = {k: v for k, v in before.items() if k != key}
    elif db.stat().st_size and before[key] == __import__("hashlib").sha256(b"").hexdigest():
        before.pop(key)  # an empty file is a new database to SQLite: it gets the table, no data was there to lose
    _check(r, before, after)


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
                     lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3), max_leaves=12)


@settings(derandomize=True, max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(modules=_json, tuned=_json, extra=_json)
def test_any_profile_dict_loads_or_is_one_profile_error(modules, tuned, extra):
    from nomad_muse.errors import MuseError
    from nomad_muse.machine_profile.profile import PROFILE_VERSION, MachineProfile

    d = {"version": PROFILE_VERSION, "fingerprint": "f", "created": "now", "modules": modules, "tuned": tuned,
         "fftw_wisdom": extra, "measurements": extra, "unproven": extra}
    try:
        MachineProfile.from_dict(d)
    except MuseError as e:
        assert "\n" not in str(e)
