"""FFT bench on the analyzer's real workload: planned pyFFTW vs numpy.fft vs scipy.fft.

Workload: the Welch pass of ``muse analyze`` over stereo audio — frame,
window, real FFT, ``|X|^2`` accumulate — at the analyzer's frame sizes, in
the same batches the analyzer uses.  Each method is timed with
``timeit.repeat`` (minimum kept, after a warm-up) and reported as a ratio to
``numpy.fft`` measured in the same run, so numbers from different machines
compare as ratios.  No assertions: speed lives here, not in tests.

Usage: ``python -m nomad_muse.hwbench.fft_bench [--seconds 30] [--repeat 5] [--json]``
"""

from __future__ import annotations

import argparse
import json
import timeit

import numpy as np


def _welch_pass(y: np.ndarray, *, n_fft: int, dtype: str, method: str) -> np.ndarray:
    from nomad_muse.analyzer import fft

    win = fft.get_window("hann", n_fft=n_fft)
    acc = np.zeros(n_fft // 2 + 1)
    for c in range(y.shape[1]):
        frames = fft.frame_signal(y[:, c], n_fft=n_fft, hop_length=n_fft // 2)
        if method == "pyfftw-planned":
            p, _ = fft.frames_power(frames, window=win, dtype=dtype)
            acc += p.sum(axis=0)
            continue
        acc_c = np.zeros_like(acc)
        for s in range(0, frames.shape[0], fft.DEFAULT_BATCH):
            xw = (frames[s : s + fft.DEFAULT_BATCH] * win).astype(dtype, copy=False)
            if method == "numpy.fft":
                X = np.fft.rfft(xw, axis=-1)
            else:
                import scipy.fft

                X = scipy.fft.rfft(xw, axis=-1)
            acc_c += (X.real**2 + X.imag**2).sum(axis=0)
        acc += acc_c
    return acc


def measure_fft(*, seconds: float = 30.0, sr: int = 48000, sizes=(1024, 2048, 4096, 8192, 16384),
                dtypes=("float64", "float32"), repeat: int = 5, number: int = 1) -> list[dict]:
    """Time one Welch pass over ``seconds`` of stereo noise per (size, dtype, method).

    Returns rows with ``ms`` (best of ``repeat``), ``frames_per_s`` and
    ``ratio_to_numpy`` (numpy.fft time / method time: > 1 means faster than numpy).
    """
    y = np.random.default_rng(0).standard_normal((int(seconds * sr), 2)) * 0.1
    rows = []
    for n_fft in sizes:
        n_frames = 2 * ((y.shape[0] - n_fft) // (n_fft // 2) + 1)
        for dtype in dtypes:
            ref = _welch_pass(y, n_fft=n_fft, dtype=dtype, method="numpy.fft")
            times = {}
            for method in ("numpy.fft", "scipy.fft", "pyfftw-planned"):
                out = _welch_pass(y, n_fft=n_fft, dtype=dtype, method=method)  # warm-up (plans, caches)
                np.testing.assert_allclose(out, ref, rtol=1e-3 if dtype == "float32" else 1e-9)
                t = min(timeit.repeat(lambda: _welch_pass(y, n_fft=n_fft, dtype=dtype, method=method),
                                      repeat=repeat, number=number)) / number
                times[method] = t
            for method, t in times.items():
                rows.append({"n_fft": n_fft, "dtype": dtype, "method": method, "ms": t * 1e3,
                             "frames_per_s": n_frames / t, "ratio_to_numpy": times["numpy.fft"] / t})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description="FFT bench on the analyzer's Welch workload (ratios to numpy.fft).")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    rows = measure_fft(seconds=a.seconds, repeat=a.repeat)
    if a.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"Welch pass over {a.seconds:g} s stereo at 48 kHz, hop n_fft/2, Hann; best of {a.repeat}")
    print(f"{'n_fft':>6} {'dtype':>8} {'method':>15} {'ms':>9} {'frames/s':>10} {'x numpy':>8}")
    for r in rows:
        print(f"{r['n_fft']:>6} {r['dtype']:>8} {r['method']:>15} {r['ms']:>9.2f} {r['frames_per_s']:>10.0f} {r['ratio_to_numpy']:>8.2f}")


if __name__ == "__main__":
    main()
