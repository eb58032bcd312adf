"""Helpers of the hardening and fuzz tests: sparse audio files, `muse` in a memory-limited child,
the one-line-error check, and a hash of every file under a folder (nothing pre-existing changed)."""

from __future__ import annotations

import hashlib
import os
import resource
import struct
import subprocess
import sys
from pathlib import Path


def sparse_wav(path: Path, seconds: float, *, sr: int = 48000, channels: int = 2, bits: int = 16,
               declared_seconds: float | None = None) -> Path:
    """A PCM WAV of digital silence whose data is a hole in the file (no disk used, any length).

    ``declared_seconds`` > ``seconds`` writes a header that promises more than is there (truncated file)."""
    n = int(seconds * sr)
    nd = int((declared_seconds or seconds) * sr)
    align = channels * bits // 8
    data, declared = n * align, nd * align
    hdr = (b"RIFF" + struct.pack("<I", 36 + declared) + b"WAVE" + b"fmt "
           + struct.pack("<IHHIIHH", 16, 1, channels, sr, sr * align, align, bits) + b"data" + struct.pack("<I", declared))
    with open(path, "wb") as f:
        f.write(hdr)
        f.truncate(len(hdr) + data)
    return Path(path)


def limited(argv: list[str], cwd: Path, *, mem_mb: int = 1500, env: dict | None = None, timeout: float = 300,
            input: str | None = None) -> subprocess.CompletedProcess:
    """Run ``argv`` (after the interpreter) in a child with an address-space limit of ``mem_mb`` MiB."""
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (mem_mb * 2**20, mem_mb * 2**20))
    e = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run([sys.executable, *argv], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          preexec_fn=limit, env=e, input=input)


def muse(args: list[str], cwd: Path, **kw) -> subprocess.CompletedProcess:
    """``muse ARGS`` in a memory-limited child (see :func:`limited`)."""
    return limited(["-m", "nomad_muse", *[str(a) for a in args]], cwd, **kw)


def one_line(r: subprocess.CompletedProcess, code: int = 2) -> str:
    """Assert exit ``code`` with one stderr line and no traceback; return the line."""
    assert r.returncode == code, (r.returncode, r.stderr[-2000:])
    lines = r.stderr.strip().splitlines()
    assert "Traceback" not in r.stderr and len(lines) == 1, r.stderr[-2000:]
    return lines[0]


def tree_hashes(root: Path) -> dict[str, str]:
    """SHA-256 of every regular file under ``root`` (relative path → hex)."""
    out = {}
    for p in sorted(Path(root).rglob("*")):
        if p.is_file() and not p.is_symlink():
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out
