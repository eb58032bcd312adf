"""Outputs are written to a temp file in the same folder and renamed (issue 15 item 3)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nomad_muse.errors import ParameterError
from nomad_muse.paths import atomic_output


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    out = tmp_path / "song.mid"
    out.write_bytes(b"old good file")
    with pytest.raises(RuntimeError):
        with atomic_output(out) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("crash while writing")
    assert out.read_bytes() == b"old good file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["song.mid"]


def test_success_replaces_and_directory_target_is_one_line(tmp_path):
    out = tmp_path / "a.bin"
    out.write_bytes(b"old")
    with atomic_output(out) as tmp:
        tmp.write_bytes(b"new")
    assert out.read_bytes() == b"new"
    with pytest.raises(ParameterError, match="is a directory"):
        with atomic_output(tmp_path):
            pass


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_disk_full_is_a_parameter_error_naming_the_path(tmp_path):
    # a device is written in place (never replaced by a regular file); ENOSPC is one ParameterError
    with pytest.raises(ParameterError, match="/dev/full"):
        with atomic_output("/dev/full") as tmp:
            tmp.write_bytes(b"x" * 10)
    assert Path("/dev/full").is_char_device()


def test_generate_over_existing_file_and_into_a_directory(tmp_path):
    out = tmp_path / "existing.mid"
    out.write_bytes(b"keep me")
    muse = [sys.executable, "-m", "nomad_muse", "generate", "--bundled", "tonal", "--bars", "1", "--seed", "1"]
    p = subprocess.run([*muse, "-o", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 2 and "Traceback" not in p.stderr and "is a directory" in p.stderr, p.stderr
    assert out.read_bytes() == b"keep me"
    p = subprocess.run([*muse, "-o", str(out)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert out.read_bytes()[:4] == b"MThd"
    # no temp file left beside the output (muse-home is this test's MUSE_HOME: the sampler graph is cached there)
    assert sorted(x.name for x in tmp_path.iterdir() if x.name != "muse-home") == ["existing.mid"]


@pytest.mark.parametrize("args", [("--tempo", "0"), ("--tempo", "-5"), ("--tempo", "nan"), ("--tempo", "3"),
                                  ("--tempo", "1e9"), ("--seed", "-1")])
def test_generate_bad_tempo_or_seed_is_one_line(tmp_path, args):
    out = tmp_path / "t.mid"
    p = subprocess.run([sys.executable, "-m", "nomad_muse", "generate", "--bars", "1", *args, "-o", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 2 and "Traceback" not in p.stderr and args[0] in p.stderr, p.stderr
    assert not out.exists()
