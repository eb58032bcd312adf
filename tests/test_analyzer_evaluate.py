"""`muse evaluate analyzer`, the fault planting it uses, `--target auto` and the genre-free default."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy import signal
from typer.testing import CliRunner

from analyzer_signals import pink_noise
from nomad_muse.analyzer.evaluate import FAULTS, gain_match, high_cut, low_shelf, max_move_db, peaking_eq
from nomad_muse.app.cli import app

SR = 44100


def muse(*args):
    return subprocess.run([sys.executable, "-m", "nomad_muse", *args], capture_output=True, text=True, timeout=300)
EVAL_SET = Path(__file__).resolve().parents[1] / "profiles" / "genres" / "real_masters" / "eval"


def _gain_at(fn, f0):
    imp = np.zeros(1 << 15)
    imp[1 << 14] = 1.0  # centred: the air_lack filter is zero-phase (non-causal)
    h = fn(imp[:, None], SR)[:, 0]
    w, H = signal.freqz(h, worN=[f0], fs=SR)
    return 20 * np.log10(abs(H[0]))


def test_planted_faults_have_their_documented_gains():
    assert _gain_at(FAULTS["mud"].plant, 300.0) == pytest.approx(7.0, abs=0.05)
    assert _gain_at(FAULTS["harsh"].plant, 4500.0) == pytest.approx(8.0, abs=0.05)
    assert _gain_at(FAULTS["low_end_excess"].plant, 30.0) == pytest.approx(8.0, abs=0.2)
    assert _gain_at(FAULTS["low_end_excess"].plant, 2000.0) == pytest.approx(0.0, abs=0.2)
    assert _gain_at(FAULTS["air_lack"].plant, 16000.0) == pytest.approx(-12.0, abs=0.1)
    assert _gain_at(FAULTS["air_lack"].plant, 9000.0) == pytest.approx(-4.1, abs=0.2)
    assert _gain_at(FAULTS["air_lack"].plant, 1000.0) == pytest.approx(0.0, abs=0.05)
    y = np.ones((10, 2))
    z = FAULTS["polarity"].plant(y, SR)
    assert np.all(z[:, 0] == 1) and np.all(z[:, 1] == -1)


def test_gain_match_equalises_integrated_loudness():
    from nomad_muse.analyzer.loudness import integrated_loudness

    y = pink_noise(n=SR * 3, rng=np.random.default_rng(1), channels=2) * 0.1
    z = gain_match(low_shelf(y, sr=SR, f0=120.0, gain_db=8.0), y, sr=SR)
    assert integrated_loudness(y=z, sr=SR) == pytest.approx(integrated_loudness(y=y, sr=SR), abs=0.01)
    assert high_cut(y, sr=8000, f0=9000.0, gain_db=-12.0) is not y  # above Nyquist: an unchanged copy
    assert np.allclose(peaking_eq(y, sr=SR, f0=1000.0, gain_db=0.0), y)


def test_max_move_parses_the_actions():
    assert max_move_db(["cut around 300 Hz by 3-5 dB, a broad bell", "boost around 10 kHz by about 2 dB"]) == 5.0
    assert max_move_db(["cut around 2.5 kHz by 6 dB (the most one move should do; measured 13 dB off)"]) == 6.0
    assert max_move_db(["lower the master by about 1.5 dB"]) == 1.5
    assert max_move_db(["make everything below 150 Hz mono"]) == 0.0


def test_evaluate_cli_json_keys_and_bad_input(tmp_path):
    d = tmp_path / "mixes" / "srcA"
    d.mkdir(parents=True)
    rng = np.random.default_rng(2)
    y = (np.repeat(pink_noise(n=SR * 4, rng=rng), 2, axis=1) + 0.3 * pink_noise(n=SR * 4, rng=rng, channels=2)) * 0.05
    sf.write(d / "a.wav", y, SR, subtype="PCM_24")
    r = CliRunner().invoke(app, ["evaluate", "analyzer", str(tmp_path / "mixes"), "--json", "--faults", "mud,polarity"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert res["files"] == 1 and set(res["faults"]) == {"mud", "polarity"}
    for v in res["faults"].values():
        assert {"description", "files", "detection_rate", "right_region_rate", "missed_but_named_as"} <= set(v)
    assert {"tonal_suggestions_per_file", "files_with_tonal_suggestion", "stereo_suggestions_per_file", "by_kind"} <= set(res["clean"])
    assert set(res["by_source"]) == {"srcA"} and res["per_file"][0]["file"] == "srcA/a.wav"
    assert res["faults"]["polarity"]["detection_rate"] == 1.0  # a near-mono mix inverted: correlation about -0.9
    r = muse("evaluate", "analyzer", str(tmp_path / "mixes"), "--faults", "nosuch")
    assert r.returncode == 2 and "unknown kind" in r.stderr and "Traceback" not in r.stderr
    r = muse("evaluate", "analyzer", str(tmp_path / "nothere"))
    assert r.returncode == 2 and "not a directory" in r.stderr and "Traceback" not in r.stderr


def test_target_auto_names_choice_and_runner_up(tmp_path):
    f = EVAL_SET / "wesnoth-1.16-music" / "knolls.flac"
    r = CliRunner().invoke(app, ["analyze", str(f), "--json", "--target", "auto"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    c = d["target_choice"]
    assert d["tonal"]["target_name"] == c["chosen"] and c["runner_up"] not in (None, c["chosen"])
    assert 0 <= c["distance_db"] <= c["runner_up_distance_db"]
    assert [n for n, _ in c["ranking"]][:2] == [c["chosen"], c["runner_up"]]


def test_no_genre_default_is_all_styles(tmp_path):
    f = EVAL_SET / "xmoto-data" / "foxrun.flac"
    d = json.loads(CliRunner().invoke(app, ["analyze", str(f), "--json"]).stdout)
    assert d["tonal"]["target_name"] == "all-styles"


def test_shipped_eval_set_floors():
    """Floors measured on the shipped held-out evaluation set (17 excerpts; docs/analyzer.md), no genre:
    `muse evaluate analyzer profiles/genres/real_masters/eval --json` gave low_end_excess 6/17, mud 1/17,
    harsh 0/17, air_lack 0/17 (the issue's 90 % is not met), polarity 16/17, 3 tonal suggestions over
    17 clean files, no stereo alarm on a clean file, no move above 6 dB. Kinds measured at 0 have no floor."""
    from nomad_muse.analyzer.evaluate import evaluate_dir

    m = json.loads((EVAL_SET / "MANIFEST.json").read_text())
    assert len(m["excerpts"]) == 17 and m["total_bytes"] < 15e6
    assert all(e["licence"] and e["package"] in e["file"] for e in m["excerpts"])
    res = evaluate_dir(EVAL_SET)
    assert res["files"] == 17
    n = lambda k, key="detection_rate": round(res["faults"][k][key] * res["faults"][k]["files"])  # noqa: E731
    assert n("low_end_excess") >= 6 and n("low_end_excess", "right_region_rate") >= 6
    assert n("mud") >= 1 and n("mud", "right_region_rate") >= 1
    assert n("polarity") >= 16
    assert res["clean"]["tonal_suggestions_per_file"] * 17 <= 3
    assert res["clean"]["stereo_suggestions_per_file"] == 0
    assert res["max_move_db_asked"] <= 6.0


def test_evaluate_with_target_auto(tmp_path):
    d = tmp_path / "mixes"
    d.mkdir()
    rng = np.random.default_rng(3)
    y = (np.repeat(pink_noise(n=SR * 3, rng=rng), 2, axis=1) + 0.3 * pink_noise(n=SR * 3, rng=rng, channels=2)) * 0.05
    sf.write(d / "a.wav", y, SR, subtype="PCM_24")
    r = CliRunner().invoke(app, ["evaluate", "analyzer", str(d), "--json", "--target", "auto", "--faults", "polarity"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert res["target"] == "auto" and res["faults"]["polarity"]["detection_rate"] == 1.0


def test_band_limited_top_is_not_a_lack_but_an_empty_arrangement_is():
    """A spectrum ending at 16 kHz (a codec low-pass) gets no air advice; one ending at 5 kHz gets one note."""
    from nomad_muse.analyzer.engine import analyze_array
    from nomad_muse.analyzer.suggest import SuggestOptions
    from nomad_muse.analyzer.targets import load_target

    rng = np.random.default_rng(4)
    y = pink_noise(n=SR * 4, rng=rng, channels=2) * 0.1
    tgt = load_target("all-styles")
    o = SuggestOptions(band_tolerance_db=0.0, lufs_tolerance_lu=99)
    kinds = lambda z: [s.kind for s in analyze_array(z, sr=SR, target=tgt, options=o).suggestions]  # noqa: E731
    lp16 = signal.sosfiltfilt(signal.butter(12, 15000, fs=SR, output="sos"), y, axis=0) * 1.0
    lp16 = signal.sosfiltfilt(signal.ellip(10, 0.1, 120, 16000, fs=SR, output="sos"), lp16, axis=0)
    k16 = kinds(lp16)
    assert "air_lack" not in k16 and "empty_region" not in k16
    lp5 = signal.sosfiltfilt(signal.ellip(10, 0.1, 120, 5000, fs=SR, output="sos"), y, axis=0)
    k5 = kinds(lp5)
    assert k5.count("empty_region") == 1 and "air_lack" not in k5 and "presence_lack" not in k5
