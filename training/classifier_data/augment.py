"""Augmentation: pure functions (gain, noise, EQ tilt, reverb, pitch shift, time stretch, mixing) and their random chain."""

from __future__ import annotations

import time

import numpy as np


# ---------------------------------------------------------------- augmentation
def _db(x: float) -> float:
    return 10.0 ** (x / 20.0)


def gain(y: np.ndarray, db: float) -> np.ndarray:
    """Scale by ``db`` decibels."""
    return (np.asarray(y, dtype=np.float64) * _db(db)).astype(np.float32)


def add_noise(y: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Add white Gaussian noise at ``snr_db`` below the signal's mean power (silent input stays silent)."""
    y = np.asarray(y, dtype=np.float64)
    p = float(np.mean(y**2)) if y.size else 0.0
    if p <= 0:
        return y.astype(np.float32)
    noise = rng.standard_normal(y.shape)
    noise *= np.sqrt(p / 10 ** (snr_db / 10.0) / float(np.mean(noise**2)))
    return (y + noise).astype(np.float32)


def eq_tilt(y: np.ndarray, sr: int, db_per_decade: float, *, pivot_hz: float = 1000.0) -> np.ndarray:
    """Tilt the spectrum by about ``db_per_decade`` around ``pivot_hz`` with a first-order shelf.

    The shelf (one zero, one pole, bilinear transform) spans 2·|dB| in total,
    centred on the pivot with 0 dB there, so the level one decade above the
    pivot differs from the level one decade below by ≈ 2·``db_per_decade``
    (the average slope over 100 Hz–10 kHz for the default pivot).
    """
    from scipy.signal import bilinear, freqz, lfilter

    y = np.asarray(y, dtype=np.float64)
    if abs(db_per_decade) < 1e-6 or y.size == 0:
        return y.astype(np.float32)
    g = _db(2.0 * abs(db_per_decade))  # total shelf gain
    w0 = 2 * np.pi * pivot_hz
    wz, wp = w0 / np.sqrt(g), w0 * np.sqrt(g)  # high shelf: +|2·dB| above the pivot
    if db_per_decade < 0:
        wz, wp = wp, wz  # low-pass-like shelf: −|2·dB| above the pivot
    b, a = bilinear([1 / wz, 1.0], [1 / wp, 1.0], fs=sr)
    _, h = freqz(b, a, worN=[pivot_hz], fs=sr)
    b = b / abs(h[0])  # 0 dB at the pivot
    return lfilter(b, a, y).astype(np.float32)


def reverb(y: np.ndarray, sr: int, rt60: float, wet: float, rng: np.random.Generator) -> np.ndarray:
    """Convolve with exponentially decaying noise (−60 dB after ``rt60`` s); ``wet`` in 0..1, length kept."""
    from scipy.signal import fftconvolve

    y = np.asarray(y, dtype=np.float64)
    if wet <= 0 or y.size == 0:
        return y.astype(np.float32)
    n = max(1, int(rt60 * sr))
    t = np.arange(n) / sr
    ir = rng.standard_normal(n) * np.exp(-6.907755 * t / rt60)  # ln(1000) = 6.9078: −60 dB at rt60
    ir /= np.sqrt(np.sum(ir**2))
    w = fftconvolve(y, ir)[: len(y)]
    return ((1 - wet) * y + wet * w).astype(np.float32)


def _fit(y: np.ndarray, n: int) -> np.ndarray:
    return y[:n] if len(y) >= n else np.pad(y, (0, n - len(y)))


def _ratio(x: float, max_den: int = 200) -> tuple[int, int]:
    from fractions import Fraction

    f = Fraction(x).limit_denominator(max_den)
    return f.numerator, f.denominator


def pitch_shift(y: np.ndarray, semitones: float) -> np.ndarray:
    """Shift pitch (and tempo, as tape does) by ``semitones``; the output keeps the input's length.

    Resampling by 1/r with ``resample_poly`` then playing at the same rate
    multiplies every frequency by r = 2^(semitones/12); the result is cut or
    zero-padded to the original length.
    """
    from scipy.signal import resample_poly

    y = np.asarray(y, dtype=np.float64)
    if abs(semitones) < 1e-6 or y.size == 0:
        return y.astype(np.float32)
    up, down = _ratio(2.0 ** (-semitones / 12.0))  # new length = len * up/down
    return _fit(resample_poly(y, up, down), len(y)).astype(np.float32)


def time_stretch(y: np.ndarray, rate: float) -> np.ndarray:
    """Resampling time stretch: the output has ``len(y) / rate`` samples.

    ``rate`` > 1 shortens (faster), < 1 lengthens; pitch moves with it (as a
    tape speed change does). ``time_stretch(time_stretch(y, r), 1 / r)``
    restores the length (±1 sample). :func:`augment` cuts or pads the result
    back to the clip length.
    """
    from scipy.signal import resample_poly

    y = np.asarray(y, dtype=np.float64)
    if abs(rate - 1.0) < 1e-6 or y.size == 0:
        return y.astype(np.float32)
    up, down = _ratio(1.0 / rate)
    return resample_poly(y, up, down).astype(np.float32)


def mix(y: np.ndarray, other: np.ndarray, rel_db: float) -> np.ndarray:
    """Add ``other`` (cut/padded to ``y``'s length) with its RMS ``rel_db`` dB relative to ``y``'s (rel_db < 0)."""
    y = np.asarray(y, dtype=np.float64)
    o = _fit(np.asarray(other, dtype=np.float64), len(y))
    ry, ro = np.sqrt(np.mean(y**2)) if y.size else 0.0, np.sqrt(np.mean(o**2)) if o.size else 0.0
    if ry <= 0 or ro <= 0:
        return y.astype(np.float32)
    return (y + o * (ry / ro) * _db(rel_db)).astype(np.float32)


def augment(y: np.ndarray, sr: int, rng: np.random.Generator, *, other: np.ndarray | None = None) -> np.ndarray:
    """A random chain of the transforms above; same length as ``y``; the label stays ``y``'s.

    Each transform is applied with some probability: time stretch ±10 % (0.5),
    pitch shift ±2 st (0.5), mixing ``other`` at −15…−6 dB (when given), EQ tilt
    ±6 dB/decade (0.6), reverb RT60 0.2–1.5 s wet 0–40 % (0.5), noise SNR 20–50 dB
    (0.5), gain ±12 dB (always). A result whose peak would pass 1.0 is scaled
    down to peak 0.999 (a limited gain, not hard clipping).
    """
    y = np.asarray(y, dtype=np.float32)
    n = len(y)
    out = y
    if rng.random() < 0.5:
        out = _fit(time_stretch(out, float(rng.uniform(0.9, 1.1))), n)
    if rng.random() < 0.5:
        out = pitch_shift(out, float(rng.uniform(-2.0, 2.0)))
    if other is not None:
        out = mix(out, other, float(rng.uniform(-15.0, -6.0)))
    if rng.random() < 0.6:
        out = eq_tilt(out, sr, float(rng.uniform(-6.0, 6.0)))
    if rng.random() < 0.5:
        out = reverb(out, sr, float(rng.uniform(0.2, 1.5)), float(rng.uniform(0.0, 0.4)), rng)
    if rng.random() < 0.5:
        out = add_noise(out, float(rng.uniform(20.0, 50.0)), rng)
    out = gain(out, float(rng.uniform(-12.0, 12.0)))
    peak = float(np.max(np.abs(out))) if out.size else 0.0
    if peak > 0.999:
        out = out * (0.999 / peak)
    return out.astype(np.float32)


# ---------------------------------------------------------------- "real recording" augmentation (issue 17)
#: the augmentation kinds :func:`augment_kind` knows; each one is measured alone by leave-one-source-out
AUG_KINDS = ("legacy", "fx", "room", "level_noise", "oneshot", "loop", "mix")


def room_irs(sr: int, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``n`` simulated room impulse responses (pyroomacoustics image-source ShoeBox, random rooms).

    Rooms of 2.5–12 m × 2.5–10 m × 2.2–4 m with a target RT60 of 0.15–0.9 s
    (Sabine's formula inverted by ``pyroomacoustics.inverse_sabine`` for the wall
    absorption and image order), source and microphone at random points ≥ 0.5 m
    from the walls. Each IR is normalised to unit energy and cut at 1 s.
    """
    import pyroomacoustics as pra

    out = []
    while len(out) < n:
        dims = np.array([rng.uniform(2.5, 12.0), rng.uniform(2.5, 10.0), rng.uniform(2.2, 4.0)])
        rt60 = float(rng.uniform(0.15, 0.9))
        try:
            absorption, max_order = pra.inverse_sabine(rt60, dims)
        except ValueError:  # RT60 too long for such a small room
            continue
        room = pra.ShoeBox(dims, fs=sr, materials=pra.Material(absorption), max_order=min(max_order, 12))
        src = rng.uniform(0.5, dims - 0.5)
        mic = rng.uniform(0.5, dims - 0.5)
        room.add_source(src)
        room.add_microphone(mic)
        room.compute_rir()
        ir = np.asarray(room.rir[0][0], dtype=np.float64)[:sr]
        ir /= np.sqrt(np.sum(ir**2)) + 1e-12
        out.append(ir)
    return out


def room(y: np.ndarray, ir: np.ndarray, wet: float) -> np.ndarray:
    """``y`` played in a room: convolved with the impulse response ``ir``, ``wet`` 0..1 of it mixed in, length kept."""
    from scipy.signal import fftconvolve

    y = np.asarray(y, dtype=np.float64)
    if y.size == 0:
        return y.astype(np.float32)
    w = fftconvolve(y, ir)[: len(y)]
    ry, rw = np.sqrt(np.mean(y**2)), np.sqrt(np.mean(w**2))
    if rw > 0:
        w *= ry / rw
    return ((1 - wet) * y + wet * w).astype(np.float32)


def fx_chain(y: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
    """A random producer's effect chain with Spotify's ``pedalboard``; same length as ``y``.

    Each with its probability: high-pass 20–150 Hz (0.4), a peaking EQ band
    100 Hz–8 kHz ±9 dB Q 0.5–3 (0.7), low/high shelf ±6 dB (0.5), compressor
    −35…−10 dBFS threshold, ratio 2–10, attack 1–30 ms, release 50–300 ms (0.6),
    distortion 3–25 dB drive (0.25), chorus rate 0.3–3 Hz depth 0.1–0.5 mix
    0.2–0.5 (0.2), reverb room size 0.1–0.8 wet 0.05–0.35 (0.35). The output is
    rescaled to the input's RMS (effects change colour, not the class).
    """
    import pedalboard as pb

    y = np.asarray(y, dtype=np.float32)
    if y.size == 0:
        return y
    chain = []
    if rng.random() < 0.4:
        chain.append(pb.HighpassFilter(cutoff_frequency_hz=float(rng.uniform(20, 150))))
    if rng.random() < 0.7:
        chain.append(pb.PeakFilter(cutoff_frequency_hz=float(np.exp(rng.uniform(np.log(100), np.log(8000)))),
                                   gain_db=float(rng.uniform(-9, 9)), q=float(rng.uniform(0.5, 3))))
    if rng.random() < 0.5:
        shelf = pb.LowShelfFilter if rng.random() < 0.5 else pb.HighShelfFilter
        chain.append(shelf(cutoff_frequency_hz=float(rng.uniform(150, 6000)), gain_db=float(rng.uniform(-6, 6))))
    if rng.random() < 0.6:
        chain.append(pb.Compressor(threshold_db=float(rng.uniform(-35, -10)), ratio=float(rng.uniform(2, 10)),
                                   attack_ms=float(rng.uniform(1, 30)), release_ms=float(rng.uniform(50, 300))))
    if rng.random() < 0.25:
        chain.append(pb.Distortion(drive_db=float(rng.uniform(3, 25))))
    if rng.random() < 0.2:
        chain.append(pb.Chorus(rate_hz=float(rng.uniform(0.3, 3)), depth=float(rng.uniform(0.1, 0.5)),
                               mix=float(rng.uniform(0.2, 0.5))))
    if rng.random() < 0.35:
        chain.append(pb.Reverb(room_size=float(rng.uniform(0.1, 0.8)), wet_level=float(rng.uniform(0.05, 0.35)),
                               dry_level=1.0))
    if not chain:
        return y
    out = pb.Pedalboard(chain)(y[None, :], float(sr))[0]
    out = _fit(out.astype(np.float64), len(y))
    r_in, r_out = np.sqrt(np.mean(y.astype(np.float64) ** 2)), np.sqrt(np.mean(out**2))
    if r_out > 0 and np.isfinite(r_out):
        out *= r_in / r_out
    return out.astype(np.float32)


def onset(y: np.ndarray, rel_db: float = -30.0) -> int:
    """Index of the first sample within ``rel_db`` dB of the peak (0 for silence)."""
    a = np.abs(np.asarray(y))
    if a.size == 0 or a.max() <= 0:
        return 0
    return int(np.argmax(a >= a.max() * _db(rel_db)))


def oneshot_crop(y: np.ndarray, sr: int, seconds: float, *, fade_ms: float = 10.0) -> np.ndarray:
    """A short one-shot: ``seconds`` from the onset on, a ``fade_ms`` linear fade-out, then silence (length kept)."""
    y = np.asarray(y, dtype=np.float32)
    a = onset(y)
    n = max(1, int(seconds * sr))
    out = np.zeros_like(y)
    seg = y[a : a + n].copy()
    f = min(len(seg), int(fade_ms * 1e-3 * sr))
    if f > 0:
        seg[-f:] *= np.linspace(1.0, 0.0, f, dtype=np.float32)
    out[a : a + len(seg)] = seg
    return out


def loop(y: np.ndarray, sr: int, period_s: float) -> np.ndarray:
    """A loop: the ``period_s`` from the onset on, repeated (butt-spliced, as a sampler loops it) to ``y``'s length."""
    y = np.asarray(y, dtype=np.float32)
    a = onset(y)
    n = max(1, int(period_s * sr))
    seg = y[a : a + n]
    if seg.size == 0:
        return y
    return _fit(np.tile(seg, int(np.ceil(len(y) / len(seg)))), len(y)).astype(np.float32)


def augment_kind(kind: str, y: np.ndarray, sr: int, rng: np.random.Generator, *, other: np.ndarray | None = None,
                 irs: list[np.ndarray] | None = None) -> np.ndarray:
    """One augmentation ``kind`` of :data:`AUG_KINDS` applied to ``y`` (same length, label kept), peak ≤ 0.999.

    ``legacy``: :func:`augment` (the chain the FluidR3-only model was trained with);
    ``fx``: :func:`fx_chain`; ``room``: :func:`room` with one of ``irs``, wet
    0.3–1; ``level_noise``: gain −30…+6 dB then white or pink-ish (EQ-tilted)
    noise at SNR 5–35 dB; ``oneshot``: :func:`oneshot_crop` to 0.06–0.35 s;
    ``loop``: :func:`loop` with a period of 0.2–0.8 s; ``mix``: ``other`` (a clip
    of another family) added 3–12 dB below.
    """
    if kind == "legacy":
        out = augment(y, sr, rng, other=other if rng.random() < 0.3 else None)
    elif kind == "fx":
        out = fx_chain(y, sr, rng)
    elif kind == "room":
        if not irs:
            raise ValueError("augment_kind('room') needs irs (room_irs)")
        out = room(y, irs[int(rng.integers(len(irs)))], float(rng.uniform(0.3, 1.0)))
    elif kind == "level_noise":
        out = gain(y, float(rng.uniform(-30.0, 6.0)))
        noisy = add_noise(out, float(rng.uniform(5.0, 35.0)), rng)
        out = out + eq_tilt(noisy - out, sr, -6.0) if rng.random() < 0.5 else noisy
    elif kind == "oneshot":
        out = oneshot_crop(y, sr, float(rng.uniform(0.06, 0.35)))
    elif kind == "loop":
        out = loop(y, sr, float(rng.uniform(0.2, 0.8)))
    elif kind == "mix":
        out = y if other is None else mix(y, other, float(rng.uniform(-12.0, -3.0)))
    else:
        raise ValueError(f"unknown augmentation kind {kind!r}; expected one of {AUG_KINDS}")
    out = np.asarray(out, dtype=np.float32)
    peak = float(np.max(np.abs(out))) if out.size else 0.0
    if peak > 0.999:
        out = out * (0.999 / peak)
    return out
