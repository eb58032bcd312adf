"""``muse evaluate analyzer DIR``: plant known faults into clean mixes and measure what the analyzer names.

For every clean audio file under DIR (each one is assumed to be a finished,
healthy mix) the file is analysed as it is, then once per planted fault of
:data:`FAULTS`; each planted version is gain-matched to the clean file
(equal integrated loudness, ITU-R BS.1770-4), so only the balance moves.

Per fault kind the result gives the **detection rate** (a suggestion of the
expected ``kind`` is among the suggestions), the **right-region rate** (that
suggestion's frequency range overlaps the fault's region) and, for the clean
files, the **false alarms**: tonal suggestions per clean file (the band
kinds and ``empty_region``), stereo ones, and per kind. The first sub-folder
under DIR is the file's ``source`` (figures are also given per source).
The largest move any suggestion asks for (``max_move_db_asked``) is reported
so the ±``max_move_db`` bound can be checked on real material.

Fault definitions (documented gains; filters from the RBJ Audio EQ Cookbook):

==================  ===========================================================
``low_end_excess``  +8 dB low shelf, corner 120 Hz (S = 1)
``mud``             +7 dB peaking bell at 300 Hz, Q = 1
``harsh``           +8 dB peaking bell at 4.5 kHz, Q = 1
``air_lack``        −12 dB above 9 kHz: y − (1 − 10^(−12/20))·HP(y), HP a
                    zero-phase 4th-order Butterworth high-pass at 9 kHz
                    (−4.1 dB at 9 kHz, −7.4 at 10 kHz, −11.2 at 12 kHz, −12.0 at 16 kHz)
``polarity``        one channel (R) multiplied by −1 (stereo files only);
                    named when ``polarity`` or ``stereo_phase`` is suggested
==================  ===========================================================
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import signal

from nomad_muse.analyzer.suggest import BAND_RULES, SuggestOptions
from nomad_muse.errors import InputError

#: Kinds that judge tonal balance (the band rules, and the empty-region note).
TONAL_KINDS = frozenset({k for rules in BAND_RULES.values() for k, _ in rules} | {"empty_region"})
STEREO_KINDS = frozenset({"stereo_phase", "polarity", "bass_not_mono"})


def peaking_eq(y: np.ndarray, *, sr: int, f0: float, gain_db: float, q: float = 1.0) -> np.ndarray:
    """RBJ Audio EQ Cookbook peaking bell: ``gain_db`` at ``f0`` Hz, bandwidth by ``q``; filters axis 0."""
    A = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * f0 / sr
    al = np.sin(w0) / (2 * q)
    b = [1 + al * A, -2 * np.cos(w0), 1 - al * A]
    a = [1 + al / A, -2 * np.cos(w0), 1 - al / A]
    return signal.lfilter(b, a, y, axis=0)


def low_shelf(y: np.ndarray, *, sr: int, f0: float, gain_db: float) -> np.ndarray:
    """RBJ Audio EQ Cookbook low shelf (slope S = 1): ``gain_db`` below ``f0`` Hz; filters axis 0."""
    A = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * f0 / sr
    al = np.sin(w0) / 2 * np.sqrt(2)
    c = np.cos(w0)
    b = [A * ((A + 1) - (A - 1) * c + 2 * np.sqrt(A) * al), 2 * A * ((A - 1) - (A + 1) * c),
         A * ((A + 1) - (A - 1) * c - 2 * np.sqrt(A) * al)]
    a = [(A + 1) + (A - 1) * c + 2 * np.sqrt(A) * al, -2 * ((A - 1) + (A + 1) * c),
         (A + 1) + (A - 1) * c - 2 * np.sqrt(A) * al]
    return signal.lfilter(b, a, y, axis=0)


def high_cut(y: np.ndarray, *, sr: int, f0: float, gain_db: float) -> np.ndarray:
    """``gain_db`` (negative) above ``f0`` Hz: y − (1 − g)·HP(y), HP a zero-phase 4th-order Butterworth
    high-pass run forward and backward (``sosfiltfilt``), so the response is exactly 1 − (1 − g)·|H|²:
    −4.1 dB at ``f0``, −11.2 dB at 4/3·``f0``, → ``gain_db`` above (a causal HP's phase would leave
    only ≈ −2 dB at 16 kHz for a 9 kHz corner)."""
    if f0 >= sr / 2:
        return y.copy()
    sos = signal.butter(4, f0, "high", fs=sr, output="sos")
    return y - (1 - 10 ** (gain_db / 20)) * signal.sosfiltfilt(sos, y, axis=0)


def invert_one_channel(y: np.ndarray, sr: int | None = None) -> np.ndarray:
    """The last channel multiplied by −1 (polarity inversion of R on a stereo file)."""
    z = y.copy()
    z[:, -1] = -z[:, -1]
    return z


@dataclass(frozen=True)
class Fault:
    """A planted fault: the kinds that name it, the region (Hz) a right suggestion overlaps, and the edit."""

    kinds: frozenset
    region_hz: tuple[float, float] | None
    description: str
    plant: Callable[..., np.ndarray]
    stereo_only: bool = False


FAULTS: dict[str, Fault] = {
    "low_end_excess": Fault(frozenset({"low_end_excess"}), (20.0, 250.0), "+8 dB low shelf at 120 Hz",
                            lambda y, sr: low_shelf(y, sr=sr, f0=120.0, gain_db=8.0)),
    "mud": Fault(frozenset({"mud"}), (200.0, 450.0), "+7 dB bell at 300 Hz, Q 1",
                 lambda y, sr: peaking_eq(y, sr=sr, f0=300.0, gain_db=7.0, q=1.0)),
    "harsh": Fault(frozenset({"harsh"}), (3000.0, 6750.0), "+8 dB bell at 4.5 kHz, Q 1",
                   lambda y, sr: peaking_eq(y, sr=sr, f0=4500.0, gain_db=8.0, q=1.0)),
    "air_lack": Fault(frozenset({"air_lack"}), (9000.0, 20000.0), "-12 dB above 9 kHz",
                      lambda y, sr: high_cut(y, sr=sr, f0=9000.0, gain_db=-12.0)),
    "polarity": Fault(frozenset({"polarity", "stereo_phase"}), None, "one channel polarity-inverted",
                      invert_one_channel, stereo_only=True),
}
TONAL_FAULTS = ("low_end_excess", "mud", "harsh", "air_lack")

_MOVE_RE = re.compile(r"\bby (?:about )?(\d+(?:\.\d+)?)(?:-(\d+(?:\.\d+)?))? dB")


def max_move_db(actions) -> float:
    """The largest cut/boost (dB) the action texts ask for ("by 3-5 dB" → 5); 0 when none."""
    out = 0.0
    for a in actions:
        for m in _MOVE_RE.finditer(a):
            out = max(out, float(m.group(2) or m.group(1)))
    return out


def gain_match(z: np.ndarray, y: np.ndarray, *, sr: int) -> np.ndarray:
    """``z`` scaled to the integrated loudness (BS.1770-4) of ``y``."""
    from nomad_muse.analyzer.loudness import integrated_loudness

    ly, lz = integrated_loudness(y=y, sr=sr), integrated_loudness(y=z, sr=sr)
    if not (math.isfinite(ly) and math.isfinite(lz)):
        return z
    return z * 10 ** ((ly - lz) / 20)


def _overlaps(s, region) -> bool:
    return (region is not None and s.freq_lo_hz is not None and s.freq_hi_hz is not None
            and s.freq_lo_hz <= region[1] and s.freq_hi_hz >= region[0])


def audio_files(directory: Path) -> list[Path]:
    from nomad_muse.analyzer.targets import AUDIO_SUFFIXES

    return sorted(p for p in Path(directory).rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)


def evaluate_dir(directory: str | Path, *, target="default", options: SuggestOptions | None = None,
                 max_files: int = 500, faults=tuple(FAULTS), progress=None, analyze=None) -> dict:
    """Plant every fault of ``faults`` into each clean file under ``directory`` and score the suggestions.

    Parameters
    ----------
    target : Target, None or "default"
        Passed to the analyzer; None: no target (self-reference only); "default":
        what ``muse analyze`` does without --genre (:data:`~nomad_muse.analyzer.suggest.DEFAULT_TARGET`
        at :data:`~nomad_muse.analyzer.suggest.DEFAULT_TARGET_TOLERANCE_DB`, plus self-reference).
    options : SuggestOptions or None
        Suggestion thresholds; ``max_suggestions`` is raised to at least 20 and the
        loudness rule switched off (a planted file is not a delivery). With
        ``target="default"`` its band tolerance is replaced by the default's.
    analyze : callable or None
        ``analyze(y, sr) -> AnalysisReport``; default :func:`~nomad_muse.analyzer.engine.analyze_array`
        with ``target`` and ``options``.

    Returns a dict (keys documented in docs/analyzer.md, ``muse evaluate analyzer``).
    """
    import soundfile as sf
    from dataclasses import replace

    from nomad_muse.analyzer.engine import AnalyzerConfig, analyze_array

    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(f"{directory} is not a directory of audio files")
    files = audio_files(directory)
    if not files:
        raise InputError(f"{directory} holds no audio files ({', '.join(('.wav', '.flac', '.ogg'))} ...)")
    files = files[:max_files]
    opts = options or SuggestOptions()
    if isinstance(target, str) and target == "default":
        from nomad_muse.analyzer.suggest import DEFAULT_TARGET, DEFAULT_TARGET_TOLERANCE_DB
        from nomad_muse.analyzer.targets import load_target

        target = load_target(DEFAULT_TARGET)
        opts = replace(opts, band_tolerance_db=DEFAULT_TARGET_TOLERANCE_DB)
    opts = replace(opts, max_suggestions=max(opts.max_suggestions, 20), lufs_tolerance_lu=1e9)
    cfg = AnalyzerConfig(with_dynamics=False)
    if analyze is None:
        def analyze(y, sr):
            return analyze_array(y, sr=sr, target=target, options=opts, config=cfg)

    unknown = [f for f in faults if f not in FAULTS]
    if unknown:
        raise InputError(f"unknown fault kind(s) {', '.join(unknown)}; known: {', '.join(FAULTS)}")
    rows = []
    skipped = []
    for p in files:
        try:
            y, sr = sf.read(str(p), dtype="float64", always_2d=True)
        except Exception as e:  # libsndfile error text names the problem
            skipped.append({"file": str(p), "error": str(e).splitlines()[0]})
            continue
        if y.shape[0] < sr or not np.all(np.isfinite(y)) or not np.any(y):
            skipped.append({"file": str(p), "error": "shorter than 1 s, silent or not finite"})
            continue
        y = y[:, :2]
        rel = p.relative_to(directory)
        source = rel.parts[0] if len(rel.parts) > 1 else "."
        clean = analyze(y, sr)
        row = {"file": str(rel), "source": source, "channels": int(y.shape[1]),
               "clean": [s.kind for s in clean.suggestions], "planted": {},
               "max_move_db_asked": max_move_db(s.action for s in clean.suggestions)}
        for name in faults:
            f = FAULTS[name]
            if f.stereo_only and y.shape[1] < 2:
                continue
            z = gain_match(f.plant(y, sr), y, sr=sr)
            rep = analyze(z, sr)
            hit = [s for s in rep.suggestions if s.kind in f.kinds]
            row["planted"][name] = {"kinds": [s.kind for s in rep.suggestions], "named": bool(hit),
                                    "right_region": bool(hit) and (f.region_hz is None or any(_overlaps(s, f.region_hz) for s in hit))}
            row["max_move_db_asked"] = max(row["max_move_db_asked"], max_move_db(s.action for s in rep.suggestions))
        rows.append(row)
        if progress is not None:
            progress()
    return summarise(rows, directory=str(directory), skipped=skipped, faults=faults)


def _summary(rows, faults) -> dict:
    n = len(rows)
    tonal = [sum(k in TONAL_KINDS for k in r["clean"]) for r in rows]
    stereo = [sum(k in STEREO_KINDS for k in r["clean"]) for r in rows]
    by_kind: dict[str, int] = {}
    for r in rows:
        for k in r["clean"]:
            by_kind[k] = by_kind.get(k, 0) + 1
    out = {"files": n,
           "clean": {"tonal_suggestions_per_file": (sum(tonal) / n) if n else None,
                     "files_with_tonal_suggestion": sum(t > 0 for t in tonal),
                     "stereo_suggestions_per_file": (sum(stereo) / n) if n else None,
                     "by_kind": dict(sorted(by_kind.items()))},
           "faults": {}}
    for name in faults:
        got = [r["planted"][name] for r in rows if name in r["planted"]]
        m = len(got)
        named = sum(g["named"] for g in got)
        right = sum(g["right_region"] for g in got)
        confused: dict[str, int] = {}
        for g in got:
            if not g["named"]:
                for k in g["kinds"]:
                    if k in TONAL_KINDS | STEREO_KINDS:
                        confused[k] = confused.get(k, 0) + 1
        out["faults"][name] = {"description": FAULTS[name].description, "files": m,
                               "detection_rate": named / m if m else None,
                               "right_region_rate": right / m if m else None,
                               "missed_but_named_as": dict(sorted(confused.items()))}
    out["max_move_db_asked"] = max((r["max_move_db_asked"] for r in rows), default=0.0)
    return out


def summarise(rows, *, directory: str, skipped, faults=tuple(FAULTS)) -> dict:
    """Totals, and the same per source (first sub-folder), from the per-file rows of :func:`evaluate_dir`."""
    res = {"directory": directory, **_summary(rows, faults)}
    srcs = sorted({r["source"] for r in rows})
    res["by_source"] = {s: _summary([r for r in rows if r["source"] == s], faults) for s in srcs}
    res["skipped"] = skipped
    res["per_file"] = rows
    return res
