"""Targets built from generated files, TOML round trip, and suggestions for planted faults."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from analyzer_signals import low_shelf, peaking_eq, pink_noise
from nomad_muse.analyzer import SuggestOptions, analyze_array, analyze_file, build_target, load_target
from nomad_muse.analyzer import targets as T
from nomad_muse.analyzer.suggest import BAND_RULES
from nomad_muse.errors import InputError, ParameterError

SR = 44100
TONAL_KINDS = {kind for rules in BAND_RULES.values() for kind, _ in rules}


def _balanced(seed: int, seconds: float = 4.0) -> np.ndarray:
    """Pink noise with a gentle random tilt (±1 dB/decade): a family of 'balanced' references."""
    rng = np.random.default_rng(seed)
    y = pink_noise(n=int(SR * seconds), rng=rng, channels=2)
    y = low_shelf(y, sr=SR, f0=200, gain_db=float(rng.uniform(-1, 1)))
    return 0.1 * y


@pytest.fixture(scope="module")
def reference_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("refs")
    for i in range(6):
        sf.write(d / f"ref{i}.flac", _balanced(100 + i), SR, subtype="PCM_24")
    (d / "notes.txt").write_text("not audio; must be ignored by folder expansion")
    return d


@pytest.fixture(scope="module")
def reference_target(reference_dir):
    t, skipped = build_target(name="refs", paths=[reference_dir], description="pink references")
    assert skipped == []
    return t


def test_target_percentiles_and_provenance(reference_target):
    t = reference_target
    assert t.n_tracks == 6
    for p10, p50, p90 in t.bands.values():
        assert p10 <= p50 <= p90 and p90 - p10 < 3.0
    assert "6 file" in t.provenance["method"]
    assert len(t.curve_hz) == len(t.curve_db[1]) > 50


def test_target_toml_round_trip_and_lookup(reference_target, tmp_path):
    p = T.save_target(reference_target)
    assert p.parent == T.user_profiles_dir()
    back = load_target("refs")
    assert back.bands == reference_target.bands and back.curve_hz == reference_target.curve_hz
    assert "refs" in {n for n, origin, _ in T.list_targets() if origin == "user"}
    q = T.save_target(reference_target, tmp_path / "x.toml")
    assert load_target(str(q)).n_tracks == 6


@pytest.mark.parametrize("edit,msg", [
    (lambda s: s.replace('format = "muse-target/1"', 'format = "other"'), "format"),
    (lambda s: s.replace("\nsub = ", "\nsubx = "), "lacks 'sub'"),
    (lambda s: s.replace("[provenance]\nmethod", "[provenance]\nmethodx"), "provenance"),
    (lambda s: s + "\n[[[", "not valid TOML"),
])
def test_bad_target_files(reference_target, tmp_path, edit, msg):
    p = tmp_path / "bad.toml"
    p.write_text(edit(T.target_to_toml(reference_target)))
    with pytest.raises(InputError, match=msg):
        load_target(str(p))


def test_unknown_target_name_lists_available():
    with pytest.raises(InputError, match="no target named 'nosuch'"):
        load_target("nosuch")


def test_build_rejects_bad_name_and_empty_folder(tmp_path):
    with pytest.raises(ParameterError, match="name="):
        build_target(name="bad name!", paths=[tmp_path])
    with pytest.raises(InputError, match="no audio files"):
        build_target(name="x", paths=[tmp_path])


def test_boosted_300hz_says_cut_around_300hz(reference_target):
    y = peaking_eq(_balanced(7), sr=SR, f0=300, gain_db=9.0, q=1.4)
    rep = analyze_array(y, sr=SR, target=reference_target, options=SuggestOptions(target_lufs=-20.0,
                                                                                  lufs_tolerance_lu=30))
    tonal = [s for s in rep.suggestions if s.kind in TONAL_KINDS]
    assert [s.kind for s in tonal] == ["mud"]
    s = tonal[0]
    assert s.action.startswith("cut around ")
    hz = float(s.action.split("around ")[1].split(" Hz")[0])
    assert 250 <= hz <= 360
    assert s.measured > s.target and s.unit == "dB" and "low_mid" in s.region


def test_planted_low_shelf_yields_low_end_excess_only(reference_target):
    y = low_shelf(_balanced(8), sr=SR, f0=120, gain_db=8.0)
    rep = analyze_array(y, sr=SR, target=reference_target,
                        options=SuggestOptions(lufs_tolerance_lu=30, max_suggestions=10))
    kinds = {s.kind for s in rep.suggestions if s.kind in TONAL_KINDS}
    assert kinds == {"low_end_excess"}
    assert any("low shelf" in s.action for s in rep.suggestions)


def test_balanced_signal_has_no_tonal_suggestion_and_tolerance_matters(reference_target):
    rep = analyze_array(_balanced(9), sr=SR, target=reference_target)
    assert not [s for s in rep.suggestions if s.kind in TONAL_KINDS]
    y = peaking_eq(_balanced(9), sr=SR, f0=3000, gain_db=6.0, q=0.8)
    strict = analyze_array(y, sr=SR, target=reference_target, options=SuggestOptions(band_tolerance_db=1.0))
    lax = analyze_array(y, sr=SR, target=reference_target, options=SuggestOptions(band_tolerance_db=12.0))
    assert "harsh" in {s.kind for s in strict.suggestions}
    assert "harsh" not in {s.kind for s in lax.suggestions}


def test_loudness_and_true_peak_rules():
    rng = np.random.default_rng(0)
    loud = np.clip(rng.standard_normal((SR * 3, 2)) * 0.5, -1, 1)
    rep = analyze_array(loud, sr=SR, options=SuggestOptions(target_lufs=-14.0))
    kinds = [s.kind for s in rep.suggestions]
    assert "too_loud" in kinds and "true_peak" in kinds
    tl = next(s for s in rep.suggestions if s.kind == "too_loud")
    assert f"{rep.loudness.integrated_lufs + 14:.1f} dB" in tl.action
    quiet = analyze_array(rng.standard_normal((SR * 3, 2)) * 0.01, sr=SR,
                          options=SuggestOptions(target_lufs=-23.0))
    assert "too_quiet" in [s.kind for s in quiet.suggestions]
    scores = [s.score for s in rep.suggestions]
    assert scores == sorted(scores, reverse=True)


def test_analyze_file_with_reference_target(reference_dir, reference_target):
    rep = analyze_file(reference_dir / "ref0.flac", target=reference_target)
    assert rep.tonal.target_name == "refs"
    assert all(b.deviation_db is not None for b in rep.tonal.bands)
def test_shipped_genre_targets_load():
    names = {n for n, origin, _ in T.list_targets() if origin == "shipped"}
    assert {"pop", "rock", "edm", "hiphop", "jazz", "classical", "acoustic"} <= names
    for n in names:
        t = load_target(n)
        assert t.provenance["method"] and t.n_tracks > 0


