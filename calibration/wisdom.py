"""FFTW wisdom for the analyzer's frame sizes, planned once per machine and stored in the data dir.

The analyzer plans batched real FFTs (``nomad_muse.analyzer.fft.get_plan``:
``(DEFAULT_BATCH, n_fft)``, float64 by default, float32 optional) with
FFTW_MEASURE and imports the saved wisdom first.  Calibration plans those
exact shapes ahead of time — FFTW_MEASURE, or FFTW_PATIENT with
``--thorough`` (wisdom from a more thorough planner also answers MEASURE
requests) — and writes the wisdom files the analyzer imports, so a live
session never pays the planning time.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from nomad_muse.machine_profile import sha256_file

#: onset detector's FFT at 44.1/48 kHz (engine: power of two nearest 42.6 ms)
ONSET_SIZES = (2048,)


def plan_sizes(sizes: Sequence[int], *, patient: bool = False, dtypes: Sequence[str] = ("float64", "float32")) -> dict:
    """Plan ``sizes`` (+ the onset size) for each dtype and save the wisdom; returns what was done.

    Returns ``{"flag", "sizes", "batch", "dtypes", "seconds", "files": {name: sha256}, "dir"}``,
    or ``{"skipped": reason}`` when pyFFTW is not importable (the analyzer then uses numpy.fft).
    """
    from nomad_muse.analyzer import fft

    m = fft._pyfftw()
    if m is None:
        return {"skipped": "pyfftw not importable: the analyzer uses numpy.fft, no wisdom to plan"}
    fft.import_wisdom()
    flag = "FFTW_PATIENT" if patient else "FFTW_MEASURE"
    all_sizes = sorted(set(int(s) for s in sizes) | set(ONSET_SIZES))
    t0 = time.perf_counter()
    per = {}
    for dtype in dtypes:
        for n in all_sizes:
            t1 = time.perf_counter()
            a = m.empty_aligned((fft.DEFAULT_BATCH, n), dtype=dtype)
            b = m.empty_aligned((fft.DEFAULT_BATCH, n // 2 + 1), dtype="complex64" if dtype == "float32" else "complex128")
            m.FFTW(a, b, axes=(-1,), direction="FFTW_FORWARD", flags=(flag,), threads=1)
            per[f"{dtype}/{n}"] = round(time.perf_counter() - t1, 3)
    fft.export_wisdom()
    paths = fft.wisdom_paths()
    return {
        "flag": flag,
        "sizes": all_sizes,
        "batch": fft.DEFAULT_BATCH,
        "dtypes": list(dtypes),
        "seconds": round(time.perf_counter() - t0, 3),
        "plan_seconds": per,
        "dir": str(paths["double"].parent),
        "files": {p.name: sha256_file(p) for p in paths.values() if p.is_file()},
    }
