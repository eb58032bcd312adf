"""Plain-language mix suggestions: rules over the measurements (the seed's §4.3 table).

Every rule yields a :class:`~nomad_muse.analyzer.report.Suggestion` with a
stable ``kind``, a severity, the measured value against its target, a concrete
action with an amount, and why.  Suggestions are sorted by ``score`` (larger
is worse; for band rules it is the dB outside the target range) and capped at
``max_suggestions``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from nomad_muse.analyzer.report import AnalysisReport, BandLevel, Suggestion
from nomad_muse.analyzer.tonal import BANDS, SELF_TOLERANCE_DB, empty_edges_hz, self_regions
from nomad_muse.errors import ParameterError

#: Delivery loudness targets (LUFS): EBU R128 broadcast, and the level most streaming services normalise to.
DELIVERY_LUFS = {"streaming": -14.0, "broadcast": -23.0}

#: Without --genre/--target, ``muse analyze`` compares with this shipped target (measured from real masters)
#: at this band tolerance (dB outside its p10-p90 range), and runs the self-reference detector.
#: The tolerance is fitted on the training split only (docs/analyzer.md, "Genre-free default"): 114 clean
#: training masters with the 8 dB self-reference got 0.68 / 0.49 / 0.36 / 0.26 / 0.20 tonal suggestions
#: each at 3 / 5 / 8 / 12 / 18 dB, and from 8 dB up the target added no planted-fault detection, so
#: 18 dB (the smallest with <= 0.2) keeps it for extreme departures only.
DEFAULT_TARGET = "all-styles"
DEFAULT_TARGET_TOLERANCE_DB = 18.0

#: band → (kind when above range, why) and (kind when below range, why)
BAND_RULES = {
    "sub": (("low_end_excess", "too much sub-bass eats headroom and booms on large systems"),
            ("low_end_lack", "little sub-bass sounds thin on full-range systems and in clubs")),
    "bass": (("low_end_excess", "excess bass masks the mids and makes the mix boomy"),
             ("low_end_lack", "weak bass makes the mix sound thin and small")),
    "low_mid": (("mud", "a build-up at 200-500 Hz makes the mix muddy and masks clarity"),
                ("low_mid_lack", "too little low-mid loses warmth and body")),
    "mid": (("mid_excess", "too much midrange sounds honky or boxy"),
            ("mid_lack", "a scooped midrange pushes vocals and leads back")),
    "high_mid": (("harsh", "2-6 kHz is where hearing is most sensitive; excess there is harsh and fatiguing"),
                 ("high_mid_lack", "too little 2-6 kHz sounds dull and undefined")),
    "presence": (("harsh", "excess 6-12 kHz sounds brittle and sibilant"),
                 ("presence_lack", "too little 6-12 kHz sounds veiled")),
    "air": (("air_excess", "excess above 12 kHz sounds hissy"),
            ("air_lack", "too little energy above 12 kHz sounds closed-in, lacking air")),
}


@dataclass(frozen=True)
class SuggestOptions:
    """Thresholds of the suggestion rules.

    Attributes
    ----------
    band_tolerance_db : float
        A band is reported only when it leaves the target range by more than this (dB).
    target_lufs : float
        Delivery loudness (LUFS): −14 streaming, −23 broadcast (EBU R128).
    lufs_tolerance_lu : float
        Allowed deviation from ``target_lufs`` (LU).
    true_peak_ceiling_dbtp : float
        Maximum true peak (dBTP); −1 per EBU R128 / streaming encoders.
    min_correlation : float
        Overall L/R correlation below this is a phase problem. Fitted on real
        masters (training split of profiles/genres/derive_real_masters.py,
        114 tracks: p1 = −0.12, p5 = 0.03, median 0.71): healthy wide
        masters often sit at 0–0.5, where the seed's 0.5 flagged them.
    min_low_end_correlation : float
        Correlation below ~150 Hz under this means the bass cancels in mono
        (same training tracks: p1 = −0.05, p5 = 0.12, median 0.86).
    polarity_low_end_correlation : float
        Low-end correlation below this means one channel is polarity-inverted
        (bass is near-mono on real masters, so inversion drives it towards −1).
    over_compressed_plr_lu : float
        PLR below this (LU) is over-compression.
    max_suggestions : int
        At most this many, most severe first.
    max_move_db : float
        No cut or boost asks for more than this (dB) in one move; a larger
        deviation is named and the move is capped at the bound.
    self_reference : bool
        Also compare the mix's 1/6-octave curve with a smooth fit of itself
        (resonances and dips on any style, with or without a target).
    self_tolerance_db : float
        A self-reference region must stand this far (dB) off the mix's own trend
    """

    band_tolerance_db: float = 3.0
    target_lufs: float = DELIVERY_LUFS["streaming"]
    lufs_tolerance_lu: float = 1.0
    true_peak_ceiling_dbtp: float = -1.0
    min_correlation: float = -0.2
    min_low_end_correlation: float = -0.1
    polarity_low_end_correlation: float = -0.5
    over_compressed_plr_lu: float = 8.0
    max_suggestions: int = 5
    max_move_db: float = 6.0
    self_reference: bool = True
    self_tolerance_db: float = SELF_TOLERANCE_DB

    def __post_init__(self) -> None:
        if not self.band_tolerance_db >= 0:
            raise ParameterError(f"band_tolerance_db={self.band_tolerance_db} must be >= 0 dB")
        if not (-70.0 < self.target_lufs < 0.0):
            raise ParameterError(f"target_lufs={self.target_lufs} must be between -70 and 0 LUFS")
        if not (0.5 <= self.max_move_db <= 24.0):
            raise ParameterError(f"max_move_db={self.max_move_db} must be between 0.5 and 24 dB")
        if not self.self_tolerance_db > 0:
            raise ParameterError(f"self_tolerance_db={self.self_tolerance_db} must be > 0 dB")
        if self.max_suggestions < 1:
            raise ParameterError(f"max_suggestions={self.max_suggestions} must be >= 1")


def severity(score: float) -> str:
    """"high" (≥ 6), "medium" (≥ 3) or "low"."""
    return "high" if score >= 6.0 else "medium" if score >= 3.0 else "low"


def fmt_hz(f: float) -> str:
    """Round a frequency for people: 300 Hz, 1.2 kHz, 12 kHz."""
    if f < 100:
        return f"{round(f / 5) * 5:.0f} Hz"
    if f < 1000:
        return f"{round(f / 10) * 10:.0f} Hz"
    if f < 10000:
        return f"{round(f / 100) / 10:g} kHz"
    return f"{round(f / 1000):.0f} kHz"


def _amount(lo: float, hi: float, bound: float = 6.0) -> str:
    """A move of ``|lo|``..``|hi|`` dB, rounded to 0.5 dB and capped at ``bound`` (the most one move should do)."""
    a, b = sorted((round(abs(lo) * 2) / 2, round(abs(hi) * 2) / 2))
    a = max(a, 0.5)
    if a >= bound:
        return f"{bound:g} dB (the most one move should do; measured {b:g} dB off)"
    if b > bound:
        return f"{a:g}-{bound:g} dB (capped at {bound:g} dB per move)"
    return f"about {b:g} dB" if b - a < 1.0 else f"{a:g}-{b:g} dB"


def _band_of(f: float) -> str:
    for name, lo, hi in BANDS:
        if lo <= f < hi:
            return name
    return BANDS[0][0] if f < BANDS[0][1] else BANDS[-1][0]


#: A mix whose spectrum ends at or above this (Hz) is band-limited (a lossy codec's low-pass, 15-19 kHz,
#: or a 32 kHz source), not missing instruments: a "lack" up there is neither boosted nor noted. On the
#: training split of real masters 44 of 114 OGG tracks end above 15 kHz this way.
BANDLIMIT_HZ = 12000.0
_SKIP = "skip"


def _empty_note(rep: AnalysisReport, lo: float, hi: float, edges) -> Suggestion | None | str:
    """An ``empty_region`` note instead of a boost when [lo, hi] lies where the arrangement plays nothing;
    ``"skip"`` when it lies beyond the end of a band-limited spectrum (:data:`BANDLIMIT_HZ`)."""
    below, above = edges
    if above is not None and hi >= above and above >= BANDLIMIT_HZ:
        return _SKIP
    if above is not None and hi >= above:
        where, txt = f"above {fmt_hz(above)}", "high"
    elif below is not None and lo <= below:
        where, txt = f"below {fmt_hz(below)}", "low"
    else:
        return None
    return Suggestion(
        kind="empty_region", severity="low", score=0.5, region=where, freq_lo_hz=lo, freq_hi_hz=hi,
        measured=float("nan"), target=float("nan"), unit="dB",
        action=f"nothing to boost {where}: the arrangement has no {txt} instruments there (EQ cannot create them)",
        why=(f"the mix is more than 45 dB under its loudest point {where}; add an instrument "
             f"if the part needs that range"), evidence="self")


def _focus_hz(rep: AnalysisReport, b: BandLevel, sign: float) -> float:
    """Frequency inside band ``b`` where the fine curve departs most from the target median (sign ±1)."""
    t = rep.tonal
    f = np.asarray(t.curve_hz)
    m = (f >= b.lo_hz) & (f <= b.hi_hz)
    if t.target_curve_p50_db is not None and np.any(m):
        d = sign * (np.asarray(t.curve_db) - np.asarray(t.target_curve_p50_db))
        d = np.where(m & np.isfinite(d), d, -np.inf)
        if np.isfinite(d.max()):
            return float(f[int(np.argmax(d))])
    return math.sqrt(b.lo_hz * b.hi_hz)


def band_suggestions(rep: AnalysisReport, opts: SuggestOptions) -> list[Suggestion]:
    """Bands outside the target range by more than ``band_tolerance_db``."""
    out: list[Suggestion] = []
    if rep.tonal is None or rep.tonal.target_name is None:
        return out
    edges = empty_edges_hz(rep.tonal.curve_hz, rep.tonal.curve_db)
    for b in rep.tonal.bands:
        dev = b.deviation_db
        if dev is None or abs(dev) <= opts.band_tolerance_db:
            continue
        above = dev > 0
        if not above:
            note = _empty_note(rep, b.lo_hz, b.hi_hz, edges)
            if note is not None:
                if note != _SKIP and not any(o.kind == "empty_region" and o.region == note.region for o in out):
                    out.append(note)  # one note per empty region (presence and air can both point at it)
                continue
        (kind, why) = BAND_RULES[b.name][0 if above else 1]
        fc = _focus_hz(rep, b, 1.0 if above else -1.0)
        verb = "cut" if above else "boost"
        shelf = " (or a low shelf)" if above and b.name in ("sub", "bass") else (
            " (or a high shelf)" if not above and b.name in ("presence", "air") else "")
        action = (f"{verb} around {fmt_hz(fc)} by {_amount(dev, b.level_db - b.target_p50_db, opts.max_move_db)}{shelf}, "
                  f"a broad bell over {fmt_hz(b.lo_hz)}-{fmt_hz(b.hi_hz)}")
        out.append(Suggestion(
            kind=kind, severity=severity(abs(dev)), score=abs(dev), region=f"{b.name} {fmt_hz(b.lo_hz)}-{fmt_hz(b.hi_hz)}",
            freq_lo_hz=b.lo_hz, freq_hi_hz=b.hi_hz, measured=b.level_db, target=b.target_p50_db, unit="dB",
            action=action,
            why=(f"{b.name} is {abs(dev):.1f} dB {'above' if above else 'below'} the {rep.tonal.target_name} range "
                 f"({b.target_p10_db:.1f} to {b.target_p90_db:.1f} dB); {why}"), evidence="target"))
    return out


def self_suggestions(rep: AnalysisReport, opts: SuggestOptions) -> list[Suggestion]:
    """Resonances and dips against the mix's own smoothed curve (no target needed).

    Each region of :func:`~nomad_muse.analyzer.tonal.self_regions` is named with
    the band rule of the band holding its extreme (a bump at 300 Hz is ``mud``,
    a dip at 10 kHz ``presence_lack``); the move is the residual, capped at
    ``max_move_db``. A dip where the arrangement plays nothing becomes an
    ``empty_region`` note.
    """
    out: list[Suggestion] = []
    if rep.tonal is None or not opts.self_reference:
        return out
    edges = empty_edges_hz(rep.tonal.curve_hz, rep.tonal.curve_db)
    for r in self_regions(rep.tonal.curve_hz, rep.tonal.curve_db, tolerance_db=opts.self_tolerance_db):
        up = r["sign"] > 0
        if not up:
            note = _empty_note(rep, r["lo_hz"], r["hi_hz"], edges)
            if note is not None:
                if note != _SKIP:
                    out.append(note)
                continue
        band = _band_of(r["peak_hz"])
        if r.get("edge") == "high" and r["peak_hz"] >= 8000.0:
            band = "air"          # a shelf at the top of the spectrum
        elif r.get("edge") == "low" and r["peak_hz"] < 250.0:
            band = "bass" if band != "sub" else band
        kind, why = BAND_RULES[band][0 if up else 1]
        dev = abs(r["peak_db"])
        lo, hi = r["lo_hz"] / 2 ** (1 / 12), r["hi_hz"] * 2 ** (1 / 12)
        out.append(Suggestion(
            kind=kind, severity=severity(dev), score=dev, region=f"{band} {fmt_hz(lo)}-{fmt_hz(hi)}",
            freq_lo_hz=lo, freq_hi_hz=hi, measured=r["peak_db"], target=0.0, unit="dB vs own trend",
            action=(f"{'cut' if up else 'boost'} around {fmt_hz(r['peak_hz'])} by "
                    f"{_amount(dev - opts.self_tolerance_db / 2, dev, opts.max_move_db)}, "
                    f"a bell over {fmt_hz(lo)}-{fmt_hz(hi)}"),
            why=(f"the mix's own curve has a {dev:.1f} dB {'resonance' if up else 'dip'} at {fmt_hz(r['peak_hz'])} "
                 f"against its smoothed trend; {why}"), evidence="self"))
    return out


def _merge(target_hits: list[Suggestion], self_hits: list[Suggestion]) -> list[Suggestion]:
    """One suggestion per finding: a self-reference hit of the same kind overlapping a target hit marks it "both"."""
    out = list(target_hits)
    for s in self_hits:
        for i, t in enumerate(out):
            if (t.kind == s.kind and t.freq_lo_hz is not None and s.freq_lo_hz is not None
                    and s.freq_lo_hz <= t.freq_hi_hz and s.freq_hi_hz >= t.freq_lo_hz):
                if t.evidence != s.evidence:
                    out[i] = replace(t, evidence="both", score=max(t.score, s.score),
                                     why=t.why + f"; the mix's own curve agrees ({s.measured:+.1f} dB at {fmt_hz(math.sqrt(s.freq_lo_hz * s.freq_hi_hz))})")
                break
        else:
            out.append(s)
    return out


def meter_suggestions(rep: AnalysisReport, opts: SuggestOptions) -> list[Suggestion]:
    """Loudness, true peak, stereo phase, bass mono compatibility and over-compression rules."""
    out: list[Suggestion] = []
    L = rep.loudness
    if not L.silent:
        d = L.integrated_lufs - opts.target_lufs
        if abs(d) > opts.lufs_tolerance_lu:
            loud = d > 0
            out.append(Suggestion(
                kind="too_loud" if loud else "too_quiet", severity=severity(abs(d)), score=abs(d),
                region="whole programme", freq_lo_hz=None, freq_hi_hz=None, measured=L.integrated_lufs,
                target=opts.target_lufs, unit="LUFS",
                action=(f"{'lower' if loud else 'raise'} the master by about {abs(d):.1f} dB "
                        f"(to {opts.target_lufs:g} LUFS integrated)" + ("" if loud else ", with a true-peak limiter")),
                why=(f"integrated loudness is {L.integrated_lufs:.1f} LUFS, {abs(d):.1f} LU "
                     f"{'above' if loud else 'below'} the {opts.target_lufs:g} LUFS delivery target"
                     + ("; services turn it down anyway and the limiting only costs punch" if loud else
                        "; it will sound weaker than other material next to it"))))
    if math.isfinite(L.true_peak_dbtp) and L.true_peak_dbtp > opts.true_peak_ceiling_dbtp:
        over = L.true_peak_dbtp - opts.true_peak_ceiling_dbtp
        out.append(Suggestion(
            kind="true_peak", severity=severity(over + 3.0), score=over + 3.0, region="whole programme",
            freq_lo_hz=None, freq_hi_hz=None, measured=L.true_peak_dbtp, target=opts.true_peak_ceiling_dbtp,
            unit="dBTP",
            action=f"set a true-peak limiter ceiling of {opts.true_peak_ceiling_dbtp:g} dBTP (peaks come down {over:.1f} dB)",
            why=f"true peak is {L.true_peak_dbtp:+.1f} dBTP; inter-sample peaks clip in converters and lossy encoders"))
    s = rep.stereo
    if s is not None and math.isfinite(s.correlation) and s.correlation < opts.min_correlation:
        sc = (opts.min_correlation - s.correlation) * 10.0 + 3.0
        out.append(Suggestion(
            kind="stereo_phase", severity=severity(sc), score=sc, region="stereo image", freq_lo_hz=None,
            freq_hi_hz=None, measured=s.correlation, target=opts.min_correlation, unit="correlation",
            action="check for polarity-inverted or phase-shifted channels and narrow stereo wideners",
            why=(f"L/R correlation is {s.correlation:.2f} (below {opts.min_correlation:g}); "
                 "the mix loses level and parts cancel when summed to mono")))
    if s is not None and math.isfinite(s.low_end_correlation) and s.low_end_correlation < opts.polarity_low_end_correlation:
        sc = (opts.min_low_end_correlation - s.low_end_correlation) * 10.0 + 3.0
        out.append(Suggestion(
            kind="polarity", severity=severity(sc), score=sc, region="stereo image", freq_lo_hz=None,
            freq_hi_hz=None, measured=s.low_end_correlation, target=opts.polarity_low_end_correlation,
            unit="correlation",
            action="flip the polarity of one channel (or of the inverted track) and check the mono sum",
            why=(f"low-end correlation is {s.low_end_correlation:.2f}; bass is near-mono on real masters, "
                 "so this much anti-correlation means one side is polarity-inverted and the bass vanishes in mono")))
    elif s is not None and math.isfinite(s.low_end_correlation) and s.low_end_correlation < opts.min_low_end_correlation:
        sc = (opts.min_low_end_correlation - s.low_end_correlation) * 10.0 + 1.0
        out.append(Suggestion(
            kind="bass_not_mono", severity=severity(sc), score=sc, region=f"below {fmt_hz(s.low_end_cutoff_hz)}",
            freq_lo_hz=20.0, freq_hi_hz=s.low_end_cutoff_hz, measured=s.low_end_correlation,
            target=opts.min_low_end_correlation, unit="correlation",
            action=f"make everything below about {fmt_hz(s.low_end_cutoff_hz)} mono (mid/side EQ or a bass mono tool)",
            why=(f"low-end correlation is {s.low_end_correlation:.2f}; stereo bass cancels on mono systems "
                 "and cuts unevenly to vinyl")))
    if math.isfinite(L.plr_lu) and L.plr_lu < opts.over_compressed_plr_lu:
        sc = opts.over_compressed_plr_lu - L.plr_lu + 1.0
        out.append(Suggestion(
            kind="over_compressed", severity=severity(sc), score=sc, region="dynamics", freq_lo_hz=None,
            freq_hi_hz=None, measured=L.plr_lu, target=opts.over_compressed_plr_lu, unit="LU",
            action=(f"ease off the limiter/bus compression by {opts.over_compressed_plr_lu - L.plr_lu:.1f} dB "
                    f"of gain reduction (aim for PLR >= {opts.over_compressed_plr_lu:g} LU)"),
            why=(f"peak-to-loudness ratio is {L.plr_lu:.1f} LU; transients are flattened, and loudness-normalised "
                 "playback turns it down to the same level as dynamic mixes")))
    return out


#: A channel whose mean is beyond ±1 % of full scale (−40 dBFS) carries a DC offset worth removing: it
#: costs headroom, clicks at edits and fades, and shifts a limiter's threshold (a healthy mix is < 0.1 %).
DC_OFFSET_LIMIT = 0.01


def dc_suggestions(rep: AnalysisReport, opts: SuggestOptions) -> list[Suggestion]:
    """The ``dc_offset`` rule: a channel's mean sample value beyond :data:`DC_OFFSET_LIMIT`."""
    dc = rep.loudness.dc_offset_per_channel
    worst = max(range(len(dc)), key=lambda i: abs(dc[i]), default=None)
    if worst is None or not abs(dc[worst]) > DC_OFFSET_LIMIT:
        return []
    v = dc[worst]
    sc = 20.0 * math.log10(abs(v) / DC_OFFSET_LIMIT) + 3.0
    return [Suggestion(
        kind="dc_offset", severity=severity(sc), score=sc, region="whole programme", freq_lo_hz=0.0, freq_hi_hz=None,
        measured=v, target=0.0, unit="full scale",
        action="remove the DC offset: a high-pass at 10-20 Hz (or a DC-offset filter) on the track or master",
        why=(f"channel {worst + 1} averages {v:+.3f} of full scale ({20 * math.log10(abs(v)):.0f} dBFS DC); it eats "
             "headroom, clicks at edits and fades and pushes the limiter"))]


def suggest(rep: AnalysisReport, *, options: SuggestOptions | None = None) -> tuple[Suggestion, ...]:
    """All rule hits, most severe first, at most ``options.max_suggestions``."""
    opts = options or SuggestOptions()
    hits = (_merge(band_suggestions(rep, opts), self_suggestions(rep, opts)) + meter_suggestions(rep, opts)
            + dc_suggestions(rep, opts))
    hits.sort(key=lambda s: -s.score)
    return tuple(hits[: opts.max_suggestions])
