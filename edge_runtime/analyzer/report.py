"""Result dataclasses of the mix analyzer (frozen), and their JSON form.

JSON keys carry their unit as a suffix (``_lufs``, ``_lu``, ``_dbtp``,
``_dbfs``, ``_db``, ``_hz``, ``_s``, ``_per_s``); unitless ratios have none.
A quantity that cannot be measured (silence, band above Nyquist) is ``null``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field


def _clean(x):
    """JSON-safe: non-finite floats become None, tuples lists, nested dataclasses dicts."""
    if isinstance(x, float):
        return round(x, 3) if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x


@dataclass(frozen=True)
class LoudnessReport:
    """BS.1770-4 / EBU R128 meters. ``-inf`` where the programme is below the -70 LUFS gate."""

    integrated_lufs: float
    momentary_max_lufs: float
    short_term_max_lufs: float
    lra_lu: float
    true_peak_dbtp: float
    sample_peak_dbfs: float
    plr_lu: float
    rms_dbfs: float
    crest_factor_db: float
    true_peak_per_channel_dbtp: tuple[float, ...]
    oversampling: int
    #: mean sample value per channel (full scale = 1.0); a healthy mix is within ±0.001
    dc_offset_per_channel: tuple[float, ...] = ()

    @property
    def silent(self) -> bool:
        return not math.isfinite(self.integrated_lufs)


@dataclass(frozen=True)
class StereoReport:
    """Stereo image of the front L/R pair. Correlation: +1 mono, 0 unrelated, −1 out of phase."""

    correlation: float
    correlation_p05: float
    low_end_correlation: float
    low_end_cutoff_hz: float
    band_correlation: dict[str, float]
    side_to_mid_db: float
    width: float


@dataclass(frozen=True)
class DynamicsReport:
    """Crest factor over time, onsets and an over-compression flag."""

    crest_factor_median_db: float
    crest_factor_p10_db: float
    crest_factor_p90_db: float
    onset_count: int
    onset_density_per_s: float
    attack_clarity_db: float
    over_compressed: bool


@dataclass(frozen=True)
class BandLevel:
    """One tonal band: power in the band (dB, audio normalised to ``TonalReport.normalised_to_lufs``)."""

    name: str
    lo_hz: float
    hi_hz: float
    level_db: float
    target_p10_db: float | None = None
    target_p50_db: float | None = None
    target_p90_db: float | None = None

    @property
    def deviation_db(self) -> float | None:
        """dB outside the target range (+ above p90, − below p10, 0 inside); None without target."""
        if self.target_p10_db is None or not math.isfinite(self.level_db):
            return None
        if self.level_db > self.target_p90_db:
            return self.level_db - self.target_p90_db
        if self.level_db < self.target_p10_db:
            return self.level_db - self.target_p10_db
        return 0.0


@dataclass(frozen=True)
class TonalReport:
    """7 bands and a 1/6-octave curve of loudness-normalised audio."""

    normalised_to_lufs: float
    bands: tuple[BandLevel, ...]
    curve_hz: tuple[float, ...]
    curve_db: tuple[float, ...]
    target_name: str | None = None
    target_curve_p10_db: tuple[float, ...] | None = None
    target_curve_p50_db: tuple[float, ...] | None = None
    target_curve_p90_db: tuple[float, ...] | None = None

    def band(self, name: str) -> BandLevel:
        for b in self.bands:
            if b.name == name:
                return b
        raise KeyError(name)


@dataclass(frozen=True)
class Suggestion:
    """One thing to change. ``kind`` is stable (documented in docs/analyzer.md)."""

    kind: str
    severity: str
    score: float
    region: str
    freq_lo_hz: float | None
    freq_hi_hz: float | None
    measured: float
    target: float
    unit: str
    action: str
    why: str
    #: which evidence fired: "target" (outside the target's range), "self" (a resonance/dip against
    #: the mix's own smoothed curve), "both", or "meter" (loudness, peak, stereo, dynamics rules)
    evidence: str = "meter"


@dataclass(frozen=True)
class AnalysisReport:
    """Everything measured on one programme."""

    source: str
    sr: int
    channels: int
    layout: str
    duration_s: float
    fft_backend: str
    loudness: LoudnessReport
    stereo: StereoReport | None
    dynamics: DynamicsReport
    tonal: TonalReport | None
    suggestions: tuple[Suggestion, ...] = field(default=())
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict:
        """JSON-ready dict: every number with its unit in the key; bands and curve as lists."""
        d = asdict(self)
        d["loudness"]["silent"] = self.loudness.silent
        if self.tonal is not None:
            for b, bd in zip(self.tonal.bands, d["tonal"]["bands"]):
                bd["deviation_db"] = b.deviation_db
        return _clean(d)
