"""Genre-free tonal evidence (self-reference against the mix's own trend), bounded moves, empty regions."""

from __future__ import annotations

import re

import numpy as np
import pytest
from analyzer_signals import peaking_eq, pink_noise
from scipy import signal

from nomad_muse.analyzer.engine import analyze_array
from nomad_muse.analyzer.suggest import SuggestOptions, _amount
from nomad_muse.analyzer.tonal import empty_edges_hz, self_regions
from nomad_muse.errors import ParameterError

SR = 48000
OPTS = SuggestOptions(lufs_tolerance_lu=30, max_suggestions=10)


def _pink(seed: int) -> np.ndarray:
    return 0.1 * pink_noise(n=SR * 4, rng=np.random.default_rng(seed), channels=2)


def _tonal(rep):
    return [s for s in rep.suggestions if s.evidence != "meter"]


def test_clean_pink_has_no_self_finding():
    for seed in (1, 2, 3):
        assert _tonal(analyze_array(_pink(seed), sr=SR, options=OPTS)) == []


# The self-reference tolerance (8 dB on the 1/3-octave curve) is fitted for few false alarms on real masters,
# so only strong bells are found by it alone (Q = 1 bells of about 16 dB); moderate faults are the target's job.
@pytest.mark.parametrize("f0,gain,kind,lo,hi", [(300, 16.0, "mud", 250, 360), (4500, 16.0, "harsh", 3800, 5400),
                                                 (1000, -16.0, "mid_lack", 850, 1200)])
def test_planted_bell_found_without_target(f0, gain, kind, lo, hi):
    rep = analyze_array(peaking_eq(_pink(4), sr=SR, f0=f0, gain_db=gain, q=1.0), sr=SR, options=OPTS)
    t = _tonal(rep)
    assert [s.kind for s in t] == [kind]
    s = t[0]
    assert s.evidence == "self" and s.unit == "dB vs own trend"
    hz = float(re.search(r"around ([\d.]+) (k?)Hz", s.action).group(1)) * (1000 if "kHz" in s.action else 1)
    assert lo <= hz <= hi
    assert s.freq_lo_hz <= f0 <= s.freq_hi_hz
    assert np.sign(s.measured) == np.sign(gain) and abs(s.measured) > 8.0


def test_self_reference_can_be_switched_off():
    y = peaking_eq(_pink(4), sr=SR, f0=300, gain_db=16.0, q=1.0)
    assert _tonal(analyze_array(y, sr=SR, options=OPTS))
    off = SuggestOptions(lufs_tolerance_lu=30, self_reference=False)
    assert _tonal(analyze_array(y, sr=SR, options=off)) == []


def test_self_regions_and_empty_edges_on_a_curve():
    f = 1000.0 * 2.0 ** (np.arange(-36, 25) / 6.0)
    v = -30.0 + 8.0 * np.exp(-0.5 * (np.log2(f / 300.0) / 0.25) ** 2)
    v = -30.0 + 12.0 * np.exp(-0.5 * (np.log2(f / 300.0) / 0.35) ** 2)
    regs = self_regions(f, v, tolerance_db=4.0)
    assert len(regs) == 1 and regs[0]["sign"] == 1 and 250 <= regs[0]["peak_hz"] <= 360
    v2 = np.where(f > 6000, -100.0, -30.0)
    assert empty_edges_hz(f, v2) == (None, pytest.approx(f[f <= 6000][-1]))


def test_amount_is_bounded():
    assert _amount(2.0, 4.0, 6.0) == "2-4 dB"
    assert _amount(3.0, 9.5, 6.0) == "3-6 dB (capped at 6 dB per move)"
    assert _amount(42.5, 43.5, 6.0).startswith("6 dB (the most one move should do; measured 43.5 dB off)")
    with pytest.raises(ParameterError, match="max_move_db"):
        SuggestOptions(max_move_db=0.0)


def test_nothing_above_6k_is_named_not_boosted():
    """The live-demo case: an arrangement with nothing above 6 kHz gets an empty_region note, no boost."""
    sos = signal.butter(12, 5000, "low", fs=SR, output="sos")
    y = signal.sosfilt(sos, _pink(5), axis=0)
    from nomad_muse.analyzer.targets import load_target

    rep = analyze_array(y, sr=SR, options=OPTS, target=load_target("pop"))
    kinds = [s.kind for s in _tonal(rep)]
    assert "empty_region" in kinds and "air_lack" not in kinds
    assert not [s for s in _tonal(rep) if s.action.startswith("boost") and (s.freq_lo_hz or 0) > 6000]
    e = next(s for s in rep.suggestions if s.kind == "empty_region")
    assert "nothing to boost above" in e.action and "no high instruments" in e.action


def test_no_move_exceeds_the_bound_on_extreme_faults():
    y = peaking_eq(_pink(6), sr=SR, f0=2500, gain_db=30.0, q=1.0)
    assert _tonal(analyze_array(y, sr=SR, options=OPTS))
    for s in _tonal(analyze_array(y, sr=SR, options=OPTS)):
        nums = [float(x) for x in re.findall(r"by (?:about )?([\d.]+)(?:-([\d.]+))? dB", s.action)[0] if x]
        assert max(nums) <= 6.0
