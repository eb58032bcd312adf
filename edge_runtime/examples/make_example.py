"""Render ``example_mix.flac``: a 12 s stereo arrangement synthesized in numpy, with one planted fault.

Run ``python -m nomad_muse.examples.make_example [OUT]`` (default: next to
this file). Deterministic: a fixed seed and no randomness elsewhere, so the
same numpy produces the same samples. Only numpy and soundfile are used.

The arrangement (120 bpm, 6 bars of 4/4, C - Am - F - G - C - G):

* kick: sine sweep 150 -> 48 Hz with an exponential decay, beats 1 and 3 (+ an "and of 3");
* snare: a 190 Hz body tone plus band-passed noise, beats 2 and 4;
* hi-hat: high-passed noise bursts on the 8ths, slightly right;
* bass: a 4-harmonic additive voice on the chord roots (8th-note pulse), centre;
* chords: two additive-synth voices (organ-ish and soft-saw), panned 70 % left / 70 % right.

Mix bus: a fixed EQ (``BALANCE_EQ``, applied as a zero-phase gain curve on
the whole-signal spectrum) that puts the *clean* mix (``--clean``) within
about 0.5 dB of the median of the shipped ``pop`` target in every band, then
the **planted fault** (``FAULT_EQ``): a broad +9 dB bell centred at 330 Hz,
0.8 octave wide, i.e. low-mid "mud" (about +4 dB above pop's 90th
percentile in the 250-500 Hz band after loudness normalisation; a +6 dB bell
lands inside the 3 dB tolerance). ``muse analyze --example`` (compared with
``pop``) reports ``mud`` and nothing that contradicts it. Finally the master
is scaled to about -14 LUFS (approximate K-weighting); true peak is about
-2.8 dBTP. See README.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 44100
BPM = 120.0
BEAT = 60.0 / BPM
BARS = 6
DURATION_S = BARS * 4 * BEAT          # 12 s
SEED = 20261124
#: mix-bus balance EQ: (Hz, dB) points, linear in log-frequency between them
BALANCE_EQ = ((20.0, -18.7), (35.0, -18.7), (122.0, -5.0), (354.0, -7.6), (1000.0, 3.6), (3464.0, -4.7),
              (8485.0, -10.4), (15492.0, -7.1), (22050.0, -7.1))
#: the planted fault: (centre Hz, gain dB, width in octaves between the -3 dB points of the bell)
FAULT_EQ = (330.0, 9.0, 0.8)
TARGET_LUFS = -14.0

# chord roots (MIDI) and triads, one chord per bar
PROGRESSION = ((48, (60, 64, 67)), (45, (57, 60, 64)), (41, (57, 60, 65)), (43, (55, 59, 62)),
               (48, (60, 64, 67)), (43, (55, 59, 62)))


def midi_hz(m: float) -> float:
    return 440.0 * 2.0 ** ((m - 69) / 12.0)


def _t(n: int) -> np.ndarray:
    return np.arange(n) / SR


def _env(n: int, *, attack_s: float, decay_s: float) -> np.ndarray:
    t = _t(n)
    a = np.clip(t / max(attack_s, 1e-4), 0.0, 1.0)
    return a * np.exp(-t / decay_s)


def _spectral_filter(x: np.ndarray, gain_of_hz) -> np.ndarray:
    """Zero-phase filter: multiply the rFFT of ``x`` (1-D or frames x channels) by ``gain_of_hz(f)``."""
    X = np.fft.rfft(x, axis=0)
    f = np.fft.rfftfreq(x.shape[0], 1.0 / SR)
    g = gain_of_hz(f)
    return np.fft.irfft(X * (g if X.ndim == 1 else g[:, None]), n=x.shape[0], axis=0)


def _band(lo: float | None, hi: float | None, order: int = 2):
    """Butterworth-like magnitude: high-pass at ``lo`` and/or low-pass at ``hi``."""
    def g(f):
        out = np.ones_like(f)
        if lo is not None:
            r = f / lo
            out *= r ** order / np.sqrt(1.0 + r ** (2 * order))
        if hi is not None:
            out *= 1.0 / np.sqrt(1.0 + (f / hi) ** (2 * order))
        return out
    return g


def _eq_curve_db(f: np.ndarray, points) -> np.ndarray:
    fp = np.log2([p[0] for p in points])
    return np.interp(np.log2(np.maximum(f, 1.0)), fp, [p[1] for p in points])


def _bell_db(f: np.ndarray, centre: float, gain_db: float, width_oct: float) -> np.ndarray:
    """A bell in log-frequency: ``gain_db`` at ``centre``, ``gain_db - 3`` dB at +- width/2 octaves."""
    x = np.log2(np.maximum(f, 1.0) / centre)
    half = width_oct / 2.0
    # Gaussian in octaves whose dB gain falls by 3 dB at +-half (for gain_db > 3)
    sigma = half / np.sqrt(2.0 * np.log(gain_db / max(gain_db - 3.0, 1e-3)))
    return gain_db * np.exp(-0.5 * (x / sigma) ** 2)


def _place(track: np.ndarray, sound: np.ndarray, at_s: float, gain: float = 1.0) -> None:
    i = int(round(at_s * SR))
    j = min(track.shape[0], i + sound.shape[0])
    if i < j:
        track[i:j] += gain * sound[: j - i]


def kick() -> np.ndarray:
    n = int(0.45 * SR)
    t = _t(n)
    f = 48.0 + (150.0 - 48.0) * np.exp(-t / 0.035)
    ph = 2 * np.pi * np.cumsum(f) / SR
    click = np.exp(-t / 0.002) * 0.3
    return (np.sin(ph) + click * np.sin(2 * np.pi * 1800 * t)) * _env(n, attack_s=0.001, decay_s=0.16)


def snare(rng: np.random.Generator) -> np.ndarray:
    n = int(0.3 * SR)
    t = _t(n)
    body = 0.6 * np.sin(2 * np.pi * 190 * t) * _env(n, attack_s=0.001, decay_s=0.05)
    noise = _spectral_filter(rng.standard_normal(n), _band(1200.0, 9000.0)) * _env(n, attack_s=0.001, decay_s=0.07)
    return body + 0.5 * noise


def hat(rng: np.random.Generator, *, open_: bool = False) -> np.ndarray:
    n = int((0.25 if open_ else 0.06) * SR)
    noise = _spectral_filter(rng.standard_normal(n), _band(7000.0, None, order=3))
    return noise * _env(n, attack_s=0.0005, decay_s=0.09 if open_ else 0.018)


def additive(freq: float, n: int, amps, *, attack_s: float, decay_s: float, detune: float = 0.0) -> np.ndarray:
    t = _t(n)
    y = np.zeros(n)
    for k, a in enumerate(amps, start=1):
        if k * freq < SR / 2 * 0.9:
            y += a * np.sin(2 * np.pi * k * freq * (1.0 + detune) * t + 0.7 * k)
    return y * _env(n, attack_s=attack_s, decay_s=decay_s)


def render() -> np.ndarray:
    """The mix (frames x 2, float64), before the master gain."""
    rng = np.random.default_rng(SEED)
    n = int(round(DURATION_S * SR))
    drums = np.zeros(n)
    hats_l = np.zeros(n)
    hats_r = np.zeros(n)
    bass = np.zeros(n)
    pad_l = np.zeros(n)
    pad_r = np.zeros(n)
    k, s = kick(), snare(rng)
    for bar in range(BARS):
        t0 = bar * 4 * BEAT
        for b in (0.0, 2.0, 2.5):
            _place(drums, k, t0 + b * BEAT, 0.45 if b != 2.5 else 0.3)
        for b in (1.0, 3.0):
            _place(drums, s, t0 + b * BEAT, 0.55)
        for e in range(8):
            h = hat(rng, open_=(e == 7))
            _place(hats_l, h, t0 + e * BEAT / 2, 0.10)
            _place(hats_r, h, t0 + e * BEAT / 2, 0.16)
        root, triad = PROGRESSION[bar]
        for e in range(8):
            m = root - 12 + (12 if e in (3, 7) else 0)
            note = additive(midi_hz(m), int(BEAT / 2 * SR), (1.0, 0.5, 0.3, 0.15), attack_s=0.005, decay_s=0.25)
            _place(bass, note, t0 + e * BEAT / 2, 0.45)
        for i, m in enumerate(triad):
            dur = int(4 * BEAT * SR)
            organ = additive(midi_hz(m), dur, (1.0, 0.4, 0.25, 0.0, 0.12), attack_s=0.02, decay_s=3.0)
            saw = additive(midi_hz(m + 12), dur, [1.0 / h for h in range(1, 13)], attack_s=0.08, decay_s=1.6,
                           detune=0.003 * (i - 1))
            _place(pad_l, organ, t0, 0.25)
            _place(pad_r, organ, t0, 0.08)
            _place(pad_r, saw, t0, 0.16)
            _place(pad_l, saw, t0, 0.05)
    left = drums + bass + pad_l + hats_l
    right = drums + bass + pad_r + hats_r
    return np.stack([left, right], axis=1)


def _k_weight_power(f: np.ndarray) -> np.ndarray:
    """|H|^2 of an approximate BS.1770 K-weighting (RLB high-pass ~38 Hz, +4 dB shelf above ~1.7 kHz)."""
    hp = (f / 38.0) ** 4 / (1.0 + (f / 38.0) ** 4)
    shelf_db = 4.0 / (1.0 + (1700.0 / np.maximum(f, 1.0)) ** 2)
    return hp * 10 ** (shelf_db / 10)


def approx_lufs(y: np.ndarray) -> float:
    """Ungated BS.1770-style loudness (L + R) from the spectrum; close to integrated for a dense mix."""
    X = np.fft.rfft(y, axis=0)
    f = np.fft.rfftfreq(y.shape[0], 1.0 / SR)
    p = (np.abs(X) ** 2) * _k_weight_power(f)[:, None]
    p[1:-1] *= 2.0
    ms = p.sum(axis=0) / y.shape[0] ** 2
    return float(-0.691 + 10 * np.log10(ms.sum()))


def make(*, with_fault: bool = True) -> np.ndarray:
    """The final master (frames x 2, float64 in [-1, 1])."""
    y = render()

    def eq(f):
        db = _eq_curve_db(f, BALANCE_EQ)
        if with_fault:
            db = db + _bell_db(f, *FAULT_EQ)
        return 10 ** (db / 20) * _band(25.0, None, order=2)(f)

    y = _spectral_filter(y, eq)
    y *= 10 ** ((TARGET_LUFS - approx_lufs(y)) / 20)
    fade = int(0.02 * SR)
    y[-fade:] *= np.linspace(1.0, 0.0, fade)[:, None]
    return y


def main(argv: list[str] | None = None) -> Path:
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0]) if argv else Path(__file__).with_name("example_mix.flac")
    clean = "--clean" in argv
    if clean:
        argv = [a for a in argv if a != "--clean"]
        out = Path(argv[0]) if argv else out
    y = make(with_fault=not clean)
    peak = float(np.max(np.abs(y)))
    if peak > 0.85:
        raise SystemExit(f"sample peak {20 * np.log10(peak):.1f} dBFS is too hot; lower TARGET_LUFS")
    sf.write(out, y, SR, subtype="PCM_16", format="FLAC")
    print(f"wrote {out} ({y.shape[0] / SR:.1f} s, sample peak {20 * np.log10(peak):.1f} dBFS, "
          f"approx {approx_lufs(y):.1f} LUFS, fault={'none' if clean else FAULT_EQ})")
    return out


if __name__ == "__main__":
    main()
