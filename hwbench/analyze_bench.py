"""``muse analyze`` against the pyloudnorm process, same run (issue 19: whole-file analysis as fast as pyloudnorm).

Both run as fresh child processes on the same 3-minute stereo 48 kHz file
(written once into a temporary folder: pink-ish noise under a chord and a
kick pattern, so every meter has work), and each is charged the CPU time
(user + system) its process used, from ``getrusage(RUSAGE_CHILDREN)``:

* ``muse analyze FILE --json`` — every meter (loudness, LRA, true peak,
  spectra, stereo, dynamics, onsets) and the suggestions, start-up included;
* ``python -c "soundfile.read; pyloudnorm.Meter(sr).integrated_loudness"`` —
  integrated loudness only, start-up included.

``ratio`` = analyze CPU ÷ pyloudnorm CPU (target ≤ 1.0).  pyloudnorm is in
the ``test`` extra; without it the cell says it was skipped and why.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

PYLN = "import sys, soundfile as sf, pyloudnorm as pyln; y, sr = sf.read(sys.argv[1]); print(pyln.Meter(sr).integrated_loudness(y))"


def _signal(seconds: float, sr: int = 48000) -> np.ndarray:
    rng = np.random.default_rng(19)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    noise = np.cumsum(rng.standard_normal((n, 2)), axis=0)
    noise -= np.linspace(noise[0], noise[-1], n)  # no drift
    noise *= 0.05 / max(float(np.abs(noise).max()), 1e-9)
    chord = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) * 0.08
    beat = int(0.5 * sr)
    env = np.exp(-np.arange(beat) / (0.04 * sr))
    kick = np.zeros(n)
    for s in range(0, n - beat, beat):
        kick[s : s + beat] += 0.4 * np.sin(2 * np.pi * 55.0 * np.arange(beat) / sr) * env
    y = noise + np.stack([chord + kick, 0.9 * chord + kick], axis=1)
    return (y / max(1.0, float(np.abs(y).max()) / 0.9)).astype(np.float32)


def _child_cpu(cmd: list[str]) -> tuple[float, subprocess.CompletedProcess]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), r


def bench_analyze_vs_pyloudnorm(seconds: float = 180.0) -> dict:
    """CPU seconds of ``muse analyze --json`` and of the pyloudnorm process on one ``seconds``-long stereo file."""
    try:
        import pyloudnorm  # noqa: F401
    except ImportError as e:
        return {"skipped": f"pyloudnorm not installed ({e}); pip install '.[test]'"}
    import soundfile as sf

    with tempfile.TemporaryDirectory(prefix="muse-bench-analyze-") as d:
        wav = Path(d) / "mix.wav"
        sf.write(str(wav), _signal(seconds), 48000, subtype="FLOAT")
        cpu_a, ra = _child_cpu([sys.executable, "-m", "nomad_muse.app.cli", "analyze", str(wav), "--json"])
        cpu_p, rp = _child_cpu([sys.executable, "-c", PYLN, str(wav)])
    if ra.returncode != 0 or rp.returncode != 0:
        return {"error": (ra.stderr or rp.stderr).strip().splitlines()[-1:] or ["failed"]}
    return {"seconds": seconds, "sample_rate": 48000, "channels": 2, "analyze_cpu_s": cpu_a, "pyloudnorm_cpu_s": cpu_p,
            "ratio": cpu_a / cpu_p if cpu_p > 0 else None, "target": "<= 1.0",
            "pyloudnorm_lufs": float(rp.stdout.strip() or "nan")}
