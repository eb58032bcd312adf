"""The analyzer's fast paths give exactly the numbers of the plain computation (issue 19; no timing here)."""

import numpy as np
from scipy import signal

from nomad_muse.analyzer.loudness import TruePeakMeter, oversampling_factor, true_peak_filter


def _one_pass(y: np.ndarray, sr: int) -> np.ndarray:
    up = oversampling_factor(sr=sr)
    h = true_peak_filter(up=up)
    ctx = len(h) // up - 1
    out = []
    for c in range(y.shape[1]):
        x = np.concatenate([np.zeros(ctx), y[:, c], np.zeros(ctx)])
        yo = signal.upfirdn(h, x, up)
        out.append(max(float(np.abs(y[:, c]).max()), float(np.abs(yo[ctx * up : x.size * up]).max())))
    return np.array(out)


def test_chunked_true_peak_equals_one_filter_pass():
    rng = np.random.default_rng(0)
    sr = 48000
    t = np.arange(5 * sr) / sr
    cases = [
        rng.standard_normal((5 * sr, 2)) * 0.1,  # white noise: near-Nyquist content
        np.stack([np.sin(2 * np.pi * 12000 * t + 1.0), 0.5 * np.sin(2 * np.pi * 997 * t)], axis=1),  # fs/4 intersample peaks
        np.zeros((5 * sr, 2)),
    ]
    spikes = rng.standard_normal((5 * sr, 2)) * 0.01
    spikes[[1000, 77777, 200001], 0] = [0.9, -0.95, 0.93]  # isolated peaks in different stretches
    spikes[[4095, 4096, 150000], 1] = [0.7, -0.7, 0.71]
    cases.append(spikes)
    for y in cases:
        for block in (4096, 65536, 1000):
            m = TruePeakMeter(sr=sr, n_channels=2)
            for s in range(0, y.shape[0], block):
                m.push(y[s : s + block])
            assert np.array_equal(m.finish(), _one_pass(y, sr))
